//! Shopify Admin API versions and when Shopify stops supporting each.
//!
//! Shopify releases a stable version every quarter (`YYYY-01`, `-04`, `-07`, `-10`, on the 1st
//! at 17:00 UTC) and supports each for at least 12 months; a request to a version past its
//! support is answered by the oldest version still supported, silently, whose fields may differ
//! (reference `shopify-admin-api.md` §2.1). So the rule, for every version this table does not
//! list yet: **support of `YYYY-MM` ends on the 1st of the same month a year later**, when the
//! version four quarters newer is released (2025-10 dropped out around 2026-10-01). Add a row
//! when Shopify announces a date that differs from the rule.
//!
//! From [`WARNING_DAYS`] before the end, runs warn, credentials carry a note and the check
//! connection says so ([`age`]).

use chrono::{Datelike, NaiveDate};
use tentacle_domain::messages::VersionAge;

/// How many days before its end of support a version is warned about.
pub const WARNING_DAYS: i64 = 60;

/// The versions tentacle knows with their end of support (the day support ends), oldest first:
/// those supported on 2026-11-26 (2026-01 … 2026-10), the one that dropped out before, and the
/// release candidate 2027-01.
pub const SUPPORTED: &[(&str, (i32, u32, u32))] = &[
    ("2025-10", (2026, 10, 1)),
    ("2026-01", (2027, 1, 1)),
    ("2026-04", (2027, 4, 1)),
    ("2026-07", (2027, 7, 1)),
    ("2026-10", (2027, 10, 1)),
    ("2027-01", (2028, 1, 1)),
];

/// The day Shopify stops supporting `version` (`YYYY-MM`): from the table, else by the
/// 12-month rule for any quarterly version; `None` for anything else (`unstable`, a typo).
pub fn support_ends(version: &str) -> Option<NaiveDate> {
    if let Some((_, (year, month, day))) = SUPPORTED.iter().find(|(v, _)| *v == version) {
        return NaiveDate::from_ymd_opt(*year, *month, *day);
    }
    let (year, month) = version.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    if !matches!(month, 1 | 4 | 7 | 10) {
        return None;
    }
    NaiveDate::from_ymd_opt(year + 1, month, 1)
}

/// How close `version` is to its end of support on `today`; `None` when its end is unknown.
pub fn age(version: &str, today: NaiveDate) -> Option<VersionAge> {
    let ends = support_ends(version)?;
    let days_left = (ends - today).num_days();
    Some(if days_left <= 0 {
        VersionAge::Ended { ended: ends }
    } else if days_left <= WARNING_DAYS {
        VersionAge::EndingSoon { ends, days_left }
    } else {
        VersionAge::Supported { ends }
    })
}

/// The newest version of the table supported on `today` for longer than the warning period:
/// what to suggest instead of an ending one.
pub fn recommended(today: NaiveDate) -> Option<&'static str> {
    SUPPORTED
        .iter()
        .rev()
        .map(|(version, _)| *version)
        .filter(|version| {
            // A release candidate is not stable before its quarter starts.
            support_ends(version)
                .is_some_and(|ends| ends.with_year(ends.year() - 1).is_some_and(|r| r <= today))
        })
        .find(|version| matches!(age(version, today), Some(VersionAge::Supported { .. })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_table_follows_the_twelve_month_rule_and_the_rule_covers_future_versions() {
        for (version, _) in SUPPORTED {
            let (year, month) = version.split_once('-').unwrap();
            let rule = NaiveDate::from_ymd_opt(
                year.parse::<i32>().unwrap() + 1,
                month.parse().unwrap(),
                1,
            );
            assert_eq!(support_ends(version), rule, "{version}");
        }
        assert_eq!(support_ends("2028-04"), Some(day("2029-04-01")));
        assert_eq!(support_ends("2026-05"), None, "not a quarterly release");
        assert_eq!(support_ends("unstable"), None);
        assert_eq!(support_ends("2026-1"), None);
    }

    #[test]
    fn a_version_is_supported_far_from_its_end_ending_within_sixty_days_and_ended_after() {
        assert_eq!(
            age("2026-10", day("2026-12-04")),
            Some(VersionAge::Supported {
                ends: day("2027-10-01")
            })
        );
        // 61 days before: not yet; 60 days before: warned.
        assert_eq!(
            age("2026-01", day("2026-11-01")),
            Some(VersionAge::Supported {
                ends: day("2027-01-01")
            })
        );
        assert_eq!(
            age("2026-01", day("2026-11-02")),
            Some(VersionAge::EndingSoon {
                ends: day("2027-01-01"),
                days_left: 60
            })
        );
        assert_eq!(
            age("2026-01", day("2026-12-31")),
            Some(VersionAge::EndingSoon {
                ends: day("2027-01-01"),
                days_left: 1
            })
        );
        assert_eq!(
            age("2026-01", day("2027-01-01")),
            Some(VersionAge::Ended {
                ended: day("2027-01-01")
            })
        );
        assert_eq!(
            age("2025-10", day("2027-06-01")),
            Some(VersionAge::Ended {
                ended: day("2026-10-01")
            })
        );
        assert_eq!(age("unstable", day("2026-12-04")), None);
    }

    #[test]
    fn the_recommended_version_is_the_newest_stable_one_far_from_its_end() {
        assert_eq!(recommended(day("2026-12-04")), Some("2026-10"));
        assert_eq!(recommended(day("2027-02-01")), Some("2027-01"));
    }
}
