//! `poolbroker access grant|revoke` and `poolbroker doctor NAME`.

use serde_json::{Value, json};

use super::args::{AccessCommand, DoctorArgs};
use super::compute::{command_json, run};
use super::output::print_reply;

pub async fn access(command: AccessCommand) -> anyhow::Result<()> {
    let (kind, args) = match command {
        AccessCommand::Grant(args) => ("GrantPoolAccess", args),
        AccessCommand::Revoke(args) => ("RevokePoolAccess", args),
    };
    let mut spec = json!({"name": args.name});
    if let Some(link) = &args.linked_service {
        spec["linked_service"] = json!(link);
    }
    let reply = run(command_json(kind, spec, &args.workspace)?, &args.workspace).await?;
    print_grants(&reply);
    print_reply(&reply, args.workspace.output)
}

/// One line per grant of an attach, identity update or grant, on stderr (stdout keeps the
/// resource for scripts).
pub(crate) fn print_grants(reply: &Value) {
    for grant in reply["synapseAccess"].as_array().into_iter().flatten() {
        eprintln!(
            "{}: {} at {} ({})",
            grant["identity"].as_str().unwrap_or(""),
            grant["role"].as_str().unwrap_or(""),
            grant["scope"].as_str().unwrap_or(""),
            grant["result"].as_str().unwrap_or(""),
        );
    }
}

/// Prints the ✓/✗ checklist; exits non-zero when something needs doing.
pub async fn doctor(args: DoctorArgs) -> anyhow::Result<()> {
    let envelope = command_json("CheckPool", json!({"name": args.name}), &args.workspace)?;
    let reply = run(envelope, &args.workspace).await?;
    if reply["status"] != "Succeeded" {
        return print_reply(&reply, args.workspace.output);
    }
    match args.workspace.output {
        super::args::OutputFormat::Table => print!("{}", reply["message"].as_str().unwrap_or("")),
        super::args::OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&reply["checklist"])?)
        }
        super::args::OutputFormat::Yaml => {
            print!("{}", serde_yaml_ng::to_string(&reply["checklist"])?)
        }
    }
    if reply["checklist"]["ok"] != true {
        anyhow::bail!("doctor: {} needs attention (see the ✗ lines)", args.name);
    }
    Ok(())
}
