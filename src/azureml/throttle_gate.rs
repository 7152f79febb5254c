//! One view of ARM's throttling for the whole process. ARM keeps a token bucket per subscription
//! for reads, writes and deletes; once one answers 429 with `Retry-After`, every other request of
//! that subscription and kind would get the same answer until then. Holding them back here spends
//! nothing: without the gate each in-flight command learns the same 429 for itself, one request
//! (and one more `Retry-After`) each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::Method;
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
}

#[derive(Debug, Default)]
pub(crate) struct ThrottleGate {
    closed_until: Mutex<HashMap<(String, Bucket), Instant>>,
}

impl ThrottleGate {
    /// How long a request must wait before it is sent (zero when its bucket is open), at most
    /// `cap` so that a huge `Retry-After` cannot park a command past its own deadlines.
    pub fn wait(&self, method: &Method, url: &Url, now: Instant, cap: Duration) -> Duration {
        let Some(key) = key(method, url) else {
            return Duration::ZERO;
        };
        let mut closed = self
            .closed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match closed.get(&key) {
            Some(until) if *until > now => until.saturating_duration_since(now).min(cap),
            Some(_) => {
                closed.remove(&key);
                Duration::ZERO
            }
            None => Duration::ZERO,
        }
    }

    /// ARM answered 429 for this request: its bucket is closed for `retry_after`.
    pub fn throttled(&self, method: &Method, url: &Url, now: Instant, retry_after: Duration) {
        let Some(key) = key(method, url) else {
            return;
        };
        let until = now + retry_after;
        let mut closed = self
            .closed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = closed.entry(key).or_insert(until);
        if *entry < until {
            *entry = until;
        }
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
            gate.wait(&Method::GET, &other_compute, now, CAP),
            Duration::from_secs(2)
        );
        assert_eq!(
            gate.wait(&Method::PUT, &other_compute, now, CAP),
            Duration::ZERO
        );
        assert_eq!(
            gate.wait(&Method::DELETE, &other_compute, now, CAP),
            Duration::ZERO
        );
        assert_eq!(
            gate.wait(&Method::GET, &url("bbbb", "x"), now, CAP),
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
            gate.wait(&Method::PATCH, &u, now + Duration::from_secs(4), CAP),
            Duration::from_secs(1)
        );
        assert_eq!(
            gate.wait(&Method::PUT, &u, now + Duration::from_secs(5), CAP),
            Duration::ZERO
        );
    }

    #[test]
    fn a_huge_retry_after_is_capped_and_urls_without_a_subscription_pass() {
        let gate = ThrottleGate::default();
        let now = Instant::now();
        let u = url("s", "computes/a");
        gate.throttled(&Method::GET, &u, now, Duration::from_secs(999_999));
        assert_eq!(gate.wait(&Method::GET, &u, now, CAP), CAP);
        let tenant = Url::parse("https://management.azure.com/providers/Microsoft.X").unwrap();
        gate.throttled(&Method::GET, &tenant, now, Duration::from_secs(9));
        assert_eq!(gate.wait(&Method::GET, &tenant, now, CAP), Duration::ZERO);
    }
}
