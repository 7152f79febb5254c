//! One view of ARM's throttling for the whole process. ARM keeps a token bucket per subscription
//! for reads, writes and deletes. Two things are shared across every in-flight command:
//!
//! - once one request is answered 429 with `Retry-After`, every other request of that
//!   subscription and kind would get the same answer until then, so they are held back instead of
//!   each learning the same 429 for itself (one request, and one more `Retry-After`, each);
//! - when ARM's `x-ms-ratelimit-remaining-subscription-*` says a bucket is nearly empty, requests
//!   of that kind are paced at the bucket's documented refill rate, so the bucket is not run dry
//!   by a burst. Pacing stops once the header shows room again, so a service that refills faster
//!   than documented costs only the requests sent while the bucket was low.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use http::{HeaderMap, Method};
use tokio::time::Instant;
use url::Url;

/// ARM's three buckets (`x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bucket {
    Reads,
    Writes,
    Deletes,
}

impl Bucket {
    fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD | Method::OPTIONS => Self::Reads,
            Method::DELETE => Self::Deletes,
            _ => Self::Writes,
        }
    }

    fn remaining_header(self) -> &'static str {
        match self {
            Self::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            Self::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            Self::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// Time for one token to come back, at the refill rates ARM documents for its per-region
    /// subscription buckets (reads 25/s, writes 10/s, deletes 10/s).
    fn refill_interval(self) -> Duration {
        match self {
            Self::Reads => Duration::from_millis(40),
            Self::Writes | Self::Deletes => Duration::from_millis(100),
        }
    }
}

/// Pacing starts when a bucket has this many tokens left or fewer (room for the requests
/// already in flight), and stops above [`PACE_UNTIL`].
const PACE_FROM: u64 = 20;
const PACE_UNTIL: u64 = 40;

#[derive(Debug, Default)]
struct BucketState {
    closed_until: Option<Instant>,
    /// Pacing: the earliest instant the next request may go.
    next_slot: Option<Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct ThrottleGate {
    buckets: Mutex<HashMap<(String, Bucket), BucketState>>,
}

impl ThrottleGate {
    /// How long a request must wait before it is sent (zero when its bucket is open and not
    /// paced), at most `cap` so that a huge `Retry-After` cannot park a command past its own
    /// deadlines. `jitter` is added to a wait for a closed bucket, so that the requests held
    /// together do not all arrive in the same instant; paced slots are spread already. A paced
    /// request reserves its slot.
    pub fn wait(
        &self,
        method: &Method,
        url: &Url,
        now: Instant,
        cap: Duration,
        jitter: Duration,
    ) -> Duration {
        let Some(key) = key(method, url) else {
            return Duration::ZERO;
        };
        let interval = key.1.refill_interval();
        let mut buckets = self.buckets();
        let Some(state) = buckets.get_mut(&key) else {
            return Duration::ZERO;
        };
        let open_at = state
            .closed_until
            .filter(|until| *until > now)
            .map_or(now, |until| until + jitter);
        let go_at = match state.next_slot {
            Some(slot) => {
                let go_at = slot.max(open_at);
                state.next_slot = Some(go_at + interval);
                go_at
            }
            None => open_at,
        };
        if state.closed_until.is_some_and(|until| until <= now) {
            state.closed_until = None;
        }
        go_at.saturating_duration_since(now).min(cap)
    }

    /// ARM answered 429 for this request: its bucket is closed for `retry_after`.
    pub fn throttled(&self, method: &Method, url: &Url, now: Instant, retry_after: Duration) {
        let Some(key) = key(method, url) else {
            return;
        };
        let until = now + retry_after;
        let mut buckets = self.buckets();
        let state = buckets.entry(key).or_default();
        if state.closed_until.is_none_or(|closed| closed < until) {
            state.closed_until = Some(until);
        }
    }

    /// Reads ARM's remaining-tokens header of the request's bucket from an answer: pacing starts
    /// when few are left and stops when there is room again.
    pub fn observe(&self, method: &Method, url: &Url, now: Instant, headers: &HeaderMap) {
        let Some(key) = key(method, url) else {
            return;
        };
        let Some(remaining) = headers
            .get(key.1.remaining_header())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
        else {
            return;
        };
        let mut buckets = self.buckets();
        if remaining <= PACE_FROM {
            let state = buckets.entry(key).or_default();
            state.next_slot.get_or_insert(now);
        } else if remaining > PACE_UNTIL
            && let Some(state) = buckets.get_mut(&key)
        {
            state.next_slot = None;
        }
    }

    /// The state is a few instants: a panic elsewhere cannot leave it half-written.
    fn buckets(&self) -> MutexGuard<'_, HashMap<(String, Bucket), BucketState>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The subscription a URL acts in (ARM ids are case-insensitive) and the bucket its method draws
/// from; `None` for requests outside a subscription.
fn key(method: &Method, url: &Url) -> Option<(String, Bucket)> {
    let mut segments = url.path_segments()?;
    segments.find(|s| s.eq_ignore_ascii_case("subscriptions"))?;
    let subscription = segments.next().filter(|s| !s.is_empty())?;
    Some((subscription.to_ascii_lowercase(), Bucket::of(method)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(30);
    const NO_JITTER: Duration = Duration::ZERO;

    fn url(sub: &str, rest: &str) -> Url {
        Url::parse(&format!(
            "https://management.azure.com/subscriptions/{sub}/{rest}"
        ))
        .unwrap()
    }

    #[test]
    fn a_429_holds_back_the_same_subscription_and_bucket_only() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let compute = url("AAAA", "resourceGroups/rg/computes/a");
        gate.throttled(&Method::GET, &compute, now, Duration::from_secs(2));
        let other_compute = url("aaaa", "resourceGroups/rg/computes/b");
        assert_eq!(
            gate.wait(&Method::GET, &other_compute, now, CAP, NO_JITTER),
            Duration::from_secs(2)
        );
        assert_eq!(
            gate.wait(&Method::PUT, &other_compute, now, CAP, NO_JITTER),
            Duration::ZERO
        );
        assert_eq!(
            gate.wait(&Method::DELETE, &other_compute, now, CAP, NO_JITTER),
            Duration::ZERO
        );
        assert_eq!(
            gate.wait(&Method::GET, &url("bbbb", "x"), now, CAP, NO_JITTER),
            Duration::ZERO
        );
    }

    #[test]
    fn the_gate_reopens_when_the_wait_is_over_and_the_longest_wait_wins() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let u = url("s", "computes/a");
        gate.throttled(&Method::PUT, &u, now, Duration::from_secs(5));
        gate.throttled(&Method::PUT, &u, now, Duration::from_secs(1));
        assert_eq!(
            gate.wait(
                &Method::PATCH,
                &u,
                now + Duration::from_secs(4),
                CAP,
                NO_JITTER
            ),
            Duration::from_secs(1)
        );
        assert_eq!(
            gate.wait(
                &Method::PUT,
                &u,
                now + Duration::from_secs(5),
                CAP,
                NO_JITTER
            ),
            Duration::ZERO
        );
    }

    #[test]
    fn a_huge_retry_after_is_capped_and_urls_without_a_subscription_pass() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let u = url("s", "computes/a");
        gate.throttled(&Method::GET, &u, now, Duration::from_secs(999_999));
        assert_eq!(gate.wait(&Method::GET, &u, now, CAP, NO_JITTER), CAP);
        let tenant = Url::parse("https://management.azure.com/providers/Microsoft.X").unwrap();
        gate.throttled(&Method::GET, &tenant, now, Duration::from_secs(9));
        assert_eq!(
            gate.wait(&Method::GET, &tenant, now, CAP, NO_JITTER),
            Duration::ZERO
        );
    }

    fn remaining(bucket: &str, n: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::HeaderName::try_from(format!("x-ms-ratelimit-remaining-subscription-{bucket}"))
                .unwrap(),
            n.to_string().parse().unwrap(),
        );
        headers
    }

    #[test]
    fn a_nearly_empty_bucket_paces_its_requests_at_the_refill_rate_until_it_has_room() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let u = url("s", "computes/a");
        gate.observe(&Method::PUT, &u, now, &remaining("writes", 100));
        assert_eq!(
            gate.wait(&Method::PUT, &u, now, CAP, NO_JITTER),
            Duration::ZERO
        );
        gate.observe(&Method::PUT, &u, now, &remaining("writes", 12));
        let waits: Vec<u128> = (0..4)
            .map(|_| gate.wait(&Method::PUT, &u, now, CAP, NO_JITTER).as_millis())
            .collect();
        assert_eq!(waits, [0, 100, 200, 300]);
        // Reads are another bucket, paced at their own rate only when their header says so.
        assert_eq!(
            gate.wait(&Method::GET, &u, now, CAP, NO_JITTER),
            Duration::ZERO
        );
        gate.observe(&Method::GET, &u, now, &remaining("reads", 3));
        let reads: Vec<u128> = (0..3)
            .map(|_| gate.wait(&Method::GET, &u, now, CAP, NO_JITTER).as_millis())
            .collect();
        assert_eq!(reads, [0, 40, 80]);
        // Between the thresholds nothing changes; above them pacing stops.
        gate.observe(&Method::PUT, &u, now, &remaining("writes", 30));
        assert_eq!(
            gate.wait(&Method::PUT, &u, now, CAP, NO_JITTER).as_millis(),
            400
        );
        gate.observe(&Method::PUT, &u, now, &remaining("writes", 41));
        assert_eq!(
            gate.wait(&Method::PUT, &u, now, CAP, NO_JITTER),
            Duration::ZERO
        );
    }

    #[test]
    fn paced_requests_start_after_a_429_closes_the_bucket() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let u = url("s", "computes/a");
        gate.observe(&Method::DELETE, &u, now, &remaining("deletes", 0));
        gate.throttled(&Method::DELETE, &u, now, Duration::from_secs(2));
        let waits: Vec<u128> = (0..3)
            .map(|_| {
                gate.wait(&Method::DELETE, &u, now, CAP, NO_JITTER)
                    .as_millis()
            })
            .collect();
        assert_eq!(waits, [2000, 2100, 2200]);
    }

    #[test]
    fn jitter_spreads_requests_held_by_a_429_but_not_paced_slots() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let u = url("s", "computes/a");
        let jitter = Duration::from_millis(30);
        gate.throttled(&Method::PUT, &u, now, Duration::from_secs(1));
        assert_eq!(
            gate.wait(&Method::PUT, &u, now, CAP, jitter),
            Duration::from_millis(1030)
        );
        gate.observe(&Method::GET, &u, now, &remaining("reads", 1));
        let reads: Vec<u128> = (0..2)
            .map(|_| gate.wait(&Method::GET, &u, now, CAP, jitter).as_millis())
            .collect();
        assert_eq!(reads, [0, 40]);
    }
}
