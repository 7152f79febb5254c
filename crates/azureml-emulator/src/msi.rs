//! The App Service / Functions managed-identity endpoint (`IDENTITY_ENDPOINT`, api-version
//! 2019-08-01) that `azure_identity::ManagedIdentityCredential` calls.

use crate::arm::json_response;
use crate::auth::{self, TokenSubject};
use crate::ids;
use crate::state::EmulatorState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// Client id of the function app's system-assigned identity.
pub fn system_client_id() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"poolbroker-emulator#function-app#clientId",
    )
}

/// Principal (object) id of the function app's system-assigned identity.
pub fn system_principal_id() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"poolbroker-emulator#function-app#principalId",
    )
}

pub(crate) fn system_subject() -> TokenSubject {
    TokenSubject {
        client_id: system_client_id(),
        principal_id: system_principal_id(),
        resource_id: None,
    }
}

fn uai_subject(id: &str) -> TokenSubject {
    TokenSubject {
        client_id: ids::uai_client_id(id),
        principal_id: ids::uai_principal_id(id),
        resource_id: Some(id.to_owned()),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &json!({
            "statusCode": status.as_u16(),
            "message": message,
            "correlationId": Uuid::new_v4().to_string(),
        }),
    )
}

pub(crate) async fn token(
    State(state): State<EmulatorState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match query.get("api-version").map(String::as_str) {
        Some("2019-08-01") => {}
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("api-version '{other}' is not supported; use 2019-08-01."),
            );
        }
        None => return error(StatusCode::BAD_REQUEST, "api-version is required."),
    }
    match headers.get("x-identity-header").map(|v| v.as_bytes()) {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "The request is missing the required 'X-IDENTITY-HEADER' header.",
            );
        }
        Some(v) if v != state.config().identity_header.as_bytes() => {
            return error(
                StatusCode::UNAUTHORIZED,
                "The 'X-IDENTITY-HEADER' header value is invalid.",
            );
        }
        Some(_) => {}
    }
    let Some(resource) = query.get("resource").filter(|r| !r.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The 'resource' parameter is required.",
        );
    };
    let subject = match requested_identity(&state, &query) {
        Ok(s) => s,
        Err(msg) => return error(StatusCode::BAD_REQUEST, msg),
    };
    let lifetime = state.config().token_lifetime;
    let (access_token, expires_on) = auth::issue(&state, resource, lifetime, &subject);
    // App Service writes expires_on as a string of epoch seconds.
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "expires_on": expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": subject.client_id.to_string(),
        }),
    )
}

/// Resolves `client_id` / `principal_id` (alias `object_id`) / `mi_res_id` to a registered UAI,
/// or the app's system-assigned identity when none is given.
fn requested_identity(
    state: &EmulatorState,
    query: &HashMap<String, String>,
) -> Result<TokenSubject, &'static str> {
    const NOT_FOUND: &str =
        "No managed identity found for specified ClientId/ResourceId/PrincipalId.";
    let registered: Vec<String> = state.data().identities.values().cloned().collect();
    if let Some(cid) = query.get("client_id") {
        return registered
            .iter()
            .find(|id| ids::uai_client_id(id).to_string().eq_ignore_ascii_case(cid))
            .map(|id| uai_subject(id))
            .ok_or(NOT_FOUND);
    }
    if let Some(pid) = query.get("principal_id").or_else(|| query.get("object_id")) {
        return registered
            .iter()
            .find(|id| {
                ids::uai_principal_id(id)
                    .to_string()
                    .eq_ignore_ascii_case(pid)
            })
            .map(|id| uai_subject(id))
            .ok_or(NOT_FOUND);
    }
    if let Some(rid) = query.get("mi_res_id") {
        return registered
            .iter()
            .find(|id| ids::key(id) == ids::key(rid))
            .map(|id| uai_subject(id))
            .ok_or(NOT_FOUND);
    }
    Ok(system_subject())
}
