//! Throttling benchmark (a measurement, not a test): a burst of attach commands for one
//! subscription through the local world, under the ARM emulator's token-bucket throttling
//! (reads 250 + 25/s, writes 200 + 10/s, as ARM documents its buckets). Prints the drain time,
//! the 429s ARM answered, ARM reads and writes per command, replies by status and dead-letters.
//!
//! The bound no client avoids is the write bucket: one PUT per new compute,
//! (N − 200) / 10 per second. Reads cost (reads per attach × N − 250) / 25 per second on top
//! when they, not the writes, are the scarcer budget. docs/benchmarks.md records the runs.
//!
//!     cargo run --release -p poolbroker-bench --bin throttling -- [--commands 1000] [--binary PATH]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use poolbroker::local::{LocalOptions, LocalWorld};
use serde_json::{Value, json};
use servicebus_emulator::OutgoingMessage;

const COMMANDS: &str = "pool-commands";
const REPLIES: &str = "pool-replies";
const POOLS: [&str; 2] = [
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1",
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool2",
];

#[derive(Parser)]
struct Args {
    /// Attach commands in the burst.
    #[arg(long, default_value_t = 1000)]
    commands: usize,
    /// The poolbroker binary the local host starts (default: next to this binary).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// How long each compute operation runs on the emulator's clock. 0 (the default) matches the
    /// issue's baseline: the first poll sees the operation finished. Longer operations cost one
    /// read per `Retry-After` second of polling.
    #[arg(long, default_value_t = 0)]
    operation_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let binary = match args.binary {
        Some(b) => b,
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .join("poolbroker"),
    };
    if !binary.is_file() {
        bail!(
            "{} not found: build poolbroker first or pass --binary",
            binary.display()
        );
    }
    let mut options = LocalOptions::new(&repo, &binary).ephemeral();
    options
        .extra_settings
        .insert("POOLBROKER_LOG".into(), "error".into());
    // Throttling on (ARM's buckets), Retry-After 1 s, operations as long as asked.
    options.emulator.operation_duration = std::time::Duration::from_secs(args.operation_secs);
    let world = LocalWorld::start(options).await?;

    let n = args.commands;
    let mut wanted = HashSet::new();
    let started = Instant::now();
    for i in 0..n {
        let body = json!({"apiVersion": "poolbroker/v1", "kind": "AttachPool", "spec": {
            "name": format!("burst-p{i:05}"), "type": "synapsespark", "resource_id": POOLS[i % 2]}});
        let id = format!("burst-{i}");
        world.broker.send(
            COMMANDS,
            OutgoingMessage {
                body: body.to_string().into_bytes().into(),
                correlation_id: Some(id.clone()),
                reply_to: Some(REPLIES.into()),
                content_type: Some("application/json".into()),
                ..OutgoingMessage::default()
            },
        )?;
        wanted.insert(id);
    }
    let mut statuses: HashMap<String, usize> = HashMap::new();
    let mut answered = HashSet::new();
    let mut last_reply = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    loop {
        let dead = world.broker.dead_letters(COMMANDS)?.len();
        if answered.len() + dead >= n || Instant::now() > deadline {
            break;
        }
        let Some(m) = world
            .broker
            .receive(REPLIES, Duration::from_millis(500))
            .await?
        else {
            continue;
        };
        world.broker.complete(REPLIES, m.lock_token)?;
        let id = m.message.correlation_id.clone().unwrap_or_default();
        if wanted.contains(&id) && answered.insert(id) {
            let body: Value = serde_json::from_slice(&m.message.body).unwrap_or(Value::Null);
            *statuses
                .entry(body["status"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
            last_reply = started.elapsed();
        }
    }
    let dead = world.broker.dead_letters(COMMANDS)?.len();
    let requests = world.arm.requests();
    let arm: Vec<_> = requests
        .iter()
        .filter(|r| !r.path.starts_with("/msi"))
        .collect();
    let reads = arm.iter().filter(|r| r.method == "GET").count();
    let writes = arm.iter().filter(|r| r.method != "GET").count();
    let throttled = arm.iter().filter(|r| r.status == Some(429)).count();
    let write_bound = n.saturating_sub(200) as f64 / 10.0;
    println!("throttling: {n} attach commands for one subscription, ARM token buckets on");
    println!(
        "  drained in        {:.1} s (write-bucket bound {write_bound:.1} s, goal ≤ {:.1} s)",
        last_reply.as_secs_f64(),
        write_bound * 1.1
    );
    println!("  replies           {} {statuses:?}", answered.len());
    println!("  dead-lettered     {dead}");
    println!("  ARM 429s          {throttled}");
    println!(
        "  ARM per command   {:.2} reads, {:.2} writes ({reads} reads, {writes} writes in all)",
        reads as f64 / n as f64,
        writes as f64 / n as f64
    );
    world.stop().await?;
    Ok(())
}
