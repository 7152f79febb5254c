//! The data plane's JSON, as serde models (`SynapseRoleDefinition`, `RoleAssignmentDetails`,
//! `RoleAssignmentRequest`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub is_built_in: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<String>,
}

/// `GET /roleAssignments` filters (all optional, combined with AND by the service).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleAssignmentFilter {
    pub role_id: Option<String>,
    pub principal_id: Option<String>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleAssignmentRequest<'a> {
    pub role_id: &'a str,
    pub principal_id: &'a str,
    pub scope: &'a str,
    pub principal_type: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RoleAssignmentPage {
    #[serde(default)]
    pub value: Vec<RoleAssignment>,
}
