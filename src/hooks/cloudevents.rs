//! CloudEvents 1.0 over HTTP: the OPTIONS abuse-protection handshake, structured, batch and
//! binary content modes.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::config::HooksConfig;
use super::event::{Event, EventSchema};
use super::json::{event_objects, kind_of, optional_string, parse_body, required_string};
use super::outcome::{HookOutcome, HookRejection};
use super::request::HookRequest;

pub(crate) const STRUCTURED: &str = "application/cloudevents+json";
pub(crate) const BATCH: &str = "application/cloudevents-batch+json";

/// The OPTIONS handshake: consent is the `WebHook-Allowed-Origin` header, not the status code.
pub(crate) fn options(
    request: &HookRequest,
    config: &HooksConfig,
) -> Result<HookOutcome, HookRejection> {
    let Some(origin) = request.header("webhook-request-origin").map(str::trim) else {
        return Err(HookRejection::bad_request(
            "MissingOrigin",
            "OPTIONS: the WebHook-Request-Origin header is required for the CloudEvents \
             abuse-protection handshake",
        ));
    };
    let allowed = config
        .allowed_origins
        .iter()
        .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin));
    if !allowed {
        return Err(HookRejection::new(
            403,
            "OriginNotAllowed",
            format!(
                "WebHook-Request-Origin '{origin}' is not in the allowed origins ({})",
                config.allowed_origins.join(", ")
            ),
        ));
    }
    Ok(HookOutcome::Respond {
        status: 200,
        headers: vec![
            ("WebHook-Allowed-Origin".into(), origin.to_string()),
            ("WebHook-Allowed-Rate".into(), "*".into()),
            ("Allow".into(), "POST, OPTIONS".into()),
        ],
        body: json!({ "allowedOrigin": origin }),
    })
}

/// Whether the request looks like a CloudEvents delivery.
pub(crate) fn detect(request: &HookRequest, media_type: Option<&str>) -> bool {
    matches!(media_type, Some(STRUCTURED) | Some(BATCH))
        || request.header("ce-specversion").is_some()
}

pub(crate) fn parse(
    request: &HookRequest,
    media_type: Option<&str>,
) -> Result<Vec<Event>, HookRejection> {
    match media_type {
        Some(STRUCTURED) => {
            let value = parse_body(&request.body)?;
            match value {
                Value::Object(object) => Ok(vec![structured(&object, "event")?]),
                other => Err(HookRejection::bad_request(
                    "InvalidEvent",
                    format!(
                        "body: {STRUCTURED} holds one event object, got {}",
                        kind_of(&other)
                    ),
                )),
            }
        }
        Some(BATCH) => {
            let value = parse_body(&request.body)?;
            if !value.is_array() {
                return Err(HookRejection::bad_request(
                    "InvalidEvent",
                    format!(
                        "body: {BATCH} holds an array of events, got {}",
                        kind_of(&value)
                    ),
                ));
            }
            event_objects(value, "CloudEvents")?
                .into_iter()
                .map(|(at, object)| structured(&object, &at))
                .collect()
        }
        _ => binary(request, media_type).map(|event| vec![event]),
    }
}

fn structured(object: &Map<String, Value>, at: &str) -> Result<Event, HookRejection> {
    check_specversion(object.get("specversion"), &format!("{at}.specversion"))?;
    let time = optional_string(object, at, "time")?;
    check_time(time.as_deref(), &format!("{at}.time"))?;
    let data = match (object.get("data"), object.get("data_base64")) {
        (Some(_), Some(_)) => {
            return Err(HookRejection::bad_request(
                "InvalidEvent",
                format!("{at}: data and data_base64 are mutually exclusive"),
            ));
        }
        (Some(data), None) => data.clone(),
        (None, Some(Value::String(encoded))) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|error| {
                    HookRejection::bad_request(
                        "InvalidEvent",
                        format!("{at}.data_base64: not valid base64 ({error})"),
                    )
                })?;
            let content_type = optional_string(object, at, "datacontenttype")?;
            payload(
                &bytes,
                content_type.as_deref(),
                &format!("{at}.data_base64"),
            )?
        }
        (None, Some(other)) => {
            return Err(HookRejection::bad_request(
                "InvalidEvent",
                format!(
                    "{at}.data_base64: expected a string, got {}",
                    kind_of(other)
                ),
            ));
        }
        (None, None) => Value::Null,
    };
    Ok(Event {
        schema: EventSchema::CloudEvents,
        id: required_string(object, at, "id")?,
        source: required_string(object, at, "source")?,
        event_type: required_string(object, at, "type")?,
        subject: optional_string(object, at, "subject")?,
        time,
        data,
        traceparent: optional_string(object, at, "traceparent")?,
    })
}

fn binary(request: &HookRequest, media_type: Option<&str>) -> Result<Event, HookRejection> {
    let required = |name: &str| match request.header(name).map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value.to_string()),
        Some(_) => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{name}: header must not be empty"),
        )),
        None => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{name}: header is required in binary content mode"),
        )),
    };
    let specversion = request
        .header("ce-specversion")
        .map(|v| Value::String(v.trim().into()));
    check_specversion(specversion.as_ref(), "ce-specversion")?;
    let time = request
        .header("ce-time")
        .map(|value| value.trim().to_string());
    check_time(time.as_deref(), "ce-time")?;
    Ok(Event {
        schema: EventSchema::CloudEvents,
        id: required("ce-id")?,
        source: required("ce-source")?,
        event_type: required("ce-type")?,
        subject: request
            .header("ce-subject")
            .map(|value| value.trim().to_string()),
        time,
        data: payload(&request.body, media_type, "body")?,
        traceparent: request
            .header("ce-traceparent")
            .map(|value| value.trim().to_string()),
    })
}

/// Event data from bytes: JSON media types are parsed, text stays text, anything else is kept
/// as base64 so templates can still pass it on.
fn payload(bytes: &[u8], media_type: Option<&str>, at: &str) -> Result<Value, HookRejection> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let media_type = media_type.map(|m| {
        m.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let is_json = media_type
        .as_deref()
        .is_none_or(|m| m == "application/json" || m.ends_with("+json") || m == "text/json");
    if is_json {
        return parse_body(bytes).map_err(|mut rejection| {
            rejection.message = format!("{at}: {}", rejection.message);
            rejection
        });
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_string()),
        Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    })
}

fn check_specversion(value: Option<&Value>, at: &str) -> Result<(), HookRejection> {
    match value {
        Some(Value::String(version)) if version == "1.0" => Ok(()),
        Some(Value::String(version)) => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!(
                "{at}: expected \"1.0\", got \"{version}\" (only CloudEvents 1.0 is supported)"
            ),
        )),
        Some(other) => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{at}: expected the string \"1.0\", got {}", kind_of(other)),
        )),
        None => Err(HookRejection::bad_request(
            "InvalidEvent",
            format!("{at}: required attribute is missing"),
        )),
    }
}

fn check_time(time: Option<&str>, at: &str) -> Result<(), HookRejection> {
    match time {
        Some(text) if OffsetDateTime::parse(text, &Rfc3339).is_err() => {
            Err(HookRejection::bad_request(
                "InvalidEvent",
                format!("{at}: expected an RFC 3339 timestamp, got '{text}'"),
            ))
        }
        _ => Ok(()),
    }
}
