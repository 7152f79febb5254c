//! ARM's per-subscription token buckets for reads, writes and deletes, on tokio time.

use crate::config::{BucketLimit, ThrottleLimits};
use axum::http::Method;
use std::collections::HashMap;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Category {
    Reads,
    Writes,
    Deletes,
}

impl Category {
    pub fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD => Self::Reads,
            Method::DELETE => Self::Deletes,
            _ => Self::Writes,
        }
    }

    /// Suffix of `x-ms-ratelimit-remaining-subscription-*`.
    pub fn header_suffix(self) -> &'static str {
        match self {
            Self::Reads => "reads",
            Self::Writes => "writes",
            Self::Deletes => "deletes",
        }
    }

    /// The word ARM's throttling message uses.
    pub fn word(self) -> &'static str {
        match self {
            Self::Reads => "read",
            Self::Writes => "write",
            Self::Deletes => "delete",
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    limits: ThrottleLimits,
    buckets: HashMap<(String, Category), Bucket>,
}

/// Outcome of taking one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Allowed; tokens left in the bucket.
    Allowed(u64),
    /// Throttled; whole seconds until a token is available (at least 1).
    Throttled(u64),
}

impl Throttle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            buckets: HashMap::new(),
        }
    }

    pub fn reset(&mut self) {
        self.buckets.clear();
    }

    fn limit(&self, category: Category) -> BucketLimit {
        match category {
            Category::Reads => self.limits.reads,
            Category::Writes => self.limits.writes,
            Category::Deletes => self.limits.deletes,
        }
    }

    pub fn take(&mut self, subscription: &str, category: Category) -> Admission {
        let limit = self.limit(category);
        let now = Instant::now();
        let capacity = f64::from(limit.capacity);
        let bucket = self
            .buckets
            .entry((subscription.to_ascii_lowercase(), category))
            .or_insert(Bucket {
                tokens: capacity,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.refill_per_sec).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            // Truncation is the intent: the header reports whole requests left.
            Admission::Allowed(bucket.tokens.floor() as u64)
        } else if limit.refill_per_sec <= 0.0 {
            Admission::Throttled(3600)
        } else {
            let wait = ((1.0 - bucket.tokens) / limit.refill_per_sec).ceil();
            Admission::Throttled((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn bucket_empties_and_refills_on_tokio_time() {
        let limit = BucketLimit {
            capacity: 2,
            refill_per_sec: 0.5,
        };
        let mut t = Throttle::new(ThrottleLimits {
            reads: limit,
            writes: limit,
            deletes: limit,
        });
        assert_eq!(t.take("s", Category::Reads), Admission::Allowed(1));
        assert_eq!(t.take("s", Category::Reads), Admission::Allowed(0));
        assert_eq!(t.take("s", Category::Reads), Admission::Throttled(2));
        assert_eq!(t.take("other", Category::Reads), Admission::Allowed(1));
        assert_eq!(t.take("s", Category::Writes), Admission::Allowed(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(t.take("s", Category::Reads), Admission::Allowed(0));
    }
}
