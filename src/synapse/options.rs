//! Where the data plane is and how patient to be with it.

use std::time::Duration;

use url::Url;

use crate::azureml::{is_loopback, parse_endpoint};
use crate::retry::RetryOptions;

/// `POOLBROKER_SYNAPSE_ENDPOINT` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ENV_SYNAPSE_ENDPOINT}: '{value}' {reason}")]
pub struct SynapseOptionsError {
    pub value: String,
    pub reason: String,
}

pub const SYNAPSE_API_VERSION: &str = "2020-12-01";
/// The token scope of the Synapse data plane (audience `https://dev.azuresynapse.net`).
pub const SYNAPSE_SCOPE: &str = "https://dev.azuresynapse.net/.default";
/// Local stand-in for every workspace's data plane (loopback only); unset in Azure, where the
/// endpoint is derived from the pool id.
pub const ENV_SYNAPSE_ENDPOINT: &str = "POOLBROKER_SYNAPSE_ENDPOINT";

#[derive(Debug, Clone)]
pub struct SynapseOptions {
    /// `None`: `https://{workspace}.dev.azuresynapse.net`.
    pub endpoint_override: Option<Url>,
    pub retry: RetryOptions,
    pub request_timeout: Duration,
}

impl SynapseOptions {
    pub fn new(retry: RetryOptions, request_timeout: Duration) -> Self {
        Self {
            endpoint_override: None,
            retry,
            request_timeout,
        }
    }

    /// `POOLBROKER_SYNAPSE_ENDPOINT`, which must be a loopback URL: a bearer token for the Synapse
    /// audience must never be sent to a host that is not the real data plane or a local emulator.
    pub fn with_env(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SynapseOptionsError> {
        if let Some(raw) = lookup(ENV_SYNAPSE_ENDPOINT).filter(|v| !v.trim().is_empty()) {
            let url = parse_endpoint(raw.trim()).map_err(|e| SynapseOptionsError {
                value: raw.clone(),
                reason: format!("is not a usable URL ({e})"),
            })?;
            if !is_loopback(&url) {
                return Err(SynapseOptionsError {
                    value: raw,
                    reason: "is not a loopback URL: the override may only point at a local emulator (127.0.0.1, ::1 or localhost); in Azure leave it unset".to_owned(),
                });
            }
            self.endpoint_override = Some(url);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &str) -> Result<SynapseOptions, SynapseOptionsError> {
        SynapseOptions::new(RetryOptions::default(), Duration::from_secs(30))
            .with_env(|k| (k == ENV_SYNAPSE_ENDPOINT).then(|| v.to_owned()))
    }

    #[test]
    fn override_is_loopback_only() {
        assert!(
            opts("http://127.0.0.1:7074")
                .unwrap()
                .endpoint_override
                .is_some()
        );
        assert!(opts("http://localhost:7074").is_ok());
        let e = opts("https://syn.dev.azuresynapse.net").unwrap_err();
        assert!(e.to_string().contains("local emulator"), "{e}");
        assert!(opts("http://10.0.0.4:7074").is_err());
        assert!(opts("").unwrap().endpoint_override.is_none());
    }
}
