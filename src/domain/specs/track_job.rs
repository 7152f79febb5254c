//! `TrackSparkJob`: the follow-up the broker schedules to itself after submitting a Spark job,
//! to read its status again later instead of blocking an invocation. It must survive a
//! serialize → parse round trip unchanged.

use serde_json::{Map, Value, json};
use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

use super::await_operation::{EncodeError, ReplyRoute};
use crate::domain::field_error::{FieldErrors, quote};
use crate::domain::reader::{Fields, type_name};
use crate::domain::spark::JobName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSparkJob {
    pub job: JobName,
    pub reply: ReplyRoute,
    /// Give up (and reply Failed) after this instant.
    pub deadline: OffsetDateTime,
    /// 1 for the first follow-up.
    pub attempt: u32,
    /// The status seen when this follow-up was scheduled (for the CLI and logs).
    pub last_status: Option<String>,
}

impl TrackSparkJob {
    pub fn to_spec_json(&self) -> Result<Value, EncodeError> {
        // RFC 3339 cannot express offsets with seconds; UTC keeps the instant.
        let deadline = self
            .deadline
            .format(&Rfc3339)
            .or_else(|_| self.deadline.to_offset(UtcOffset::UTC).format(&Rfc3339))
            .map_err(|_| EncodeError {
                deadline: self.deadline.to_string(),
            })?;
        let mut reply = Map::new();
        if let Some(to) = &self.reply.reply_to {
            reply.insert("replyTo".into(), json!(to));
        }
        reply.insert("correlationId".into(), json!(self.reply.correlation_id));
        let mut m = Map::new();
        m.insert("job".into(), json!(self.job.as_str()));
        m.insert("reply".into(), Value::Object(reply));
        m.insert("deadline".into(), json!(deadline));
        m.insert("attempt".into(), json!(self.attempt));
        if let Some(status) = &self.last_status {
            m.insert("lastStatus".into(), json!(status));
        }
        Ok(Value::Object(m))
    }
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<TrackSparkJob> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(&["job", "reply", "deadline", "attempt", "lastStatus"], errs);
    let job = f.required_str("job", errs).and_then(|s| {
        JobName::parse(s)
            .map_err(|e| errs.push(f.path("job"), e.to_string()))
            .ok()
    });
    let reply = f
        .required("reply", errs)
        .and_then(|v| parse_reply(v, &f.path("reply"), errs));
    let deadline = f.required_str("deadline", errs).and_then(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| {
                errs.push(
                    f.path("deadline"),
                    format!(
                        "expected an RFC 3339 timestamp like 2025-12-01T10:00:00Z; got {} ({e})",
                        quote(s)
                    ),
                );
            })
            .ok()
    });
    let attempt = f.required("attempt", errs).and_then(|v| {
        let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
        if n.is_none() {
            errs.push(
                f.path("attempt"),
                format!(
                    "expected a whole number from 0 to {}, got {}",
                    u32::MAX,
                    match v {
                        Value::Number(n) => n.to_string(),
                        other => type_name(other).to_owned(),
                    }
                ),
            );
        }
        n
    });
    let last_status = f.optional_str("lastStatus", errs).map(str::to_owned);
    Some(TrackSparkJob {
        job: job?,
        reply: reply?,
        deadline: deadline?,
        attempt: attempt?,
        last_status,
    })
}

fn parse_reply(v: &Value, path: &str, errs: &mut FieldErrors) -> Option<ReplyRoute> {
    let f = Fields::of(v, path, errs)?;
    f.deny_unknown(&["replyTo", "correlationId"], errs);
    let reply_to = f.optional_str("replyTo", errs).map(str::to_owned);
    let correlation_id = match f.required_str("correlationId", errs) {
        Some("") => {
            errs.push(f.path("correlationId"), "must not be empty");
            None
        }
        other => other.map(str::to_owned),
    };
    Some(ReplyRoute {
        reply_to,
        correlation_id: correlation_id?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Command, Envelope, parse_command};

    fn sample() -> TrackSparkJob {
        TrackSparkJob {
            job: JobName::parse("pb-0123456789abcdef01234567").unwrap(),
            reply: ReplyRoute {
                reply_to: Some("pool-replies".into()),
                correlation_id: "corr-1".into(),
            },
            deadline: OffsetDateTime::parse("2025-12-01T10:00:00.5+01:00", &Rfc3339).unwrap(),
            attempt: 3,
            last_status: Some("Running".into()),
        }
    }

    #[test]
    fn round_trips_through_the_envelope() {
        let env = Envelope::new(Command::TrackSparkJob(sample()));
        let back = parse_command(&env.to_bytes().unwrap(), None).unwrap();
        assert_eq!(back.command, Command::TrackSparkJob(sample()));
        assert_eq!(back.command.kind(), "TrackSparkJob");
    }

    #[test]
    fn every_bad_field_is_named() {
        let body = json!({
            "apiVersion": "poolbroker/v1",
            "kind": "TrackSparkJob",
            "spec": {"job": "-bad", "reply": {"correlationId": ""}, "deadline": "soon", "attempt": -1, "x": 1}
        });
        let err = parse_command(body.to_string().as_bytes(), None).unwrap_err();
        let paths: Vec<&str> = err.field_errors().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.x",
                "spec.job",
                "spec.reply.correlationId",
                "spec.deadline",
                "spec.attempt"
            ]
        );
    }
}
