//! Figure 3: broker overhead per invocation, two ways.
//!
//! - Inside the handler (the definition): the handler's `Server-Timing` header gives its
//!   wall time for the invocation and the part spent waiting on ARM (requests, retries, operation
//!   polls); overhead = the difference. What remains is poolbroker: decoding, parsing,
//!   validation, body building, JSON, logging, span bookkeeping, the response.
//! - Seen from the host: the end-to-end time through the handler's HTTP route minus the time the
//!   ARM emulator spent serving its requests (measured inside the emulator). This adds every
//!   loopback hop (host → handler, handler → ARM and back) and the HTTP client's own work.

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
    /// `Server-Timing`: handler wall time minus its ARM wait.
    pub inside_ms: BTreeMap<Op, Vec<f64>>,
    /// Peak RSS of this handler after the run (KiB).
    pub peak_rss_kib: Option<u64>,
    /// `GET /` round trips on the same connection: the cost of the host → handler HTTP hop alone.
    pub ping_ms: Vec<f64>,
}

impl Overhead {
    pub fn all_overhead_ms(&self) -> Vec<f64> {
        self.overhead_ms.values().flatten().copied().collect()
    }

    pub fn all_inside_ms(&self) -> Vec<f64> {
        self.inside_ms.values().flatten().copied().collect()
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
            let timing = response
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(server_timing_overhead_ms);
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
            let Some(inside) = timing else {
                bail!(
                    "overhead: {} answered without a usable Server-Timing header",
                    op.label()
                );
            };
            result.inside_ms.entry(op).or_default().push(inside);
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

/// `handler;dur=X, arm;dur=Y` → X − Y (milliseconds).
fn server_timing_overhead_ms(header: &str) -> Option<f64> {
    let metric = |name: &str| {
        header.split(',').find_map(|entry| {
            let mut parts = entry.trim().split(';');
            (parts.next()? == name).then_some(())?;
            parts.find_map(|p| p.trim().strip_prefix("dur=")?.parse::<f64>().ok())
        })
    };
    Some((metric("handler")? - metric("arm")?).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::server_timing_overhead_ms;

    #[test]
    fn reads_the_handler_and_arm_durations() {
        let got = server_timing_overhead_ms("handler;dur=1.500, arm;dur=0.250");
        assert!(got.is_some_and(|ms| (ms - 1.25).abs() < 1e-9), "{got:?}");
        assert_eq!(server_timing_overhead_ms("handler;dur=1.5"), None);
    }
}
