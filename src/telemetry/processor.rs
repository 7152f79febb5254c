//! A span processor that scrubs secrets before spans reach the exporter.

use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::redact::{redact_field, redact_text};

/// Wraps the batch processor: every string attribute (span, event, link), event name, span name
/// and status description goes through the same redaction as the logs.
#[derive(Debug)]
pub(crate) struct RedactingProcessor<P> {
    next: P,
}

impl<P> RedactingProcessor<P> {
    pub(crate) fn new(next: P) -> Self {
        Self { next }
    }
}

fn scrub_attributes(attributes: &mut [KeyValue]) {
    for kv in attributes {
        if let Value::String(s) = &kv.value {
            let clean = redact_field(kv.key.as_str(), s.as_str());
            if clean != s.as_str() {
                kv.value = Value::String(clean.into());
            }
        }
    }
}

pub(crate) fn scrub(span: &mut SpanData) {
    if span.name.contains(['=', ':', ' ']) {
        span.name = redact_text(&span.name).into();
    }
    scrub_attributes(&mut span.attributes);
    for event in span.events.events.iter_mut() {
        if event.name.contains(['=', ':', ' ']) {
            event.name = redact_text(&event.name).into();
        }
        scrub_attributes(&mut event.attributes);
    }
    for link in span.links.links.iter_mut() {
        scrub_attributes(&mut link.attributes);
    }
    if let Status::Error { description } = &span.status {
        let clean = redact_text(description);
        if clean != description.as_ref() {
            span.status = Status::error(clean);
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for RedactingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.next.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        scrub(&mut span);
        self.next.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.next.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.next.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.next.set_resource(resource);
    }
}
