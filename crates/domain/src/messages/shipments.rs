//! Entries of the `generate_shipments` integration. Entries about one box carry its Shopify
//! order as their record, so the run page can filter by order.

use crate::run::{LogEntry, RecordRef};
use crate::shipments::{FulfillmentOrderStatus, ShipmentConflict, Tracking};

fn order_record(order_name: &str) -> Option<RecordRef> {
    Some(RecordRef::Order(order_name.to_owned()))
}

fn tracking_words(tracking: &Tracking) -> String {
    format!("{} tracking {}", tracking.company, tracking.number)
}

/// INFO: a box became a Shopify fulfillment.
pub fn box_fulfilled(
    order_name: &str,
    box_number: &str,
    tracking: &Tracking,
    order_done: bool,
) -> LogEntry {
    let state = if order_done {
        "the order is fulfilled"
    } else {
        "the order is partially fulfilled"
    };
    LogEntry::info(
        order_record(order_name),
        format!(
            "Box {box_number} of order {order_name} is a Shopify fulfillment with {}; {state}",
            tracking_words(tracking)
        ),
    )
}

/// INFO: the box's fulfillment already existed (an earlier attempt created it but its answer
/// was lost), so it was linked rather than created twice.
pub fn box_fulfillment_found(order_name: &str, box_number: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "Box {box_number} of order {order_name} already had its Shopify fulfillment (an \
             earlier attempt created it): linked, not created twice"
        ),
    )
}

/// INFO: a box's tracking changed in PULPO and its fulfillment follows.
pub fn box_tracking_updated(order_name: &str, box_number: &str, tracking: &Tracking) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "Tracking of box {box_number} of order {order_name} changed in PULPO: the Shopify \
             fulfillment now has {}",
            tracking_words(tracking)
        ),
    )
}

/// WARNING: a box cannot become a fulfillment; says what to do.
pub fn box_conflict(order_name: &str, box_number: &str, conflict: &ShipmentConflict) -> LogEntry {
    let what = match conflict {
        ShipmentConflict::NotFulfillable { status } => {
            let status = match status {
                FulfillmentOrderStatus::Cancelled => "cancelled",
                FulfillmentOrderStatus::Closed => "closed",
                _ => "not fulfillable",
            };
            format!(
                "its Shopify fulfillment order is {status}: if the parcel really left, fulfil \
                 the order by hand in Shopify with the box's tracking, then mark the box resolved"
            )
        }
        ShipmentConflict::OnHold => "its Shopify fulfillment order is on hold: release the hold \
                                     in Shopify and the box is sent on the next run"
            .to_string(),
        ShipmentConflict::Moved { from, to } => format!(
            "its Shopify fulfillment order was moved from {from} to {to}: the parcel left {from}; \
             move it back in Shopify, or fulfil it by hand there, then mark the box resolved"
        ),
        ShipmentConflict::FulfilledByHand => "Shopify has nothing left to fulfil (it was \
                                              fulfilled by hand or by another app): check that \
                                              the customer has the box's tracking, then mark the \
                                              box resolved"
            .to_string(),
        ShipmentConflict::MoreThanRemaining {
            line_item_id,
            in_box,
            remaining,
        } => format!(
            "it holds {in_box} units of line {line_item_id} but Shopify has only {remaining} \
             left to fulfil (changed or refunded in Shopify after the import): check the order \
             in Shopify and PULPO, fulfil by hand what shipped, then mark the box resolved"
        ),
        ShipmentConflict::LineNotOnFulfillmentOrder { line_item_id } => format!(
            "it holds line {line_item_id}, which its Shopify fulfillment order does not have: \
             check the order's lines in Shopify, fulfil by hand what shipped, then mark the box \
             resolved"
        ),
    };
    LogEntry::warning(
        order_record(order_name),
        format!("Box {box_number} of order {order_name} was not sent to Shopify: {what}"),
    )
}

/// ERROR: Shopify refused the fulfillment or the tracking update; retried next run.
pub fn box_refused(order_name: &str, box_number: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "Shopify refused the fulfillment of box {box_number} of order {order_name} \
             ({detail}): it is retried on the next run"
        ),
    )
}

/// INFO: Shopify's answer to a box's create was lost; tentacle looks at the order before it
/// sends again, so the box is never fulfilled twice.
pub fn box_answer_lost(order_name: &str, box_number: &str, detail: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "Shopify's answer to the fulfillment of box {box_number} of order {order_name} was \
             lost ({detail}): looking at the order's fulfillments before sending it again"
        ),
    )
}

/// ERROR: Shopify's answers to a box's create were lost every time; the next run looks again.
pub fn box_answers_lost(order_name: &str, box_number: &str, times: u32, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "Shopify's answers to the fulfillment of box {box_number} of order {order_name} \
             were lost {times} times (last: {detail}): the next run looks at the order's \
             fulfillments first and sends the box only if Shopify does not have it"
        ),
    )
}
