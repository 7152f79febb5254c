//! W3C trace-context in and out of Service Bus application properties, CloudEvents and HTTP
//! headers.
//!
//! The Functions host sends no `traceparent` header to a custom handler, so the handler reads the
//! context from the payload: `traceparent` (+ `tracestate`) first and `Diagnostic-Id` as the
//! fallback, as the Azure SDK messaging guideline does. Outgoing messages carry both.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::{OpenTelemetrySpanExt, SetParentError};

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";
pub const DIAGNOSTIC_ID: &str = "Diagnostic-Id";

/// The remote parent carried by a message, or `None` when it carries no valid W3C context.
///
/// `lookup` must be case-insensitive over the message's properties (Service Bus / HTTP may change
/// the case of `Diagnostic-Id`). Values may be wrapped in JSON quotes, as the Functions host
/// double-encodes strings; they are unwrapped once. A `Diagnostic-Id` in the legacy
/// hierarchical `|id.1.` format is ignored.
pub fn parent_from_properties(lookup: impl Fn(&str) -> Option<String>) -> Option<Context> {
    let get = |name: &str| lookup(name).map(|v| unquote(&v));
    let tracestate = get(TRACESTATE);
    [get(TRACEPARENT), get(DIAGNOSTIC_ID)]
        .into_iter()
        .flatten()
        .find_map(|traceparent| extract(&traceparent, tracestate.as_deref()))
}

fn extract(traceparent: &str, tracestate: Option<&str>) -> Option<Context> {
    struct Carrier<'a> {
        traceparent: &'a str,
        tracestate: Option<&'a str>,
    }
    impl Extractor for Carrier<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                TRACEPARENT => Some(self.traceparent),
                TRACESTATE => self.tracestate,
                _ => None,
            }
        }
        fn keys(&self) -> Vec<&str> {
            vec![TRACEPARENT, TRACESTATE]
        }
    }
    let cx = TraceContextPropagator::new().extract(&Carrier {
        traceparent,
        tracestate,
    });
    cx.span().span_context().is_valid().then_some(cx)
}

/// `"\"00-…\""` → `00-…`; anything else is only trimmed.
fn unquote(value: &str) -> String {
    let trimmed = value.trim();
    if trimmed.len() >= 2
        && trimmed.starts_with('"')
        && trimmed.ends_with('"')
        && let Ok(inner) = serde_json::from_str::<String>(trimmed)
    {
        return inner.trim().to_owned();
    }
    trimmed.to_owned()
}

/// Makes `cx` the parent of `span` (continuing the caller's trace). Must run before the span is
/// entered for the first time; afterwards the parent cannot change and this logs a warning.
/// Without telemetry installed it does nothing.
pub fn set_parent(span: &tracing::Span, cx: Context) {
    match OpenTelemetrySpanExt::set_parent(span, cx) {
        Ok(()) | Err(SetParentError::LayerNotFound) | Err(SetParentError::SpanDisabled) => {}
        Err(e @ SetParentError::AlreadyStarted) => {
            tracing::warn!(error = %e, "telemetry: parent context set too late; trace continuity lost");
        }
    }
}

/// Links `span` to the span in `cx` (a follow-up invocation pointing back at the invocation that
/// scheduled it). Works before and after the span started; invalid contexts are ignored.
pub fn add_link(span: &tracing::Span, cx: &Context) {
    let span_context = cx.span().span_context().clone();
    if span_context.is_valid() {
        OpenTelemetrySpanExt::add_link(span, span_context);
    }
}

/// The W3C `traceparent` of the current span, for anything the broker sends.
pub fn current_traceparent() -> Option<String> {
    current_headers().remove(TRACEPARENT)
}

/// Application properties for every message the broker sends: `traceparent`, `Diagnostic-Id`
/// (same value, for .NET consumers) and `tracestate` when non-empty. Empty outside a span.
pub fn propagation_properties() -> Vec<(String, String)> {
    let mut headers = current_headers();
    let Some(traceparent) = headers.remove(TRACEPARENT) else {
        return Vec::new();
    };
    let mut props = vec![
        (TRACEPARENT.to_owned(), traceparent.clone()),
        (DIAGNOSTIC_ID.to_owned(), traceparent),
    ];
    if let Some(state) = headers.remove(TRACESTATE).filter(|s| !s.is_empty()) {
        props.push((TRACESTATE.to_owned(), state));
    }
    props
}

fn current_context() -> Context {
    let from_span = tracing::Span::current().context();
    if from_span.span().span_context().is_valid() {
        from_span
    } else {
        Context::current()
    }
}

fn current_headers() -> HashMap<String, String> {
    let cx = current_context();
    let mut headers = HashMap::new();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut headers);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_string())
        }
    }

    fn ids(cx: &Context) -> (String, String) {
        let sc = cx.span().span_context().clone();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    }

    #[test]
    fn traceparent_wins_over_diagnostic_id() {
        let other = "00-11111111111111111111111111111111-2222222222222222-01";
        let cx = parent_from_properties(lookup(&[("Diagnostic-Id", other), ("traceparent", TP)]))
            .unwrap();
        assert_eq!(
            ids(&cx),
            (
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into()
            )
        );
        assert!(cx.span().span_context().is_remote());
    }

    #[test]
    fn diagnostic_id_is_the_fallback_even_double_encoded() {
        let quoted = format!("\"{TP}\"");
        let cx = parent_from_properties(lookup(&[("diagnostic-id", &quoted)])).unwrap();
        assert_eq!(ids(&cx).0, "4bf92f3577b34da6a3ce929d0e0e4736");
        // An invalid traceparent falls through to Diagnostic-Id.
        let cx =
            parent_from_properties(lookup(&[("traceparent", "garbage"), ("Diagnostic-Id", TP)]))
                .unwrap();
        assert_eq!(ids(&cx).1, "00f067aa0ba902b7");
    }

    #[test]
    fn tracestate_is_carried() {
        let cx = parent_from_properties(lookup(&[
            ("traceparent", TP),
            ("tracestate", "\"az=1,x=2\""),
        ]))
        .unwrap();
        assert_eq!(cx.span().span_context().trace_state().header(), "az=1,x=2");
    }

    #[test]
    fn nothing_valid_means_none() {
        assert!(parent_from_properties(lookup(&[])).is_none());
        assert!(parent_from_properties(lookup(&[("Diagnostic-Id", "|abc.1.")])).is_none());
        assert!(
            parent_from_properties(lookup(&[(
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
            )]))
            .is_none()
        );
    }

    #[test]
    fn outside_a_span_nothing_is_propagated() {
        assert_eq!(current_traceparent(), None);
        assert!(propagation_properties().is_empty());
    }
}
