//! `pipeline-events` (HTTP trigger on `/api/events`): upstream events become commands on the
//! `pool-commands` queue. With a Service Bus sender configured (as deployed) the handler sends
//! them itself, so each message carries the event-derived `MessageId` (Service Bus duplicate
//! detection) and a `traceparent` (the command's invocation joins this trace); without one, the
//! `commands` output binding carries the bodies.

use crate::domain::session_id_of;
use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::error::HandlerError;
use super::state::AppState;
use super::traced;
use super::traced::send_traced;
use crate::functions::{HttpTriggerRequest, InvocationRequest, InvocationResponse};
use crate::hooks::{self, HookOutcome, HookRequest};
use crate::servicebus::OutboundMessage;
use crate::telemetry::{self, Trigger};

const REQUEST_BINDING: &str = "req";
const RESPONSE_BINDING: &str = "res";
const COMMANDS_BINDING: &str = "commands";

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let span = traced::span(Trigger::Http, "pipeline-events", &headers);
    let hook_request = InvocationRequest::parse(&body)
        .map_err(HandlerError::from)
        .and_then(|request| hook_request(request.binding(REQUEST_BINDING)?));
    // The caller's trace (its `traceparent` header) continues in this invocation.
    if let Ok(request) = &hook_request
        && let Some(caller) =
            telemetry::parent_from_properties(|name| request.header(name).map(str::to_owned))
    {
        telemetry::set_parent(&span, caller);
    }
    traced::run(&state, span, process(&state, hook_request)).await
}

async fn process(
    state: &AppState,
    hook_request: Result<HookRequest, HandlerError>,
) -> Result<InvocationResponse, HandlerError> {
    let hook_request = hook_request?;
    let outcome = hooks::handle(&hook_request, &state.inner.hooks, OffsetDateTime::now_utc());
    let http = outcome.response();
    let mut response = InvocationResponse::default();
    if let HookOutcome::Enqueue { commands, .. } = &outcome
        && !commands.is_empty()
    {
        // The hooks core already put the de-duplication key inside each envelope
        // (`idempotencyKey`): output bindings carry bodies only.
        let bodies: Vec<Value> = commands.iter().map(|c| c.body.clone()).collect();
        match &state.inner.sender {
            Some(sender) => {
                let queue = &state.inner.engine.settings().commands_queue;
                for (command, body) in commands.iter().zip(&bodies) {
                    let subject = body["kind"].as_str().map(str::to_owned);
                    let body = body.to_string();
                    let message = OutboundMessage {
                        session_id: Some(session_id_of(
                            body.as_bytes(),
                            Some("application/json"),
                            &command.message_id,
                        )),
                        body,
                        content_type: Some("application/json".into()),
                        message_id: Some(command.message_id.clone()),
                        subject,
                        ..OutboundMessage::default()
                    };
                    // A failed send answers 503 so the sender retries the delivery; commands
                    // already sent keep their MessageId and idempotencyKey, so the retry
                    // cannot run them twice.
                    send_traced(sender, queue, message)
                        .await
                        .map_err(|source| HandlerError::Send {
                            what: format!(
                                "the command for event '{}' on '{queue}'",
                                command.event_id
                            ),
                            source,
                        })?;
                }
            }
            None => response = response.with_output(COMMANDS_BINDING, Value::Array(bodies)),
        }
        response.logs.push(format!(
            "{} command(s) enqueued from events",
            commands.len()
        ));
    }
    let headers: Map<String, Value> = http
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .chain([("Content-Type".to_owned(), json!("application/json"))])
        .collect();
    Ok(response.with_output(
        RESPONSE_BINDING,
        json!({"statusCode": http.status, "headers": headers, "body": http.body}),
    ))
}

/// The host's `Data.req` object → the transport-neutral request the hooks core reads.
fn hook_request(req: &Value) -> Result<HookRequest, HandlerError> {
    let HttpTriggerRequest {
        method,
        headers,
        query,
        body,
        ..
    } = HttpTriggerRequest::decode(req, REQUEST_BINDING)?;
    Ok(HookRequest {
        method,
        headers,
        body,
        query,
    })
}
