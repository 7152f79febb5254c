//! Figure 2 (and the Python half of figure 5): the five operations against the same TLS ARM
//! emulator, poolbroker's engine in-process versus azure-ai-ml in a Python process.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use poolbroker::azureml::{ArmClient, ArmClientOptions, StaticToken};
use poolbroker::config::BrokerSettings;
use poolbroker::domain::parse_command;
use poolbroker::engine::{CommandContext, Engine, Outcome, ReplyStatus};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::arm_server::ArmServer;
use crate::scenario::{Op, WORKSPACE_ID};

/// Latencies per operation and the ARM requests of one (warm) cycle.
#[derive(Debug, Default)]
pub struct OpsResult {
    pub latency_ms: BTreeMap<Op, Vec<f64>>,
    pub arm_calls: BTreeMap<Op, Vec<(String, String)>>,
    pub peak_rss_kib: Option<u64>,
}

const ARM_RESOURCE: &str = "https://management.azure.com/";

fn engine_for(server: &ArmServer) -> anyhow::Result<Engine> {
    let token = server.state.issue_token(ARM_RESOURCE);
    let endpoint = server.base_url.clone();
    let options =
        ArmClientOptions::from_env(|k| (k == "POOLBROKER_ARM_ENDPOINT").then(|| endpoint.clone()))?;
    let arm = ArmClient::new(options, Arc::new(StaticToken::new(token)))
        .map_err(|e| anyhow::anyhow!("ARM client: {e}"))?;
    let settings = BrokerSettings::from_lookup(|k| {
        (k == "POOLBROKER_DEFAULT_WORKSPACE").then(|| WORKSPACE_ID.to_owned())
    })?;
    Ok(Engine::new(arm, settings))
}

/// `cycles` rounds of attach → show → list → update → detach on compute `rs<i>`; round 0 warms
/// connections and caches and is not counted.
pub async fn poolbroker(server: &ArmServer, cycles: usize) -> anyhow::Result<OpsResult> {
    let engine = engine_for(server)?;
    let mut result = OpsResult::default();
    for cycle in 0..=cycles {
        let name = format!("rs{cycle}");
        for op in Op::ALL {
            let envelope = parse_command(op.command(&name).to_string().as_bytes(), None)
                .map_err(|e| anyhow::anyhow!("bench command does not parse: {e}"))?;
            let ctx = CommandContext::new(
                uuid::Uuid::new_v4().simple().to_string(),
                OffsetDateTime::now_utc(),
            );
            let record = cycle == 1;
            if record {
                server.state.clear_requests();
            }
            let started = Instant::now();
            let outcome = engine.execute(&envelope, &ctx).await;
            let took = started.elapsed();
            match outcome {
                Ok(Outcome::Reply(reply)) if reply.status == ReplyStatus::Succeeded => {}
                other => bail!(
                    "poolbroker {} on {name} did not succeed: {other:?}",
                    op.label()
                ),
            }
            if record {
                let calls = server
                    .state
                    .requests()
                    .into_iter()
                    .map(|r| crate::arm_calls::target(&r))
                    .collect();
                result.arm_calls.insert(op, calls);
            }
            if cycle > 0 {
                result
                    .latency_ms
                    .entry(op)
                    .or_default()
                    .push(took.as_secs_f64() * 1e3);
            }
        }
    }
    Ok(result)
}

#[derive(Debug, Deserialize)]
struct PythonReport {
    latency_ms: BTreeMap<String, Vec<f64>>,
    arm_calls: BTreeMap<String, Vec<(String, String)>>,
    peak_rss_kib: Option<u64>,
}

/// Runs `bench/azureml_ops.py` with the venv's interpreter against the same emulator.
pub async fn azure_ai_ml(
    python: &Path,
    script: &Path,
    server: &ArmServer,
    ca_file: &Path,
    cycles: usize,
) -> anyhow::Result<OpsResult> {
    let token = server.state.issue_token(ARM_RESOURCE);
    let output = tokio::time::timeout(
        Duration::from_secs(900),
        tokio::process::Command::new(python)
            .arg(script)
            .arg("ops")
            .arg("--cycles")
            .arg(cycles.to_string())
            .env("BENCH_ARM_ENDPOINT", format!("{}/", server.base_url))
            .env("BENCH_TOKEN", token)
            .env("REQUESTS_CA_BUNDLE", ca_file)
            .env("SSL_CERT_FILE", ca_file)
            .env("AZUREML_LOG_LEVEL", "WARNING")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("the azure-ai-ml driver took more than 15 minutes")??;
    if !output.status.success() {
        bail!(
            "the azure-ai-ml driver failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: PythonReport = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "the azure-ai-ml driver printed no report: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let mut result = OpsResult {
        peak_rss_kib: report.peak_rss_kib,
        ..OpsResult::default()
    };
    for op in Op::ALL {
        if let Some(samples) = report.latency_ms.get(op.key()) {
            result.latency_ms.insert(op, samples.clone());
        }
        if let Some(calls) = report.arm_calls.get(op.key()) {
            result.arm_calls.insert(op, calls.clone());
        }
    }
    Ok(result)
}
