use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::{AttachedPool, Envelope, az_ml_output};

use super::error::Rejection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReplyStatus {
    /// Done.
    Succeeded,
    /// Accepted by ARM but ended badly (an LRO failed, a deadline passed).
    Failed,
    /// Refused before anything changed.
    Rejected,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Rejected => "Rejected",
        }
    }
}

/// The answer to a command, sent to its reply queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: ReplyStatus,
    pub kind: String,
    /// One resource in the az-ml output shape (attach, update, show, detach).
    pub resource: Option<Value>,
    /// Several resources (list).
    pub resources: Option<Vec<Value>>,
    /// What the broker did, in words ("no change: the pool already matches", …).
    pub message: Option<String>,
    pub error: Option<Rejection>,
    pub notes: Vec<String>,
    /// A detach found nothing attached (ARM answered 204 at once).
    pub already_detached: bool,
    /// A list left pools out to fit one message: how many there are in all.
    pub truncated_total: Option<usize>,
    /// Extra fields a command adds (e.g. a job's compute decision).
    pub extra: Map<String, Value>,
    /// The compute `resource` was made from, as the engine last read it. Not sent: it spares a
    /// Synapse grant after an attach one more GET of the compute (a read under ARM's throttling).
    pub pool: Option<Box<AttachedPool>>,
}

/// The reply message body (docs/messages.md).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyBody<'a> {
    status: ReplyStatus,
    kind: &'a str,
    correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    already_detached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<usize>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a Rejection>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

impl Reply {
    pub fn succeeded(kind: &str) -> Self {
        Self {
            status: ReplyStatus::Succeeded,
            kind: kind.to_owned(),
            resource: None,
            resources: None,
            message: None,
            error: None,
            notes: Vec::new(),
            already_detached: false,
            truncated_total: None,
            extra: Map::new(),
            pool: None,
        }
    }

    pub fn failed(kind: &str, error: Rejection) -> Self {
        Self {
            status: ReplyStatus::Failed,
            error: Some(error),
            ..Self::succeeded(kind)
        }
    }

    pub fn rejected(kind: &str, error: Rejection) -> Self {
        Self {
            status: ReplyStatus::Rejected,
            error: Some(error),
            ..Self::succeeded(kind)
        }
    }

    pub fn with_resource(mut self, resource: Value) -> Self {
        self.resource = Some(resource);
        self
    }

    /// The reply describes `pool`: its az-ml output becomes `resource`.
    pub fn with_pool(mut self, pool: AttachedPool) -> Self {
        self.resource = Some(az_ml_output(&pool));
        self.pool = Some(Box::new(pool));
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The body sent to the reply queue.
    pub fn body<'a>(&'a self, correlation_id: &'a str) -> ReplyBody<'a> {
        ReplyBody {
            status: self.status,
            kind: &self.kind,
            correlation_id,
            message: self.message.as_deref(),
            resource: self.resource.as_ref(),
            resources: self.resources.as_deref(),
            already_detached: self.already_detached,
            truncated: self.truncated_total.map(|_| true),
            total: self.truncated_total,
            extra: &self.extra,
            error: self.error.as_ref(),
            notes: &self.notes,
        }
    }

    pub fn to_json(&self, correlation_id: &str) -> Value {
        crate::domain::to_json(&self.body(correlation_id))
    }
}

/// A message the broker schedules to itself to continue a long-running operation.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub envelope: Envelope,
    /// When to deliver it (the operation's Retry-After, or the default poll interval).
    pub delay: Duration,
    pub kind: String,
    /// Set when the follow-up is the sender's own command put off because the compute was busy
    /// with an earlier operation: when it was first put off, so the deferrals end at the
    /// operation deadline. The handler carries it as [`DEFERRED_SINCE_PROPERTY`].
    pub deferred_since: Option<time::OffsetDateTime>,
}

/// The application property carrying [`FollowUp::deferred_since`] (RFC 3339).
pub const DEFERRED_SINCE_PROPERTY: &str = "poolbroker-deferred-since";

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Reply(Reply),
    FollowUp(FollowUp),
}

impl Outcome {
    pub(crate) fn with_notes(self, notes: &[String]) -> Self {
        match self {
            Self::Reply(mut reply) if !notes.is_empty() => {
                reply.notes.extend(notes.iter().cloned());
                Self::Reply(reply)
            }
            other => other,
        }
    }
}
