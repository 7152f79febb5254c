//! Built-in Synapse RBAC roles (ids and names as `GET /roleDefinitions` returns them).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::SynapseState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInRole {
    pub id: &'static str,
    pub name: &'static str,
    /// May grant access (holds `roleAssignments/write`).
    pub grants_access: bool,
    pub pool_scoped: bool,
}

pub const SYNAPSE_ADMINISTRATOR: &str = "Synapse Administrator";
pub const SYNAPSE_SPARK_ADMINISTRATOR: &str = "Synapse Apache Spark Administrator";

/// Ids verified against a recorded `GET /roleDefinitions` answer (Azure SDK for JS test
/// recordings) for Synapse Administrator, Contributor, Compute Operator and User; the Spark
/// Administrator id comes from public scripts only.
pub const BUILT_IN_ROLES: &[BuiltInRole] = &[
    BuiltInRole {
        id: "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78",
        name: SYNAPSE_ADMINISTRATOR,
        grants_access: true,
        pool_scoped: true,
    },
    BuiltInRole {
        id: "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1",
        name: SYNAPSE_SPARK_ADMINISTRATOR,
        grants_access: false,
        pool_scoped: true,
    },
    BuiltInRole {
        id: "7572bffe-f453-4b66-912a-46cc5ef38fda",
        name: "Synapse Contributor",
        grants_access: false,
        pool_scoped: true,
    },
    BuiltInRole {
        id: "e3844cc7-4670-42cb-9349-9bdac1ee7881",
        name: "Synapse Compute Operator",
        grants_access: false,
        pool_scoped: true,
    },
    BuiltInRole {
        id: "2a385764-43e8-416c-9825-7b18d05a2c4b",
        name: "Synapse User",
        grants_access: false,
        pool_scoped: false,
    },
];

pub(crate) fn find(id: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id))
}

fn definition(role: &BuiltInRole) -> Value {
    let mut scopes = vec!["workspaces/{workspaceName}"];
    if role.pool_scoped {
        scopes.push("workspaces/{workspaceName}/bigDataPools/{bigDataPoolName}");
    }
    json!({
        "name": role.name,
        "description": format!("{} (emulated)", role.name),
        "id": role.id,
        "isBuiltIn": true,
        "permissions": [{"actions": [], "notActions": [], "dataActions": [], "notDataActions": []}],
        "scopes": scopes,
        "availabilityStatus": "Available",
    })
}

/// `GET /roleDefinitions`: a bare JSON array, as the service answers.
pub(crate) async fn list(
    State(state): State<SynapseState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = state.admit(&headers, &query) {
        return e.into_response();
    }
    let built_in_only = query
        .iter()
        .find(|(k, _)| k == "isBuiltIn")
        .map(|(_, v)| v.as_str());
    if let Some(v) = built_in_only
        && v != "true"
        && v != "false"
    {
        return ApiError::bad_request(format!("isBuiltIn must be true or false, not '{v}'"))
            .into_response();
    }
    Json(Value::Array(
        BUILT_IN_ROLES.iter().map(definition).collect(),
    ))
    .into_response()
}
