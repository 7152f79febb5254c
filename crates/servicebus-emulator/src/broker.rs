//! In-memory Service Bus broker: queues with peek-lock, sessions, dead-letter sub-queues,
//! scheduled messages. Time is tokio time (so tests can pause it); wall-clock values are derived
//! from a fixed (Instant, OffsetDateTime) epoch taken at construction.
//!
//! API CONTRACT (used by crates/functions-host and by the REST layer). Bodies are `todo!()` until
//! the Service Bus emulator helper fills them in; signatures must not change without telling the
//! functions-host owner.

use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Queue properties, defaults as Service Bus: max delivery count 10, lock 60 s.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub max_delivery_count: u32,
    pub lock_duration: Duration,
    pub requires_session: bool,
    /// Default message time-to-live; `None` = never expires.
    pub default_ttl: Option<Duration>,
    pub dead_lettering_on_expiration: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_delivery_count: 10,
            lock_duration: Duration::from_secs(60),
            requires_session: false,
            default_ttl: None,
            dead_lettering_on_expiration: true,
        }
    }
}

/// A message as a sender gives it.
#[derive(Debug, Clone, Default)]
pub struct OutgoingMessage {
    pub body: Bytes,
    /// Generated (uuid v4 simple) when `None`.
    pub message_id: Option<String>,
    pub content_type: Option<String>,
    pub correlation_id: Option<String>,
    pub session_id: Option<String>,
    pub reply_to: Option<String>,
    pub reply_to_session_id: Option<String>,
    pub subject: Option<String>,
    pub to: Option<String>,
    pub partition_key: Option<String>,
    pub time_to_live: Option<Duration>,
    pub scheduled_enqueue_time: Option<OffsetDateTime>,
    /// Application (custom) properties, order kept.
    pub application_properties: IndexMap<String, serde_json::Value>,
}

/// A message as a receiver sees it (peek-locked, or read from the dead-letter queue).
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub message: OutgoingMessage,
    pub message_id: String,
    pub sequence_number: i64,
    /// 1 on first delivery.
    pub delivery_count: u32,
    pub enqueued_time: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub lock_token: Uuid,
    pub locked_until: OffsetDateTime,
    pub dead_letter_reason: Option<String>,
    pub dead_letter_error_description: Option<String>,
    pub dead_letter_source: Option<String>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BrokerError {
    #[error("queue '{0}' does not exist")]
    QueueNotFound(String),
    #[error("the lock supplied is invalid: it expired or the message was already settled (MessageLockLost)")]
    LockLost,
    #[error("queue '{0}' requires sessions: send with a SessionId and receive with accept_session")]
    SessionRequired(String),
    #[error("queue '{0}' does not support sessions")]
    SessionsNotSupported(String),
    #[error("the session lock was lost (SessionLockLost)")]
    SessionLockLost,
}

/// Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Broker {}

/// An accepted session: messages of one session, in order, for one receiver at a time.
/// Dropping it releases the session.
pub struct SessionReceiver {}

impl Broker {
    pub fn new() -> Self {
        todo!()
    }
    /// Idempotent: creating an existing queue keeps it (and its messages).
    pub fn create_queue(&self, _name: &str, _config: QueueConfig) {
        todo!()
    }
    pub fn queue_config(&self, _queue: &str) -> Result<QueueConfig, BrokerError> {
        todo!()
    }
    pub fn queue_names(&self) -> Vec<String> {
        todo!()
    }
    /// Returns the sequence number.
    pub fn send(&self, _queue: &str, _message: OutgoingMessage) -> Result<i64, BrokerError> {
        todo!()
    }
    /// Peek-lock the next available message, waiting up to `wait`. `Ok(None)` on timeout.
    /// A message whose delivery count would exceed `max_delivery_count` is moved to the
    /// dead-letter queue with reason `MaxDeliveryCountExceeded` instead of being delivered.
    pub async fn receive(
        &self,
        _queue: &str,
        _wait: Duration,
    ) -> Result<Option<ReceivedMessage>, BrokerError> {
        todo!()
    }
    pub fn complete(&self, _queue: &str, _lock_token: Uuid) -> Result<(), BrokerError> {
        todo!()
    }
    /// Releases the lock; the message becomes available again immediately.
    pub fn abandon(&self, _queue: &str, _lock_token: Uuid) -> Result<(), BrokerError> {
        todo!()
    }
    pub fn dead_letter(
        &self,
        _queue: &str,
        _lock_token: Uuid,
        _reason: &str,
        _description: &str,
    ) -> Result<(), BrokerError> {
        todo!()
    }
    /// Extends the lock by the queue's lock duration; returns the new `locked_until`.
    pub fn renew_lock(&self, _queue: &str, _lock_token: Uuid) -> Result<OffsetDateTime, BrokerError> {
        todo!()
    }
    /// Accept the next session that has available messages and is not locked by another receiver.
    pub async fn accept_next_session(
        &self,
        _queue: &str,
        _wait: Duration,
    ) -> Result<Option<SessionReceiver>, BrokerError> {
        todo!()
    }
    /// Active (not yet settled, incl. locked and scheduled) messages, in sequence order. For tests and `local`.
    pub fn peek_all(&self, _queue: &str) -> Result<Vec<ReceivedMessage>, BrokerError> {
        todo!()
    }
    /// Dead-lettered messages of a queue, in order. For tests and `local`.
    pub fn dead_letters(&self, _queue: &str) -> Result<Vec<ReceivedMessage>, BrokerError> {
        todo!()
    }
    /// Wall-clock "now" on the broker's clock (tokio time based).
    pub fn now(&self) -> OffsetDateTime {
        todo!()
    }
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionReceiver {
    pub fn session_id(&self) -> &str {
        todo!()
    }
    /// Next message of this session, waiting up to `wait`; `Ok(None)` when the session is idle.
    pub async fn receive(&self, _wait: Duration) -> Result<Option<ReceivedMessage>, BrokerError> {
        todo!()
    }
    pub fn complete(&self, _lock_token: Uuid) -> Result<(), BrokerError> {
        todo!()
    }
    pub fn abandon(&self, _lock_token: Uuid) -> Result<(), BrokerError> {
        todo!()
    }
}
