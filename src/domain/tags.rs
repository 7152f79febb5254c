//! Resource tags: string→string, in the user's order, within ARM's limits.

use indexmap::IndexMap;
use serde_json::Value;

use super::field_error::{FieldErrors, join, quote};
use super::reader::type_name;

pub type Tags = IndexMap<String, String>;

/// Tags under this prefix are written by poolbroker itself (e.g. the TTL expiry). A hyphen, not a
/// slash: ARM refuses tag names containing `<`, `>`, `%`, `&`, `\\`, `?` or `/`.
pub const RESERVED_TAG_PREFIX: &str = "poolbroker-";
/// The one reserved tag users set themselves: `poolbroker-keep: "true"` protects a pool from cleanup.
pub const KEEP_TAG: &str = "poolbroker-keep";
/// `true` marks a pool attached by poolbroker; cleanup touches only those unless `manage_all`.
pub const MANAGED_TAG: &str = "poolbroker-managed";
/// RFC 3339 instant (UTC, whole seconds) after which cleanup detaches the pool, written from an
/// attach command's `ttl`.
pub const EXPIRES_AT_TAG: &str = "poolbroker-expires-at";
/// Users label a pool for a workload; `compute: auto` jobs with that `workload` pick it.
pub const WORKLOAD_TAG: &str = "poolbroker-workload";
/// Characters ARM does not accept in tag names.
const FORBIDDEN_IN_NAMES: [char; 7] = ['<', '>', '%', '&', '\\', '?', '/'];

// ARM limits (docs: azure-resource-manager/management/tag-resources): 50 tags, name ≤ 512, value ≤ 256.
const MAX_TAGS: usize = 50;
const MAX_NAME: usize = 512;
const MAX_VALUE: usize = 256;

/// A tag's value; ARM tag names compare case-insensitively.
pub fn tag_value<'a>(tags: &'a Tags, name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A tag flag (`poolbroker-keep`, `poolbroker-managed`) is set when its value reads `true`.
pub fn tag_is_true(value: Option<&str>) -> bool {
    value.is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}

pub(crate) fn parse_tags(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<Tags> {
    let Value::Object(map) = value else {
        errs.push(
            path,
            format!(
                "expected a map of tag name to string value, got {}",
                type_name(value)
            ),
        );
        return None;
    };
    if map.len() > MAX_TAGS {
        errs.push(
            path,
            format!("at most {MAX_TAGS} tags are allowed; got {}", map.len()),
        );
    }
    let mut tags = Tags::new();
    let mut ok = true;
    for (k, v) in map {
        let p = join(path, k);
        if k.is_empty() || k.chars().count() > MAX_NAME {
            errs.push(
                &p,
                format!("tag names must be 1 to {MAX_NAME} characters long"),
            );
            ok = false;
        }
        if let Some(c) = k.chars().find(|c| FORBIDDEN_IN_NAMES.contains(c)) {
            errs.push(
                &p,
                format!("tag names cannot contain '{c}' (ARM refuses < > % & \\ ? /)"),
            );
            ok = false;
        } else if k.to_ascii_lowercase().starts_with(RESERVED_TAG_PREFIX)
            && !k.eq_ignore_ascii_case(KEEP_TAG)
            && !k.eq_ignore_ascii_case(WORKLOAD_TAG)
        {
            errs.push(
                &p,
                format!(
                    "tag names starting with {} are reserved for poolbroker (use ttl for expiry; only {} and {} may be set)",
                    quote(RESERVED_TAG_PREFIX),
                    quote(KEEP_TAG),
                    quote(WORKLOAD_TAG)
                ),
            );
            ok = false;
        }
        match v {
            Value::String(s) if s.chars().count() <= MAX_VALUE => {
                tags.insert(k.clone(), s.clone());
            }
            Value::String(_) => {
                errs.push(
                    &p,
                    format!("tag values must be at most {MAX_VALUE} characters long"),
                );
                ok = false;
            }
            other => {
                errs.push(
                    &p,
                    format!(
                        "expected a string value, got {} (quote it in YAML)",
                        type_name(other)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Tags, Vec<String>> {
        let mut errs = FieldErrors::default();
        match parse_tags(&v, "spec.tags", &mut errs) {
            Some(t) if errs.is_empty() => Ok(t),
            _ => Err(errs.into_vec().iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn order_is_kept() {
        let t = parse(json!({"z": "1", "a": "2", "m": ""})).unwrap();
        assert_eq!(t.keys().collect::<Vec<_>>(), vec!["z", "a", "m"]);
    }

    #[test]
    fn rejects_non_strings_reserved_and_oversized() {
        let errs = parse(
            json!({"cost": 12, "poolbroker-expires-at": "x", "team/a": "x", "v": "x".repeat(257)}),
        )
        .unwrap_err();
        assert_eq!(errs, vec![
            "spec.tags.cost: expected a string value, got a number (quote it in YAML)".to_string(),
            "spec.tags.poolbroker-expires-at: tag names starting with 'poolbroker-' are reserved for poolbroker (use ttl for expiry; only 'poolbroker-keep' and 'poolbroker-workload' may be set)".to_string(),
            "spec.tags.team/a: tag names cannot contain '/' (ARM refuses < > % & \\ ? /)".to_string(),
            "spec.tags.v: tag values must be at most 256 characters long".to_string(),
        ]);
        assert!(parse(json!({"poolbroker-keep": "true"})).is_ok());
        let many: serde_json::Map<String, Value> =
            (0..51).map(|i| (format!("t{i}"), json!("v"))).collect();
        assert!(parse(Value::Object(many)).unwrap_err()[0].contains("at most 50 tags"));
        assert!(parse(json!(["a"])).unwrap_err()[0].contains("got a list"));
    }
}
