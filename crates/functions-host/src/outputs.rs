//! What the host does with `Outputs` values bound to Service Bus output bindings.
//!
//! FunctionBinding.ReadAsEnumerable fans arrays out (also a string that parses as a JSON
//! array); HttpScriptInvocationResultExtensions.GetBindingValue first replaces a top-level
//! string that is valid base64 by its decoded bytes; an object element becomes its
//! `JToken.ToString()` text, which is indented.

use bytes::Bytes;
use serde_json::Value;

use crate::encoding::dotnet_base64_decode;

/// One body per message to send.
pub(crate) fn service_bus_bodies(value: &Value) -> Vec<Bytes> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter_map(element_body).collect(),
        Value::String(s) => {
            if let Some(bytes) = dotnet_base64_decode(s) {
                return vec![Bytes::from(bytes)];
            }
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => items.iter().filter_map(element_body).collect(),
                _ => vec![Bytes::from(s.clone())],
            }
        }
        other => element_body(other).into_iter().collect(),
    }
}

fn element_body(v: &Value) -> Option<Bytes> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Bytes::from(s.clone())),
        Value::Object(_) | Value::Array(_) => Some(Bytes::from(
            serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()),
        )),
        Value::Number(_) | Value::Bool(_) => Some(Bytes::from(v.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(v: Value) -> Vec<String> {
        service_bus_bodies(&v)
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    #[test]
    fn arrays_fan_out_and_objects_become_json_text() {
        let out = texts(json!([{"op": "a"}, "plain text", 5]));
        assert_eq!(out.len(), 3);
        assert_eq!(
            serde_json::from_str::<Value>(&out[0]).unwrap(),
            json!({"op": "a"})
        );
        assert_eq!(out[1], "plain text");
        assert_eq!(out[2], "5");
    }

    #[test]
    fn strings_that_are_base64_are_decoded() {
        assert_eq!(
            service_bus_bodies(&json!("abcd")),
            vec![Bytes::from_static(&[0x69, 0xb7, 0x1d])]
        );
        assert_eq!(texts(json!("not base64!")), vec!["not base64!"]);
        assert_eq!(texts(json!("[\"x\",\"y\"]")), vec!["x", "y"]);
        assert!(texts(Value::Null).is_empty());
    }
}
