use axum::extract::State;
use bytes::Bytes;

use super::error::HandlerError;
use super::state::AppState;
use crate::functions::{InvocationRequest, InvocationResponse};

/// `pipeline-events` (HTTP trigger on `/api/events`).
pub async fn handle(
    State(_state): State<AppState>,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let _request = InvocationRequest::parse(&body)?;
    Err(HandlerError::Transient(
        "pipeline-events is not implemented yet".into(),
    ))
}
