//! Time-to-live of an attached pool (`ttl: 8h`), stored on the compute as an absolute expiry tag
//! so the cleanup timer needs no state of its own.

use std::{fmt, str::FromStr};

use time::{Duration, OffsetDateTime, UtcOffset};

/// The tag that carries the expiry instant (UTC, RFC 3339, whole seconds).
pub const EXPIRES_AT_TAG: &str = "poolbroker-expires-at";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TtlUnit {
    Minutes,
    Hours,
    Days,
}

/// A positive duration written as `<n>m`, `<n>h` or `<n>d`, between 1 minute and 365 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ttl {
    amount: u32,
    unit: TtlUnit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtlError {
    #[error("expected a duration like 30m, 8h or 7d (minutes, hours or days); got '{0}'")]
    Format(String),
    #[error("must be between 1m and 365d; got '{0}'")]
    Range(String),
}

impl Ttl {
    pub fn parse(s: &str) -> Result<Self, TtlError> {
        let fmt_err = || TtlError::Format(s.chars().take(40).collect());
        let unit = match s.chars().last() {
            Some('m') => TtlUnit::Minutes,
            Some('h') => TtlUnit::Hours,
            Some('d') => TtlUnit::Days,
            _ => return Err(fmt_err()),
        };
        let digits = &s[..s.len() - 1];
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fmt_err());
        }
        let amount: u32 = digits.parse().map_err(|_| fmt_err())?;
        let ttl = Self { amount, unit };
        if amount == 0 || ttl.duration() > Duration::days(365) {
            return Err(TtlError::Range(s.to_owned()));
        }
        Ok(ttl)
    }

    pub fn duration(&self) -> Duration {
        let n = i64::from(self.amount);
        match self.unit {
            TtlUnit::Minutes => Duration::minutes(n),
            TtlUnit::Hours => Duration::hours(n),
            TtlUnit::Days => Duration::days(n),
        }
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
        let u = match self.unit {
            TtlUnit::Minutes => 'm',
            TtlUnit::Hours => 'h',
            TtlUnit::Days => 'd',
        };
        write!(f, "{}{u}", self.amount)
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
    fn parses_units_and_round_trips_display() {
        assert_eq!(Ttl::parse("8h").unwrap().duration(), Duration::hours(8));
        assert_eq!(Ttl::parse("30m").unwrap().duration(), Duration::minutes(30));
        assert_eq!(Ttl::parse("7d").unwrap().duration(), Duration::days(7));
        assert_eq!(Ttl::parse("365d").unwrap().to_string(), "365d");
        assert_eq!(Ttl::parse("90m").unwrap().to_string(), "90m");
    }

    #[test]
    fn rejects_bad_forms_and_ranges() {
        for bad in [
            "",
            "h",
            "8",
            "8 h",
            "-1h",
            "1.5h",
            "8H",
            "8s",
            "1w",
            "99999999999d",
            "٣h",
        ] {
            assert!(matches!(Ttl::parse(bad), Err(TtlError::Format(_))), "{bad}");
        }
        assert_eq!(Ttl::parse("0m"), Err(TtlError::Range("0m".into())));
        assert_eq!(
            Ttl::parse("366d").unwrap_err().to_string(),
            "must be between 1m and 365d; got '366d'"
        );
        assert!(Ttl::parse("8761h").is_err());
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
