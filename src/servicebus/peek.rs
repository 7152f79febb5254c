//! Reading a queue without consuming it, for people (the Studio page).
//!
//! Service Bus has a true browse ("peek") only over AMQP (the `com.microsoft:peek-message`
//! management operation). Its REST API offers destructive read (`DELETE …/messages/head`) and
//! peek-lock (`POST …/messages/head`) followed by complete (`DELETE` on the lock), unlock
//! (`PUT`) or renew (`POST`). So this module peek-locks up to `max` messages one after the other
//! (each lock hides that message, so the next peek-lock returns the next one), then unlocks them
//! all. Nothing is consumed, but — exactly as Azure counts an abandoned lock — every look adds
//! one to each message's delivery count; the queues the Studio reads carry a high
//! `maxDeliveryCount` in `infra/` so looking does not dead-letter them (docs/studio.md).

use std::time::Duration;

use azure_core_legacy::headers::{HeaderName, Headers};
use time::OffsetDateTime;

use super::sender::{MessageSender, SendError};

/// One message, read under a lock that has been released again.
#[derive(Debug, Clone)]
pub struct PeekedMessage {
    pub body: String,
    pub message_id: Option<String>,
    pub sequence_number: Option<i64>,
    pub enqueued_at: Option<OffsetDateTime>,
    /// As the broker reports it at the time of the look (this look included).
    pub delivery_count: Option<i32>,
    /// Dead-letter queues only: why the broker (or a receiver) moved it there.
    pub dead_letter_reason: Option<String>,
    pub dead_letter_description: Option<String>,
}

/// The REST API returns custom properties as headers whose values are JSON literals
/// (`"text"` with quotes for strings).
struct DeadLetterHeaders {
    reason: Option<String>,
    description: Option<String>,
}

// `From` gives the `TryFrom` the crate's `custom_properties` asks for.
impl From<Headers> for DeadLetterHeaders {
    fn from(headers: Headers) -> Self {
        let read = |name: &'static str| {
            headers
                .get_optional_str(&HeaderName::from_static(name))
                .map(unquote)
        };
        Self {
            reason: read("deadletterreason"),
            description: read("deadlettererrordescription"),
        }
    }
}

fn unquote(raw: &str) -> String {
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_owned())
}

/// The dead-letter sub-queue of `queue`, as the REST API addresses it.
pub fn dead_letter_path(queue: &str) -> String {
    format!("{queue}/$DeadLetterQueue")
}

impl MessageSender {
    /// Up to `max` messages from the head of `queue` (or `dead_letter_path(queue)`), in queue
    /// order, left on the queue.
    pub async fn peek(&self, queue: &str, max: usize) -> Result<Vec<PeekedMessage>, SendError> {
        let client = self.client(queue)?;
        let mut locked = Vec::new();
        let mut failure = None;
        while locked.len() < max {
            // timeout=0: answer at once (204) when nothing is there rather than long-polling.
            let response = match client.peek_lock_message2(Some(Duration::ZERO)).await {
                Ok(r) => r,
                Err(e) => {
                    failure = Some(SendError::from_azure(queue, e));
                    break;
                }
            };
            let status = u16::from(*response.status());
            if status == 204 {
                break;
            }
            if status != 200 && status != 201 {
                failure = Some(SendError::Http {
                    queue: queue.to_owned(),
                    status,
                    detail: "peek-lock failed".into(),
                });
                break;
            }
            locked.push(response);
        }
        let mut messages = Vec::with_capacity(locked.len());
        for response in &locked {
            let broker = response.broker_properties();
            let dead =
                response
                    .custom_properties::<DeadLetterHeaders>()
                    .unwrap_or(DeadLetterHeaders {
                        reason: None,
                        description: None,
                    });
            messages.push(PeekedMessage {
                body: response.body(),
                message_id: broker.as_ref().map(|b| b.message_id.clone()),
                sequence_number: broker.as_ref().map(|b| b.sequence_number),
                enqueued_at: broker.as_ref().and_then(|b| b.enqueued_time_utc),
                delivery_count: broker.as_ref().map(|b| b.delivery_count),
                dead_letter_reason: dead.reason,
                dead_letter_description: dead.description,
            });
        }
        // Release every lock, even after a failure, so nothing stays hidden for the lock duration.
        for response in &locked {
            if let Err(e) = response.unlock_message().await
                && failure.is_none()
            {
                failure = Some(SendError::from_azure(queue, e));
            }
        }
        match failure {
            // A partial read is still worth showing; the caller learns nothing was lost.
            Some(e) if messages.is_empty() => Err(e),
            Some(e) => {
                tracing::warn!(queue, "peek stopped early: {e}");
                Ok(messages)
            }
            None => Ok(messages),
        }
    }
}
