//! What to do with one PULPO box in Shopify: create its fulfillment on the fulfillment order
//! its PULPO order came from, adopt the one an earlier attempt created (its answer was lost),
//! update the tracking that changed in PULPO, or report a conflict an operator can act on.
//! Pure: the engine reads PULPO's box, Shopify's fulfillment order and the order's
//! fulfillments, and carries the decision out.

use std::collections::HashMap;

/// A box PULPO shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulpoBox {
    pub box_id: i64,
    pub items: Vec<BoxItem>,
    /// The box's shipment tracking; `None` until PULPO has one.
    pub tracking: Option<Tracking>,
}

/// Units of one Shopify line in the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxItem {
    /// PULPO's `line_order_id`: the Shopify line item's numeric id, as the import wrote it.
    pub line_item_id: String,
    pub quantity: i64,
}

/// A box's tracking as Shopify takes it: the company (PULPO's carrier code, mapped), the
/// number and the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub company: String,
    pub number: String,
    pub url: Option<String>,
}

impl Tracking {
    /// What a link remembers of the tracking sent, to notice a change.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}",
            self.company,
            self.number,
            self.url.as_deref().unwrap_or_default()
        )
    }
}

/// The status of a Shopify fulfillment order, as far as a box cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfillmentOrderStatus {
    /// `OPEN`, `IN_PROGRESS`, `SCHEDULED`: lines can be fulfilled.
    Fulfillable,
    Closed,
    Cancelled,
    OnHold,
    /// `INCOMPLETE` and anything else Shopify adds.
    Other,
}

impl FulfillmentOrderStatus {
    pub fn parse(status: &str) -> FulfillmentOrderStatus {
        match status {
            "OPEN" | "IN_PROGRESS" | "SCHEDULED" => Self::Fulfillable,
            "CLOSED" => Self::Closed,
            "CANCELLED" => Self::Cancelled,
            "ON_HOLD" => Self::OnHold,
            _ => Self::Other,
        }
    }
}

/// The fulfillment order a box's PULPO order came from, as Shopify has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrder {
    pub id: String,
    pub status: FulfillmentOrderStatus,
    /// The assigned location's name.
    pub location: String,
    pub lines: Vec<FulfillmentOrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrderLine {
    /// The fulfillment order line item's gid, what `fulfillmentCreate` takes.
    pub id: String,
    /// The order line item's numeric id.
    pub line_item_id: String,
    pub remaining: i64,
    pub total: i64,
}

/// A fulfillment the order already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingFulfillment {
    pub id: String,
    pub tracking_numbers: Vec<String>,
    /// Units by order line item numeric id.
    pub lines: Vec<(String, i64)>,
}

/// What tentacle knows of a box from its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxLink {
    /// Never handled.
    New,
    /// A create was sent but its answer not recorded: it may or may not have happened.
    Intent,
    /// Done: the fulfillment and the tracking it was last given.
    Done {
        fulfillment_id: String,
        tracking: String,
    },
}

/// A new fulfillment for one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFulfillment {
    pub fulfillment_order_id: String,
    /// (fulfillment order line item gid, units).
    pub lines: Vec<(String, i64)>,
    pub tracking: Tracking,
}

/// Why a box cannot become a fulfillment; each says what an operator should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipmentConflict {
    /// The fulfillment order is closed or cancelled in Shopify.
    NotFulfillable { status: FulfillmentOrderStatus },
    /// The fulfillment order is on hold in Shopify.
    OnHold,
    /// The fulfillment order was moved to another location in Shopify.
    Moved { from: String, to: String },
    /// Nothing is left to fulfil: the order was fulfilled by hand (or elsewhere).
    FulfilledByHand,
    /// The box holds more of a line than the fulfillment order has left.
    MoreThanRemaining {
        line_item_id: String,
        in_box: i64,
        remaining: i64,
    },
    /// A box item names a line the fulfillment order does not have.
    LineNotOnFulfillmentOrder { line_item_id: String },
}

/// What to do with a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxDecision {
    Create(NewFulfillment),
    /// An earlier attempt created this fulfillment (same tracking number, same units): link
    /// it instead of creating another.
    Adopt {
        fulfillment_id: String,
    },
    UpdateTracking {
        fulfillment_id: String,
        tracking: Tracking,
    },
    /// Done, and nothing changed since.
    Unchanged,
    /// No tracking in PULPO yet: the box waits for the next run.
    WaitingForTracking,
    Conflict(ShipmentConflict),
}

/// Decides what to do with `pulpo_box`, shipped from the warehouse named `warehouse`, whose
/// PULPO order came from `fulfillment_order`.
pub fn decide(
    pulpo_box: &PulpoBox,
    link: &BoxLink,
    warehouse: &str,
    fulfillment_order: &FulfillmentOrder,
    existing: &[ExistingFulfillment],
) -> BoxDecision {
    let Some(tracking) = pulpo_box.tracking.clone() else {
        return match link {
            BoxLink::Done { .. } => BoxDecision::Unchanged,
            _ => BoxDecision::WaitingForTracking,
        };
    };
    if let BoxLink::Done {
        fulfillment_id,
        tracking: sent,
    } = link
    {
        return if *sent == tracking.fingerprint() {
            BoxDecision::Unchanged
        } else {
            BoxDecision::UpdateTracking {
                fulfillment_id: fulfillment_id.clone(),
                tracking,
            }
        };
    }
    // A create may have happened without our record of it: look before creating again.
    if *link == BoxLink::Intent
        && let Some(found) = existing
            .iter()
            .find(|f| f.tracking_numbers.contains(&tracking.number) && same_units(f, pulpo_box))
    {
        return BoxDecision::Adopt {
            fulfillment_id: found.id.clone(),
        };
    }
    match fulfillment_order.status {
        FulfillmentOrderStatus::Fulfillable => {}
        FulfillmentOrderStatus::OnHold => return BoxDecision::Conflict(ShipmentConflict::OnHold),
        status @ (FulfillmentOrderStatus::Closed | FulfillmentOrderStatus::Cancelled) => {
            // A fulfillment order that closed because every unit was fulfilled, but not by us.
            let fulfilled = fulfillment_order.lines.iter().all(|l| l.remaining == 0)
                && status == FulfillmentOrderStatus::Closed;
            return BoxDecision::Conflict(if fulfilled {
                ShipmentConflict::FulfilledByHand
            } else {
                ShipmentConflict::NotFulfillable { status }
            });
        }
        status @ FulfillmentOrderStatus::Other => {
            return BoxDecision::Conflict(ShipmentConflict::NotFulfillable { status });
        }
    }
    if fulfillment_order.location != warehouse {
        return BoxDecision::Conflict(ShipmentConflict::Moved {
            from: warehouse.to_string(),
            to: fulfillment_order.location.clone(),
        });
    }
    if fulfillment_order.lines.iter().all(|l| l.remaining == 0) {
        return BoxDecision::Conflict(ShipmentConflict::FulfilledByHand);
    }
    let mut units: Vec<(String, i64)> = Vec::new();
    for item in &pulpo_box.items {
        match units
            .iter_mut()
            .find(|(line, _)| *line == item.line_item_id)
        {
            Some((_, quantity)) => *quantity += item.quantity,
            None => units.push((item.line_item_id.clone(), item.quantity)),
        }
    }
    let mut lines = Vec::with_capacity(units.len());
    for (line_item_id, in_box) in units {
        let Some(line) = fulfillment_order
            .lines
            .iter()
            .find(|l| l.line_item_id == line_item_id)
        else {
            return BoxDecision::Conflict(ShipmentConflict::LineNotOnFulfillmentOrder {
                line_item_id,
            });
        };
        if in_box > line.remaining {
            if line.remaining == 0 && fulfillment_order.lines.iter().all(|l| l.remaining == 0) {
                return BoxDecision::Conflict(ShipmentConflict::FulfilledByHand);
            }
            return BoxDecision::Conflict(ShipmentConflict::MoreThanRemaining {
                line_item_id,
                in_box,
                remaining: line.remaining,
            });
        }
        if in_box > 0 {
            lines.push((line.id.clone(), in_box));
        }
    }
    BoxDecision::Create(NewFulfillment {
        fulfillment_order_id: fulfillment_order.id.clone(),
        lines,
        tracking,
    })
}

/// Whether a fulfillment holds exactly the box's units.
fn same_units(fulfillment: &ExistingFulfillment, pulpo_box: &PulpoBox) -> bool {
    let mut wanted: HashMap<&str, i64> = HashMap::new();
    for item in &pulpo_box.items {
        *wanted.entry(item.line_item_id.as_str()).or_default() += item.quantity;
    }
    let mut found: HashMap<&str, i64> = HashMap::new();
    for (line, quantity) in &fulfillment.lines {
        *found.entry(line.as_str()).or_default() += quantity;
    }
    wanted.retain(|_, q| *q > 0);
    found.retain(|_, q| *q > 0);
    wanted == found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking(number: &str) -> Tracking {
        Tracking {
            company: "SEUR".into(),
            number: number.into(),
            url: Some(format!("https://track.example/{number}")),
        }
    }

    fn pulpo_box(items: &[(&str, i64)], number: Option<&str>) -> PulpoBox {
        PulpoBox {
            box_id: 7,
            items: items
                .iter()
                .map(|(line, quantity)| BoxItem {
                    line_item_id: line.to_string(),
                    quantity: *quantity,
                })
                .collect(),
            tracking: number.map(tracking),
        }
    }

    fn fulfillment_order(status: &str, remaining: &[(&str, i64)]) -> FulfillmentOrder {
        FulfillmentOrder {
            id: "gid://shopify/FulfillmentOrder/2".into(),
            status: FulfillmentOrderStatus::parse(status),
            location: "Madrid Central".into(),
            lines: remaining
                .iter()
                .enumerate()
                .map(|(i, (line, remaining))| FulfillmentOrderLine {
                    id: format!("gid://shopify/FulfillmentOrderLineItem/{i}"),
                    line_item_id: line.to_string(),
                    remaining: *remaining,
                    total: 3,
                })
                .collect(),
        }
    }

    fn decide_new(b: &PulpoBox, fo: &FulfillmentOrder) -> BoxDecision {
        decide(b, &BoxLink::New, "Madrid Central", fo, &[])
    }

    #[test]
    fn a_box_becomes_a_fulfillment_of_its_lines_with_its_tracking() {
        let b = pulpo_box(&[("11", 2), ("12", 1)], Some("T1"));
        let fo = fulfillment_order("OPEN", &[("11", 3), ("12", 1)]);
        assert_eq!(
            decide_new(&b, &fo),
            BoxDecision::Create(NewFulfillment {
                fulfillment_order_id: fo.id.clone(),
                lines: vec![
                    ("gid://shopify/FulfillmentOrderLineItem/0".into(), 2),
                    ("gid://shopify/FulfillmentOrderLineItem/1".into(), 1)
                ],
                tracking: tracking("T1"),
            })
        );
    }

    #[test]
    fn without_tracking_a_box_waits() {
        let b = pulpo_box(&[("11", 1)], None);
        let fo = fulfillment_order("OPEN", &[("11", 1)]);
        assert_eq!(decide_new(&b, &fo), BoxDecision::WaitingForTracking);
    }

    #[test]
    fn a_lost_answer_is_adopted_not_created_again() {
        let b = pulpo_box(&[("11", 2)], Some("T1"));
        // The create went through: nothing remains, and the order has the fulfillment.
        let fo = fulfillment_order("CLOSED", &[("11", 0)]);
        let existing = vec![ExistingFulfillment {
            id: "gid://shopify/Fulfillment/9".into(),
            tracking_numbers: vec!["T1".into()],
            lines: vec![("11".into(), 2)],
        }];
        assert_eq!(
            decide(&b, &BoxLink::Intent, "Madrid Central", &fo, &existing),
            BoxDecision::Adopt {
                fulfillment_id: "gid://shopify/Fulfillment/9".into()
            }
        );
        // Without our intent, the same state is a fulfillment by someone else.
        assert_eq!(
            decide_new(&b, &fo),
            BoxDecision::Conflict(ShipmentConflict::FulfilledByHand)
        );
    }

    #[test]
    fn a_changed_tracking_is_updated_once() {
        let b = pulpo_box(&[("11", 2)], Some("T2"));
        let fo = fulfillment_order("CLOSED", &[("11", 0)]);
        let done = |number: &str| BoxLink::Done {
            fulfillment_id: "gid://shopify/Fulfillment/9".into(),
            tracking: tracking(number).fingerprint(),
        };
        assert_eq!(
            decide(&b, &done("T1"), "Madrid Central", &fo, &[]),
            BoxDecision::UpdateTracking {
                fulfillment_id: "gid://shopify/Fulfillment/9".into(),
                tracking: tracking("T2")
            }
        );
        assert_eq!(
            decide(&b, &done("T2"), "Madrid Central", &fo, &[]),
            BoxDecision::Unchanged
        );
    }

    #[test]
    fn conflicts_name_what_is_wrong() {
        let b = pulpo_box(&[("11", 2)], Some("T1"));
        let conflict = |fo: &FulfillmentOrder| match decide_new(&b, fo) {
            BoxDecision::Conflict(c) => c,
            other => panic!("a conflict, not {other:?}"),
        };
        assert_eq!(
            conflict(&fulfillment_order("ON_HOLD", &[("11", 2)])),
            ShipmentConflict::OnHold
        );
        assert_eq!(
            conflict(&fulfillment_order("CANCELLED", &[("11", 2)])),
            ShipmentConflict::NotFulfillable {
                status: FulfillmentOrderStatus::Cancelled
            }
        );
        assert_eq!(
            conflict(&fulfillment_order("OPEN", &[("11", 1)])),
            ShipmentConflict::MoreThanRemaining {
                line_item_id: "11".into(),
                in_box: 2,
                remaining: 1
            }
        );
        assert_eq!(
            conflict(&fulfillment_order("OPEN", &[("12", 2)])),
            ShipmentConflict::LineNotOnFulfillmentOrder {
                line_item_id: "11".into()
            }
        );
        let mut moved = fulfillment_order("OPEN", &[("11", 2)]);
        moved.location = "Barcelona Norte".into();
        assert_eq!(
            conflict(&moved),
            ShipmentConflict::Moved {
                from: "Madrid Central".into(),
                to: "Barcelona Norte".into()
            }
        );
        assert_eq!(
            conflict(&fulfillment_order("CLOSED", &[("11", 0)])),
            ShipmentConflict::FulfilledByHand
        );
    }
}
