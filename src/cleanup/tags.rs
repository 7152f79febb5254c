//! Tags poolbroker reads and writes on attached computes.

/// `true` protects a pool from cleanup whatever else holds.
pub const TAG_KEEP: &str = "poolbroker-keep";
/// `true` marks a pool attached by poolbroker; only those are cleaned up unless `manage_all`.
pub const TAG_MANAGED: &str = "poolbroker-managed";
/// RFC 3339 instant after which cleanup detaches the pool (set from an attach command's `ttl`).
pub const TAG_EXPIRES_AT: &str = "poolbroker-expires-at";

/// ARM tag names compare case-insensitively.
pub(crate) fn tag<'a>(tags: &'a indexmap::IndexMap<String, String>, name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

pub(crate) fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
}
