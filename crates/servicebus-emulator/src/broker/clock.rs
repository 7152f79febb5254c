//! The broker's clock: tokio time for scheduling (so tests can pause it), with wall-clock values
//! derived from one fixed epoch so that paused time moves both consistently.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

/// Far enough in the future to mean "never" without overflowing `Instant` arithmetic.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    instant: Instant,
    wall: OffsetDateTime,
}

impl Clock {
    pub(super) fn new() -> Self {
        Self {
            instant: Instant::now(),
            wall: OffsetDateTime::now_utc(),
        }
    }

    pub(super) fn wall(&self, at: Instant) -> OffsetDateTime {
        let elapsed = at.saturating_duration_since(self.instant);
        time::Duration::try_from(elapsed)
            .ok()
            .and_then(|d| self.wall.checked_add(d))
            .unwrap_or(self.wall)
    }

    /// Instants cannot lie before the epoch, so past wall times map to the epoch (already due).
    pub(super) fn instant(&self, wall: OffsetDateTime) -> Instant {
        let ahead = wall - self.wall;
        if !ahead.is_positive() {
            return self.instant;
        }
        let ahead = Duration::try_from(ahead)
            .unwrap_or(FAR_FUTURE)
            .min(FAR_FUTURE);
        self.instant + ahead
    }
}

/// `at + d`, or `None` when that is beyond any meaningful horizon (e.g. a TimeSpan.MaxValue TTL).
pub(super) fn add(at: Instant, d: Duration) -> Option<Instant> {
    if d >= FAR_FUTURE {
        return None;
    }
    at.checked_add(d)
}
