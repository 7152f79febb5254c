//! One span per invocation, its logs returned to the host, spans flushed before answering
//! (consumption plans may freeze the instance as soon as the response is sent).

use std::future::Future;

use axum::http::HeaderMap;
use tracing::{Instrument, Span};

use super::error::HandlerError;
use super::state::AppState;
use crate::functions::InvocationResponse;
use crate::telemetry::{self, InvocationLogs, Trigger};

/// The host's `X-Azure-Functions-InvocationId`.
pub fn invocation_id(headers: &HeaderMap) -> String {
    headers
        .get("x-azure-functions-invocationid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default()
}

pub fn span(trigger: Trigger, function: &str, headers: &HeaderMap) -> Span {
    telemetry::invocation_span(trigger, function, &invocation_id(headers))
}

/// Runs `work` inside `span`, captures its logs into the response's `Logs`, records failures on
/// the span, and flushes telemetry before the response leaves.
pub async fn run(
    state: &AppState,
    span: Span,
    work: impl Future<Output = Result<InvocationResponse, HandlerError>>,
) -> Result<InvocationResponse, HandlerError> {
    let logs = InvocationLogs::new();
    logs.scope(&span);
    let (result, timing) = telemetry::measure(work.instrument(span.clone())).await;
    match &result {
        Ok(_) => {}
        Err(err) => {
            let code = err.error_type();
            span.record(telemetry::fields::OUTCOME, "retry");
            telemetry::record_error(&span, code, &err.to_string());
        }
    }
    // The span must end before the flush to be part of it.
    drop(span);
    if let Some(guard) = &state.inner.telemetry
        && let Err(e) = guard.flush().await
    {
        tracing::warn!("telemetry flush failed: {e}");
    }
    result.map(|mut response| {
        let mut captured = logs.take();
        captured.append(&mut response.logs);
        response.logs = captured;
        response.timing = Some(timing);
        response
    })
}
