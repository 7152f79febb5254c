//! `DetachPool`: `az ml compute detach --name` (ARM DELETE with `underlyingResourceAction=Detach`).

use serde_json::{Value, json};

use super::compute_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::FieldErrors;
use crate::domain::reader::Fields;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachPoolSpec {
    pub name: ComputeName,
    /// Detach even when the broker's own checks (e.g. running jobs) would refuse.
    pub force: bool,
}

impl DetachPoolSpec {
    pub fn to_spec_json(&self) -> Value {
        json!({"name": self.name.as_str(), "force": self.force})
    }
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<DetachPoolSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name", "force"], errs);
    let name = compute_name(&f, "name", errs);
    let force = f.optional_bool("force", errs);
    if f.contains("force") && force.is_none() {
        return None;
    }
    Some(DetachPoolSpec {
        name: name?,
        force: force.unwrap_or(false),
    })
}
