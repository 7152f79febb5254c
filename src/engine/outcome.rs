use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::domain::Envelope;

use super::error::Rejection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Extra fields a command adds (e.g. a job's compute decision).
    pub extra: Map<String, Value>,
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
            extra: Map::new(),
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

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn to_json(&self, correlation_id: &str) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), json!(self.status.as_str()));
        m.insert("kind".into(), json!(self.kind));
        m.insert("correlationId".into(), json!(correlation_id));
        if let Some(message) = &self.message {
            m.insert("message".into(), json!(message));
        }
        if let Some(resource) = &self.resource {
            m.insert("resource".into(), resource.clone());
        }
        if let Some(resources) = &self.resources {
            m.insert("resources".into(), Value::Array(resources.clone()));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        if let Some(error) = &self.error {
            m.insert("error".into(), error.to_json());
        }
        if !self.notes.is_empty() {
            m.insert("notes".into(), json!(self.notes));
        }
        Value::Object(m)
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
