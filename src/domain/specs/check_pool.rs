//! `CheckPool`: `poolbroker doctor NAME` on the command path.

use serde_json::{Value, json};

use super::compute_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::FieldErrors;
use crate::domain::reader::Fields;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPoolSpec {
    pub name: ComputeName,
}

impl CheckPoolSpec {
    pub fn to_spec_json(&self) -> Value {
        json!({"name": self.name.as_str()})
    }
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<CheckPoolSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name"], errs);
    Some(CheckPoolSpec {
        name: compute_name(&f, "name", errs)?,
    })
}
