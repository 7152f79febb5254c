//! `pipeline-events` (HTTP trigger on `/api/events`): upstream events become commands on the
//! `pool-commands` queue through the `commands` output binding.

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::error::HandlerError;
use super::state::AppState;
use super::traced;
use crate::functions::{InvocationError, InvocationRequest, InvocationResponse, decode_string};
use crate::hooks::{self, HookOutcome, HookRequest};
use crate::telemetry::Trigger;

const REQUEST_BINDING: &str = "req";
const RESPONSE_BINDING: &str = "res";
const COMMANDS_BINDING: &str = "commands";

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<InvocationResponse, HandlerError> {
    let span = traced::span(Trigger::Http, "pipeline-events", &headers);
    traced::run(&state, span, process(&state, body)).await
}

async fn process(state: &AppState, body: Bytes) -> Result<InvocationResponse, HandlerError> {
    let request = InvocationRequest::parse(&body)?;
    let hook_request = hook_request(request.binding(REQUEST_BINDING)?)?;
    let outcome = hooks::handle(&hook_request, &state.inner.hooks, OffsetDateTime::now_utc());
    let http = outcome.response();
    let mut response = InvocationResponse::default();
    if let HookOutcome::Enqueue { commands, .. } = &outcome
        && !commands.is_empty()
    {
        // Output bindings carry bodies only (no MessageId or properties), so the de-duplication
        // key and trace context travel inside the envelope.
        let bodies: Vec<Value> = commands
            .iter()
            .map(|c| {
                let mut body = c.body.clone();
                if let Some(map) = body.as_object_mut() {
                    map.entry("idempotencyKey")
                        .or_insert_with(|| json!(c.message_id));
                }
                body
            })
            .collect();
        response = response.with_output(COMMANDS_BINDING, Value::Array(bodies));
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
    let wrong = || {
        HandlerError::Invocation(InvocationError::WrongShape {
            binding: REQUEST_BINDING.into(),
            expected: "HTTP request object",
        })
    };
    let object = req.as_object().ok_or_else(wrong)?;
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let method = field("Method").and_then(decode_string).unwrap_or_default();
    let mut headers = Vec::new();
    if let Some(Value::Object(map)) = field("Headers") {
        for (name, values) in map {
            match values {
                Value::Array(items) => headers.extend(
                    items
                        .iter()
                        .filter_map(decode_string)
                        .map(|v| (name.clone(), v)),
                ),
                other => headers.extend(decode_string(other).map(|v| (name.clone(), v))),
            }
        }
    }
    let mut query = Vec::new();
    if let Some(Value::Object(map)) = field("Query") {
        query.extend(
            map.iter()
                .filter_map(|(k, v)| decode_string(v).map(|v| (k.clone(), v))),
        );
    }
    let body = field("Body")
        .and_then(|b| match b {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .unwrap_or_default();
    Ok(HookRequest {
        method,
        headers,
        body: Bytes::from(body),
        query,
    })
}
