//! Spark job commands. Their specs are validated by the job module; the envelope only checks the
//! outer shape here.

use serde_json::{Value, json};

use crate::domain::field_error::FieldErrors;
use crate::domain::reader::{Fields, type_name};
use crate::domain::spark::JobName;

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

/// Job ids follow [`JobName`]'s grammar (REST spec, Jobs_CreateOrUpdate).
pub(crate) fn parse_cancel(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<JobName> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name"], errs);
    let name = f.required_str("name", errs)?;
    match JobName::parse(name) {
        Ok(name) => Some(name),
        Err(e) => {
            errs.push(f.path("name"), e.to_string());
            None
        }
    }
}

pub(crate) fn cancel_json(name: &JobName) -> Value {
    json!({"name": name.as_str()})
}
