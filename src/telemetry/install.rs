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
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::TelemetryError;
use super::capture::CaptureLayer;
use super::config::{SamplerConfig, TelemetryConfig};
use super::format::LineFormat;
use super::metrics::metrics;
use super::processor::RedactingProcessor;

const SCOPE: &str = "poolbroker";

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
        .fmt_fields(JsonFields::new())
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

fn resource(config: &TelemetryConfig) -> Resource {
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            config
                .resource_attributes
                .iter()
                .filter(|(k, _)| k != "service.name")
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_service_name(config.service_name.clone())
        .build()
}

fn sampler(config: SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

/// Without an endpoint the provider has no processor: spans still get ids (so `traceparent`
/// propagates and logs carry `trace_id`), but nothing is queued, no thread runs, nothing is sent.
fn tracer_provider(
    config: &TelemetryConfig,
    resource: Resource,
) -> Result<SdkTracerProvider, TelemetryError> {
    let builder = SdkTracerProvider::builder()
        .with_sampler(sampler(config.sampler))
        .with_resource(resource);
    let Some(endpoint) = &config.traces_endpoint else {
        return Ok(builder.build());
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint.as_str())
        .with_timeout(config.export_timeout)
        .with_headers(config.headers_exposed())
        .build()
        .map_err(|e| TelemetryError::Exporter {
            signal: "trace",
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
    let batch = BatchSpanProcessor::builder(exporter).build();
    Ok(builder
        .with_span_processor(RedactingProcessor::new(batch))
        .build())
}

fn meter_provider(
    config: &TelemetryConfig,
    resource: Resource,
) -> Result<Option<SdkMeterProvider>, TelemetryError> {
    let Some(endpoint) = &config.metrics_endpoint else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint.as_str())
        .with_timeout(config.export_timeout)
        .with_headers(config.headers_exposed())
        .build()
        .map_err(|e| TelemetryError::Exporter {
            signal: "metric",
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        })?;
    Ok(Some(
        SdkMeterProvider::builder()
            .with_resource(resource)
            .with_periodic_exporter(exporter)
            .build(),
    ))
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
