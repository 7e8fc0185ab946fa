//! What a generate_shipments run writes, per Shopify order: its fulfilment state read once,
//! then each box's decision carried out. A create is an intent link written before the call
//! and completed after it; Shopify's `fulfillmentCreate` is not idempotent, so after a lost
//! answer the next run finds the fulfillment on the order (same tracking number, same units)
//! and adopts it. Each box's outcome is written with its flag in one held-lease write.

use std::collections::HashMap;

use tentacle_domain::messages;
use tentacle_domain::run::LogEntry;
use tentacle_domain::shipments::{
    BoxDecision, BoxItem, BoxLink, ExistingFulfillment, FulfillmentOrder, FulfillmentOrderLine,
    FulfillmentOrderStatus, NewFulfillment, PulpoBox, Tracking, decide,
};
use tentacle_pulpo::model::ShippedBox;
use tentacle_shopify::ShopifyError;
use tentacle_shopify::fulfillments::{self, FulfillmentOrderState, OrderFulfillments};
use tentacle_store::{AttentionKind, HeldWrite, OrderLink, ShipmentLink};

use super::ShipmentRun;
use super::read::ShippedOrder;
use crate::integrations::Abort;

/// What Shopify has of one order as this run goes: updated by each fulfillment it creates, so
/// the next box of the order is decided against what is really left.
struct OrderState {
    fulfillment_orders: Vec<FulfillmentOrder>,
    fulfillments: Vec<ExistingFulfillment>,
}

/// One box as the log and the flags name it.
struct Named<'b> {
    shipped: &'b ShippedBox,
    order: &'b OrderLink,
    number: String,
}

impl Named<'_> {
    fn label(&self) -> String {
        format!("box {} of {}", self.number, self.order.order_name)
    }
}

impl ShipmentRun<'_> {
    /// Handles the boxes of one Shopify order.
    pub(super) async fn order(&self, order: ShippedOrder) -> Result<(), Abort> {
        let state = self
            .context
            .shopify()
            .order_fulfillment_state(&order.shopify_order_id)
            .await
            .map_err(|e| self.shopify_abort(&e))?;
        let mut state = self.order_state(state);
        let links: HashMap<i64, ShipmentLink> = self
            .context
            .store
            .shipment_links_of_order(self.pair, &order.shopify_order_id)
            .await?
            .into_iter()
            .map(|link| (link.box_id, link))
            .collect();
        for (shipped, order_link) in &order.boxes {
            let named = Named {
                shipped,
                order: order_link,
                number: shipped
                    .box_number
                    .map_or_else(|| shipped.box_id.to_string(), |n| n.to_string()),
            };
            self.shipped_box(&named, links.get(&shipped.box_id), &mut state)
                .await?;
        }
        self.context.log.flush().await?;
        Ok(())
    }

    async fn shipped_box(
        &self,
        named: &Named<'_>,
        link: Option<&ShipmentLink>,
        state: &mut OrderState,
    ) -> Result<(), Abort> {
        let log = self.context.log;
        let pulpo_box = self.pulpo_box(named.shipped);
        let known = match link {
            None => BoxLink::New,
            Some(ShipmentLink {
                fulfillment_id: None,
                ..
            }) => BoxLink::Intent,
            Some(ShipmentLink {
                fulfillment_id: Some(id),
                tracking,
                ..
            }) => BoxLink::Done {
                fulfillment_id: id.clone(),
                tracking: tracking.clone(),
            },
        };
        let warehouse = self
            .warehouses
            .get(&named.order.warehouse_id)
            .cloned()
            .unwrap_or_default();
        let mut known = known;
        let mut lost = 0;
        loop {
            let decision = decide(
                &pulpo_box,
                &known,
                &warehouse,
                &state.fulfillment_order(&named.order.fulfillment_order_id),
                &state.fulfillments,
            );
            let Sent::AnswerLost(detail) =
                self.carry_out(named, &pulpo_box, decision, state).await?
            else {
                return Ok(());
            };
            // Shopify may have made the fulfillment: what the order shows decides, as after
            // a run that stopped between its intent and its answer.
            lost += 1;
            if lost >= MAX_LOST_ANSWERS {
                let entry = messages::box_answers_lost(
                    &named.order.order_name,
                    &named.number,
                    lost,
                    &detail,
                );
                return self.failed(named, entry).await;
            }
            log.record(messages::box_answer_lost(
                &named.order.order_name,
                &named.number,
                &detail,
            ));
            let read = self
                .context
                .shopify()
                .order_fulfillment_state(&named.order.shopify_order_id)
                .await
                .map_err(|e| self.shopify_abort(&e))?;
            *state = self.order_state(read);
            known = BoxLink::Intent;
        }
    }

    /// Carries out the box's decision.
    async fn carry_out(
        &self,
        named: &Named<'_>,
        pulpo_box: &PulpoBox,
        decision: BoxDecision,
        state: &mut OrderState,
    ) -> Result<Sent, Abort> {
        let log = self.context.log;
        let box_id = named.shipped.box_id;
        let done = match decision {
            BoxDecision::Create(new) => return self.create(named, new, state).await,
            BoxDecision::Adopt { fulfillment_id } => {
                let tracking = pulpo_box.tracking.as_ref().map(Tracking::fingerprint);
                let done = self.link(named, Some(fulfillment_id), tracking.unwrap_or_default());
                log.record(messages::box_fulfillment_found(
                    &named.order.order_name,
                    &named.number,
                ));
                // Created by an earlier attempt that never heard back: counted now.
                log.count(|c| c.created += 1);
                self.commit(box_id, HeldWrite::ShipmentLink(done)).await
            }
            BoxDecision::UpdateTracking {
                fulfillment_id,
                tracking,
            } => self.update_tracking(named, fulfillment_id, tracking).await,
            BoxDecision::Unchanged => match self.clear_failure(box_id) {
                Some(clear) => self.write(vec![clear]).await,
                None => Ok(()),
            },
            BoxDecision::WaitingForTracking => {
                log.count(|c| c.skipped += 1);
                Ok(())
            }
            BoxDecision::Conflict(conflict) => {
                let entry =
                    messages::box_conflict(&named.order.order_name, &named.number, &conflict);
                let flag = self.flag(
                    box_id,
                    named.label(),
                    AttentionKind::Conflict,
                    entry.message.clone(),
                );
                log.record(entry);
                log.count(|c| c.conflicts += 1);
                self.write(vec![flag]).await
            }
        };
        done.map(|()| Sent::Done)
    }

    /// Creates the box's fulfillment: the intent, the call, the completed link.
    async fn create(
        &self,
        named: &Named<'_>,
        new: NewFulfillment,
        state: &mut OrderState,
    ) -> Result<Sent, Abort> {
        let log = self.context.log;
        let lines: Vec<(String, u32)> = new
            .lines
            .iter()
            .filter_map(|(id, units)| Some((id.clone(), u32::try_from(*units).ok()?)))
            .collect();
        // Shopify reads no lines as every unit still remaining: a box with nothing in it must
        // not fulfil the whole order.
        if lines.is_empty() {
            log.count(|c| c.skipped += 1);
            return Ok(Sent::Done);
        }
        let fingerprint = new.tracking.fingerprint();
        self.write(vec![HeldWrite::ShipmentLink(self.link(
            named,
            None,
            fingerprint.clone(),
        ))])
        .await?;
        let sent = self
            .context
            .shopify()
            .fulfillment_create(&fulfillments::NewFulfillment {
                fulfillment_order_id: new.fulfillment_order_id.clone(),
                lines,
                tracking: shopify_tracking(&new.tracking),
                notify_customer: self.settings.notify_customer,
            })
            .await;
        let outcome = match sent {
            Ok(outcome) => outcome,
            Err(ShopifyError::AnswerLost { detail }) => return Ok(Sent::AnswerLost(detail)),
            Err(error) => return Err(self.shopify_abort(&error)),
        };
        let Some(created) = outcome
            .fulfillment
            .filter(|_| outcome.user_errors.is_empty())
        else {
            let detail: Vec<String> = outcome.user_errors.into_iter().map(|e| e.message).collect();
            self.refused(named, &detail.join("; ")).await?;
            return Ok(Sent::Done);
        };
        state.fulfilled(&new, &created.id, &items_by_line(named.shipped));
        log.record(messages::box_fulfilled(
            &named.order.order_name,
            &named.number,
            &new.tracking,
            state.is_done(),
        ));
        log.count(|c| c.created += 1);
        let done = self.link(named, Some(created.id), fingerprint);
        self.commit(named.shipped.box_id, HeldWrite::ShipmentLink(done))
            .await?;
        Ok(Sent::Done)
    }

    /// Sends the box's changed tracking to its fulfillment, then remembers it.
    async fn update_tracking(
        &self,
        named: &Named<'_>,
        fulfillment_id: String,
        tracking: Tracking,
    ) -> Result<(), Abort> {
        let outcome = self
            .context
            .shopify()
            .fulfillment_tracking_update(
                &fulfillment_id,
                &shopify_tracking(&tracking),
                self.settings.notify_customer,
            )
            .await
            .map_err(|e| self.shopify_abort(&e))?;
        if !outcome.user_errors.is_empty() {
            let detail: Vec<String> = outcome.user_errors.into_iter().map(|e| e.message).collect();
            return self.refused(named, &detail.join("; ")).await;
        }
        let log = self.context.log;
        log.record(messages::box_tracking_updated(
            &named.order.order_name,
            &named.number,
            &tracking,
        ));
        log.count(|c| c.updated += 1);
        let done = self.link(named, Some(fulfillment_id), tracking.fingerprint());
        self.commit(named.shipped.box_id, HeldWrite::ShipmentLink(done))
            .await
    }

    /// Shopify refused the box: an ERROR, and the box flagged to be retried.
    async fn refused(&self, named: &Named<'_>, detail: &str) -> Result<(), Abort> {
        let entry = messages::box_refused(&named.order.order_name, &named.number, detail);
        self.failed(named, entry).await
    }

    /// The box failed as `entry` says: logged, counted and flagged to be retried.
    async fn failed(&self, named: &Named<'_>, entry: LogEntry) -> Result<(), Abort> {
        let log = self.context.log;
        let flag = self.flag(
            named.shipped.box_id,
            named.label(),
            AttentionKind::Failed,
            entry.message.clone(),
        );
        log.record(entry);
        log.count(|c| c.failed += 1);
        self.write(vec![flag]).await
    }

    /// A box's completed link, with its earlier failure cleared.
    async fn commit(&self, box_id: i64, link: HeldWrite) -> Result<(), Abort> {
        let mut writes = vec![link];
        writes.extend(self.clear_failure(box_id));
        self.write(writes).await
    }

    /// Writes under the run's lease, after the log entries that led to them.
    async fn write(&self, writes: Vec<HeldWrite>) -> Result<(), Abort> {
        let context = self.context;
        context.log.flush().await?;
        context
            .store
            .write_held(context.log.lease(), &writes)
            .await?;
        Ok(())
    }

    fn link(
        &self,
        named: &Named<'_>,
        fulfillment_id: Option<String>,
        tracking: String,
    ) -> ShipmentLink {
        ShipmentLink {
            scope: self.pair,
            box_id: named.shipped.box_id,
            packing_order_id: named.shipped.packing_order_id,
            sales_order_id: named.shipped.sales_order_id,
            fulfillment_order_id: named.order.fulfillment_order_id.clone(),
            shopify_order_id: named.order.shopify_order_id.clone(),
            fulfillment_id,
            tracking,
            updated_at: chrono::Utc::now(),
        }
    }

    /// PULPO's box as the rules read it, its carrier named as Shopify calls it.
    fn pulpo_box(&self, shipped: &ShippedBox) -> PulpoBox {
        PulpoBox {
            box_id: shipped.box_id,
            items: items_by_line(shipped)
                .into_iter()
                .map(|(line_item_id, quantity)| BoxItem {
                    line_item_id,
                    quantity,
                })
                .collect(),
            tracking: shipped.tracking.as_ref().map(|t| Tracking {
                company: self
                    .settings
                    .company_of(t.carrier_code.as_deref().unwrap_or_default()),
                number: t.tracking_code.clone(),
                url: t.tracking_url.clone(),
            }),
        }
    }

    fn order_state(&self, state: Option<OrderFulfillments>) -> OrderState {
        let Some(state) = state else {
            return OrderState {
                fulfillment_orders: Vec::new(),
                fulfillments: Vec::new(),
            };
        };
        OrderState {
            fulfillment_orders: state
                .fulfillment_orders
                .iter()
                .map(|fo| self.fulfillment_order(fo))
                .collect(),
            fulfillments: state
                .fulfillments
                .into_iter()
                .filter(|f| f.status != fulfillments::FulfillmentStatus::Cancelled)
                .map(|f| ExistingFulfillment {
                    id: f.id,
                    tracking_numbers: f.tracking.into_iter().filter_map(|t| t.number).collect(),
                    lines: f
                        .lines
                        .into_iter()
                        .map(|l| (numeric_id(&l.line_item_id), i64::from(l.quantity)))
                        .collect(),
                })
                .collect(),
        }
    }

    fn fulfillment_order(&self, fo: &FulfillmentOrderState) -> FulfillmentOrder {
        FulfillmentOrder {
            id: fo.id.clone(),
            status: FulfillmentOrderStatus::parse(fo.status.as_str()),
            location: fo
                .location_id
                .as_ref()
                .and_then(|id| self.locations.get(id))
                .cloned()
                .unwrap_or_default(),
            lines: fo
                .lines
                .iter()
                .map(|l| FulfillmentOrderLine {
                    id: l.id.clone(),
                    line_item_id: numeric_id(&l.line_item_id),
                    remaining: i64::from(l.remaining_quantity),
                    total: i64::from(l.total_quantity),
                })
                .collect(),
        }
    }
}

/// How a create went.
enum Sent {
    /// Made, refused or skipped: the box's outcome is written.
    Done,
    /// Sent without an answer: Shopify may have made it.
    AnswerLost(String),
}

/// Lost answers to one box's create in a run before it is left to the next run.
const MAX_LOST_ANSWERS: u32 = 3;

impl OrderState {
    /// Fulfillment order `id` as this run knows it. One Shopify no longer has (merged away,
    /// the order deleted) can take nothing: the box is a conflict unless it was sent already.
    fn fulfillment_order(&self, id: &str) -> FulfillmentOrder {
        self.fulfillment_orders
            .iter()
            .find(|fo| fo.id == id)
            .cloned()
            .unwrap_or_else(|| FulfillmentOrder {
                id: id.to_string(),
                status: FulfillmentOrderStatus::Other,
                location: String::new(),
                lines: Vec::new(),
            })
    }

    /// `new` became fulfillment `id`: its units are no longer remaining.
    fn fulfilled(&mut self, new: &NewFulfillment, id: &str, units: &[(String, i64)]) {
        if let Some(fo) = self
            .fulfillment_orders
            .iter_mut()
            .find(|fo| fo.id == new.fulfillment_order_id)
        {
            for (line_id, sent) in &new.lines {
                if let Some(line) = fo.lines.iter_mut().find(|l| l.id == *line_id) {
                    line.remaining -= sent;
                }
            }
            if fo.lines.iter().all(|l| l.remaining <= 0) {
                fo.status = FulfillmentOrderStatus::Closed;
            }
        }
        self.fulfillments.push(ExistingFulfillment {
            id: id.to_string(),
            tracking_numbers: vec![new.tracking.number.clone()],
            lines: units.to_vec(),
        });
    }

    /// Whether nothing of the order is left to fulfil.
    fn is_done(&self) -> bool {
        self.fulfillment_orders.iter().all(|fo| {
            matches!(
                fo.status,
                FulfillmentOrderStatus::Closed | FulfillmentOrderStatus::Cancelled
            ) || fo.lines.iter().all(|l| l.remaining <= 0)
        })
    }
}

/// Units of a shipped box by Shopify line item: PULPO's `line_order_id` is the line item's
/// numeric id, as the import wrote it. An item without one names no line, which the rules
/// report as a line the fulfillment order does not have.
fn items_by_line(shipped: &ShippedBox) -> Vec<(String, i64)> {
    shipped
        .items
        .iter()
        .map(|item| {
            (
                item.line_order_id.clone().unwrap_or_default(),
                item.quantity,
            )
        })
        .collect()
}

/// `gid://shopify/LineItem/N` → `N`.
fn numeric_id(gid: &str) -> String {
    gid.rsplit('/').next().unwrap_or(gid).to_string()
}

fn shopify_tracking(tracking: &Tracking) -> fulfillments::Tracking {
    fulfillments::Tracking {
        company: Some(tracking.company.clone()),
        number: Some(tracking.number.clone()),
        url: tracking.url.clone(),
    }
}
