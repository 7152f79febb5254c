//! How long an invocation spent in poolbroker versus waiting on ARM, answered to the caller as a
//! W3C `Server-Timing` header (`handler;dur=…, arm;dur=…`, milliseconds).
//!
//! The ARM client adds each request's wall time (retries and their back-off included) and each
//! operation-poll wait to a per-task clock; the handler reads it when the invocation ends. The
//! Functions host ignores the header; the benchmark reads it to report the broker's own overhead
//! without counting the network hops around it.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;

tokio::task_local! {
    static ARM_WAIT: Cell<Duration>;
}

/// Wall time of one invocation and the part of it spent waiting on ARM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTiming {
    pub total: Duration,
    pub arm: Duration,
}

impl ServerTiming {
    pub fn header_value(&self) -> HeaderValue {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let text = format!(
            "handler;dur={:.3}, arm;dur={:.3}",
            ms(self.total),
            ms(self.arm)
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("handler"))
    }
}

/// Runs `work` with a fresh ARM clock and reports its timing.
pub async fn measure<F: Future>(work: F) -> (F::Output, ServerTiming) {
    let started = Instant::now();
    ARM_WAIT
        .scope(Cell::new(Duration::ZERO), async move {
            let output = work.await;
            let arm = ARM_WAIT.try_with(Cell::get).unwrap_or_default();
            let timing = ServerTiming {
                total: started.elapsed(),
                arm,
            };
            (output, timing)
        })
        .await
}

/// Adds time spent waiting on ARM to the current invocation's clock (no-op outside one, e.g.
/// in the CLI).
pub fn add_arm_wait(waited: Duration) {
    let _ = ARM_WAIT.try_with(|clock| clock.set(clock.get().saturating_add(waited)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_added_inside_the_scope_are_counted_and_outside_ignored() {
        add_arm_wait(Duration::from_secs(99));
        let ((), timing) = measure(async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            add_arm_wait(Duration::from_millis(2));
            add_arm_wait(Duration::from_millis(1));
        })
        .await;
        assert_eq!(timing.arm, Duration::from_millis(3));
    }

    #[test]
    fn header_is_w3c_server_timing_in_milliseconds() {
        let timing = ServerTiming {
            total: Duration::from_micros(1_500),
            arm: Duration::from_micros(250),
        };
        assert_eq!(
            timing.header_value(),
            HeaderValue::from_static("handler;dur=1.500, arm;dur=0.250")
        );
    }
}
