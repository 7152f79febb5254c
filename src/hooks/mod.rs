//! Event hooks: Event Grid, CloudEvents 1.0 and signed webhooks turned into poolbroker commands
//! through `routes.yaml`. Pure: a request and a clock in, a decision out (see docs/hooks.md).

mod cloudevents;
mod config;
mod event;
mod eventgrid;
mod json;
mod outcome;
mod request;
mod routes;
mod webhook;

#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde_json::{Value, json};
use time::OffsetDateTime;

pub use self::config::{HooksConfig, WEBHOOK_SECRET_SETTING};
pub use self::event::{Event, EventSchema};
pub use self::outcome::{HookOutcome, HookResponse, ProducedCommand};
pub use self::request::HookRequest;
pub use self::routes::{RoutesError, RoutingRules};

use self::eventgrid::EventGridRequest;
use self::outcome::Rejection;

const UNKNOWN_SCHEMA: &str = "could not tell the event schema: expected Event Grid (aeg-event-type \
     header), CloudEvents (ce-* headers or application/cloudevents+json) or a signed webhook \
     (X-Poolbroker-Signature)";

/// Decides what to do with one request to `/api/events`.
pub fn handle(request: &HookRequest, config: &HooksConfig, now: OffsetDateTime) -> HookOutcome {
    decide(request, config, now).unwrap_or_else(Rejection::into_outcome)
}

fn decide(
    request: &HookRequest,
    config: &HooksConfig,
    now: OffsetDateTime,
) -> Result<HookOutcome, Rejection> {
    let method = request.method.trim();
    if method.eq_ignore_ascii_case("OPTIONS") {
        return cloudevents::options(request, config);
    }
    if !method.eq_ignore_ascii_case("POST") {
        let mut rejection = Rejection::new(
            405,
            "MethodNotAllowed",
            format!("method {method} is not allowed: use POST (or OPTIONS for the handshake)"),
        );
        rejection
            .headers
            .push(("Allow".into(), "POST, OPTIONS".into()));
        return Err(rejection);
    }
    if request.body.len() > config.max_body_bytes {
        return Err(Rejection::new(
            413,
            "BodyTooLarge",
            format!(
                "body is {} bytes; the limit is {} bytes",
                request.body.len(),
                config.max_body_bytes
            ),
        ));
    }
    let events = parse_events(request, config, now)?;
    let events = match events {
        Parsed::Answer(outcome) => return Ok(outcome),
        Parsed::Events(events) => events,
    };
    route(events, config)
}

enum Parsed {
    Answer(HookOutcome),
    Events(Vec<Event>),
}

/// A poolbroker signature or timestamp header means the sender chose the signed path, so it is
/// checked before any other schema hint (a missing half then gets a 401, not a 400); CloudEvents comes before Event Grid because Event Grid may add `aeg-*`
/// headers to CloudEvents-schema deliveries too.
fn parse_events(
    request: &HookRequest,
    config: &HooksConfig,
    now: OffsetDateTime,
) -> Result<Parsed, Rejection> {
    let media_type = request.media_type();
    if request.header(webhook::SIGNATURE_HEADER).is_some()
        || request.header(webhook::TIMESTAMP_HEADER).is_some()
    {
        return webhook::parse(request, config, now).map(Parsed::Events);
    }
    if cloudevents::detect(request, media_type.as_deref()) {
        return cloudevents::parse(request, media_type.as_deref()).map(Parsed::Events);
    }
    if let Some(kind) = request.header("aeg-event-type") {
        return match eventgrid::parse(request, kind.trim())? {
            EventGridRequest::Answer(outcome) => Ok(Parsed::Answer(outcome)),
            EventGridRequest::Events(events) => Ok(Parsed::Events(events)),
        };
    }
    Err(Rejection::bad_request("UnknownSchema", UNKNOWN_SCHEMA))
}

/// All or nothing: if any routed event cannot be rendered, nothing is enqueued, so a sender's
/// retry or dead-letter holds the whole batch rather than the part we dropped.
fn route(events: Vec<Event>, config: &HooksConfig) -> Result<HookOutcome, Rejection> {
    let mut seen = HashSet::new();
    let mut commands = Vec::new();
    let mut unmatched = Vec::new();
    let mut problems = Vec::new();
    for event in events {
        let message_id = event.message_id();
        // The same event twice in one request yields one command, as a re-send would.
        if !seen.insert(message_id.clone()) {
            continue;
        }
        match config.rules.route(&event) {
            None => unmatched.push(event.id),
            Some((rule, Ok(mut body))) => {
                // The engine does the work once per idempotencyKey, which outlives Service Bus's
                // duplicate-detection window; a template may still set its own key.
                if let Value::Object(envelope) = &mut body {
                    envelope
                        .entry("idempotencyKey")
                        .or_insert_with(|| Value::String(message_id.clone()));
                }
                commands.push(ProducedCommand {
                    message_id,
                    body,
                    event_id: event.id,
                    rule: rule.name.clone(),
                })
            }
            Some((rule, Err(problem))) => problems.push(json!({
                "eventId": event.id,
                "rule": rule.name,
                "field": problem.field,
                "message": problem.message,
            })),
        }
    }
    if let Some(first) = problems.first() {
        let summary = format!(
            "event {} matched rule '{}' but its command could not be built: {}: {}{}",
            text(first, "eventId"),
            text(first, "rule"),
            text(first, "field"),
            text(first, "message"),
            match problems.len() {
                1 => String::new(),
                n => format!(" (and {} more; see details); nothing was enqueued", n - 1),
            }
        );
        let mut rejection = Rejection::bad_request("EventRejected", summary);
        rejection.details = problems;
        return Err(rejection);
    }
    Ok(HookOutcome::Enqueue {
        commands,
        unmatched,
    })
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}
