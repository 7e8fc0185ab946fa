//! Entries of the `returns` integration. Entries about one PULPO return carry its Shopify order
//! as their record, so the run page can filter by order. A PULPO return is named by its
//! sequence number (e.g. `RT000001`), as the warehouse knows it.

use rust_decimal::Decimal;

use crate::returns::{NewReturn, RefundPlan, ReturnConflict};
use crate::run::{LogEntry, RecordRef};

fn order_record(order_name: &str) -> Option<RecordRef> {
    Some(RecordRef::Order(order_name.to_owned()))
}

fn units(n: i64) -> String {
    if n == 1 {
        "1 unit".into()
    } else {
        format!("{n} units")
    }
}

/// INFO: a PULPO return became a Shopify return.
pub fn return_created(
    order_name: &str,
    pulpo_return: &str,
    shopify_return: &str,
    new: &NewReturn,
) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "PULPO return {pulpo_return} of order {order_name} is Shopify return {shopify_return} \
             ({}): it is open (return in progress) and nothing was restocked in Shopify, as the \
             stock integration brings the units back; close it in Shopify without restocking",
            units(new.units())
        ),
    )
}

/// INFO: the PULPO return's Shopify return already existed (an earlier attempt created it but
/// its answer was lost), so it was linked rather than created twice.
pub fn return_found(order_name: &str, pulpo_return: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "PULPO return {pulpo_return} of order {order_name} already had its Shopify return (an \
             earlier attempt created it): linked, not created twice"
        ),
    )
}

/// INFO: the PULPO return is of a sales order tentacle did not import from this store.
pub fn return_not_imported(pulpo_return: &str, sales_order_id: Option<i64>) -> LogEntry {
    let of = sales_order_id.map_or_else(
        || "has no sales order".to_string(),
        |id| format!("is of PULPO sales order {id}, which tentacle did not import from this store"),
    );
    LogEntry::info(
        None,
        format!("PULPO return {pulpo_return} {of}: left alone"),
    )
}

/// WARNING: a PULPO return cannot become a Shopify return; says what to do.
pub fn return_conflict(
    order_name: &str,
    pulpo_return: &str,
    conflict: &ReturnConflict,
) -> LogEntry {
    let what = match conflict {
        ReturnConflict::NoLines => "it has no items: check the return in PULPO".to_string(),
        ReturnConflict::LineNotOnOrder { line_item_id } if line_item_id.is_empty() => {
            "an item names no order line: check the return in PULPO, register it by hand in \
             Shopify, then mark it resolved"
                .to_string()
        }
        ReturnConflict::LineNotOnOrder { line_item_id } => format!(
            "it returns line {line_item_id}, which the Shopify order does not have (changed in \
             Shopify after the import): check the order, register the return by hand in \
             Shopify, then mark it resolved"
        ),
        ReturnConflict::MoreThanFulfilled {
            line_item_id,
            returned,
            returnable,
        } => format!(
            "{} of line {line_item_id} came back but Shopify has only {} fulfilled and not \
             returned yet: check the return in PULPO and the order's returns in Shopify, \
             register by hand what is right, then mark it resolved",
            units(*returned),
            units(*returnable),
        ),
        ReturnConflict::FullyRefunded => "the order was refunded in full in Shopify: check \
                                          with the customer whether a return is still wanted, \
                                          then mark it resolved"
            .to_string(),
    };
    LogEntry::warning(
        order_record(order_name),
        format!(
            "PULPO return {pulpo_return} of order {order_name} was not registered in Shopify: \
             {what}"
        ),
    )
}

/// ERROR: Shopify refused the return (or has no such order any more); retried next run.
pub fn return_refused(order_name: &str, pulpo_return: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "Shopify refused the return {pulpo_return} of order {order_name} ({detail}): it is \
             retried on the next run"
        ),
    )
}

/// INFO: Shopify's answer to a return's create was lost; tentacle looks at the order's returns
/// before it sends again, so the return is never registered twice.
pub fn return_answer_lost(order_name: &str, pulpo_return: &str, detail: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "Shopify's answer to the return {pulpo_return} of order {order_name} was lost \
             ({detail}): looking at the order's returns before sending it again"
        ),
    )
}

/// ERROR: Shopify's answers to a return's create were lost every time; the next run looks
/// again.
pub fn return_answers_lost(
    order_name: &str,
    pulpo_return: &str,
    times: u32,
    detail: &str,
) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "Shopify's answers to the return {pulpo_return} of order {order_name} were lost \
             {times} times (last: {detail}): the next run looks at the order's returns first \
             and sends it only if Shopify does not have it"
        ),
    )
}

/// INFO: the PULPO return's goods were refunded in Shopify.
pub fn return_refunded(
    order_name: &str,
    pulpo_return: &str,
    refund: &RefundPlan,
    currency: &str,
) -> LogEntry {
    let taken: i64 = refund.lines.iter().map(|(_, q)| q).sum();
    let shipping = if refund.shipping > Decimal::ZERO {
        format!(", shipping {} {currency} included", refund.shipping)
    } else {
        String::new()
    };
    LogEntry::info(
        order_record(order_name),
        format!(
            "PULPO return {pulpo_return} of order {order_name} was refunded in Shopify: {} \
             {currency} for {}{shipping}, nothing restocked",
            refund.amount,
            units(taken)
        ),
    )
}

/// INFO: the PULPO return's refund already existed (an earlier attempt made it but its answer
/// was lost), so it was linked rather than made twice.
pub fn refund_found(order_name: &str, pulpo_return: &str) -> LogEntry {
    LogEntry::info(
        order_record(order_name),
        format!(
            "PULPO return {pulpo_return} of order {order_name} already had its Shopify refund (an \
             earlier attempt made it): linked, not refunded twice"
        ),
    )
}

/// WARNING: the settings ask for a refund but nothing of it is left to refund.
pub fn refund_nothing_left(order_name: &str, pulpo_return: &str) -> LogEntry {
    LogEntry::warning(
        order_record(order_name),
        format!(
            "PULPO return {pulpo_return} of order {order_name} was not refunded: Shopify has \
             nothing of it left to refund (refunded before, by hand or by another app); check the \
             order's refunds in Shopify, then mark it resolved"
        ),
    )
}

/// ERROR: Shopify refused the refund; retried next run.
pub fn refund_refused(order_name: &str, pulpo_return: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        order_record(order_name),
        format!(
            "Shopify refused the refund of return {pulpo_return} of order {order_name} \
             ({detail}): it is retried on the next run, with the same idempotency key"
        ),
    )
}
