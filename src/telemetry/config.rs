//! Telemetry settings from the standard `OTEL_*` variables plus `POOLBROKER_LOG*`.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;
use url::Url;

use super::TelemetryError;

const DEFAULT_SERVICE_NAME: &str = "poolbroker";
const DEFAULT_LOG_FILTER: &str = "info";
/// OTLP spec default for `OTEL_EXPORTER_OTLP_TIMEOUT`.
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// How log lines are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with `trace_id`/`span_id` (what the Functions host and log
    /// pipelines want).
    Json,
    /// Human-readable lines for local runs.
    Pretty,
}

/// `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG` for the ratio samplers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
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

/// Everything `telemetry::init` needs. Build it with [`TelemetryConfig::from_env`] (or
/// [`TelemetryConfig::from_lookup`] in tests).
#[derive(Clone)]
pub struct TelemetryConfig {
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded. `service.name` here loses to `OTEL_SERVICE_NAME`.
    pub resource_attributes: Vec<(String, String)>,
    /// Full URL spans are POSTed to; `None` = no trace exporter.
    pub traces_endpoint: Option<Url>,
    /// Full URL metrics are POSTed to; `None` = no metric exporter.
    pub metrics_endpoint: Option<Url>,
    pub export_timeout: Duration,
    pub sampler: SamplerConfig,
    pub log_format: LogFormat,
    pub log_filter: LogFilter,
    headers: Vec<(String, SecretString)>,
}

impl fmt::Debug for TelemetryConfig {
    // Header values are credentials (Application Insights / collector auth): names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryConfig")
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field(
                "traces_endpoint",
                &self.traces_endpoint.as_ref().map(Url::as_str),
            )
            .field(
                "metrics_endpoint",
                &self.metrics_endpoint.as_ref().map(Url::as_str),
            )
            .field("export_timeout", &self.export_timeout)
            .field("sampler", &self.sampler)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("headers", &self.header_names())
            .finish()
    }
}

impl Default for TelemetryConfig {
    /// No exporter, JSON logs at `info`.
    fn default() -> Self {
        Self {
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
            resource_attributes: Vec::new(),
            traces_endpoint: None,
            metrics_endpoint: None,
            export_timeout: DEFAULT_EXPORT_TIMEOUT,
            sampler: SamplerConfig::ParentBasedAlwaysOn,
            log_format: LogFormat::Json,
            log_filter: LogFilter::default(),
            headers: Vec::new(),
        }
    }
}

impl TelemetryConfig {
    /// Reads the process environment. See the module docs for the variables.
    pub fn from_env() -> Result<Self, TelemetryError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (a variable name → its value). Empty values count as
    /// unset, as the OpenTelemetry spec asks.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let disabled = match get("OTEL_SDK_DISABLED") {
            None => false,
            Some(v) => parse_bool("OTEL_SDK_DISABLED", &v)?,
        };

        let base = get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|v| parse_endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &v))
            .transpose()?;
        let signal = |var: &'static str, path: &str| -> Result<Option<Url>, TelemetryError> {
            match get(var) {
                Some(v) => parse_endpoint(var, &v).map(Some),
                None => Ok(base.as_ref().map(|b| join_signal_path(b, path))),
            }
        };
        let mut traces_endpoint = signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "v1/traces")?;
        let mut metrics_endpoint = signal("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "v1/metrics")?;
        if disabled {
            traces_endpoint = None;
            metrics_endpoint = None;
        }

        let headers = match lookup("OTEL_EXPORTER_OTLP_HEADERS").filter(|v| !v.trim().is_empty()) {
            Some(v) => parse_headers(&v)?,
            None => Vec::new(),
        };
        let resource_attributes = match get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(v) => parse_resource_attributes(&v)?,
            None => Vec::new(),
        };
        let service_name = get("OTEL_SERVICE_NAME")
            .or_else(|| {
                resource_attributes
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let export_timeout = match get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            Some(v) => v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                TelemetryError::env(
                    "OTEL_EXPORTER_OTLP_TIMEOUT",
                    format!("expected milliseconds as an integer; got '{v}'"),
                )
            })?,
            None => DEFAULT_EXPORT_TIMEOUT,
        };
        let sampler = parse_sampler(
            get("OTEL_TRACES_SAMPLER").as_deref(),
            get("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?;
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
            service_name,
            resource_attributes,
            traces_endpoint,
            metrics_endpoint,
            export_timeout,
            sampler,
            log_format,
            log_filter,
            headers,
        })
    }

    /// Sets the trace endpoint to `{base}/v1/traces` and the metric endpoint to
    /// `{base}/v1/metrics`, as `OTEL_EXPORTER_OTLP_ENDPOINT` would.
    pub fn with_otlp_endpoint(mut self, base: &Url) -> Self {
        self.traces_endpoint = Some(join_signal_path(base, "v1/traces"));
        self.metrics_endpoint = Some(join_signal_path(base, "v1/metrics"));
        self
    }

    /// Adds an exporter header (for example collector or Application Insights auth).
    pub fn with_header(mut self, name: impl Into<String>, value: SecretString) -> Self {
        self.headers.push((name.into(), value));
        self
    }

    /// Spans leave the process only when this is true.
    pub fn exports_traces(&self) -> bool {
        self.traces_endpoint.is_some()
    }

    /// Metrics leave the process only when this is true.
    pub fn exports_metrics(&self) -> bool {
        self.metrics_endpoint.is_some()
    }

    /// Names of the exporter headers (their values are secret).
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(k, _)| k.as_str()).collect()
    }

    pub(crate) fn headers_exposed(&self) -> std::collections::HashMap<String, String> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
            .collect()
    }
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, TelemetryError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(TelemetryError::env(
            var,
            format!("expected true or false; got '{v}'"),
        ))
    }
}

fn parse_endpoint(var: &'static str, v: &str) -> Result<Url, TelemetryError> {
    let url = Url::parse(v)
        .map_err(|e| TelemetryError::env(var, format!("expected an http(s) URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(TelemetryError::env(
            var,
            format!(
                "expected an http(s) URL with a host; got scheme '{}'",
                url.scheme()
            ),
        ));
    }
    if url.password().is_some() || !url.username().is_empty() {
        // Credentials belong in OTEL_EXPORTER_OTLP_HEADERS, where they are treated as secrets.
        return Err(TelemetryError::env(
            var,
            "must not contain user:password; put credentials in OTEL_EXPORTER_OTLP_HEADERS",
        ));
    }
    Ok(url)
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL: the signal path is appended to its path.
fn join_signal_path(base: &Url, path: &str) -> Url {
    let mut joined = base.clone();
    let base_path = base.path().trim_end_matches('/');
    joined.set_path(&format!("{base_path}/{path}"));
    joined
}

/// `key1=value1,key2=value2`, values percent-encoded (W3C baggage octets).
fn parse_key_values(var: &'static str, v: &str) -> Result<Vec<(String, String)>, TelemetryError> {
    let mut out = Vec::new();
    for (i, entry) in v.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        // Never echo the entry: for headers it is a credential.
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| TelemetryError::env(var, format!("entry {} is not key=value", i + 1)))?;
        let key = percent_decode(key.trim()).ok_or_else(|| {
            TelemetryError::env(
                var,
                format!("entry {}: invalid percent-encoding in key", i + 1),
            )
        })?;
        if key.is_empty() {
            return Err(TelemetryError::env(
                var,
                format!("entry {} has an empty key", i + 1),
            ));
        }
        let value = percent_decode(value.trim()).ok_or_else(|| {
            TelemetryError::env(
                var,
                format!(
                    "entry {} ('{key}'): invalid percent-encoding in value",
                    i + 1
                ),
            )
        })?;
        out.push((key, value));
    }
    Ok(out)
}

fn parse_headers(v: &str) -> Result<Vec<(String, SecretString)>, TelemetryError> {
    let pairs = parse_key_values("OTEL_EXPORTER_OTLP_HEADERS", v)?;
    pairs
        .into_iter()
        .map(|(k, v)| {
            http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                TelemetryError::env(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!("'{k}' is not a valid HTTP header name"),
                )
            })?;
            http::HeaderValue::from_str(&v).map_err(|_| {
                TelemetryError::env(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!("the value of '{k}' is not a valid HTTP header value"),
                )
            })?;
            Ok((k, SecretString::from(v)))
        })
        .collect()
}

fn parse_resource_attributes(v: &str) -> Result<Vec<(String, String)>, TelemetryError> {
    parse_key_values("OTEL_RESOURCE_ATTRIBUTES", v)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn parse_sampler(name: Option<&str>, arg: Option<&str>) -> Result<SamplerConfig, TelemetryError> {
    let ratio = || -> Result<f64, TelemetryError> {
        match arg {
            None => Ok(1.0),
            Some(a) => match a.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(TelemetryError::env(
                    "OTEL_TRACES_SAMPLER_ARG",
                    format!("expected a ratio between 0 and 1; got '{a}'"),
                )),
            },
        }
    };
    let Some(name) = name else {
        return Ok(SamplerConfig::ParentBasedAlwaysOn);
    };
    Ok(match name.to_ascii_lowercase().as_str() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio()?),
        "parentbased_always_on" => SamplerConfig::ParentBasedAlwaysOn,
        "parentbased_always_off" => SamplerConfig::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => SamplerConfig::ParentBasedTraceIdRatio(ratio()?),
        _ => {
            return Err(TelemetryError::env(
                "OTEL_TRACES_SAMPLER",
                format!(
                    "expected one of always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off, parentbased_traceidratio; got '{name}'"
                ),
            ));
        }
    })
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
    fn no_endpoint_means_no_exporter() {
        let c = config(&[]).unwrap();
        assert!(!c.exports_traces());
        assert!(!c.exports_metrics());
        assert_eq!(c.service_name, "poolbroker");
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.log_filter.as_str(), "info");
        // An empty value is unset, per the OpenTelemetry spec.
        assert!(
            !config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])
                .unwrap()
                .exports_traces()
        );
    }

    #[test]
    fn base_endpoint_gets_signal_paths() {
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/otlp/")]).unwrap();
        assert_eq!(
            c.traces_endpoint.unwrap().as_str(),
            "http://127.0.0.1:4318/otlp/v1/traces"
        );
        assert_eq!(
            c.metrics_endpoint.unwrap().as_str(),
            "http://127.0.0.1:4318/otlp/v1/metrics"
        );
    }

    #[test]
    fn signal_endpoint_is_used_verbatim_and_wins() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:9999/custom",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.traces_endpoint.unwrap().as_str(),
            "http://127.0.0.1:9999/custom"
        );
        assert_eq!(
            c.metrics_endpoint.unwrap().as_str(),
            "http://127.0.0.1:4318/v1/metrics"
        );

        let only_traces = config(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:9999/t",
        )])
        .unwrap();
        assert!(only_traces.exports_traces());
        assert!(!only_traces.exports_metrics());
    }

    #[test]
    fn sdk_disabled_turns_exporters_off() {
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ])
        .unwrap();
        assert!(!c.exports_traces() && !c.exports_metrics());
    }

    #[test]
    fn bad_endpoint_names_the_variable() {
        let err = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")]).unwrap_err();
        assert!(
            err.to_string().starts_with("OTEL_EXPORTER_OTLP_ENDPOINT:"),
            "{err}"
        );
        let err = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:pw@h")]).unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn headers_are_decoded_and_never_printed() {
        let c = config(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "Authorization=Bearer%20s3cr3t-v4lue, x-tenant=t1",
        )])
        .unwrap();
        assert_eq!(c.header_names(), vec!["Authorization", "x-tenant"]);
        assert_eq!(c.headers_exposed()["Authorization"], "Bearer s3cr3t-v4lue");
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("Authorization"));

        let err = config(&[("OTEL_EXPORTER_OTLP_HEADERS", "a=b,s3cr3t-no-equals")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value"
        );
    }

    #[test]
    fn service_name_and_resource_attributes() {
        let c = config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,deployment.environment.name=dev%2Ctest",
        )])
        .unwrap();
        assert_eq!(c.service_name, "from-attrs");
        assert!(
            c.resource_attributes
                .contains(&("deployment.environment.name".into(), "dev,test".into()))
        );
        let c = config(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_SERVICE_NAME", "broker-a"),
        ])
        .unwrap();
        assert_eq!(c.service_name, "broker-a");
    }

    #[test]
    fn sampler_variants() {
        let s = |name, arg: Option<&str>| {
            let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
            if let Some(a) = arg {
                vars.push(("OTEL_TRACES_SAMPLER_ARG", a));
            }
            config(&vars).map(|c| c.sampler)
        };
        assert_eq!(s("always_off", None).unwrap(), SamplerConfig::AlwaysOff);
        assert_eq!(
            s("parentbased_traceidratio", Some("0.25")).unwrap(),
            SamplerConfig::ParentBasedTraceIdRatio(0.25)
        );
        assert_eq!(
            s("traceidratio", None).unwrap(),
            SamplerConfig::TraceIdRatio(1.0)
        );
        let err = s("traceidratio", Some("2")).unwrap_err();
        assert!(
            err.to_string().starts_with("OTEL_TRACES_SAMPLER_ARG:"),
            "{err}"
        );
        let err = s("sometimes", None).unwrap_err();
        assert!(err.to_string().contains("got 'sometimes'"), "{err}");
    }

    #[test]
    fn log_settings() {
        let c = config(&[
            ("POOLBROKER_LOG", "warn,poolbroker=debug"),
            ("POOLBROKER_LOG_FORMAT", "Pretty"),
        ])
        .unwrap();
        assert_eq!(c.log_filter.as_str(), "warn,poolbroker=debug");
        assert_eq!(c.log_format, LogFormat::Pretty);
        let err = config(&[("POOLBROKER_LOG", "poolbroker=loud")]).unwrap_err();
        assert!(err.to_string().starts_with("POOLBROKER_LOG:"), "{err}");
        let err = config(&[("POOLBROKER_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(err.to_string().contains("got 'xml'"), "{err}");
    }

    #[test]
    fn timeout() {
        let c = config(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")]).unwrap();
        assert_eq!(c.export_timeout, Duration::from_millis(2500));
        assert!(config(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2s")]).is_err());
    }
}
