use base64::Engine as _;
use serde_json::Value;

/// A string value as the host sends it: JSON-encoded a second time (`"\"text\""`) by the current
/// host, plain in the docs' examples. Numbers and booleans arrive as strings or as literals.
pub fn decode_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            if s.starts_with('"')
                && let Ok(Value::String(inner)) = serde_json::from_str::<Value>(s)
            {
                return Some(inner);
            }
            Some(s.clone())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number the host may send as `"4"`, `"\"4\""` or `4`.
pub fn decode_u32(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        other => decode_string(other).and_then(|s| s.trim().parse().ok()),
    }
}

/// A trigger payload: a double-encoded string for `dataType: string`, base64 for `binary`,
/// or an object when the host could convert it to one.
pub fn decode_bytes(value: &Value, binary: bool) -> Option<Vec<u8>> {
    match value {
        Value::Null => None,
        Value::Object(_) | Value::Array(_) => serde_json::to_vec(value).ok(),
        other => {
            let text = decode_string(other)?;
            if binary {
                base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .ok()
            } else {
                Some(text.into_bytes())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unwraps_double_encoded_strings_once() {
        assert_eq!(decode_string(&json!("\"hello\"")).as_deref(), Some("hello"));
        assert_eq!(
            decode_string(&json!("\"{\\\"a\\\":1}\"")).as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(decode_string(&json!("plain")).as_deref(), Some("plain"));
        // A value that merely starts with a quote but is not a JSON string stays as it is.
        assert_eq!(decode_string(&json!("\"oops")).as_deref(), Some("\"oops"));
    }

    #[test]
    fn numbers_arrive_in_every_form() {
        assert_eq!(decode_u32(&json!("4")), Some(4));
        assert_eq!(decode_u32(&json!("\"4\"")), Some(4));
        assert_eq!(decode_u32(&json!(4)), Some(4));
        assert_eq!(decode_u32(&json!("four")), None);
        assert_eq!(decode_u32(&json!(-1)), None);
    }

    #[test]
    fn binary_payloads_are_base64() {
        assert_eq!(decode_bytes(&json!("aGk="), true), Some(b"hi".to_vec()));
        assert_eq!(
            decode_bytes(&json!("\"aGk=\""), false),
            Some(b"aGk=".to_vec())
        );
        assert_eq!(decode_bytes(&json!("%%%"), true), None);
    }
}
