//! When a configuration's runs are due: every *frequency* minutes, or once a day at the
//! transmission time in an IANA time zone.
//!
//! Rules, chosen once and tested:
//! - **Regular**: due times are the multiples of the frequency since the Unix epoch (UTC), so
//!   with a frequency that divides 60 they fall on round clock times (every 10 minutes: :00,
//!   :10, …) and every process computes the same times without shared state.
//! - **Daily**: at the transmission time, local to the zone. A time that the spring-forward gap
//!   skips runs at the first valid instant after the gap (02:30 on a night where 02:00 jumps to
//!   03:00 runs at 03:00); a time that the fall-back overlap repeats runs once, at its first
//!   occurrence.
//!
//! Times in and out are UTC; only the daily rule looks at local time.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// When a configuration's automatic runs are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every `minutes` minutes (1–60), aligned on multiples since the Unix epoch.
    Every { minutes: i64 },
    /// Once a day at `time` in `zone`.
    Daily { time: NaiveTime, zone: Tz },
}

impl Schedule {
    /// The first due time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Schedule::Every { minutes } => next_regular_due(after, minutes),
            Schedule::Daily { time, zone } => next_daily_due(after, time, zone),
        }
    }
}

/// The first multiple of `frequency_minutes` since the Unix epoch strictly after `after`.
pub fn next_regular_due(after: DateTime<Utc>, frequency_minutes: i64) -> DateTime<Utc> {
    let period_ms = frequency_minutes.max(1) * 60_000;
    let ms = after.timestamp_millis();
    let next = (ms.div_euclid(period_ms) + 1) * period_ms;
    DateTime::from_timestamp_millis(next).unwrap_or(after)
}

/// The first daily occurrence of `time` in `zone` strictly after `after` (see the module
/// documentation for gaps and overlaps).
pub fn next_daily_due(after: DateTime<Utc>, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let local_today = after.with_timezone(&zone).date_naive();
    let mut day = local_today
        .checked_sub_days(Days::new(1))
        .unwrap_or(local_today);
    loop {
        let candidate = occurrence(day, time, zone);
        if candidate > after {
            return candidate;
        }
        day = match day.checked_add_days(Days::new(1)) {
            Some(next) => next,
            None => return candidate,
        };
    }
}

/// `time` on local `day`: the first occurrence when repeated, the first valid instant after the
/// gap when skipped.
fn occurrence(day: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let mut local = day.and_time(time);
    // Gaps are at most a few hours; walk forward minute by minute to their end.
    for _ in 0..=(24 * 60) {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(at) => return at.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => local += TimeDelta::minutes(1),
        }
    }
    Utc.from_utc_datetime(&day.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn madrid_at(time: &str) -> Schedule {
        Schedule::Daily {
            time: NaiveTime::parse_from_str(time, "%H:%M").unwrap(),
            zone: chrono_tz::Europe::Madrid,
        }
    }

    /// The due times after `from`, `count` of them.
    fn due_times(schedule: Schedule, from: &str, count: usize) -> Vec<DateTime<Utc>> {
        let mut at = utc(from);
        (0..count)
            .map(|_| {
                at = schedule.next_after(at);
                at
            })
            .collect()
    }

    #[test]
    fn regular_runs_fall_on_multiples_of_the_frequency() {
        let every_10 = Schedule::Every { minutes: 10 };
        assert_eq!(
            due_times(every_10, "2026-05-04T10:07:13Z", 3),
            vec![
                utc("2026-05-04T10:10:00Z"),
                utc("2026-05-04T10:20:00Z"),
                utc("2026-05-04T10:30:00Z")
            ]
        );
        // Exactly on a due time: the next one is the following multiple.
        assert_eq!(
            every_10.next_after(utc("2026-05-04T10:10:00Z")),
            utc("2026-05-04T10:20:00Z")
        );
        let every_minute = Schedule::Every { minutes: 1 };
        assert_eq!(
            every_minute.next_after(utc("2026-05-04T23:59:30Z")),
            utc("2026-05-05T00:00:00Z")
        );
        assert_eq!(
            Schedule::Every { minutes: 60 }.next_after(utc("2026-05-04T10:00:00.001Z")),
            utc("2026-05-04T11:00:00Z")
        );
    }

    #[test]
    fn daily_at_two_in_madrid_across_the_spring_forward() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:00 does not exist that night and the
        // run starts at the first valid instant after it, 03:00 CEST (01:00 UTC).
        assert_eq!(
            due_times(madrid_at("02:00"), "2026-03-27T12:00:00Z", 3),
            vec![
                utc("2026-03-28T01:00:00Z"), // 02:00 CET
                utc("2026-03-29T01:00:00Z"), // 03:00 CEST, first instant after the gap
                utc("2026-03-30T00:00:00Z"), // 02:00 CEST
            ]
        );
        // A time inside the gap runs at the end of the gap, not shifted by its length.
        assert_eq!(
            madrid_at("02:30").next_after(utc("2026-03-28T12:00:00Z")),
            utc("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn daily_at_two_in_madrid_across_the_fall_back_runs_once() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:00–02:59 happens twice; the run
        // is due once, at the first 02:00 (CEST, 00:00 UTC).
        assert_eq!(
            due_times(madrid_at("02:00"), "2026-10-23T12:00:00Z", 3),
            vec![
                utc("2026-10-24T00:00:00Z"), // 02:00 CEST
                utc("2026-10-25T00:00:00Z"), // first 02:00 (CEST)
                utc("2026-10-26T01:00:00Z"), // 02:00 CET; the repeated 02:00 is skipped
            ]
        );
        // Asked just after the first occurrence, the repeated hour is not due again.
        assert_eq!(
            madrid_at("02:00").next_after(utc("2026-10-25T00:30:00Z")),
            utc("2026-10-26T01:00:00Z")
        );
    }

    #[test]
    fn a_sales_orders_configuration_schedules_by_its_settings() {
        use crate::sales_order::SalesOrderSettings;
        use crate::settings::TypeSettings;

        let mut settings = SalesOrderSettings::default();
        assert_eq!(
            settings.schedule(),
            Ok(Some(Schedule::Every { minutes: 10 }))
        );
        settings.transfer_once_a_day = true;
        settings.time_zone = "Europe/Madrid".into();
        assert_eq!(settings.schedule(), Ok(Some(madrid_at("02:00"))));
        settings.automatic_transfer = false;
        assert_eq!(settings.schedule(), Ok(None));
    }
}
