//! Figure 1: process exec → first `pool-commands` invocation answered, versus a Python process
//! importing azure.ai.ml and constructing an MLClient.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::arm_server::ArmServer;
use crate::handler_process::{self, app_settings};
use crate::invocation::{ROUTE, pool_commands_body};
use crate::scenario::Op;

#[derive(Debug, Default)]
pub struct ColdStart {
    /// exec → `GET /` answered 200.
    pub ready_ms: Vec<f64>,
    /// exec → the first invocation (ListPools: MI token, one ARM read, the reply sent) answered.
    pub first_invocation_ms: Vec<f64>,
}

pub async fn poolbroker(
    binary: &Path,
    arm: &ArmServer,
    servicebus: std::net::SocketAddr,
    workdir: &Path,
    runs: usize,
) -> anyhow::Result<ColdStart> {
    let settings = app_settings(arm.addr, Some(servicebus));
    // A fresh client per run would add our own connection set-up; the host's client is warm.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut result = ColdStart::default();
    for run in 0..runs {
        let mut handler = handler_process::spawn(binary, &settings, workdir)?;
        let ready = handler.wait_ready(&client, Duration::from_secs(30)).await?;
        let body = pool_commands_body(&Op::List.command("unused"), &format!("cold-{run}"), None);
        let response = client
            .post(handler.url(ROUTE))
            .header("content-type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        let answered = handler.started.elapsed();
        handler.stop().await;
        if !status.is_success() {
            bail!("cold start run {run}: the first invocation answered {status}: {text}");
        }
        result.ready_ms.push(ready.as_secs_f64() * 1e3);
        result
            .first_invocation_ms
            .push(answered.as_secs_f64() * 1e3);
    }
    Ok(result)
}

/// `python azureml_ops.py coldstart`, exec → exit.
pub async fn azure_ai_ml(python: &Path, script: &Path, runs: usize) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(runs);
    for run in 0..runs {
        let started = Instant::now();
        let output = tokio::process::Command::new(python)
            .arg(script)
            .arg("coldstart")
            .kill_on_drop(true)
            .output()
            .await?;
        let took = started.elapsed();
        if !output.status.success() {
            bail!(
                "python cold start run {run} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        samples.push(took.as_secs_f64() * 1e3);
    }
    Ok(samples)
}
