//! The promises of docs/reliability.md, each reproduced over the real local world (the real
//! `poolbroker` binary under the local Functions host, the Service Bus and ARM emulators).

mod common;

use std::time::Duration;

use azureml_emulator::{FaultKind, FaultRule};
use common::*;
use functions_host::{HostEvent, Settlement};
use poolbroker::local::LocalWorld;
use serde_json::{Value, json};

const OTHER_SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000ee";
/// What one Service Bus Standard message may hold.
const SERVICE_BUS_LIMIT: usize = 256 * 1024;

/// An `AwaitOperation` as the broker would schedule it, naming `route` for its reply.
fn forged_await(workspace: Value, operation_url: &str, action: &str, correlation: &str) -> Value {
    json!({
        "apiVersion": "poolbroker/v1", "kind": "AwaitOperation", "workspace": workspace,
        "spec": {
            "operation": {"url": operation_url, "kind": "Location"},
            "action": {"type": action, "name": "victim-pool"},
            "reply": {"replyTo": REPLIES, "correlationId": correlation},
            "deadline": "2099-01-01T00:00:00Z", "attempt": 1
        }
    })
}

fn compute_touched(world: &LocalWorld, name: &str) -> bool {
    world.arm.requests().iter().any(|r| r.path.contains(name))
}

async fn settled_once(
    events: &mut tokio::sync::broadcast::Receiver<HostEvent>,
) -> Option<(u32, Settlement)> {
    next_event(events, WAIT, |e| match e {
        HostEvent::MessageSettled {
            queue,
            delivery_count,
            action,
            ..
        } if queue == COMMANDS => Some((*delivery_count, *action)),
        _ => None,
    })
    .await
}

/// Defect 1: an outsider's follow-up made the broker read a foreign compute with its own token
/// and answer to a correlation id of the outsider's choosing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_commands_from_outside_are_refused_and_nothing_is_run_or_answered_for_the_victim()
{
    let world = start().await;
    let foreign_ws =
        json!({"subscriptionId": OTHER_SUBSCRIPTION, "resourceGroup": "rg-x", "name": "ml-x"});
    let url = format!(
        "http://{}/subscriptions/{OTHER_SUBSCRIPTION}/resourceGroups/rg-x/providers/Microsoft.MachineLearningServices/workspaces/ml-x/computes/victim-pool?api-version={API_VERSION}",
        world.arm_addr
    );
    for (forged, signature) in [
        (
            forged_await(foreign_ws.clone(), &url, "Attach", "victim-1"),
            None,
        ),
        (
            forged_await(json!(WORKSPACE_ID), &url, "Detach", "victim-2"),
            Some("v1=AAAA"),
        ),
        (
            forged_await(json!(WORKSPACE_ID), &url, "Detach", "victim-3"),
            Some("v1=not base64!"),
        ),
    ] {
        let mut events = world.host.subscribe();
        let own = send_with(&world, &forged.to_string(), |m| {
            if let Some(sig) = signature {
                m.application_properties
                    .insert(poolbroker::handler::SIGNATURE_PROPERTY.into(), json!(sig));
            }
        });
        let reply = reply(&world, &own).await;
        assert_eq!(reply["status"], "Rejected", "{reply:#}");
        assert_eq!(reply["kind"], "AwaitOperation");
        assert_eq!(reply["error"]["code"], "InternalCommandNotAuthenticated");
        assert_eq!(reply["error"]["field"], "kind");
        let entry = rejected(&world, &own).await;
        assert_eq!(entry["error"]["code"], "InternalCommandNotAuthenticated");
        assert_eq!(
            settled_once(&mut events).await,
            Some((1, Settlement::Completed))
        );
        let victim = forged["spec"]["reply"]["correlationId"].as_str().unwrap();
        assert!(
            reply_within(&world, victim, Duration::from_millis(300))
                .await
                .is_none(),
            "no reply is sent to the route the forged spec names"
        );
    }
    assert!(
        !compute_touched(&world, "victim-pool"),
        "{:#?}",
        world.arm.requests()
    );
    world.stop().await.unwrap();
}

/// The broker's own follow-ups still work: they carry its signature, and re-signing a changed
/// body is what an outsider cannot do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brokers_own_follow_ups_are_signed_and_a_tampered_copy_is_refused() {
    let mut options = options_with(&[("POOLBROKER_LRO_BUDGET_SECS", "0")]);
    options.emulator.operation_duration = Duration::from_secs(3);
    options.emulator.retry_after_secs = 1;
    let world = start_with(options).await;
    let id = send_json(&world, &attach("spark-signed", POOL1, None));
    let follow_up = eventually("a scheduled follow-up", WAIT, || {
        pending_commands(&world, &id).into_iter().find(|m| {
            serde_json::from_slice::<Value>(&m.message.body)
                .is_ok_and(|b| b["kind"] == "AwaitOperation")
        })
    })
    .await;
    let signature = follow_up.message.application_properties
        [poolbroker::handler::SIGNATURE_PROPERTY]
        .as_str()
        .expect("the follow-up is signed")
        .to_owned();
    assert!(signature.starts_with("v1="), "{signature}");
    let reply = reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");

    // The same signature over a body naming another reply route is refused.
    let mut tampered: Value = serde_json::from_slice(&follow_up.message.body).unwrap();
    tampered["spec"]["reply"]["correlationId"] = json!("someone-else");
    let own = send_with(&world, &tampered.to_string(), |m| {
        m.application_properties.insert(
            poolbroker::handler::SIGNATURE_PROPERTY.into(),
            json!(signature),
        );
    });
    let refused = common::reply(&world, &own).await;
    assert_eq!(
        refused["error"]["code"], "InternalCommandNotAuthenticated",
        "{refused:#}"
    );
    assert!(
        reply_within(&world, "someone-else", Duration::from_millis(300))
            .await
            .is_none()
    );
    world.stop().await.unwrap();
}

/// Defect 4: a pool or identity in another subscription was attached although only the
/// workspace was checked against the allow-list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_arm_id_a_command_names_must_be_inside_the_allowed_scopes() {
    let world = start_with(options_with(&[("POOLBROKER_ALLOWED_SCOPES", WORKSPACE_ID)])).await;
    let foreign_pool = POOL1.replace(SUBSCRIPTION, OTHER_SUBSCRIPTION);
    let foreign_uai = uai("etl").replace(SUBSCRIPTION, OTHER_SUBSCRIPTION);
    let cases = [
        (attach("spark-x1", &foreign_pool, None), "spec.resource_id"),
        (
            attach(
                "spark-x2",
                POOL1,
                Some(
                    json!({"type": "user_assigned", "user_assigned_identities": [
                        {"resource_id": uai("okay")}, {"resource_id": foreign_uai}
                    ]}),
                ),
            ),
            "spec.identity.user_assigned_identities[1].resource_id",
        ),
        (
            envelope(
                "UpdatePoolIdentity",
                json!({"name": "spark-x3", "identity": {"type": "user_assigned",
                    "user_assigned_identities": [{"resource_id": uai("etl").replace("poolbroker-demo", "other-rg")}]}}),
            ),
            "spec.identity.user_assigned_identities[0].resource_id",
        ),
    ];
    for (command, field) in cases {
        let reply = round_trip(&world, &command).await;
        assert_eq!(reply["status"], "Rejected", "{reply:#}");
        assert_eq!(reply["error"]["code"], "ScopeNotAllowed", "{reply:#}");
        assert_eq!(reply["error"]["field"], field, "{reply:#}");
    }
    assert!(
        world.arm.requests().iter().all(|r| r.method == "GET"),
        "nothing was written: {:#?}",
        world.arm.requests()
    );
    // Ids in the workspace's resource group are fine.
    let ok = round_trip(
        &world,
        &attach("spark-in", POOL1, Some(user_assigned(&["etl"]))),
    )
    .await;
    assert_eq!(ok["status"], "Succeeded", "{ok:#}");
    world.stop().await.unwrap();
}

/// Defect 5: with duplicate keys the last one won, so `ShowPool … kind: DetachPool` detached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_are_refused_naming_the_key_in_json_and_yaml() {
    let world = start().await;
    let attached = round_trip(&world, &attach("spark-dup", POOL1, None)).await;
    assert_eq!(attached["status"], "Succeeded");
    world.arm.clear_requests();
    let json_body = r#"{"apiVersion":"poolbroker/v1","kind":"ShowPool","spec":{"name":"spark-dup"},"kind":"DetachPool"}"#;
    let yaml_body = "name: spark-dup2\ntype: synapsespark\nresource_id: RID\nname: spark-dup3\n"
        .replace("RID", POOL1);
    for (body, content_type, field) in [
        (json_body.to_owned(), "application/json", "kind"),
        (yaml_body, "application/yaml", "name"),
        (
            r#"{"apiVersion":"poolbroker/v1","kind":"AttachPool","spec":{"name":"a","name":"b","type":"synapsespark","resource_id":"x"}}"#.to_owned(),
            "application/json",
            "spec.name",
        ),
    ] {
        let id = send_with(&world, &body, |m| m.content_type = Some(content_type.into()));
        let reply = reply(&world, &id).await;
        assert_eq!(reply["status"], "Rejected", "{reply:#}");
        assert_eq!(reply["error"]["code"], "ValidationFailed");
        assert_eq!(reply["error"]["field"], field, "{reply:#}");
        assert!(reply["error"]["message"].as_str().unwrap().contains("more than once"));
    }
    assert!(
        world.arm.requests().is_empty(),
        "no ARM call for a refused message: {:#?}",
        world.arm.requests()
    );
    assert!(
        world.arm.compute(WORKSPACE_ID, "spark-dup").is_some(),
        "still attached"
    );
    world.stop().await.unwrap();
}

/// Defect 3: replies over 256 KB were refused by Service Bus (413) and dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_replies_are_cut_with_a_marker_and_always_delivered() {
    let world = start().await;
    let mut big_key = json!({"name": "spark-big", "type": "synapsespark", "resource_id": POOL1});
    big_key[format!("k{}", "x".repeat(200 * 1024))] = json!(1);
    let mut many_keys = json!({"name": "spark-many", "type": "synapsespark", "resource_id": POOL1});
    for i in 0..20_000 {
        many_keys[format!("u{i}")] = json!(0);
    }
    for spec in [big_key, many_keys] {
        let body = envelope("AttachPool", spec).to_string();
        let id = send(&world, &body);
        let (reply, size) = raw_reply(&world, &id).await;
        assert!(size < SERVICE_BUS_LIMIT, "reply of {size} bytes");
        assert_eq!(reply["status"], "Rejected");
        assert_eq!(reply["error"]["code"], "ValidationFailed");
        assert_eq!(reply["truncated"], true, "the cut is marked");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("bytes cut"),
            "{}",
            &message[message.len().saturating_sub(200)..]
        );
        let entry = rejected(&world, &id).await;
        assert!(entry.to_string().len() < SERVICE_BUS_LIMIT);
        assert_eq!(entry["truncated"], true);
    }

    // 1,000 user-assigned identities: ARM accepts the attach, and the reply still arrives.
    let names: Vec<String> = (0..1000).map(|i| format!("uai-{i:04}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let id = send_json(
        &world,
        &attach("spark-thousand", POOL1, Some(user_assigned(&refs))),
    );
    let (reply, size) = raw_reply(&world, &id).await;
    assert!(size < SERVICE_BUS_LIMIT, "reply of {size} bytes");
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(reply["resource"]["name"], "spark-thousand");
    let attached = world
        .arm
        .compute(WORKSPACE_ID, "spark-thousand")
        .expect("attached");
    assert_eq!(uai_keys(&attached["identity"]).len(), 1000);
    world.stop().await.unwrap();
}

async fn raw_reply(world: &LocalWorld, id: &str) -> (Value, usize) {
    let m = receive_matching(world, REPLIES, WAIT, |m| {
        m.message.correlation_id.as_deref() == Some(id)
    })
    .await
    .unwrap_or_else(|| panic!("no reply for {id}"));
    (json_body(&m), m.message.body.len())
}

fn fault(method: http::Method, path: &str, kind: FaultKind, times: u32) -> FaultRule {
    FaultRule {
        method: Some(method),
        path_contains: path.into(),
        kind,
        times,
    }
}

/// Polls of an operation URL the broker made, as the emulator recorded them.
fn operation_polls(world: &LocalWorld) -> Vec<String> {
    world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("computeOperations"))
        .map(|r| format!("{}?{}", r.path, r.query.unwrap_or_default()))
        .collect()
}

/// Finishes an operation whose URL the broker lost, as time would on Azure: the emulator's
/// clock moves past the operation's duration, then its status is read once.
async fn poll_to_the_end(world: &LocalWorld, path_and_query: &str) {
    // The emulator's operations run on its clock; end the orphaned one now, as time would.
    world.arm.complete_running_operations();
    for _ in 0..200 {
        let (status, body) = arm_request(world, reqwest::Method::GET, path_and_query, None).await;
        if status == 200 && body["status"] != "InProgress" {
            return;
        }
    }
    panic!("operation {path_and_query} never ended");
}

async fn settlements(
    events: &mut tokio::sync::broadcast::Receiver<HostEvent>,
    until: impl Fn(&[(u32, Settlement)]) -> bool,
) -> Vec<(u32, Settlement)> {
    let mut seen = Vec::new();
    while !until(&seen) {
        match settled_once(events).await {
            Some(s) => seen.push(s),
            None => panic!("settlements so far: {seen:?}"),
        }
    }
    seen
}

/// Defect 2: a detach redelivered while ARM was still deleting ended `Rejected` (409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detach_redelivered_while_arm_is_still_deleting_waits_and_succeeds() {
    let mut options = options_with(&[("POOLBROKER_ARM_MAX_RETRIES", "0")]);
    options.emulator.operation_duration = Duration::from_secs(3);
    let world = start_with(options).await;
    assert_eq!(
        round_trip(&world, &attach("spark-del", POOL1, None)).await["status"],
        "Succeeded"
    );
    world.arm.clear_requests();
    // The first delivery's first poll fails, so it is redelivered with the DELETE under way.
    world.arm.inject(fault(
        http::Method::GET,
        "computeOperationsStatus",
        FaultKind::Status {
            status: 503,
            code: "ServiceUnavailable".into(),
            message: "try later".into(),
        },
        1,
    ));
    let id = send_json(
        &world,
        &envelope("DetachPool", json!({"name": "spark-del"})),
    );
    // The redelivery reads the compute (Deleting) instead of sending a second DELETE.
    eventually("the redelivery's read", WAIT, || {
        (!compute_requests(&world, "GET", "spark-del").is_empty()).then_some(())
    })
    .await;
    let poll = eventually("the failed poll", WAIT, || {
        operation_polls(&world).into_iter().next()
    })
    .await;
    poll_to_the_end(&world, &poll).await;
    let reply = reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert!(world.arm.compute(WORKSPACE_ID, "spark-del").is_none());
    assert!(
        receive_matching(&world, REJECTED, Duration::from_millis(300), |m| {
            serde_json::from_slice::<Value>(&m.message.body).is_ok_and(|v| v["correlationId"] == id)
        })
        .await
        .is_none(),
        "nothing in the rejected queue"
    );
    assert!(
        reply_within(&world, &id, Duration::from_millis(300))
            .await
            .is_none(),
        "one reply only"
    );
    assert_eq!(
        compute_requests(&world, "DELETE", "spark-del").len(),
        1,
        "one DELETE"
    );
    world.stop().await.unwrap();
}

/// Defect 6: ARM accepted the PUT, the operation URL was refused, and the reply said `Rejected`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_write_whose_operation_cannot_be_followed_is_failed_not_rejected() {
    let mut options = options();
    options.emulator.operation_duration = Duration::from_secs(2);
    let world = start_with(options).await;
    world.arm.inject(fault(
        http::Method::PUT,
        "/computes/spark-foreign",
        FaultKind::ForeignOperationUrl {
            origin: "http://127.0.0.1:9".into(),
        },
        1,
    ));
    world.arm.inject(fault(
        http::Method::GET,
        "computeOperationsStatus",
        FaultKind::Status {
            status: 302,
            code: "Found".into(),
            message: "moved".into(),
        },
        1,
    ));
    for name in ["spark-foreign", "spark-redirect"] {
        let reply = round_trip(&world, &attach(name, POOL1, None)).await;
        assert_eq!(reply["status"], "Failed", "{name}: {reply:#}");
        assert_eq!(reply["error"]["code"], "OperationNotFollowed", "{reply:#}");
        assert!(
            world.arm.compute(WORKSPACE_ID, name).is_some(),
            "ARM took the change"
        );
    }
    world.stop().await.unwrap();
}

/// Defect 7: `Retry-After: 999999` parked a follow-up 11.6 days out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_retry_after_does_not_park_a_follow_up_past_ten_minutes() {
    let mut options = options_with(&[("POOLBROKER_LRO_BUDGET_SECS", "0")]);
    options.emulator.operation_duration = Duration::from_secs(5);
    options.emulator.retry_after_secs = 999_999;
    let world = start_with(options).await;
    let sent = time::OffsetDateTime::now_utc();
    let id = send_json(&world, &attach("spark-later", POOL1, None));
    let follow_up = eventually("the follow-up", WAIT, || {
        pending_commands(&world, &id)
            .into_iter()
            .find(|m| m.message.scheduled_enqueue_time.is_some())
    })
    .await;
    let due = follow_up.message.scheduled_enqueue_time.unwrap();
    assert!(
        due <= sent + time::Duration::minutes(10) + time::Duration::seconds(30),
        "scheduled for {due}, sent at {sent}"
    );
    world.stop().await.unwrap();
}

/// Defect 8: a PUT slower than the request timeout was sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_slower_than_the_request_timeout_is_not_sent_again() {
    let mut options = options_with(&[("POOLBROKER_ARM_REQUEST_TIMEOUT_MS", "300")]);
    options.emulator.operation_duration = Duration::from_secs(0);
    let world = start_with(options).await;
    world.arm.inject(fault(
        http::Method::PUT,
        "/computes/spark-slow",
        FaultKind::SlowAnswer { ms: 1500 },
        1,
    ));
    let reply = round_trip(&world, &attach("spark-slow", POOL1, None)).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert_eq!(
        compute_requests(&world, "PUT", "spark-slow").len(),
        1,
        "ARM took the first PUT; the redelivery read the compute instead of writing again"
    );
    world.stop().await.unwrap();
}

/// Defect 9: after a crash the operation URL is lost; each redelivery waited a whole budget
/// and burnt a delivery. Now it reads the compute once and puts the command off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_the_redelivery_reads_the_compute_and_puts_the_command_off() {
    let mut options = options();
    options.emulator.operation_duration = Duration::from_secs(60);
    options.emulator.retry_after_secs = 1;
    let world = start_with(options).await;
    let mut events = world.host.subscribe();
    let pid = started_handler_pid(&mut events).await;
    let id = send_json(&world, &attach("spark-crash", POOL1, None));
    let poll = eventually("the first operation poll", WAIT, || {
        operation_polls(&world).into_iter().next()
    })
    .await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    let deferred = eventually("the command put off", WAIT, || {
        pending_commands(&world, &id).into_iter().find(|m| {
            m.message
                .application_properties
                .contains_key(poolbroker::engine::DEFERRED_SINCE_PROPERTY)
        })
    })
    .await;
    assert_eq!(deferred.message.reply_to.as_deref(), Some(REPLIES));
    let body: Value = serde_json::from_slice(&deferred.message.body).unwrap();
    assert_eq!(
        body["kind"], "AttachPool",
        "the sender's own command, put off"
    );
    let seen = settlements(&mut events, |s| s.iter().any(|(n, _)| *n == 2)).await;
    assert!(
        seen.contains(&(2, Settlement::Completed)),
        "the redelivery completes instead of failing after a budget: {seen:?}"
    );

    poll_to_the_end(&world, &poll).await;
    let reply = reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert_eq!(
        compute_requests(&world, "PUT", "spark-crash").len(),
        1,
        "one write"
    );
    world.stop().await.unwrap();
}
