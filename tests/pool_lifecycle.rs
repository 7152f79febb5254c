mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_with_two_user_assigned_identities_keeps_their_order() {
    let world = start().await;
    let uai = |n: &str| {
        format!(
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}"
        )
    };
    let body = json!({
        "apiVersion": "poolbroker/v1",
        "kind": "AttachPool",
        "spec": {
            "name": "spark-uai",
            "type": "synapsespark",
            "resource_id": POOL1,
            "identity": {"type": "user_assigned", "user_assigned_identities": [
                {"resource_id": uai("uai-poolbroker-2")}, {"resource_id": uai("uai-poolbroker-1")}
            ]}
        }
    });
    let id = send(&world, &body.to_string());
    let reply = reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    let ids: Vec<&str> = reply["resource"]["identity"]["user_assigned_identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["resource_id"].as_str().unwrap())
        .collect();
    assert!(
        ids[0].ends_with("uai-poolbroker-2") && ids[1].ends_with("uai-poolbroker-1"),
        "{ids:?}"
    );
    world.stop().await.unwrap();
}
