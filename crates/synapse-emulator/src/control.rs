//! `/_emulator/…`: the control API over HTTP (no auth) for tests in other processes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::state::SynapseState;

pub(crate) fn routes() -> Router<SynapseState> {
    Router::new()
        .route("/_emulator/assignments", get(assignments))
        .route("/_emulator/forbid-role-writes", post(forbid))
        .route("/_emulator/reset", post(reset))
}

async fn assignments(State(state): State<SynapseState>) -> Response {
    Json(state.assignments()).into_response()
}

#[derive(Deserialize)]
struct Forbid {
    workspace: String,
    forbidden: bool,
}

async fn forbid(State(state): State<SynapseState>, Json(req): Json<Forbid>) -> StatusCode {
    state.forbid_role_writes(&req.workspace, req.forbidden);
    StatusCode::NO_CONTENT
}

async fn reset(State(state): State<SynapseState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
