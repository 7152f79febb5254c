//! Soak, short form (CI): a few hundred commands through the real local world while ARM
//! misbehaves (429 with Retry-After, 500, 503, dropped connections before and after serving,
//! slow answers) and the handler is killed three times. Every command must end in exactly one
//! reply or a dead-letter with a reason, and ARM must see no second write to a compute after
//! one that took effect. `SOAK_COMMANDS` scales it (bench/soak.sh runs 10,000).

mod campaign;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use campaign::*;
use common::*;
use serde_json::{Value, json};

const KILLS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_arm_faults_and_handler_kills_loses_nothing_and_writes_once() {
    let n = commands();
    let attaches = n * 2 / 3;
    let mut options = options_with(&[("POOLBROKER_LRO_BUDGET_SECS", "2")]);
    options.emulator.operation_duration = std::time::Duration::from_secs(1);
    options.emulator.retry_after_secs = 1;
    let world = start_with(options).await;
    let mut handler = Handler::first().await;
    let stop = Arc::new(AtomicBool::new(false));
    let clock = spawn_arm_clock(&world, stop.clone());
    // A handler start before the first kill is what `current_handler_pid` finds.
    let started = std::time::Instant::now();

    let attach_bodies: Vec<(usize, Value)> = (0..attaches)
        .map(|i| {
            (
                i,
                attach(&pool_name(i), if i % 2 == 0 { POOL1 } else { POOL2 }, None),
            )
        })
        .collect();
    let (replies, dead) = run_phase(&world, &mut handler, attach_bodies, KILLS - 1).await;
    let detach_bodies: Vec<(usize, Value)> = (attaches..n)
        .map(|i| {
            let target = pool_name(i - attaches);
            (i, envelope("DetachPool", json!({"name": target})))
        })
        .collect();
    // A host stops after its handler's third crash within 30 minutes (on Azure the platform
    // then replaces it), so the third kill is of a second instance on the same queue.
    let before = Handler::all_running();
    let (second_host, second_stop) = start_extra_host(&world).await;
    let mut second = Handler::new_since(&before).await;
    drop(handler);
    let (detach_replies, detach_dead) = run_phase(&world, &mut second, detach_bodies, 1).await;
    stop.store(true, Ordering::Relaxed);
    clock.abort();
    second_stop.cancel();
    let _ = second_host.stopped().await;

    let mut all = replies;
    all.extend(detach_replies);
    let dead_count = dead.len() + detach_dead.len();
    let duplicates: Vec<_> = all.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(
        duplicates.is_empty(),
        "more than one reply: {duplicates:#?}"
    );
    assert_eq!(all.len() + dead_count, n, "every command ended once");
    let requests = world.arm.requests();
    let again = second_writes(&requests);
    assert!(again.is_empty(), "writes after one took effect: {again:#?}");
    let statuses = summarize(&all);
    let writes = requests.iter().filter(|r| is_write(r)).count();
    println!(
        "soak: {n} commands, {} replies {statuses:?}, {dead_count} dead-lettered, {} ARM requests ({writes} writes), {KILLS} handler kills, {:.1}s",
        all.len(),
        requests.len(),
        started.elapsed().as_secs_f64()
    );
    for (id, r) in &all {
        let status = r[0].1["status"].as_str().unwrap_or("?");
        assert!(
            status == "Succeeded" || status == "Failed",
            "{id}: {:#}",
            r[0].1
        );
    }
    world.stop().await.unwrap();
}
