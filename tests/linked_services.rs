//! SDK v1 linked services end to end: Service Bus → local Functions host → handler → ARM
//! emulator (2020-09-01-preview) and the Synapse data-plane emulator.

mod common;

use common::*;
use serde_json::json;

const LINK: &str = "synapselink1";
const SYN_WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_show_the_existing_link_in_sdk_v1_terms() {
    let world = start().await;
    let reply = round_trip(&world, &envelope("ListLinkedServices", json!({}))).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    let links = reply["resources"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{reply}");
    assert_eq!(links[0]["name"], LINK);
    assert_eq!(links[0]["linked_service_resource_id"], SYN_WS);
    assert!(links[0]["system_assigned_identity_principal_id"].is_string());

    let reply = round_trip(
        &world,
        &envelope("ShowLinkedService", json!({"name": LINK})),
    )
    .await;
    assert_eq!(reply["resource"]["type"], "Synapse", "{reply}");

    let reply = round_trip(
        &world,
        &envelope("ShowLinkedService", json!({"name": "nolink"})),
    )
    .await;
    assert_eq!(reply["status"], "Rejected", "{reply}");
    assert_eq!(reply["error"]["code"], "LinkedServiceNotFound");
    assert_eq!(reply["error"]["field"], "spec.name");

    let reply = round_trip(
        &world,
        &envelope("ShowLinkedService", json!({"name": "bad/name"})),
    )
    .await;
    assert_eq!(reply["error"]["code"], "ValidationFailed", "{reply}");
    assert_eq!(reply["error"]["field"], "spec.name");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_registrations_are_refused_as_azure_does_and_work_when_open() {
    let world = start().await;
    let register = envelope(
        "RegisterLinkedService",
        json!({"name": "link2", "synapse_workspace_id": SYN_WS}),
    );
    let reply = round_trip(&world, &register).await;
    assert_eq!(reply["status"], "Rejected", "{reply}");
    assert_eq!(reply["error"]["code"], "LinkedServiceRegistrationRefused");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("no longer be registered"), "{message}");
    assert!(message.contains("AttachPool with resource_id"), "{message}");
    assert_eq!(reply["error"]["armError"]["error"]["code"], "UserError");

    world.arm.close_linked_service_registration(false);
    let reply = round_trip(&world, &register).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(reply["resource"]["name"], "link2");
    let put = world
        .arm
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.contains("/linkedServices/link2"))
        .expect("a PUT of the link");
    assert_eq!(put.query.as_deref(), Some("api-version=2020-09-01-preview"));
    let body = put.body.expect("a JSON body");
    assert_eq!(body["identity"]["type"], "SystemAssigned");
    assert_eq!(body["properties"]["linkedServiceResourceId"], SYN_WS);

    let reply = round_trip(&world, &envelope("ListLinkedServices", json!({}))).await;
    assert_eq!(reply["resources"].as_array().unwrap().len(), 2);
    let unregister = envelope("UnregisterLinkedService", json!({"name": "link2"}));
    let reply = round_trip(&world, &unregister).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .starts_with("unregistered")
    );
    let reply = round_trip(&world, &unregister).await;
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("nothing to unregister"),
        "{reply}"
    );

    let reply = round_trip(
        &world,
        &envelope("RegisterLinkedService", json!({"name": "link3", "synapse_workspace_id": format!("{SYN_WS}/bigDataPools/sparkpool1")})),
    )
    .await;
    assert_eq!(
        reply["error"]["field"], "spec.synapse_workspace_id",
        "{reply}"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_through_a_link_resolves_the_pool_and_grants_in_one_command() {
    let world = start().await;
    let attach = envelope(
        "AttachPool",
        json!({"name": "spark-linked", "type": "synapsespark", "linked_service": LINK,
               "pool_name": "sparkpool2", "identity": {"type": "system_assigned"}}),
    );
    let reply = round_trip(&world, &attach).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(
        reply["resource"]["resource_id"],
        format!("{SYN_WS}/bigDataPools/sparkpool2")
    );
    let grants = reply["synapseAccess"].as_array().unwrap();
    assert_eq!(grants.len(), 2, "{reply}");
    let link = round_trip(
        &world,
        &envelope("ShowLinkedService", json!({"name": LINK})),
    )
    .await;
    let link_principal = link["resource"]["system_assigned_identity_principal_id"].clone();
    let assignments = world.synapse.assignments();
    assert!(
        assignments.iter().any(|a| {
            serde_json::json!(a.principal_id) == link_principal
                && a.role_definition_id == "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1"
                && a.scope == "workspaces/syn-demo"
        }),
        "{assignments:?}"
    );
    let pool_principal = reply["resource"]["identity"]["principal_id"]
        .as_str()
        .unwrap();
    assert!(assignments.iter().any(|a| a.principal_id == pool_principal
        && a.role_definition_id == "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78"
        && a.scope == "workspaces/syn-demo/bigDataPools/sparkpool2"));
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_and_pools_are_rejected_with_the_field_named() {
    let world = start().await;
    let attach = |link: &str, pool: &str| {
        envelope(
            "AttachPool",
            json!({"name": "spark-linked", "type": "synapsespark", "linked_service": link, "pool_name": pool}),
        )
    };
    let reply = round_trip(&world, &attach("nolink", "sparkpool1")).await;
    assert_eq!(reply["error"]["code"], "LinkedServiceNotFound", "{reply}");
    assert_eq!(reply["error"]["field"], "spec.linked_service");

    let reply = round_trip(&world, &attach(LINK, "otherpool")).await;
    assert_eq!(
        reply["error"]["code"], "PoolNotInLinkedWorkspace",
        "{reply}"
    );
    assert_eq!(reply["error"]["field"], "spec.pool_name");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("syn-demo")
    );

    let reply = round_trip(&world, &attach(LINK, "bad-pool!")).await;
    assert_eq!(reply["error"]["code"], "ValidationFailed", "{reply}");
    assert_eq!(reply["error"]["field"], "spec.pool_name");

    let both = envelope(
        "AttachPool",
        json!({"name": "spark-both", "type": "synapsespark", "linked_service": LINK, "pool_name": "sparkpool1", "resource_id": POOL1}),
    );
    let reply = round_trip(&world, &both).await;
    assert_eq!(reply["error"]["field"], "spec.resource_id", "{reply}");
    assert!(compute_requests(&world, "PUT", "spark-linked").is_empty());
    world.stop().await.unwrap();
}

/// Runs the real CLI against the world, as a second terminal would (`poolbroker local` prints
/// this environment).
async fn cli(world: &poolbroker::local::LocalWorld, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_poolbroker"))
        .args(args)
        .envs(world.cli_environment())
        .env("POOLBROKER_LOG", "error")
        .output()
        .await
        .expect("poolbroker runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_dry_run_prints_the_plan_and_apply_reattaches_with_grants() {
    let world = start().await;
    // A compute SDK v1 attached through the link: no identity of its own, no Synapse grant.
    let mut v1 = attach("v1-spark", POOL2, None);
    v1["spec"]["grant_synapse_access"] = json!(false);
    assert_eq!(round_trip(&world, &v1).await["status"], "Succeeded");

    let (ok, stdout, stderr) = cli(&world, &["migrate", "linked-services"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("linked service synapselink1 → Synapse workspace syn-demo (1 compute(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("name: v1-spark\ntype: synapsespark\nresource_id: "),
        "{stdout}"
    );
    assert!(stdout.contains("\"result\": \"planned\""), "{stdout}");
    assert!(stderr.contains("dry run"), "{stderr}");
    assert!(world.synapse.assignments().is_empty());
    assert_eq!(
        world.arm.compute(WORKSPACE_ID, "v1-spark").unwrap()["identity"],
        serde_json::Value::Null
    );

    let (ok, stdout, stderr) = cli(&world, &["migrate", "linked-services", "--apply"]).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("\"result\": \"Succeeded\""), "{stdout}");
    let compute = world.arm.compute(WORKSPACE_ID, "v1-spark").unwrap();
    assert_eq!(compute["identity"]["type"], "SystemAssigned", "{compute}");
    let principal = compute["identity"]["principalId"].as_str().unwrap();
    assert!(
        world
            .synapse
            .assignments()
            .iter()
            .any(|a| a.principal_id == principal
                && a.scope == "workspaces/syn-demo/bigDataPools/sparkpool2")
    );

    let (ok, stdout, _) = cli(&world, &["doctor", "v1-spark", "-o", "table"]).await;
    assert!(ok, "{stdout}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    world.stop().await.unwrap();
}
