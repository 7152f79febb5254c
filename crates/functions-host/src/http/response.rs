//! `Outputs.res` → the HTTP response (HttpOutputBindingResponse / RawScriptResult).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) struct HttpOutput {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Default for HttpOutput {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }
}

const FAILED: &str = "Failed while trying to Deserialize to httpOutputBindingResponse";

pub(crate) fn parse(value: &Value) -> Result<HttpOutput, String> {
    let parsed;
    let obj = match value {
        Value::Object(o) => o,
        // A string holding an object is accepted too.
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|e| format!("{FAILED}: {e}"))?;
            parsed
                .as_object()
                .ok_or_else(|| format!("{FAILED}: expected an object; got {value}"))?
        }
        other => return Err(format!("{FAILED}: expected an object; got {other}")),
    };
    let get = |key: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    };
    let status = match get("statusCode").or_else(|| get("status")) {
        None => StatusCode::OK,
        Some(v) => {
            let code = match v {
                Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                Value::String(s) => s.trim().parse::<u16>().ok(),
                _ => None,
            };
            code.and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| format!("{FAILED}: statusCode {v} is not an HTTP status code"))?
        }
    };
    let (body, default_type) = match get("body") {
        None => (Bytes::new(), None),
        Some(Value::String(s)) => (Bytes::from(s.clone()), Some("text/plain; charset=utf-8")),
        Some(v @ (Value::Object(_) | Value::Array(_))) => (
            Bytes::from(serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())),
            Some("application/json; charset=utf-8"),
        ),
        Some(v) => (
            Bytes::from(v.to_string()),
            Some("text/plain; charset=utf-8"),
        ),
    };
    let mut headers = Vec::new();
    let mut has_content_type = false;
    if let Some(h) = get("headers") {
        let h = h
            .as_object()
            .ok_or_else(|| format!("{FAILED}: headers must be an object; got {h}"))?;
        for (name, v) in h {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{FAILED}: invalid header name {name:?}"))?;
            if header == http::header::CONTENT_TYPE {
                if v.is_null() {
                    return Err(format!("{FAILED}: content-type must not be null"));
                }
                has_content_type = true;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            let value = HeaderValue::from_str(&text)
                .map_err(|_| format!("{FAILED}: invalid value for header {name:?}"))?;
            headers.push((header, value));
        }
    }
    if !has_content_type && let Some(t) = default_type {
        headers.push((http::header::CONTENT_TYPE, HeaderValue::from_static(t)));
    }
    Ok(HttpOutput {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_status_body_and_headers() {
        let r = parse(&json!({"statusCode": "201", "body": "my world", "headers": {"X-A": 1}}))
            .unwrap();
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.body, Bytes::from("my world"));
        assert!(r.headers.iter().any(|(n, v)| n == "x-a" && v == "1"));
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "content-type" && v.to_str().unwrap().starts_with("text/plain"))
        );

        let r = parse(&json!({"status": 202, "body": {"accepted": true}})).unwrap();
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            json!({"accepted": true})
        );

        let r = parse(&json!("{\"statusCode\":204}")).unwrap();
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }

    #[test]
    fn rejects_non_objects_and_null_content_type() {
        assert!(parse(&json!(5)).is_err());
        assert!(parse(&json!("plain")).is_err());
        assert!(parse(&json!({"headers": {"Content-Type": null}})).is_err());
        assert!(parse(&json!({"statusCode": "abc"})).is_err());
    }
}
