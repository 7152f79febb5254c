//! Walking an untyped JSON tree while recording every problem with its path. Used instead of
//! serde derive so that all problems are reported at once and unknown fields name the allowed ones.

use serde_json::{Map, Value};

use super::field_error::{FieldErrors, join, quote};

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An object being read at `path`.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    /// `None` (with an error recorded) when `value` is not an object.
    pub(crate) fn of(value: &'a Value, path: &str, errs: &mut FieldErrors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self {
                map,
                path: path.to_owned(),
            }),
            other => {
                errs.push(
                    path,
                    format!("expected an object, got {}", type_name(other)),
                );
                None
            }
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn deny_unknown(&self, allowed: &[&str], errs: &mut FieldErrors) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                errs.push(
                    self.path(key),
                    format!(
                        "unknown field {}; allowed fields: {}",
                        quote(key),
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A present, non-null value (YAML `key:` with nothing after it reads as absent).
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn required(&self, key: &str, errs: &mut FieldErrors) -> Option<&'a Value> {
        let v = self.get(key);
        if v.is_none() {
            errs.push(self.path(key), "is required");
        }
        v
    }

    pub(crate) fn required_str(&self, key: &str, errs: &mut FieldErrors) -> Option<&'a str> {
        let v = self.required(key, errs)?;
        as_str(v, &self.path(key), errs)
    }

    pub(crate) fn optional_str(&self, key: &str, errs: &mut FieldErrors) -> Option<&'a str> {
        let v = self.get(key)?;
        as_str(v, &self.path(key), errs)
    }

    pub(crate) fn optional_bool(&self, key: &str, errs: &mut FieldErrors) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                errs.push(
                    self.path(key),
                    format!("expected true or false, got {}", type_name(other)),
                );
                None
            }
        }
    }
}

pub(crate) fn as_str<'a>(v: &'a Value, path: &str, errs: &mut FieldErrors) -> Option<&'a str> {
    match v {
        Value::String(s) => Some(s),
        other => {
            errs.push(path, format!("expected a string, got {}", type_name(other)));
            None
        }
    }
}

pub(crate) fn as_array<'a>(
    v: &'a Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Option<&'a [Value]> {
    match v {
        Value::Array(a) => Some(a),
        other => {
            errs.push(path, format!("expected a list, got {}", type_name(other)));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_with_allowed_list() {
        let v = json!({"name": "x", "colour": "red"});
        let mut errs = FieldErrors::default();
        let f = Fields::of(&v, "spec", &mut errs).unwrap();
        f.deny_unknown(&["name", "type"], &mut errs);
        let errs = errs.into_vec();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "spec.colour");
        assert_eq!(
            errs[0].problem,
            "unknown field 'colour'; allowed fields: name, type"
        );
    }

    #[test]
    fn null_reads_as_absent_and_wrong_types_are_named() {
        let v = json!({"description": null, "force": "yes", "name": 3});
        let mut errs = FieldErrors::default();
        let f = Fields::of(&v, "", &mut errs).unwrap();
        assert!(f.optional_str("description", &mut errs).is_none());
        assert!(f.optional_bool("force", &mut errs).is_none());
        assert!(f.required_str("name", &mut errs).is_none());
        assert!(f.required_str("missing", &mut errs).is_none());
        let errs = errs.into_vec();
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "force: expected true or false, got a string",
                "name: expected a string, got a number",
                "missing: is required",
            ]
        );
    }

    #[test]
    fn non_object_is_reported() {
        let mut errs = FieldErrors::default();
        assert!(Fields::of(&json!([1]), "spec", &mut errs).is_none());
        assert_eq!(
            errs.into_vec()[0].to_string(),
            "spec: expected an object, got a list"
        );
    }
}
