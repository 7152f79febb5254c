//! `/roleAssignments`: create (PUT with a client-chosen GUID), get, delete, list with filters and
//! `x-ms-continuation` paging.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::roles;
use crate::state::{RoleAssignment, SynapseState};

const CONTINUATION: &str = "x-ms-continuation";
const PRINCIPAL_TYPES: [&str; 3] = ["User", "Group", "ServicePrincipal"];

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `workspaces/{ws}` or `workspaces/{ws}/{itemType}/{item}`; returns the workspace.
pub(crate) fn scope_workspace(scope: &str) -> Result<&str, ApiError> {
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        ["workspaces", ws] | ["workspaces", ws, _, _] if !ws.is_empty() => Ok(ws),
        _ => Err(ApiError::bad_request(format!(
            "The scope '{scope}' is invalid: expected 'workspaces/{{workspaceName}}' or 'workspaces/{{workspaceName}}/{{itemType}}/{{itemName}}'."
        ))),
    }
}

fn uuid_field(body: &Value, field: &str) -> Result<String, ApiError> {
    let raw = body
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(format!("The '{field}' field is required.")))?;
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| {
            ApiError::bad_request(format!("The '{field}' value '{raw}' is not a valid GUID."))
        })
}

fn forbidden(state: &SynapseState, scope: &str, action: &str) -> Result<(), ApiError> {
    let ws = scope_workspace(scope)?;
    if state
        .data()
        .writes_forbidden
        .contains(&ws.to_ascii_lowercase())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            format!(
                "The principal does not have the required Synapse RBAC permission to perform this action. Required permission: Action: Microsoft.Synapse/workspaces/roleAssignments/{action}, Scope: {scope}."
            ),
        ));
    }
    Ok(())
}

pub(crate) async fn put(
    State(state): State<SynapseState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Response {
    match create(&state, &id, &headers, &query, &body) {
        Ok(a) => Json(a).into_response(),
        Err(e) => e.into_response(),
    }
}

fn create(
    state: &SynapseState,
    id: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: &[u8],
) -> Result<RoleAssignment, ApiError> {
    state.admit(headers, query)?;
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| {
            ApiError::bad_request(format!(
                "The role assignment id '{id}' is not a valid GUID."
            ))
        })?
        .to_string();
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let role_id = uuid_field(&body, "roleId")?;
    let principal_id = uuid_field(&body, "principalId")?;
    let scope = body
        .get("scope")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("The 'scope' field is required."))?
        .to_owned();
    scope_workspace(&scope)?;
    let principal_type = match body.get("principalType") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if PRINCIPAL_TYPES.contains(&t.as_str()) => Some(t.clone()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "principalType {other} is invalid; expected User, Group or ServicePrincipal."
            )));
        }
    };
    if roles::find(&role_id).is_none() {
        return Err(ApiError::bad_request(format!(
            "The role definition '{role_id}' does not exist."
        )));
    }
    forbidden(state, &scope, "write")?;
    let mut data = state.data();
    let duplicate = data.assignments.values().any(|a| {
        a.role_definition_id.eq_ignore_ascii_case(&role_id)
            && a.principal_id.eq_ignore_ascii_case(&principal_id)
            && a.scope.eq_ignore_ascii_case(&scope)
            && !a.id.eq_ignore_ascii_case(&id)
    });
    if duplicate {
        // Unverified wording; the Azure CLI treats a 409 whose message contains
        // "role assignment already exists" as success, and so does poolbroker.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Conflict",
            "A role assignment already exists with the same role, principal and scope.",
        ));
    }
    let assignment = RoleAssignment {
        id: id.clone(),
        role_definition_id: role_id,
        principal_id,
        scope,
        principal_type,
    };
    data.assignments.insert(id, assignment.clone());
    Ok(assignment)
}

pub(crate) async fn get(
    State(state): State<SynapseState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = state.admit(&headers, &query) {
        return e.into_response();
    }
    match state.data().assignments.get(&id.to_ascii_lowercase()) {
        Some(a) => Json(a.clone()).into_response(),
        None => not_found(&id).into_response(),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The role assignment '{id}' was not found."),
    )
}

pub(crate) async fn delete(
    State(state): State<SynapseState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = state.admit(&headers, &query) {
        return e.into_response();
    }
    let key = id.to_ascii_lowercase();
    let scope = state.data().assignments.get(&key).map(|a| a.scope.clone());
    let Some(scope) = scope else {
        // The service answers 204 for an assignment that is not there.
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = forbidden(&state, &scope, "delete") {
        return e.into_response();
    }
    state.data().assignments.shift_remove(&key);
    StatusCode::OK.into_response()
}

pub(crate) async fn list(
    State(state): State<SynapseState>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = state.admit(&headers, &query) {
        return e.into_response();
    }
    let role = param(&query, "roleId").map(str::to_ascii_lowercase);
    let principal = param(&query, "principalId").map(str::to_ascii_lowercase);
    let scope = param(&query, "scope").map(str::to_ascii_lowercase);
    let start = match headers.get(CONTINUATION).and_then(|v| v.to_str().ok()) {
        None | Some("") => 0,
        Some(token) => match token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => n,
            None => {
                return ApiError::bad_request(format!(
                    "The continuation token '{token}' is invalid."
                ))
                .into_response();
            }
        },
    };
    let matching: Vec<RoleAssignment> = state
        .data()
        .assignments
        .values()
        .filter(|a| {
            role.as_deref()
                .is_none_or(|r| a.role_definition_id.eq_ignore_ascii_case(r))
        })
        .filter(|a| {
            principal
                .as_deref()
                .is_none_or(|p| a.principal_id.eq_ignore_ascii_case(p))
        })
        .filter(|a| {
            scope
                .as_deref()
                .is_none_or(|s| a.scope.eq_ignore_ascii_case(s))
        })
        .cloned()
        .collect();
    let page_size = state.config.page_size.max(1);
    let page: Vec<&RoleAssignment> = matching.iter().skip(start).take(page_size).collect();
    let next = start + page.len();
    let continuation = if next < matching.len() {
        format!("page-{next}")
    } else {
        String::new()
    };
    let mut resp = Json(json!({"count": page.len(), "value": page})).into_response();
    if let Ok(v) = HeaderValue::from_str(&continuation) {
        resp.headers_mut().insert(CONTINUATION, v);
    }
    resp
}
