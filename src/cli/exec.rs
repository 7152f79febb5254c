//! Running a command from the CLI: straight to ARM through the same engine the handler uses,
//! following long-running operations to the end with a progress indicator.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::args::WorkspaceArgs;
use super::progress::{Progress, waiting_for};
use crate::domain::{Command, CommandError, Envelope, WorkspaceId, parse_command};
use crate::engine::{CommandContext, Engine, EngineError, Outcome};
use crate::startup::engine_from_env;

/// Builds an envelope from JSON through the same parser queue messages go through.
pub fn envelope_from_json(value: &Value, workspace: &WorkspaceArgs) -> anyhow::Result<Envelope> {
    let mut value = value.clone();
    if let Some(ws) = workspace_from_flags(workspace)?
        && let Some(map) = value.as_object_mut()
    {
        map.insert("workspace".into(), ws.to_json());
    }
    let bytes = serde_json::to_vec(&value).context("encoding the command")?;
    parse_command(&bytes, Some("application/json")).map_err(describe)
}

pub fn describe(err: CommandError) -> anyhow::Error {
    if err.field_errors().is_empty() {
        return anyhow::anyhow!(err.to_string());
    }
    let mut text = String::from("invalid command:");
    for field in err.field_errors() {
        text.push_str(&format!("\n  {}: {}", field.path, field.problem));
    }
    anyhow::anyhow!(text)
}

/// `--subscription/--resource-group/--workspace-name`: all three, or none (then the default).
pub fn workspace_from_flags(args: &WorkspaceArgs) -> anyhow::Result<Option<WorkspaceId>> {
    match (
        &args.subscription,
        &args.resource_group,
        &args.workspace_name,
    ) {
        (None, None, None) => Ok(None),
        (Some(s), Some(g), Some(w)) => {
            let id = format!(
                "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}"
            );
            Ok(Some(
                WorkspaceId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?,
            ))
        }
        _ => anyhow::bail!(
            "give all of --subscription, --resource-group and --workspace-name, or none of them (then POOLBROKER_DEFAULT_WORKSPACE is used)"
        ),
    }
}

/// Executes to completion and returns the reply JSON (as a queue sender would receive it).
pub async fn execute_direct(envelope: Envelope) -> anyhow::Result<Value> {
    let engine = engine_from_env().context("configuring the ARM client")?;
    run_engine(&engine, envelope, true).await
}

/// Executes through the engine; `follow`: keep executing follow-ups (long operations, job
/// tracking) until the final reply, as the broker would across invocations.
pub async fn run_engine(
    engine: &Engine,
    mut envelope: Envelope,
    follow: bool,
) -> anyhow::Result<Value> {
    let correlation_id = uuid::Uuid::new_v4().simple().to_string();
    let progress = Progress::start(format!("{} …", envelope.command.kind()));
    let result = loop {
        let mut ctx = CommandContext::new(correlation_id.clone(), OffsetDateTime::now_utc());
        ctx.message_id = Some(correlation_id.clone());
        match engine.execute(&envelope, &ctx).await {
            Ok(Outcome::Reply(reply)) => break Ok(reply.to_json(&correlation_id)),
            // Not followed: the command's outcome is "Accepted" (Azure has the work and it is
            // still running), never "Succeeded" for something that has not finished.
            Ok(Outcome::FollowUp(follow_up)) if !follow => {
                let mut reply = json!({
                    "status": "Accepted",
                    "kind": follow_up.kind,
                    "correlationId": correlation_id,
                    "message": "accepted by Azure ML and still running; not waiting (pass --wait to follow it)",
                });
                if let Command::TrackSparkJob(track) = &follow_up.envelope.command {
                    reply["jobName"] = json!(track.job.as_str());
                }
                break Ok(reply);
            }
            Ok(Outcome::FollowUp(follow_up)) => {
                progress.update(waiting_for(&follow_up.envelope.command));
                tokio::time::sleep(follow_up.delay.min(Duration::from_secs(10))).await;
                envelope = follow_up.envelope;
            }
            Err(EngineError::Rejected(rejection)) => {
                break Ok(json!({
                    "status": "Rejected",
                    "kind": envelope.command.kind(),
                    "correlationId": correlation_id,
                    "error": rejection.to_json(),
                }));
            }
            Err(transient) => {
                break Err(anyhow::Error::new(transient).context("temporary failure, try again"));
            }
        }
    };
    progress.finish();
    result
}
