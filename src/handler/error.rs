use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::functions::{InvocationError, InvocationResponse};

/// Why an invocation is answered with a non-2xx status, which makes the Functions host abandon
/// the message (Service Bus redelivers it, then dead-letters it after `maxDeliveryCount`).
/// Permanent failures of a *command* are not errors here: they complete the message and go to
/// the rejected queue, so nothing is retried in vain.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The host's envelope itself is unusable (a function.json / host mismatch).
    #[error("invalid invocation: {0}")]
    Invocation(#[from] InvocationError),
    /// ARM, the token endpoint or Service Bus is unavailable right now; a redelivery may succeed.
    #[error("transient failure, the message will be redelivered: {0}")]
    Transient(String),
}

impl HandlerError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Invocation(_) => StatusCode::BAD_REQUEST,
            Self::Transient(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for HandlerError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        // The host ignores the body of a failed invocation, but a person reading the handler's
        // traffic (or the local host's log) should see why.
        InvocationResponse {
            logs: vec![message.clone()],
            return_value: json!({ "error": message }),
            ..InvocationResponse::default()
        }
        .into_response_with(status)
    }
}
