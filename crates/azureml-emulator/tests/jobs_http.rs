//! Spark job submission, validation, status progression, listing and cancel over real HTTP.

mod common;

use common::{API, Emu, error_code, header, start, test_config};
use poolbroker_azureml_emulator::{EmulatorConfig, JobStatus, uai_client_id};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);
const RUN: Duration = Duration::from_secs(60);
const OPERATION: Duration = Duration::from_secs(5);

/// Jobs that take time: 10 s per status, 60 s running; operations 5 s.
fn jobs_config() -> EmulatorConfig {
    EmulatorConfig {
        job_step_duration: STEP,
        job_run_duration: RUN,
        operation_duration: OPERATION,
        ..test_config()
    }
}

fn conf() -> Value {
    json!({
        "spark.driver.cores": 1, "spark.driver.memory": "2g",
        "spark.executor.cores": "2", "spark.executor.memory": "2g",
        "spark.executor.instances": "2"
    })
}

fn serverless(emu: &Emu) -> Value {
    json!({"properties": {
        "jobType": "Spark",
        "displayName": "titanic",
        "tags": {"source": "poolbroker"},
        "codeId": format!("{}/codes/titanic/versions/1", emu.ws_path()),
        "entry": {"sparkJobEntryType": "SparkJobPythonEntry", "file": "titanic.py"},
        "conf": conf(),
        "identity": {"identityType": "UserIdentity"},
        "resources": {"instanceType": "Standard_E4S_V3", "runtimeVersion": "3.4"}
    }})
}

fn attached(emu: &Emu, compute: &str, identity: Value) -> Value {
    json!({"properties": {
        "jobType": "Spark",
        "codeId": format!("{}/codes/titanic/versions/1", emu.ws_path()),
        "entry": {"sparkJobEntryType": "SparkJobScalaEntry", "className": "org.example.Main"},
        "conf": conf(),
        "computeId": format!("{}/computes/{compute}", emu.ws_path()),
        "identity": identity
    }})
}

async fn expect_400(emu: &Emu, name: &str, body: &Value, needle: &str) {
    let (status, code, msg) = error_code(emu.put(&emu.job_url(name), body).await).await;
    assert_eq!((status, code.as_str()), (400, "UserError"), "{name}: {msg}");
    assert!(msg.contains(needle), "{name}: '{msg}' lacks '{needle}'");
    assert!(
        emu.state.job(&emu.ws_path(), name).is_none(),
        "{name} must not be stored"
    );
}

#[tokio::test]
async fn serverless_job_moves_through_the_service_statuses_on_the_clock() {
    let emu = start(jobs_config()).await;
    let resp = emu.put(&emu.job_url("job-001"), &serverless(&emu)).await;
    assert_eq!(resp.status(), 201);
    let job: Value = resp.json().await.unwrap();
    assert_eq!(job["properties"]["status"], "NotStarted");
    assert_eq!(
        job["type"],
        "Microsoft.MachineLearningServices/workspaces/jobs"
    );
    let studio = job["properties"]["services"]["Studio"]["endpoint"]
        .as_str()
        .unwrap();
    assert!(
        studio.starts_with(&format!(
            "https://ml.azure.com/runs/job-001?wsid={}",
            emu.ws_path()
        )),
        "{studio}"
    );
    let status = |j: Value| j["properties"]["status"].as_str().unwrap().to_owned();
    // Reading a job does not move it.
    for _ in 0..3 {
        let j: Value = emu.get(&emu.job_url("job-001")).await.json().await.unwrap();
        assert_eq!(status(j), "NotStarted");
    }
    let mut seen = Vec::new();
    for by in [STEP, STEP, STEP, STEP, RUN - STEP, STEP, STEP, STEP] {
        emu.state.advance_clock(by);
        let j: Value = emu.get(&emu.job_url("job-001")).await.json().await.unwrap();
        seen.push(status(j));
    }
    assert_eq!(
        seen,
        [
            "Starting",
            "Preparing",
            "Queued",
            "Running",
            "Running",
            "Finalizing",
            "Completed",
            "Completed"
        ]
    );
    // Jobs move whether read or not: one advance past the whole lifecycle completes a new job.
    emu.put(&emu.job_url("job-002"), &serverless(&emu)).await;
    emu.state.advance_clock(Duration::from_secs(3600));
    let j: Value = emu.get(&emu.job_url("job-002")).await.json().await.unwrap();
    assert_eq!(status(j), "Completed");
}

#[tokio::test]
async fn injected_job_failure_ends_failed_with_an_error() {
    let emu = start(jobs_config()).await;
    emu.put(&emu.job_url("job-f"), &serverless(&emu)).await;
    emu.state
        .fail_job(&emu.ws_path(), "job-f", "SparkJobFailed", "executor lost")
        .unwrap();
    emu.state.advance_clock(STEP);
    let j: Value = emu.get(&emu.job_url("job-f")).await.json().await.unwrap();
    assert_eq!(j["properties"]["status"], "Failed");
    assert_eq!(j["properties"]["error"]["message"], "executor lost");
    emu.state
        .set_job_status(&emu.ws_path(), "job-f", JobStatus::Running)
        .unwrap();
    emu.state.advance_clock(RUN + STEP);
    let j: Value = emu.get(&emu.job_url("job-f")).await.json().await.unwrap();
    assert_eq!(j["properties"]["status"], "Completed");
    assert!(
        emu.state
            .set_job_status(&emu.ws_path(), "nope", JobStatus::Running)
            .is_err()
    );
}

#[tokio::test]
async fn re_put_is_idempotent_for_the_same_definition_and_rejects_a_different_one() {
    let emu = start(jobs_config()).await;
    let body = serverless(&emu);
    assert_eq!(emu.put(&emu.job_url("job-2"), &body).await.status(), 201);
    let mut retagged = body.clone();
    retagged["properties"]["tags"] = json!({"source": "redelivery"});
    let resp = emu.put(&emu.job_url("job-2"), &retagged).await;
    assert_eq!(resp.status(), 200);
    let j: Value = resp.json().await.unwrap();
    assert_eq!(j["properties"]["tags"], json!({"source": "redelivery"}));
    let mut changed = body.clone();
    changed["properties"]["entry"]["file"] = json!("other.py");
    let (status, code, msg) = error_code(emu.put(&emu.job_url("job-2"), &changed).await).await;
    assert_eq!((status, code.as_str()), (400, "UserError"));
    assert!(msg.contains("different definition"), "{msg}");
}

#[tokio::test]
async fn spark_job_validation_matches_the_service() {
    let emu = start(jobs_config()).await;
    let base = serverless(&emu);
    let with = |path: &str, value: Value| {
        let mut b = base.clone();
        let mut target = &mut b["properties"];
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            target = &mut target[*p];
        }
        let last = parts[parts.len() - 1];
        if value.is_null() {
            target.as_object_mut().unwrap().remove(last);
        } else {
            target[last] = value;
        }
        b
    };
    expect_400(
        &emu,
        "v1",
        &with("codeId", Value::Null),
        "properties.codeId",
    )
    .await;
    expect_400(&emu, "v2", &with("entry", Value::Null), "properties.entry").await;
    expect_400(
        &emu,
        "v3",
        &with("entry/sparkJobEntryType", json!("SparkJobJavaEntry")),
        "SparkJobPythonEntry",
    )
    .await;
    expect_400(
        &emu,
        "v4",
        &with("entry/file", Value::Null),
        "properties.entry.file",
    )
    .await;
    expect_400(
        &emu,
        "v5",
        &with("computeId", json!(format!("{}/computes/x", emu.ws_path()))),
        "Only one of either computeId or resources",
    )
    .await;
    expect_400(
        &emu,
        "v6",
        &with("resources", Value::Null),
        "One of either computeId or resources",
    )
    .await;
    expect_400(
        &emu,
        "v7",
        &with("resources/instanceType", json!("Standard_D4_v3")),
        "instanceType",
    )
    .await;
    expect_400(
        &emu,
        "v8",
        &with("resources/runtimeVersion", json!("3.2")),
        "either 3.3 or 3.4",
    )
    .await;
    expect_400(
        &emu,
        "v9",
        &with("identity", json!({"identityType": "AmlToken"})),
        "identityType",
    )
    .await;
    expect_400(
        &emu,
        "v10",
        &with("jobType", json!("Command")),
        "only 'Spark'",
    )
    .await;
    expect_400(
        &emu,
        "v11",
        &with("conf/spark.executor.instances", Value::Null),
        "spark.executor.instances",
    )
    .await;
    let stranger = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/stranger";
    expect_400(
        &emu,
        "v12",
        &with(
            "identity",
            json!({"identityType": "Managed", "resourceId": stranger}),
        ),
        "not attached to workspace",
    )
    .await;
    expect_400(&emu, "v13", &with("identity", json!({"identityType": "Managed", "resourceId": emu.uai(0), "clientId": uai_client_id(&emu.uai(1)).to_string()})), "not the client id").await;
    let ok = with(
        "identity",
        json!({"identityType": "Managed", "resourceId": emu.uai(0)}),
    );
    assert_eq!(emu.put(&emu.job_url("v-ok"), &ok).await.status(), 201);
    let (status, _, _) = error_code(emu.put(&emu.job_url("-bad"), &base).await).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn attached_jobs_need_a_succeeded_synapse_compute_and_an_attached_uai() {
    let emu = start(jobs_config()).await;
    let uai = json!({"type": "UserAssigned", "userAssignedIdentities": {emu.uai(0): {}}});
    let managed = json!({"identityType": "Managed", "resourceId": emu.uai(0), "clientId": uai_client_id(&emu.uai(0)).to_string()});
    expect_400(
        &emu,
        "a0",
        &attached(&emu, "nosuch", managed.clone()),
        "was not found",
    )
    .await;
    // Attached but the operation has not finished yet: still Creating.
    let resp = emu
        .put(&emu.compute_url("pool-u"), &emu.attach_body(0, uai))
        .await;
    let op = header(&resp, "azure-asyncoperation");
    expect_400(
        &emu,
        "a1",
        &attached(&emu, "pool-u", managed.clone()),
        "'Creating'",
    )
    .await;
    emu.state.advance_clock(OPERATION);
    let done: Value = emu.get(&op).await.json().await.unwrap();
    assert_eq!(done["status"], "Succeeded");
    emu.attach_done("pool-s", 1, json!({"type": "SystemAssigned"}))
        .await;
    expect_400(
        &emu,
        "a2",
        &attached(&emu, "pool-s", managed.clone()),
        "not attached to compute",
    )
    .await;
    assert_eq!(
        emu.put(
            &emu.job_url("a3"),
            &attached(&emu, "pool-s", json!({"identityType": "Managed"}))
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        emu.put(
            &emu.job_url("a4"),
            &attached(&emu, "pool-s", json!({"identityType": "AMLToken"}))
        )
        .await
        .status(),
        201
    );
    // Once the UAI pool has finished attaching, the UAI may run jobs on it; ids compare
    // case-insensitively, so a lower-cased key still matches.
    emu.attach_done(
        "pool-u",
        0,
        json!({"type": "UserAssigned", "userAssignedIdentities": {emu.uai(0).to_lowercase(): {}}}),
    )
    .await;
    assert_eq!(
        emu.put(&emu.job_url("a5"), &attached(&emu, "pool-u", managed))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn serverless_quota_counts_active_jobs() {
    let emu = start(jobs_config()).await;
    emu.state.set_vcore_quota(&emu.ws_path(), 8).unwrap();
    // 1 driver core + 2 executors × 2 cores = 5 vCores.
    assert_eq!(
        emu.put(&emu.job_url("q1"), &serverless(&emu))
            .await
            .status(),
        201
    );
    let (status, code, msg) =
        error_code(emu.put(&emu.job_url("q2"), &serverless(&emu)).await).await;
    assert_eq!((status, code.as_str()), (400, "UserError"));
    assert_eq!(
        msg,
        "Your Spark job requested 5 vcores. However, the workspace has a 3 core limit. Try reducing the numbers of vcores requested or increasing your vcore quota."
    );
    emu.state
        .set_job_status(&emu.ws_path(), "q1", JobStatus::Completed)
        .unwrap();
    assert_eq!(
        emu.put(&emu.job_url("q2"), &serverless(&emu))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn cancel_is_a_location_lro() {
    let emu = start(jobs_config()).await;
    emu.put(&emu.job_url("job-c"), &serverless(&emu)).await;
    let cancel = format!("{}{}/jobs/job-c/cancel?{API}", emu.base, emu.ws_path());
    let resp = emu.req(Method::POST, &cancel).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(header(&resp, "retry-after"), "0");
    let location = header(&resp, "location");
    assert!(location.contains("/mfeOperationResults/"), "{location}");
    assert_eq!(
        emu.state.job(&emu.ws_path(), "job-c").unwrap()["properties"]["status"],
        "CancelRequested"
    );
    assert_eq!(emu.get(&location).await.status(), 202);
    emu.state.advance_clock(OPERATION);
    assert_eq!(
        emu.state.job(&emu.ws_path(), "job-c").unwrap()["properties"]["status"],
        "Canceled",
        "the cancel finished on the clock, unpolled"
    );
    assert_eq!(emu.get(&location).await.status(), 200);
    let j: Value = emu.get(&emu.job_url("job-c")).await.json().await.unwrap();
    assert_eq!(j["properties"]["status"], "Canceled");

    emu.put(&emu.job_url("job-done"), &serverless(&emu)).await;
    emu.state
        .set_job_status(&emu.ws_path(), "job-done", JobStatus::Completed)
        .unwrap();
    let done = format!("{}{}/jobs/job-done/cancel?{API}", emu.base, emu.ws_path());
    assert_eq!(
        emu.req(Method::POST, &done).send().await.unwrap().status(),
        400
    );
    let missing = format!("{}{}/jobs/nope/cancel?{API}", emu.base, emu.ws_path());
    assert_eq!(
        emu.req(Method::POST, &missing)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn list_filters_and_pages() {
    let emu = start(poolbroker_azureml_emulator::EmulatorConfig {
        page_size: 2,
        ..jobs_config()
    })
    .await;
    for i in 0..3 {
        emu.put(&emu.job_url(&format!("l{i}")), &serverless(&emu))
            .await;
    }
    let mut untagged = serverless(&emu);
    untagged["properties"]["tags"] = json!({});
    emu.put(&emu.job_url("l-untagged"), &untagged).await;
    let mut archived = serverless(&emu);
    archived["properties"]["isArchived"] = json!(true);
    emu.put(&emu.job_url("l-archived"), &archived).await;

    let names = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = format!(
        "{}{}/jobs?{API}&jobType=Spark&tag=source",
        emu.base,
        emu.ws_path()
    );
    let first: Value = emu.get(&base).await.json().await.unwrap();
    assert_eq!(names(&first), ["l0", "l1"]);
    let next = first["nextLink"].as_str().unwrap();
    assert!(
        next.contains("tag=source") && next.contains("jobType=Spark"),
        "{next}"
    );
    let second: Value = emu.get(next).await.json().await.unwrap();
    assert_eq!(names(&second), ["l2"]);
    assert!(second.get("nextLink").is_none());
    let archived: Value = emu
        .get(&format!(
            "{}{}/jobs?{API}&listViewType=ArchivedOnly",
            emu.base,
            emu.ws_path()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&archived), ["l-archived"]);
    let none: Value = emu
        .get(&format!(
            "{}{}/jobs?{API}&jobType=Command",
            emu.base,
            emu.ws_path()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert!(names(&none).is_empty());
}
