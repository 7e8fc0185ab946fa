//! How much to refund for one PULPO return, when the settings ask: the returned units at what
//! the order charged for them (Shopify's price of a unit after every discount), and the shipping
//! the order charged and has not refunded yet, never more than Shopify received and has not
//! refunded yet. Pure: the engine reads the order's refundable state and sends the refund.

use rust_decimal::Decimal;

use super::ReturnedGood;

/// What Shopify holds of an order's money, as far as a refund cares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefundableOrder {
    pub lines: Vec<RefundableLine>,
    /// Money received and already refunded.
    pub received: Decimal,
    pub refunded: Decimal,
    /// Shipping charged and already refunded.
    pub shipping: Decimal,
    pub shipping_refunded: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundableLine {
    /// The order line item's numeric id.
    pub line_item_id: String,
    /// Units not refunded yet.
    pub refundable: i64,
    /// What the order charged for one unit, after every discount.
    pub unit_price: Decimal,
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPlan {
    /// (line item numeric id, units) taken back, never restocked.
    pub lines: Vec<(String, i64)>,
    /// The shipping refunded.
    pub shipping: Decimal,
    /// The money given back: the units and the shipping, at most what is left of what was paid.
    pub amount: Decimal,
}

/// The refund of `good` on `order`: its units when `products`, the shipping left when
/// `shipping`; `None` when that is nothing at all.
pub fn plan_refund(
    good: &ReturnedGood,
    order: &RefundableOrder,
    products: bool,
    shipping: bool,
) -> Option<RefundPlan> {
    let mut lines: Vec<(String, i64)> = Vec::new();
    let mut owed = Decimal::ZERO;
    if products {
        for returned in &good.lines {
            let Some(line) = order
                .lines
                .iter()
                .find(|l| l.line_item_id == returned.line_item_id)
            else {
                continue;
            };
            let already: i64 = lines
                .iter()
                .filter(|(id, _)| *id == line.line_item_id)
                .map(|(_, q)| q)
                .sum();
            let units = returned.quantity.min(line.refundable - already);
            if units > 0 {
                owed += line.unit_price * Decimal::from(units);
                lines.push((line.line_item_id.clone(), units));
            }
        }
    }
    let shipping = if shipping {
        (order.shipping - order.shipping_refunded).max(Decimal::ZERO)
    } else {
        Decimal::ZERO
    };
    let left = (order.received - order.refunded).max(Decimal::ZERO);
    let amount = (owed + shipping).min(left);
    // Shopify refunds the shipping out of the money too: never more of it than is given back.
    let shipping = shipping.min(amount);
    (!lines.is_empty() || amount > Decimal::ZERO).then_some(RefundPlan {
        lines,
        shipping,
        amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::returns::ReturnedLine;

    fn good(lines: &[(&str, i64)]) -> ReturnedGood {
        ReturnedGood {
            incoming_good_id: 1,
            lines: lines
                .iter()
                .map(|(line, quantity)| ReturnedLine {
                    line_item_id: line.to_string(),
                    quantity: *quantity,
                    reason: "OTHER",
                })
                .collect(),
        }
    }

    fn money(cents: i64) -> Decimal {
        Decimal::new(cents, 2)
    }

    /// 3 × 5.00 and 1 × 7.50 with 4.95 shipping, all paid.
    fn order() -> RefundableOrder {
        RefundableOrder {
            lines: vec![
                RefundableLine {
                    line_item_id: "11".into(),
                    refundable: 3,
                    unit_price: money(500),
                },
                RefundableLine {
                    line_item_id: "12".into(),
                    refundable: 1,
                    unit_price: money(750),
                },
            ],
            received: money(2745),
            refunded: Decimal::ZERO,
            shipping: money(495),
            shipping_refunded: Decimal::ZERO,
        }
    }

    #[test]
    fn the_returned_units_are_refunded_at_what_the_order_charged() {
        assert_eq!(
            plan_refund(&good(&[("11", 2)]), &order(), true, false),
            Some(RefundPlan {
                lines: vec![("11".into(), 2)],
                shipping: Decimal::ZERO,
                amount: money(1000),
            })
        );
        assert_eq!(
            plan_refund(&good(&[("11", 1), ("12", 1)]), &order(), true, true),
            Some(RefundPlan {
                lines: vec![("11".into(), 1), ("12".into(), 1)],
                shipping: money(495),
                amount: money(1745),
            })
        );
        // Shipping only, once.
        let mut shipped_back = order();
        shipped_back.shipping_refunded = money(495);
        assert_eq!(
            plan_refund(&good(&[("11", 1)]), &shipped_back, false, true),
            None
        );
    }

    #[test]
    fn never_more_than_was_paid_and_not_refunded() {
        let mut partly = order();
        partly.refunded = money(2000);
        assert_eq!(
            plan_refund(&good(&[("11", 3)]), &partly, true, true),
            Some(RefundPlan {
                lines: vec![("11".into(), 3)],
                shipping: money(495),
                amount: money(745),
            })
        );
        // Units refunded before are not refunded again.
        let mut refunded_units = order();
        refunded_units.lines[0].refundable = 1;
        assert_eq!(
            plan_refund(&good(&[("11", 3)]), &refunded_units, true, false)
                .map(|p| (p.lines, p.amount)),
            Some((vec![("11".into(), 1)], money(500)))
        );
        let mut nothing_paid = order();
        nothing_paid.received = Decimal::ZERO;
        assert_eq!(
            plan_refund(&good(&[("11", 1)]), &nothing_paid, true, true)
                .map(|p| (p.shipping, p.amount)),
            Some((Decimal::ZERO, Decimal::ZERO)),
            "the unit is taken back, no money moves"
        );
    }
}
