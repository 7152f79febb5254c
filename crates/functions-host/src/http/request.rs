//! `Data.req` and Metadata for an HTTP trigger (GetRequestAsJObject and the HTTP extension's
//! binding data), without request forwarding.

use http::HeaderMap;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::encoding;

pub(crate) struct IncomingRequest<'a> {
    pub url: String,
    pub method: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub route_values: &'a IndexMap<String, String>,
    pub body: &'a [u8],
}

/// Kestrel reports well-known headers in their canonical case; hyper lowercases everything, so
/// names are title-cased (`content-type` → `Content-Type`).
fn header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

/// Repeated keys are comma-joined (`StringValues.ToString()`); keys compare case-insensitively.
fn query_map(query: Option<&str>) -> IndexMap<String, String> {
    let mut map: IndexMap<String, String> = IndexMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let existing = map.keys().find(|e| e.eq_ignore_ascii_case(&k)).cloned();
        match existing {
            Some(key) => {
                if let Some(joined) = map.get_mut(&key) {
                    joined.push(',');
                    joined.push_str(&v);
                }
            }
            None => {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
    }
    map
}

fn is_json(headers: &HeaderMap) -> bool {
    content_type(headers).is_some_and(|t| t == "application/json" || t.ends_with("+json"))
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
}

pub(crate) fn data_value(r: &IncomingRequest<'_>) -> Value {
    let query: Map<String, Value> = query_map(r.query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let mut headers: IndexMap<String, Vec<Value>> = IndexMap::new();
    for (name, value) in r.headers {
        headers
            .entry(header_name(name.as_str()))
            .or_default()
            .push(Value::String(
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
    }
    let params: Map<String, Value> = r
        .route_values
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut req = Map::new();
    req.insert("Url".into(), Value::String(r.url.clone()));
    req.insert("Method".into(), Value::String(r.method.to_owned()));
    req.insert("Query".into(), Value::Object(query));
    req.insert(
        "Headers".into(),
        Value::Object(
            headers
                .into_iter()
                .map(|(k, v)| (k, Value::Array(v)))
                .collect(),
        ),
    );
    req.insert("Params".into(), Value::Object(params));
    req.insert("Identities".into(), Value::Array(Vec::new()));
    if !r.body.is_empty() {
        let binary = content_type(r.headers)
            .is_some_and(|t| t == "application/octet-stream" || t.starts_with("multipart/"));
        req.insert(
            "Body".into(),
            if binary {
                encoding::bytes(r.body)
            } else {
                Value::String(String::from_utf8_lossy(r.body).into_owned())
            },
        );
    }
    Value::Object(req)
}

/// Binding data minus `req`/`$request`: query parameters (except `code`), route values, the
/// top-level properties of a JSON body, then `Query` and `Headers`.
pub(crate) fn metadata_entries(r: &IncomingRequest<'_>) -> Map<String, Value> {
    let mut md = Map::new();
    let query = query_map(r.query);
    for (k, v) in &query {
        if !k.eq_ignore_ascii_case("code") {
            md.insert(k.clone(), encoding::string(v));
        }
    }
    for (k, v) in r.route_values {
        md.insert(k.clone(), encoding::string(v));
    }
    if is_json(r.headers)
        && let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(r.body)
    {
        for (k, v) in &body {
            if let Some(v) = encoding::json_token(v) {
                md.insert(k.clone(), v);
            }
        }
    }
    md.insert(
        "Query".into(),
        Value::Object(
            query
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    );
    let mut headers: IndexMap<String, String> = IndexMap::new();
    for (name, value) in r.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(header_name(name.as_str()))
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    md.insert(
        "Headers".into(),
        Value::Object(
            headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ),
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_req_and_metadata() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        let route = IndexMap::from([("source".to_owned(), "github".to_owned())]);
        let r = IncomingRequest {
            url: "http://127.0.0.1:7071/api/order?dry=1&code=k&tag=a&Tag=b".into(),
            method: "POST",
            query: Some("dry=1&code=k&tag=a&Tag=b"),
            headers: &headers,
            route_values: &route,
            body: br#"{"id":1005,"name":"x","nested":{"a":1},"gone":null}"#,
        };
        let req = data_value(&r);
        assert_eq!(req["Query"], json!({"dry": "1", "code": "k", "tag": "a,b"}));
        assert_eq!(req["Headers"]["Content-Type"], json!(["application/json"]));
        assert_eq!(req["Headers"]["X-Multi"], json!(["a", "b"]));
        assert_eq!(req["Params"], json!({"source": "github"}));
        assert_eq!(req["Identities"], json!([]));
        assert_eq!(
            req["Body"],
            json!(r#"{"id":1005,"name":"x","nested":{"a":1},"gone":null}"#)
        );

        let md = metadata_entries(&r);
        assert_eq!(md["dry"], json!("\"1\""));
        assert!(md.get("code").is_none());
        assert_eq!(md["source"], json!("\"github\""));
        assert_eq!(md["id"], json!("1005"));
        assert_eq!(md["name"], json!("\"x\""));
        assert_eq!(md["nested"], json!({"a": 1}));
        assert!(md.get("gone").is_none());
        assert_eq!(md["Headers"]["X-Multi"], json!("a,b"));
    }

    #[test]
    fn no_body_no_body_key() {
        let headers = HeaderMap::new();
        let route = IndexMap::new();
        let r = IncomingRequest {
            url: "http://h/api/x".into(),
            method: "GET",
            query: None,
            headers: &headers,
            route_values: &route,
            body: b"",
        };
        assert!(data_value(&r).get("Body").is_none());
    }
}
