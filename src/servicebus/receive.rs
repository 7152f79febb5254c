//! Waiting for one reply: peek-lock from a reply queue, keep the message whose JSON body carries
//! the wanted `correlationId`, put every other one back. The REST crate exposes no broker
//! `CorrelationId` on received messages, so replies repeat it in the body.

use std::time::Duration;

use serde_json::Value;

use super::sender::{MessageSender, SendError};

/// Peek-lock waits at most this long per request, so the overall deadline is honoured.
const POLL: Duration = Duration::from_secs(5);

impl MessageSender {
    /// The first message on `queue` whose body is JSON with `"correlationId": correlation_id`,
    /// completed; `Ok(None)` when `timeout` passes first.
    pub async fn receive_reply(
        &self,
        queue: &str,
        correlation_id: &str,
        timeout: Duration,
    ) -> Result<Option<Value>, SendError> {
        let client = self.client(queue)?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Ok(None);
            }
            let wait = remaining.min(POLL).max(Duration::from_secs(1));
            let response = client
                .peek_lock_message2(Some(wait))
                .await
                .map_err(|e| SendError::from_azure(queue, e))?;
            let status = u16::from(*response.status());
            if status == 204 {
                continue;
            }
            if status != 201 && status != 200 {
                return Err(SendError::Http {
                    queue: queue.to_owned(),
                    status,
                    detail: "peek-lock failed".into(),
                });
            }
            let body = response.body();
            let matches = serde_json::from_str::<Value>(&body)
                .ok()
                .filter(|v| v.get("correlationId").and_then(Value::as_str) == Some(correlation_id));
            match matches {
                Some(reply) => {
                    response
                        .delete_message()
                        .await
                        .map_err(|e| SendError::from_azure(queue, e))?;
                    return Ok(Some(reply));
                }
                None => {
                    response
                        .unlock_message()
                        .await
                        .map_err(|e| SendError::from_azure(queue, e))?;
                    // Someone else's reply: give its owner a chance before looking again.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}
