//! `poolbroker job submit|show -o json` as a person runs it (the real binary against the local
//! world): stdout is the job, with its status exactly as Azure ML reports it; stderr carries the
//! command's outcome (Accepted while the job runs, Succeeded once followed to the end) and, when
//! not a terminal, one plain progress line per status change.

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use poolbroker::domain::WorkspaceId;
use poolbroker::domain::spark::derive_job_name;
use poolbroker::local::{LocalOptions, LocalWorld};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

fn job_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/jobs/serverless-job.yml")
}

/// A world whose jobs stay an hour in each status unless the test moves the emulator's clock
/// (less than the day its tokens live, so the CLI's token stays valid across the move).
fn slow_jobs() -> LocalOptions {
    let mut options = options();
    options.emulator.job_step_duration = Duration::from_secs(3600);
    options.emulator.job_run_duration = Duration::from_secs(3600);
    options
}

fn command(world: &LocalWorld, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_poolbroker"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("POOLBROKER_LOG", "error")
        // Follow the job every second rather than every 30 (the emulator advances it per read).
        .env("POOLBROKER_JOB_POLL_SECS", "1");
    for (k, v) in world.cli_environment() {
        command.env(k, v);
    }
    command
}

async fn cli(world: &LocalWorld, args: &[&str]) -> Output {
    command(world, args)
        .output()
        .await
        .expect("poolbroker runs")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn job_name(key: &str) -> String {
    let ws = WorkspaceId::parse(WORKSPACE_ID).expect("demo workspace id");
    derive_job_name(&ws, key).to_string()
}

#[tokio::test]
async fn submit_without_wait_prints_the_job_and_an_accepted_outcome() {
    let world = start_with(slow_jobs()).await;
    let file = job_file();
    let key = "cli-json-no-wait";
    let output = cli(
        &world,
        &[
            "job",
            "submit",
            "-f",
            file.to_str().expect("utf-8 path"),
            "--idempotency-key",
            key,
            "-o",
            "json",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let job = stdout_json(&output);
    let name = job_name(key);
    assert_eq!(job["name"], name.as_str());
    // What Azure ML reports, not the command's outcome: the emulator's own record says the same.
    let arm_status =
        world.arm.job(WORKSPACE_ID, &name).expect("the job exists")["properties"]["status"].clone();
    assert_eq!(job["status"], arm_status);
    assert_ne!(job["status"], "Succeeded");
    assert_ne!(
        job["status"], "Completed",
        "one read cannot have finished it"
    );
    assert_eq!(job["compute"]["type"], "serverless");
    assert!(
        job["identity"].as_str().is_some_and(|s| !s.is_empty()),
        "{job}"
    );
    assert!(
        job["computeReason"].as_str().is_some_and(|s| !s.is_empty()),
        "{job}"
    );
    assert!(
        job["studioUrl"]
            .as_str()
            .is_some_and(|s| s.starts_with("https://")),
        "{job}"
    );
    assert!(
        job.get("correlationId").is_none(),
        "the command's fields stay out of the job: {job}"
    );
    let outcome = format!(
        "SubmitSparkJob Accepted: job {name} is {} in Azure ML",
        job["status"].as_str().expect("status")
    );
    assert!(stderr.contains(&outcome), "{stderr}");
    world.stop().await.expect("stops");
}

#[tokio::test]
async fn submit_with_wait_shows_each_status_and_ends_with_the_job_completed() {
    let world = start_with(slow_jobs()).await;
    let file = job_file();
    let key = "cli-json-wait";
    let name = job_name(key);
    let mut child = command(
        &world,
        &[
            "job",
            "submit",
            "-f",
            file.to_str().expect("utf-8 path"),
            "--idempotency-key",
            key,
            "--wait",
            "-o",
            "json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("poolbroker starts");
    let mut stderr_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut stderr = String::new();
    // Not a terminal: the first status read is reported as a plain line, while the job waits.
    let waiting = format!("job {name}: Azure ML reports it NotStarted");
    let found = tokio::time::timeout(WAIT, async {
        while let Some(line) = stderr_lines.next_line().await.expect("stderr readable") {
            stderr.push_str(&line);
            stderr.push('\n');
            if line.starts_with(&waiting) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "no progress line '{waiting}…':\n{stderr}");
    // Seven hours pass for the emulator: the job goes through its six statuses to Completed.
    world.arm.advance_clock(Duration::from_secs(7 * 3600));
    while let Some(line) = stderr_lines.next_line().await.expect("stderr readable") {
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let output = child.wait_with_output().await.expect("poolbroker ends");
    assert!(output.status.success(), "{stderr}");
    let job = stdout_json(&output);
    assert_eq!(job["name"], name.as_str());
    assert_eq!(job["status"], "Completed");
    assert!(
        !stderr.contains('\r'),
        "no spinner off a terminal: {stderr:?}"
    );
    assert_eq!(
        stderr.matches(&waiting).count(),
        1,
        "one line per status, not one per read: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "SubmitSparkJob Succeeded: job {name} is Completed in Azure ML"
        )),
        "{stderr}"
    );

    // `job show` prints the same job document.
    let shown = cli(&world, &["job", "show", "--name", &name, "-o", "json"]).await;
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let shown = stdout_json(&shown);
    assert_eq!(shown["name"], name.as_str());
    assert_eq!(shown["status"], "Completed");
    world.stop().await.expect("stops");
}
