//! `poolbroker job submit|show -o json` as a person runs it (the real binary against the local
//! world): stdout is the job, with its status exactly as Azure ML reports it; stderr carries the
//! command's outcome (Accepted while the job runs, Succeeded once followed to the end) and, when
//! not a terminal, one plain progress line per status change.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::*;
use poolbroker::domain::WorkspaceId;
use poolbroker::domain::spark::derive_job_name;
use poolbroker::local::LocalWorld;
use serde_json::Value;

fn job_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/jobs/serverless-job.yml")
}

async fn cli(world: &LocalWorld, args: &[&str]) -> Output {
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
    command.output().await.expect("poolbroker runs")
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
    let world = start().await;
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
    let world = start().await;
    let file = job_file();
    let key = "cli-json-wait";
    let output = cli(
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
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let job = stdout_json(&output);
    let name = job_name(key);
    assert_eq!(job["name"], name.as_str());
    assert_eq!(job["status"], "Completed");
    // Not a terminal: plain progress lines, one per status seen, then the outcome.
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("job {name}: Azure ML reports it")))
        .collect();
    assert!(!progress.is_empty(), "{stderr}");
    assert!(
        !stderr.contains('\r'),
        "no spinner off a terminal: {stderr:?}"
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
