//! JSON body parsing with errors that say where the body is broken.

use serde_json::Value;

use super::outcome::HookRejection;

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, HookRejection> {
    serde_json::from_slice(body).map_err(|error| {
        let problem = match error.classify() {
            serde_json::error::Category::Eof => "unexpected end of input",
            serde_json::error::Category::Io => "could not read the body",
            _ => "syntax error",
        };
        HookRejection::bad_request(
            "InvalidJson",
            format!(
                "body is not valid JSON: {problem} at line {} column {} ({error})",
                error.line(),
                error.column()
            ),
        )
    })
}

/// A required, non-empty string attribute of an event object.
pub(crate) fn required_string(
    object: &serde_json::Map<String, Value>,
    at: &str,
    key: &str,
) -> Result<String, HookRejection> {
    match object.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{at}.{key}: must not be empty"),
        )),
        Some(other) => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{at}.{key}: expected a string, got {}", kind_of(other)),
        )),
        None => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{at}.{key}: required attribute is missing"),
        )),
    }
}

/// An optional string attribute; present-but-not-a-string is an error.
pub(crate) fn optional_string(
    object: &serde_json::Map<String, Value>,
    at: &str,
    key: &str,
) -> Result<Option<String>, HookRejection> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{at}.{key}: expected a string, got {}", kind_of(other)),
        )),
    }
}

/// An event object with its location for error messages (`events[2]`, or `event`).
pub(crate) type Located = (String, serde_json::Map<String, Value>);

/// Events arrive as an array, or as one object that stands for a batch of one.
pub(crate) fn event_objects(value: Value, label: &str) -> Result<Vec<Located>, HookRejection> {
    let (items, indexed) = match value {
        Value::Array(items) => (items, true),
        single @ Value::Object(_) => (vec![single], false),
        other => {
            return Err(HookRejection::bad_request(
                "InvalidEvent",
                format!(
                    "body: expected {label} (an object or an array of objects), got {}",
                    kind_of(&other)
                ),
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let at = if indexed {
                format!("events[{index}]")
            } else {
                "event".to_string()
            };
            match item {
                Value::Object(object) => Ok((at, object)),
                other => Err(HookRejection::bad_request(
                    "InvalidEvent",
                    format!("{at}: expected an object, got {}", kind_of(&other)),
                )),
            }
        })
        .collect()
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_names_line_and_column() {
        let rejection = parse_body(b"{\n  \"id\": 1,\n  oops\n}").unwrap_err();
        assert_eq!(rejection.status, 400);
        assert_eq!(rejection.code, "InvalidJson");
        assert!(
            rejection.message.contains("line 3 column 3"),
            "{}",
            rejection.message
        );
    }

    #[test]
    fn truncated_json_says_so() {
        let rejection = parse_body(b"[{\"id\": \"1\"").unwrap_err();
        assert!(
            rejection.message.contains("unexpected end of input"),
            "{}",
            rejection.message
        );
    }
}
