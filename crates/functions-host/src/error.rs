use std::path::PathBuf;

use servicebus_emulator::BrokerError;

/// Everything that stops the host from starting or keeps it from running.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{file}: {field}: {problem}")]
    Config {
        file: PathBuf,
        field: String,
        problem: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP listener on {addr}: {source}")]
    HttpBind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("no free TCP port for the custom handler: {0}")]
    NoFreePort(#[source] std::io::Error),
    #[error("Service Bus queue '{queue}' for function '{function}': {source}")]
    Broker {
        function: String,
        queue: String,
        #[source]
        source: BrokerError,
    },
    #[error(
        "queue '{queue}' (function '{function}'): the trigger has isSessionsEnabled={trigger_sessions} but the queue has requires_session={queue_sessions}"
    )]
    SessionMismatch {
        function: String,
        queue: String,
        trigger_sessions: bool,
        queue_sessions: bool,
    },
    #[error("the custom handler is not running: {0}")]
    HandlerStopped(String),
    #[error("a host task failed: {0}")]
    TaskFailed(String),
    #[error(
        "Exceeded http worker restart retry count. Shutting down Functions Host (last exit: {last_exit}; last stderr lines: {stderr:?})"
    )]
    HandlerRestartLimit {
        last_exit: String,
        stderr: Vec<String>,
    },
}

impl HostError {
    pub(crate) fn stopped(why: impl Into<String>) -> Self {
        Self::HandlerStopped(why.into())
    }

    pub(crate) fn config(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self::Config {
            file: file.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }
}
