//! `GrantPoolAccess` / `RevokePoolAccess`: Synapse RBAC for an attached pool's identities (and,
//! with `linked_service`, for an SDK v1 linked service's identity).

use serde_json::{Map, Value, json};

use super::compute_name;
use super::linked_services::link_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::FieldErrors;
use crate::domain::linked_service::LinkedServiceName;
use crate::domain::reader::Fields;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAccessSpec {
    pub name: ComputeName,
    /// Also grant (or revoke) Synapse Apache Spark Administrator for this link's identity.
    pub linked_service: Option<LinkedServiceName>,
}

impl PoolAccessSpec {
    pub fn to_spec_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name.as_str()));
        if let Some(link) = &self.linked_service {
            m.insert("linked_service".into(), json!(link.as_str()));
        }
        Value::Object(m)
    }
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<PoolAccessSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name", "linked_service"], errs);
    let name = compute_name(&f, "name", errs);
    let linked_service = if f.contains("linked_service") {
        Some(link_name(&f, "linked_service", errs)?)
    } else {
        None
    };
    Some(PoolAccessSpec {
        name: name?,
        linked_service,
    })
}
