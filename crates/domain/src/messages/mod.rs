//! Every log entry a run writes: what happened and, when it needs a person, what to do. The
//! entries every type shares (credentials, reachability, settings, workers, the run's end) are
//! here; each type's own are in its module (`sales_orders`, `stock`, …), re-exported here.
//!
//! No message contains a secret. Parameters are names, numbers and ids; a `detail` is the error
//! message an API returned, which callers pass without request data or credentials.

use std::fmt;

use crate::run::{LogEntry, LogLevel, RunCounters, RunStatus};
use crate::sales_order::DuplicateWarehouseName;
use crate::settings::FieldError;

mod alerts;
mod api_versions;
mod backup;
mod products;
mod returns;
mod sales_orders;
mod shipments;
mod status_updates;
mod stock;
mod transport;

pub use alerts::*;
pub use api_versions::*;
pub use backup::*;
pub use products::*;
pub use returns::*;
pub use sales_orders::*;
pub use shipments::*;
pub use status_updates::*;
pub use stock::*;
pub use transport::*;

/// The system a run-level problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Shopify,
    Pulpo,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Shopify => "Shopify",
            Self::Pulpo => "PULPO",
        })
    }
}

/// ERROR (run): the system refused the credentials; the run stops.
pub fn credentials_rejected(system: System, credentials_name: &str) -> LogEntry {
    let what = match system {
        System::Shopify => "the access token (or client id and secret)",
        System::Pulpo => "the API username and password",
    };
    LogEntry::error(
        None,
        format!(
            "{system} rejected the credentials \"{credentials_name}\": check {what} in \
             Credentials and use \"Check connection\"; the run stopped and nothing was lost"
        ),
    )
}

/// ERROR (run): the system could not be reached or kept failing after every retry; the run
/// stops and the next one continues from the last committed point.
pub fn unreachable(system: System, attempts: u32, detail: &str) -> LogEntry {
    LogEntry::error(
        None,
        format!(
            "{system} did not answer after {attempts} attempts ({detail}): the run stopped and \
             the next run continues where it stopped; if this persists, check the {system} URL \
             in Credentials and {system}'s status"
        ),
    )
}

/// ERROR (run): the configuration's settings are invalid; the run does not start.
pub fn invalid_settings(errors: &[FieldError]) -> LogEntry {
    let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
    LogEntry::error(
        None,
        format!(
            "The integration settings are invalid ({}): fix them in Integration configuration",
            list.join("; ")
        ),
    )
}

/// ERROR (run): two PULPO warehouses share a name; the run stops.
pub fn duplicate_warehouse(error: &DuplicateWarehouseName) -> LogEntry {
    LogEntry::error(None, error.to_string())
}

/// WARNING (run): the worker running this run stopped answering (its lease expired); another
/// worker takes the run over from where its committed work ends.
pub fn worker_lost_resumed() -> LogEntry {
    LogEntry::warning(
        None,
        "Worker lost; resumed: the process running this run stopped renewing its hold on it \
         (it crashed, was killed, or could not reach the database), so the run starts again \
         from its last committed order (nothing is imported twice)",
    )
}

/// ERROR (run): the run's worker was lost once more and the run reached the retry limit; it
/// ends FAILED instead of going round again (a run that kills every worker it lands on).
pub fn worker_lost_gave_up(losses: i64) -> LogEntry {
    LogEntry::error(
        None,
        format!(
            "Worker lost {losses} times; the run is failed instead of resumed again: every process \
             that took it over stopped answering (crashed, killed or cut off from the database). \
             Orders it committed are kept; check the workers' logs and memory limits, then run \
             it again"
        ),
    )
}

/// WARNING (run): the database could not be reached during the run (a restart, a dropped
/// connection); the run stopped and resumes from its last committed order.
pub fn database_unreachable_resumed() -> LogEntry {
    LogEntry::warning(
        None,
        "Database unreachable during the run (restarted or connection lost); the run stopped and \
         resumes from its last committed order (nothing is imported twice)",
    )
}

/// INFO (run): tentacle shut down before the run ended; the next start resumes it.
pub fn run_interrupted_by_shutdown() -> LogEntry {
    LogEntry::info(
        None,
        "tentacle shut down before the run ended; it resumes from its last committed order \
         when tentacle starts again",
    )
}

/// The last entry of a run: its status and counters. INFO when finished, WARNING when finished
/// partially, ERROR when failed.
pub fn run_finished(status: RunStatus, counters: &RunCounters) -> LogEntry {
    let RunCounters {
        fetched,
        created,
        updated,
        cancelled,
        skipped,
        failed,
        conflicts,
    } = counters;
    let (level, advice) = match status {
        RunStatus::Finished | RunStatus::Queued | RunStatus::Running => (LogLevel::Info, ""),
        RunStatus::FinishedPartially => (
            LogLevel::Warning,
            ". Failed orders are retried on the next run; the ERROR entries say what to fix",
        ),
        RunStatus::Failed => (
            LogLevel::Error,
            ". The ERROR entries say why; the next run retries everything not done",
        ),
    };
    LogEntry::new(
        level,
        None,
        format!(
            "Run {status}: {fetched} fetched, {created} created, {updated} updated, \
             {cancelled} cancelled, {skipped} skipped, {failed} failed, {conflicts} \
             {}{advice}",
            if *conflicts == 1 {
                "conflict"
            } else {
                "conflicts"
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RecordRef;
    use crate::sales_order::*;
    use crate::sales_order::{ShipTo, ShipToAddress};

    fn draft(customer: CustomerRef) -> SalesOrderDraft {
        SalesOrderDraft {
            fulfillment_order_id: "gid://shopify/FulfillmentOrder/1".into(),
            order_num: "1001".into(),
            external_order_num: "5001".into(),
            channel: crate::sales_order::CHANNEL,
            warehouse_id: 1,
            warehouse_name: "Berlin".into(),
            customer,
            ship_to: ShipTo {
                name: None,
                company_name: None,
                phone_number: None,
                address: ShipToAddress {
                    street: "Hauptstr. 1".into(),
                    street2: None,
                    zip: None,
                    city: None,
                    state: None,
                    country: None,
                    country_alpha2: None,
                    email: None,
                },
            },
            lines: vec![],
        }
    }

    #[test]
    fn unknown_sku_fails_the_order_with_the_spec_message() {
        let entry = order_failed(
            "#1001",
            &OrderError::UnknownSkus {
                skus: vec!["ABC-1".into()],
            },
        );
        assert_eq!(entry.level, LogLevel::Error);
        assert_eq!(entry.record, Some(RecordRef::Order("#1001".into())));
        assert!(
            entry.message.starts_with(
                "SKU ABC-1 not found in PULPO: create the product in PULPO (a products \
                 integration makes one for every Shopify variant) or fix the SKU in Shopify"
            ),
            "{}",
            entry.message
        );
        let several = order_failed(
            "#1001",
            &OrderError::UnknownSkus {
                skus: vec!["A".into(), "B".into()],
            },
        );
        assert!(several.message.starts_with("SKUs A, B not found in PULPO"));
    }

    #[test]
    fn no_customer_is_a_warning_telling_what_to_set() {
        let entry = order_skipped("#1001", &SkipReason::NoCustomer);
        assert_eq!(entry.level, LogLevel::Warning);
        assert_eq!(
            entry.message,
            "Order #1001 has no customer and no fallback customer is configured: set a fallback \
             customer in the integration settings"
        );
    }

    #[test]
    fn filter_skips_are_info() {
        for reason in [
            SkipReason::Cancelled,
            SkipReason::FinancialStatusNotImported(None),
            SkipReason::MissingTags(vec!["VIP".into()]),
            SkipReason::NoPhysicalLines,
            SkipReason::NothingToShip,
            SkipReason::NoPulpoWarehouse {
                locations: vec!["Madrid".into()],
            },
        ] {
            assert_eq!(
                order_skipped("#1", &reason).level,
                LogLevel::Info,
                "{reason:?}"
            );
        }
        let tags = order_skipped("#1", &SkipReason::MissingTags(vec!["A".into(), "B".into()]));
        assert!(
            tags.message.contains("required tags A, B"),
            "{}",
            tags.message
        );
    }

    #[test]
    fn refused_cancel_of_a_shipped_order_says_what_to_do() {
        let cancellation = Cancellation {
            pulpo_order_id: 7,
            order_num: "1001".into(),
            state: PulpoOrderState::Picking,
            reason: CancelReason::CancelledInShopify,
        };
        let conflict = cancellation.refused(PulpoOrderState::Ended, "cannot cancel ended order");
        let entry = order_conflict("#1001", &conflict);
        assert_eq!(entry.level, LogLevel::Warning);
        assert!(
            entry.message.starts_with(
                "PULPO refused to cancel order 1001 (state ended): the order has already \
                 shipped; contact the customer or create a return"
            ),
            "{}",
            entry.message
        );
        assert!(
            entry
                .message
                .contains("order #1001 was cancelled in Shopify")
        );
        assert!(
            entry
                .message
                .contains("PULPO said: cannot cancel ended order")
        );

        let picking = order_conflict("#1001", &cancellation.refused(PulpoOrderState::Picking, ""));
        assert!(picking.message.contains("free a packing location"));
        assert!(!picking.message.contains("PULPO said"));
    }

    #[test]
    fn import_mentions_the_fallback_customer() {
        let entry = order_imported("#1001", &draft(CustomerRef::Fallback(42)));
        assert_eq!(entry.level, LogLevel::Info);
        assert!(
            entry
                .message
                .starts_with("Order #1001 imported into PULPO as 1001 (warehouse Berlin, 0 lines)")
        );
        assert!(entry.message.contains("fallback customer 42"));
    }

    #[test]
    fn update_messages_name_the_pulpo_order() {
        let update = Update {
            pulpo_order_id: 7,
            draft: draft(CustomerRef::Fallback(1)),
            reason: UpdateReason::Moved {
                from_warehouse_id: 1,
                to_warehouse: "Paris".into(),
            },
        };
        assert_eq!(
            order_updated("#1001", &update).message,
            "PULPO order 1001 moved to warehouse Paris: its fulfillment order of #1001 moved \
             there in Shopify"
        );
        let refused = order_conflict("#1001", &update.refused(PulpoOrderState::Picking, "locked"));
        assert!(
            refused
                .message
                .starts_with("PULPO refused to update order 1001 (state picking)")
        );
    }

    #[test]
    fn run_messages_never_need_secrets() {
        let entry = credentials_rejected(System::Pulpo, "PULPO production");
        assert_eq!(entry.level, LogLevel::Error);
        assert_eq!(entry.record, None);
        assert!(entry.message.contains("\"PULPO production\""));
        assert!(entry.message.contains("username and password"));

        let summary = run_finished(
            RunStatus::FinishedPartially,
            &RunCounters {
                fetched: 12,
                created: 3,
                updated: 1,
                skipped: 7,
                failed: 1,
                ..RunCounters::default()
            },
        );
        assert_eq!(summary.level, LogLevel::Warning);
        assert!(summary.message.starts_with(
            "Run FINISHED PARTIALLY: 12 fetched, 3 created, 1 updated, 0 cancelled, 7 skipped, \
             1 failed, 0 conflicts."
        ));

        let invalid = invalid_settings(&[FieldError {
            field: "frequency_minutes".into(),
            message: "frequency must be between 1 and 60 minutes".into(),
        }]);
        assert!(
            invalid
                .message
                .contains("frequency_minutes: frequency must be between 1 and 60 minutes")
        );
    }
}
