//! Durations written like `30m`, `8h`, `7d`, `1h30m`, and the `expires-at` tag made from a ttl.

use std::time::Duration;

pub const MIN_DURATION: Duration = Duration::from_secs(60);
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

const EXPECTED: &str =
    "expected a duration like 30m, 8h, 7d or 1h30m (units d, h, m, largest first)";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtlError {
    #[error("{EXPECTED}; got '{0}'")]
    Malformed(String),
    #[error("'{0}' is shorter than the minimum of 1m")]
    TooShort(String),
    #[error("'{0}' is longer than the maximum of 365d")]
    TooLong(String),
}

/// Parses `<n>d<n>h<n>m` (any non-empty subset, in that order) within 1 minute … 365 days.
pub fn parse_duration(text: &str) -> Result<Duration, TtlError> {
    let malformed = || TtlError::Malformed(text.to_string());
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
        let amount: u64 = rest[..digits]
            .parse()
            .map_err(|_| TtlError::TooLong(text.to_string()))?;
        let unit = rest[digits..].chars().next().ok_or_else(malformed)?;
        let (rank, seconds) = match unit {
            'd' => (2, 86_400),
            'h' => (1, 3_600),
            'm' => (0, 60),
            _ => return Err(malformed()),
        };
        if rank >= previous_rank {
            return Err(malformed());
        }
        previous_rank = rank;
        total = amount
            .checked_mul(seconds)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| TtlError::TooLong(text.to_string()))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    let duration = Duration::from_secs(total);
    if duration < MIN_DURATION {
        Err(TtlError::TooShort(text.to_string()))
    } else if duration > MAX_DURATION {
        Err(TtlError::TooLong(text.to_string()))
    } else {
        Ok(duration)
    }
}

/// Writes a duration the way [`parse_duration`] reads it (seconds shown only when present).
pub fn format_duration(duration: Duration) -> String {
    let total = duration.as_secs();
    let parts = [
        (total / 86_400, 'd'),
        (total % 86_400 / 3_600, 'h'),
        (total % 3_600 / 60, 'm'),
        (total % 60, 's'),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(parse_duration("30m"), Ok(minutes(30)));
        assert_eq!(parse_duration("8h"), Ok(minutes(480)));
        assert_eq!(parse_duration("7d"), Ok(minutes(7 * 1440)));
        assert_eq!(parse_duration("1h30m"), Ok(minutes(90)));
        assert_eq!(parse_duration("1d2h3m"), Ok(minutes(1440 + 120 + 3)));
        assert_eq!(parse_duration("1m"), Ok(MIN_DURATION));
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("90m"), Ok(minutes(90)));
    }

    #[test]
    fn refused_forms() {
        for text in [
            "", "5", "m", "1.5h", "30m1h", "1h1h", "1H", "1h 30m", "-1h", "1s", "1w", " 1h",
        ] {
            assert_eq!(
                parse_duration(text),
                Err(TtlError::Malformed(text.into())),
                "{text:?}"
            );
        }
        assert_eq!(parse_duration("0m"), Err(TtlError::TooShort("0m".into())));
        assert_eq!(
            parse_duration("366d"),
            Err(TtlError::TooLong("366d".into()))
        );
        assert_eq!(
            parse_duration("365d1m"),
            Err(TtlError::TooLong("365d1m".into()))
        );
        assert_eq!(
            parse_duration("99999999999999999999d"),
            Err(TtlError::TooLong("99999999999999999999d".into()))
        );
        assert_eq!(
            TtlError::Malformed("x".into()).to_string(),
            "expected a duration like 30m, 8h, 7d or 1h30m (units d, h, m, largest first); got 'x'"
        );
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["30m", "8h", "7d", "1h30m", "1d2h3m", "365d"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert_eq!(format_duration(Duration::from_secs(61)), "1m1s");
        assert_eq!(format_duration(Duration::ZERO), "0m");
    }
}
