//! The promises of docs/reliability.md, each reproduced over the real local world (the real
//! `poolbroker` binary under the local Functions host, the Service Bus and ARM emulators).

mod common;

use std::time::Duration;

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
    options.emulator.lro_polls_before_done = 3;
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
