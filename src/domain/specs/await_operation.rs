//! `AwaitOperation`: the follow-up the broker schedules to itself when an ARM long-running
//! operation outlives one invocation. It must survive a serialize → parse round trip unchanged.

use serde_json::{Map, Value, json};
use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

use super::compute_name;
use crate::domain::compute_name::ComputeName;
use crate::domain::field_error::{FieldErrors, quote};
use crate::domain::reader::{Fields, type_name};

/// Which polling protocol the URL speaks (ARM LRO, §2 of the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// `Azure-AsyncOperation`: 200 + `{status}` until terminal.
    AsyncOperation,
    /// `Location`: 202 while running, then 200/204.
    Location,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsyncOperation => "AsyncOperation",
            Self::Location => "Location",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRef {
    /// Absolute http(s) URL, kept byte-for-byte (ARM says treat it as opaque).
    pub url: String,
    pub kind: OperationKind,
}

/// What the operation was doing, so the follow-up can finish the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingAction {
    Attach { name: ComputeName },
    UpdateIdentity { name: ComputeName },
    Detach { name: ComputeName },
}

impl PendingAction {
    pub fn name(&self) -> &ComputeName {
        match self {
            Self::Attach { name } | Self::UpdateIdentity { name } | Self::Detach { name } => name,
        }
    }

    /// The command kind whose reply this completes.
    pub fn command_kind(&self) -> &'static str {
        match self {
            Self::Attach { .. } => "AttachPool",
            Self::UpdateIdentity { .. } => "UpdatePoolIdentity",
            Self::Detach { .. } => "DetachPool",
        }
    }

    fn type_str(&self) -> &'static str {
        match self {
            Self::Attach { .. } => "Attach",
            Self::UpdateIdentity { .. } => "UpdateIdentity",
            Self::Detach { .. } => "Detach",
        }
    }
}

/// Where the eventual reply goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRoute {
    pub reply_to: Option<String>,
    pub correlation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitOperation {
    pub operation: OperationRef,
    pub action: PendingAction,
    pub reply: ReplyRoute,
    /// Give up (and reply Failed) after this instant.
    pub deadline: OffsetDateTime,
    /// 1 for the first follow-up.
    pub attempt: u32,
    /// Grant Synapse access once the operation succeeds (attach / identity update with
    /// `grant_synapse_access`), and for this linked service's identity too.
    pub grant: Option<GrantAfter>,
}

/// The grant an attach or identity update asked for, carried across follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantAfter {
    pub linked_service: Option<crate::domain::LinkedServiceName>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deadline {deadline} cannot be written as RFC 3339 (year outside 0000-9999)")]
pub struct EncodeError {
    pub deadline: String,
}

impl AwaitOperation {
    pub fn to_spec_json(&self) -> Result<Value, EncodeError> {
        let deadline = format_rfc3339(self.deadline)?;
        let mut reply = Map::new();
        if let Some(to) = &self.reply.reply_to {
            reply.insert("replyTo".into(), json!(to));
        }
        reply.insert("correlationId".into(), json!(self.reply.correlation_id));
        let mut spec = json!({
            "operation": {"url": self.operation.url, "kind": self.operation.kind.as_str()},
            "action": {"type": self.action.type_str(), "name": self.action.name().as_str()},
            "reply": reply,
            "deadline": deadline,
            "attempt": self.attempt,
        });
        if let Some(grant) = &self.grant {
            let mut g = Map::new();
            if let Some(link) = &grant.linked_service {
                g.insert("linkedService".into(), json!(link.as_str()));
            }
            spec["grantSynapseAccess"] = Value::Object(g);
        }
        Ok(spec)
    }
}

fn format_rfc3339(t: OffsetDateTime) -> Result<String, EncodeError> {
    // RFC 3339 cannot express offsets with seconds; UTC keeps the instant.
    t.format(&Rfc3339)
        .or_else(|_| t.to_offset(UtcOffset::UTC).format(&Rfc3339))
        .map_err(|_| EncodeError {
            deadline: t.to_string(),
        })
}

pub(crate) fn parse(value: &Value, path: &str, errs: &mut FieldErrors) -> Option<AwaitOperation> {
    let f = Fields::of(value, path, errs)?;
    f.deny_unknown(
        &[
            "operation",
            "action",
            "reply",
            "deadline",
            "attempt",
            "grantSynapseAccess",
        ],
        errs,
    );
    let operation = f
        .required("operation", errs)
        .and_then(|v| parse_operation(v, &f.path("operation"), errs));
    let action = f
        .required("action", errs)
        .and_then(|v| parse_action(v, &f.path("action"), errs));
    let reply = f
        .required("reply", errs)
        .and_then(|v| parse_reply(v, &f.path("reply"), errs));
    let deadline =
        f.required_str("deadline", errs)
            .and_then(|s| match OffsetDateTime::parse(s, &Rfc3339) {
                Ok(t) => Some(t),
                Err(e) => {
                    errs.push(
                    f.path("deadline"),
                    format!(
                        "expected an RFC 3339 timestamp like 2025-12-01T10:00:00Z; got {} ({e})",
                        quote(s)
                    ),
                );
                    None
                }
            });
    let attempt = f.required("attempt", errs).and_then(|v| {
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                errs.push(
                    f.path("attempt"),
                    format!(
                        "expected a whole number from 0 to {}, got {}",
                        u32::MAX,
                        describe(v)
                    ),
                );
                None
            }
        }
    });
    let grant = match f.get("grantSynapseAccess") {
        None => Some(None),
        Some(v) => parse_grant(v, &f.path("grantSynapseAccess"), errs).map(Some),
    };
    Some(AwaitOperation {
        operation: operation?,
        action: action?,
        reply: reply?,
        deadline: deadline?,
        attempt: attempt?,
        grant: grant?,
    })
}

fn parse_grant(v: &Value, path: &str, errs: &mut FieldErrors) -> Option<GrantAfter> {
    let f = Fields::of(v, path, errs)?;
    f.deny_unknown(&["linkedService"], errs);
    let linked_service = if f.contains("linkedService") {
        Some(super::linked_services::link_name(
            &f,
            "linkedService",
            errs,
        )?)
    } else {
        None
    };
    Some(GrantAfter { linked_service })
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => type_name(other).to_owned(),
    }
}

fn parse_operation(v: &Value, path: &str, errs: &mut FieldErrors) -> Option<OperationRef> {
    let f = Fields::of(v, path, errs)?;
    f.deny_unknown(&["url", "kind"], errs);
    let url = f
        .required_str("url", errs)
        .and_then(|s| match url::Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(s.to_owned()),
            Ok(u) => {
                errs.push(
                    f.path("url"),
                    format!(
                        "expected an http or https URL, got scheme {}",
                        quote(u.scheme())
                    ),
                );
                None
            }
            Err(e) => {
                errs.push(
                    f.path("url"),
                    format!("not an absolute URL ({e}): {}", quote(s)),
                );
                None
            }
        });
    let kind = f.required_str("kind", errs).and_then(|s| match s {
        "AsyncOperation" => Some(OperationKind::AsyncOperation),
        "Location" => Some(OperationKind::Location),
        other => {
            errs.push(
                f.path("kind"),
                format!("expected AsyncOperation or Location; got {}", quote(other)),
            );
            None
        }
    });
    Some(OperationRef {
        url: url?,
        kind: kind?,
    })
}

fn parse_action(v: &Value, path: &str, errs: &mut FieldErrors) -> Option<PendingAction> {
    let f = Fields::of(v, path, errs)?;
    f.deny_unknown(&["type", "name"], errs);
    let name = compute_name(&f, "name", errs);
    let ctor: Option<fn(ComputeName) -> PendingAction> =
        f.required_str("type", errs).and_then(|s| match s {
            "Attach" => {
                Some((|name| PendingAction::Attach { name }) as fn(ComputeName) -> PendingAction)
            }
            "UpdateIdentity" => Some(|name| PendingAction::UpdateIdentity { name }),
            "Detach" => Some(|name| PendingAction::Detach { name }),
            other => {
                errs.push(
                    f.path("type"),
                    format!(
                        "expected Attach, UpdateIdentity or Detach; got {}",
                        quote(other)
                    ),
                );
                None
            }
        });
    Some(ctor?(name?))
}

fn parse_reply(v: &Value, path: &str, errs: &mut FieldErrors) -> Option<ReplyRoute> {
    let f = Fields::of(v, path, errs)?;
    f.deny_unknown(&["replyTo", "correlationId"], errs);
    let reply_to = f.optional_str("replyTo", errs).map(str::to_owned);
    let correlation_id = f.required_str("correlationId", errs).and_then(|s| {
        if s.is_empty() {
            errs.push(f.path("correlationId"), "must not be empty");
            None
        } else {
            Some(s.to_owned())
        }
    });
    Some(ReplyRoute {
        reply_to,
        correlation_id: correlation_id?,
    })
}
