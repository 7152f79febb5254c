//! Paths into an event: `data.url`, `subject`, `data.items.0.name`, or JSON pointers for `data`
//! match keys.

use serde_json::Value;

/// Attributes a template may start a path with.
pub(crate) const ROOTS: [&str; 6] = ["id", "type", "source", "subject", "time", "data"];

/// A validated path: a known root, then object keys or array indices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldPath {
    text: String,
    segments: Vec<String>,
}

impl FieldPath {
    /// A dotted path from a template placeholder; the first segment must be one of [`ROOTS`].
    pub(crate) fn placeholder(text: &str) -> Result<Self, String> {
        let segments = dotted(text)?;
        let root = segments[0].as_str();
        if !ROOTS.contains(&root) {
            return Err(format!(
                "unknown placeholder root '{root}' in '{text}': expected one of {}",
                ROOTS.join(", ")
            ));
        }
        if root != "data" && segments.len() > 1 {
            return Err(format!("'{text}': only data has fields; '{root}' is text"));
        }
        Ok(Self {
            text: text.to_string(),
            segments,
        })
    }

    /// A `data` match key: a JSON pointer (`/a/b`) or a dotted path (`a.b`), relative to `data`.
    pub(crate) fn data_key(text: &str) -> Result<Self, String> {
        let mut segments = vec!["data".to_string()];
        if let Some(pointer) = text.strip_prefix('/') {
            segments.extend(
                pointer
                    .split('/')
                    .map(|segment| segment.replace("~1", "/").replace("~0", "~")),
            );
        } else {
            segments.extend(dotted(text)?);
        }
        Ok(Self {
            text: format!("data.{}", text.trim_start_matches('/')),
            segments,
        })
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The value at this path in an event context (see `Event::context`), if present.
    pub(crate) fn lookup<'a>(&self, context: &'a Value) -> Option<&'a Value> {
        self.segments
            .iter()
            .try_fold(context, |value, segment| match value {
                Value::Object(object) => object.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }
}

fn dotted(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Err("empty path".to_string());
    }
    let segments: Vec<String> = text.split('.').map(str::to_string).collect();
    if let Some(bad) = segments
        .iter()
        .find(|segment| segment.is_empty() || segment.chars().any(char::is_whitespace))
    {
        return Err(format!(
            "malformed path '{text}': segment '{bad}' is empty or contains whitespace"
        ));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookups_follow_keys_and_indices() {
        let context = json!({"id": "1", "data": {"a": {"b": [10, {"c": "x"}]}, "k/e~y": 5}});
        let path = FieldPath::placeholder("data.a.b.1.c").unwrap();
        assert_eq!(path.lookup(&context), Some(&json!("x")));
        assert_eq!(
            FieldPath::placeholder("data.a.zz")
                .unwrap()
                .lookup(&context),
            None
        );
        let pointer = FieldPath::data_key("/k~1e~0y").unwrap();
        assert_eq!(pointer.lookup(&context), Some(&json!(5)));
        assert_eq!(
            FieldPath::data_key("a.b.0").unwrap().lookup(&context),
            Some(&json!(10))
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(
            FieldPath::placeholder("date.url")
                .unwrap_err()
                .contains("unknown placeholder root 'date'")
        );
        assert!(
            FieldPath::placeholder("data..url")
                .unwrap_err()
                .contains("malformed")
        );
        assert!(
            FieldPath::placeholder("subject.x")
                .unwrap_err()
                .contains("only data has fields")
        );
        assert!(FieldPath::data_key("").is_err());
    }
}
