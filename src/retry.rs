//! The one retry policy for outbound calls (ARM, Service Bus sends): decisions as the Azure SDK
//! makes them (typespec_client_core `ExponentialRetryPolicy`), kept free of I/O so they can be
//! tested on their own.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use rand::Rng;

/// Exponential retry, as `typespec_client_core`'s `ExponentialRetryOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOptions {
    pub initial_delay: Duration,
    pub max_retries: u32,
    /// No retry is started if it would end after this much time since the first attempt.
    pub max_elapsed: Duration,
    /// Cap on the computed backoff. A server `Retry-After` hint is honoured even when longer.
    pub max_delay: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(200),
            max_retries: 8,
            max_elapsed: Duration::from_secs(60),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Statuses worth repeating: timeouts, throttling and the transient 5xx.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Connection failures and timeouts; errors building the request or decoding are not transient.
pub fn is_retryable_transport(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request() || err.is_body()
}

/// Whether a request that failed in transit may be sent again. A read may; a write (PUT, PATCH,
/// DELETE, POST) only when the connection was never made: after a timeout or a reset the write
/// may already be in ARM's hands, and a second one would start a second operation. The caller
/// then gets a transient error and re-reads the resource before deciding anything.
pub fn may_resend(method: &http::Method, err: &reqwest::Error) -> bool {
    let read = matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    );
    is_retryable_transport(err) && (read || err.is_connect())
}

/// How long the server asked us to wait: `retry-after-ms`, `x-ms-retry-after-ms`, then
/// `Retry-After` (delta-seconds or an HTTP-date, relative to `now`). Unparseable values are ignored.
pub fn server_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Up to 256 ms, so that clients throttled together do not come back together.
pub fn random_jitter() -> Duration {
    Duration::from_millis(rand::rng().random_range(0..=256))
}

/// Says that `service`'s request is retried, then waits `delay` (tokio time: tests control it).
/// The one retry wait of the ARM and Synapse clients; the URL is recorded redacted.
pub async fn wait_to_retry(
    service: &str,
    method: &http::Method,
    url: &url::Url,
    status: Option<u16>,
    delay: Duration,
    attempt: u32,
) {
    tracing::warn!(
        az.service = service,
        http.request.method = %method,
        url.full = crate::telemetry::redact_url(url.as_str()),
        status,
        retry_in_ms = delay.as_millis() as u64,
        attempt,
        "{service} request failed transiently; retrying"
    );
    tokio::time::sleep(delay).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    Retry { delay: Duration },
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    options: RetryOptions,
}

impl RetryPolicy {
    pub fn new(options: RetryOptions) -> Self {
        Self { options }
    }

    pub fn options(&self) -> &RetryOptions {
        &self.options
    }

    /// `initial * 2^retries + jitter`, capped at `max_delay`.
    pub fn backoff(&self, retries_so_far: u32, jitter: Duration) -> Duration {
        let factor = 2u32.checked_pow(retries_so_far).unwrap_or(u32::MAX);
        self.options
            .initial_delay
            .checked_mul(factor)
            .and_then(|d| d.checked_add(jitter))
            .unwrap_or(Duration::MAX)
            .min(self.options.max_delay)
    }

    /// Whether to try again after a retryable failure. The server's hint wins over a shorter
    /// backoff (sending earlier only earns another 429) and is not capped; a retry whose wait
    /// would end past `max_elapsed` (or `deadline`, when the caller has less time) is not started.
    pub fn decide(
        &self,
        retries_so_far: u32,
        elapsed: Duration,
        server_hint: Option<Duration>,
        jitter: Duration,
        deadline: Option<Duration>,
    ) -> RetryDecision {
        if retries_so_far >= self.options.max_retries {
            return RetryDecision::GiveUp;
        }
        let backoff = self.backoff(retries_so_far, jitter);
        let delay = server_hint.map_or(backoff, |hint| hint.max(backoff));
        let limit = deadline.map_or(self.options.max_elapsed, |d| {
            d.min(self.options.max_elapsed)
        });
        match elapsed.checked_add(delay) {
            Some(end) if end <= limit => RetryDecision::Retry { delay },
            _ => RetryDecision::GiveUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(RetryOptions::default())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 409, 412, 501, 505] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(0, Duration::ZERO), Duration::from_millis(200));
        assert_eq!(p.backoff(1, Duration::ZERO), Duration::from_millis(400));
        assert_eq!(
            p.backoff(3, Duration::from_millis(100)),
            Duration::from_millis(1700)
        );
        assert_eq!(p.backoff(10, Duration::ZERO), Duration::from_secs(30));
        assert_eq!(p.backoff(40, Duration::ZERO), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_256_ms() {
        for _ in 0..200 {
            assert!(random_jitter() <= Duration::from_millis(256));
        }
    }

    #[test]
    fn server_hint_header_precedence() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_hint(
                &headers(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            server_hint(
                &headers(&[("x-ms-retry-after-ms", "250"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            server_hint(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let in_ten = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(
            server_hint(&headers(&[("retry-after", &in_ten)]), now),
            Some(Duration::from_secs(10))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(
            server_hint(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(server_hint(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(server_hint(&HeaderMap::new(), now), None);
    }

    #[test]
    fn server_hint_wins_over_shorter_backoff_and_is_not_capped() {
        let p = policy();
        let d = p.decide(
            0,
            Duration::ZERO,
            Some(Duration::from_secs(45)),
            Duration::ZERO,
            None,
        );
        assert_eq!(
            d,
            RetryDecision::Retry {
                delay: Duration::from_secs(45)
            }
        );
        let d = p.decide(
            4,
            Duration::ZERO,
            Some(Duration::from_millis(10)),
            Duration::ZERO,
            None,
        );
        assert_eq!(
            d,
            RetryDecision::Retry {
                delay: Duration::from_millis(3200)
            }
        );
    }

    #[test]
    fn gives_up_on_retry_count_or_elapsed_time() {
        let p = policy();
        assert_eq!(
            p.decide(8, Duration::ZERO, None, Duration::ZERO, None),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(
                0,
                Duration::from_secs(59),
                Some(Duration::from_secs(2)),
                Duration::ZERO,
                None
            ),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(
                0,
                Duration::from_secs(58),
                Some(Duration::from_secs(2)),
                Duration::ZERO,
                None
            ),
            RetryDecision::Retry {
                delay: Duration::from_secs(2)
            }
        );
        assert_eq!(
            p.decide(
                0,
                Duration::from_secs(1),
                Some(Duration::from_secs(2)),
                Duration::ZERO,
                Some(Duration::from_secs(2))
            ),
            RetryDecision::GiveUp
        );
    }
}
