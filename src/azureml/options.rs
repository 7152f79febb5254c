//! Client options, with the Azure SDK defaults, and their reading from the environment.

use std::net::IpAddr;
use std::time::Duration;

use url::{Host, Url};

use crate::retry::RetryOptions;

/// Public ARM endpoint used when nothing else is configured.
pub const DEFAULT_ENDPOINT: &str = "https://management.azure.com";
/// Azure ML api-version poolbroker speaks (newest stable, see azureml-arm-api.md §0).
pub const DEFAULT_API_VERSION: &str = "2025-12-01";
/// Synapse control-plane api-version for `bigDataPools` GETs.
pub const DEFAULT_SYNAPSE_API_VERSION: &str = "2021-06-01";

/// Environment variable overriding the ARM endpoint (the local emulator sets it).
pub const ENV_ENDPOINT: &str = "POOLBROKER_ARM_ENDPOINT";
/// Environment variable overriding the Azure ML api-version.
pub const ENV_API_VERSION: &str = "POOLBROKER_ARM_API_VERSION";
/// How many times one ARM request is retried (408/429/5xx, connection errors).
pub const ENV_MAX_RETRIES: &str = "POOLBROKER_ARM_MAX_RETRIES";
/// The most time one ARM request may spend on retries, in seconds.
pub const ENV_RETRY_MAX_ELAPSED: &str = "POOLBROKER_ARM_RETRY_MAX_ELAPSED_SECS";
/// How long one ARM request may take, in milliseconds (default 30 s).
pub const ENV_REQUEST_TIMEOUT_MS: &str = "POOLBROKER_ARM_REQUEST_TIMEOUT_MS";

/// Everything an [`ArmClient`](super::ArmClient) can be tuned with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmClientOptions {
    pub endpoint: Url,
    pub api_version: String,
    pub synapse_api_version: String,
    pub retry: RetryOptions,
    /// Time allowed for one HTTP attempt (connect, send, read the whole body).
    pub request_timeout: Duration,
    pub lro: LroOptions,
}

/// How long-running operations are polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LroOptions {
    /// Time one invocation may spend polling before handing back `LroOutcome::Pending`.
    pub budget: Duration,
    /// Wait between polls when the service sends no `Retry-After`.
    pub default_poll_interval: Duration,
}

impl Default for LroOptions {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(20),
            default_poll_interval: Duration::from_secs(5),
        }
    }
}

impl Default for ArmClientOptions {
    fn default() -> Self {
        Self {
            endpoint: default_endpoint(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            synapse_api_version: DEFAULT_SYNAPSE_API_VERSION.to_owned(),
            retry: RetryOptions::default(),
            request_timeout: Duration::from_secs(30),
            lro: LroOptions::default(),
        }
    }
}

fn default_endpoint() -> Url {
    #[allow(clippy::expect_used, reason = "constant, covered by a unit test")]
    Url::parse(DEFAULT_ENDPOINT).expect("DEFAULT_ENDPOINT is a valid URL")
}

/// Why the ARM options in the environment cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("{ENV_ENDPOINT}: not a valid absolute URL ('{value}'): {reason}")]
    InvalidEndpoint { value: String, reason: String },
    #[error(
        "{ENV_ENDPOINT}: plain http is only allowed for loopback hosts (127.0.0.0/8, ::1, localhost); got '{value}'. Use https"
    )]
    InsecureEndpoint { value: String },
    #[error("{ENV_ENDPOINT}: scheme must be https (or http for loopback); got '{scheme}'")]
    UnsupportedScheme { scheme: String },
    #[error("{ENV_ENDPOINT}: must not carry a query, fragment or credentials; got '{value}'")]
    EndpointHasExtras { value: String },
    #[error(
        "{ENV_API_VERSION}: expected a date like 2025-12-01 (optionally with -preview); got '{value}'"
    )]
    InvalidApiVersion { value: String },
    #[error("{name}: expected a whole number from {min} to {max}; got '{value}'")]
    InvalidNumber {
        name: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
}

impl ArmClientOptions {
    /// Defaults, overridden by `POOLBROKER_ARM_ENDPOINT` and `POOLBROKER_ARM_API_VERSION`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, OptionsError> {
        let mut options = Self::default();
        if let Some(raw) = lookup(ENV_ENDPOINT).filter(|v| !v.trim().is_empty()) {
            options.endpoint = parse_endpoint(raw.trim())?;
        }
        if let Some(raw) = lookup(ENV_API_VERSION).filter(|v| !v.trim().is_empty()) {
            options.api_version = parse_api_version(raw.trim())?;
        }
        if let Some(raw) = lookup(ENV_MAX_RETRIES).filter(|v| !v.trim().is_empty()) {
            options.retry.max_retries = parse_number(ENV_MAX_RETRIES, &raw, 0, 20)? as u32;
        }
        if let Some(raw) = lookup(ENV_RETRY_MAX_ELAPSED).filter(|v| !v.trim().is_empty()) {
            options.retry.max_elapsed =
                Duration::from_secs(parse_number(ENV_RETRY_MAX_ELAPSED, &raw, 0, 600)?);
        }
        if let Some(raw) = lookup(ENV_REQUEST_TIMEOUT_MS).filter(|v| !v.trim().is_empty()) {
            options.request_timeout =
                Duration::from_millis(parse_number(ENV_REQUEST_TIMEOUT_MS, &raw, 100, 600_000)?);
        }
        Ok(options)
    }
}

/// A whole number within `min..=max`, for the numeric settings.
fn parse_number(name: &'static str, raw: &str, min: u64, max: u64) -> Result<u64, OptionsError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| OptionsError::InvalidNumber {
            name,
            value: raw.to_owned(),
            min,
            max,
        })
}

/// Accepts https anywhere and http only on loopback, so a bearer token never crosses a network
/// in clear text.
pub fn parse_endpoint(raw: &str) -> Result<Url, OptionsError> {
    let url = Url::parse(raw).map_err(|e| OptionsError::InvalidEndpoint {
        value: raw.to_owned(),
        reason: e.to_string(),
    })?;
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(OptionsError::EndpointHasExtras {
            value: raw.to_owned(),
        });
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(OptionsError::InsecureEndpoint {
                value: raw.to_owned(),
            });
        }
        other => {
            return Err(OptionsError::UnsupportedScheme {
                scheme: other.to_owned(),
            });
        }
    }
    if url.host().is_none() {
        return Err(OptionsError::InvalidEndpoint {
            value: raw.to_owned(),
            reason: "no host".to_owned(),
        });
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn parse_api_version(raw: &str) -> Result<String, OptionsError> {
    let invalid = || OptionsError::InvalidApiVersion {
        value: raw.to_owned(),
    };
    let (date, suffix) = match raw.split_once('-').and_then(|_| raw.get(..10)) {
        Some(date) => (date, &raw[10..]),
        None => return Err(invalid()),
    };
    let date_ok = date.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    let suffix_ok = suffix.is_empty()
        || (suffix.starts_with('-')
            && suffix[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && suffix.len() > 1);
    if date_ok && suffix_ok {
        Ok(raw.to_owned())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_match_the_azure_sdk() {
        let o = ArmClientOptions::default();
        assert_eq!(o.endpoint.as_str(), "https://management.azure.com/");
        assert_eq!(o.api_version, "2025-12-01");
        assert_eq!(o.synapse_api_version, "2021-06-01");
        assert_eq!(o.retry.initial_delay, Duration::from_millis(200));
        assert_eq!(o.retry.max_retries, 8);
        assert_eq!(o.retry.max_elapsed, Duration::from_secs(60));
        assert_eq!(o.retry.max_delay, Duration::from_secs(30));
        assert_eq!(o.request_timeout, Duration::from_secs(30));
        assert_eq!(o.lro.budget, Duration::from_secs(20));
        assert_eq!(o.lro.default_poll_interval, Duration::from_secs(5));
    }

    #[test]
    fn loopback_http_is_accepted() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.5.6.7",
            "http://[::1]:9000/",
            "http://localhost:1234",
            "http://LOCALHOST",
            "https://example.com",
        ] {
            let o = ArmClientOptions::from_env(env(&[(ENV_ENDPOINT, ok)]));
            assert!(o.is_ok(), "{ok}: {o:?}");
        }
    }

    #[test]
    fn non_loopback_http_is_rejected() {
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            let err = ArmClientOptions::from_env(env(&[(ENV_ENDPOINT, bad)])).unwrap_err();
            assert_eq!(
                err,
                OptionsError::InsecureEndpoint {
                    value: bad.to_owned()
                }
            );
            assert!(err.to_string().contains(ENV_ENDPOINT));
        }
        assert!(matches!(
            ArmClientOptions::from_env(env(&[(ENV_ENDPOINT, "ftp://127.0.0.1")])),
            Err(OptionsError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            ArmClientOptions::from_env(env(&[(ENV_ENDPOINT, "https://u:p@h.example")])),
            Err(OptionsError::EndpointHasExtras { .. })
        ));
    }

    #[test]
    fn api_version_is_checked() {
        let o = ArmClientOptions::from_env(env(&[(ENV_API_VERSION, "2025-07-01-preview")]));
        assert_eq!(
            o.map(|o| o.api_version).as_deref(),
            Ok("2025-07-01-preview")
        );
        for bad in ["latest", "2025-1-01", "2025-12-01-", "2025-12-01 x"] {
            assert!(
                matches!(
                    ArmClientOptions::from_env(env(&[(ENV_API_VERSION, bad)])),
                    Err(OptionsError::InvalidApiVersion { .. })
                ),
                "{bad}"
            );
        }
    }
}
