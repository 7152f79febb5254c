//! Settings of the hooks endpoint.

use std::time::Duration;

use secrecy::SecretString;

use super::routes::RoutingRules;

/// The setting that holds the generic-webhook HMAC secret; named in the 401 when it is unset.
pub const WEBHOOK_SECRET_SETTING: &str = "POOLBROKER_WEBHOOK_SECRET";

#[derive(Debug, Clone)]
pub struct HooksConfig {
    /// HMAC-SHA256 key for `X-Poolbroker-Signature`; without it signed webhooks are refused.
    pub webhook_secret: Option<SecretString>,
    pub max_body_bytes: usize,
    /// How old a signed webhook's timestamp may be.
    pub replay_window: Duration,
    /// Origins granted in the CloudEvents OPTIONS handshake (`*` grants any).
    pub allowed_origins: Vec<String>,
    pub rules: RoutingRules,
}

impl HooksConfig {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
    pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(5 * 60);
    pub const DEFAULT_ALLOWED_ORIGIN: &'static str = "eventgrid.azure.net";

    /// Defaults for everything but the rules.
    pub fn new(rules: RoutingRules) -> Self {
        Self {
            webhook_secret: None,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            replay_window: Self::DEFAULT_REPLAY_WINDOW,
            allowed_origins: vec![Self::DEFAULT_ALLOWED_ORIGIN.to_string()],
            rules,
        }
    }
}

impl Default for HooksConfig {
    fn default() -> Self {
        Self::new(RoutingRules::default())
    }
}
