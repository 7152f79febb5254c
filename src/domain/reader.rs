//! Walking an untyped JSON tree while recording every problem with its path. Used instead of
//! serde derive so that all problems are reported at once and unknown fields name the allowed ones.

use std::cell::RefCell;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// A document parsed into a JSON tree, refusing a key that appears twice in one object: serde's
/// own `Value` keeps the last one, so `{"kind":"ShowPool", …, "kind":"DetachPool"}` would run a
/// detach that a reviewer of the first lines never saw.
#[derive(Debug)]
pub(crate) enum StrictError<E> {
    /// The path of the repeated key (`spec.name`, `spec.tags.team`, `[0].x`).
    Duplicate(String),
    Syntax(E),
}

/// Parses JSON text as `serde_json::from_str::<Value>` does, but refuses duplicate keys.
pub(crate) fn strict_json(text: &str) -> Result<Value, StrictError<serde_json::Error>> {
    let duplicate = Rc::new(RefCell::new(None));
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Node::root(&duplicate)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    finish(result, &duplicate)
}

/// Parses YAML text as `serde_yaml_ng::from_str::<Value>` does, but refuses duplicate keys.
pub(crate) fn strict_yaml(text: &str) -> Result<Value, StrictError<serde_yaml_ng::Error>> {
    let duplicate = Rc::new(RefCell::new(None));
    let result = Node::root(&duplicate).deserialize(serde_yaml_ng::Deserializer::from_str(text));
    finish(result, &duplicate)
}

fn finish<E>(
    result: Result<Value, E>,
    duplicate: &Rc<RefCell<Option<String>>>,
) -> Result<Value, StrictError<E>> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => match duplicate.borrow_mut().take() {
            Some(path) => Err(StrictError::Duplicate(path)),
            None => Err(StrictError::Syntax(e)),
        },
    }
}

/// One node of the tree being read, with its path for the duplicate report.
struct Node<'a> {
    path: String,
    duplicate: &'a Rc<RefCell<Option<String>>>,
}

impl<'a> Node<'a> {
    fn root(duplicate: &'a Rc<RefCell<Option<String>>>) -> Self {
        Self {
            path: String::new(),
            duplicate,
        }
    }

    fn child(&self, path: String) -> Self {
        Self {
            path,
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            if out.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(self.child(path))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
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
    fn duplicate_keys_are_refused_with_their_path_in_json_and_yaml() {
        let dup = |r: Result<Value, StrictError<serde_json::Error>>| match r {
            Err(StrictError::Duplicate(p)) => p,
            other => panic!("expected a duplicate, got {other:?}"),
        };
        assert_eq!(
            dup(strict_json(r#"{"kind":"ShowPool","kind":"DetachPool"}"#)),
            "kind"
        );
        assert_eq!(
            dup(strict_json(r#"{"spec":{"tags":[{"a":1},{"b":1,"b":2}]}}"#)),
            "spec.tags[1].b"
        );
        match strict_yaml("spec:\n  name: a\n  name: b\n") {
            Err(StrictError::Duplicate(p)) => assert_eq!(p, "spec.name"),
            other => panic!("expected a duplicate, got {other:?}"),
        }
        // Same keys in sibling objects are fine, and the tree equals serde's.
        let text = r#"{"a":{"x":1},"b":{"x":[1.5,null,true,"s",-3]}}"#;
        assert_eq!(
            strict_json(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(matches!(
            strict_json("{\"a\":"),
            Err(StrictError::Syntax(_))
        ));
        assert!(matches!(strict_json("{} x"), Err(StrictError::Syntax(_))));
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
