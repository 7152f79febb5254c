//! Span fields for the log lines, kept as JSON object members (`"k":v,"k2":v2`) that are only
//! ever appended to.
//!
//! tracing-subscriber's `JsonFields` re-parses and re-serialises a span's whole field set on
//! every `Span::record`; invocation and ARM spans record a field at a time, so that cost grew
//! with every attribute and showed up as ~9 % of the handler's CPU per command. Appending is
//! O(new fields); the log formatter wraps the members in braces and parses them once, when a
//! line is actually written, where a later member of the same name wins.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::Writer;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct AppendJsonFields;

impl<'writer> FormatFields<'writer> for AppendJsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut writer = writer;
        writer.write_str(&members_of(fields)?)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let members = members_of(fields)?;
        if !members.is_empty() && !current.fields.is_empty() {
            current.fields.push(',');
        }
        current.fields.push_str(&members);
        Ok(())
    }
}

/// `"k":v,"k2":v2` for the recorded fields.
fn members_of(fields: impl RecordFields) -> Result<String, fmt::Error> {
    let mut members = Members {
        out: String::new(),
        result: Ok(()),
    };
    fields.record(&mut members);
    members.result.map(|()| members.out)
}

/// The members as a JSON object, ready to parse: `{` + members + `}`.
pub(crate) fn as_object(members: &str) -> String {
    let mut object = String::with_capacity(members.len() + 2);
    object.push('{');
    object.push_str(members);
    object.push('}');
    object
}

struct Members {
    out: String,
    result: fmt::Result,
}

impl Members {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut String) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        if !self.out.is_empty() {
            self.out.push(',');
        }
        self.result = push_json_string(&mut self.out, field.name()).and_then(|()| {
            self.out.push(':');
            value(&mut self.out)
        });
    }
}

fn push_json_string(out: &mut String, s: &str) -> fmt::Result {
    let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
    out.push_str(&quoted);
    Ok(())
}

impl Visit for Members {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| push_json_string(out, value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinities.
        if value.is_finite() {
            self.member(field, |out| write!(out, "{value}"));
        } else {
            self.member(field, |out| push_json_string(out, &value.to_string()));
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |out| push_json_string(out, &value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| push_json_string(out, &format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::registry::LookupSpan;

    /// Records what the fmt layer kept for the span when it closes.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Kept {
        fn on_close(&self, id: tracing::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
            if let Some(span) = ctx.span(&id)
                && let Some(f) = span.extensions().get::<FormattedFields<AppendJsonFields>>()
                && let Ok(mut kept) = self.0.lock()
            {
                kept.push(f.fields.clone());
            }
        }
    }

    /// The fields the fmt layer kept for each span that closed while `spans` ran.
    fn kept_while(spans: impl FnOnce()) -> Vec<String> {
        let kept = Kept::default();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(AppendJsonFields)
                    .with_writer(std::io::sink),
            )
            .with(kept.clone());
        tracing::subscriber::with_default(subscriber, spans);
        kept.0.lock().map(|k| k.clone()).unwrap_or_default()
    }

    #[test]
    fn fields_recorded_later_are_appended_and_the_latest_value_wins() {
        let kept = kept_while(|| {
            let span = tracing::info_span!(
                "invocation",
                kind = "AttachPool",
                outcome = tracing::field::Empty,
                count = tracing::field::Empty,
                ratio = 0.5,
                quoted = "say \"hi\"\n"
            );
            span.record("outcome", "pending");
            span.record("count", 3_u64);
            span.record("outcome", "succeeded");
            drop(span);
        });
        assert_eq!(kept.len(), 1, "{kept:?}");
        let parsed: Value = serde_json::from_str(&as_object(&kept[0])).expect("valid JSON");
        assert_eq!(
            parsed,
            json!({"kind": "AttachPool", "ratio": 0.5, "quoted": "say \"hi\"\n",
                   "outcome": "succeeded", "count": 3})
        );
    }

    #[test]
    fn non_finite_floats_stay_valid_json() {
        let kept = kept_while(|| drop(tracing::info_span!("s", x = f64::INFINITY)));
        let parsed: Value = serde_json::from_str(&as_object(&kept[0])).expect("valid JSON");
        assert_eq!(parsed, json!({"x": "inf"}));
    }
}
