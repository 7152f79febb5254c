//! Event Grid schema: the `aeg-event-type` handshakes and notification arrays.

use serde_json::{Value, json};

use super::event::{Event, EventSchema};
use super::json::{event_objects, kind_of, optional_string, parse_body, required_string};
use super::outcome::{HookOutcome, HookRejection};
use super::request::HookRequest;

pub(crate) const VALIDATION_EVENT_TYPE: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// What an Event Grid delivery asks of us.
pub(crate) enum EventGridRequest {
    /// Answer at once (validation handshake, unsubscribe).
    Answer(HookOutcome),
    Events(Vec<Event>),
}

pub(crate) fn parse(request: &HookRequest, kind: &str) -> Result<EventGridRequest, HookRejection> {
    if kind.eq_ignore_ascii_case("SubscriptionValidation") {
        validation(request).map(EventGridRequest::Answer)
    } else if kind.eq_ignore_ascii_case("Notification") {
        notification(request).map(EventGridRequest::Events)
    } else if kind.eq_ignore_ascii_case("Unsubscribe") {
        Ok(EventGridRequest::Answer(HookOutcome::Respond {
            status: 200,
            headers: Vec::new(),
            body: json!({ "status": "unsubscribed" }),
        }))
    } else {
        Err(HookRejection::bad_request(
            "InvalidEventGridRequest",
            format!(
                "aeg-event-type: expected SubscriptionValidation, Notification or Unsubscribe, \
                 got '{kind}'"
            ),
        ))
    }
}

/// Event Grid accepts only 200 with `{"validationResponse": code}`; 202 fails the handshake.
fn validation(request: &HookRequest) -> Result<HookOutcome, HookRejection> {
    let events = event_objects(parse_body(&request.body)?, "a validation event")?;
    let Some((at, event)) = events.into_iter().next() else {
        return Err(HookRejection::bad_request(
            "InvalidEventGridRequest",
            "body: the SubscriptionValidation array holds no event",
        ));
    };
    let event_type = match event.get("eventType").or_else(|| event.get("type")) {
        Some(Value::String(text)) => text.clone(),
        _ => String::new(),
    };
    if event_type != VALIDATION_EVENT_TYPE {
        return Err(HookRejection::bad_request(
            "InvalidEventGridRequest",
            format!("{at}.eventType: expected {VALIDATION_EVENT_TYPE}, got '{event_type}'"),
        ));
    }
    // CloudEvent-shaped validation events carry `data` as a JSON string (double-encoded).
    let data = match event.get("data") {
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    match data.get("validationCode") {
        Some(Value::String(code)) if !code.is_empty() => Ok(HookOutcome::Respond {
            status: 200,
            headers: Vec::new(),
            body: json!({ "validationResponse": code }),
        }),
        Some(other) => Err(HookRejection::bad_request(
            "InvalidEventGridRequest",
            format!(
                "{at}.data.validationCode: expected a non-empty string, got {}",
                kind_of(other)
            ),
        )),
        None => Err(HookRejection::bad_request(
            "InvalidEventGridRequest",
            format!("{at}.data.validationCode: required for SubscriptionValidation"),
        )),
    }
}

fn notification(request: &HookRequest) -> Result<Vec<Event>, HookRejection> {
    let objects = event_objects(parse_body(&request.body)?, "Event Grid events")?;
    objects
        .into_iter()
        .map(|(at, object)| {
            Ok(Event {
                schema: EventSchema::EventGrid,
                id: required_string(&object, &at, "id")?,
                event_type: required_string(&object, &at, "eventType")?,
                subject: Some(required_string(&object, &at, "subject")?),
                time: Some(required_string(&object, &at, "eventTime")?),
                // Event Grid sets `topic` on delivery; publishers to custom topics may omit it.
                source: optional_string(&object, &at, "topic")?.unwrap_or_default(),
                data: object.get("data").cloned().unwrap_or(Value::Null),
                traceparent: None,
            })
        })
        .collect()
}
