//! `/_emulator/…`: the control API over HTTP (no auth), for tests and benchmarks in other
//! processes. Mirrors the in-process methods of [`EmulatorState`].

use crate::config::SynapsePoolSpec;
use crate::faults::FaultRule;
use crate::jobs::JobStatus;
use crate::state::{EmulatorError, EmulatorState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route("/_emulator/faults", post(inject).delete(clear_faults))
        .route("/_emulator/seed-demo", post(seed_demo))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/tokens", post(issue_token))
        .route("/_emulator/delete-actions", get(delete_actions))
        .route("/_emulator/job-status", post(job_status))
        .route("/_emulator/workspaces", post(add_workspace))
        .route("/_emulator/synapse-pools", post(add_pool))
        .route("/_emulator/identities", post(add_identity))
        .route("/_emulator/clock", get(clock).post(advance_clock))
        .route("/_emulator/code-versions", post(add_code_version))
}

fn clock_body(state: &EmulatorState) -> Response {
    Json(json!({"offsetSecs": state.clock_offset().as_secs_f64()})).into_response()
}

async fn clock(State(state): State<EmulatorState>) -> Response {
    clock_body(&state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdvanceRequest {
    advance_secs: f64,
}

async fn advance_clock(
    State(state): State<EmulatorState>,
    Json(req): Json<AdvanceRequest>,
) -> Response {
    match Duration::try_from_secs_f64(req.advance_secs) {
        Ok(by) => {
            state.advance_clock(by);
            clock_body(&state)
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("advanceSecs: {e}")})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeVersionRequest {
    workspace_id: String,
    name: String,
    version: String,
    code_uri: String,
}

async fn add_code_version(
    State(state): State<EmulatorState>,
    Json(req): Json<CodeVersionRequest>,
) -> Response {
    match state.add_code_version(&req.workspace_id, &req.name, &req.version, &req.code_uri) {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => error(&e),
    }
}

fn error(e: &EmulatorError) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": e.to_string()}))).into_response()
}

async fn requests(State(state): State<EmulatorState>) -> Response {
    Json(state.requests()).into_response()
}

async fn clear_requests(State(state): State<EmulatorState>) -> StatusCode {
    state.clear_requests();
    StatusCode::NO_CONTENT
}

async fn inject(State(state): State<EmulatorState>, Json(rule): Json<FaultRule>) -> StatusCode {
    state.inject(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(state): State<EmulatorState>) -> StatusCode {
    state.clear_faults();
    StatusCode::NO_CONTENT
}

async fn seed_demo(State(state): State<EmulatorState>) -> Response {
    Json(state.seed_demo()).into_response()
}

async fn reset(State(state): State<EmulatorState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct TokenRequest {
    resource: String,
    lifetime_secs: Option<u64>,
}

async fn issue_token(
    State(state): State<EmulatorState>,
    Json(req): Json<TokenRequest>,
) -> Response {
    let token = match req.lifetime_secs {
        Some(secs) => state.issue_token_with_lifetime(&req.resource, Duration::from_secs(secs)),
        None => state.issue_token(&req.resource),
    };
    Json(json!({"access_token": token, "token_type": "Bearer", "resource": req.resource}))
        .into_response()
}

async fn delete_actions(State(state): State<EmulatorState>) -> Response {
    Json(state.delete_actions()).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobStatusRequest {
    workspace_id: String,
    job: String,
    status: JobStatus,
}

async fn job_status(
    State(state): State<EmulatorState>,
    Json(req): Json<JobStatusRequest>,
) -> Response {
    match state.set_job_status(&req.workspace_id, &req.job, req.status) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(&e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkspaceRequest {
    subscription_id: String,
    resource_group: String,
    name: String,
    location: String,
}

async fn add_workspace(
    State(state): State<EmulatorState>,
    Json(req): Json<WorkspaceRequest>,
) -> Response {
    let id = state.add_workspace(
        &req.subscription_id,
        &req.resource_group,
        &req.name,
        &req.location,
    );
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

async fn add_pool(
    State(state): State<EmulatorState>,
    Json(spec): Json<SynapsePoolSpec>,
) -> Response {
    let id = state.add_synapse_pool(spec);
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityRequest {
    subscription_id: String,
    resource_group: String,
    name: String,
}

async fn add_identity(
    State(state): State<EmulatorState>,
    Json(req): Json<IdentityRequest>,
) -> Response {
    let info =
        state.add_user_assigned_identity(&req.subscription_id, &req.resource_group, &req.name);
    (StatusCode::CREATED, Json(info)).into_response()
}
