//! What can go wrong on the Synapse data plane, classified like ARM errors (transient or not).

use serde_json::Value;

use crate::azureml::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum SynapseError {
    #[error(
        "Synapse data plane of workspace '{workspace}' returned HTTP {status} {code}: {message}"
    )]
    Status {
        workspace: String,
        status: u16,
        code: String,
        message: String,
        body: Box<Value>,
    },
    #[error("could not reach the Synapse data plane of workspace '{workspace}': {source}")]
    Transport {
        workspace: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("could not get a token for the Synapse data plane: {0}")]
    Auth(#[from] AuthError),
    #[error("unexpected answer from the Synapse data plane of workspace '{workspace}': {what}")]
    InvalidResponse { workspace: String, what: String },
    #[error("role '{role}' is not defined in Synapse workspace '{workspace}'")]
    UnknownRole { workspace: String, role: String },
    #[error("Synapse workspace name '{0}' cannot be put in a host name")]
    BadWorkspace(String),
}

impl SynapseError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => crate::retry::is_retryable_status(*status),
            Self::Transport { .. } => true,
            Self::Auth(e) => e.is_transient(),
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
