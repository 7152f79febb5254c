//! `ListLinkedServices`, `ShowLinkedService`, `RegisterLinkedService`, `UnregisterLinkedService`:
//! SDK v1's `LinkedService.list / get / register / unregister`.

use serde_json::{Value, json};

use crate::domain::field_error::FieldErrors;
use crate::domain::linked_service::LinkedServiceName;
use crate::domain::reader::Fields;
use crate::domain::resource_ids::SynapseWorkspaceId;

/// `ShowLinkedService` and `UnregisterLinkedService` name one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedServiceRef {
    pub name: LinkedServiceName,
}

impl LinkedServiceRef {
    pub fn to_spec_json(&self) -> Value {
        json!({"name": self.name.as_str()})
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterLinkedServiceSpec {
    pub name: LinkedServiceName,
    pub synapse_workspace_id: SynapseWorkspaceId,
}

impl RegisterLinkedServiceSpec {
    pub fn to_spec_json(&self) -> Value {
        json!({"name": self.name.as_str(), "synapse_workspace_id": self.synapse_workspace_id.as_str()})
    }
}

pub(crate) fn link_name(
    f: &Fields<'_>,
    key: &str,
    errs: &mut FieldErrors,
) -> Option<LinkedServiceName> {
    let s = f.required_str(key, errs)?;
    LinkedServiceName::parse(s)
        .map_err(|e| errs.push(f.path(key), e.to_string()))
        .ok()
}

pub(crate) fn parse_ref(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Option<LinkedServiceRef> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name"], errs);
    Some(LinkedServiceRef {
        name: link_name(&f, "name", errs)?,
    })
}

pub(crate) fn parse_list(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<()> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&[], errs);
    Some(())
}

pub(crate) fn parse_register(
    value: &Value,
    path: &str,
    errs: &mut FieldErrors,
) -> Option<RegisterLinkedServiceSpec> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["name", "synapse_workspace_id"], errs);
    let name = link_name(&f, "name", errs);
    let synapse = f.required_str("synapse_workspace_id", errs).and_then(|s| {
        SynapseWorkspaceId::parse(s)
            .map_err(|e| errs.push(f.path("synapse_workspace_id"), e.to_string()))
            .ok()
    });
    Some(RegisterLinkedServiceSpec {
        name: name?,
        synapse_workspace_id: synapse?,
    })
}
