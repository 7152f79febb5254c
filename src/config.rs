//! Runtime settings shared by `serve`, `local` and the CLI. Every value comes from an environment
//! variable (Functions app settings arrive as environment variables); the same names work
//! everywhere. Sub-systems read their own variables (`azureml::ArmClientOptions::from_env`,
//! `servicebus::ServiceBusSettings`, `telemetry::TelemetryConfig`); this module holds the broker's own.

use std::time::Duration;

use crate::domain::spark::SparkDefaults;
use crate::domain::{ScopeAllowList, WorkspaceId};

pub const COMMANDS_QUEUE: &str = "pool-commands";
pub const REJECTED_QUEUE: &str = "pool-commands-rejected";
pub const REPLIES_QUEUE: &str = "pool-replies";
pub const CLEANUP_REPORTS_QUEUE: &str = "cleanup-reports";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("Spark settings: {0}")]
    Spark(String),
    #[error("{name}='{value}' is invalid: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: String,
    },
}

/// The broker's own settings.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    /// `POOLBROKER_DEFAULT_WORKSPACE`: used when a command names no workspace.
    pub default_workspace: Option<WorkspaceId>,
    /// `POOLBROKER_ALLOWED_SCOPES`: ARM id prefixes the broker may touch; unset = `*` (any).
    pub allowed_scopes: ScopeAllowList,
    /// `POOLBROKER_COMMANDS_QUEUE` (follow-ups are scheduled onto it).
    pub commands_queue: String,
    /// `POOLBROKER_REPLY_QUEUE`: replies for messages without `ReplyTo`.
    pub reply_queue: String,
    /// `POOLBROKER_LRO_BUDGET_SECS`: how long one invocation waits on a long-running operation
    /// before it hands the rest to a scheduled follow-up message.
    pub lro_budget: Duration,
    /// `POOLBROKER_OPERATION_DEADLINE_SECS`: when a followed operation or job is given up on.
    pub operation_deadline: Duration,
    /// Serverless Spark defaults and job polling (`POOLBROKER_SPARK_*`,
    /// `POOLBROKER_SERVERLESS_IDENTITY`, `POOLBROKER_JOB_POLL_SECS`), checked at start-up.
    pub spark: SparkDefaults,
    /// `POOLBROKER_INTERNAL_KEY` (a Key Vault reference in Azure): signs the follow-ups the broker
    /// sends itself, so a message claiming to be one is trusted only when it carries the
    /// signature. `None`: a random key per process (follow-ups then do not survive a restart).
    pub internal_key: Option<secrecy::SecretString>,
}

/// The shortest `POOLBROKER_INTERNAL_KEY` accepted (HMAC-SHA256 wants 32 bytes of secret).
pub const MIN_INTERNAL_KEY_LEN: usize = 32;

impl BrokerSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let default_workspace = match non_empty("POOLBROKER_DEFAULT_WORKSPACE") {
            None => None,
            Some(raw) => {
                Some(
                    WorkspaceId::parse(raw.trim()).map_err(|e| ConfigError::Invalid {
                        name: "POOLBROKER_DEFAULT_WORKSPACE",
                        value: raw.clone(),
                        problem: e.to_string(),
                    })?,
                )
            }
        };
        let allowed_scopes = match non_empty("POOLBROKER_ALLOWED_SCOPES") {
            // Unset means any workspace the identity can reach; deployments set it explicitly.
            None => ScopeAllowList::parse("*").map_err(|e| ConfigError::Invalid {
                name: "POOLBROKER_ALLOWED_SCOPES",
                value: "*".into(),
                problem: e.to_string(),
            })?,
            Some(raw) => ScopeAllowList::parse(&raw).map_err(|e| ConfigError::Invalid {
                name: "POOLBROKER_ALLOWED_SCOPES",
                value: raw.clone(),
                problem: e.to_string(),
            })?,
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match non_empty(name) {
                None => Ok(Duration::from_secs(default)),
                Some(raw) => raw
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| ConfigError::Invalid {
                        name,
                        value: raw.clone(),
                        problem: "expected a whole number of seconds".into(),
                    }),
            }
        };
        let internal_key = match lookup("POOLBROKER_INTERNAL_KEY").filter(|v| !v.is_empty()) {
            // App Service leaves a Key Vault reference it cannot resolve as its literal text,
            // which is in the template for anyone to read: never sign with it.
            Some(key) if key.starts_with("@Microsoft.KeyVault(") => {
                return Err(ConfigError::Invalid {
                    name: "POOLBROKER_INTERNAL_KEY",
                    value: key,
                    problem: "the Key Vault reference did not resolve: set the secret (docs/deploy.md §3) and check the app identity's access".into(),
                });
            }
            Some(key) if key.len() < MIN_INTERNAL_KEY_LEN => {
                return Err(ConfigError::Invalid {
                    name: "POOLBROKER_INTERNAL_KEY",
                    value: format!("({} characters, not shown)", key.len()),
                    problem: format!("must be at least {MIN_INTERNAL_KEY_LEN} characters"),
                });
            }
            other => other.map(secrecy::SecretString::from),
        };
        Ok(Self {
            internal_key,
            default_workspace,
            allowed_scopes,
            commands_queue: non_empty("POOLBROKER_COMMANDS_QUEUE")
                .unwrap_or_else(|| COMMANDS_QUEUE.into()),
            reply_queue: non_empty("POOLBROKER_REPLY_QUEUE")
                .unwrap_or_else(|| REPLIES_QUEUE.into()),
            lro_budget: seconds("POOLBROKER_LRO_BUDGET_SECS", 20)?,
            operation_deadline: seconds("POOLBROKER_OPERATION_DEADLINE_SECS", 6 * 3600)?,
            spark: SparkDefaults::from_lookup(&lookup)
                .map_err(|e| ConfigError::Spark(e.to_string()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(key: &str) -> Result<BrokerSettings, ConfigError> {
        let key = key.to_owned();
        BrokerSettings::from_lookup(move |name| {
            (name == "POOLBROKER_INTERNAL_KEY").then(|| key.clone())
        })
    }

    #[test]
    fn an_unresolved_key_vault_reference_is_never_used_as_the_internal_key() {
        let err = with_key(
            "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/broker-internal-key)",
        )
        .err()
        .expect("refused");
        let text = err.to_string();
        assert!(text.contains("POOLBROKER_INTERNAL_KEY"), "{text}");
        assert!(text.contains("did not resolve"), "{text}");
    }

    #[test]
    fn a_short_internal_key_is_refused_without_showing_it() {
        let text = with_key("short-secret").err().expect("refused").to_string();
        assert!(text.contains("at least 32"), "{text}");
        assert!(!text.contains("short-secret"), "{text}");
    }

    #[test]
    fn a_long_enough_internal_key_is_kept() {
        let settings = with_key(&"k".repeat(32)).expect("accepted");
        assert!(settings.internal_key.is_some());
    }
}
