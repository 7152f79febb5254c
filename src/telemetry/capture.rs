//! Per-invocation log capture: the handler returns these lines in the invocation response's
//! `Logs`, which the Functions host shows with the invocation.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::{Event, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::format::EventFields;

struct Buffer {
    lines: Vec<String>,
    capacity: usize,
    dropped: usize,
}

/// A bounded buffer of formatted log lines (`LEVEL message key=value…`) for one invocation.
///
/// ```ignore
/// let logs = InvocationLogs::new();
/// let span = telemetry::invocation_span(Trigger::PubSub, "ProcessCommand", &id);
/// logs.scope(&span);
/// async { /* events in here and in child spans are captured */ }.instrument(span).await;
/// response.logs = logs.take();
/// ```
#[derive(Clone)]
pub struct InvocationLogs {
    buffer: Arc<Mutex<Buffer>>,
}

impl Default for InvocationLogs {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InvocationLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.lock();
        f.debug_struct("InvocationLogs")
            .field("lines", &b.lines.len())
            .field("capacity", &b.capacity)
            .field("dropped", &b.dropped)
            .finish()
    }
}

impl InvocationLogs {
    /// Lines kept per invocation by [`InvocationLogs::new`]; later lines are counted, not kept.
    pub const DEFAULT_CAPACITY: usize = 100;

    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(Buffer {
                lines: Vec::new(),
                capacity,
                dropped: 0,
            })),
        }
    }

    /// Captures events emitted inside `span` (and its descendants) into this buffer. Returns
    /// false when the span is disabled or telemetry is not installed (nothing will be captured).
    pub fn scope(&self, span: &tracing::Span) -> bool {
        let sink = CaptureSink(self.clone());
        span.with_subscriber(|(id, dispatch)| {
            let Some(registry) = dispatch.downcast_ref::<Registry>() else {
                return false;
            };
            let Some(span) = registry.span(id) else {
                return false;
            };
            span.extensions_mut().replace(sink);
            true
        })
        .unwrap_or(false)
    }

    /// The captured lines, oldest first, leaving the buffer empty. When lines were dropped
    /// because the buffer was full, a last line says how many.
    pub fn take(&self) -> Vec<String> {
        let mut b = self.lock();
        let mut lines = std::mem::take(&mut b.lines);
        if b.dropped > 0 {
            lines.push(format!(
                "WARN {} more log lines were dropped (limit {} per invocation)",
                b.dropped, b.capacity
            ));
            b.dropped = 0;
        }
        lines
    }

    fn push(&self, line: String) {
        let mut b = self.lock();
        if b.lines.len() < b.capacity {
            b.lines.push(line);
        } else {
            b.dropped += 1;
        }
    }

    /// A panic while holding the lock leaves only whole lines behind, so the data is still
    /// usable: recover it rather than propagate the poison.
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Span extension marking the span whose events go to an [`InvocationLogs`].
struct CaptureSink(InvocationLogs);

/// Routes events to the nearest enclosing span's [`InvocationLogs`].
pub(crate) struct CaptureLayer;

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            let ext = span.extensions();
            if let Some(CaptureSink(logs)) = ext.get::<CaptureSink>() {
                let logs = logs.clone();
                drop(ext);
                let fields = EventFields::of(event);
                logs.push(format!("{} {}", event.metadata().level(), fields.to_line()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_reports_drops() {
        let logs = InvocationLogs::with_capacity(2);
        for i in 0..5 {
            logs.push(format!("INFO line {i}"));
        }
        let lines = logs.take();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "INFO line 0");
        assert!(
            lines[2].contains("3 more log lines were dropped"),
            "{lines:?}"
        );
        assert!(logs.take().is_empty());
    }

    #[test]
    fn survives_a_poisoned_lock() {
        let logs = InvocationLogs::new();
        let clone = logs.clone();
        let _ = std::thread::spawn(move || {
            let _guard = clone.buffer.lock();
            panic!("poison it");
        })
        .join();
        assert!(logs.buffer.is_poisoned());
        logs.push("INFO still works".into());
        assert_eq!(logs.take(), vec!["INFO still works".to_owned()]);
    }

    #[test]
    fn scope_without_subscriber_is_false() {
        let span = tracing::info_span!("x");
        assert!(!InvocationLogs::new().scope(&span));
    }
}
