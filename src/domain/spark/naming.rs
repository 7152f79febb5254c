//! Deterministic job names: the same command (same idempotency key, else the same Service Bus
//! MessageId) always names the same job, so a redelivery finds the job instead of making another.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::domain::WorkspaceId;

/// `pb-` + 24 hex digits (96 bits of SHA-256).
const PREFIX: &str = "pb-";
const HEX_DIGITS: usize = 24;

/// A job id ARM accepts: `^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$` (Jobs_CreateOrUpdate).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "job names are 1 to 255 letters, digits, '-' or '_', starting with a letter or digit; got '{0}'"
)]
pub struct JobNameError(pub String);

impl JobName {
    pub fn parse(s: &str) -> Result<Self, JobNameError> {
        let ok = (1..=255).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            let shown: String = s.chars().take(120).collect();
            Err(JobNameError(shown))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job's name came from (reported in the reply and the job's tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKeySource {
    /// `spec.name`, used as is.
    SpecName,
    /// The envelope's `idempotencyKey`.
    IdempotencyKey(String),
    /// The Service Bus MessageId.
    MessageId(String),
}

impl JobKeySource {
    /// The key the name was derived from, if it was derived.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::SpecName => None,
            Self::IdempotencyKey(k) | Self::MessageId(k) => Some(k),
        }
    }
}

/// `pb-` + the first 24 hex digits of SHA-256(lower-cased workspace id, `\n`, key). The workspace
/// is part of the hash so one key used against two workspaces makes two jobs, one in each.
pub fn derive_job_name(workspace: &WorkspaceId, key: &str) -> JobName {
    let mut hasher = Sha256::new();
    hasher.update(workspace.arm_id().to_ascii_lowercase().as_bytes());
    hasher.update(b"\n");
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let hex = crate::hex::encode(&digest[..HEX_DIGITS / 2]);
    JobName(format!("{PREFIX}{hex}"))
}
