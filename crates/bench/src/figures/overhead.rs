//! Figure 3: broker overhead per invocation = the invocation's end-to-end time through the
//! handler's HTTP route minus the time the ARM emulator spent serving its requests (measured
//! inside the emulator). What remains is poolbroker: decoding, parsing, validation, body
//! building, its HTTP client and connection reuse, JSON, logging, the response.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::arm_server::ArmServer;
use crate::handler_process::{self, app_settings};
use crate::invocation::{ROUTE, pool_commands_body};
use crate::scenario::Op;

#[derive(Debug, Default)]
pub struct Overhead {
    pub end_to_end_ms: BTreeMap<Op, Vec<f64>>,
    pub arm_ms: BTreeMap<Op, Vec<f64>>,
    pub overhead_ms: BTreeMap<Op, Vec<f64>>,
    /// Peak RSS of this handler after the run (KiB).
    pub peak_rss_kib: Option<u64>,
    /// `GET /` round trips on the same connection: the cost of the host → handler HTTP hop alone.
    pub ping_ms: Vec<f64>,
}

impl Overhead {
    pub fn all_overhead_ms(&self) -> Vec<f64> {
        self.overhead_ms.values().flatten().copied().collect()
    }
}

/// One handler process, `cycles` + 1 rounds of the five operations, sequentially (no other
/// request can hide in the ARM time). Without Service Bus: a reply is then logged, not sent, so
/// no Service Bus time is counted as overhead either.
pub async fn run(
    binary: &Path,
    arm: &ArmServer,
    workdir: &Path,
    cycles: usize,
) -> anyhow::Result<Overhead> {
    let settings = app_settings(arm.addr, None);
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut handler = handler_process::spawn(binary, &settings, workdir)?;
    handler.wait_ready(&client, Duration::from_secs(30)).await?;
    let url = handler.url(ROUTE);
    let mut result = Overhead::default();
    let ping = handler.url("");
    for _ in 0..(cycles * 5).max(20) {
        let started = Instant::now();
        let response = client.get(&ping).send().await?;
        response.bytes().await?;
        result.ping_ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    for cycle in 0..=cycles {
        let name = format!("oh{cycle}");
        for op in Op::ALL {
            let body = pool_commands_body(&op.command(&name), &format!("oh-{cycle}-{op:?}"), None);
            arm.timings.take();
            let started = Instant::now();
            let response = client
                .post(&url)
                .header("content-type", "application/json; charset=utf-8")
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let text = response.bytes().await?;
            let e2e = started.elapsed();
            let arm_time: Duration = arm.timings.take().iter().map(|t| t.took).sum();
            if !status.is_success() || contains(&text, b"\"rejected\"") {
                bail!(
                    "overhead: {} on {name} answered {status}: {}",
                    op.label(),
                    String::from_utf8_lossy(&text)
                );
            }
            if cycle == 0 {
                continue;
            }
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            result.end_to_end_ms.entry(op).or_default().push(ms(e2e));
            result.arm_ms.entry(op).or_default().push(ms(arm_time));
            result
                .overhead_ms
                .entry(op)
                .or_default()
                .push(ms(e2e.saturating_sub(arm_time)));
        }
    }
    result.peak_rss_kib = handler.peak_rss_kib();
    handler.stop().await;
    Ok(result)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
