//! The sales orders rules (SPEC §3.2–§3.4): given the settings, PULPO's warehouses and what we
//! already created in PULPO, decide what to do with one Shopify order.

use std::collections::BTreeSet;

use super::SalesOrderSettings;
use super::draft::ship_to;
use super::{
    CHANNEL, CancelReason, Cancellation, Conflict, ConflictReason, CustomerRef, Decision,
    DraftLine, LinkedSalesOrder, OrderError, PulpoOrderState, SalesOrderDraft, ShipTo, SkipReason,
    Step, Update, UpdateReason, Warehouses,
};
use crate::order::{FulfillmentOrder, LineItem, ShopifyOrder, gid_number};

/// Decides, order by order, what a sales orders run does. Built once per run.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    settings: &'a SalesOrderSettings,
    warehouses: &'a Warehouses,
}

/// A fulfillment order at a PULPO warehouse, with the lines it still has to ship.
struct Target<'o> {
    fulfillment_order: &'o FulfillmentOrder,
    warehouse_id: i64,
    lines: Vec<(&'o LineItem, u32)>,
}

/// The fulfillment orders a new PULPO order is due for, and why there may be none.
struct Targets<'o> {
    targets: Vec<Target<'o>>,
    /// Whether any candidate fulfillment order is at a PULPO warehouse at all.
    any_at_warehouse: bool,
    /// Whether lines were dropped because they need no shipping.
    dropped_non_physical: bool,
}

/// The lines of one fulfillment order that PULPO should ship.
struct Shippable<'o> {
    lines: Vec<(&'o LineItem, u32)>,
    /// Whether lines with something to ship were dropped because they need no shipping.
    dropped_non_physical: bool,
}

impl<'a> Planner<'a> {
    /// A planner for one run. The settings should have passed
    /// [`SalesOrderSettings::validate`].
    pub fn new(settings: &'a SalesOrderSettings, warehouses: &'a Warehouses) -> Self {
        Self {
            settings,
            warehouses,
        }
    }

    /// What to do with `order`. `links` are the PULPO orders already created for its
    /// fulfillment orders (cancelled ones included); empty when it was never imported.
    ///
    /// A never-imported order is imported when it is not cancelled, its financial and
    /// fulfillment statuses are in the import lists, it carries all required tags, and it has
    /// lines left to ship from fulfillment orders at PULPO warehouses (after the physical-only
    /// filter). Import filters are not applied again once an order is imported: from then on
    /// only cancellation and changes count.
    ///
    /// Errors are per order: the order fails this run and is retried by later ones.
    pub fn decide(
        &self,
        order: &ShopifyOrder,
        links: &[LinkedSalesOrder],
    ) -> Result<Decision, OrderError> {
        if links.is_empty() {
            self.decide_new(order)
        } else {
            self.decide_imported(order, links)
        }
    }

    fn decide_new(&self, order: &ShopifyOrder) -> Result<Decision, OrderError> {
        let settings = self.settings;
        if order.is_cancelled() {
            return Ok(Decision::Skip(SkipReason::Cancelled));
        }
        if !order
            .financial_status
            .is_some_and(|status| settings.import_financial_statuses.contains(&status))
        {
            return Ok(Decision::Skip(SkipReason::FinancialStatusNotImported(
                order.financial_status,
            )));
        }
        if !settings
            .import_fulfillment_statuses
            .contains(&order.fulfillment_status)
        {
            return Ok(Decision::Skip(SkipReason::FulfillmentStatusNotImported(
                order.fulfillment_status,
            )));
        }
        let missing_tags: Vec<String> = settings
            .required_tags
            .iter()
            .filter(|tag| !order.has_tag(tag))
            .cloned()
            .collect();
        if !missing_tags.is_empty() {
            return Ok(Decision::Skip(SkipReason::MissingTags(missing_tags)));
        }

        let found = self.targets(order, &[])?;
        if !found.any_at_warehouse {
            let locations: BTreeSet<&str> = order
                .fulfillment_orders
                .iter()
                .filter(|fo| fo.status.is_open())
                .map(|fo| fo.location_name.as_str())
                .collect();
            return Ok(Decision::Skip(SkipReason::NoPulpoWarehouse {
                locations: locations.into_iter().map(str::to_owned).collect(),
            }));
        }
        if found.targets.is_empty() {
            return Ok(Decision::Skip(if found.dropped_non_physical {
                SkipReason::NoPhysicalLines
            } else {
                SkipReason::NothingToShip
            }));
        }

        let Some(customer) = self.customer(order) else {
            return Ok(Decision::Skip(SkipReason::NoCustomer));
        };
        let ship_to = ship_to(order)?;
        let drafts = self
            .number(order, &[], found.targets)
            .into_iter()
            .map(|(order_num, target)| {
                draft(order, order_num, &target, customer.clone(), ship_to.clone())
            })
            .collect::<Result<_, _>>()?;
        Ok(Decision::Import(drafts))
    }

    fn decide_imported(
        &self,
        order: &ShopifyOrder,
        links: &[LinkedSalesOrder],
    ) -> Result<Decision, OrderError> {
        if let Some(cause) = self.cancel_cause(order) {
            let steps = links
                .iter()
                .filter_map(|link| cancel_step(link, cause.clone()))
                .collect();
            return Ok(sync(steps));
        }

        // Only required when a draft is built, so an order whose PULPO orders just need
        // cancelling does not fail on a missing street or customer.
        let customer = self.customer(order).ok_or(OrderError::NoCustomer);
        let ship_to = ship_to(order);
        let mut steps = Vec::new();

        for link in links {
            if link.state.is_done() {
                continue;
            }
            let Some(fulfillment_order) = order.fulfillment_order(&link.fulfillment_order_id)
            else {
                steps.push(Step::Conflict(conflict(
                    link,
                    ConflictReason::FulfillmentOrderMissing {
                        fulfillment_order_id: link.fulfillment_order_id.clone(),
                    },
                )));
                continue;
            };
            let warehouse_id = self.warehouses.id_of(&fulfillment_order.location_name);
            let lines = if fulfillment_order.status.is_open() {
                self.shippable(order, fulfillment_order)?.lines
            } else {
                Vec::new()
            };
            let step = match warehouse_id {
                _ if lines.is_empty() => {
                    if link.state == PulpoOrderState::Queue {
                        cancel_step(link, CancelReason::NothingLeftToShip)
                    } else {
                        Some(Step::Conflict(conflict(
                            link,
                            ConflictReason::NothingLeftAfterWorkStarted,
                        )))
                    }
                }
                None => cancel_step(
                    link,
                    CancelReason::MovedToUnknownLocation {
                        location: fulfillment_order.location_name.clone(),
                    },
                ),
                Some(warehouse_id) => {
                    let target = Target {
                        fulfillment_order,
                        warehouse_id,
                        lines,
                    };
                    let draft = draft(
                        order,
                        link.order_num.clone(),
                        &target,
                        customer.clone()?,
                        ship_to.clone()?,
                    )?;
                    change_step(link, draft)
                }
            };
            steps.extend(step);
        }

        let new_targets = self.targets(order, links)?.targets;
        if !new_targets.is_empty() {
            let customer = customer?;
            let ship_to = ship_to?;
            for (order_num, target) in self.number(order, links, new_targets) {
                steps.push(Step::Create(draft(
                    order,
                    order_num,
                    &target,
                    customer.clone(),
                    ship_to.clone(),
                )?));
            }
        }
        Ok(sync(steps))
    }

    /// The open fulfillment orders at PULPO warehouses that have something to ship and no link
    /// yet: all of them for a new order; those created by a split or a partial move after the
    /// import for an imported one.
    fn targets<'o>(
        &self,
        order: &'o ShopifyOrder,
        links: &[LinkedSalesOrder],
    ) -> Result<Targets<'o>, OrderError> {
        let mut found = Targets {
            targets: Vec::new(),
            any_at_warehouse: false,
            dropped_non_physical: false,
        };
        for fulfillment_order in &order.fulfillment_orders {
            if !fulfillment_order.status.is_open()
                || links
                    .iter()
                    .any(|link| link.fulfillment_order_id == fulfillment_order.id)
            {
                continue;
            }
            let Some(warehouse_id) = self.warehouses.id_of(&fulfillment_order.location_name) else {
                continue;
            };
            found.any_at_warehouse = true;
            let shippable = self.shippable(order, fulfillment_order)?;
            found.dropped_non_physical |= shippable.dropped_non_physical;
            if !shippable.lines.is_empty() {
                found.targets.push(Target {
                    fulfillment_order,
                    warehouse_id,
                    lines: shippable.lines,
                });
            }
        }
        Ok(found)
    }

    /// The `order_num` of each target: prefix + order number when the order has a single
    /// PULPO order; otherwise `_n` with n the target's position among all the order's
    /// fulfillment orders at PULPO warehouses (linked ones included, by id), moved up past any
    /// `order_num` already used. The same inputs always give the same numbers, which the
    /// look-up after a crash relies on, and no number is ever reused.
    fn number<'o>(
        &self,
        order: &ShopifyOrder,
        links: &[LinkedSalesOrder],
        mut targets: Vec<Target<'o>>,
    ) -> Vec<(String, Target<'o>)> {
        let base = self.base_order_num(order);
        targets.sort_by_key(|target| fulfillment_order_key(&target.fulfillment_order.id));
        if links.is_empty() && targets.len() == 1 {
            return targets
                .into_iter()
                .map(|target| (base.clone(), target))
                .collect();
        }

        let mut all: Vec<(u64, &str)> = links
            .iter()
            .map(|link| fulfillment_order_key(&link.fulfillment_order_id))
            .chain(
                targets
                    .iter()
                    .map(|target| fulfillment_order_key(&target.fulfillment_order.id)),
            )
            .collect();
        all.sort_unstable();
        all.dedup();
        let mut used: BTreeSet<String> = links.iter().map(|link| link.order_num.clone()).collect();

        targets
            .into_iter()
            .map(|target| {
                let key = fulfillment_order_key(&target.fulfillment_order.id);
                let mut position = all.iter().position(|k| *k == key).unwrap_or(all.len()) + 1;
                let mut order_num = format!("{base}_{position}");
                while used.contains(&order_num) {
                    position += 1;
                    order_num = format!("{base}_{position}");
                }
                used.insert(order_num.clone());
                (order_num, target)
            })
            .collect()
    }

    /// The lines of `fulfillment_order` with units left to ship, after the physical-only filter.
    fn shippable<'o>(
        &self,
        order: &'o ShopifyOrder,
        fulfillment_order: &FulfillmentOrder,
    ) -> Result<Shippable<'o>, OrderError> {
        let mut shippable = Shippable {
            lines: Vec::new(),
            dropped_non_physical: false,
        };
        for line in &fulfillment_order.lines {
            if line.remaining_quantity == 0 {
                continue;
            }
            let item =
                order
                    .line_item(&line.line_item_id)
                    .ok_or_else(|| OrderError::MissingLineItem {
                        line_item_id: line.line_item_id.clone(),
                    })?;
            if self.settings.only_physical_products && !item.requires_shipping {
                shippable.dropped_non_physical = true;
                continue;
            }
            shippable.lines.push((item, line.remaining_quantity));
        }
        Ok(shippable)
    }

    fn cancel_cause(&self, order: &ShopifyOrder) -> Option<CancelReason> {
        if order.is_cancelled() {
            return Some(CancelReason::CancelledInShopify);
        }
        if let Some(status) = order.financial_status
            && self.settings.cancel_financial_statuses.contains(&status)
        {
            return Some(CancelReason::FinancialStatus(status));
        }
        self.settings
            .cancel_fulfillment_statuses
            .contains(&order.fulfillment_status)
            .then_some(CancelReason::FulfillmentStatus(order.fulfillment_status))
    }

    fn customer(&self, order: &ShopifyOrder) -> Option<CustomerRef> {
        match (&order.customer, self.settings.fallback_customer_id) {
            (Some(customer), _) => Some(CustomerRef::Shopify(customer.clone())),
            (None, Some(id)) => Some(CustomerRef::Fallback(id)),
            (None, None) => None,
        }
    }

    /// Prefix + order name without `#`: `EU-` and `#1001` give `EU-1001`.
    fn base_order_num(&self, order: &ShopifyOrder) -> String {
        format!("{}{}", self.settings.order_number_prefix, order.number())
    }
}

/// Fulfillment orders sort by their numeric id (then by the id text, for ids without one), so
/// the numbering of a split is stable whatever order Shopify lists them in.
fn fulfillment_order_key(id: &str) -> (u64, &str) {
    (gid_number(id).unwrap_or(u64::MAX), id)
}

fn draft(
    order: &ShopifyOrder,
    order_num: String,
    target: &Target<'_>,
    customer: CustomerRef,
    ship_to: ShipTo,
) -> Result<SalesOrderDraft, OrderError> {
    let lines = target
        .lines
        .iter()
        .map(|&(item, quantity)| {
            let sku = item
                .sku
                .as_deref()
                .map(str::trim)
                .filter(|sku| !sku.is_empty())
                .ok_or_else(|| OrderError::LineWithoutSku {
                    line_item_id: item.id.clone(),
                    name: item.name.clone(),
                })?;
            Ok(DraftLine {
                line_order_id: item.legacy_id(),
                sku: sku.to_owned(),
                name: item.name.clone(),
                quantity,
            })
        })
        .collect::<Result<_, OrderError>>()?;
    Ok(SalesOrderDraft {
        fulfillment_order_id: target.fulfillment_order.id.clone(),
        order_num,
        external_order_num: order.legacy_id.to_string(),
        channel: CHANNEL,
        warehouse_id: target.warehouse_id,
        warehouse_name: target.fulfillment_order.location_name.clone(),
        customer,
        ship_to,
        lines,
    })
}

/// Cancel a linked order, unless PULPO already cancelled it; one that already shipped cannot
/// be cancelled and needs a person.
fn cancel_step(link: &LinkedSalesOrder, cause: CancelReason) -> Option<Step> {
    match link.state {
        PulpoOrderState::Cancelled => None,
        PulpoOrderState::Ended => Some(Step::Conflict(conflict(
            link,
            ConflictReason::CancelAfterShipped { cause },
        ))),
        state => Some(Step::Cancel(Cancellation {
            pulpo_order_id: link.pulpo_order_id,
            order_num: link.order_num.clone(),
            state,
            reason: cause,
        })),
    }
}

/// Update a linked order whose warehouse or content changed while PULPO has not started work;
/// once it has, the change is a conflict.
fn change_step(link: &LinkedSalesOrder, draft: SalesOrderDraft) -> Option<Step> {
    let moved = draft.warehouse_id != link.warehouse_id;
    if !moved && draft.fingerprint() == link.fingerprint {
        return None;
    }
    if link.state == PulpoOrderState::Queue {
        let reason = if moved {
            UpdateReason::Moved {
                from_warehouse_id: link.warehouse_id,
                to_warehouse: draft.warehouse_name.clone(),
            }
        } else {
            UpdateReason::Changed
        };
        Some(Step::Update(Update {
            pulpo_order_id: link.pulpo_order_id,
            draft,
            reason,
        }))
    } else {
        let reason = if moved {
            ConflictReason::MovedAfterWorkStarted {
                to_warehouse: draft.warehouse_name,
            }
        } else {
            ConflictReason::ChangedAfterWorkStarted
        };
        Some(Step::Conflict(conflict(link, reason)))
    }
}

fn conflict(link: &LinkedSalesOrder, reason: ConflictReason) -> Conflict {
    Conflict {
        pulpo_order_id: link.pulpo_order_id,
        order_num: link.order_num.clone(),
        state: link.state,
        reason,
    }
}

fn sync(steps: Vec<Step>) -> Decision {
    if steps.is_empty() {
        Decision::Unchanged
    } else {
        Decision::Sync(steps)
    }
}
