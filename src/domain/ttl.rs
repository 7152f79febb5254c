//! The one duration grammar (`30m`, `8h`, `7d`, `1h30m`): an attached pool's time-to-live
//! (`ttl: 8h`, stored on the compute as an absolute expiry tag so the cleanup timer needs no state
//! of its own) and the cleanup policy's `idle_after`.

use std::{fmt, str::FromStr};

use time::{Duration, OffsetDateTime, UtcOffset};

use super::tags::EXPIRES_AT_TAG;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// Shortest and longest durations accepted (1 minute, 365 days), in seconds.
const MIN_SECONDS: u64 = MINUTE;
const MAX_SECONDS: u64 = 365 * DAY;

const EXPECTED: &str =
    "expected a duration like 30m, 8h, 7d or 1h30m (units d, h, m, largest first)";

/// A duration written `<n>d<n>h<n>m` (any non-empty subset, largest unit first), between 1 minute
/// and 365 days: an attach command's `ttl` and a cleanup policy's `idle_after` alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ttl {
    /// Whole minutes; the grammar has no smaller unit.
    minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtlError {
    #[error("{EXPECTED}; got '{0}'")]
    Malformed(String),
    #[error("'{0}' is shorter than the minimum of 1m")]
    TooShort(String),
    #[error("'{0}' is longer than the maximum of 365d")]
    TooLong(String),
}

impl Ttl {
    pub fn parse(text: &str) -> Result<Self, TtlError> {
        let shown = || text.chars().take(40).collect::<String>();
        let malformed = || TtlError::Malformed(shown());
        let too_long = || TtlError::TooLong(shown());
        let mut rest = text;
        let mut total: u64 = 0;
        let mut previous_rank = usize::MAX;
        if rest.is_empty() {
            return Err(malformed());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(malformed)?;
            if digits == 0 {
                return Err(malformed());
            }
            let amount: u64 = rest[..digits].parse().map_err(|_| too_long())?;
            let unit = rest[digits..].chars().next().ok_or_else(malformed)?;
            let (rank, seconds) = match unit {
                'd' => (2, DAY),
                'h' => (1, HOUR),
                'm' => (0, MINUTE),
                _ => return Err(malformed()),
            };
            if rank >= previous_rank {
                return Err(malformed());
            }
            previous_rank = rank;
            total = amount
                .checked_mul(seconds)
                .and_then(|part| total.checked_add(part))
                .ok_or_else(too_long)?;
            rest = &rest[digits + unit.len_utf8()..];
        }
        if total < MIN_SECONDS {
            return Err(TtlError::TooShort(shown()));
        }
        if total > MAX_SECONDS {
            return Err(too_long());
        }
        let minutes = u32::try_from(total / MINUTE).map_err(|_| too_long())?;
        Ok(Self { minutes })
    }

    pub fn duration(&self) -> Duration {
        Duration::minutes(i64::from(self.minutes))
    }

    /// The same length as a `std` duration (for timers and settings).
    pub fn std_duration(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.minutes) * MINUTE)
    }

    /// `now + ttl`, in UTC, truncated to whole seconds.
    pub fn expires_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        let at = (now + self.duration()).to_offset(UtcOffset::UTC);
        at.replace_nanosecond(0).unwrap_or(at)
    }

    /// The `(name, value)` tag to write at execution time.
    pub fn expiry_tag(&self, now: OffsetDateTime) -> (String, String) {
        (
            EXPIRES_AT_TAG.to_owned(),
            format_utc_seconds(self.expires_at(now)),
        )
    }
}

/// Writes any duration in the grammar [`Ttl::parse`] reads, with seconds (`s`) only when there
/// are some (reports show measured durations, which need not be whole minutes).
pub fn format_duration(duration: std::time::Duration) -> String {
    let total = duration.as_secs();
    let parts = [
        (total / DAY, 'd'),
        (total % DAY / HOUR, 'h'),
        (total % HOUR / MINUTE, 'm'),
        (total % MINUTE, 's'),
    ];
    let text: String = parts
        .iter()
        .filter(|(amount, _)| *amount > 0)
        .map(|(amount, unit)| format!("{amount}{unit}"))
        .collect();
    if text.is_empty() {
        "0m".to_string()
    } else {
        text
    }
}

/// `2025-12-01T18:00:00Z`. Formatted by hand so it cannot fail.
pub fn format_utc_seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Read an expiry tag value back (`None` when it is not RFC 3339).
pub fn parse_expires_at(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.std_duration()))
    }
}

impl FromStr for Ttl {
    type Err = TtlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn accepted_forms_and_display() {
        let minutes = |m: i64| Duration::minutes(m);
        assert_eq!(Ttl::parse("8h").unwrap().duration(), minutes(480));
        assert_eq!(Ttl::parse("30m").unwrap().duration(), minutes(30));
        assert_eq!(Ttl::parse("7d").unwrap().duration(), Duration::days(7));
        assert_eq!(Ttl::parse("1h30m").unwrap().duration(), minutes(90));
        assert_eq!(
            Ttl::parse("1d2h3m").unwrap().duration(),
            minutes(1440 + 120 + 3)
        );
        assert_eq!(
            Ttl::parse("365d").unwrap().std_duration(),
            std::time::Duration::from_secs(MAX_SECONDS)
        );
        // Display is the canonical spelling, which parses back to the same value.
        for (text, shown) in [
            ("8h", "8h"),
            ("90m", "1h30m"),
            ("1d2h3m", "1d2h3m"),
            ("365d", "365d"),
        ] {
            let ttl = Ttl::parse(text).unwrap();
            assert_eq!(ttl.to_string(), shown);
            assert_eq!(Ttl::parse(shown).unwrap(), ttl);
        }
    }

    #[test]
    fn refused_forms_and_ranges() {
        for bad in [
            "", "h", "8", "m", "8 h", "-1h", "1.5h", "8H", "8s", "1w", "30m1h", "1h1h", " 1h", "٣h",
        ] {
            assert_eq!(
                Ttl::parse(bad),
                Err(TtlError::Malformed(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(Ttl::parse("0m"), Err(TtlError::TooShort("0m".into())));
        assert_eq!(
            Ttl::parse("366d").unwrap_err().to_string(),
            "'366d' is longer than the maximum of 365d"
        );
        assert!(matches!(Ttl::parse("365d1m"), Err(TtlError::TooLong(_))));
        assert!(matches!(Ttl::parse("8761h"), Err(TtlError::TooLong(_))));
        assert!(matches!(
            Ttl::parse("99999999999999999999d"),
            Err(TtlError::TooLong(_))
        ));
        assert_eq!(
            TtlError::Malformed("x".into()).to_string(),
            "expected a duration like 30m, 8h, 7d or 1h30m (units d, h, m, largest first); got 'x'"
        );
    }

    #[test]
    fn formatting_measured_durations() {
        assert_eq!(format_duration(std::time::Duration::from_secs(61)), "1m1s");
        assert_eq!(format_duration(std::time::Duration::ZERO), "0m");
    }

    #[test]
    fn expiry_tag_is_utc_whole_seconds() {
        let now = datetime!(2025-12-01 10:00:00.123456 +02:00);
        let (k, v) = Ttl::parse("8h").unwrap().expiry_tag(now);
        assert_eq!(k, "poolbroker-expires-at");
        assert_eq!(v, "2025-12-01T16:00:00Z");
        assert_eq!(
            parse_expires_at(&v),
            Some(datetime!(2025-12-01 16:00:00 UTC))
        );
        assert_eq!(parse_expires_at("tomorrow"), None);
    }
}
