//! Generic signed webhooks: `X-Poolbroker-Signature: sha256=<hex>` over `"{timestamp}.{body}"`.

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::Value;
use sha2::Sha256;
use time::OffsetDateTime;

use super::config::{HooksConfig, WEBHOOK_SECRET_SETTING};
use super::event::{Event, EventSchema};
use super::json::{event_objects, optional_string, parse_body, required_string};
use super::outcome::HookRejection;
use super::request::HookRequest;

pub(crate) const SIGNATURE_HEADER: &str = "x-poolbroker-signature";
pub(crate) const TIMESTAMP_HEADER: &str = "x-poolbroker-timestamp";
/// `source` of webhook events that do not name one; part of the message-id derivation.
pub(crate) const DEFAULT_SOURCE: &str = "poolbroker:webhook";
/// Clock skew tolerated for timestamps in the future.
const MAX_FUTURE_SKEW_SECONDS: i64 = 5 * 60;

/// Checks the signature, then the timestamp, then parses the events. The signature comes first
/// so only holders of the secret learn anything about timestamps.
pub(crate) fn parse(
    request: &HookRequest,
    config: &HooksConfig,
    now: OffsetDateTime,
) -> Result<Vec<Event>, HookRejection> {
    verify(request, config, now)?;
    let objects = event_objects(parse_body(&request.body)?, "webhook events")?;
    objects
        .into_iter()
        .map(|(at, object)| {
            Ok(Event {
                schema: EventSchema::SignedWebhook,
                id: required_string(&object, &at, "id")?,
                event_type: required_string(&object, &at, "type")?,
                source: optional_string(&object, &at, "source")?
                    .unwrap_or_else(|| DEFAULT_SOURCE.to_string()),
                subject: optional_string(&object, &at, "subject")?,
                time: None,
                data: object.get("data").cloned().unwrap_or(Value::Null),
                traceparent: None,
            })
        })
        .collect()
}

fn verify(
    request: &HookRequest,
    config: &HooksConfig,
    now: OffsetDateTime,
) -> Result<(), HookRejection> {
    let Some(secret) = &config.webhook_secret else {
        return Err(HookRejection::unauthorized(
            "WebhookSecretNotConfigured",
            format!(
                "signed webhooks are refused: no secret is configured (set {WEBHOOK_SECRET_SETTING})"
            ),
        ));
    };
    let Some(signature) = request.header(SIGNATURE_HEADER).map(str::trim) else {
        return Err(HookRejection::unauthorized(
            "MissingSignature",
            "X-Poolbroker-Signature: header is missing",
        ));
    };
    let Some(timestamp) = request.header(TIMESTAMP_HEADER).map(str::trim) else {
        return Err(HookRejection::unauthorized(
            "MissingTimestamp",
            "X-Poolbroker-Timestamp: header is missing (unix seconds, also part of the signed text)",
        ));
    };
    let digest = signature
        .split_once('=')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("sha256"))
        .and_then(|(_, hex)| crate::hex::decode(hex))
        .filter(|digest| digest.len() == 32)
        .ok_or_else(|| {
            HookRejection::unauthorized(
                "InvalidSignature",
                "X-Poolbroker-Signature: expected 'sha256=' followed by 64 hex digits",
            )
        })?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).map_err(|_| {
            HookRejection::unauthorized(
                "InvalidSignature",
                "the configured webhook secret is unusable",
            )
        })?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&request.body);
    // verify_slice compares in constant time.
    mac.verify_slice(&digest).map_err(|_| {
        HookRejection::unauthorized(
            "InvalidSignature",
            "X-Poolbroker-Signature: does not match HMAC-SHA256 of '{timestamp}.{body}' under the \
             configured secret",
        )
    })?;
    let seconds: i64 = timestamp.parse().map_err(|_| {
        HookRejection::unauthorized(
            "InvalidTimestamp",
            format!("X-Poolbroker-Timestamp: expected unix seconds, got '{timestamp}'"),
        )
    })?;
    let age = now.unix_timestamp().saturating_sub(seconds);
    let window = i64::try_from(config.replay_window.as_secs()).unwrap_or(i64::MAX);
    if age > window || age < -MAX_FUTURE_SKEW_SECONDS {
        return Err(HookRejection::unauthorized(
            "StaleTimestamp",
            format!(
                "replayed or stale: X-Poolbroker-Timestamp {seconds} is {} s {} now; accepted: up \
                 to {window} s old and {MAX_FUTURE_SKEW_SECONDS} s ahead",
                age.unsigned_abs(),
                if age >= 0 { "before" } else { "after" }
            ),
        ));
    }
    Ok(())
}
