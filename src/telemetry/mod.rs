//! Tracing, OpenTelemetry export, W3C propagation and per-invocation log capture.
//!
//! Call [`init`] once at startup with [`TelemetryConfig::from_env`]; keep the [`TelemetryGuard`]
//! and `flush().await` it before each invocation response (consumption plans freeze idle
//! instances) and `shutdown().await` it on SIGTERM.
//!
//! # Environment
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | where spans and metrics go (OTLP/HTTP protobuf). **None set: nothing is exported**, no exporter thread runs. |
//! | `OTEL_SDK_DISABLED` | `true` turns every exporter off |
//! | other `OTEL_*` (`…_HEADERS`, `…_TIMEOUT`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_INTERVAL`) | read by the OpenTelemetry SDK itself, as its documentation says; `service.name` defaults to `poolbroker` |
//! | `POOLBROKER_LOG` | `RUST_LOG`-style log filter for stdout and invocation `Logs` (default `info`); spans at `info` and above are exported regardless |
//! | `POOLBROKER_LOG_FORMAT` | `json` (default; one object per line with `trace_id`/`span_id`) or `pretty` |
//!
//! # Conventions
//!
//! - One [`invocation_span`] per invocation; continue the caller's trace with
//!   [`parent_from_properties`] + [`set_parent`], or [`add_link`] for follow-ups.
//! - ARM calls in [`arm_request_span`]s, Synapse calls in [`synapse_request_span`]s and
//!   token-endpoint calls in [`token_request_span`]s
//!   (`CLIENT`, one builder), Service Bus sends in [`servicebus_send_span`]s (`PRODUCER`);
//!   failures through [`record_error`].
//! - Every message the broker sends carries [`propagation_properties`].
//! - URLs are recorded through [`redact_url`]. As a backstop, logs, captured lines and exported
//!   spans are scrubbed: fields named like secrets (`authorization`, `token`, `sig`, …) are
//!   blanked, and URLs, `Bearer …` and `password=…`-style pairs in text are redacted.

mod capture;
mod config;
mod error;
mod format;
mod install;
mod metrics;
mod processor;
mod propagation;
mod redact;
mod server_timing;
mod span_fields;
mod spans;

pub use capture::InvocationLogs;
pub use config::{LogFilter, LogFormat, TelemetryConfig};
pub use error::TelemetryError;
pub use install::{TelemetryGuard, init, init_with_writer};
pub use metrics::{Metrics, metrics};
pub use propagation::{
    DIAGNOSTIC_ID, TRACEPARENT, TRACESTATE, add_link, current_traceparent, parent_from_properties,
    propagation_properties, set_parent,
};
pub use redact::{REDACTED, is_sensitive_key, redact_text, redact_url};
pub use server_timing::{ServerTiming, add_arm_wait, measure};
pub use spans::{
    Trigger, arm_request_span, fields, invocation_span, record_error, servicebus_send_span,
    synapse_request_span, token_request_span,
};
