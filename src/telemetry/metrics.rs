//! The broker's few metrics. Without a metric exporter every method is a no-op that costs one
//! atomic load.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};

pub const COMMANDS: &str = "poolbroker.commands";
pub const ARM_REQUEST_DURATION: &str = "poolbroker.arm.request.duration";
pub const ARM_RETRIES: &str = "poolbroker.arm.retries";

/// OpenTelemetry's recommended HTTP duration buckets, in seconds.
const DURATION_BUCKETS_S: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0,
];

struct Instruments {
    commands: Counter<u64>,
    arm_request_duration: Histogram<f64>,
    arm_retries: Counter<u64>,
}

/// Handle to the process-wide instruments; get it with [`metrics`].
pub struct Metrics {
    instruments: OnceLock<Instruments>,
}

static METRICS: Metrics = Metrics {
    instruments: OnceLock::new(),
};

/// The process-wide metrics. Usable before and without `telemetry::init` (then no-ops).
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    /// Counts one executed command: `poolbroker.commands{poolbroker.command.kind, poolbroker.outcome}`.
    pub fn record_command(&self, kind: &str, outcome: &str) {
        if let Some(i) = self.instruments.get() {
            i.commands.add(
                1,
                &[
                    KeyValue::new("poolbroker.command.kind", kind.to_owned()),
                    KeyValue::new("poolbroker.outcome", outcome.to_owned()),
                ],
            );
        }
    }

    /// Records one ARM request attempt: `poolbroker.arm.request.duration` in seconds with
    /// `http.request.method` and `http.response.status_code` (absent when no response came
    /// back, e.g. a connection error).
    pub fn record_arm_request(&self, method: &str, status: Option<u16>, duration: Duration) {
        if let Some(i) = self.instruments.get() {
            let mut attrs = vec![KeyValue::new("http.request.method", method.to_owned())];
            if let Some(status) = status {
                attrs.push(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
            }
            i.arm_request_duration
                .record(duration.as_secs_f64(), &attrs);
        }
    }

    /// Counts one ARM retry (`poolbroker.arm.retries`).
    pub fn record_arm_retry(&self) {
        if let Some(i) = self.instruments.get() {
            i.arm_retries.add(1, &[]);
        }
    }

    /// Whether a metric exporter is behind these instruments.
    pub fn is_enabled(&self) -> bool {
        self.instruments.get().is_some()
    }

    pub(crate) fn install(&self, meter: &Meter) {
        // A second install keeps the first instruments, which point at the installed provider.
        let _ = self.instruments.set(Instruments {
            commands: meter
                .u64_counter(COMMANDS)
                .with_description("Commands executed, by kind and outcome")
                .build(),
            arm_request_duration: meter
                .f64_histogram(ARM_REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of ARM HTTP requests")
                .with_boundaries(DURATION_BUCKETS_S.to_vec())
                .build(),
            arm_retries: meter
                .u64_counter(ARM_RETRIES)
                .with_description("ARM requests retried after a transient failure")
                .build(),
        });
    }
}
