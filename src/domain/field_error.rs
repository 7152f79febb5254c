//! Field-level validation errors: every problem in a message is collected (not just the first) so
//! a sender can fix them all in one round trip.

use std::fmt;

/// One problem with one field of a message, e.g.
/// `spec.identity.user_assigned_identities[1].resource_id: duplicate of [0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted JSON path; `""` means the document root.
    pub path: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

/// Accumulator threaded through the parsers.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub(crate) fn push(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.0.push(FieldError::new(path, problem));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// Join a parent path and a key (`""` + `spec` = `spec`, `spec` + `name` = `spec.name`).
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Quote user input for an error message, bounded so a hostile body cannot blow up replies/logs.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 120;
    let mut out = String::from("'");
    for (i, c) in s.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_without_leading_dot() {
        assert_eq!(join("", "spec"), "spec");
        assert_eq!(join("spec", "name"), "spec.name");
        assert_eq!(index("spec.x", 2), "spec.x[2]");
    }

    #[test]
    fn quote_bounds_and_escapes() {
        let long = "a".repeat(500);
        let q = quote(&long);
        assert!(q.chars().count() < 130, "{q}");
        assert!(q.ends_with("…'"));
        assert_eq!(quote("a\nb"), "'a\\nb'");
    }

    #[test]
    fn display_omits_empty_path() {
        assert_eq!(FieldError::new("", "boom").to_string(), "boom");
        assert_eq!(
            FieldError::new("spec.name", "boom").to_string(),
            "spec.name: boom"
        );
    }
}
