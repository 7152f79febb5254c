//! Scale-out: three Functions hosts (three instances of the Function App, each with its own
//! handler) on the same `pool-commands` queue and the same ARM. The soak's assertions hold (one
//! reply or a dead-letter per command, no write after one that took effect), and interleaved
//! attach / update / detach / attach sequences on the same computes converge to the state the
//! last command of each asks for.
//!
//! Ordering: without Service Bus sessions, two commands for one compute that are in flight at
//! the same time may run in either order on different instances; a sender that needs an order
//! sends the next command after the reply to the previous one. The sequences below do so per
//! compute while the computes' sequences interleave across the three instances.

mod campaign;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use campaign::*;
use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_one_queue_lose_nothing_write_once_and_converge() {
    let mut options = options_with(&[("POOLBROKER_LRO_BUDGET_SECS", "2")]);
    options.emulator.operation_duration = std::time::Duration::from_secs(1);
    options.emulator.retry_after_secs = 1;
    let world = start_with(options).await;
    let (second, stop_second) = start_extra_host(&world).await;
    let (third, stop_third) = start_extra_host(&world).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clock = spawn_arm_clock(&world, stop.clone());
    let mut handler = Handler::first().await;

    // The soak's assertions, with faults, across three instances (no kills here).
    let n = 150;
    let bodies: Vec<(usize, Value)> = (0..n)
        .map(|i| {
            (
                i,
                attach(
                    &pool_name(i),
                    if i.is_multiple_of(2) { POOL1 } else { POOL2 },
                    None,
                ),
            )
        })
        .collect();
    let (replies, dead) = run_phase(&world, &mut handler, bodies, 0).await;
    assert!(replies.values().all(|r| r.len() == 1), "one reply each");
    assert_eq!(replies.len() + dead.len(), n, "every command ended once");
    let invoked_by: std::collections::HashSet<u32> = Handler::all_running().into_iter().collect();
    assert_eq!(invoked_by.len(), 3, "three handlers run");

    // Interleaved sequences on the same computes.
    let computes: Vec<String> = (0..12).map(|i| format!("conv-p{i:03}")).collect();
    let sequence = |name: &str, i: usize| -> Vec<Value> {
        let last_identity = if i.is_multiple_of(2) {
            json!({"type": "system_assigned"})
        } else {
            user_assigned(&["etl"])
        };
        vec![
            attach(name, POOL1, None),
            envelope(
                "UpdatePoolIdentity",
                json!({"name": name, "identity": user_assigned(&["etl", "reports"])}),
            ),
            envelope("DetachPool", json!({"name": name})),
            attach(name, POOL2, Some(last_identity)),
        ]
    };
    let steps: Vec<Vec<Value>> = computes
        .iter()
        .enumerate()
        .map(|(i, c)| sequence(c, i))
        .collect();
    let mut cursors = vec![0usize; computes.len()];
    let mut in_flight: Vec<Option<String>> = vec![None; computes.len()];
    loop {
        let mut busy = false;
        for (c, cursor) in cursors.iter_mut().enumerate() {
            if let Some(id) = &in_flight[c] {
                busy = true;
                match reply_within(&world, id, Duration::from_millis(20)).await {
                    Some(r) => {
                        assert_eq!(r["status"], "Succeeded", "{}: {r:#}", computes[c]);
                        in_flight[c] = None;
                    }
                    None => continue,
                }
            }
            if *cursor < steps[c].len() {
                in_flight[c] = Some(send_json(&world, &steps[c][*cursor]));
                *cursor += 1;
                busy = true;
            }
        }
        if !busy {
            break;
        }
    }
    for (i, name) in computes.iter().enumerate() {
        let compute = world
            .arm
            .compute(WORKSPACE_ID, name)
            .expect("attached at the end");
        assert_eq!(
            compute["properties"]["resourceId"], POOL2,
            "{name}: {compute:#}"
        );
        let identity_type = compute["identity"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if i.is_multiple_of(2) {
            assert_eq!(identity_type, "systemassigned", "{name}: {compute:#}");
        } else {
            assert_eq!(
                uai_keys(&compute["identity"]),
                vec![uai("etl")],
                "{name}: {compute:#}"
            );
        }
    }
    let again = second_writes(&world.arm.requests());
    // Sequences write each compute several times on purpose; only repeats of one command count.
    let repeated: Vec<_> = again
        .iter()
        .filter(|w| w.contains("/computes/soak-p"))
        .collect();
    assert!(
        repeated.is_empty(),
        "writes after one took effect: {repeated:#?}"
    );

    stop.store(true, Ordering::Relaxed);
    clock.abort();
    stop_second.cancel();
    stop_third.cancel();
    let _ = second.stopped().await;
    let _ = third.stopped().await;
    world.stop().await.unwrap();
}
