//! Forms → the same `poolbroker/v1` commands the queue and the CLI carry. The Studio does not
//! validate them itself: the broker does, so a bad attach is rejected, replied to and kept in
//! the rejected queue exactly as one sent by any other producer.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::request::StudioRequest;
use crate::domain::WorkspaceId;

/// What one form asks for, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct FormCommand {
    pub kind: &'static str,
    pub body: Value,
    /// Also the `MessageId` and `idempotencyKey`: a double-submitted form is one command.
    pub correlation_id: String,
    /// The pool the command is about (for links back).
    pub pool: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("{0}: required")]
    Missing(&'static str),
    #[error("tags line {line}: expected key=value, got '{text}'")]
    Tag { line: usize, text: String },
    #[error("unknown form '{0}'")]
    UnknownForm(String),
}

fn required<'a>(req: &'a StudioRequest, name: &'static str) -> Result<&'a str, FormError> {
    req.field(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(FormError::Missing(name))
}

fn optional<'a>(req: &'a StudioRequest, name: &str) -> Option<&'a str> {
    req.field(name).map(str::trim).filter(|v| !v.is_empty())
}

/// `identity_type` + `identities` (one resource id per line; the first submits jobs).
fn identity(req: &StudioRequest) -> Option<Value> {
    let kind = optional(req, "identity_type")?;
    if kind == "none_sent" {
        return None;
    }
    let ids: Vec<Value> = req
        .field("identities")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|id| json!({"resource_id": id}))
        .collect();
    let mut identity = Map::new();
    identity.insert("type".into(), json!(kind));
    if !ids.is_empty() {
        identity.insert("user_assigned_identities".into(), Value::Array(ids));
    }
    Some(Value::Object(identity))
}

fn tags(req: &StudioRequest) -> Result<Option<Value>, FormError> {
    let mut tags = Map::new();
    for (i, line) in req.field("tags").unwrap_or_default().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| FormError::Tag {
            line: i + 1,
            text: line.to_owned(),
        })?;
        tags.insert(k.trim().to_owned(), json!(v.trim()));
    }
    Ok((!tags.is_empty()).then_some(Value::Object(tags)))
}

fn correlation(token: &str, kind: &str, spec: &Value) -> String {
    let mut hash = Sha256::new();
    hash.update(token.as_bytes());
    hash.update(kind.as_bytes());
    hash.update(spec.to_string().as_bytes());
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The command a POSTed form stands for. `form` is the last path segment (`attach`,
/// `identity`, `detach`), `workspace` the allowed workspace it targets.
pub fn command(
    form: &str,
    req: &StudioRequest,
    workspace: &WorkspaceId,
) -> Result<FormCommand, FormError> {
    let (kind, spec) = match form {
        "attach" => {
            let mut spec = Map::new();
            spec.insert("name".into(), json!(required(req, "name")?));
            spec.insert("type".into(), json!("synapsespark"));
            let resource_id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Synapse/workspaces/{}/bigDataPools/{}",
                required(req, "subscription")?,
                required(req, "resource_group")?,
                required(req, "synapse_workspace")?,
                required(req, "spark_pool")?,
            );
            spec.insert("resource_id".into(), json!(resource_id));
            if let Some(identity) = identity(req) {
                spec.insert("identity".into(), identity);
            }
            if let Some(tags) = tags(req)? {
                spec.insert("tags".into(), tags);
            }
            if let Some(ttl) = optional(req, "ttl") {
                spec.insert("ttl".into(), json!(ttl));
            }
            ("AttachPool", Value::Object(spec))
        }
        "identity" => {
            let identity = identity(req).ok_or(FormError::Missing("identity_type"))?;
            (
                "UpdatePoolIdentity",
                json!({"name": required(req, "name")?, "identity": identity}),
            )
        }
        "detach" => (
            "DetachPool",
            json!({"name": required(req, "name")?, "force": req.field("force") == Some("on")}),
        ),
        other => return Err(FormError::UnknownForm(other.to_owned())),
    };
    let token = req.field("csrf").unwrap_or_default();
    let correlation_id = correlation(token, kind, &spec);
    let pool = spec["name"].as_str().unwrap_or_default().to_owned();
    let body = json!({
        "apiVersion": "poolbroker/v1",
        "kind": kind,
        "workspace": workspace.arm_id(),
        "idempotencyKey": format!("studio-{correlation_id}"),
        "spec": spec,
    });
    Ok(FormCommand {
        kind,
        body,
        correlation_id,
        pool,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::parse_command;

    const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";

    fn form(fields: &[(&str, &str)]) -> StudioRequest {
        StudioRequest {
            method: "POST".into(),
            form: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..StudioRequest::default()
        }
    }

    #[test]
    fn attach_form_is_a_valid_attach_command_with_identities_in_order() {
        let ws = WorkspaceId::parse(WS).unwrap();
        let req = form(&[
            ("csrf", "t"),
            ("name", "pool1"),
            ("subscription", "00000000-0000-0000-0000-000000000001"),
            ("resource_group", "rg"),
            ("synapse_workspace", "syn"),
            ("spark_pool", "sp1"),
            ("identity_type", "user_assigned"),
            (
                "identities",
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-b\r\n/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-a\r\n",
            ),
            ("tags", "team=data\r\n"),
            ("ttl", "8h"),
        ]);
        let cmd = command("attach", &req, &ws).unwrap();
        assert_eq!(cmd.kind, "AttachPool");
        let ids = &cmd.body["spec"]["identity"]["user_assigned_identities"];
        assert!(ids[0]["resource_id"].as_str().unwrap().ends_with("/uai-b"));
        assert!(ids[1]["resource_id"].as_str().unwrap().ends_with("/uai-a"));
        let parsed = parse_command(cmd.body.to_string().as_bytes(), Some("application/json"));
        assert!(parsed.is_ok(), "{parsed:?}");
        // The same form sent twice is the same command.
        assert_eq!(command("attach", &req, &ws).unwrap(), cmd);
    }

    #[test]
    fn missing_fields_and_bad_tags_are_named() {
        let ws = WorkspaceId::parse(WS).unwrap();
        assert_eq!(
            command("attach", &form(&[("name", "p")]), &ws).unwrap_err(),
            FormError::Missing("subscription")
        );
        assert_eq!(
            command("detach", &form(&[]), &ws).unwrap_err(),
            FormError::Missing("name")
        );
        let bad = form(&[
            ("name", "p"),
            ("subscription", "s"),
            ("resource_group", "r"),
            ("synapse_workspace", "w"),
            ("spark_pool", "p"),
            ("tags", "ok=1\nnot a tag"),
        ]);
        assert_eq!(
            command("attach", &bad, &ws).unwrap_err(),
            FormError::Tag {
                line: 2,
                text: "not a tag".into()
            }
        );
    }

    #[test]
    fn detach_and_identity_forms() {
        let ws = WorkspaceId::parse(WS).unwrap();
        let cmd = command("detach", &form(&[("name", "pool1"), ("force", "on")]), &ws).unwrap();
        assert_eq!(cmd.body["spec"], json!({"name": "pool1", "force": true}));
        let cmd = command(
            "identity",
            &form(&[("name", "pool1"), ("identity_type", "system_assigned")]),
            &ws,
        )
        .unwrap();
        assert_eq!(
            cmd.body["spec"]["identity"],
            json!({"type": "system_assigned"})
        );
        assert!(
            parse_command(cmd.body.to_string().as_bytes(), None).is_ok(),
            "{}",
            cmd.body
        );
    }
}
