use axum::extract::State;
use bytes::Bytes;

use super::error::HandlerError;
use super::state::AppState;
use crate::functions::{InvocationRequest, InvocationResponse};

/// `workspace-cleanup` (timer trigger).
pub async fn handle(
    State(_state): State<AppState>,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let _request = InvocationRequest::parse(&body)?;
    Err(HandlerError::Transient(
        "workspace-cleanup is not implemented yet".into(),
    ))
}
