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

/// Keeps a `traceparent` only when it has the W3C shape `vv-<32 hex>-<16 hex>-<2 hex>` with
/// non-zero ids; W3C Trace Context says to ignore (not reject) anything else.
pub(crate) fn valid_traceparent(value: &str) -> Option<String> {
    let value = value.trim();
    let parts: Vec<&str> = value.split('-').collect();
    let hex_of = |part: &str, len: usize| {
        part.len() == len
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let well_formed = parts.len() >= 4
        && hex_of(parts[0], 2)
        && parts[0] != "ff"
        && hex_of(parts[1], 32)
        && parts[1].bytes().any(|b| b != b'0')
        && hex_of(parts[2], 16)
        && parts[2].bytes().any(|b| b != b'0')
        && hex_of(parts[3], 2)
        && (parts[0] != "00" || parts.len() == 4);
    well_formed.then(|| value.to_string())
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
    fn traceparent_shape_is_checked() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(valid_traceparent(good).as_deref(), Some(good));
        assert_eq!(
            valid_traceparent("00-0000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            valid_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(valid_traceparent("nonsense"), None);
        assert_eq!(valid_traceparent(&format!("{good}-extra")), None);
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
