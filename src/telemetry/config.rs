//! Telemetry settings. poolbroker reads only its own (`POOLBROKER_LOG`, `POOLBROKER_LOG_FORMAT`)
//! and whether an OTLP endpoint is configured at all; every `OTEL_*` value (endpoints, headers,
//! timeout, sampler, service name, resource attributes) is read by the OpenTelemetry SDK itself,
//! from the process environment, as its documentation describes.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;
use url::Url;

use super::TelemetryError;

const DEFAULT_LOG_FILTER: &str = "info";

/// How log lines are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with `trace_id`/`span_id` (what the Functions host and log
    /// pipelines want).
    Json,
    /// Human-readable lines for local runs.
    Pretty,
}

/// A `RUST_LOG`-style filter that is known to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(String);

impl LogFilter {
    pub fn parse(directives: &str) -> Result<Self, TelemetryError> {
        EnvFilter::builder().parse(directives).map_err(|e| {
            TelemetryError::env("POOLBROKER_LOG", format!("{e} (got '{directives}')"))
        })?;
        Ok(Self(directives.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn to_env_filter(&self) -> EnvFilter {
        // Parsed successfully in `parse`; the lossy variant cannot drop anything here.
        EnvFilter::builder().parse_lossy(&self.0)
    }
}

impl Default for LogFilter {
    fn default() -> Self {
        Self(DEFAULT_LOG_FILTER.to_owned())
    }
}

/// Where spans and metrics go.
#[derive(Clone)]
pub(crate) enum Export {
    /// No OTLP endpoint: spans still get ids (so `traceparent` propagates), nothing leaves.
    Nowhere,
    /// `OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT` is set: the SDK's exporters read it and
    /// the other `OTEL_EXPORTER_OTLP_*` settings themselves.
    Environment { traces: bool, metrics: bool },
    /// An OTLP/HTTP base URL and headers given in code (the local world, tests).
    Endpoint {
        base: Url,
        headers: Vec<(String, SecretString)>,
    },
}

/// Everything `telemetry::init` needs. Build it with [`TelemetryConfig::from_env`]; the
/// `with_*` methods set in code what the `OTEL_*` variables would otherwise say.
#[derive(Clone)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    pub log_filter: LogFilter,
    pub(crate) export: Export,
    /// Set in code; otherwise `OTEL_SERVICE_NAME` (read by the SDK), else `poolbroker`.
    pub(crate) service_name: Option<String>,
    /// Added in code to what `OTEL_RESOURCE_ATTRIBUTES` says.
    pub(crate) resource_attributes: Vec<(String, String)>,
}

impl fmt::Debug for TelemetryConfig {
    // Header values are credentials (Application Insights / collector auth): names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let export = match &self.export {
            Export::Nowhere => "nowhere".to_owned(),
            Export::Environment { traces, metrics } => {
                format!("OTEL_* environment (traces {traces}, metrics {metrics})")
            }
            Export::Endpoint { base, headers } => format!(
                "{base} (headers {:?})",
                headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>()
            ),
        };
        f.debug_struct("TelemetryConfig")
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("export", &export)
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .finish()
    }
}

impl Default for TelemetryConfig {
    /// No exporter, JSON logs at `info`.
    fn default() -> Self {
        Self {
            log_format: LogFormat::Json,
            log_filter: LogFilter::default(),
            export: Export::Nowhere,
            service_name: None,
            resource_attributes: Vec::new(),
        }
    }
}

impl TelemetryConfig {
    /// Reads the process environment, where the SDK reads the `OTEL_*` values too.
    pub fn from_env() -> Result<Self, TelemetryError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads poolbroker's settings through `lookup`, and from it whether an OTLP endpoint is set
    /// (empty values count as unset, as the OpenTelemetry spec asks). The SDK itself reads the
    /// `OTEL_*` values from the process environment, so `lookup` should be that environment
    /// unless an endpoint is set in code ([`Self::with_otlp_endpoint`]).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let disabled = get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
        let traces = !disabled && (base || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some());
        let metrics = !disabled && (base || get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").is_some());
        let export = if traces || metrics {
            Export::Environment { traces, metrics }
        } else {
            Export::Nowhere
        };
        let log_format = match get("POOLBROKER_LOG_FORMAT") {
            None => LogFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("pretty") => LogFormat::Pretty,
            Some(v) => {
                return Err(TelemetryError::env(
                    "POOLBROKER_LOG_FORMAT",
                    format!("expected one of json, pretty; got '{v}'"),
                ));
            }
        };
        let log_filter = match get("POOLBROKER_LOG") {
            Some(v) => LogFilter::parse(&v)?,
            None => LogFilter::default(),
        };
        Ok(Self {
            log_format,
            log_filter,
            export,
            service_name: None,
            resource_attributes: Vec::new(),
        })
    }

    /// Exports spans to `{base}/v1/traces` and metrics to `{base}/v1/metrics` (OTLP/HTTP), as
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` would, whatever the environment says.
    pub fn with_otlp_endpoint(mut self, base: &Url) -> Self {
        self.export = Export::Endpoint {
            base: base.clone(),
            headers: Vec::new(),
        };
        self
    }

    /// Adds a header to the exports of [`Self::with_otlp_endpoint`] (collector auth); ignored
    /// without it (`OTEL_EXPORTER_OTLP_HEADERS` applies then).
    pub fn with_header(mut self, name: impl Into<String>, value: SecretString) -> Self {
        if let Export::Endpoint { headers, .. } = &mut self.export {
            headers.push((name.into(), value));
        }
        self
    }

    /// `service.name`, instead of `OTEL_SERVICE_NAME` or the default `poolbroker`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// One more resource attribute, besides `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Spans leave the process only when this is true.
    pub fn exports_traces(&self) -> bool {
        match &self.export {
            Export::Nowhere => false,
            Export::Environment { traces, .. } => *traces,
            Export::Endpoint { .. } => true,
        }
    }

    /// Metrics leave the process only when this is true.
    pub fn exports_metrics(&self) -> bool {
        match &self.export {
            Export::Nowhere => false,
            Export::Environment { metrics, .. } => *metrics,
            Export::Endpoint { .. } => true,
        }
    }
}

/// `{base}/{signal path}`: the OTLP base URL convention.
pub(crate) fn signal_url(base: &Url, path: &str) -> Url {
    let mut joined = base.clone();
    let base_path = base.path().trim_end_matches('/');
    joined.set_path(&format!("{base_path}/{path}"));
    joined
}

pub(crate) fn exposed(
    headers: &[(String, SecretString)],
) -> std::collections::HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<TelemetryConfig, TelemetryError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TelemetryConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn an_otlp_endpoint_in_the_environment_turns_export_on() {
        let none = config(&[]).unwrap();
        assert!(!none.exports_traces() && !none.exports_metrics());
        let blank = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "  ")]).unwrap();
        assert!(!blank.exports_traces());
        let base = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap();
        assert!(base.exports_traces() && base.exports_metrics());
        let traces_only = config(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces",
        )])
        .unwrap();
        assert!(traces_only.exports_traces() && !traces_only.exports_metrics());
        let disabled = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])
        .unwrap();
        assert!(!disabled.exports_traces() && !disabled.exports_metrics());
    }

    #[test]
    fn endpoint_in_code_and_headers_never_printed() {
        let base = Url::parse("http://127.0.0.1:4318/otlp/").unwrap();
        let c = TelemetryConfig::default()
            .with_otlp_endpoint(&base)
            .with_header("authorization", SecretString::from("Bearer s3cret"));
        assert!(c.exports_traces() && c.exports_metrics());
        assert_eq!(
            signal_url(&base, "v1/traces").as_str(),
            "http://127.0.0.1:4318/otlp/v1/traces"
        );
        let shown = format!("{c:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn log_settings() {
        let c = config(&[
            ("POOLBROKER_LOG_FORMAT", "Pretty"),
            ("POOLBROKER_LOG", "debug"),
        ])
        .unwrap();
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.log_filter.as_str(), "debug");
        let err = config(&[("POOLBROKER_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(
            err.to_string().starts_with("POOLBROKER_LOG_FORMAT: "),
            "{err}"
        );
        let err = config(&[("POOLBROKER_LOG", "info,[[")]).unwrap_err();
        assert!(err.to_string().starts_with("POOLBROKER_LOG: "), "{err}");
    }
}
