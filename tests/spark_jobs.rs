//! Spark job submission through `pool-commands` to the real `poolbroker` binary under the local
//! Functions host, against the ARM emulator: compute and identity selection, exactly-once
//! submission, status follow-ups and cancel.

mod common;

use azureml_emulator::{FaultKind, FaultRule, RecordedRequest};
use common::*;
use poolbroker::domain::WorkspaceId;
use poolbroker::domain::spark::derive_job_name;
use poolbroker::local::LocalWorld;
use reqwest::Method;
use serde_json::{Value, json};

/// Follows jobs every second (the test world's jobs finish as soon as they are read).
fn fast_polling() -> poolbroker::local::LocalOptions {
    options_with(&[("POOLBROKER_JOB_POLL_SECS", "1")])
}

fn job_spec(extra: Value) -> Value {
    let mut spec = json!({
        "type": "spark",
        "code": "azureml:sales-etl:1",
        "entry": {"file": "etl.py"},
        "driver_cores": 1, "driver_memory": "2g",
        "executor_cores": 2, "executor_memory": "2g", "executor_instances": 2
    });
    for (k, v) in extra.as_object().expect("extra is an object") {
        spec[k] = v.clone();
    }
    spec
}

fn submit(spec: Value, key: &str) -> Value {
    let mut e = envelope("SubmitSparkJob", spec);
    e["idempotencyKey"] = json!(key);
    e
}

fn job_name(key: &str) -> String {
    let ws = WorkspaceId::parse(WORKSPACE_ID).expect("demo workspace id");
    derive_job_name(&ws, key).to_string()
}

fn job_puts(world: &LocalWorld) -> Vec<RecordedRequest> {
    world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.to_ascii_lowercase().contains("/jobs/"))
        .collect()
}

fn put_body_of(world: &LocalWorld, job: &str) -> Value {
    let puts: Vec<Value> = job_puts(world)
        .into_iter()
        .filter(|r| r.path.ends_with(&format!("/jobs/{job}")))
        .filter_map(|r| r.body)
        .collect();
    assert_eq!(puts.len(), 1, "exactly one PUT of {job}: {puts:#?}");
    puts.into_iter().next().expect("one PUT")
}

fn assert_status(reply: &Value, status: &str) {
    assert_eq!(reply["status"], status, "{reply:#}");
}

/// Attaches `name` through the queue and checks it worked.
async fn attach_pool(world: &LocalWorld, name: &str, pool: &str, identity: Option<Value>) {
    let reply = round_trip(world, &attach(name, pool, identity)).await;
    assert_status(&reply, "Succeeded");
}

/// Starts an update of the compute straight on ARM whose operation takes a day, so the compute
/// stays `Updating` for the rest of the test.
async fn leave_updating(world: &LocalWorld, name: &str, pool: &str) {
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: format!("/computes/{name}?"),
        kind: FaultKind::SlowOperation { secs: 24 * 3600 },
        times: 1,
    });
    let (status, body) = arm_request(
        world,
        Method::PUT,
        &format!("{WORKSPACE_ID}/computes/{name}?api-version={API_VERSION}"),
        Some(&json!({
            "location": "eastus2",
            "tags": {"touched": "yes"},
            "properties": {"computeType": "SynapseSpark", "resourceId": pool}
        })),
    )
    .await;
    assert!(matches!(status, 200 | 201), "{status} {body:#}");
    let stored = world.arm.compute(WORKSPACE_ID, name).expect("compute");
    assert_eq!(stored["properties"]["provisioningState"], "Updating");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_picks_a_healthy_pool_submits_with_its_first_uai_and_replies_the_terminal_status() {
    let world = start_with(fast_polling()).await;
    // Not alphabetical: the pool's own order decides which identity submits.
    attach_pool(
        &world,
        "spark-a",
        POOL1,
        Some(user_assigned(&["uai-poolbroker-2", "uai-poolbroker-1"])),
    )
    .await;
    attach_pool(&world, "spark-u", POOL2, None).await;
    leave_updating(&world, "spark-u", POOL2).await;

    let key = "nightly-sales-2025-12-01";
    let id = send_json(
        &world,
        &submit(
            job_spec(json!({"pool_preference": ["spark-u", "spark-a"]})),
            key,
        ),
    );
    let reply = common::reply(&world, &id).await;
    assert_status(&reply, "Succeeded");
    let name = job_name(key);
    assert_eq!(reply["kind"], "SubmitSparkJob");
    assert_eq!(reply["jobName"], name.as_str());
    assert_eq!(reply["jobStatus"], "Completed");
    assert_eq!(
        reply["compute"],
        json!({"type": "pool", "name": "spark-a", "id": compute_id("spark-a")})
    );
    let reason = reply["computeReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("pool spark-a: first eligible pool in pool_preference")
            && reason.contains("pool spark-u is Updating"),
        "{reply:#}"
    );
    assert_eq!(
        reply["identity"],
        "managed uai-poolbroker-2 (first user-assigned identity of spark-a)"
    );
    assert!(
        reply["studioUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://ml.azure.com/runs/")),
        "{reply:#}"
    );

    // The PUT body the emulator received: the pool, and its FIRST identity with its client id.
    let body = put_body_of(&world, &name);
    let props = &body["properties"];
    assert_eq!(props["computeId"], compute_id("spark-a"));
    assert!(props.get("resources").is_none(), "{body:#}");
    let stored = world.arm.compute(WORKSPACE_ID, "spark-a").expect("compute");
    let first = uai("uai-poolbroker-2");
    assert_eq!(
        props["identity"],
        json!({
            "identityType": "Managed",
            "resourceId": first,
            "clientId": stored["identity"]["userAssignedIdentities"][&first]["clientId"],
        })
    );
    assert_eq!(
        props["codeId"],
        format!("{WORKSPACE_ID}/codes/sales-etl/versions/1")
    );
    assert_eq!(props["tags"]["poolbroker-compute-decision"], reason);
    assert_eq!(props["tags"]["poolbroker-idempotency-key"], key);
    assert_eq!(
        props["tags"]["poolbroker-command-correlation-id"],
        id.as_str()
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_serverless_when_the_pool_is_updating_failed_or_absent() {
    let world = start_with(fast_polling()).await;
    attach_pool(&world, "spark-u", POOL1, None).await;
    leave_updating(&world, "spark-u", POOL1).await;
    // An attach whose ARM operation fails leaves a Failed compute behind.
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/computes/spark-f".into(),
        kind: FaultKind::LroFailure {
            code: "InternalServerError".into(),
            message: "pool provisioning failed".into(),
        },
        times: 1,
    });
    let failed = round_trip(&world, &attach("spark-f", POOL2, None)).await;
    assert_status(&failed, "Failed");
    assert_eq!(
        world.arm.compute(WORKSPACE_ID, "spark-f").expect("compute")["properties"]["provisioningState"],
        "Failed"
    );

    // Without fallback an explicit compute that is not ready is refused, and nothing is PUT.
    let id = send_json(
        &world,
        &submit(job_spec(json!({"compute": "spark-u"})), "no-fallback"),
    );
    let reply = common::reply(&world, &id).await;
    assert_status(&reply, "Rejected");
    assert_eq!(reply["error"]["code"], "PoolNotReady");
    assert_eq!(reply["error"]["field"], "spec.compute");
    assert_eq!(rejected(&world, &id).await["error"]["code"], "PoolNotReady");
    assert!(job_puts(&world).is_empty());

    for (compute, state) in [
        ("spark-u", "is Updating"),
        ("spark-f", "is Failed"),
        ("spark-gone", "is not attached"),
    ] {
        let key = format!("fallback-{compute}");
        let spec = job_spec(json!({"compute": compute, "fallback": "serverless"}));
        let reply = round_trip(&world, &submit(spec, &key)).await;
        assert_status(&reply, "Succeeded");
        assert_eq!(
            reply["compute"],
            json!({"type": "serverless", "instanceType": "standard_e4s_v3", "runtimeVersion": "3.4"}),
            "{reply:#}"
        );
        assert_eq!(
            reply["computeReason"],
            format!("pool {compute} {state}; fell back to serverless (standard_e4s_v3, Spark 3.4)")
        );
        assert_eq!(reply["identity"], "user identity (serverless default)");
        let props = &put_body_of(&world, &job_name(&key))["properties"];
        assert!(props.get("computeId").is_none(), "{props:#}");
        assert_eq!(
            props["resources"],
            json!({"instanceType": "standard_e4s_v3", "runtimeVersion": "3.4"})
        );
        assert_eq!(props["identity"], json!({"identityType": "UserIdentity"}));
    }
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_compute_and_identity_are_honoured_and_an_unattached_identity_is_refused() {
    let world = start_with(fast_polling()).await;
    attach_pool(
        &world,
        "spark-b",
        POOL2,
        Some(user_assigned(&["uai-poolbroker-1", "uai-poolbroker-2"])),
    )
    .await;
    // A healthy preferred pool exists, but the explicit compute wins.
    attach_pool(&world, "spark-a", POOL1, None).await;

    let spec = job_spec(json!({
        "compute": "azureml:spark-b",
        "pool_preference": ["spark-a"],
        "identity": {"type": "managed", "resource_id": uai("uai-poolbroker-2")}
    }));
    let reply = round_trip(&world, &submit(spec, "explicit")).await;
    assert_status(&reply, "Succeeded");
    assert_eq!(reply["compute"]["name"], "spark-b");
    assert_eq!(
        reply["computeReason"],
        "pool spark-b as requested (Spark 3.3)"
    );
    assert_eq!(
        reply["identity"],
        "managed uai-poolbroker-2 (requested; attached to spark-b)"
    );
    let props = &put_body_of(&world, &job_name("explicit"))["properties"];
    assert_eq!(props["computeId"], compute_id("spark-b"));
    assert_eq!(props["identity"]["resourceId"], uai("uai-poolbroker-2"));

    let spec = job_spec(json!({
        "compute": "spark-b",
        "identity": {"type": "managed", "resource_id": uai("uai-etl")}
    }));
    let id = send_json(&world, &submit(spec, "not-attached"));
    let reply = common::reply(&world, &id).await;
    assert_status(&reply, "Rejected");
    assert_eq!(reply["error"]["code"], "IdentityNotAttached");
    assert_eq!(reply["error"]["field"], "spec.identity.resource_id");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("uai-etl is not attached to compute spark-b"),
        "{message}"
    );
    assert!(
        message.contains(&uai("uai-poolbroker-1")) && message.contains(&uai("uai-poolbroker-2")),
        "names the attached identities: {message}"
    );
    assert_eq!(
        rejected(&world, &id).await["error"]["code"],
        "IdentityNotAttached"
    );
    assert_eq!(job_puts(&world).len(), 1, "the refused job was never PUT");

    // A bad spec is refused with its field before anything is read.
    let id = send_json(
        &world,
        &submit(job_spec(json!({"code": "./src"})), "local-code"),
    );
    let reply = common::reply(&world, &id).await;
    assert_status(&reply, "Rejected");
    assert_eq!(reply["error"]["code"], "ValidationFailed");
    assert_eq!(reply["error"]["field"], "spec.code");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("az ml code create")),
        "{reply:#}"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_message_delivered_three_times_submits_one_job() {
    let world = start_with(fast_polling()).await;
    let body = envelope("SubmitSparkJob", job_spec(json!({}))).to_string();
    let message_id = "3f1c-job-message-1";
    let correlation = "triple-delivery";
    let send = || {
        send_with(&world, &body, |m| {
            m.message_id = Some(message_id.into());
            m.correlation_id = Some(correlation.into());
        })
    };
    // Sequential, as redeliveries are (a message is locked while it is processed). Concurrent
    // copies would both PUT, but the same name and definition: the service keeps one job.
    send();
    eventually("the first delivery's PUT", WAIT, || {
        (!job_puts(&world).is_empty()).then_some(())
    })
    .await;
    send();
    send();
    let name = job_name(message_id);
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(common::reply(&world, correlation).await);
    }
    for reply in &replies {
        assert_status(reply, "Succeeded");
        assert_eq!(reply["jobName"], name.as_str(), "{reply:#}");
        assert_eq!(reply["jobStatus"], "Completed");
    }
    assert_eq!(job_puts(&world).len(), 1, "one PUT for three deliveries");
    let (status, list) = arm_request(
        &world,
        Method::GET,
        &format!("{WORKSPACE_ID}/jobs?api-version={API_VERSION}&listViewType=All"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["value"]
        .as_array()
        .expect("job list")
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert_eq!(names, [name.as_str()]);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_submit_and_reply_still_gives_one_job_and_a_reply() {
    let world = start_with(fast_polling()).await;
    let mut events = world.host.subscribe();
    let first_pid = started_handler_pid(&mut events).await;
    // The job PUT is held long enough to kill the handler while it waits for the answer.
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/jobs/".into(),
        kind: FaultKind::Delay { ms: 1500 },
        times: 1,
    });
    let key = "crash-mid-submit";
    let id = send_json(&world, &submit(job_spec(json!({})), key));
    eventually("the job PUT in flight", WAIT, || {
        (!job_puts(&world).is_empty()).then_some(())
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    let reply = common::reply(&world, &id).await;
    assert_status(&reply, "Succeeded");
    let name = job_name(key);
    assert_eq!(reply["jobName"], name.as_str());
    assert_eq!(reply["jobStatus"], "Completed");
    assert!(world.arm.job(WORKSPACE_ID, &name).is_some());
    // Whether the held PUT landed before the restart or not, every PUT carried the same name and
    // the same definition: at most one more PUT, never a second job.
    let puts = job_puts(&world);
    assert!((1..=2).contains(&puts.len()), "{puts:#?}");
    assert!(
        puts.iter()
            .all(|p| p.path.ends_with(&format!("/jobs/{name}")))
    );
    assert!(puts.windows(2).all(|w| w[0].body == w[1].body || {
        let strip = |b: &Option<Value>| {
            let mut b = b.clone().unwrap_or_default();
            b["properties"]["tags"] = Value::Null;
            b
        };
        strip(&w[0].body) == strip(&w[1].body)
    }));

    // Sent again once the job has ended: no PUT, the current (terminal) status at once.
    let before = job_puts(&world).len();
    let again = round_trip(&world, &submit(job_spec(json!({})), key)).await;
    assert_status(&again, "Succeeded");
    assert_eq!(again["jobName"], name.as_str());
    assert_eq!(again["jobStatus"], "Completed");
    assert_eq!(job_puts(&world).len(), before, "a resend never PUTs again");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_canceled_jobs_and_cancel() {
    // Status reads are rare here, and the job takes a day per status: it stays NotStarted
    // until the test acts on it.
    let mut options = options_with(&[("POOLBROKER_JOB_POLL_SECS", "3600")]);
    options.emulator.job_step_duration = std::time::Duration::from_secs(24 * 3600);
    let world = start_with(options).await;
    let key = "to-cancel";
    let id = send_json(&world, &submit(job_spec(json!({})), key));
    let name = job_name(key);
    eventually("the follow-up tracking the job", WAIT, || {
        pending_commands(&world, &id).into_iter().find(|m| {
            serde_json::from_slice::<Value>(&m.message.body)
                .is_ok_and(|b| b["kind"] == "TrackSparkJob" && b["spec"]["job"] == name.as_str())
        })
    })
    .await;

    let reply = round_trip(&world, &envelope("CancelSparkJob", json!({"name": name}))).await;
    assert_status(&reply, "Succeeded");
    assert_eq!(reply["kind"], "CancelSparkJob");
    assert_eq!(reply["jobName"], name.as_str());
    assert_eq!(reply["jobStatus"], "Canceled");
    let cancels: Vec<RecordedRequest> = world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&format!("/jobs/{name}/cancel")))
        .collect();
    assert_eq!(cancels.len(), 1);

    let id = send_json(
        &world,
        &envelope("CancelSparkJob", json!({"name": "no-such-job"})),
    );
    let reply = common::reply(&world, &id).await;
    assert_status(&reply, "Rejected");
    assert_eq!(reply["error"]["code"], "JobNotFound");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_a_failed_reply_with_the_job_error_and_a_deadline_stops_following() {
    let world = start_with(fast_polling()).await;
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/jobs/".into(),
        kind: FaultKind::LroFailure {
            code: "SparkJobFailed".into(),
            message: "executor lost".into(),
        },
        times: 1,
    });
    let reply = round_trip(&world, &submit(job_spec(json!({})), "will-fail")).await;
    assert_status(&reply, "Failed");
    assert_eq!(reply["jobStatus"], "Failed");
    assert_eq!(reply["error"]["code"], "JobFailed");
    assert_eq!(
        reply["jobError"],
        json!({"code": "SparkJobFailed", "message": "executor lost"})
    );
    world.stop().await.unwrap();

    let mut options = options_with(&[
        ("POOLBROKER_JOB_POLL_SECS", "1"),
        ("POOLBROKER_OPERATION_DEADLINE_SECS", "0"),
    ]);
    // The job runs longer than the deadline of 0 s.
    options.emulator.job_run_duration = std::time::Duration::from_secs(24 * 3600);
    let world = start_with(options).await;
    let reply = round_trip(&world, &submit(job_spec(json!({})), "too-slow")).await;
    assert_status(&reply, "Failed");
    assert_eq!(reply["error"]["code"], "JobDeadlineExceeded");
    assert_eq!(reply["jobName"], job_name("too-slow").as_str());
    assert_ne!(reply["jobStatus"], "Completed");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_reply_goes_to_the_senders_reply_to_queue() {
    let world = start_with(fast_polling()).await;
    world
        .broker
        .create_queue("team-replies", Default::default());
    let body = submit(job_spec(json!({"compute": "auto"})), "own-reply-queue").to_string();
    let id = send_with(&world, &body, |m| m.reply_to = Some("team-replies".into()));
    let reply = receive_matching(
        &world,
        "team-replies",
        std::time::Duration::from_secs(30),
        |m| m.message.correlation_id.as_deref() == Some(id.as_str()),
    )
    .await
    .expect("the terminal reply arrives on the sender's ReplyTo, after the follow-ups");
    let reply: Value = serde_json::from_slice(&reply.message.body).unwrap();
    assert_eq!(reply["kind"], "SubmitSparkJob", "{reply:#}");
    assert_eq!(reply["jobStatus"], "Completed", "{reply:#}");
    world.stop().await.unwrap();
}
