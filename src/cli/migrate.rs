//! `poolbroker migrate linked-services [--apply]`: lists each SDK v1 link and the computes
//! attached through it, prints the `az ml compute attach` YAML that replaces each, and with
//! `--apply` re-attaches them (own identity, Synapse access granted) and reports what changed.

use anyhow::Context as _;
use serde_json::{Value, json};

use super::args::{MigrateCommand, WorkspaceArgs};
use super::compute::{command_json, run};
use crate::domain::migration::{ComputeRow, LinkRow, plan};

pub async fn migrate(command: MigrateCommand) -> anyhow::Result<()> {
    let MigrateCommand::LinkedServices { apply, workspace } = command;
    let links: Vec<LinkRow> = serde_json::from_value(list(&workspace, "ListLinkedServices").await?)
        .context("reading the linked services")?;
    let computes: Vec<ComputeRow> = serde_json::from_value(list(&workspace, "ListPools").await?)
        .context("reading the attached pools")?;
    let plans = plan(&links, &computes);
    if plans.is_empty() {
        println!("No SDK v1 linked services in this workspace: nothing to migrate.");
        return Ok(());
    }
    let mut report = Vec::new();
    for link in &plans {
        println!(
            "linked service {} → Synapse workspace {} ({} compute(s) attached through it)",
            link.link,
            link.synapse_workspace,
            link.steps.len()
        );
        for step in &link.steps {
            println!("--- # az ml compute attach --file {}.yml", step.compute);
            print!("{}", serde_yaml_ng::to_string(&step.spec)?);
            if let Some(change) = &step.change {
                println!("# change: {} {change}", step.compute);
            }
            if !apply {
                report.push(json!({"linkedService": link.link, "compute": step.compute, "result": "planned", "change": step.change}));
                continue;
            }
            let envelope = command_json("AttachPool", step.spec.clone(), &workspace)?;
            let reply = run(envelope, &workspace).await?;
            let granted: Vec<Value> = reply["synapseAccess"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            report.push(json!({
                "linkedService": link.link,
                "compute": step.compute,
                "result": reply["status"],
                "message": reply["message"].as_str().or(reply["error"]["message"].as_str()),
                "change": step.change,
                "synapseAccess": granted,
            }));
        }
        if apply && !link.steps.is_empty() {
            println!(
                "# when every job runs on the re-attached pools: poolbroker linked-service unregister --name {}",
                link.link
            );
        }
    }
    let failed = report
        .iter()
        .filter(|r| r["result"] != "Succeeded" && r["result"] != "planned")
        .count();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"apply": apply, "report": report}))?
    );
    if !apply {
        eprintln!("dry run: nothing changed; run again with --apply to re-attach");
    }
    if failed > 0 {
        anyhow::bail!("{failed} compute(s) could not be re-attached (see the report)");
    }
    Ok(())
}

async fn list(workspace: &WorkspaceArgs, kind: &str) -> anyhow::Result<Value> {
    let reply = run(command_json(kind, json!({}), workspace)?, workspace).await?;
    if reply["status"] != "Succeeded" {
        anyhow::bail!(
            "{kind} failed: {} ({})",
            reply["error"]["message"].as_str().unwrap_or("no message"),
            reply["error"]["code"].as_str().unwrap_or("no code")
        );
    }
    Ok(reply["resources"].clone())
}
