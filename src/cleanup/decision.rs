//! One decision per pool, with a reason a person can act on.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{EXPIRES_AT_TAG, KEEP_TAG, MANAGED_TAG, format_duration};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Keep(KeepReason),
    Detach(DetachReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepReason {
    /// `poolbroker-keep=true`.
    KeepTag,
    /// No `poolbroker-managed=true` and `manage_all` is off.
    NotManaged,
    /// Creating, Updating, Deleting, Failed…: not a settled pool to act on.
    NotSucceeded {
        state: String,
    },
    RunningJob {
        job: String,
        status: String,
    },
    /// `poolbroker-expires-at` is not RFC 3339; keeping is the safe reading.
    InvalidExpiresAt {
        value: String,
    },
    /// `idle_after` is set but neither a job nor the pool's creation time says when it was last used.
    IdleUnknown,
    /// Nothing says to detach yet.
    NotDue {
        expires_at: Option<OffsetDateTime>,
        last_activity: Option<OffsetDateTime>,
        idle_after: Option<Duration>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetachReason {
    Expired {
        at: OffsetDateTime,
    },
    Idle {
        since: OffsetDateTime,
        idle_after: Duration,
    },
}

impl Decision {
    pub fn is_detach(&self) -> bool {
        matches!(self, Decision::Detach(_))
    }

    pub fn reason(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Keep(reason) => reason.fmt(f),
            Decision::Detach(reason) => reason.fmt(f),
        }
    }
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::KeepTag => write!(f, "kept: {KEEP_TAG}=true"),
            KeepReason::NotManaged => write!(
                f,
                "not attached by poolbroker (no {MANAGED_TAG}=true tag) and manage_all is false"
            ),
            KeepReason::NotSucceeded { state } => {
                write!(f, "provisioning state is {state}, not Succeeded")
            }
            KeepReason::RunningJob { job, status } => {
                write!(f, "has running job {job} (status {status})")
            }
            KeepReason::InvalidExpiresAt { value } => write!(
                f,
                "tag {EXPIRES_AT_TAG} has value '{value}', which is not an RFC 3339 timestamp; \
                 kept until it is fixed"
            ),
            KeepReason::IdleUnknown => f.write_str(
                "idle_after is set but no job ran on the pool and its creation time is unknown",
            ),
            KeepReason::NotDue {
                expires_at,
                last_activity,
                idle_after,
            } => {
                let mut parts = Vec::new();
                if let Some(at) = expires_at {
                    parts.push(format!("expires at {}", instant(*at)));
                }
                if let (Some(since), Some(window)) = (last_activity, idle_after) {
                    parts.push(format!(
                        "last active at {}, within idle_after {}",
                        instant(*since),
                        format_duration(*window)
                    ));
                }
                if parts.is_empty() {
                    parts.push(format!("no {EXPIRES_AT_TAG} tag and no idle_after policy"));
                }
                f.write_str(&parts.join("; "))
            }
        }
    }
}

impl fmt::Display for DetachReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetachReason::Expired { at } => write!(f, "expired at {}", instant(*at)),
            DetachReason::Idle { since, idle_after } => write!(
                f,
                "idle since {} (idle_after {})",
                instant(*since),
                format_duration(*idle_after)
            ),
        }
    }
}

fn instant(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
