use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::EncodeError;
use crate::engine::EngineError;
use crate::functions::{InvocationError, InvocationResponse};
use crate::servicebus::SendError;

/// Why an invocation is answered with a non-2xx status, which makes the Functions host abandon
/// the message (Service Bus redelivers it, then dead-letters it after `maxDeliveryCount`).
/// Permanent failures of a *command* are not errors here: they complete the message and go to
/// the rejected queue, so nothing is retried in vain.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The host's envelope itself is unusable (a function.json / host mismatch).
    #[error("invalid invocation: {0}")]
    Invocation(#[from] InvocationError),
    /// ARM or the token endpoint is unavailable right now; a redelivery may succeed.
    #[error("transient failure, the message will be redelivered: {0}")]
    Engine(#[source] EngineError),
    /// Service Bus would not take a message right now (`what`: the reply to 'q', the follow-up
    /// on 'q', …).
    #[error("transient failure, the message will be redelivered: could not send {what}: {source}")]
    Send {
        what: String,
        #[source]
        source: SendError,
    },
    /// An ARM operation outlived the invocation and there is no Service Bus to schedule its
    /// follow-up on: redelivery runs the command again.
    #[error(
        "transient failure, the message will be redelivered: an ARM operation outlived the invocation budget and no Service Bus is configured to schedule its follow-up"
    )]
    NoServiceBus,
    #[error(
        "transient failure, the message will be redelivered: could not encode the follow-up: {0}"
    )]
    Encode(#[source] EncodeError),
}

impl HandlerError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Invocation(_) => StatusCode::BAD_REQUEST,
            Self::Engine(_) | Self::Send { .. } | Self::NoServiceBus | Self::Encode(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The `error.type` recorded on the invocation span.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            Self::Invocation(_) => "InvalidInvocation",
            _ => "Transient",
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
