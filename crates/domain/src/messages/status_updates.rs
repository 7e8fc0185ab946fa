//! Entries of the `status_updates` integration, each about one Shopify order.

use crate::run::{LogEntry, RecordRef};

fn order_record(order_name: &str) -> Option<RecordRef> {
    Some(RecordRef::Order(order_name.to_owned()))
}

/// INFO: an imported order got its tag.
pub fn order_tagged(order_name: &str, tag: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!("Order {order_name} is in PULPO: tagged {tag} in Shopify"),
    )
}

/// INFO: the order's note now lists the lots and serial numbers shipped.
pub fn order_note_updated(order_name: &str, lines: usize) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "Order {order_name}: the lots and serial numbers shipped are in its Shopify note \
             ({lines} line{}); the merchant's own note is kept",
            if lines == 1 { "" } else { "s" }
        ),
    )
}

/// ERROR: Shopify refused the tag or the note; retried next run.
pub fn order_status_refused(order_name: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "Shopify refused the update of order {order_name} ({detail}): it is retried on the next run"
        ),
    )
}
