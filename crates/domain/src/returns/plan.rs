//! What to do with one PULPO return in Shopify: create its return on the order's fulfillment
//! line items, adopt the one an earlier attempt created (its answer was lost), leave a done one
//! alone, or report a conflict an operator can act on. Pure: the engine reads PULPO's incoming
//! good, the order's fulfillments and returns, and carries the decision out.

use std::collections::BTreeMap;

/// A customer return PULPO received: an incoming good of document type `return`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedGood {
    pub incoming_good_id: i64,
    pub lines: Vec<ReturnedLine>,
}

/// Units of one order line that came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedLine {
    /// PULPO's `line_order_id`: the Shopify line item's numeric id, as the import wrote it;
    /// empty when PULPO has none.
    pub line_item_id: String,
    pub quantity: i64,
    /// The Shopify `ReturnReason` its PULPO reason code maps to.
    pub reason: &'static str,
}

/// What Shopify holds of the order, as far as returns care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderReturnState {
    /// Every line item of the order (numeric ids).
    pub line_items: Vec<String>,
    /// The fulfilled units, by fulfillment line item, of fulfillments not cancelled.
    pub fulfilled: Vec<FulfilledLine>,
    pub returns: Vec<ExistingReturn>,
    /// Shopify shows the order as refunded in full.
    pub fully_refunded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilledLine {
    /// The `FulfillmentLineItem` gid, what a return names.
    pub id: String,
    /// The order line item's numeric id.
    pub line_item_id: String,
    pub quantity: i64,
}

/// A return the order already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingReturn {
    pub id: String,
    /// Open, requested or closed: its units are not returnable again (a cancelled or declined
    /// return gives them back).
    pub holds_units: bool,
    /// Already linked to another PULPO return by tentacle: never adopted for this one.
    pub linked: bool,
    pub lines: Vec<ExistingReturnLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingReturnLine {
    pub fulfillment_line_item_id: String,
    /// The order line item's numeric id.
    pub line_item_id: String,
    pub quantity: i64,
}

/// What tentacle knows of a PULPO return from its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnLink {
    /// Never handled.
    New,
    /// A create was sent but its answer not recorded: it may or may not have happened.
    Intent,
    /// Done: the Shopify return it became.
    Done { return_id: String },
}

/// A new Shopify return for one PULPO return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReturn {
    pub lines: Vec<NewReturnLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReturnLine {
    pub fulfillment_line_item_id: String,
    pub quantity: i64,
    pub reason: &'static str,
}

impl NewReturn {
    pub fn units(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
}

/// Why a PULPO return cannot become a Shopify return; each says what an operator should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnConflict {
    /// The PULPO return names no line.
    NoLines,
    /// A returned item names a line the Shopify order does not have.
    LineNotOnOrder { line_item_id: String },
    /// More units of a line came back than Shopify has fulfilled and not returned yet.
    MoreThanFulfilled {
        line_item_id: String,
        returned: i64,
        returnable: i64,
    },
    /// The order was refunded in full in Shopify.
    FullyRefunded,
}

/// What to do with a PULPO return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnDecision {
    Create(NewReturn),
    /// An earlier attempt created this return (the same units of the same lines): link it
    /// instead of creating another.
    Adopt {
        return_id: String,
    },
    /// Done already.
    Unchanged,
    Conflict(ReturnConflict),
}

/// Decides what to do with `good`, known to tentacle as `link`, on an order Shopify holds as
/// `order`.
pub fn decide(good: &ReturnedGood, link: &ReturnLink, order: &OrderReturnState) -> ReturnDecision {
    if let ReturnLink::Done { .. } = link {
        return ReturnDecision::Unchanged;
    }
    let wanted = units_by_line(good.lines.iter().map(|l| (&l.line_item_id, l.quantity)));
    // A create may have happened without our record of it: look before creating again.
    if *link == ReturnLink::Intent
        && let Some(found) = order.returns.iter().find(|r| {
            r.holds_units
                && !r.linked
                && units_by_line(r.lines.iter().map(|l| (&l.line_item_id, l.quantity))) == wanted
        })
    {
        return ReturnDecision::Adopt {
            return_id: found.id.clone(),
        };
    }
    if wanted.is_empty() {
        return ReturnDecision::Conflict(ReturnConflict::NoLines);
    }
    if order.fully_refunded {
        return ReturnDecision::Conflict(ReturnConflict::FullyRefunded);
    }
    let returned_of = |fulfillment_line_item_id: &str| -> i64 {
        order
            .returns
            .iter()
            .filter(|r| r.holds_units)
            .flat_map(|r| &r.lines)
            .filter(|l| l.fulfillment_line_item_id == fulfillment_line_item_id)
            .map(|l| l.quantity)
            .sum()
    };
    let mut lines = Vec::new();
    for line in &good.lines {
        if !order.line_items.contains(&line.line_item_id) {
            return ReturnDecision::Conflict(ReturnConflict::LineNotOnOrder {
                line_item_id: line.line_item_id.clone(),
            });
        }
    }
    for (line_item_id, returned) in &wanted {
        let reason = good
            .lines
            .iter()
            .find(|l| l.line_item_id == **line_item_id)
            .map_or("OTHER", |l| l.reason);
        // The units come off the line's fulfillments in order, each down to what it has not
        // had returned yet.
        let mut left = *returned;
        let mut returnable = 0;
        for fulfilled in order
            .fulfilled
            .iter()
            .filter(|f| f.line_item_id == **line_item_id)
        {
            let open = (fulfilled.quantity - returned_of(&fulfilled.id)).max(0);
            returnable += open;
            let take = open.min(left);
            if take > 0 {
                lines.push(NewReturnLine {
                    fulfillment_line_item_id: fulfilled.id.clone(),
                    quantity: take,
                    reason,
                });
                left -= take;
            }
        }
        if left > 0 {
            return ReturnDecision::Conflict(ReturnConflict::MoreThanFulfilled {
                line_item_id: (*line_item_id).clone(),
                returned: *returned,
                returnable,
            });
        }
    }
    ReturnDecision::Create(NewReturn { lines })
}

/// Units by line item, lines without units left out.
fn units_by_line<'l>(lines: impl Iterator<Item = (&'l String, i64)>) -> BTreeMap<&'l String, i64> {
    let mut units: BTreeMap<&String, i64> = BTreeMap::new();
    for (line, quantity) in lines {
        *units.entry(line).or_default() += quantity;
    }
    units.retain(|_, q| *q > 0);
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good(lines: &[(&str, i64)]) -> ReturnedGood {
        ReturnedGood {
            incoming_good_id: 7,
            lines: lines
                .iter()
                .map(|(line, quantity)| ReturnedLine {
                    line_item_id: line.to_string(),
                    quantity: *quantity,
                    reason: "DEFECTIVE",
                })
                .collect(),
        }
    }

    /// Lines 11 (3 units, in two fulfillments of 2 and 1) and 12 (1 unit), all fulfilled.
    fn order() -> OrderReturnState {
        let fulfilled = |id: &str, line: &str, quantity| FulfilledLine {
            id: format!("gid://shopify/FulfillmentLineItem/{id}"),
            line_item_id: line.into(),
            quantity,
        };
        OrderReturnState {
            line_items: vec!["11".into(), "12".into(), "13".into()],
            fulfilled: vec![
                fulfilled("1", "11", 2),
                fulfilled("2", "12", 1),
                fulfilled("3", "11", 1),
            ],
            returns: Vec::new(),
            fully_refunded: false,
        }
    }

    fn existing(id: &str, lines: &[(&str, &str, i64)]) -> ExistingReturn {
        ExistingReturn {
            id: id.into(),
            holds_units: true,
            linked: false,
            lines: lines
                .iter()
                .map(|(fli, line, quantity)| ExistingReturnLine {
                    fulfillment_line_item_id: format!("gid://shopify/FulfillmentLineItem/{fli}"),
                    line_item_id: line.to_string(),
                    quantity: *quantity,
                })
                .collect(),
        }
    }

    fn line(fli: &str, quantity: i64) -> NewReturnLine {
        NewReturnLine {
            fulfillment_line_item_id: format!("gid://shopify/FulfillmentLineItem/{fli}"),
            quantity,
            reason: "DEFECTIVE",
        }
    }

    #[test]
    fn a_returned_line_becomes_a_return_of_its_fulfilled_units() {
        assert_eq!(
            decide(&good(&[("12", 1)]), &ReturnLink::New, &order()),
            ReturnDecision::Create(NewReturn {
                lines: vec![line("2", 1)]
            })
        );
        // Three units of line 11 come off both of its fulfillments.
        assert_eq!(
            decide(&good(&[("11", 3)]), &ReturnLink::New, &order()),
            ReturnDecision::Create(NewReturn {
                lines: vec![line("1", 2), line("3", 1)]
            })
        );
    }

    #[test]
    fn units_returned_before_are_not_returnable_again() {
        let mut state = order();
        state
            .returns
            .push(existing("gid://shopify/Return/1", &[("1", "11", 2)]));
        assert_eq!(
            decide(&good(&[("11", 1)]), &ReturnLink::New, &state),
            ReturnDecision::Create(NewReturn {
                lines: vec![line("3", 1)]
            })
        );
        assert_eq!(
            decide(&good(&[("11", 2)]), &ReturnLink::New, &state),
            ReturnDecision::Conflict(ReturnConflict::MoreThanFulfilled {
                line_item_id: "11".into(),
                returned: 2,
                returnable: 1
            })
        );
        // A cancelled return gives its units back.
        state.returns[0].holds_units = false;
        assert!(matches!(
            decide(&good(&[("11", 3)]), &ReturnLink::New, &state),
            ReturnDecision::Create(_)
        ));
    }

    #[test]
    fn a_lost_answer_is_adopted_not_created_again() {
        let mut state = order();
        state
            .returns
            .push(existing("gid://shopify/Return/9", &[("2", "12", 1)]));
        assert_eq!(
            decide(&good(&[("12", 1)]), &ReturnLink::Intent, &state),
            ReturnDecision::Adopt {
                return_id: "gid://shopify/Return/9".into()
            }
        );
        // Without our intent, the same state means the units went back another way.
        assert_eq!(
            decide(&good(&[("12", 1)]), &ReturnLink::New, &state),
            ReturnDecision::Conflict(ReturnConflict::MoreThanFulfilled {
                line_item_id: "12".into(),
                returned: 1,
                returnable: 0
            })
        );
        // A return linked to another PULPO return is never adopted.
        state.returns[0].linked = true;
        assert!(matches!(
            decide(&good(&[("12", 1)]), &ReturnLink::Intent, &state),
            ReturnDecision::Conflict(ReturnConflict::MoreThanFulfilled { .. })
        ));
        // Done is done.
        let done = ReturnLink::Done {
            return_id: "gid://shopify/Return/9".into(),
        };
        assert_eq!(
            decide(&good(&[("12", 1)]), &done, &state),
            ReturnDecision::Unchanged
        );
    }

    #[test]
    fn conflicts_name_what_is_wrong() {
        assert_eq!(
            decide(&good(&[("99", 1)]), &ReturnLink::New, &order()),
            ReturnDecision::Conflict(ReturnConflict::LineNotOnOrder {
                line_item_id: "99".into()
            })
        );
        // On the order but never fulfilled.
        assert_eq!(
            decide(&good(&[("13", 1)]), &ReturnLink::New, &order()),
            ReturnDecision::Conflict(ReturnConflict::MoreThanFulfilled {
                line_item_id: "13".into(),
                returned: 1,
                returnable: 0
            })
        );
        let mut refunded = order();
        refunded.fully_refunded = true;
        assert_eq!(
            decide(&good(&[("12", 1)]), &ReturnLink::New, &refunded),
            ReturnDecision::Conflict(ReturnConflict::FullyRefunded)
        );
        assert_eq!(
            decide(&good(&[]), &ReturnLink::New, &order()),
            ReturnDecision::Conflict(ReturnConflict::NoLines)
        );
    }
}
