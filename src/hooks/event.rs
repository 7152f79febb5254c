//! One upstream event, whatever schema it arrived in.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The schema an event arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSchema {
    EventGrid,
    CloudEvents,
    SignedWebhook,
}

/// An event normalised to CloudEvents-like attributes. Event Grid's `topic` becomes `source`,
/// `eventType` becomes `type` and `eventTime` becomes `time`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub schema: EventSchema,
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub subject: Option<String>,
    pub time: Option<String>,
    pub data: Value,
    /// The CloudEvents `traceparent` extension (Distributed Tracing extension), if any.
    pub traceparent: Option<String>,
}

impl Event {
    /// `"evt-" + hex(sha256(source + "|" + id))`: CloudEvents defines `source` + `id` as the
    /// event's identity, and 68 characters stay under Service Bus's 128-character MessageId limit.
    pub fn message_id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.source.as_bytes());
        hasher.update(b"|");
        hasher.update(self.id.as_bytes());
        format!("evt-{}", hex_encode(&hasher.finalize()))
    }

    /// The value templates and `data` matches look paths up in.
    pub(crate) fn context(&self) -> Value {
        let mut context = Map::new();
        context.insert("id".into(), Value::String(self.id.clone()));
        context.insert("type".into(), Value::String(self.event_type.clone()));
        context.insert("source".into(), Value::String(self.source.clone()));
        if let Some(subject) = &self.subject {
            context.insert("subject".into(), Value::String(subject.clone()));
        }
        if let Some(time) = &self.time {
            context.insert("time".into(), Value::String(time.clone()));
        }
        context.insert("data".into(), self.data.clone());
        Value::Object(context)
    }
}

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

pub(crate) fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some((digit(pair[0])? as u8) << 4 | digit(pair[1])? as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex_encode(&bytes), "0001abff");
        assert_eq!(hex_decode("0001ABff"), Some(bytes.to_vec()));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }

    #[test]
    fn message_id_is_deterministic_and_bounded() {
        let event = Event {
            schema: EventSchema::CloudEvents,
            id: "A234-1234-1234".into(),
            source: "/mycontext".into(),
            event_type: "t".into(),
            subject: None,
            time: None,
            data: Value::Null,
            traceparent: None,
        };
        let id = event.message_id();
        assert!(id.starts_with("evt-"));
        assert_eq!(id.len(), 68);
        assert_eq!(id, event.clone().message_id());
        let other = Event {
            source: "/other".into(),
            ..event
        };
        assert_ne!(id, other.message_id());
    }
}
