//! One queue's state: the active sub-queue, the dead-letter sub-queue and the held sessions.
//! All functions here run under the broker mutex and never block.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::clock::{self, Clock};
use super::{BrokerError, OutgoingMessage, QueueConfig, ReceivedMessage, SubQueue};

pub(super) const MAX_DELIVERY_REASON: &str = "MaxDeliveryCountExceeded";
pub(super) const TTL_EXPIRED_REASON: &str = "TTLExpiredException";
const TTL_EXPIRED_DESCRIPTION: &str = "The message expired and was dead lettered.";

#[derive(Debug, Clone, Copy)]
pub(super) struct Lock {
    pub(super) token: Uuid,
    pub(super) until: Instant,
}

#[derive(Debug, Clone)]
pub(super) struct DeadLetterInfo {
    reason: String,
    description: String,
}

#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// `message_id` is always `Some` here.
    message: OutgoingMessage,
    message_id: String,
    sequence_number: i64,
    /// Deliveries made so far (the next delivery reports this + 1).
    delivery_count: u32,
    /// When the message became (or becomes) visible: the send time, or its scheduled time.
    enqueued_at: Instant,
    expires_at: Option<Instant>,
    lock: Option<Lock>,
    dead_letter: Option<DeadLetterInfo>,
}

impl Stored {
    fn session_id(&self) -> Option<&str> {
        self.message.session_id.as_deref()
    }

    fn is_visible(&self, now: Instant) -> bool {
        self.enqueued_at <= now
    }

    fn is_available(&self, now: Instant) -> bool {
        self.is_visible(now) && self.lock.is_none()
    }

    fn to_received(&self, clock: &Clock) -> ReceivedMessage {
        let (lock_token, locked_until) = match self.lock {
            Some(lock) => (lock.token, clock.wall(lock.until)),
            None => (Uuid::nil(), time::OffsetDateTime::UNIX_EPOCH),
        };
        ReceivedMessage {
            message: self.message.clone(),
            message_id: self.message_id.clone(),
            sequence_number: self.sequence_number,
            delivery_count: self.delivery_count,
            enqueued_time: clock.wall(self.enqueued_at),
            expires_at: self.expires_at.map(|at| clock.wall(at)),
            lock_token,
            locked_until,
            dead_letter_reason: self.dead_letter.as_ref().map(|d| d.reason.clone()),
            dead_letter_error_description: self.dead_letter.as_ref().map(|d| d.description.clone()),
            dead_letter_source: None,
        }
    }
}

pub(super) struct Queue {
    pub(super) name: String,
    pub(super) config: QueueConfig,
    pub(super) notify: Arc<Notify>,
    next_sequence: i64,
    active: BTreeMap<i64, Stored>,
    dead: BTreeMap<i64, Stored>,
    /// Session id -> id of the `SessionReceiver` holding it.
    held_sessions: HashMap<String, u64>,
}

impl Queue {
    pub(super) fn new(name: &str, config: QueueConfig) -> Self {
        Self {
            name: name.to_owned(),
            config,
            notify: Arc::new(Notify::new()),
            next_sequence: 1,
            active: BTreeMap::new(),
            dead: BTreeMap::new(),
            held_sessions: HashMap::new(),
        }
    }

    fn sub(&mut self, sub: SubQueue) -> &mut BTreeMap<i64, Stored> {
        match sub {
            SubQueue::Active => &mut self.active,
            SubQueue::DeadLetter => &mut self.dead,
        }
    }

    pub(super) fn send(
        &mut self,
        mut message: OutgoingMessage,
        now: Instant,
        clock: &Clock,
    ) -> Result<i64, BrokerError> {
        if self.config.requires_session && message.session_id.is_none() {
            return Err(BrokerError::SessionRequired(self.name.clone()));
        }
        let message_id = message
            .message_id
            .get_or_insert_with(|| Uuid::new_v4().simple().to_string())
            .clone();
        // A scheduled message is enqueued (and starts to live) at its scheduled time.
        let enqueued_at = message
            .scheduled_enqueue_time
            .map(|at| clock.instant(at).max(now))
            .unwrap_or(now);
        let expires_at = message
            .time_to_live
            .or(self.config.default_ttl)
            .and_then(|ttl| clock::add(enqueued_at, ttl));
        let sequence_number = self.next_sequence;
        self.next_sequence += 1;
        self.active.insert(
            sequence_number,
            Stored {
                message,
                message_id,
                sequence_number,
                delivery_count: 0,
                enqueued_at,
                expires_at,
                lock: None,
                dead_letter: None,
            },
        );
        self.notify.notify_waiters();
        Ok(sequence_number)
    }

    /// Applies everything time does: lock expiry (with the delivery-count limit) and TTL expiry.
    pub(super) fn sweep(&mut self, now: Instant) {
        let expired_locks: Vec<i64> = self
            .active
            .values()
            .filter(|m| m.lock.is_some_and(|l| l.until <= now))
            .map(|m| m.sequence_number)
            .collect();
        for seq in expired_locks {
            self.release(seq);
        }
        for m in self.dead.values_mut() {
            if m.lock.is_some_and(|l| l.until <= now) {
                m.lock = None;
            }
        }
        let expired: Vec<i64> = self
            .active
            .values()
            .filter(|m| m.lock.is_none() && m.expires_at.is_some_and(|at| at <= now))
            .map(|m| m.sequence_number)
            .collect();
        for seq in expired {
            if self.config.dead_lettering_on_expiration {
                self.move_to_dead_letter(seq, TTL_EXPIRED_REASON, TTL_EXPIRED_DESCRIPTION);
            } else {
                self.active.remove(&seq);
            }
        }
    }

    /// Unlocks an active message (abandon, lock expiry, session loss); dead-letters it when it
    /// has used up its deliveries, as Service Bus does right at that point.
    fn release(&mut self, seq: i64) {
        let max = self.config.max_delivery_count;
        let Some(m) = self.active.get_mut(&seq) else {
            return;
        };
        m.lock = None;
        if m.delivery_count >= max {
            let description =
                format!("Message could not be consumed after {max} delivery attempts.");
            self.move_to_dead_letter(seq, MAX_DELIVERY_REASON, &description);
        }
        self.notify.notify_waiters();
    }

    fn move_to_dead_letter(&mut self, seq: i64, reason: &str, description: &str) {
        if let Some(mut m) = self.active.remove(&seq) {
            m.lock = None;
            m.dead_letter = Some(DeadLetterInfo {
                reason: reason.to_owned(),
                description: description.to_owned(),
            });
            self.dead.insert(seq, m);
        }
    }

    /// Earliest moment at which time alone can make a message available.
    pub(super) fn next_wake(&self, now: Instant) -> Option<Instant> {
        self.active
            .values()
            .chain(self.dead.values())
            .filter_map(|m| match m.lock {
                Some(lock) => Some(lock.until),
                None if m.enqueued_at > now => Some(m.enqueued_at),
                None => None,
            })
            .min()
    }

    /// Locks `seq` for delivery, or dead-letters it when the delivery count would exceed the limit.
    fn deliver(
        &mut self,
        sub: SubQueue,
        seq: i64,
        now: Instant,
        clock: &Clock,
    ) -> Option<ReceivedMessage> {
        let max = self.config.max_delivery_count;
        let lock_duration = self.config.lock_duration;
        if sub == SubQueue::Active && self.active.get(&seq)?.delivery_count >= max {
            let description =
                format!("Message could not be consumed after {max} delivery attempts.");
            self.move_to_dead_letter(seq, MAX_DELIVERY_REASON, &description);
            return None;
        }
        let m = self.sub(sub).get_mut(&seq)?;
        m.delivery_count += 1;
        m.lock = Some(Lock {
            token: Uuid::new_v4(),
            until: clock::add(now, lock_duration).unwrap_or(now),
        });
        Some(m.to_received(clock))
    }

    /// Peek-locks (or, with `delete`, removes) the next available message of a non-session read.
    pub(super) fn take_next(
        &mut self,
        sub: SubQueue,
        delete: bool,
        now: Instant,
        clock: &Clock,
    ) -> Result<Option<ReceivedMessage>, BrokerError> {
        if sub == SubQueue::Active && self.config.requires_session {
            return Err(BrokerError::SessionRequired(self.name.clone()));
        }
        loop {
            let Some(seq) = self
                .sub(sub)
                .values()
                .find(|m| m.is_available(now))
                .map(|m| m.sequence_number)
            else {
                return Ok(None);
            };
            if let Some(received) = self.deliver(sub, seq, now, clock) {
                if delete {
                    self.sub(sub).remove(&seq);
                    self.notify.notify_waiters();
                }
                return Ok(Some(received));
            }
        }
    }

    /// Picks the session whose earliest available message is oldest and marks it held.
    pub(super) fn accept_session(
        &mut self,
        receiver: u64,
        now: Instant,
    ) -> Result<Option<String>, BrokerError> {
        if !self.config.requires_session {
            return Err(BrokerError::SessionsNotSupported(self.name.clone()));
        }
        let session = self
            .active
            .values()
            .filter(|m| m.is_available(now))
            .filter_map(|m| m.session_id())
            .find(|s| !self.held_sessions.contains_key(*s))
            .map(str::to_owned);
        if let Some(s) = &session {
            self.held_sessions.insert(s.clone(), receiver);
        }
        Ok(session)
    }

    fn check_session(&self, session: &str, receiver: u64) -> Result<(), BrokerError> {
        match self.held_sessions.get(session) {
            Some(holder) if *holder == receiver => Ok(()),
            _ => Err(BrokerError::SessionLockLost),
        }
    }

    /// The session's head message, if it is visible and not locked: strict order within a session.
    pub(super) fn take_session_next(
        &mut self,
        session: &str,
        receiver: u64,
        now: Instant,
        clock: &Clock,
    ) -> Result<Option<ReceivedMessage>, BrokerError> {
        self.check_session(session, receiver)?;
        loop {
            let Some(head) = self
                .active
                .values()
                .find(|m| m.session_id() == Some(session) && m.is_visible(now))
            else {
                return Ok(None);
            };
            if head.lock.is_some() {
                return Ok(None);
            }
            let seq = head.sequence_number;
            if let Some(received) = self.deliver(SubQueue::Active, seq, now, clock) {
                return Ok(Some(received));
            }
        }
    }

    pub(super) fn release_session(&mut self, session: &str, receiver: u64) {
        if self.check_session(session, receiver).is_err() {
            return;
        }
        self.held_sessions.remove(session);
        let locked: Vec<i64> = self
            .active
            .values()
            .filter(|m| m.session_id() == Some(session) && m.lock.is_some())
            .map(|m| m.sequence_number)
            .collect();
        for seq in locked {
            self.release(seq);
        }
        self.notify.notify_waiters();
    }

    /// Finds the message holding `token`, in either sub-queue. Expired locks were swept already.
    fn find_lock(
        &self,
        token: Uuid,
        session: Option<&str>,
    ) -> Result<(SubQueue, i64), BrokerError> {
        let holds = |m: &Stored| m.lock.is_some_and(|l| l.token == token);
        if let Some(m) = self.active.values().find(|m| holds(m)) {
            if session.is_some_and(|s| m.session_id() != Some(s)) {
                return Err(BrokerError::LockLost);
            }
            return Ok((SubQueue::Active, m.sequence_number));
        }
        if session.is_none()
            && let Some(m) = self.dead.values().find(|m| holds(m))
        {
            return Ok((SubQueue::DeadLetter, m.sequence_number));
        }
        Err(BrokerError::LockLost)
    }

    fn session_guard(&self, session: Option<(&str, u64)>) -> Result<(), BrokerError> {
        match session {
            Some((s, r)) => self.check_session(s, r),
            None => Ok(()),
        }
    }

    pub(super) fn complete(
        &mut self,
        token: Uuid,
        session: Option<(&str, u64)>,
    ) -> Result<(), BrokerError> {
        self.session_guard(session)?;
        let (sub, seq) = self.find_lock(token, session.map(|s| s.0))?;
        self.sub(sub).remove(&seq);
        self.notify.notify_waiters();
        Ok(())
    }

    pub(super) fn abandon(
        &mut self,
        token: Uuid,
        session: Option<(&str, u64)>,
    ) -> Result<(), BrokerError> {
        self.session_guard(session)?;
        match self.find_lock(token, session.map(|s| s.0))? {
            (SubQueue::Active, seq) => self.release(seq),
            (SubQueue::DeadLetter, seq) => {
                if let Some(m) = self.dead.get_mut(&seq) {
                    m.lock = None;
                }
                self.notify.notify_waiters();
            }
        }
        Ok(())
    }

    pub(super) fn dead_letter(
        &mut self,
        token: Uuid,
        session: Option<(&str, u64)>,
        reason: &str,
        description: &str,
    ) -> Result<(), BrokerError> {
        self.session_guard(session)?;
        match self.find_lock(token, session.map(|s| s.0))? {
            (SubQueue::Active, seq) => {
                self.move_to_dead_letter(seq, reason, description);
                self.notify.notify_waiters();
                Ok(())
            }
            // A dead-lettered message cannot be dead-lettered again.
            (SubQueue::DeadLetter, _) => Err(BrokerError::LockLost),
        }
    }

    pub(super) fn renew(
        &mut self,
        token: Uuid,
        session: Option<(&str, u64)>,
        now: Instant,
    ) -> Result<Instant, BrokerError> {
        self.session_guard(session)?;
        let (sub, seq) = self.find_lock(token, session.map(|s| s.0))?;
        let until = clock::add(now, self.config.lock_duration).unwrap_or(now);
        let m = self.sub(sub).get_mut(&seq).ok_or(BrokerError::LockLost)?;
        m.lock = Some(Lock { token, until });
        self.notify.notify_waiters();
        Ok(until)
    }

    pub(super) fn snapshot(&self, sub: SubQueue, clock: &Clock) -> Vec<ReceivedMessage> {
        match sub {
            SubQueue::Active => self.active.values().map(|m| m.to_received(clock)).collect(),
            SubQueue::DeadLetter => self.dead.values().map(|m| m.to_received(clock)).collect(),
        }
    }
}
