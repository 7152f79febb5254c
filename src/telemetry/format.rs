//! Log line formatting shared by stdout and the per-invocation capture.
//!
//! Every value passes through [`redact_field`], so a secret that slips into a log call is blanked
//! before it reaches stdout or the Functions host.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::config::LogFormat;
use super::redact::{REDACTED, is_sensitive_key, redact_field};
use super::span_fields::as_object;

/// An event's `message` and its other fields, already redacted.
#[derive(Default)]
pub(crate) struct EventFields {
    pub(crate) message: Option<String>,
    pub(crate) fields: Map<String, Value>,
}

impl EventFields {
    pub(crate) fn of(event: &Event<'_>) -> Self {
        let mut visitor = Self::default();
        event.record(&mut visitor);
        visitor
    }

    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let value = match value {
            Value::String(s) => Value::String(redact_field(name, &s)),
            _ if is_sensitive_key(name) => Value::String(REDACTED.to_owned()),
            other => other,
        };
        if name == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else if !name.starts_with("log.") {
            self.fields.insert(name.to_owned(), value);
        }
    }

    /// `message key=value key2=value2`
    pub(crate) fn to_line(&self) -> String {
        let mut line = self.message.clone().unwrap_or_default();
        for (k, v) in &self.fields {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(k);
            line.push('=');
            match v {
                Value::String(s) => line.push_str(s),
                other => line.push_str(&other.to_string()),
            }
        }
        line
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

/// The active OpenTelemetry ids, if any. Read from the attached context (tracing-opentelemetry
/// attaches it when a span is entered) rather than from the span itself: asking the span would
/// start it, after which the handler could no longer set its remote parent.
fn current_ids() -> Option<(String, String)> {
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// `{"name": …, <recorded fields, redacted>}`; `recorded` holds the JSON members
/// [`AppendJsonFields`](super::span_fields::AppendJsonFields) kept.
fn span_json(name: &str, recorded: Option<&str>) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), name.into());
    let parsed = recorded.map(|members| serde_json::from_str::<Value>(&as_object(members)));
    if let Some(Ok(Value::Object(map))) = parsed {
        for (k, v) in map {
            let v = match v {
                Value::String(sv) => Value::String(redact_field(&k, &sv)),
                other => other,
            };
            obj.insert(k, v);
        }
    }
    Value::Object(obj)
}

/// stdout formatter: JSON lines or human-readable lines.
pub(crate) struct LineFormat {
    pub(crate) format: LogFormat,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let fields = EventFields::of(event);
        let ids = current_ids();
        match self.format {
            LogFormat::Json => {
                let mut obj = Map::new();
                obj.insert("timestamp".into(), now_rfc3339().into());
                obj.insert("level".into(), meta.level().as_str().into());
                obj.insert("target".into(), meta.target().into());
                if let Some((trace_id, span_id)) = ids {
                    obj.insert("trace_id".into(), trace_id.into());
                    obj.insert("span_id".into(), span_id.into());
                }
                obj.insert(
                    "message".into(),
                    fields.message.clone().unwrap_or_default().into(),
                );
                if !fields.fields.is_empty() {
                    obj.insert("fields".into(), Value::Object(fields.fields));
                }
                if let Some(scope) = ctx.event_scope() {
                    let spans: Vec<Value> = scope
                        .from_root()
                        .map(|span| {
                            let ext = span.extensions();
                            let recorded =
                                ext.get::<FormattedFields<N>>().map(|f| f.fields.as_str());
                            span_json(span.name(), recorded)
                        })
                        .collect();
                    if !spans.is_empty() {
                        obj.insert("spans".into(), Value::Array(spans));
                    }
                }
                let line = serde_json::to_string(&obj).map_err(|_| fmt::Error)?;
                writeln!(writer, "{line}")
            }
            LogFormat::Pretty => {
                write!(
                    writer,
                    "{} {:>5} {}",
                    now_rfc3339(),
                    meta.level(),
                    meta.target()
                )?;
                if let Some(scope) = ctx.event_scope() {
                    let names: Vec<&str> = scope.from_root().map(|s| s.name()).collect();
                    write!(writer, " [{}]", names.join(":"))?;
                }
                write!(writer, ": {}", fields.to_line())?;
                if let Some((trace_id, _)) = ids {
                    write!(writer, " trace_id={trace_id}")?;
                }
                writeln!(writer)
            }
        }
    }
}
