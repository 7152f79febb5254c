//! Shared by the soak and scale-out campaigns: faults, ARM's clock, handler kills, and the
//! "one reply or a dead-letter each, no write after one that took effect" bookkeeping.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use azureml_emulator::{FaultKind, FaultRule, RecordedRequest};
use poolbroker::local::LocalWorld;
use serde_json::Value;

use super::common::*;

pub fn commands() -> usize {
    std::env::var("SOAK_COMMANDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The fault injected before command `i` (one in four commands meets one).
pub fn fault_for(i: usize) -> Option<FaultRule> {
    let (method, kind) = match i % 28 {
        0 => (
            None,
            FaultKind::Throttle {
                retry_after_secs: 1,
            },
        ),
        4 => (
            Some(http::Method::PUT),
            FaultKind::Status {
                status: 500,
                code: "InternalServerError".into(),
                message: "injected".into(),
            },
        ),
        8 => (
            None,
            FaultKind::Status {
                status: 503,
                code: "ServiceUnavailable".into(),
                message: "injected".into(),
            },
        ),
        12 => (Some(http::Method::PUT), FaultKind::Reset),
        16 => (Some(http::Method::PUT), FaultKind::ResetAfterServing),
        20 => (None, FaultKind::Delay { ms: 400 }),
        24 => (Some(http::Method::DELETE), FaultKind::ResetAfterServing),
        _ => return None,
    };
    Some(FaultRule {
        method,
        path_contains: "/computes/".into(),
        kind,
        times: 1,
    })
}

pub fn pool_name(i: usize) -> String {
    format!("soak-p{i:05}")
}

/// Plays ARM's clock: operations end on their own on Azure, but the emulator advances one only
/// when it is polled, and an operation whose poller was killed would otherwise never end.
pub fn spawn_arm_clock(world: &LocalWorld, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    let arm = world.arm.clone();
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(700)).await;
            arm.complete_running_operations();
        }
    })
}

pub fn is_write(r: &RecordedRequest) -> bool {
    matches!(r.method.as_str(), "PUT" | "DELETE") && r.path.contains("/computes/")
}

/// Writes ARM took (2xx) per compute and method, and writes sent after one had taken effect.
pub fn second_writes(requests: &[RecordedRequest]) -> Vec<String> {
    let mut took: HashMap<(String, String), usize> = HashMap::new();
    let mut after = Vec::new();
    for r in requests.iter().filter(|r| is_write(r)) {
        let key = (r.method.clone(), r.path.to_ascii_lowercase());
        if took.contains_key(&key) {
            after.push(format!("{} {} (status {:?})", r.method, r.path, r.status));
        }
        if r.status.is_some_and(|s| (200..300).contains(&s)) {
            *took.entry(key).or_default() += 1;
        }
    }
    after
}

/// Sends `bodies`, killing the handler `KILLS` times along the way, and waits until each has
/// one reply or a dead-letter. Returns (replies by correlation id, dead-lettered ids).
pub async fn run_phase(
    world: &LocalWorld,
    handler: &mut Handler,
    bodies: Vec<(usize, Value)>,
    kills: usize,
) -> (HashMap<String, Vec<(String, Value)>>, Vec<String>) {
    let total = bodies.len();
    let kill_at: Vec<usize> = (1..=kills).map(|k| k * total / (kills + 1)).collect();
    let mut ids = Vec::new();
    for (n, (i, body)) in bodies.into_iter().enumerate() {
        if let Some(rule) = fault_for(i) {
            world.arm.inject(rule);
        }
        ids.push(send_json(world, &body));
        if kill_at.contains(&n) {
            // Let some of it be in flight, then kill whatever handler runs now.
            tokio::time::sleep(Duration::from_millis(150)).await;
            handler.kill().await;
        }
    }
    let wanted: HashSet<String> = ids.iter().cloned().collect();
    let mut replies: HashMap<String, Vec<(String, Value)>> = HashMap::new();
    let mut dead: Vec<String>;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120 + total as u64 / 5);
    loop {
        while let Some(m) = receive_matching(world, REPLIES, Duration::from_millis(200), |m| {
            m.message
                .correlation_id
                .as_ref()
                .is_some_and(|c| wanted.contains(c))
        })
        .await
        {
            let id = m.message.correlation_id.clone().unwrap_or_default();
            let entry: &mut Vec<(String, Value)> = replies.entry(id).or_default();
            // A redelivered command answers again with the same MessageId: the duplicate
            // Service Bus duplicate detection drops on the reply queue.
            if !entry.iter().any(|(mid, _)| *mid == m.message_id) {
                entry.push((m.message_id.clone(), json_body(&m)));
            }
        }
        dead = world
            .broker
            .dead_letters(COMMANDS)
            .expect("dead letters")
            .into_iter()
            .filter(|m| {
                assert!(
                    m.dead_letter_reason.is_some(),
                    "a dead-letter has a reason: {m:?}"
                );
                m.message
                    .correlation_id
                    .as_ref()
                    .is_some_and(|c| wanted.contains(c))
            })
            .filter_map(|m| m.message.correlation_id)
            .collect();
        let ended = ids
            .iter()
            .filter(|id| replies.contains_key(*id) || dead.contains(id))
            .count();
        if ended == ids.len() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            for id in ids
                .iter()
                .filter(|id| !replies.contains_key(*id) && !dead.contains(id))
            {
                for m in pending_commands(world, id) {
                    eprintln!(
                        "stuck {id}: delivery {} locked_until {} scheduled {:?} body {}",
                        m.delivery_count,
                        m.locked_until,
                        m.message.scheduled_enqueue_time,
                        String::from_utf8_lossy(&m.message.body)
                    );
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} commands never ended; e.g. {:?}",
            ids.len() - ended,
            ids.len(),
            ids.iter()
                .find(|id| !replies.contains_key(*id) && !dead.contains(id))
        );
    }
    // Late duplicates would show up now.
    while let Some(m) = receive_matching(world, REPLIES, Duration::from_millis(1500), |m| {
        m.message
            .correlation_id
            .as_ref()
            .is_some_and(|c| wanted.contains(c))
    })
    .await
    {
        let id = m.message.correlation_id.clone().unwrap_or_default();
        let entry = replies.entry(id).or_default();
        if !entry.iter().any(|(mid, _)| *mid == m.message_id) {
            entry.push((m.message_id.clone(), json_body(&m)));
        }
    }
    (replies, dead)
}

/// The handler process the host runs now (a child of this test process, which hosts the
/// Functions host); killing it waits for the host to start the next one. Children are read from
/// /proc rather than host events, which a busy run can lag past.
pub struct Handler {
    pub pid: u32,
    kills: usize,
    /// Handlers of other hosts, never taken for this one's restart.
    siblings: Vec<u32>,
}

impl Handler {
    pub fn all_running() -> Vec<u32> {
        let me = std::process::id();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{me}/task")) else {
            return Vec::new();
        };
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
            .flat_map(|c| {
                c.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("poolbroker"))
            })
            .collect()
    }

    pub fn running() -> Option<u32> {
        Self::all_running().into_iter().max()
    }

    pub async fn first() -> Self {
        let pid = eventually("the handler process", WAIT, Self::running).await;
        Self {
            pid,
            kills: 0,
            siblings: Vec::new(),
        }
    }

    /// The handler a host started after `before` was taken.
    pub async fn new_since(before: &[u32]) -> Self {
        let pid = eventually("the new host's handler", WAIT, || {
            Self::all_running()
                .into_iter()
                .find(|p| !before.contains(p))
        })
        .await;
        Self {
            pid,
            kills: 0,
            siblings: before.to_vec(),
        }
    }

    pub async fn kill(&mut self) {
        let killed = std::process::Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success(), "kill {}", self.pid);
        self.kills += 1;
        let old = self.pid;
        self.pid = eventually("the restarted handler", WAIT, || {
            Self::all_running()
                .into_iter()
                .find(|p| *p != old && !self.siblings.contains(p))
        })
        .await;
    }
}

pub fn summarize(replies: &HashMap<String, Vec<(String, Value)>>) -> HashMap<String, usize> {
    let mut by = HashMap::new();
    for (_, r) in replies.values().flatten() {
        let key = format!(
            "{} {}",
            r["kind"].as_str().unwrap_or("?"),
            r["status"].as_str().unwrap_or("?")
        );
        *by.entry(key).or_default() += 1;
    }
    by
}
