//! `workspace-cleanup` end to end: the real `poolbroker` binary under the local Functions host,
//! fired by the host's timer (reports on `cleanup-reports`) or invoked directly on the handler's
//! `/workspace-cleanup` route with the host's timer payload (overlapping and late runs), against
//! the ARM emulator (docs/cleanup.md).

mod common;

use std::time::Duration;

use azureml_emulator::{FaultKind, FaultRule, JobStatus};
use common::*;
use functions_host::HostEvent;
use poolbroker::local::{LocalOptions, LocalWorld};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Every second, so a test sees a run without waiting minutes.
const EVERY_SECOND: &str = "*/1 * * * * *";
/// Never within a test run: for tests that invoke the handler themselves.
const NEVER_IN_A_TEST: &str = "0 0 0 1 1 *";

fn options_for(schedule: &str, extra: &[(&str, &str)]) -> LocalOptions {
    let mut settings = vec![("POOLBROKER_CLEANUP_SCHEDULE", schedule)];
    settings.extend_from_slice(extra);
    let mut options = options_with(&settings);
    // A job forced to `Running` keeps running for the whole test (busy pools stay busy).
    options.emulator.job_run_duration = std::time::Duration::from_secs(24 * 3600);
    options
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .expect("0 is a valid nanosecond")
        .format(&Rfc3339)
        .expect("formats")
}

fn an_hour_ago() -> String {
    rfc3339(OffsetDateTime::now_utc() - time::Duration::hours(1))
}

fn in_an_hour() -> String {
    rfc3339(OffsetDateTime::now_utc() + time::Duration::hours(1))
}

fn managed_until(expires_at: &str) -> Value {
    json!({"poolbroker-managed": "true", "poolbroker-expires-at": expires_at})
}

/// Attaches (or re-tags) `name` straight on ARM, as another tool or a person would, and follows
/// the operation until the compute is `Succeeded`.
async fn put_compute(world: &LocalWorld, name: &str, pool: &str, tags: Value) {
    let client = world.arm_client().expect("a client trusting the local CA");
    let token = world.arm.issue_token("https://management.azure.com");
    let url = format!(
        "{}{WORKSPACE_ID}/computes/{name}?api-version={API_VERSION}",
        world.arm_url()
    );
    let response = client
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({
            "location": "eastus2",
            "tags": tags,
            "properties": {"computeType": "SynapseSpark", "resourceId": pool}
        }))
        .send()
        .await
        .expect("ARM emulator answers");
    let status = response.status().as_u16();
    let operation = response
        .headers()
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert!(
        matches!(status, 200 | 201),
        "{status}: {}",
        response.text().await.unwrap_or_default()
    );
    let operation = operation.expect("a compute PUT is a long-running operation");
    for _ in 0..50 {
        let state: Value = client
            .get(&operation)
            .bearer_auth(&token)
            .send()
            .await
            .expect("operation status")
            .json()
            .await
            .expect("operation JSON");
        if state["status"] == "Succeeded" {
            let stored = world.arm.compute(WORKSPACE_ID, name).expect("stored");
            assert_eq!(stored["properties"]["provisioningState"], "Succeeded");
            return;
        }
        assert_eq!(state["status"], "InProgress", "{state:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the PUT of {name} did not finish");
}

/// A Spark job on the attached compute, put straight on ARM and forced to `Running`.
async fn running_job_on(world: &LocalWorld, job: &str, compute: &str) {
    let (status, body) = arm_request(
        world,
        Method::PUT,
        &format!("{WORKSPACE_ID}/jobs/{job}?api-version={API_VERSION}"),
        Some(&spark_job_on(compute)),
    )
    .await;
    assert!(matches!(status, 200 | 201), "{status}: {body:#}");
    world
        .arm
        .set_job_status(WORKSPACE_ID, job, JobStatus::Running)
        .expect("job exists");
}

/// The workspace's entry of a cleanup report.
fn workspace_entry(report: &Value) -> &Value {
    report["workspaces"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|w| w["workspace"].as_str() == Some(WORKSPACE_ID))
        })
        .unwrap_or_else(|| panic!("no entry for the demo workspace: {report:#}"))
}

/// The reason a report's `list` gives for `name`, if it lists it.
fn reason<'a>(entry: &'a Value, list: &str, name: &str) -> Option<&'a str> {
    entry[list]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["reason"].as_str().unwrap_or_default())
}

fn listed_in(entry: &Value, name: &str) -> Vec<&'static str> {
    ["kept", "to_detach", "detached", "kept_at_detach", "failed"]
        .into_iter()
        .filter(|list| {
            entry[*list]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p["name"] == name))
        })
        .collect()
}

/// Takes reports off `cleanup-reports` until `done` accepts one; returns every report seen.
async fn reports_until(world: &LocalWorld, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let Some(m) =
            receive_matching(world, CLEANUP_REPORTS, Duration::from_millis(500), |_| true).await
        else {
            continue;
        };
        let report = json_body(&m);
        let finished = done(&report);
        seen.push(report);
        if finished {
            return seen;
        }
    }
    panic!("no cleanup report met the condition; seen: {seen:#?}");
}

fn detaches(world: &LocalWorld) -> Vec<(String, Option<String>)> {
    world
        .arm
        .delete_actions()
        .into_iter()
        .map(|d| (d.compute_id, d.underlying_resource_action))
        .collect()
}

/// The port the host started the handler on (the first subscriber sees the start).
async fn handler_port(world: &LocalWorld) -> u16 {
    let mut events = world.host.subscribe();
    next_event(&mut events, WAIT, |e| match e {
        HostEvent::HandlerReady { port, .. } => Some(*port),
        _ => None,
    })
    .await
    .expect("the handler became ready")
}

/// One `workspace-cleanup` invocation exactly as the host sends it; returns the `report`
/// output the handler asks the host to send to `cleanup-reports`.
async fn invoke_cleanup(port: u16, past_due: bool) -> Value {
    let body = json!({
        "Data": {"timer": {
            "Schedule": {"AdjustForDST": true},
            "ScheduleStatus": null,
            "IsPastDue": past_due
        }},
        "Metadata": {"sys": {
            "MethodName": "workspace-cleanup",
            "UtcNow": rfc3339(OffsetDateTime::now_utc()),
            "RandGuid": uuid::Uuid::new_v4().to_string()
        }}
    });
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/workspace-cleanup"))
        .header(
            "X-Azure-Functions-InvocationId",
            uuid::Uuid::new_v4().to_string(),
        )
        .json(&body)
        .send()
        .await
        .expect("the handler answers");
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON invocation response");
    answer["Outputs"]["report"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timer_detaches_an_expired_pool_keeps_keep_busy_and_foreign_pools_and_reports_why() {
    let world = start_with(options_for(EVERY_SECOND, &[])).await;
    let past = an_hour_ago();
    put_compute(&world, "spark-expired", POOL1, managed_until(&past)).await;
    let mut keep = managed_until(&past);
    keep["poolbroker-keep"] = json!("true");
    put_compute(&world, "spark-keep", POOL1, keep).await;
    put_compute(
        &world,
        "spark-foreign",
        POOL2,
        json!({"poolbroker-expires-at": past}),
    )
    .await;
    // Not yet due while its job starts; then it expires, with the job still running.
    put_compute(&world, "spark-busy", POOL2, managed_until(&in_an_hour())).await;
    running_job_on(&world, "etl-busy-1", "spark-busy").await;
    put_compute(&world, "spark-busy", POOL2, managed_until(&past)).await;

    let expired_reason = format!("expired at {past}");
    let mut detached_in = None;
    let reports = reports_until(&world, |report| {
        let entry = workspace_entry(report);
        if reason(entry, "detached", "spark-expired").is_some() {
            detached_in = Some(entry.clone());
        }
        detached_in.is_some()
            && reason(entry, "kept", "spark-busy")
                == Some("has running job etl-busy-1 (status Running)")
    })
    .await;
    let entry = detached_in.expect("a run detached spark-expired");
    assert_eq!(
        reason(&entry, "detached", "spark-expired"),
        Some(expired_reason.as_str()),
        "{entry:#}"
    );
    assert_eq!(
        reason(&entry, "to_detach", "spark-expired"),
        Some(expired_reason.as_str())
    );
    assert_eq!(entry["failed"], json!([]), "{entry:#}");
    assert_eq!(entry["dry_run"], false);

    let last = workspace_entry(reports.last().expect("a report"));
    assert_eq!(
        reason(last, "kept", "spark-keep"),
        Some("kept: poolbroker-keep=true"),
        "{last:#}"
    );
    assert_eq!(
        reason(last, "kept", "spark-foreign"),
        Some("not attached by poolbroker (no poolbroker-managed=true tag) and manage_all is false"),
        "{last:#}"
    );
    let report = reports.last().expect("a report");
    assert_eq!(report["isPastDue"], false);
    assert!(report["runId"].as_str().is_some_and(|r| !r.is_empty()));

    // No run, ever, touched the others; the expired one was detached once, as a Detach.
    for report in &reports {
        let entry = workspace_entry(report);
        for name in ["spark-keep", "spark-busy", "spark-foreign"] {
            // Early runs may predate the pool.
            let lists = listed_in(entry, name);
            assert!(lists.is_empty() || lists == ["kept"], "{name}: {entry:#}");
        }
        assert_eq!(entry["failed"], json!([]), "{entry:#}");
    }
    assert_eq!(
        detaches(&world),
        vec![(compute_id("spark-expired"), Some("Detach".to_owned()))]
    );
    assert!(world.arm.compute(WORKSPACE_ID, "spark-keep").is_some());
    assert!(world.arm.compute(WORKSPACE_ID, "spark-busy").is_some());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_what_would_be_detached_and_sends_no_delete() {
    let policy = json!({"workspaces": [{"workspace": WORKSPACE_ID, "dry_run": true}]}).to_string();
    let world = start_with(options_for(
        EVERY_SECOND,
        &[("POOLBROKER_CLEANUP_POLICY", &policy)],
    ))
    .await;
    let past = an_hour_ago();
    put_compute(&world, "spark-expired", POOL1, managed_until(&past)).await;
    put_compute(&world, "spark-fresh", POOL2, managed_until(&in_an_hour())).await;

    let expected = format!("expired at {past}");
    // The timer may fire between the two attaches: wait for a run that saw both pools.
    let reports = reports_until(&world, |report| {
        let entry = workspace_entry(report);
        reason(entry, "to_detach", "spark-expired").is_some()
            && entry["examined"].as_u64() == Some(2)
    })
    .await;
    let entry = workspace_entry(reports.last().expect("a report"));
    assert_eq!(entry["dry_run"], true, "{entry:#}");
    assert_eq!(
        reason(entry, "to_detach", "spark-expired"),
        Some(expected.as_str())
    );
    assert!(
        reason(entry, "kept", "spark-fresh").is_some_and(|r| r.starts_with("expires at ")),
        "{entry:#}"
    );
    assert_eq!(entry["detached"], json!([]), "{entry:#}");
    assert_eq!(entry["failed"], json!([]), "{entry:#}");

    // One more run, to be sure a later run does not act on the plan either.
    reports_until(&world, |_| true).await;
    let deletes: Vec<String> = world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect();
    assert_eq!(deletes, Vec::<String>::new(), "a dry run sent a DELETE");
    assert_eq!(detaches(&world), vec![]);
    assert!(world.arm.compute(WORKSPACE_ID, "spark-expired").is_some());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overlapping_runs_detach_each_expired_pool_once_and_neither_fails() {
    let world = start_with(options_for(NEVER_IN_A_TEST, &[])).await;
    // A detach takes ARM a while (minutes in Azure); here each operation poll takes 500 ms, so
    // the second run meets the first one's detach still running.
    world.arm.inject(FaultRule {
        method: None,
        path_contains: "computeOperations".into(),
        kind: FaultKind::Delay { ms: 500 },
        times: 0,
    });
    overlapping_runs_detach_once(&world).await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overlapping_runs_with_instant_arm_operations_never_both_report_a_detach() {
    let world = start_with(options_for(NEVER_IN_A_TEST, &[])).await;
    overlapping_runs_detach_once(&world).await;
    world.stop().await.unwrap();
}

/// Three expired pools, two cleanup runs at the same time: each pool is detached by exactly one
/// run, the other sees it going or gone, and neither reports a failure.
async fn overlapping_runs_detach_once(world: &LocalWorld) {
    let port = handler_port(world).await;
    let past = an_hour_ago();
    let pools = ["spark-old-a", "spark-old-b", "spark-old-c"];
    for (i, name) in pools.iter().enumerate() {
        let pool = if i % 2 == 0 { POOL1 } else { POOL2 };
        put_compute(world, name, pool, managed_until(&past)).await;
    }

    let (a, b) = tokio::join!(invoke_cleanup(port, false), invoke_cleanup(port, false));
    let runs = [workspace_entry(&a).clone(), workspace_entry(&b).clone()];
    for name in pools {
        let mut detached_by = 0;
        for run in &runs {
            assert_eq!(run["failed"], json!([]), "{run:#}");
            let lists = listed_in(run, name);
            let own_detach = run["detached"]
                .as_array()
                .and_then(|a| a.iter().find(|p| p["name"] == name))
                .is_some_and(|p| p.get("already_gone").is_none());
            if own_detach {
                detached_by += 1;
            } else {
                // The other run saw the pool going (kept: Deleting), found it going or gone when
                // it re-read it right before detaching, lost the race at ARM (409), or listed
                // after it was gone.
                assert!(
                    lists.is_empty()
                        || lists == ["kept"]
                        || lists == ["to_detach", "kept_at_detach"]
                        || lists == ["to_detach", "detached"],
                    "{name}: {lists:?} in {run:#}"
                );
            }
        }
        assert_eq!(detached_by, 1, "{name}: {runs:#?}");
        assert!(world.arm.compute(WORKSPACE_ID, name).is_none());
        // Every DELETE that reached ARM for this pool asked for a detach; more than one only if
        // the loser was answered 409 (kept_at_detach) or 204 (already gone, reported as such).
        let deletes: Vec<_> = detaches(world)
            .into_iter()
            .filter(|(id, _)| *id == compute_id(name))
            .collect();
        let conflicts = runs
            .iter()
            .filter(|run| {
                reason(run, "kept_at_detach", name)
                    .is_some_and(|r| r.contains("another operation on this compute"))
            })
            .count();
        // A run that found the pool gone on its re-read sent no DELETE; one whose DELETE was
        // answered 204 did.
        let gone_at_delete = runs
            .iter()
            .filter(|run| {
                run["detached"].as_array().is_some_and(|a| {
                    a.iter().any(|p| {
                        p["name"] == name
                            && p["already_gone"] == json!(true)
                            && p["found_gone"] == "detach"
                    })
                })
            })
            .count();
        assert_eq!(
            deletes.len(),
            1 + conflicts + gone_at_delete,
            "{name}: {deletes:?}"
        );
        assert!(
            deletes
                .iter()
                .all(|(_, action)| action.as_deref() == Some("Detach"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_firing_detaches_the_same_way_and_says_it_was_past_due() {
    let world = start_with(options_for(NEVER_IN_A_TEST, &[])).await;
    let port = handler_port(&world).await;
    let past = an_hour_ago();
    put_compute(&world, "spark-late", POOL1, managed_until(&past)).await;
    put_compute(&world, "spark-fresh", POOL2, managed_until(&in_an_hour())).await;

    let report = invoke_cleanup(port, true).await;
    assert_eq!(report["isPastDue"], true, "{report:#}");
    let entry = workspace_entry(&report);
    let expected = format!("expired at {past}");
    assert_eq!(
        reason(entry, "detached", "spark-late"),
        Some(expected.as_str()),
        "{entry:#}"
    );
    assert_eq!(listed_in(entry, "spark-fresh"), vec!["kept"]);
    assert_eq!(entry["examined"], 2);
    assert_eq!(
        detaches(&world),
        vec![(compute_id("spark-late"), Some("Detach".to_owned()))]
    );
    assert!(world.arm.compute(WORKSPACE_ID, "spark-late").is_none());

    // Firing again (a duplicate or catch-up run) finds nothing left to do.
    let again = invoke_cleanup(port, true).await;
    let entry = workspace_entry(&again);
    assert_eq!(
        listed_in(entry, "spark-late"),
        Vec::<&str>::new(),
        "{entry:#}"
    );
    assert_eq!(detaches(&world).len(), 1);
    world.stop().await.unwrap();
}

/// The handler answers every invocation with `Server-Timing: handler;dur=…, arm;dur=…`: its own
/// wall time and the part spent waiting on ARM (how the benchmark separates broker overhead from
/// ARM latency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_answers_server_timing_that_counts_its_wait_on_arm() {
    let world = start_with(options_for(NEVER_IN_A_TEST, &[])).await;
    let port = handler_port(&world).await;
    // The run lists computes once and jobs once: 150 ms of ARM wait at the least.
    world.arm.inject(FaultRule {
        method: Some(Method::GET),
        path_contains: "/computes".into(),
        kind: FaultKind::Delay { ms: 150 },
        times: 1,
    });
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/workspace-cleanup"))
        .json(&json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}}))
        .send()
        .await
        .expect("the handler answers");
    assert_eq!(response.status(), 200);
    let header = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("a Server-Timing header");
    let dur = |name: &str| -> f64 {
        header
            .split(", ")
            .find_map(|m| m.strip_prefix(&format!("{name};dur=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} duration in {header:?}"))
    };
    let (handler, arm) = (dur("handler"), dur("arm"));
    assert!(arm >= 150.0, "ARM wait {arm} ms in {header:?}");
    assert!(handler >= arm, "{header:?}");
    world.stop().await.unwrap();
}
