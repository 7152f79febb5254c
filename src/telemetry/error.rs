/// Why telemetry could not be configured, installed, flushed or shut down.
///
/// Messages name the variable and the problem; they never echo a header value.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{var}: {problem}")]
    InvalidEnv { var: &'static str, problem: String },
    #[error("building the OTLP {signal} exporter for {endpoint}: {message}")]
    Exporter {
        signal: &'static str,
        endpoint: String,
        message: String,
    },
    #[error("a global tracing subscriber is already installed (not by telemetry::init): {0}")]
    SubscriberAlreadySet(String),
    #[error("flushing telemetry: {0}")]
    Flush(String),
    #[error("shutting telemetry down: {0}")]
    Shutdown(String),
}

impl TelemetryError {
    pub(crate) fn env(var: &'static str, problem: impl Into<String>) -> Self {
        Self::InvalidEnv {
            var,
            problem: problem.into(),
        }
    }
}
