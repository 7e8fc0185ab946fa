//! Entries of the sales orders integration: what happened to each order and, when it needs a
//! person, what to do. Entries about one order carry it as their record, so the run page can
//! filter by order.

use crate::run::{LogEntry, RecordRef};
use crate::sales_order::{
    CancelReason, Cancellation, Conflict, ConflictReason, CustomerRef, OrderError, PulpoOrderState,
    SalesOrderDraft, SkipReason, Update, UpdateReason,
};

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
