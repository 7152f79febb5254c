//! In-memory Service Bus broker: queues with peek-lock, sessions, dead-letter sub-queues,
//! scheduled messages. Time is tokio time (so tests can pause it); wall-clock values are derived
//! from a fixed (Instant, OffsetDateTime) epoch taken at construction.
//!
//! API CONTRACT (used by crates/functions-host and by the REST layer). Bodies are `todo!()` until
//! the Service Bus emulator helper fills them in; signatures must not change without telling the
//! functions-host owner.

mod clock;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::futures::OwnedNotified;
use tokio::time::Instant;

use clock::Clock;
use indexmap::IndexMap;
use queue::Queue;
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
    #[error(
        "the lock supplied is invalid: it expired or the message was already settled (MessageLockLost)"
    )]
    LockLost,
    #[error("queue '{0}' requires sessions: send with a SessionId and receive with accept_session")]
    SessionRequired(String),
    #[error("queue '{0}' does not support sessions")]
    SessionsNotSupported(String),
    #[error("the session lock was lost (SessionLockLost)")]
    SessionLockLost,
}

/// Which part of a queue to read: the queue itself or its dead-letter sub-queue (`$DeadLetterQueue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubQueue {
    Active,
    DeadLetter,
}

/// Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Clock,
    /// Keyed by lower-cased name: Service Bus entity names are case-insensitive.
    queues: Mutex<HashMap<String, Queue>>,
    next_receiver: AtomicU64,
}

/// An accepted session: messages of one session, in order, for one receiver at a time.
/// Dropping it releases the session.
pub struct SessionReceiver {
    broker: Broker,
    queue: String,
    session_id: String,
    id: u64,
}

impl Broker {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                clock: Clock::new(),
                queues: Mutex::new(HashMap::new()),
                next_receiver: AtomicU64::new(1),
            }),
        }
    }

    /// Idempotent: creating an existing queue keeps it (and its messages).
    pub fn create_queue(&self, name: &str, config: QueueConfig) {
        self.state()
            .entry(key(name))
            .or_insert_with(|| Queue::new(name, config));
    }

    pub fn queue_config(&self, queue: &str) -> Result<QueueConfig, BrokerError> {
        self.with_queue(queue, |q, _| Ok(q.config.clone()))
    }

    /// Names as created, sorted.
    pub fn queue_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.state().values().map(|q| q.name.clone()).collect();
        names.sort();
        names
    }

    /// Returns the sequence number.
    pub fn send(&self, queue: &str, message: OutgoingMessage) -> Result<i64, BrokerError> {
        let clock = self.inner.clock;
        self.with_queue(queue, |q, now| q.send(message, now, &clock))
    }

    /// Peek-lock the next available message, waiting up to `wait`. `Ok(None)` on timeout.
    /// A message whose delivery count would exceed `max_delivery_count` is moved to the
    /// dead-letter queue with reason `MaxDeliveryCountExceeded` instead of being delivered.
    pub async fn receive(
        &self,
        queue: &str,
        wait: Duration,
    ) -> Result<Option<ReceivedMessage>, BrokerError> {
        self.receive_from(queue, SubQueue::Active, false, wait)
            .await
    }

    /// Peek-lock (or, with `delete`, receive-and-delete) from the queue or its dead-letter
    /// sub-queue. Settle dead-letter messages with the same `complete`/`abandon`/`renew_lock`.
    pub async fn receive_from(
        &self,
        queue: &str,
        sub: SubQueue,
        delete: bool,
        wait: Duration,
    ) -> Result<Option<ReceivedMessage>, BrokerError> {
        let clock = self.inner.clock;
        self.wait_for(queue, wait, |q, now| q.take_next(sub, delete, now, &clock))
            .await
    }

    pub fn complete(&self, queue: &str, lock_token: Uuid) -> Result<(), BrokerError> {
        self.with_queue(queue, |q, _| q.complete(lock_token, None))
    }

    /// Releases the lock; the message becomes available again immediately.
    pub fn abandon(&self, queue: &str, lock_token: Uuid) -> Result<(), BrokerError> {
        self.with_queue(queue, |q, _| q.abandon(lock_token, None))
    }

    pub fn dead_letter(
        &self,
        queue: &str,
        lock_token: Uuid,
        reason: &str,
        description: &str,
    ) -> Result<(), BrokerError> {
        self.with_queue(queue, |q, _| {
            q.dead_letter(lock_token, None, reason, description)
        })
    }

    /// Extends the lock by the queue's lock duration; returns the new `locked_until`.
    pub fn renew_lock(&self, queue: &str, lock_token: Uuid) -> Result<OffsetDateTime, BrokerError> {
        let until = self.with_queue(queue, |q, now| q.renew(lock_token, None, now))?;
        Ok(self.inner.clock.wall(until))
    }

    /// Accept the next session that has available messages and is not locked by another receiver.
    pub async fn accept_next_session(
        &self,
        queue: &str,
        wait: Duration,
    ) -> Result<Option<SessionReceiver>, BrokerError> {
        let id = self.inner.next_receiver.fetch_add(1, Ordering::Relaxed);
        let session = self
            .wait_for(queue, wait, |q, now| q.accept_session(id, now))
            .await?;
        Ok(session.map(|session_id| SessionReceiver {
            broker: self.clone(),
            queue: queue.to_owned(),
            session_id,
            id,
        }))
    }

    /// Active (not yet settled, incl. locked and scheduled) messages, in sequence order. For tests and `local`.
    /// Unlocked messages carry a nil lock token and `locked_until` = UNIX epoch.
    pub fn peek_all(&self, queue: &str) -> Result<Vec<ReceivedMessage>, BrokerError> {
        let clock = self.inner.clock;
        self.with_queue(queue, |q, _| Ok(q.snapshot(SubQueue::Active, &clock)))
    }

    /// Dead-lettered messages of a queue, in order. For tests and `local`.
    pub fn dead_letters(&self, queue: &str) -> Result<Vec<ReceivedMessage>, BrokerError> {
        let clock = self.inner.clock;
        self.with_queue(queue, |q, _| Ok(q.snapshot(SubQueue::DeadLetter, &clock)))
    }

    /// Wall-clock "now" on the broker's clock (tokio time based).
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.wall(Instant::now())
    }

    fn state(&self) -> MutexGuard<'_, HashMap<String, Queue>> {
        // A panic elsewhere cannot leave a queue half-updated in a way later calls can't cope with.
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the swept queue at the current instant.
    fn with_queue<T>(
        &self,
        queue: &str,
        f: impl FnOnce(&mut Queue, Instant) -> Result<T, BrokerError>,
    ) -> Result<T, BrokerError> {
        let now = Instant::now();
        let mut state = self.state();
        let q = state
            .get_mut(&key(queue))
            .ok_or_else(|| BrokerError::QueueNotFound(queue.to_owned()))?;
        q.sweep(now);
        f(q, now)
    }

    /// Retries `attempt` whenever the queue changes or time could have made something available,
    /// until it yields a value or `wait` has passed.
    async fn wait_for<T>(
        &self,
        queue: &str,
        wait: Duration,
        mut attempt: impl FnMut(&mut Queue, Instant) -> Result<Option<T>, BrokerError>,
    ) -> Result<Option<T>, BrokerError> {
        let deadline = clock::add(Instant::now(), wait);
        loop {
            let (notified, wake): (Pin<Box<OwnedNotified>>, Option<Instant>) = {
                let now = Instant::now();
                let mut state = self.state();
                let q = state
                    .get_mut(&key(queue))
                    .ok_or_else(|| BrokerError::QueueNotFound(queue.to_owned()))?;
                q.sweep(now);
                if let Some(value) = attempt(q, now)? {
                    return Ok(Some(value));
                }
                if deadline.is_some_and(|d| now >= d) {
                    return Ok(None);
                }
                // Registered before the lock is released, so no change can slip in between.
                let mut notified = Box::pin(q.notify.clone().notified_owned());
                notified.as_mut().enable();
                let wake = match (q.next_wake(now), deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                (notified, wake)
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

fn key(queue: &str) -> String {
    queue.to_ascii_lowercase()
}

impl Default for Broker {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionReceiver {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Next message of this session, waiting up to `wait`; `Ok(None)` when the session is idle.
    pub async fn receive(&self, wait: Duration) -> Result<Option<ReceivedMessage>, BrokerError> {
        let clock = self.broker.inner.clock;
        self.broker
            .wait_for(&self.queue, wait, |q, now| {
                q.take_session_next(&self.session_id, self.id, now, &clock)
            })
            .await
    }

    pub fn complete(&self, lock_token: Uuid) -> Result<(), BrokerError> {
        self.broker.with_queue(&self.queue, |q, _| {
            q.complete(lock_token, Some(self.holder()))
        })
    }

    pub fn abandon(&self, lock_token: Uuid) -> Result<(), BrokerError> {
        self.broker.with_queue(&self.queue, |q, _| {
            q.abandon(lock_token, Some(self.holder()))
        })
    }

    pub fn dead_letter(
        &self,
        lock_token: Uuid,
        reason: &str,
        description: &str,
    ) -> Result<(), BrokerError> {
        self.broker.with_queue(&self.queue, |q, _| {
            q.dead_letter(lock_token, Some(self.holder()), reason, description)
        })
    }

    pub fn renew_lock(&self, lock_token: Uuid) -> Result<OffsetDateTime, BrokerError> {
        let until = self.broker.with_queue(&self.queue, |q, now| {
            q.renew(lock_token, Some(self.holder()), now)
        })?;
        Ok(self.broker.inner.clock.wall(until))
    }

    fn holder(&self) -> (&str, u64) {
        (&self.session_id, self.id)
    }
}

impl Drop for SessionReceiver {
    fn drop(&mut self) {
        let now = Instant::now();
        if let Some(q) = self.broker.state().get_mut(&key(&self.queue)) {
            q.sweep(now);
            q.release_session(&self.session_id, self.id);
        }
    }
}
