//! `ShowPool`: `az ml compute show --name`.

use serde_json::{Value, json};

use super::compute_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::FieldErrors;
use crate::domain::reader::Fields;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowPoolSpec {
    pub name: ComputeName,
}

impl ShowPoolSpec {
    pub fn to_spec_json(&self) -> Value {
        json!({"name": self.name.as_str()})
    }
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<ShowPoolSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name"], errs);
    Some(ShowPoolSpec {
        name: compute_name(&f, "name", errs)?,
    })
}
