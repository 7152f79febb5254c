//! `ListPools`: `az ml compute list [--type]`, filtered client-side as azure-ai-ml does.

use serde_json::{Value, json};

use crate::domain::field_error::{FieldErrors, quote};
use crate::domain::reader::Fields;

/// az-ml spellings of the ARM `ComputeType` enum.
const COMPUTE_TYPES: &[&str] = &[
    "synapsespark",
    "amlcompute",
    "computeinstance",
    "kubernetes",
    "aks",
    "virtualmachine",
    "hdinsight",
    "databricks",
    "datalakeanalytics",
    "datafactory",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPoolsSpec {
    compute_type: &'static str,
}

impl Default for ListPoolsSpec {
    fn default() -> Self {
        Self {
            compute_type: "synapsespark",
        }
    }
}

impl ListPoolsSpec {
    /// Lower-case az-ml type, e.g. `synapsespark`.
    pub fn compute_type(&self) -> &'static str {
        self.compute_type
    }

    /// Does an ARM `properties.computeType` (e.g. `SynapseSpark`) pass the filter?
    pub fn matches(&self, arm_compute_type: &str) -> bool {
        arm_compute_type.eq_ignore_ascii_case(self.compute_type)
    }

    pub fn to_spec_json(&self) -> Value {
        json!({"type": self.compute_type})
    }
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<ListPoolsSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["type"], errs);
    match f.optional_str("type", errs) {
        None if f.contains("type") => None,
        None => Some(ListPoolsSpec::default()),
        Some(t) => match COMPUTE_TYPES.iter().find(|c| c.eq_ignore_ascii_case(t)) {
            Some(c) => Some(ListPoolsSpec { compute_type: c }),
            None => {
                errs.push(
                    f.path("type"),
                    format!(
                        "expected one of {}; got {}",
                        COMPUTE_TYPES.join(", "),
                        quote(t)
                    ),
                );
                None
            }
        },
    }
}
