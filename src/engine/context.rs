use time::OffsetDateTime;

/// Who asked and where the answer goes.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// Correlates the reply (the sender's CorrelationId, else its MessageId) and is sent to ARM
    /// as `x-ms-correlation-request-id`.
    pub correlation_id: String,
    /// The message's `ReplyTo`; `None` = the broker's default reply queue.
    pub reply_to: Option<String>,
    /// The Service Bus MessageId (jobs derive their deterministic names from it).
    pub message_id: Option<String>,
    pub now: OffsetDateTime,
    /// When this command was first put off because its compute was busy (a deferred copy).
    pub deferred_since: Option<OffsetDateTime>,
    /// Not the first delivery: an earlier one may have sent a write that ARM took (its answer
    /// lost to a crash or a reset), so writes re-read the resource before sending anything.
    pub redelivered: bool,
    /// The delivery's Service Bus `SessionId`: the broker's follow-ups stay in the session.
    pub session_id: Option<String>,
}

impl CommandContext {
    pub fn new(correlation_id: impl Into<String>, now: OffsetDateTime) -> Self {
        Self {
            correlation_id: correlation_id.into(),
            reply_to: None,
            message_id: None,
            now,
            deferred_since: None,
            redelivered: false,
            session_id: None,
        }
    }
}
