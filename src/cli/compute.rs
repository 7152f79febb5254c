//! `poolbroker compute attach|update|show|list|detach` — `az ml compute` for Synapse Spark pools.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use serde_json::{Value, json};

use super::args::{ComputeCommand, NamedArgs, WorkspaceArgs};
use super::exec::{describe, envelope_from_json, execute_direct, workspace_from_flags};
use super::output::print_reply;
use super::via_queue::execute_via_queue;
use crate::domain::{Command, Envelope, parse_command};

pub async fn compute(command: ComputeCommand) -> anyhow::Result<()> {
    let (envelope, workspace) = match command {
        ComputeCommand::Attach {
            file: Some(file),
            no_grant,
            workspace,
            ..
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let content_type = content_type_for(&file);
            let mut envelope = parse_command(&bytes, Some(content_type)).map_err(describe)?;
            if let Some(ws) = workspace_from_flags(&workspace)? {
                envelope.workspace = Some(ws);
            }
            if no_grant {
                envelope = without_grant(envelope);
            }
            (envelope, workspace)
        }
        ComputeCommand::Attach {
            file: None,
            name,
            linked_service,
            pool_name,
            identity_type,
            user_assigned_identities,
            no_grant,
            workspace,
        } => {
            let mut spec = json!({
                "name": name, "type": "synapsespark",
                "linked_service": linked_service, "pool_name": pool_name,
            });
            if let Some(kind) = identity_type {
                spec["identity"] = json!({"type": kind});
                if !user_assigned_identities.is_empty() {
                    let list: Vec<Value> = user_assigned_identities
                        .iter()
                        .map(|id| json!({"resource_id": id}))
                        .collect();
                    spec["identity"]["user_assigned_identities"] = Value::Array(list);
                }
            }
            if no_grant {
                spec["grant_synapse_access"] = json!(false);
            }
            (command_json("AttachPool", spec, &workspace)?, workspace)
        }
        ComputeCommand::Update {
            name,
            identity,
            user_assigned_identities,
            no_grant,
            workspace,
        } => {
            let mut spec = json!({
                "name": name,
                "identity": {"type": identity, "user_assigned_identities": user_assigned_identities},
            });
            if no_grant {
                spec["grant_synapse_access"] = json!(false);
            }
            (
                command_json("UpdatePoolIdentity", spec, &workspace)?,
                workspace,
            )
        }
        ComputeCommand::Show(NamedArgs { name, workspace }) => (
            command_json("ShowPool", json!({"name": name}), &workspace)?,
            workspace,
        ),
        ComputeCommand::List { workspace } => {
            (command_json("ListPools", json!({}), &workspace)?, workspace)
        }
        ComputeCommand::Detach {
            name,
            yes,
            force,
            workspace,
        } => {
            if !yes
                && !confirm(&format!(
                    "Detach '{name}'? The Synapse pool itself is not deleted. (y/n): "
                ))?
            {
                anyhow::bail!("detach cancelled");
            }
            (
                command_json(
                    "DetachPool",
                    json!({"name": name, "force": force}),
                    &workspace,
                )?,
                workspace,
            )
        }
    };
    let reply = run(envelope, &workspace).await?;
    super::access::print_grants(&reply);
    print_reply(&reply, workspace.output)
}

/// `--no-grant` on an attach read from a file.
fn without_grant(mut envelope: Envelope) -> Envelope {
    match &mut envelope.command {
        Command::AttachPool(spec) => spec.grant_synapse_access = false,
        Command::AttachLinkedPool(spec) => spec.grant_synapse_access = false,
        _ => {}
    }
    envelope
}

pub(crate) async fn run(envelope: Envelope, workspace: &WorkspaceArgs) -> anyhow::Result<Value> {
    if workspace.via_queue {
        execute_via_queue(&envelope).await
    } else {
        execute_direct(envelope).await
    }
}

pub(crate) fn command_json(
    kind: &str,
    spec: Value,
    workspace: &WorkspaceArgs,
) -> anyhow::Result<Envelope> {
    envelope_from_json(
        &json!({"apiVersion": "poolbroker/v1", "kind": kind, "spec": spec}),
        workspace,
    )
}

pub(crate) fn content_type_for(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yml" | "yaml") => "application/yaml",
        _ => "application/json",
    }
}

/// Asks like `az ml compute detach`; without a terminal, `--yes` is required.
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "refusing to detach without confirmation: pass --yes (no terminal to ask on)"
        );
    }
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
