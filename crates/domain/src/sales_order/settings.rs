//! The additional settings of a sales orders configuration (SPEC §3.1): their declaration
//! (keys, labels, bounds), defaults and the rules beyond bounds.
//!
//! Every key may be omitted (it takes its default); an unknown key is an error naming it, so a
//! typo never silently falls back to a default. Validation ([`crate::settings::validate`])
//! reports every bad field at once, each with a message a person can act on.

use std::fmt;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::order::{FinancialStatus, FulfillmentStatus};
use crate::schedule::Schedule;
use crate::settings::{self, Field, FieldError, Input, TypeSettings};

/// Shopify only shows orders of the last 60 days to apps without the `read_all_orders` scope,
/// so a longer initial import or daily timeframe would silently fetch less than asked.
const LOOKBACK_DAYS: (i64, i64) = (1, 60);
/// The daily run waits this long after a regular run; regular runs come at most every 60
/// minutes, so a gap above an hour could postpone the daily run indefinitely.
const TIME_DIFFERENCE_SECONDS: (i64, i64) = (0, 3600);
/// PULPO documents no length limit for `order_num`; 20 characters keep the prefix a short
/// store marker and the resulting `order_num` readable on pick lists and labels.
const PREFIX_MAX_CHARS: usize = 20;

fn financial_statuses() -> Vec<&'static str> {
    FinancialStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn fulfillment_statuses() -> Vec<&'static str> {
    FulfillmentStatus::ALL.iter().map(|s| s.as_str()).collect()
}

const DAILY: Option<&str> = Some("transfer_once_a_day");

/// The sales orders fields after the shared schedule, as the form shows them.
const FIELDS: &[Field] = &[
    Field {
        key: "initial_import_days",
        label: "Initial import (days)",
        name: "initial import",
        help: "The first run fetches orders updated in the last N days.",
        input: Input::Integer {
            min: LOOKBACK_DAYS.0,
            max: LOOKBACK_DAYS.1,
            unit: "days",
        },
        group: "Schedule",
        shown_by: None,
    },
    Field {
        key: "import_financial_statuses",
        label: "Import financial statuses",
        name: "import financial statuses",
        help: "An order must have one of these to be imported. Ctrl/⌘-click to pick several.",
        input: Input::MultiSelect(financial_statuses),
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "import_fulfillment_statuses",
        label: "Import fulfillment statuses",
        name: "import fulfillment statuses",
        help: "Fulfillment statuses allowed for import. Ctrl/⌘-click to pick several.",
        input: Input::MultiSelect(fulfillment_statuses),
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "cancel_financial_statuses",
        label: "Cancel financial statuses",
        name: "cancel financial statuses",
        help: "An imported order reaching one of these is cancelled in PULPO. Ctrl/⌘-click to pick several.",
        input: Input::MultiSelect(financial_statuses),
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "cancel_fulfillment_statuses",
        label: "Cancel fulfillment statuses",
        name: "cancel fulfillment statuses",
        help: "Likewise for fulfillment statuses. Ctrl/⌘-click to pick several.",
        input: Input::MultiSelect(fulfillment_statuses),
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "required_tags",
        label: "Required tags",
        name: "required tags",
        help: "Comma-separated; an order must carry all of them. Empty: no tag filter.",
        input: Input::TextList,
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "only_physical_products",
        label: "Only physical products",
        name: "only physical products",
        help: "Drop lines that need no shipping (gift cards, services).",
        input: Input::Toggle,
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "fallback_customer_id",
        label: "Fallback customer (PULPO id)",
        name: "fallback customer",
        help: "Used for orders without a Shopify customer; empty: such orders are skipped with a warning.",
        input: Input::OptionalInteger,
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "order_number_prefix",
        label: "Order number prefix",
        name: "order number prefix",
        help: "Prepended to the PULPO order number so two stores cannot collide.",
        input: Input::Text,
        group: "Which orders",
        shown_by: None,
    },
    Field {
        key: "transfer_once_a_day",
        label: "Transfer orders once a day",
        name: "transfer orders once a day",
        help: "Turns this configuration into a daily re-fetch of recent orders.",
        input: Input::Toggle,
        group: "Daily re-fetch",
        shown_by: None,
    },
    Field {
        key: "transmission_time",
        label: "Transmission time",
        name: "transmission time",
        help: "Local time of day the run starts (HH:MM).",
        input: Input::Time,
        group: "Daily re-fetch",
        shown_by: DAILY,
    },
    Field {
        key: "time_zone",
        label: "Time zone",
        name: "time zone",
        help: "IANA zone of the transmission time, e.g. Europe/Madrid.",
        input: Input::Text,
        group: "Daily re-fetch",
        shown_by: DAILY,
    },
    Field {
        key: "timeframe_days",
        label: "Timeframe to receive data (days)",
        name: "timeframe to receive data",
        help: "How many days back the run re-fetches.",
        input: Input::Integer {
            min: LOOKBACK_DAYS.0,
            max: LOOKBACK_DAYS.1,
            unit: "days",
        },
        group: "Daily re-fetch",
        shown_by: DAILY,
    },
    Field {
        key: "time_difference_seconds",
        label: "Time difference (seconds)",
        name: "time difference",
        help: "Minimum gap to any regular sales orders run on the same store.",
        input: Input::Integer {
            min: TIME_DIFFERENCE_SECONDS.0,
            max: TIME_DIFFERENCE_SECONDS.1,
            unit: "seconds",
        },
        group: "Daily re-fetch",
        shown_by: DAILY,
    },
];

/// The settings of one sales orders configuration. Keys and defaults are those of SPEC §3.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalesOrderSettings {
    /// Run on a schedule (default on).
    pub automatic_transfer: bool,
    /// Minutes between scheduled runs, 1–60 (default 10).
    pub frequency_minutes: i64,
    /// `displayFinancialStatus` values an order must have to be imported (default `PAID`).
    pub import_financial_statuses: Vec<FinancialStatus>,
    /// `displayFulfillmentStatus` values allowed for import (default `UNFULFILLED`,
    /// `PARTIALLY_FULFILLED`, `SCHEDULED`, `ON_HOLD`).
    pub import_fulfillment_statuses: Vec<FulfillmentStatus>,
    /// An imported order reaching one of these is cancelled in PULPO (default `REFUNDED`,
    /// `VOIDED`).
    pub cancel_financial_statuses: Vec<FinancialStatus>,
    /// Likewise for fulfillment statuses (default none).
    pub cancel_fulfillment_statuses: Vec<FulfillmentStatus>,
    /// Tags an order must all carry to be imported; empty means no tag filter.
    pub required_tags: Vec<String>,
    /// Drop lines that need no shipping (gift cards, services) (default on).
    pub only_physical_products: bool,
    /// PULPO customer (third party) for orders without a Shopify customer; without it such
    /// orders are skipped with a warning.
    pub fallback_customer_id: Option<i64>,
    /// Prepended to PULPO `order_num` so two stores cannot collide (default empty).
    pub order_number_prefix: String,
    /// The first run fetches orders updated in the last N days (default 7).
    pub initial_import_days: i64,
    /// Turns this configuration into the daily re-fetch (default off).
    pub transfer_once_a_day: bool,
    /// Daily mode: local time of day the run starts, `HH:MM` (default `02:00`).
    pub transmission_time: String,
    /// Daily mode: IANA zone of the transmission time (default `UTC`).
    pub time_zone: String,
    /// Daily mode: how many days back the run re-fetches (default 7).
    pub timeframe_days: i64,
    /// Daily mode: minimum gap between the daily run and a regular run on the same store
    /// (default 60).
    pub time_difference_seconds: i64,
}

impl Default for SalesOrderSettings {
    fn default() -> Self {
        Self {
            automatic_transfer: true,
            frequency_minutes: 10,
            import_financial_statuses: vec![FinancialStatus::Paid],
            import_fulfillment_statuses: vec![
                FulfillmentStatus::Unfulfilled,
                FulfillmentStatus::PartiallyFulfilled,
                FulfillmentStatus::Scheduled,
                FulfillmentStatus::OnHold,
            ],
            cancel_financial_statuses: vec![FinancialStatus::Refunded, FinancialStatus::Voided],
            cancel_fulfillment_statuses: Vec::new(),
            required_tags: Vec::new(),
            only_physical_products: true,
            fallback_customer_id: None,
            order_number_prefix: String::new(),
            initial_import_days: 7,
            transfer_once_a_day: false,
            transmission_time: "02:00".to_owned(),
            time_zone: "UTC".to_owned(),
            timeframe_days: 7,
            time_difference_seconds: 60,
        }
    }
}

impl TypeSettings for SalesOrderSettings {
    const FIELDS: &'static [Field] = FIELDS;

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        let mut check = |result: Result<(), FieldError>| {
            if let Err(error) = result {
                errors.push(error);
            }
        };
        check(not_empty(
            "import_financial_statuses",
            "financial status",
            &self.import_financial_statuses,
        ));
        check(not_empty(
            "import_fulfillment_statuses",
            "fulfillment status",
            &self.import_fulfillment_statuses,
        ));
        check(disjoint(
            "cancel_financial_statuses",
            "financial",
            &self.import_financial_statuses,
            &self.cancel_financial_statuses,
        ));
        check(disjoint(
            "cancel_fulfillment_statuses",
            "fulfillment",
            &self.import_fulfillment_statuses,
            &self.cancel_fulfillment_statuses,
        ));
        check(self.check_required_tags());
        check(self.check_fallback_customer());
        check(self.check_prefix());
        check(self.parse_transmission_time().map(drop));
        check(self.parse_time_zone().map(drop));
    }

    /// Every `frequency_minutes`, or in daily mode once a day at the transmission time.
    fn schedule(&self) -> Result<Option<Schedule>, FieldError> {
        if !self.automatic_transfer {
            return Ok(None);
        }
        if self.transfer_once_a_day {
            return Ok(Some(Schedule::Daily {
                time: self.parse_transmission_time()?,
                zone: self.parse_time_zone()?,
            }));
        }
        Ok(Some(Schedule::Every {
            minutes: self
                .frequency_minutes
                .clamp(settings::FREQUENCY_MINUTES.0, settings::FREQUENCY_MINUTES.1),
        }))
    }
}

impl SalesOrderSettings {
    /// Checks every setting and returns all the bad ones, in key order.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        settings::validate(self)
    }

    /// The transmission time as a time of day. Accepts exactly `HH:MM`, 00:00 to 23:59.
    pub fn parse_transmission_time(&self) -> Result<NaiveTime, FieldError> {
        let text = self.transmission_time.as_str();
        let bad = || {
            FieldError::new(
                "transmission_time",
                format!(
                    "transmission time must be a time of day as HH:MM, e.g. 02:00 (got \"{text}\")"
                ),
            )
        };
        let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
        let two_digits = |part: &str| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return Err(bad());
        }
        let hours = hours.parse().map_err(|_| bad())?;
        let minutes = minutes.parse().map_err(|_| bad())?;
        NaiveTime::from_hms_opt(hours, minutes, 0).ok_or_else(bad)
    }

    /// The time zone of the transmission time. Accepts IANA names as spelled in the tz
    /// database, e.g. `Europe/Berlin`, `UTC`.
    pub fn parse_time_zone(&self) -> Result<Tz, FieldError> {
        self.time_zone.parse().map_err(|_| {
            FieldError::new(
                "time_zone",
                format!(
                    "time zone must be an IANA time zone name such as Europe/Berlin or UTC (got \"{}\")",
                    self.time_zone
                ),
            )
        })
    }

    fn check_required_tags(&self) -> Result<(), FieldError> {
        let field = "required_tags";
        if self.required_tags.iter().any(|tag| tag.trim().is_empty()) {
            return Err(FieldError::new(
                field,
                "required tags must not be empty: remove the blank tag",
            ));
        }
        // Shopify separates tags with commas, so no single tag can contain one.
        if let Some(tag) = self.required_tags.iter().find(|tag| tag.contains(',')) {
            return Err(FieldError::new(
                field,
                format!("required tag \"{tag}\" contains a comma: enter each tag as its own entry"),
            ));
        }
        Ok(())
    }

    fn check_fallback_customer(&self) -> Result<(), FieldError> {
        match self.fallback_customer_id {
            Some(id) if id <= 0 => Err(FieldError::new(
                "fallback_customer_id",
                format!(
                    "fallback customer must be the id of an existing PULPO customer (got {id})"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The prefix becomes part of `order_num`, which is also a PULPO query value: `:` and `,`
    /// are PULPO filter operators and spaces or slashes break URLs, so only letters, digits,
    /// `-` and `_` are allowed.
    fn check_prefix(&self) -> Result<(), FieldError> {
        let field = "order_number_prefix";
        let prefix = &self.order_number_prefix;
        if prefix.chars().count() > PREFIX_MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("order number prefix must be at most {PREFIX_MAX_CHARS} characters long"),
            ));
        }
        if let Some(bad) = prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(FieldError::new(
                field,
                format!(
                    "order number prefix may only contain letters A-Z, digits, '-' and '_' (found '{bad}')"
                ),
            ));
        }
        Ok(())
    }
}

fn not_empty<T>(field: &'static str, label: &str, values: &[T]) -> Result<(), FieldError> {
    if values.is_empty() {
        Err(FieldError::new(
            field,
            format!("select at least one {label} to import: with none, no order is ever imported"),
        ))
    } else {
        Ok(())
    }
}

/// A status in both lists would import an order and cancel it on the next run.
fn disjoint<T: PartialEq + fmt::Display>(
    field: &'static str,
    label: &str,
    import: &[T],
    cancel: &[T],
) -> Result<(), FieldError> {
    match cancel.iter().find(|status| import.contains(status)) {
        Some(status) => Err(FieldError::new(
            field,
            format!(
                "{status} is both an import and a cancel {label} status: an order would be \
                 imported and then cancelled; remove it from one of the two lists"
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(value: serde_json::Value) -> SalesOrderSettings {
        serde_json::from_value(value).unwrap()
    }

    fn errors(settings: &SalesOrderSettings) -> Vec<FieldError> {
        settings.validate().unwrap_err()
    }

    fn only_error(settings: &SalesOrderSettings) -> FieldError {
        let mut errors = errors(settings);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    #[test]
    fn an_empty_table_gives_the_spec_defaults() {
        let parsed = settings(json!({}));
        assert_eq!(parsed, SalesOrderSettings::default());
        assert!(parsed.automatic_transfer);
        assert_eq!(parsed.frequency_minutes, 10);
        assert_eq!(parsed.import_financial_statuses, [FinancialStatus::Paid]);
        assert_eq!(
            parsed.import_fulfillment_statuses,
            [
                FulfillmentStatus::Unfulfilled,
                FulfillmentStatus::PartiallyFulfilled,
                FulfillmentStatus::Scheduled,
                FulfillmentStatus::OnHold,
            ]
        );
        assert_eq!(
            parsed.cancel_financial_statuses,
            [FinancialStatus::Refunded, FinancialStatus::Voided]
        );
        assert!(parsed.cancel_fulfillment_statuses.is_empty());
        assert!(parsed.required_tags.is_empty());
        assert!(parsed.only_physical_products);
        assert_eq!(parsed.fallback_customer_id, None);
        assert_eq!(parsed.order_number_prefix, "");
        assert_eq!(parsed.initial_import_days, 7);
        assert!(!parsed.transfer_once_a_day);
        assert_eq!(parsed.transmission_time, "02:00");
        assert_eq!(parsed.time_zone, "UTC");
        assert_eq!(parsed.timeframe_days, 7);
        assert_eq!(parsed.time_difference_seconds, 60);
        assert_eq!(parsed.validate(), Ok(()));
    }

    #[test]
    fn every_key_is_read() {
        let parsed = settings(json!({
            "automatic_transfer": false,
            "frequency_minutes": 5,
            "import_financial_statuses": ["PAID", "PENDING"],
            "import_fulfillment_statuses": ["UNFULFILLED"],
            "cancel_financial_statuses": ["VOIDED"],
            "cancel_fulfillment_statuses": ["FULFILLMENT_NOT_REQUIRED"],
            "required_tags": ["TrustedCustomer", "ShipmentAllowed"],
            "only_physical_products": false,
            "fallback_customer_id": 42,
            "order_number_prefix": "EU-",
            "initial_import_days": 30,
            "transfer_once_a_day": true,
            "transmission_time": "23:30",
            "time_zone": "Europe/Berlin",
            "timeframe_days": 14,
            "time_difference_seconds": 120,
        }));
        assert_eq!(parsed.validate(), Ok(()));
        assert!(!parsed.automatic_transfer);
        assert_eq!(parsed.frequency_minutes, 5);
        assert_eq!(
            parsed.import_financial_statuses,
            [FinancialStatus::Paid, FinancialStatus::Pending]
        );
        assert_eq!(
            parsed.cancel_fulfillment_statuses,
            [FulfillmentStatus::FulfillmentNotRequired]
        );
        assert_eq!(parsed.fallback_customer_id, Some(42));
        assert_eq!(parsed.order_number_prefix, "EU-");
        assert_eq!(parsed.initial_import_days, 30);
        assert!(parsed.transfer_once_a_day);
        assert_eq!(
            parsed.parse_transmission_time(),
            Ok(NaiveTime::from_hms_opt(23, 30, 0).unwrap())
        );
        assert_eq!(parsed.parse_time_zone(), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(parsed.timeframe_days, 14);
        assert_eq!(parsed.time_difference_seconds, 120);
    }

    #[test]
    fn a_misspelt_key_is_an_error_naming_it() {
        let error = serde_json::from_value::<SalesOrderSettings>(json!({"frequncy_minutes": 5}))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown field `frequncy_minutes`"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_status_is_an_error_naming_it() {
        let error = serde_json::from_value::<SalesOrderSettings>(
            json!({"import_financial_statuses": ["PAID", "PAYED"]}),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("unknown financial status `PAYED`"),
            "{error}"
        );
    }

    #[test]
    fn frequency_must_be_1_to_60_minutes() {
        for bad in [0, -1, 61] {
            let error = only_error(&SalesOrderSettings {
                frequency_minutes: bad,
                ..SalesOrderSettings::default()
            });
            assert_eq!(
                error,
                FieldError {
                    field: "frequency_minutes".into(),
                    message: "frequency must be between 1 and 60 minutes".into(),
                }
            );
        }
        for good in [1, 60] {
            let ok = SalesOrderSettings {
                frequency_minutes: good,
                ..SalesOrderSettings::default()
            };
            assert_eq!(ok.validate(), Ok(()));
        }
    }

    #[test]
    fn import_status_lists_must_not_be_empty() {
        let errors = errors(&settings(json!({
            "import_financial_statuses": [],
            "import_fulfillment_statuses": [],
        })));
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["import_financial_statuses", "import_fulfillment_statuses"]
        );
        assert!(errors[0].message.contains("no order is ever imported"));
    }

    #[test]
    fn a_status_cannot_both_import_and_cancel() {
        let error = only_error(&settings(json!({
            "import_financial_statuses": ["PAID", "REFUNDED"],
        })));
        assert_eq!(error.field, "cancel_financial_statuses");
        assert!(
            error
                .message
                .starts_with("REFUNDED is both an import and a cancel")
        );

        let error = only_error(&settings(json!({
            "cancel_fulfillment_statuses": ["ON_HOLD"],
        })));
        assert_eq!(error.field, "cancel_fulfillment_statuses");
        assert!(error.message.contains("ON_HOLD"));
    }

    #[test]
    fn required_tags_must_be_real_tags() {
        let error = only_error(&settings(json!({"required_tags": ["VIP", "  "]})));
        assert_eq!(error.field, "required_tags");
        let error = only_error(&settings(json!({"required_tags": ["VIP,Wholesale"]})));
        assert_eq!(error.field, "required_tags");
        assert!(error.message.contains("comma"));
    }

    #[test]
    fn fallback_customer_must_be_a_positive_id() {
        let error = only_error(&settings(json!({"fallback_customer_id": 0})));
        assert_eq!(error.field, "fallback_customer_id");
        assert_eq!(
            settings(json!({"fallback_customer_id": 7})).validate(),
            Ok(())
        );
    }

    #[test]
    fn prefix_keeps_order_num_valid() {
        for good in ["", "EU-", "shop_2", "A1"] {
            assert_eq!(
                settings(json!({"order_number_prefix": good})).validate(),
                Ok(()),
                "{good}"
            );
        }
        for bad in ["EU ", "a:b", "x,y", "a/b", "ü"] {
            let error = only_error(&settings(json!({"order_number_prefix": bad})));
            assert_eq!(error.field, "order_number_prefix", "{bad}");
            assert!(error.message.contains("may only contain"), "{bad}");
        }
        let error = only_error(&settings(json!({"order_number_prefix": "A".repeat(21)})));
        assert_eq!(error.field, "order_number_prefix");
        assert!(error.message.contains("at most 20 characters"));
    }

    #[test]
    fn look_back_windows_are_1_to_60_days() {
        let errors = errors(&settings(
            json!({"initial_import_days": 0, "timeframe_days": 61}),
        ));
        assert_eq!(
            errors,
            [
                FieldError {
                    field: "initial_import_days".into(),
                    message: "initial import must be between 1 and 60 days".into(),
                },
                FieldError {
                    field: "timeframe_days".into(),
                    message: "timeframe to receive data must be between 1 and 60 days".into(),
                },
            ]
        );
        assert_eq!(
            settings(json!({"initial_import_days": 60, "timeframe_days": 1})).validate(),
            Ok(())
        );
    }

    #[test]
    fn transmission_time_is_hh_mm() {
        for good in ["00:00", "02:00", "23:59"] {
            assert_eq!(
                settings(json!({"transmission_time": good})).validate(),
                Ok(()),
                "{good}"
            );
        }
        for bad in ["2:00", "24:00", "12:60", "12:00:00", "noon", "", "+1:00"] {
            let error = only_error(&settings(json!({"transmission_time": bad})));
            assert_eq!(error.field, "transmission_time", "{bad}");
            assert!(error.message.contains("HH:MM"), "{bad}");
        }
    }

    #[test]
    fn time_zone_is_an_iana_name() {
        for good in ["UTC", "Europe/Madrid", "America/New_York"] {
            assert_eq!(
                settings(json!({"time_zone": good})).validate(),
                Ok(()),
                "{good}"
            );
        }
        for bad in ["CEST", "Europe/Mardid", "", "+02:00"] {
            let error = only_error(&settings(json!({"time_zone": bad})));
            assert_eq!(error.field, "time_zone", "{bad}");
            assert!(error.message.contains("IANA"), "{bad}");
        }
    }

    #[test]
    fn time_difference_is_0_to_3600_seconds() {
        let error = only_error(&settings(json!({"time_difference_seconds": -1})));
        assert_eq!(
            error.message,
            "time difference must be between 0 and 3600 seconds"
        );
        assert_eq!(
            settings(json!({"time_difference_seconds": 0})).validate(),
            Ok(())
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = errors(&settings(json!({
            "frequency_minutes": 0,
            "order_number_prefix": "E U",
            "transmission_time": "25:00",
            "time_zone": "Mars/Olympus",
            "time_difference_seconds": 99999,
        })));
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "frequency_minutes",
                "order_number_prefix",
                "transmission_time",
                "time_zone",
                "time_difference_seconds",
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "frequency_minutes: frequency must be between 1 and 60 minutes"
        );
    }
}
