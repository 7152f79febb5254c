//! The REST wire format of a message: the `BrokerProperties` JSON header, RFC 2822 dates and
//! custom (application) properties carried as plain HTTP headers.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use time::macros::format_description;

use super::error::RestError;
use crate::broker::{OutgoingMessage, ReceivedMessage};

pub(crate) const BROKER_PROPERTIES: &str = "brokerproperties";
/// Service Bus caps MessageId (and the other id properties) at 128 characters.
const MAX_ID_LEN: usize = 128;
/// TimeSpan.MaxValue in seconds: what Service Bus reports for "never expires".
const TIMESPAN_MAX_SECS: f64 = 922_337_203_685.477_5;

/// Headers that are part of HTTP or of the REST protocol, never application properties.
const NOT_PROPERTIES: &[&str] = &[
    "authorization",
    BROKER_PROPERTIES,
    "content-type",
    "content-length",
    "content-encoding",
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "accept-language",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "cache-control",
    "pragma",
];

/// Formats as the service does: `Sun, 22 Nov 2026 22:09:59 GMT`.
pub(crate) fn format_date(at: OffsetDateTime) -> String {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// Accepts RFC 2822 with a numeric zone (`+0000`, what the Rust crate sends) or `GMT`/`UT`.
pub(crate) fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    OffsetDateTime::parse(text, &Rfc2822).ok().or_else(|| {
        let base = text
            .strip_suffix(" GMT")
            .or_else(|| text.strip_suffix(" UTC"))
            .or_else(|| text.strip_suffix(" UT"))?;
        OffsetDateTime::parse(&format!("{base} +0000"), &Rfc2822).ok()
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SettableProperties {
    message_id: Option<String>,
    correlation_id: Option<String>,
    session_id: Option<String>,
    label: Option<String>,
    reply_to: Option<String>,
    reply_to_session_id: Option<String>,
    to: Option<String>,
    partition_key: Option<String>,
    time_to_live: Option<f64>,
    scheduled_enqueue_time_utc: Option<String>,
}

/// Builds the broker message from a send request.
pub(crate) fn outgoing_message(
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> Result<OutgoingMessage, RestError> {
    let props = match headers.get(BROKER_PROPERTIES) {
        Some(raw) => {
            let raw = String::from_utf8_lossy(raw.as_bytes());
            serde_json::from_str::<SettableProperties>(&raw).map_err(|e| {
                RestError::bad_request(format!(
                    "BrokerProperties header: invalid JSON ({e}): {raw}"
                ))
            })?
        }
        None => SettableProperties::default(),
    };
    for (name, value) in [
        ("MessageId", &props.message_id),
        ("CorrelationId", &props.correlation_id),
        ("SessionId", &props.session_id),
        ("PartitionKey", &props.partition_key),
    ] {
        if let Some(value) = value
            && value.chars().count() > MAX_ID_LEN
        {
            return Err(RestError::bad_request(format!(
                "BrokerProperties.{name}: longer than the maximum of {MAX_ID_LEN} characters"
            )));
        }
    }
    let time_to_live = props
        .time_to_live
        .map(|secs| {
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    RestError::bad_request(format!(
                        "BrokerProperties.TimeToLive: expected a positive number of seconds, got {secs}"
                    ))
                })
        })
        .transpose()?;
    let scheduled_enqueue_time = props
        .scheduled_enqueue_time_utc
        .as_deref()
        .map(|text| {
            parse_date(text).ok_or_else(|| {
                RestError::bad_request(format!(
                    "BrokerProperties.ScheduledEnqueueTimeUtc: expected an RFC 2822 date \
                     (e.g. 'Sun, 22 Nov 2026 22:09:59 GMT'), got '{text}'"
                ))
            })
        })
        .transpose()?;
    Ok(OutgoingMessage {
        body,
        message_id: props.message_id,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        correlation_id: props.correlation_id,
        session_id: props.session_id,
        reply_to: props.reply_to,
        reply_to_session_id: props.reply_to_session_id,
        subject: props.label,
        to: props.to,
        partition_key: props.partition_key,
        time_to_live,
        scheduled_enqueue_time,
        application_properties: custom_properties(headers),
    })
}

/// Every non-protocol header is an application property. Values are JSON where they parse as a
/// JSON scalar (the documented convention: strings quoted, numbers bare), else the raw string.
fn custom_properties(headers: &HeaderMap) -> IndexMap<String, Value> {
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !NOT_PROPERTIES.contains(&name)
                && !name.starts_with("x-ms-")
                && !name.starts_with("x-forwarded-")
        })
        .map(|(name, value)| {
            let raw = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let value = match serde_json::from_str::<Value>(&raw) {
                Ok(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v,
                _ => Value::String(raw),
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// The `BrokerProperties` response header; lock fields only for a peek-locked message.
pub(crate) fn broker_properties(m: &ReceivedMessage, locked: bool) -> String {
    let mut p = Map::new();
    let msg = &m.message;
    let mut put_str = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            p.insert(key.to_owned(), Value::String(value.clone()));
        }
    };
    put_str("ContentType", &msg.content_type);
    put_str("CorrelationId", &msg.correlation_id);
    put_str("SessionId", &msg.session_id);
    put_str("Label", &msg.subject);
    put_str("ReplyTo", &msg.reply_to);
    put_str("ReplyToSessionId", &msg.reply_to_session_id);
    put_str("To", &msg.to);
    put_str("PartitionKey", &msg.partition_key);
    p.insert("DeliveryCount".into(), m.delivery_count.into());
    p.insert("EnqueuedSequenceNumber".into(), m.sequence_number.into());
    p.insert(
        "EnqueuedTimeUtc".into(),
        format_date(m.enqueued_time).into(),
    );
    if locked {
        p.insert("LockToken".into(), m.lock_token.to_string().into());
        p.insert("LockedUntilUtc".into(), format_date(m.locked_until).into());
    }
    p.insert("MessageId".into(), m.message_id.clone().into());
    if let Some(at) = msg.scheduled_enqueue_time {
        p.insert("ScheduledEnqueueTimeUtc".into(), format_date(at).into());
    }
    p.insert("SequenceNumber".into(), m.sequence_number.into());
    p.insert("State".into(), "Active".into());
    let ttl = msg
        .time_to_live
        .map_or(TIMESPAN_MAX_SECS, |d| d.as_secs_f64());
    p.insert(
        "TimeToLive".into(),
        serde_json::Number::from_f64(ttl).map_or(Value::Null, Value::Number),
    );
    json_ascii(&Value::Object(p))
}

/// Custom properties as response headers: strings JSON-quoted, other values as JSON. The
/// dead-letter reason and description travel the same way, as the service sends them.
pub(crate) fn property_headers(m: &ReceivedMessage) -> Vec<(HeaderName, HeaderValue)> {
    let dead_letter = [
        ("DeadLetterReason", &m.dead_letter_reason),
        (
            "DeadLetterErrorDescription",
            &m.dead_letter_error_description,
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_owned(), Value::String(value.clone()?))));
    m.message
        .application_properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain(dead_letter)
        .filter_map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            let value = HeaderValue::from_str(&json_ascii(&value)).ok()?;
            Some((name, value))
        })
        .collect()
}

/// JSON with non-ASCII characters escaped, so that it is always a valid header value.
fn json_ascii(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn dates_parse_with_gmt_or_numeric_zone_and_format_with_gmt() {
        let expected = datetime!(2026-11-22 22:09:59 UTC);
        assert_eq!(
            parse_date("Sun, 22 Nov 2026 22:09:59 +0000"),
            Some(expected)
        );
        assert_eq!(parse_date("Sun, 22 Nov 2026 22:09:59 GMT"), Some(expected));
        assert_eq!(parse_date("22 Nov 2026 22:09:59"), None);
        assert_eq!(format_date(expected), "Sun, 22 Nov 2026 22:09:59 GMT");
    }

    #[test]
    fn custom_properties_decode_json_scalars_and_skip_protocol_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_static("SharedAccessSignature x"),
        );
        headers.insert("brokerproperties", HeaderValue::from_static("{}"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("command", HeaderValue::from_static("\"attach\""));
        headers.insert("priority", HeaderValue::from_static("5"));
        headers.insert("raw", HeaderValue::from_static("plain text"));
        let props = custom_properties(&headers);
        assert_eq!(props.len(), 3);
        assert_eq!(props["command"], Value::String("attach".into()));
        assert_eq!(props["priority"], serde_json::json!(5));
        assert_eq!(props["raw"], Value::String("plain text".into()));
    }

    #[test]
    fn non_ascii_is_escaped_for_headers() {
        assert_eq!(
            json_ascii(&Value::String("é😀".into())),
            "\"\\u00e9\\ud83d\\ude00\""
        );
    }

    #[test]
    fn invalid_ttl_is_rejected_with_the_field_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "brokerproperties",
            HeaderValue::from_static("{\"TimeToLive\":-1}"),
        );
        let err = outgoing_message(&headers, bytes::Bytes::new()).unwrap_err();
        assert!(
            err.to_string().contains("BrokerProperties.TimeToLive"),
            "{err}"
        );
    }
}
