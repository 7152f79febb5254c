//! The `match` part of a rule.

use serde_json::Value;

use super::path::FieldPath;
use crate::hooks::event::Event;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    pub event_type: Option<String>,
    pub subject_prefix: Option<String>,
    pub source: Option<String>,
    pub data: Vec<(FieldPath, Value)>,
}

impl Matcher {
    /// All given criteria must hold. `context` is `event.context()`.
    pub(crate) fn matches(&self, event: &Event, context: &Value) -> bool {
        self.event_type
            .as_deref()
            .is_none_or(|pattern| glob(pattern, &event.event_type))
            && self
                .source
                .as_deref()
                .is_none_or(|pattern| glob(pattern, &event.source))
            && self.subject_prefix.as_deref().is_none_or(|prefix| {
                event
                    .subject
                    .as_deref()
                    .is_some_and(|subject| subject.starts_with(prefix))
            })
            && self
                .data
                .iter()
                .all(|(path, expected)| path.lookup(context) == Some(expected))
    }
}

/// `*` matches any run of characters (including none and `/`); everything else is literal.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, middle)) = middle.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(index) => rest = &rest[index + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_semantics() {
        assert!(glob(
            "Microsoft.Storage.BlobCreated",
            "Microsoft.Storage.BlobCreated"
        ));
        assert!(!glob(
            "Microsoft.Storage.BlobCreated",
            "Microsoft.Storage.BlobCreatedX"
        ));
        assert!(glob("Microsoft.Storage.*", "Microsoft.Storage.BlobDeleted"));
        assert!(glob("*", ""));
        assert!(glob("*.ended", "campaign.ended"));
        assert!(!glob("*.ended", "campaign.ended.not"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxcyyb"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("ab*ba", "abba"));
    }
}
