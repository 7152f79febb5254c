//! Timer schedules: 6-field NCRONTAB (seconds first, UTC) or a `hh:mm:ss` interval.

use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

#[derive(Clone)]
pub enum Schedule {
    Cron(Box<Cron>),
    /// `TimeSpan` schedules (App Service plans): the next run is the previous one plus this.
    Interval(Duration),
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron(c) => write!(f, "Cron({})", c.as_str()),
            Self::Interval(d) => write!(f, "Interval({d:?})"),
        }
    }
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.split_whitespace().count() == 1 && text.contains(':') {
            let d = crate::config::timespan::parse(text)?;
            if d.is_zero() {
                return Err(format!(
                    "interval schedule {text:?} must be greater than zero"
                ));
            }
            return Ok(Self::Interval(d));
        }
        let fields = text.split_whitespace().count();
        if fields != 6 {
            return Err(format!(
                "{text:?} is not a valid NCRONTAB expression: expected 6 fields \
                 ({{second}} {{minute}} {{hour}} {{day}} {{month}} {{day-of-week}}), got {fields}"
            ));
        }
        // NCRONTAB's day-of-week field runs 0-6; croner also accepts 7 and L/W/# extensions,
        // which Azure would reject.
        let dow = text.split_whitespace().nth(5).unwrap_or_default();
        if dow.split(|c: char| !c.is_ascii_digit()).any(|n| n == "7")
            || text.contains(['L', 'W', '#', '?'])
        {
            return Err(format!(
                "{text:?} is not a valid NCRONTAB expression: day-of-week runs 0-6 (0 = Sunday) and L, W, #, ? are not supported"
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            // NCrontab requires day-of-month AND day-of-week to match; POSIX cron ORs them.
            .dom_and_dow(true)
            // NCrontab accepts "0/5" as "every 5 starting at 0".
            .sloppy_ranges(true)
            .build();
        parser
            .parse(text)
            .map(|c| Self::Cron(Box::new(c)))
            .map_err(|e| format!("{text:?} is not a valid NCRONTAB expression: {e}"))
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Self::Interval(d) => t.checked_add(time::Duration::try_from(*d).ok()?),
            Self::Cron(cron) => {
                let t = t.to_offset(UtcOffset::UTC).replace_nanosecond(0).ok()?;
                let start = PrimitiveDateTime::new(t.date(), t.time());
                cron.find_next_occurrence(&UtcCivil(start), false)
                    .ok()
                    .map(|n| n.0.assume_utc())
            }
        }
    }

    /// Azure turns the monitor off for schedules that fire more often than once a minute.
    pub fn fires_more_than_once_a_minute(&self, now: OffsetDateTime) -> bool {
        let Some(a) = self.next_after(now) else {
            return false;
        };
        let Some(b) = self.next_after(a) else {
            return false;
        };
        (b - a) < time::Duration::MINUTE
    }
}

/// UTC wall clock for croner (no zone, so no DST gaps or folds).
#[derive(Clone)]
struct UtcCivil(PrimitiveDateTime);

impl CronDateTime for UtcCivil {
    fn to_civil(&self) -> CivilDateTime {
        let d = self.0;
        // The parts come from a valid PrimitiveDateTime.
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(
                d.year(),
                u32::from(u8::from(d.month())),
                u32::from(d.day()),
            ),
            CivilTime::from_parts_unchecked(
                u32::from(d.hour()),
                u32::from(d.minute()),
                u32::from(d.second()),
            ),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        Weekday::from_days_from_sunday(u32::from(self.0.weekday().number_days_from_sunday()))
    }

    fn resolve_civil(
        &self,
        civil: CivilDateTime,
    ) -> Result<Resolution<Self>, croner::errors::CronError> {
        let month = u8::try_from(civil.month())
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .ok_or(croner::errors::CronError::InvalidDate)?;
        let date = u8::try_from(civil.day())
            .ok()
            .and_then(|d| time::Date::from_calendar_date(civil.year(), month, d).ok())
            .ok_or(croner::errors::CronError::InvalidDate)?;
        let clock = time::Time::from_hms(
            u8::try_from(civil.hour()).unwrap_or(u8::MAX),
            u8::try_from(civil.minute()).unwrap_or(u8::MAX),
            u8::try_from(civil.second()).unwrap_or(u8::MAX),
        )
        .map_err(|_| croner::errors::CronError::InvalidTime)?;
        Ok(Resolution::Single(UtcCivil(PrimitiveDateTime::new(
            date, clock,
        ))))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(time::Duration::seconds(seconds))
            .map(UtcCivil)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn next(s: &str, t: OffsetDateTime) -> OffsetDateTime {
        Schedule::parse(s).unwrap().next_after(t).unwrap()
    }

    #[test]
    fn seconds_come_first() {
        let t = datetime!(2024-10-24 14:32:17.5 UTC);
        assert_eq!(next("*/1 * * * * *", t), datetime!(2024-10-24 14:32:18 UTC));
        assert_eq!(
            next("0 */15 * * * *", t),
            datetime!(2024-10-24 14:45:00 UTC)
        );
        assert_eq!(next("30 0 3 * * *", t), datetime!(2024-10-25 03:00:30 UTC));
        assert_eq!(
            next("0/10 * * * * *", t),
            datetime!(2024-10-24 14:32:20 UTC)
        );
    }

    #[test]
    fn day_of_week_zero_is_sunday_and_names_work() {
        // 2024-10-24 is a Thursday.
        let t = datetime!(2024-10-24 12:00 UTC);
        assert_eq!(next("0 0 9 * * 0", t), datetime!(2024-10-27 09:00 UTC));
        assert_eq!(next("0 0 9 * * Mon", t), datetime!(2024-10-28 09:00 UTC));
        assert_eq!(next("0 0 9 * * 1-5", t), datetime!(2024-10-25 09:00 UTC));
    }

    #[test]
    fn day_and_weekday_must_both_match() {
        // The 13th that is a Friday: December 2024.
        let t = datetime!(2024-10-24 12:00 UTC);
        assert_eq!(next("0 0 0 13 * 5", t), datetime!(2024-12-13 00:00 UTC));
    }

    #[test]
    fn rejects_five_fields_and_extensions() {
        assert!(Schedule::parse("*/5 * * * *").is_err());
        assert!(Schedule::parse("0 0 0 * * 7").is_err());
        assert!(Schedule::parse("0 0 0 L * *").is_err());
        assert!(Schedule::parse("not a schedule at all").is_err());
    }

    #[test]
    fn intervals_and_monitor_rule() {
        let t = datetime!(2024-10-24 12:00 UTC);
        assert_eq!(next("00:05:00", t), datetime!(2024-10-24 12:05 UTC));
        assert!(
            Schedule::parse("*/10 * * * * *")
                .unwrap()
                .fires_more_than_once_a_minute(t)
        );
        assert!(
            !Schedule::parse("0 * * * * *")
                .unwrap()
                .fires_more_than_once_a_minute(t)
        );
    }
}
