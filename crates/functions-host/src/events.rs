use std::time::Duration;

/// Severity of a [`HostEvent::Log`] line, named as the Functions host names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Information,
    Warning,
    Error,
}

/// How the host settled a Service Bus message after an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Completed,
    Abandoned,
    /// Settling failed because the lock had expired: the broker has already made the message
    /// available again, so the handler's work may run twice.
    LockLost,
}

/// Observable things the host does; subscribe with [`crate::RunningHost::subscribe`].
#[derive(Debug, Clone)]
pub enum HostEvent {
    HandlerStarted {
        pid: u32,
        port: u16,
    },
    HandlerReady {
        port: u16,
        after: Duration,
    },
    /// `code` is `None` when the process ended by a signal (including our own kill).
    HandlerExited {
        code: Option<i32>,
    },
    InvocationCompleted {
        function: String,
        invocation_id: String,
        succeeded: bool,
        detail: String,
        duration: Duration,
    },
    MessageSettled {
        queue: String,
        message_id: String,
        delivery_count: u32,
        action: Settlement,
    },
    TimerFired {
        function: String,
        past_due: bool,
    },
    Log {
        /// `"handler"` for the process' stdout/stderr, `"host"` for the host itself, else the
        /// function name (the handler's `Logs`).
        source: String,
        level: LogLevel,
        line: String,
    },
}

/// The host's side of the event channel; every event is also traced.
#[derive(Clone)]
pub(crate) struct Events(tokio::sync::broadcast::Sender<HostEvent>);

impl Events {
    pub fn new() -> Self {
        Self(tokio::sync::broadcast::channel(4096).0)
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<HostEvent> {
        self.0.subscribe()
    }

    pub fn emit(&self, event: HostEvent) {
        // No subscriber is fine: events are an observation aid, not a control path.
        let _ = self.0.send(event);
    }

    pub fn log(&self, source: &str, level: LogLevel, line: impl Into<String>) {
        let line = line.into();
        match level {
            LogLevel::Debug => tracing::debug!(source, "{line}"),
            LogLevel::Information => tracing::info!(source, "{line}"),
            LogLevel::Warning => tracing::warn!(source, "{line}"),
            LogLevel::Error => tracing::error!(source, "{line}"),
        }
        self.emit(HostEvent::Log {
            source: source.to_owned(),
            level,
            line,
        });
    }
}
