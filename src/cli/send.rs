//! `poolbroker send FILE [--wait]`: enqueue a command file onto the commands queue.

use std::time::Duration;

use anyhow::Context as _;

use super::args::SendArgs;
use super::compute::content_type_for;
use super::exec::describe;
use super::via_queue::{send_command, sender, sender_for_namespace, wait_for_reply};
use crate::domain::parse_command;

pub async fn send(args: SendArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let content_type = content_type_for(&args.file);
    // Validate here too: a mistake is cheaper to see now than in the rejected queue.
    let envelope = parse_command(&bytes, Some(content_type)).map_err(describe)?;
    let body = String::from_utf8(bytes).context("the command file is not UTF-8 text")?;
    let sender = match &args.namespace {
        Some(namespace) => sender_for_namespace(namespace)?,
        None => sender()?,
    };
    let sent = send_command(&sender, &args.queue, body, content_type, &args.reply_queue).await?;
    eprintln!(
        "sent {} to '{}' (correlation id {})",
        envelope.command.kind(),
        args.queue,
        sent.correlation_id
    );
    if args.wait {
        let reply = wait_for_reply(
            &sender,
            &args.reply_queue,
            &sent,
            Duration::from_secs(args.timeout),
        )
        .await?;
        println!("{}", serde_json::to_string_pretty(&reply)?);
        if reply["status"] != "Succeeded" {
            anyhow::bail!("the command did not succeed: {}", reply["status"]);
        }
    }
    Ok(())
}
