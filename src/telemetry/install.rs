//! Installing the global subscriber, the tracer and meter providers, and the guard that flushes
//! them.

use std::sync::{Mutex, PoisonError};

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::TelemetryError;
use super::capture::CaptureLayer;
use super::config::{Export, TelemetryConfig, exposed, signal_url};
use super::format::LineFormat;
use super::metrics::metrics;
use super::processor::RedactingProcessor;
use super::span_fields::AppendJsonFields;

const SCOPE: &str = "poolbroker";
/// `service.name` when neither the config nor the environment names the service.
const DEFAULT_SERVICE_NAME: &str = "poolbroker";

#[derive(Clone)]
struct Installed {
    tracer_provider: SdkTracerProvider,
    meter_provider: Option<SdkMeterProvider>,
    exports_traces: bool,
}

static INSTALLED: Mutex<Option<Installed>> = Mutex::new(None);

/// Keeps the providers reachable for flushing. Dropping it does **not** shut anything down
/// (the global subscriber keeps the providers alive); call [`TelemetryGuard::shutdown`].
#[must_use = "keep the guard to flush telemetry before responses and at shutdown"]
pub struct TelemetryGuard {
    installed: Installed,
    reused: bool,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("exports_traces", &self.installed.exports_traces)
            .field("exports_metrics", &self.installed.meter_provider.is_some())
            .field("reused", &self.reused)
            .finish()
    }
}

/// Installs telemetry for the process: the global `tracing` subscriber (logs to stdout in
/// `config.log_format`, filtered by `config.log_filter`), the OpenTelemetry layer (spans get
/// W3C ids always; they are exported over OTLP/HTTP protobuf only when an endpoint is set), the
/// metric exporter, per-invocation log capture and the global W3C `TraceContextPropagator`.
///
/// Calling it again in the same process returns a guard for the first installation and ignores
/// the new `config` (see [`TelemetryGuard::is_reused`]).
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    init_with_writer(config, std::io::stdout)
}

/// [`init`] with log lines written to `writer` instead of stdout (tests capture them this way).
pub fn init_with_writer<W>(
    config: &TelemetryConfig,
    writer: W,
) -> Result<TelemetryGuard, TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let mut slot = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(installed) = slot.as_ref() {
        return Ok(TelemetryGuard {
            installed: installed.clone(),
            reused: true,
        });
    }

    let resource = resource(config);
    let tracer_provider = tracer_provider(config, resource.clone())?;
    let meter_provider = meter_provider(config, resource)?;

    subscriber(config, writer, &tracer_provider)
        .try_init()
        .map_err(|e| TelemetryError::SubscriberAlreadySet(e.to_string()))?;

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    if let Some(mp) = &meter_provider {
        opentelemetry::global::set_meter_provider(mp.clone());
        metrics().install(&mp.meter(SCOPE));
    }

    let installed = Installed {
        tracer_provider,
        meter_provider,
        exports_traces: config.exports_traces(),
    };
    *slot = Some(installed.clone());
    Ok(TelemetryGuard {
        installed,
        reused: false,
    })
}

/// The layered subscriber `init` installs globally (tests install it per thread).
pub(crate) fn subscriber<W>(
    config: &TelemetryConfig,
    writer: W,
    tracer_provider: &SdkTracerProvider,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer_provider.tracer(SCOPE))
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Spans are exported whatever the log level; debug/trace spans are not.
        .with_filter(Targets::new().with_default(LevelFilter::INFO));

    let log_filter = config.log_filter.to_env_filter();
    let max_log_level = log_filter.max_level_hint().unwrap_or(LevelFilter::INFO);
    let fmt_layer = tracing_subscriber::fmt::layer()
        .event_format(LineFormat {
            format: config.log_format,
        })
        .fmt_fields(AppendJsonFields)
        .with_writer(writer)
        .with_filter(log_filter);
    // The capture layer must see invocation spans even when the log filter hides their level.
    let capture_layer = CaptureLayer.with_filter(filter_fn(move |meta| {
        meta.is_span() || *meta.level() <= max_log_level
    }));

    tracing_subscriber::registry()
        .with(otel_layer)
        .with(fmt_layer)
        .with(capture_layer)
}

/// The SDK's resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `telemetry.sdk.*`), plus
/// `service.version`, what the config sets in code, and `service.name = poolbroker` when nothing
/// names the service.
fn resource(config: &TelemetryConfig) -> Resource {
    let builder = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
    match &config.service_name {
        Some(name) => builder.with_service_name(name.clone()),
        None if service_named_in_environment() => builder,
        None => builder.with_service_name(DEFAULT_SERVICE_NAME),
    }
    .build()
}

/// Whether `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` names the service (the SDK reads it).
fn service_named_in_environment() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    set("OTEL_SERVICE_NAME")
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
            v.split(',')
                .any(|pair| pair.trim_start().starts_with("service.name="))
        })
}

/// Without an endpoint the provider has no processor: spans still get ids (so `traceparent`
/// propagates and logs carry `trace_id`), but nothing is queued, no thread runs, nothing is sent.
/// The sampler is the SDK's (`OTEL_TRACES_SAMPLER`, default parent-based always-on).
fn tracer_provider(
    config: &TelemetryConfig,
    resource: Resource,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    let exporter = match &config.export {
        Export::Environment { traces: true, .. } => exporter.build(),
        Export::Endpoint { base, headers } => exporter
            .with_endpoint(signal_url(base, "v1/traces").as_str())
            .with_headers(exposed(headers))
            .build(),
        Export::Nowhere | Export::Environment { traces: false, .. } => {
            return Ok(builder.build());
        }
    }
    .map_err(|e| exporter_error("trace", config, e))?;
    let batch = BatchSpanProcessor::builder(exporter).build();
    Ok(builder
        .with_span_processor(RedactingProcessor::new(batch))
        .build())
}

fn meter_provider(
    config: &TelemetryConfig,
    resource: Resource,
) -> Result<Option<SdkMeterProvider>, TelemetryError> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    let exporter = match &config.export {
        Export::Environment { metrics: true, .. } => exporter.build(),
        Export::Endpoint { base, headers } => exporter
            .with_endpoint(signal_url(base, "v1/metrics").as_str())
            .with_headers(exposed(headers))
            .build(),
        Export::Nowhere | Export::Environment { metrics: false, .. } => return Ok(None),
    }
    .map_err(|e| exporter_error("metric", config, e))?;
    Ok(Some(
        SdkMeterProvider::builder()
            .with_resource(resource)
            .with_periodic_exporter(exporter)
            .build(),
    ))
}

fn exporter_error(
    signal: &'static str,
    config: &TelemetryConfig,
    error: impl std::fmt::Display,
) -> TelemetryError {
    TelemetryError::Exporter {
        signal,
        endpoint: match &config.export {
            Export::Endpoint { base, .. } => base.to_string(),
            _ => "the OTEL_EXPORTER_OTLP_* settings".to_owned(),
        },
        message: error.to_string(),
    }
}

impl TelemetryGuard {
    /// Exports everything buffered so far. Call it before returning an invocation response:
    /// Functions consumption plans freeze idle instances, and a frozen batch thread exports
    /// nothing. The blocking export runs on tokio's blocking pool; without an exporter this
    /// returns at once.
    pub async fn flush(&self) -> Result<(), TelemetryError> {
        if !self.installed.exports_traces && self.installed.meter_provider.is_none() {
            return Ok(());
        }
        let installed = self.installed.clone();
        run_blocking(move || {
            let traces = installed
                .tracer_provider
                .force_flush()
                .map_err(|e| TelemetryError::Flush(format!("traces: {e}")));
            let metrics = match &installed.meter_provider {
                Some(mp) => mp
                    .force_flush()
                    .map_err(|e| TelemetryError::Flush(format!("metrics: {e}"))),
                None => Ok(()),
            };
            traces.and(metrics)
        })
        .await
        .unwrap_or_else(|e| Err(TelemetryError::Flush(e)))
    }

    /// Flushes and stops the exporters (on SIGTERM from the Functions host). Spans created
    /// afterwards are not exported.
    pub async fn shutdown(self) -> Result<(), TelemetryError> {
        let installed = self.installed;
        run_blocking(move || {
            let traces = installed
                .tracer_provider
                .shutdown()
                .map_err(|e| TelemetryError::Shutdown(format!("traces: {e}")));
            let metrics = match &installed.meter_provider {
                Some(mp) => mp
                    .shutdown()
                    .map_err(|e| TelemetryError::Shutdown(format!("metrics: {e}"))),
                None => Ok(()),
            };
            traces.and(metrics)
        })
        .await
        .unwrap_or_else(|e| Err(TelemetryError::Shutdown(e)))
    }

    /// True when this guard came from a repeated [`init`] call (its config was ignored).
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// Whether spans leave the process.
    pub fn exports_traces(&self) -> bool {
        self.installed.exports_traces
    }

    /// Whether metrics leave the process.
    pub fn exports_metrics(&self) -> bool {
        self.installed.meter_provider.is_some()
    }
}

/// Runs a blocking SDK call off the async workers when a tokio runtime is around.
async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| format!("blocking task failed: {e}")),
        Err(_) => Ok(f()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::telemetry::{InvocationLogs, Trigger, invocation_span, parent_from_properties};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Runs `f` under the subscriber `init` would install for `vars`, without an endpoint.
    fn with_telemetry<T>(vars: &[(&str, &str)], f: impl FnOnce() -> T) -> (T, String) {
        let config = TelemetryConfig::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert!(!config.exports_traces());
        let provider = tracer_provider(&config, resource(&config)).unwrap();
        let buf = Buf::default();
        let writer = buf.clone();
        let sub = subscriber(&config, move || writer.clone(), &provider);
        let out = tracing::subscriber::with_default(sub, f);
        (out, buf.text())
    }

    fn invocation_with_parent() -> tracing::Span {
        let span = invocation_span(Trigger::PubSub, "ProcessCommand", "inv-1");
        let parent = parent_from_properties(|k| (k == "traceparent").then(|| TP.to_owned()));
        crate::telemetry::set_parent(&span, parent.unwrap());
        span
    }

    #[test]
    fn without_endpoint_ids_still_propagate_into_logs_and_messages() {
        let (traceparent, out) = with_telemetry(&[], || {
            let span = invocation_with_parent();
            let _e = span.enter();
            tracing::info!(token = "t0k3n", "hello");
            crate::telemetry::current_traceparent()
        });
        let traceparent = traceparent.expect("traceparent without an exporter");
        assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["span_id"], traceparent[36..52]);
        assert_eq!(line["fields"]["token"], crate::telemetry::REDACTED);
        assert_eq!(line["spans"][0]["name"], "invocation");
        assert_eq!(line["spans"][0]["faas.trigger"], "pubsub");
    }

    #[test]
    fn pretty_format_is_one_readable_line() {
        let ((), out) = with_telemetry(&[("POOLBROKER_LOG_FORMAT", "pretty")], || {
            let span = invocation_with_parent();
            let _e = span.enter();
            tracing::warn!(pool = "p1", "retrying https://h/x?sig=abc&api-version=1");
        });
        let line = out.lines().next().unwrap();
        assert!(line.contains(" WARN poolbroker::telemetry::install::tests [invocation]: retrying https://h/x?api-version=1 pool=p1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736"), "{line}");
        assert!(!line.contains("sig=abc"));
    }

    #[test]
    fn capture_sees_warnings_of_an_info_span_hidden_by_the_log_filter() {
        let (lines, out) = with_telemetry(&[("POOLBROKER_LOG", "warn")], || {
            let span = invocation_with_parent();
            let logs = InvocationLogs::new();
            assert!(logs.scope(&span));
            let _e = span.enter();
            tracing::info!("too chatty");
            tracing::warn!(attempt = 2, "throttled");
            tracing::debug_span!("inner").in_scope(|| tracing::error!("failed"));
            logs.take()
        });
        assert_eq!(lines, vec!["WARN throttled attempt=2", "ERROR failed"]);
        assert!(!out.contains("too chatty"));
        assert_eq!(out.lines().count(), 2, "{out}");
    }
}
