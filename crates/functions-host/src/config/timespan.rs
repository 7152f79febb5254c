//! .NET `TimeSpan` text as host.json uses it: `[-][d.]hh:mm[:ss[.fffffff]]`.

use std::time::Duration;

/// Parses a non-negative TimeSpan; `Err` carries a description of what is wrong.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let invalid =
        || format!("expected a TimeSpan like \"00:05:00\" or \"1.00:00:00\"; got {text:?}");
    let (days, rest) = match t.split_once('.') {
        Some((d, rest)) if !d.contains(':') => (d.parse::<u64>().map_err(|_| invalid())?, rest),
        _ => (0, t),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(invalid());
    }
    let field = |s: &str, max: u64| -> Result<u64, String> {
        match s.parse::<u64>() {
            Ok(v) if v <= max && !s.is_empty() => Ok(v),
            _ => Err(invalid()),
        }
    };
    let hours = field(parts[0], 23)?;
    let minutes = field(parts[1], 59)?;
    let (seconds, nanos) = match parts.get(2) {
        None => (0, 0),
        Some(sec) => match sec.split_once('.') {
            None => (field(sec, 59)?, 0),
            Some((whole, frac)) => {
                if frac.is_empty() || frac.len() > 7 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                let padded = format!("{frac:0<9}");
                (
                    field(whole, 59)?,
                    padded.parse::<u32>().map_err(|_| invalid())?,
                )
            }
        },
    };
    let secs = ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
    Ok(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_json_forms() {
        assert_eq!(parse("00:05:00"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("00:00:00.80"), Ok(Duration::from_millis(800)));
        assert_eq!(parse("1.02:00:00"), Ok(Duration::from_secs(26 * 3600)));
        assert_eq!(parse("00:10"), Ok(Duration::from_secs(600)));
        assert!(parse("5 minutes").is_err());
        assert!(parse("00:61:00").is_err());
        assert!(parse("").is_err());
    }
}
