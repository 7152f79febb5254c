//! Spark job commands. Their specs are validated by the job module; the envelope only checks the
//! outer shape here.

use serde_json::{Value, json};

use crate::domain::field_error::{FieldErrors, quote};
use crate::domain::reader::{Fields, type_name};

/// A job `spec` carried verbatim (always a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct RawSpec(pub Value);

pub(crate) fn parse_submit(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<RawSpec> {
    if value.is_object() {
        Some(RawSpec(value.clone()))
    } else {
        errs.push(
            path,
            format!("expected an object, got {}", type_name(value)),
        );
        None
    }
}

/// Job ids: `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$` (REST spec, Jobs_CreateOrUpdate).
pub(crate) fn parse_cancel(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<String> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name"], errs);
    let name = f.required_str("name", errs)?;
    let ok = (1..=255).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Some(name.to_owned())
    } else {
        errs.push(
            f.path("name"),
            format!("job names are 1 to 255 letters, digits, '-' or '_', starting with a letter or digit; got {}", quote(name)),
        );
        None
    }
}

pub(crate) fn cancel_json(name: &str) -> Value {
    json!({"name": name})
}
