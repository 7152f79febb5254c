use serde_json::{Map, Value};

use super::decode::{decode_bytes, decode_string, decode_u32};
use super::invocation::{InvocationError, InvocationRequest};

/// A Service Bus message as a `serviceBusTrigger` invocation carries it.
#[derive(Debug, Clone, Default)]
pub struct ServiceBusDelivery {
    pub body: Vec<u8>,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    pub session_id: Option<String>,
    pub content_type: Option<String>,
    pub subject: Option<String>,
    pub delivery_count: u32,
    pub enqueued_time_utc: Option<String>,
    pub sequence_number: Option<String>,
    /// Application properties with values decoded to plain strings.
    pub application_properties: Vec<(String, String)>,
}

impl ServiceBusDelivery {
    pub fn from_invocation(
        request: &InvocationRequest,
        binding: &str,
        binary: bool,
    ) -> Result<Self, InvocationError> {
        let raw = request.binding(binding)?;
        let body = decode_bytes(raw, binary).ok_or_else(|| InvocationError::WrongShape {
            binding: binding.to_owned(),
            expected: if binary { "base64 string" } else { "string" },
        })?;
        let properties = match request
            .metadata_value("ApplicationProperties")
            .or_else(|| request.metadata_value("UserProperties"))
        {
            Some(Value::Object(map)) => flatten_properties(map),
            _ => Vec::new(),
        };
        Ok(Self {
            body,
            message_id: request.metadata_string("MessageId"),
            correlation_id: request.metadata_string("CorrelationId"),
            reply_to: request.metadata_string("ReplyTo"),
            session_id: request.metadata_string("SessionId"),
            content_type: request.metadata_string("ContentType"),
            subject: request
                .metadata_string("Subject")
                .or_else(|| request.metadata_string("Label")),
            delivery_count: request
                .metadata_value("DeliveryCount")
                .and_then(decode_u32)
                .unwrap_or(1),
            enqueued_time_utc: request.metadata_string("EnqueuedTimeUtc"),
            sequence_number: request.metadata_string("SequenceNumber"),
            application_properties: properties,
        })
    }

    /// Application property by name, case-insensitively.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.application_properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The id replies are correlated by: the sender's CorrelationId, else its MessageId.
    pub fn reply_correlation_id(&self) -> Option<&str> {
        self.correlation_id
            .as_deref()
            .or(self.message_id.as_deref())
    }
}

fn flatten_properties(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter_map(|(k, v)| {
            let text = decode_string(v).or_else(|| serde_json::to_string(v).ok())?;
            Some((k.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_hosts_documented_payload() {
        let body = json!({
            "Data": { "command": "\"{\\\"op\\\":\\\"attach\\\"}\"" },
            "Metadata": {
                "DeliveryCount": "3",
                "MessageId": "\"m-1\"",
                "CorrelationId": "\"req-123\"",
                "ReplyTo": "\"replies\"",
                "ContentType": "\"application/json\"",
                "ApplicationProperties": { "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
                "sys": { "MethodName": "pool-commands", "UtcNow": "2024-10-24T14:32:17.4410394Z", "RandGuid": "x" }
            }
        });
        let request = InvocationRequest::parse(body.to_string().as_bytes()).unwrap();
        let delivery = ServiceBusDelivery::from_invocation(&request, "command", false).unwrap();
        assert_eq!(delivery.body, br#"{"op":"attach"}"#);
        assert_eq!(delivery.delivery_count, 3);
        assert_eq!(delivery.message_id.as_deref(), Some("m-1"));
        assert_eq!(delivery.reply_correlation_id(), Some("req-123"));
        assert_eq!(delivery.reply_to.as_deref(), Some("replies"));
        assert_eq!(
            delivery.property("TRACEPARENT"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(request.sys().method_name.as_deref(), Some("pool-commands"));
    }

    #[test]
    fn missing_binding_names_what_is_there() {
        let request = InvocationRequest::parse(br#"{"Data":{"other":"x"},"Metadata":{}}"#).unwrap();
        let err = ServiceBusDelivery::from_invocation(&request, "command", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invocation Data has no binding named 'command' (bindings present: other); check function.json"
        );
    }
}
