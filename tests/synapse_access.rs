//! Synapse role assignments end to end: the handler talks to the Synapse data-plane emulator with
//! a token for https://dev.azuresynapse.net, lists before it creates, and revokes only its own.

mod common;

use azureml_emulator::{FaultKind, FaultRule};
use common::*;
use serde_json::{Value, json};

const ADMIN: &str = "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78";
const POOL1_SCOPE: &str = "workspaces/syn-demo/bigDataPools/sparkpool1";
const LINK: &str = "synapselink1";

fn uai_principal(name: &str) -> String {
    azureml_emulator::uai_principal_id(&uai(name)).to_string()
}

fn results(reply: &Value) -> Vec<String> {
    reply["synapseAccess"]
        .as_array()
        .unwrap_or_else(|| panic!("no synapseAccess in {reply}"))
        .iter()
        .map(|g| g["result"].as_str().unwrap().to_owned())
        .collect()
}

fn puts(world: &poolbroker::local::LocalWorld) -> usize {
    world.synapse.assignments().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_grants_every_identity_once_and_grant_again_changes_nothing() {
    let world = start().await;
    let reply = round_trip(
        &world,
        &attach(
            "spark-a",
            POOL1,
            Some(user_assigned(&["uai-etl", "uai-reader"])),
        ),
    )
    .await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(results(&reply), ["granted", "granted"]);
    // The grant plans from the compute the attach wrote: one GET of it in all (the attach's
    // idempotency check), as reads are the scarce budget under ARM's throttling.
    let compute_reads = compute_requests(&world, "GET", "spark-a").len();
    assert_eq!(compute_reads, 1, "{:#?}", world.arm.requests());
    assert!(
        reply["synapseAccess"][0]["identity"]
            .as_str()
            .unwrap()
            .contains("uai-etl (submits jobs)")
    );
    let held = world.synapse.assignments();
    for name in ["uai-etl", "uai-reader"] {
        assert!(
            held.iter().any(|a| a.principal_id == uai_principal(name)
                && a.role_definition_id == ADMIN
                && a.scope == POOL1_SCOPE),
            "{name}: {held:?}"
        );
    }
    let reply = round_trip(
        &world,
        &envelope("GrantPoolAccess", json!({"name": "spark-a"})),
    )
    .await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(results(&reply), ["already held", "already held"]);
    assert_eq!(puts(&world), 2);
    world.stop().await.unwrap();
}

/// An attach answered before the service assigned the identities (no principal ids in the 201):
/// the client reads the compute for its final state, so the reply names the principal and the
/// grant reaches it (without that read the grant would fail for want of a principal id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attach_answered_without_principal_ids_reads_the_compute_for_the_grant() {
    let world = start().await;
    world.arm.inject(FaultRule {
        method: Some(http::Method::PUT),
        path_contains: "/computes/spark-np".into(),
        kind: FaultKind::WithoutPrincipalIds,
        times: 1,
    });
    let reply = round_trip(
        &world,
        &attach("spark-np", POOL1, Some(json!({"type": "system_assigned"}))),
    )
    .await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(results(&reply), ["granted"]);
    let compute_reads = compute_requests(&world, "GET", "spark-np").len();
    assert_eq!(compute_reads, 2, "idempotency check + the final read");
    let principal = world
        .arm
        .compute(WORKSPACE_ID, "spark-np")
        .expect("attached")["identity"]["principalId"]
        .as_str()
        .expect("the service assigned a principal")
        .to_owned();
    assert_eq!(
        reply["resource"]["identity"]["principal_id"], principal,
        "{reply}"
    );
    let held = world.synapse.assignments();
    assert!(
        held.iter()
            .any(|a| a.principal_id == principal && a.role_definition_id == ADMIN),
        "{held:?}"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_can_be_turned_off_and_a_workspace_grant_by_someone_else_counts() {
    let world = start().await;
    let mut body = attach("spark-b", POOL1, Some(json!({"type": "system_assigned"})));
    body["spec"]["grant_synapse_access"] = json!(false);
    let reply = round_trip(&world, &body).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert!(reply.get("synapseAccess").is_none());
    assert_eq!(puts(&world), 0);

    // Someone granted the identity Synapse Administrator on the whole workspace in Studio.
    let principal = reply["resource"]["identity"]["principal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = world
        .synapse
        .add_assignment(ADMIN, &principal, "workspaces/syn-demo");
    let reply = round_trip(
        &world,
        &envelope("GrantPoolAccess", json!({"name": "spark-b"})),
    )
    .await;
    assert_eq!(results(&reply), ["already held"], "{reply}");

    // Revoke removes what poolbroker made, never what others made.
    let reply = round_trip(
        &world,
        &envelope("RevokePoolAccess", json!({"name": "spark-b"})),
    )
    .await;
    assert_eq!(reply["removedAssignments"], json!([]), "{reply}");
    world.synapse.reset();
    let reply = round_trip(
        &world,
        &envelope("GrantPoolAccess", json!({"name": "spark-b"})),
    )
    .await;
    assert_eq!(results(&reply), ["granted"], "{reply}");
    let _ = world
        .synapse
        .add_assignment(ADMIN, &principal, "workspaces/syn-demo");
    let reply = round_trip(
        &world,
        &envelope("RevokePoolAccess", json!({"name": "spark-b"})),
    )
    .await;
    assert_eq!(
        reply["removedAssignments"].as_array().unwrap().len(),
        1,
        "{reply}"
    );
    let left = world.synapse.assignments();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].scope, "workspaces/syn-demo");
    assert_ne!(left[0].id, theirs.id);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_without_the_role_gets_a_permanent_error_with_the_command_to_fix_it() {
    let world = start().await;
    world.synapse.forbid_role_writes("syn-demo", true);
    let reply = round_trip(
        &world,
        &attach("spark-c", POOL1, Some(json!({"type": "system_assigned"}))),
    )
    .await;
    // The attach happened; the grant could not: Failed, with the resource and the reason.
    assert_eq!(reply["status"], "Failed", "{reply}");
    assert_eq!(reply["resource"]["name"], "spark-c");
    assert_eq!(reply["error"]["code"], "SynapseAccessDenied");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("'Synapse Administrator'"), "{message}");
    // The broker's own object id, read from its Synapse token's `oid`.
    let broker = azureml_emulator::system_principal_id();
    assert!(
        message.ends_with(&format!(
            "az synapse role assignment create --workspace-name syn-demo --role \"Synapse Administrator\" --assignee-object-id {broker} --assignee-principal-type ServicePrincipal"
        )),
        "{message}"
    );
    assert_eq!(reply["error"]["armError"]["error"]["code"], "Unauthorized");

    let id = send_json(
        &world,
        &envelope("GrantPoolAccess", json!({"name": "spark-c"})),
    );
    let reply = common::reply(&world, &id).await;
    assert_eq!(reply["status"], "Rejected", "{reply}");
    assert_eq!(
        rejected(&world, &id).await["error"]["code"],
        "SynapseAccessDenied"
    );
    assert_eq!(puts(&world), 0);
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_that_cannot_be_granted_are_named() {
    let world = start().await;
    let reply = round_trip(&world, &attach("spark-d", POOL1, None)).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert!(
        reply["notes"][0]
            .as_str()
            .unwrap()
            .contains("no managed identity"),
        "{reply}"
    );
    let reply = round_trip(
        &world,
        &envelope("GrantPoolAccess", json!({"name": "spark-d"})),
    )
    .await;
    assert_eq!(reply["error"]["code"], "PoolHasNoIdentity", "{reply}");

    world.arm.hide_linked_service_principal(WORKSPACE_ID, LINK);
    round_trip(
        &world,
        &attach("spark-e", POOL1, Some(json!({"type": "system_assigned"}))),
    )
    .await;
    let reply = round_trip(
        &world,
        &envelope(
            "GrantPoolAccess",
            json!({"name": "spark-e", "linked_service": LINK}),
        ),
    )
    .await;
    assert_eq!(
        reply["error"]["code"], "IdentityWithoutPrincipalId",
        "{reply}"
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("linked service synapselink1")
    );

    let reply = round_trip(
        &world,
        &envelope("GrantPoolAccess", json!({"name": "nopool"})),
    )
    .await;
    assert_eq!(reply["error"]["code"], "PoolNotFound", "{reply}");
    let reply = round_trip(
        &world,
        &envelope(
            "GrantPoolAccess",
            json!({"name": "spark-e", "linked_service": "nolink"}),
        ),
    )
    .await;
    assert_eq!(reply["error"]["code"], "LinkedServiceNotFound", "{reply}");
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_update_grants_the_new_identity() {
    let world = start().await;
    round_trip(
        &world,
        &attach("spark-f", POOL1, Some(user_assigned(&["uai-etl"]))),
    )
    .await;
    let reply = round_trip(
        &world,
        &envelope("UpdatePoolIdentity", json!({"name": "spark-f", "identity": {"type": "user_assigned", "user_assigned_identities": [{"resource_id": uai("uai-reader")}]}})),
    )
    .await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    assert_eq!(results(&reply), ["granted"]);
    assert!(
        world
            .synapse
            .assignments()
            .iter()
            .any(|a| a.principal_id == uai_principal("uai-reader"))
    );
    world.stop().await.unwrap();
}
