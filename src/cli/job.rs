//! `poolbroker job submit|show|cancel`: Spark jobs with the compute and identity chosen the way
//! the broker chooses them, printed before anything is submitted.

use anyhow::Context as _;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::args::{JobCommand, NamedArgs, WorkspaceArgs};
use super::exec::{envelope_from_json, run_engine, workspace_from_flags};
use super::output::print_job_reply;
use super::via_queue::execute_via_queue;
use crate::engine::CommandContext;
use crate::startup::engine_from_env;

pub async fn job(command: JobCommand) -> anyhow::Result<()> {
    match command {
        JobCommand::Submit {
            file,
            compute,
            idempotency_key,
            wait,
            workspace,
        } => submit(file, compute, idempotency_key, wait, &workspace).await,
        JobCommand::Show(NamedArgs { name, workspace }) => show(&name, &workspace).await,
        JobCommand::Cancel(NamedArgs { name, workspace }) => {
            let envelope = envelope_from_json(
                &json!({"apiVersion": "poolbroker/v1", "kind": "CancelSparkJob", "spec": {"name": name}}),
                &workspace,
            )?;
            let reply = if workspace.via_queue {
                execute_via_queue(&envelope).await?
            } else {
                let engine = engine_from_env().context("configuring the ARM client")?;
                run_engine(&engine, envelope, false).await?
            };
            print_job_reply(&reply, workspace.output)
        }
    }
}

async fn submit(
    file: std::path::PathBuf,
    compute: Option<String>,
    idempotency_key: Option<String>,
    wait: bool,
    workspace: &WorkspaceArgs,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut spec: Value = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("{} is not a YAML/JSON job spec", file.display()))?;
    if let (Some(compute), Some(map)) = (compute, spec.as_object_mut()) {
        map.insert("compute".into(), json!(compute));
    }
    // Without a key every submit is a new job; with one, resubmitting returns the same job.
    let key = idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let envelope = envelope_from_json(
        &json!({"apiVersion": "poolbroker/v1", "kind": "SubmitSparkJob", "idempotencyKey": key, "spec": spec}),
        workspace,
    )?;
    if workspace.via_queue {
        let reply = execute_via_queue(&envelope).await?;
        return print_job_reply(&reply, workspace.output);
    }
    let engine = engine_from_env().context("configuring the ARM client")?;
    let ctx = CommandContext::new(key.clone(), OffsetDateTime::now_utc());
    match engine.plan_spark_job(&envelope, &ctx).await {
        Ok(plan) => {
            eprintln!("job       {}", plan.job_name.as_str());
            eprintln!("compute   {}", plan.compute.reason);
            eprintln!("identity  {}", plan.identity.description);
        }
        Err(err) => anyhow::bail!("{err}"),
    }
    let target = envelope
        .workspace
        .clone()
        .or_else(|| engine.settings().default_workspace.clone());
    let mut reply = run_engine(&engine, envelope, wait).await?;
    // Not waited for: read the job once, so what is printed is its status as Azure ML reports
    // it now, next to the command's own outcome (Accepted).
    if reply.get("job").is_none()
        && let (Some(name), Some(ws)) = (reply["jobName"].as_str().map(str::to_owned), target)
        && let Some(view) = engine
            .show_spark_job(&ws, &name, &ctx)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        reply["job"] = view.job_json();
    }
    print_job_reply(&reply, workspace.output)
}

async fn show(name: &str, workspace: &WorkspaceArgs) -> anyhow::Result<()> {
    let engine = engine_from_env().context("configuring the ARM client")?;
    let ws = match workspace_from_flags(workspace)? {
        Some(ws) => ws,
        None => engine
            .settings()
            .default_workspace
            .clone()
            .context("give --subscription/--resource-group/--workspace-name or set POOLBROKER_DEFAULT_WORKSPACE")?,
    };
    let ctx = CommandContext::new(
        uuid::Uuid::new_v4().simple().to_string(),
        OffsetDateTime::now_utc(),
    );
    let view = engine
        .show_spark_job(&ws, name, &ctx)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_context(|| format!("no job named '{name}' in workspace {}", ws.name()))?;
    let reply = json!({"status": "Succeeded", "kind": "ShowSparkJob", "job": view.job_json()});
    print_job_reply(&reply, workspace.output)
}
