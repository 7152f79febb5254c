//! An HTTP trigger's request as the host hands it over (`Data.req` of the invocation: the one
//! shape both the local host and Azure send without `enableForwardingHttpRequest`). Field names
//! are matched case-insensitively: the host's casing has changed between versions.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::decode::decode_string;
use super::invocation::InvocationError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpTriggerRequest {
    /// As the host sent it (not upper-cased).
    pub method: String,
    /// One pair per value; a header the host sends as an array gives several pairs.
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// Route parameters (`{*path}` and the like).
    pub params: Vec<(String, String)>,
    /// The bytes the sender sent: base64-decoded for the types the host passes as bytes.
    pub body: Bytes,
}

impl HttpTriggerRequest {
    /// `binding`: the request binding's name, for the error.
    pub fn decode(req: &Value, binding: &str) -> Result<Self, InvocationError> {
        let object = req.as_object().ok_or_else(|| InvocationError::WrongShape {
            binding: binding.into(),
            expected: "HTTP request object",
        })?;
        let field = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let mut headers = Vec::new();
        if let Some(Value::Object(map)) = field("Headers") {
            for (name, values) in map {
                match values {
                    Value::Array(items) => headers.extend(
                        items
                            .iter()
                            .filter_map(decode_string)
                            .map(|v| (name.clone(), v)),
                    ),
                    other => headers.extend(decode_string(other).map(|v| (name.clone(), v))),
                }
            }
        }
        let binary = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .is_some_and(|(_, v)| is_binary_media_type(v));
        let body = match field("Body") {
            None | Some(Value::Null) => Bytes::new(),
            // The host passes octet-stream and multipart bodies base64-encoded (a byte array in
            // its JSON); signatures and binary CloudEvents need the bytes the sender sent.
            Some(Value::String(s)) if binary => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_or_else(|_| Bytes::from(s.clone()), Bytes::from),
            Some(Value::String(s)) => Bytes::from(s.clone()),
            Some(other) => Bytes::from(other.to_string()),
        };
        Ok(Self {
            method: field("Method").and_then(decode_string).unwrap_or_default(),
            headers,
            query: pairs(field("Query")),
            params: pairs(field("Params")),
            body,
        })
    }
}

fn pairs(map: Option<&Value>) -> Vec<(String, String)> {
    match map.and_then(Value::as_object) {
        Some(map) => string_pairs(map),
        None => Vec::new(),
    }
}

fn string_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(k, v)| decode_string(v).map(|v| (k.clone(), v)))
        .collect()
}

/// The content types the Functions host hands to a custom handler as base64 bytes.
fn is_binary_media_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/octet-stream" || media.starts_with("multipart/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_every_part_whatever_the_casing() {
        let req = HttpTriggerRequest::decode(
            &json!({
                "method": "\"post\"",
                "Headers": {"Content-Type": ["application/octet-stream"], "X-One": "\"a\""},
                "Query": {"ws": "\"w1\""},
                "Params": {"path": "pool"},
                "Body": "aGk=",
            }),
            "req",
        )
        .unwrap();
        assert_eq!(req.method, "post");
        assert_eq!(req.headers.len(), 2);
        assert!(req.headers.contains(&("X-One".into(), "a".into())));
        assert_eq!(req.query, [("ws".to_owned(), "w1".to_owned())]);
        assert_eq!(req.params, [("path".to_owned(), "pool".to_owned())]);
        assert_eq!(&req.body[..], b"hi");
        let err = HttpTriggerRequest::decode(&json!("x"), "req").unwrap_err();
        assert!(err.to_string().contains("req"), "{err}");
    }
}
