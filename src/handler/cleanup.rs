//! `workspace-cleanup` (timer trigger): one summary report per run to `cleanup-reports`.

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::HandlerError;
use super::state::AppState;
use super::traced;
use crate::engine::{CommandContext, EngineError};
use crate::functions::{InvocationRequest, InvocationResponse};
use crate::telemetry::Trigger;

const TIMER_BINDING: &str = "timer";
const REPORT_BINDING: &str = "report";

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let span = traced::span(Trigger::Timer, "workspace-cleanup", &headers);
    traced::run(&state, span, process(&state, body)).await
}

async fn process(state: &AppState, body: Bytes) -> Result<InvocationResponse, HandlerError> {
    let request = InvocationRequest::parse(&body)?;
    let timer = request.binding(TIMER_BINDING)?;
    // A late or duplicate firing is harmless: detaching is idempotent and re-checked.
    let past_due = timer
        .get("IsPastDue")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let now = OffsetDateTime::now_utc();
    let run_id = format!("cleanup-{}", uuid::Uuid::new_v4().simple());
    let ctx = CommandContext::new(run_id.clone(), now);

    let mut workspaces = Vec::new();
    let mut logs = Vec::new();
    for (workspace, policy) in &state.inner.cleanup {
        match state
            .inner
            .engine
            .run_cleanup(workspace, policy, &ctx)
            .await
        {
            Ok(report) => {
                logs.push(format!(
                    "cleanup {}: examined {}, detached {}, failed {}",
                    workspace.name(),
                    report.plan.decisions.len(),
                    report.detached.len(),
                    report.failed.len()
                ));
                workspaces.push(report.to_json());
            }
            Err(EngineError::Rejected(rejection)) => {
                logs.push(format!(
                    "cleanup {}: {}",
                    workspace.name(),
                    rejection.message
                ));
                workspaces
                    .push(json!({"workspace": workspace.arm_id(), "error": rejection.to_json()}));
            }
            Err(transient) => {
                let why = transient.to_string();
                logs.push(format!("cleanup {}: {why}", workspace.name()));
                workspaces.push(json!({"workspace": workspace.arm_id(), "error": {"code": "Transient", "message": why}}));
            }
        }
    }
    if state.inner.cleanup.is_empty() {
        logs.push(
            "cleanup: no workspace configured (set POOLBROKER_CLEANUP_POLICY or POOLBROKER_DEFAULT_WORKSPACE)"
                .into(),
        );
    }
    let report = json!({
        "runId": run_id,
        "runAt": now.format(&Rfc3339).unwrap_or_default(),
        "isPastDue": past_due,
        "workspaces": workspaces,
    });
    tracing::info!(run_id, past_due, "cleanup run finished");
    Ok(InvocationResponse::default()
        .with_output(REPORT_BINDING, report)
        .with_logs(logs))
}
