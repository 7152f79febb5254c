//! `CheckPool` (`poolbroker doctor`) end to end: the checklist reflects the compute, the Synapse
//! pool and the role assignments as they are, and says what to do about each ✗.

mod common;

use common::*;
use serde_json::{Value, json};

fn failed(reply: &Value) -> Vec<String> {
    reply["checklist"]["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checklist in {reply}"))
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["check"].as_str().unwrap().to_owned())
        .collect()
}

async fn doctor(world: &poolbroker::local::LocalWorld, name: &str) -> Value {
    let reply = round_trip(world, &envelope("CheckPool", json!({"name": name}))).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_pool_passes_and_a_revoked_one_says_how_to_fix_it() {
    let world = start().await;
    let attached = round_trip(
        &world,
        &attach(
            "spark-ok",
            POOL1,
            Some(user_assigned(&["uai-etl", "uai-reader"])),
        ),
    )
    .await;
    assert_eq!(attached["status"], "Succeeded", "{attached}");
    let reply = doctor(&world, "spark-ok").await;
    assert_eq!(reply["checklist"]["ok"], true, "{reply}");
    let text = reply["message"].as_str().unwrap();
    assert!(text.contains("✓ Spark version: 3.4 is supported"), "{text}");
    assert!(
        text.contains("✓ submits jobs: user-assigned identity uai-etl"),
        "{text}"
    );

    round_trip(
        &world,
        &envelope("RevokePoolAccess", json!({"name": "spark-ok"})),
    )
    .await;
    let reply = doctor(&world, "spark-ok").await;
    assert_eq!(
        failed(&reply),
        ["Synapse Administrator role", "Synapse Administrator role"]
    );
    let text = reply["message"].as_str().unwrap();
    assert!(
        text.contains(
            "✗ Synapse Administrator role: user-assigned identity uai-etl (submits jobs)"
        ),
        "{text}"
    );
    assert!(
        text.contains("→ poolbroker access grant --name spark-ok"),
        "{text}"
    );
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_compute_missing_pool_and_missing_identity() {
    let world = start().await;
    let reply = doctor(&world, "nothing-here").await;
    assert_eq!(failed(&reply), ["compute attached"], "{reply}");

    round_trip(&world, &attach("spark-gone", POOL2, None)).await;
    assert!(world.arm.remove_synapse_pool(POOL2));
    let reply = doctor(&world, "spark-gone").await;
    assert_eq!(
        failed(&reply),
        ["Synapse pool exists", "identity"],
        "{reply}"
    );
    let text = reply["message"].as_str().unwrap();
    assert!(
        text.contains("does not exist (deleted or renamed after the attach)"),
        "{text}"
    );
    assert!(text.contains("has no managed identity"), "{text}");
    world.stop().await.unwrap();
}
