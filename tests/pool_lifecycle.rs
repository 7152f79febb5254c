//! Every seed scenario (attach / update identity / show / list / detach a Synapse Spark pool)
//! sent through `pool-commands` to the real `poolbroker` binary under the local Functions host,
//! against the ARM emulator.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use azureml_emulator::{FaultKind, FaultRule, JobStatus};
use common::*;
use functions_host::{HostEvent, Settlement};
use reqwest::Method;
use serde_json::{Value, json};

fn assert_succeeded(reply: &Value) {
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
}

fn assert_rejected(reply: &Value, code: &str) {
    assert_eq!(reply["status"], "Rejected", "{reply:#}");
    assert_eq!(reply["error"]["code"], code, "{reply:#}");
}

/// The fields `az ml compute show` prints for an attached pool, filled from the Synapse pool.
fn assert_az_ml_shape(resource: &Value, name: &str, pool: &str, spark_version: &str) {
    assert_eq!(resource["name"], name, "{resource:#}");
    assert_eq!(resource["type"], "synapsespark");
    assert_eq!(resource["id"], compute_id(name));
    assert_eq!(resource["resource_id"], pool);
    assert_eq!(resource["location"], "eastus2");
    assert_eq!(resource["resourceGroup"], RESOURCE_GROUP);
    assert_eq!(resource["provisioning_state"], "Succeeded");
    assert_eq!(resource["node_count"], 5);
    assert_eq!(resource["node_family"], "MemoryOptimized");
    assert_eq!(resource["node_size"], "Small");
    assert_eq!(resource["spark_version"], spark_version);
    assert_eq!(
        resource["auto_pause_settings"],
        json!({"auto_pause_enabled": true, "delay_in_minutes": 15})
    );
    assert_eq!(
        resource["scale_settings"],
        json!({"auto_scale_enabled": false, "max_node_count": 0, "min_node_count": 0})
    );
}

fn put_bodies(world: &poolbroker::local::LocalWorld, name: &str) -> Vec<Value> {
    compute_requests(world, "PUT", name)
        .into_iter()
        .map(|r| r.body.expect("compute PUT has a body"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_without_identity_sends_no_identity_and_replies_in_az_ml_shape() {
    let world = start().await;
    let reply = round_trip(&world, &attach("spark-plain", POOL1, None)).await;
    assert_succeeded(&reply);
    assert_eq!(reply["kind"], "AttachPool");
    let resource = &reply["resource"];
    assert_az_ml_shape(resource, "spark-plain", POOL1, "3.4");
    assert!(resource.get("identity").is_none(), "{resource:#}");

    let bodies = put_bodies(&world, "spark-plain");
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let body = &bodies[0];
    // As azure-ai-ml sends it: no identity key at all, the workspace's location, SynapseSpark.
    assert!(body.get("identity").is_none(), "{body:#}");
    assert_eq!(body["location"], "eastus2");
    assert_eq!(body["properties"]["computeType"], "SynapseSpark");
    assert_eq!(body["properties"]["resourceId"], POOL1);
    let put = &compute_requests(&world, "PUT", "spark-plain")[0];
    assert_eq!(
        put.query.as_deref(),
        Some(format!("api-version={API_VERSION}").as_str())
    );

    let stored = world
        .arm
        .compute(WORKSPACE_ID, "spark-plain")
        .expect("compute stored");
    assert_eq!(stored["properties"]["provisioningState"], "Succeeded");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_with_system_assigned_identity() {
    let world = start().await;
    let reply = round_trip(
        &world,
        &attach(
            "spark-system",
            POOL2,
            Some(json!({"type": "system_assigned"})),
        ),
    )
    .await;
    assert_succeeded(&reply);
    let resource = &reply["resource"];
    assert_az_ml_shape(resource, "spark-system", POOL2, "3.3");
    assert_eq!(resource["identity"]["type"], "system_assigned");
    let stored = world.arm.compute(WORKSPACE_ID, "spark-system").unwrap();
    assert_eq!(stored["identity"]["type"], "SystemAssigned");
    assert_eq!(
        resource["identity"]["principal_id"], stored["identity"]["principalId"],
        "the reply shows the principal ARM generated"
    );
    assert!(
        resource["identity"]
            .get("user_assigned_identities")
            .is_none()
    );

    let bodies = put_bodies(&world, "spark-system");
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["identity"], json!({"type": "SystemAssigned"}));
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_with_two_user_assigned_identities_keeps_their_order() {
    let world = start().await;
    // Not alphabetical, so a sorted map anywhere on the way would show.
    let order = [uai("uai-poolbroker-2"), uai("uai-poolbroker-1")];
    let reply = round_trip(
        &world,
        &attach(
            "spark-uai",
            POOL1,
            Some(user_assigned(&["uai-poolbroker-2", "uai-poolbroker-1"])),
        ),
    )
    .await;
    assert_succeeded(&reply);

    // 1. the PUT body the emulator recorded
    let bodies = put_bodies(&world, "spark-uai");
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["identity"]["type"], "UserAssigned");
    assert_eq!(uai_keys(&bodies[0]["identity"]), order);
    for key in &order {
        assert_eq!(
            bodies[0]["identity"]["userAssignedIdentities"][key],
            json!({})
        );
    }
    // 2. the emulator's stored compute
    let stored = world.arm.compute(WORKSPACE_ID, "spark-uai").unwrap();
    assert_eq!(uai_keys(&stored["identity"]), order);
    // 3. the reply, with the ids ARM filled in
    let resource = &reply["resource"];
    assert_eq!(resource["identity"]["type"], "user_assigned");
    assert_eq!(az_uai_ids(resource), order);
    for (i, id) in order.iter().enumerate() {
        let item = &resource["identity"]["user_assigned_identities"][i];
        let arm = &stored["identity"]["userAssignedIdentities"][id];
        assert_eq!(item["client_id"], arm["clientId"], "{item:#}");
        assert_eq!(item["principal_id"], arm["principalId"], "{item:#}");
    }
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_updates_a_changed_identity_and_sends_nothing_when_identical() {
    let world = start().await;
    let first = attach("spark-re", POOL1, Some(json!({"type": "system_assigned"})));
    assert_succeeded(&round_trip(&world, &first).await);
    assert_eq!(put_bodies(&world, "spark-re").len(), 1);

    // Same name, other identity: create-or-update sends a full PUT.
    let changed = attach(
        "spark-re",
        POOL1,
        Some(user_assigned(&["uai-poolbroker-1"])),
    );
    let reply = round_trip(&world, &changed).await;
    assert_succeeded(&reply);
    let bodies = put_bodies(&world, "spark-re");
    assert_eq!(bodies.len(), 2, "a changed identity is an update PUT");
    assert_eq!(bodies[1]["identity"]["type"], "UserAssigned");
    assert_eq!(uai_keys(&bodies[1]["identity"]), [uai("uai-poolbroker-1")]);
    assert_eq!(bodies[1]["properties"]["resourceId"], POOL1);
    assert_eq!(az_uai_ids(&reply["resource"]), [uai("uai-poolbroker-1")]);
    let stored = world.arm.compute(WORKSPACE_ID, "spark-re").unwrap();
    assert_eq!(stored["identity"]["type"], "UserAssigned");

    // Identical again: no PUT, and the reply says so.
    let reply = round_trip(&world, &changed).await;
    assert_succeeded(&reply);
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains("no change"), "{reply:#}");
    assert_eq!(
        put_bodies(&world, "spark-re").len(),
        2,
        "an identical re-attach must not send a PUT"
    );
    assert_eq!(az_uai_ids(&reply["resource"]), [uai("uai-poolbroker-1")]);
    world.stop().await.unwrap();
}

const YAML_ATTACH: &str = "# az ml compute attach --file pool.yml
name: spark-yaml

type: synapsespark

resource_id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1

identity:
  type: user_assigned
  user_assigned_identities:
    - resource_id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-2
    - resource_id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-1
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_ml_yaml_body_is_accepted_verbatim_as_an_attach() {
    let world = start().await;
    let declared = send_with(&world, YAML_ATTACH, |m| {
        m.content_type = Some("application/yaml".into());
    });
    let reply = common::reply(&world, &declared).await;
    assert_succeeded(&reply);
    assert_eq!(reply["kind"], "AttachPool");
    assert_az_ml_shape(&reply["resource"], "spark-yaml", POOL1, "3.4");
    let order = [uai("uai-poolbroker-2"), uai("uai-poolbroker-1")];
    assert_eq!(az_uai_ids(&reply["resource"]), order);
    let bodies = put_bodies(&world, "spark-yaml");
    assert_eq!(bodies.len(), 1);
    assert_eq!(uai_keys(&bodies[0]["identity"]), order);

    // The same document with no content type is recognised too (and is a no-op now).
    let detected = YAML_ATTACH.replace("spark-yaml", "spark-yaml-b");
    let id = send_with(&world, &detected, |m| m.content_type = None);
    let reply = common::reply(&world, &id).await;
    assert_succeeded(&reply);
    assert_az_ml_shape(&reply["resource"], "spark-yaml-b", POOL1, "3.4");
    assert_eq!(put_bodies(&world, "spark-yaml-b").len(), 1);
    assert_eq!(az_uai_ids(&reply["resource"]), order);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_returns_the_attached_pool() {
    let world = start().await;
    let attached = round_trip(
        &world,
        &attach(
            "spark-show",
            POOL2,
            Some(user_assigned(&["uai-poolbroker-1"])),
        ),
    )
    .await;
    assert_succeeded(&attached);
    world.arm.clear_requests();

    let reply = round_trip(&world, &envelope("ShowPool", json!({"name": "spark-show"}))).await;
    assert_succeeded(&reply);
    assert_eq!(reply["kind"], "ShowPool");
    assert_az_ml_shape(&reply["resource"], "spark-show", POOL2, "3.3");
    assert_eq!(reply["resource"], attached["resource"]);
    assert!(
        compute_requests(&world, "PUT", "spark-show").is_empty(),
        "show only reads"
    );
    assert_eq!(compute_requests(&world, "GET", "spark-show").len(), 1);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_follows_next_links_and_returns_every_pool() {
    let mut options = options();
    options.emulator.page_size = 2;
    let world = start_with(options).await;
    let names = ["spark-l1", "spark-l2", "spark-l3", "spark-l4", "spark-l5"];
    let ids: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| send_json(&world, &attach(n, [POOL1, POOL2][i % 2], None)))
        .collect();
    for id in &ids {
        assert_succeeded(&common::reply(&world, id).await);
    }
    world.arm.clear_requests();

    let reply = round_trip(&world, &envelope("ListPools", json!({}))).await;
    assert_succeeded(&reply);
    let resources = reply["resources"].as_array().expect("resources");
    let listed: BTreeSet<&str> = resources
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names.into_iter().collect(), "{reply:#}");
    for r in resources {
        assert_eq!(r["type"], "synapsespark");
        assert_eq!(r["provisioning_state"], "Succeeded");
    }
    let pages: Vec<_> = world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.to_ascii_lowercase().ends_with("/computes"))
        .collect();
    assert_eq!(
        pages.len(),
        3,
        "5 computes in pages of 2 take 3 GETs: {pages:#?}"
    );
    assert!(
        pages[1..]
            .iter()
            .all(|p| p.query.as_deref().unwrap_or("").contains("$skip")),
        "later pages come from nextLink: {pages:#?}"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_identity_system_to_user_and_back() {
    let world = start().await;
    let attached = round_trip(
        &world,
        &attach("spark-upd", POOL1, Some(json!({"type": "system_assigned"}))),
    )
    .await;
    assert_succeeded(&attached);

    let order = [uai("uai-poolbroker-2"), uai("uai-poolbroker-1")];
    let to_user = envelope(
        "UpdatePoolIdentity",
        json!({"name": "spark-upd", "identity": {
            "type": "UserAssigned", "user_assigned_identities": order
        }}),
    );
    let reply = round_trip(&world, &to_user).await;
    assert_succeeded(&reply);
    assert_eq!(reply["kind"], "UpdatePoolIdentity");
    assert_eq!(reply["resource"]["identity"]["type"], "user_assigned");
    assert_eq!(az_uai_ids(&reply["resource"]), order);
    let bodies = put_bodies(&world, "spark-upd");
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["identity"]["type"], "UserAssigned");
    assert_eq!(uai_keys(&bodies[1]["identity"]), order);
    // The update keeps what the pool was attached with.
    assert_eq!(bodies[1]["properties"]["resourceId"], POOL1);
    assert_eq!(bodies[1]["properties"]["computeType"], "SynapseSpark");
    let stored = world.arm.compute(WORKSPACE_ID, "spark-upd").unwrap();
    assert_eq!(stored["identity"]["type"], "UserAssigned");
    assert_eq!(uai_keys(&stored["identity"]), order);

    let to_system = envelope(
        "UpdatePoolIdentity",
        json!({"name": "spark-upd", "identity": {"type": "SystemAssigned"}}),
    );
    let reply = round_trip(&world, &to_system).await;
    assert_succeeded(&reply);
    assert_eq!(reply["resource"]["identity"]["type"], "system_assigned");
    assert!(
        reply["resource"]["identity"]
            .get("user_assigned_identities")
            .is_none(),
        "{reply:#}"
    );
    let bodies = put_bodies(&world, "spark-upd");
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[2]["identity"], json!({"type": "SystemAssigned"}));
    let stored = world.arm.compute(WORKSPACE_ID, "spark-upd").unwrap();
    assert_eq!(stored["identity"]["type"], "SystemAssigned");
    assert!(stored["identity"].get("userAssignedIdentities").is_none());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_sends_underlying_resource_action_detach_then_show_is_not_found() {
    let world = start().await;
    assert_succeeded(&round_trip(&world, &attach("spark-det", POOL1, None)).await);

    let reply = round_trip(
        &world,
        &envelope("DetachPool", json!({"name": "spark-det"})),
    )
    .await;
    assert_succeeded(&reply);
    assert_eq!(reply["kind"], "DetachPool");
    let actions = world.arm.delete_actions();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert!(
        actions[0]
            .compute_id
            .eq_ignore_ascii_case(&compute_id("spark-det")),
        "{actions:?}"
    );
    assert_eq!(
        actions[0].underlying_resource_action.as_deref(),
        Some("Detach")
    );
    let deletes = compute_requests(&world, "DELETE", "spark-det");
    assert_eq!(deletes.len(), 1);
    assert!(
        deletes[0]
            .query
            .as_deref()
            .unwrap_or("")
            .contains("underlyingResourceAction=Detach"),
        "{deletes:?}"
    );
    assert!(world.arm.compute(WORKSPACE_ID, "spark-det").is_none());

    let id = send_json(&world, &envelope("ShowPool", json!({"name": "spark-det"})));
    let reply = common::reply(&world, &id).await;
    assert_rejected(&reply, "PoolNotFound");
    assert_eq!(reply["error"]["field"], "spec.name");
    let rejected = rejected(&world, &id).await;
    assert_eq!(rejected["error"]["code"], "PoolNotFound");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_is_refused_while_a_job_runs_unless_forced() {
    let mut options = options();
    // The forced `Running` status lasts for the whole test.
    options.emulator.job_run_duration = std::time::Duration::from_secs(24 * 3600);
    let world = start_with(options).await;
    assert_succeeded(&round_trip(&world, &attach("spark-busy", POOL1, None)).await);
    let (status, job) = arm_request(
        &world,
        Method::PUT,
        &format!("{WORKSPACE_ID}/jobs/etl-nightly-1?api-version={API_VERSION}"),
        Some(&spark_job_on("spark-busy")),
    )
    .await;
    assert_eq!(status, 201, "{job:#}");
    world
        .arm
        .set_job_status(WORKSPACE_ID, "etl-nightly-1", JobStatus::Running)
        .unwrap();

    let id = send_json(
        &world,
        &envelope("DetachPool", json!({"name": "spark-busy"})),
    );
    let reply = common::reply(&world, &id).await;
    assert_rejected(&reply, "PoolBusy");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("etl-nightly-1"), "{message}");
    assert!(message.contains("force"), "{message}");
    assert!(world.arm.delete_actions().is_empty());
    assert!(compute_requests(&world, "DELETE", "spark-busy").is_empty());
    assert!(world.arm.compute(WORKSPACE_ID, "spark-busy").is_some());
    let rejected = rejected(&world, &id).await;
    assert_eq!(rejected["error"]["code"], "PoolBusy");

    let reply = round_trip(
        &world,
        &envelope("DetachPool", json!({"name": "spark-busy", "force": true})),
    )
    .await;
    assert_succeeded(&reply);
    let actions = world.arm.delete_actions();
    assert_eq!(actions.len(), 1);
    assert_eq!(
        actions[0].underlying_resource_action.as_deref(),
        Some("Detach")
    );
    assert!(world.arm.compute(WORKSPACE_ID, "spark-busy").is_none());
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_honoured_and_the_command_still_succeeds() {
    let world = start().await;
    let mut events = world.host.subscribe();
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/computes/spark-throttled".into(),
        kind: FaultKind::Throttle {
            retry_after_secs: 1,
        },
        times: 3,
    });
    let started = Instant::now();
    let id = send_json(&world, &attach("spark-throttled", POOL1, None));
    let reply = common::reply(&world, &id).await;
    let took = started.elapsed();
    assert_succeeded(&reply);
    assert_eq!(reply["resource"]["provisioning_state"], "Succeeded");
    assert_eq!(
        compute_requests(&world, "PUT", "spark-throttled").len(),
        4,
        "three throttled PUTs, then the one that went through"
    );
    assert!(
        took >= Duration::from_millis(2900),
        "Retry-After: 1 three times must make the broker wait ~3 s, took {took:?}"
    );
    // Retried inside one invocation: the message was delivered once and completed.
    let settled = next_event(&mut events, WAIT, |e| match e {
        HostEvent::MessageSettled {
            queue,
            delivery_count,
            action,
            ..
        } if queue == COMMANDS => Some((*delivery_count, *action)),
        _ => None,
    })
    .await;
    assert_eq!(settled, Some((1, Settlement::Completed)));
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lro_outliving_the_budget_finishes_through_a_follow_up_message() {
    let mut options = options_with(&[("POOLBROKER_LRO_BUDGET_SECS", "0")]);
    // Outlives the budget of 0 s: the handler hands the operation to follow-up messages, and
    // the test ends it by moving the emulator's clock once the first follow-up exists.
    options.emulator.operation_duration = std::time::Duration::from_secs(3600);
    options.emulator.retry_after_secs = 1;
    let world = start_with(options).await;

    let id = send_json(
        &world,
        &attach("spark-lro", POOL1, Some(json!({"type": "system_assigned"}))),
    );
    let mut follow_ups: Vec<(String, Value)> = Vec::new();
    let mut finished = false;
    let deadline = Instant::now() + WAIT;
    let reply = loop {
        for m in pending_commands(&world, &id) {
            let body: Value = serde_json::from_slice(&m.message.body).unwrap_or(Value::Null);
            if body["kind"] == "AwaitOperation"
                && !follow_ups.iter().any(|(mid, _)| *mid == m.message_id)
            {
                follow_ups.push((m.message_id.clone(), body));
            }
        }
        if follow_ups.len() >= 2 && !finished {
            // Two follow-ups seen: Azure finishes the operation now (once: the clock also ages
            // the handler's token).
            world
                .arm
                .advance_clock(std::time::Duration::from_secs(3600));
            finished = true;
        }
        if let Some(reply) = reply_within(&world, &id, Duration::from_millis(30)).await {
            break reply;
        }
        assert!(Instant::now() < deadline, "no final reply for {id}");
    };
    assert_succeeded(&reply);
    assert_eq!(
        reply["kind"], "AttachPool",
        "the reply names the original command"
    );
    assert_eq!(reply["correlationId"], id.as_str());
    assert_eq!(reply["resource"]["provisioning_state"], "Succeeded");
    assert_eq!(reply["resource"]["identity"]["type"], "system_assigned");
    assert!(
        !follow_ups.is_empty(),
        "the operation should have been continued by a follow-up on {COMMANDS}"
    );
    for (_, body) in &follow_ups {
        assert_eq!(body["apiVersion"], "poolbroker/v1");
        assert_eq!(
            body["spec"]["reply"],
            json!({"replyTo": REPLIES, "correlationId": id}),
            "the follow-up carries the original reply route: {body:#}"
        );
        assert_eq!(body["spec"]["action"]["name"], "spark-lro");
    }
    assert_eq!(
        compute_requests(&world, "PUT", "spark-lro").len(),
        1,
        "follow-ups poll; they never repeat the PUT"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_error_bodies_surface_verbatim_in_the_reply() {
    let world = start().await;
    // A well-formed id of a Synapse pool that does not exist: ARM refuses the PUT.
    let missing = POOL1.replace("sparkpool1", "sparkpool9");
    let id = send_json(&world, &attach("spark-err", &missing, None));
    let reply = common::reply(&world, &id).await;
    assert_rejected(&reply, "UserError");
    let arm_error = &reply["error"]["armError"];
    assert!(arm_error["error"]["message"].is_string(), "{reply:#}");

    // Replaying the very request the broker sent gives the body the reply carries.
    let put = compute_requests(&world, "PUT", "spark-err")
        .pop()
        .expect("the broker sent the PUT");
    let (status, body) = arm_request(
        &world,
        Method::PUT,
        &format!("{}?{}", put.path, put.query.unwrap_or_default()),
        put.body.as_ref(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(*arm_error, body, "armError must be ARM's body, verbatim");
    assert_eq!(rejected(&world, &id).await["error"]["armError"], body);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_outside_the_allowed_scopes_is_rejected_permanently() {
    let world = start_with(options_with(&[("POOLBROKER_ALLOWED_SCOPES", WORKSPACE_ID)])).await;
    let mut events = world.host.subscribe();
    let mut outside = attach("spark-out", POOL1, None);
    outside["workspace"] = json!({
        "subscriptionId": SUBSCRIPTION, "resourceGroup": "other-rg", "name": "ml-other"
    });
    let id = send_json(&world, &outside);
    let reply = common::reply(&world, &id).await;
    assert_rejected(&reply, "ScopeNotAllowed");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("workspace:"), "{message}");
    assert!(message.contains("ml-other"), "{message}");
    let rejected = rejected(&world, &id).await;
    assert_eq!(rejected["error"]["code"], "ScopeNotAllowed");
    assert_eq!(rejected["originalMessage"]["body"], outside.to_string());
    assert!(
        world
            .arm
            .requests()
            .iter()
            .all(|r| !r.path.contains("ml-other") && !r.path.contains("other-rg")),
        "nothing outside the allow-list is touched"
    );
    let settled = next_event(&mut events, WAIT, |e| match e {
        HostEvent::MessageSettled {
            queue,
            delivery_count,
            action,
            ..
        } if queue == COMMANDS => Some((*delivery_count, *action)),
        _ => None,
    })
    .await;
    assert_eq!(settled, Some((1, Settlement::Completed)));

    // The allowed workspace still works in the same broker.
    assert_succeeded(&round_trip(&world, &attach("spark-in", POOL1, None)).await);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attach_is_reported_and_an_identical_reattach_tries_again() {
    let world = start().await;
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/computes/spark-fail".into(),
        kind: FaultKind::LroFailure {
            code: "ResourceOperationFailure".into(),
            message: "The Synapse workspace could not be reached".into(),
        },
        times: 1,
    });
    let body = attach("spark-fail", POOL1, None);
    let reply = round_trip(&world, &body).await;
    // Accepted by ARM, then its operation failed: `Failed`, not `Rejected` (docs/messages.md).
    assert_eq!(reply["status"], "Failed", "{reply:#}");
    assert_eq!(
        reply["error"]["code"], "ResourceOperationFailure",
        "{reply:#}"
    );
    assert_eq!(
        reply["error"]["armError"]["error"],
        json!({"code": "ResourceOperationFailure", "message": "The Synapse workspace could not be reached"}),
        "{reply:#}"
    );
    let stored = world.arm.compute(WORKSPACE_ID, "spark-fail").unwrap();
    assert_eq!(stored["properties"]["provisioningState"], "Failed");

    // Same request again: the pool is not provisioned, so this is no "no change".
    let reply = round_trip(&world, &body).await;
    assert_succeeded(&reply);
    assert_eq!(
        reply["resource"]["provisioning_state"], "Succeeded",
        "{reply:#}"
    );
    assert_eq!(compute_requests(&world, "PUT", "spark-fail").len(), 2);
    world.stop().await.unwrap();
}

/// A workspace with more pools than one Service Bus message can carry: the reply still arrives,
/// says it is truncated, gives the total, and stays under the 256 KB message limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_of_more_pools_than_fit_in_a_message_is_truncated_and_says_so() {
    let mut options = options();
    options.emulator.throttling = false;
    let world = start_with(options).await;
    let count = 300;
    let description = "x".repeat(600);
    for i in 0..count {
        let pool = [POOL1, POOL2][i % 2];
        let (status, body) = arm_request(
            &world,
            Method::PUT,
            &format!("{WORKSPACE_ID}/computes/spark-m{i}x?api-version={API_VERSION}"),
            Some(&json!({
                "location": "eastus2",
                "properties": {
                    "computeType": "SynapseSpark",
                    "resourceId": pool,
                    "description": description,
                }
            })),
        )
        .await;
        assert!(matches!(status, 200 | 201), "{status}: {body}");
    }

    let id = send_json(&world, &envelope("ListPools", json!({})));
    let message = receive_matching(&world, REPLIES, WAIT, |m| {
        m.message.correlation_id.as_deref() == Some(id.as_str())
    })
    .await
    .expect("a reply");
    assert!(
        message.message.body.len() < 256 * 1024,
        "reply of {} bytes",
        message.message.body.len()
    );
    let reply = json_body(&message);
    assert_succeeded(&reply);
    assert_eq!(reply["truncated"], true, "{}", reply["message"]);
    assert_eq!(reply["total"], json!(count));
    let listed = reply["resources"].as_array().map_or(0, Vec::len);
    assert!(listed > 0 && listed < count, "{listed} of {count} listed");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(&format!("{listed} of {count} pools listed"))),
        "{}",
        reply["message"]
    );
    world.stop().await.unwrap();
}
