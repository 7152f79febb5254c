//! Lets other local stand-ins (the Synapse data-plane emulator) accept the tokens this
//! emulator's managed-identity endpoint issued, as Entra ID tokens are accepted by every service
//! of their audience.

use crate::state::{EmulatorState, lock};
use tokio::time::Instant;

/// What the issuer knows about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokenInfo {
    /// The `resource` it was issued for (its audience).
    pub audience: String,
    pub expired: bool,
}

impl EmulatorState {
    /// `None` when this emulator never issued `token`.
    pub fn inspect_token(&self, token: &str) -> Option<IssuedTokenInfo> {
        let info = lock(&self.inner.tokens).get(token).cloned()?;
        Some(IssuedTokenInfo {
            audience: info.resource,
            expired: Instant::now() >= info.expires_at,
        })
    }
}
