//! Every log entry a sales orders run writes: what happened and, when it needs a person, what
//! to do. Entries about one order carry it as their record, so the run page can filter by order.
//!
//! No message contains a secret. Parameters are names, numbers and ids; a `detail` is the error
//! message an API returned, which callers pass without request data or credentials.

use std::fmt;

use crate::run::{LogEntry, LogLevel, RecordRef, RunCounters, RunStatus};
use crate::sales_order::{
    CancelReason, Cancellation, Conflict, ConflictReason, CustomerRef, DuplicateWarehouseName,
    OrderError, PulpoOrderState, SalesOrderDraft, SkipReason, Update, UpdateReason,
};
use crate::settings::FieldError;

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

fn order_record(order_name: &str) -> Option<RecordRef> {
    Some(RecordRef::Order(order_name.to_owned()))
}

/// INFO: a PULPO sales order was created for one fulfillment order of `order_name`.
pub fn order_imported(order_name: &str, draft: &SalesOrderDraft) -> LogEntry {
    let mut message = format!(
        "Order {order_name} imported into PULPO as {} (warehouse {}, {} {})",
        draft.order_num,
        draft.warehouse_name,
        draft.lines.len(),
        if draft.lines.len() == 1 {
            "line"
        } else {
            "lines"
        },
    );
    if let CustomerRef::Fallback(id) = draft.customer {
        message.push_str(&format!(
            "; it has no Shopify customer, so it is for the fallback customer {id}"
        ));
    }
    LogEntry::info(order_record(order_name), message)
}

/// INFO: the PULPO order for `order_num` already existed (an earlier attempt created it but
/// could not record it), so it was linked instead of created twice.
pub fn order_found_in_pulpo(order_name: &str, order_num: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "Order {order_name} was already in PULPO as {order_num} from an interrupted earlier \
             attempt: linked to it, not created again"
        ),
    )
}

/// INFO or WARNING ([`SkipReason::level`]): the order is not imported, and why.
pub fn order_skipped(order_name: &str, reason: &SkipReason) -> LogEntry {
    let message = match reason {
        SkipReason::Cancelled => {
            format!("Order {order_name} not imported: it is cancelled in Shopify")
        }
        SkipReason::FinancialStatusNotImported(Some(status)) => format!(
            "Order {order_name} not imported: its financial status {status} is not selected for \
             import; add it to the import financial statuses to import such orders"
        ),
        SkipReason::FinancialStatusNotImported(None) => {
            format!("Order {order_name} not imported: it has no financial status in Shopify")
        }
        SkipReason::FulfillmentStatusNotImported(status) => format!(
            "Order {order_name} not imported: its fulfillment status {status} is not selected \
             for import; add it to the import fulfillment statuses to import such orders"
        ),
        SkipReason::MissingTags(tags) => format!(
            "Order {order_name} not imported: it lacks the required {} {}; tag the order in \
             Shopify to import it",
            if tags.len() == 1 { "tag" } else { "tags" },
            tags.join(", "),
        ),
        SkipReason::NoPulpoWarehouse { locations } if locations.is_empty() => {
            format!("Order {order_name} not imported: it has no open fulfillment order")
        }
        SkipReason::NoPulpoWarehouse { locations } => format!(
            "Order {order_name} not imported: it is fulfilled from {}, {} a PULPO warehouse (a \
             location is connected when a PULPO warehouse has exactly its name)",
            locations.join(", "),
            if locations.len() == 1 {
                "which is not"
            } else {
                "none of which is"
            },
        ),
        SkipReason::NoPhysicalLines => format!(
            "Order {order_name} not imported: none of its lines needs shipping (gift cards, \
             services)"
        ),
        SkipReason::NothingToShip => format!(
            "Order {order_name} not imported: nothing is left to ship from a PULPO warehouse"
        ),
        SkipReason::NoCustomer => format!(
            "Order {order_name} has no customer and no fallback customer is configured: set a \
             fallback customer in the integration settings"
        ),
    };
    LogEntry::new(reason.level(), order_record(order_name), message)
}

/// ERROR: the order failed this run; it is retried by the next ones.
pub fn order_failed(order_name: &str, error: &OrderError) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!("{error}. The order is retried on the next run."),
    )
}

/// ERROR: PULPO refused to create or update `order_num` (a 4xx with PULPO's `detail`).
pub fn pulpo_rejected_order(order_name: &str, order_num: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "PULPO rejected sales order {order_num}: {detail}. Correct the order in Shopify or \
             the data it refers to in PULPO; it is retried on the next run."
        ),
    )
}

/// ERROR: PULPO refused to create the customer of `order_name`.
pub fn pulpo_rejected_customer(order_name: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "PULPO rejected the customer of order {order_name}: {detail}. Correct the customer \
             in Shopify or create it in PULPO; the order is retried on the next run."
        ),
    )
}

/// INFO: a PULPO order was updated.
pub fn order_updated(order_name: &str, update: &Update) -> LogEntry {
    let order_num = &update.draft.order_num;
    let message = match &update.reason {
        UpdateReason::Changed => format!(
            "PULPO order {order_num} updated: order {order_name} changed in Shopify (lines or \
             shipping address)"
        ),
        UpdateReason::Moved { to_warehouse, .. } => format!(
            "PULPO order {order_num} moved to warehouse {to_warehouse}: its fulfillment order \
             of {order_name} moved there in Shopify"
        ),
    };
    LogEntry::info(order_record(order_name), message)
}

/// INFO: a PULPO order was cancelled.
pub fn order_cancelled(order_name: &str, cancellation: &Cancellation) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "PULPO order {} cancelled: {}",
            cancellation.order_num,
            cancel_cause(order_name, &cancellation.reason)
        ),
    )
}

/// WARNING: a PULPO order could not follow Shopify; says what the operator should do.
pub fn order_conflict(order_name: &str, conflict: &Conflict) -> LogEntry {
    let order_num = &conflict.order_num;
    let state = conflict.state;
    let message = match &conflict.reason {
        ConflictReason::ChangedAfterWorkStarted => format!(
            "Order {order_name} changed in Shopify (lines or shipping address), but PULPO order \
             {order_num} is already in state {state} and cannot be updated: apply the change to \
             the PULPO order by hand, or tell the customer the order ships unchanged"
        ),
        ConflictReason::MovedAfterWorkStarted { to_warehouse } => format!(
            "Order {order_name} was moved in Shopify to {to_warehouse}, but PULPO order \
             {order_num} is already in state {state} in its original warehouse and cannot be \
             moved: move it back in Shopify, or cancel it in PULPO and ship it from \
             {to_warehouse} by hand"
        ),
        ConflictReason::NothingLeftAfterWorkStarted => format!(
            "Order {order_name} has nothing left to ship from this fulfillment order in Shopify \
             (fulfilled elsewhere, removed or refunded), but PULPO order {order_num} is already \
             in state {state}: stop it in PULPO so it is not shipped twice"
        ),
        ConflictReason::FulfillmentOrderMissing {
            fulfillment_order_id,
        } => format!(
            "Shopify no longer lists fulfillment order {fulfillment_order_id} of order \
             {order_name}, from which PULPO order {order_num} was created: check the order in \
             Shopify and correct or cancel PULPO order {order_num} by hand"
        ),
        ConflictReason::CancelAfterShipped { cause } => format!(
            "PULPO order {order_num} has already shipped (state {state}) and cannot be \
             cancelled: contact the customer or create a return. Reason for cancelling: {}",
            cancel_cause(order_name, cause)
        ),
        ConflictReason::CancelRefused { cause, detail } => format!(
            "PULPO refused to cancel order {order_num} (state {state}): {}. Reason for \
             cancelling: {}{}",
            refused_cancel_advice(state),
            cancel_cause(order_name, cause),
            pulpo_detail(detail),
        ),
        ConflictReason::UpdateRefused { detail } => format!(
            "PULPO refused to update order {order_num} (state {state}): apply the change from \
             Shopify order {order_name} to the PULPO order by hand{}",
            pulpo_detail(detail),
        ),
    };
    LogEntry::warning(order_record(order_name), message)
}

fn refused_cancel_advice(state: PulpoOrderState) -> &'static str {
    match state {
        PulpoOrderState::Ended | PulpoOrderState::Shipping => {
            "the order has already shipped; contact the customer or create a return"
        }
        PulpoOrderState::Picking => {
            "picking has started and no packing location is free; free a packing location in \
             PULPO and the next run cancels it, or cancel it in PULPO by hand"
        }
        _ => "cancel the order in PULPO by hand",
    }
}

fn pulpo_detail(detail: &str) -> String {
    if detail.trim().is_empty() {
        String::new()
    } else {
        format!(" (PULPO said: {})", detail.trim())
    }
}

fn cancel_cause(order_name: &str, reason: &CancelReason) -> String {
    match reason {
        CancelReason::CancelledInShopify => {
            format!("order {order_name} was cancelled in Shopify")
        }
        CancelReason::FinancialStatus(status) => format!(
            "order {order_name} reached financial status {status}, a cancel financial status"
        ),
        CancelReason::FulfillmentStatus(status) => format!(
            "order {order_name} reached fulfillment status {status}, a cancel fulfillment status"
        ),
        CancelReason::MovedToUnknownLocation { location } => format!(
            "its fulfillment order of {order_name} moved to {location}, which is not a PULPO \
             warehouse"
        ),
        CancelReason::NothingLeftToShip => format!(
            "nothing is left to ship from its fulfillment order of {order_name} in Shopify \
             (fulfilled elsewhere, removed or refunded)"
        ),
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

/// WARNING (run): no Shopify location of the store is named like a PULPO warehouse, so no
/// order can be imported.
pub fn no_connected_location(locations: &[String], warehouses: &[String]) -> LogEntry {
    LogEntry::warning(
        None,
        format!(
            "No Shopify location ({}) has the name of a PULPO warehouse ({}): rename the \
             location in Shopify or the warehouse in PULPO so the names are equal; no order is \
             imported until then",
            locations.join(", "),
            warehouses.join(", "),
        ),
    )
}

/// INFO (run): the daily re-fetch waits for a regular run of the same store.
pub fn daily_run_postponed(regular_configuration: &str, time_difference_seconds: i64) -> LogEntry {
    LogEntry::info(
        None,
        format!(
            "Daily run postponed: the sales orders configuration \"{regular_configuration}\" is \
             running or about to run on the same store; the daily run starts \
             {time_difference_seconds} seconds after it ends"
        ),
    )
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
                "SKU ABC-1 not found in PULPO: create the product in PULPO or fix the SKU in \
                 Shopify"
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
            field: "frequency_minutes",
            message: "frequency must be between 1 and 60 minutes".into(),
        }]);
        assert!(
            invalid
                .message
                .contains("frequency_minutes: frequency must be between 1 and 60 minutes")
        );
    }
}
