//! How long run history is kept: runs and their log entries older than `retention_days` are
//! deleted, FAILED runs only after `retention_failed_days` (they explain incidents, and are
//! few), and never a run an unresolved attention record points at or a run not ended yet.

use crate::settings::FieldError;

/// Days ended runs are kept by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Days FAILED runs are kept by default.
pub const DEFAULT_RETENTION_FAILED_DAYS: u32 = 365;
/// The longest either may be: ten years, beyond which "forever" is what is meant.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Validated retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    pub retention_days: u32,
    pub retention_failed_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            retention_days: DEFAULT_RETENTION_DAYS,
            retention_failed_days: DEFAULT_RETENTION_FAILED_DAYS,
        }
    }
}

impl RetentionSettings {
    /// Both within 1 to [`MAX_RETENTION_DAYS`], and FAILED runs kept at least as long as the
    /// others; the error names the setting to fix.
    pub fn new(retention_days: u32, retention_failed_days: u32) -> Result<Self, FieldError> {
        let in_range = |field: &str, days: u32| {
            if (1..=MAX_RETENTION_DAYS).contains(&days) {
                Ok(())
            } else {
                Err(FieldError::new(
                    field,
                    format!("must be between 1 and {MAX_RETENTION_DAYS} days, not {days}"),
                ))
            }
        };
        in_range("retention_days", retention_days)?;
        in_range("retention_failed_days", retention_failed_days)?;
        if retention_failed_days < retention_days {
            return Err(FieldError::new(
                "retention_failed_days",
                format!(
                    "FAILED runs are kept at least as long as the others: {retention_failed_days} \
                     days is less than retention_days ({retention_days})"
                ),
            ));
        }
        Ok(RetentionSettings {
            retention_days,
            retention_failed_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_order_are_checked_and_name_the_setting() {
        assert_eq!(
            RetentionSettings::new(90, 365),
            Ok(RetentionSettings::default())
        );
        assert_eq!(
            RetentionSettings::new(7, 7).map(|s| s.retention_days),
            Ok(7)
        );
        let field = |r: Result<RetentionSettings, FieldError>| r.expect_err("refused").field;
        assert_eq!(field(RetentionSettings::new(0, 365)), "retention_days");
        assert_eq!(
            field(RetentionSettings::new(90, 4000)),
            "retention_failed_days"
        );
        let shorter = RetentionSettings::new(90, 30).expect_err("refused");
        assert_eq!(shorter.field, "retention_failed_days");
        assert!(shorter.message.contains("retention_days (90)"), "{shorter}");
    }
}
