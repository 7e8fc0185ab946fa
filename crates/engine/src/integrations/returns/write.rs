//! What a returns run writes, per Shopify order: its fulfillments and returns read once (only
//! when a PULPO return of it is not registered yet), then each PULPO return's decision carried
//! out. A create is an intent link written before the call and completed after it; Shopify's
//! `returnCreate` is not idempotent, so after a lost answer the order's returns are read again
//! and the one with the same units of the same lines is adopted. A registered return is then
//! refunded when the settings ask ([`super::refund`]). Each PULPO return's outcome is written
//! with its flag in one held-lease write.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tentacle_domain::messages;
use tentacle_domain::returns::{
    ExistingReturn, ExistingReturnLine, FulfilledLine, NewReturn, OrderReturnState, ReturnDecision,
    ReturnLink as Known, ReturnedGood, ReturnedLine, decide,
};
use tentacle_domain::run::LogEntry;
use tentacle_pulpo::model::IncomingGood;
use tentacle_shopify::ShopifyError;
use tentacle_shopify::fulfillments::FulfillmentStatus;
use tentacle_shopify::returns::{NewReturn as ShopifyReturn, NewReturnLine};
use tentacle_store::{AttentionKind, HeldWrite, OrderLink, ReturnLink};

use super::ReturnRun;
use super::read::{ReturnedOrder, pulpo_name};
use crate::integrations::Abort;

/// Lost answers to one return's create in a run before it is left to the next run.
const MAX_LOST_ANSWERS: u32 = 3;

/// Shopify's `ReturnStatus` values whose units are returnable again.
const RELEASED: [&str; 2] = ["CANCELED", "DECLINED"];

/// One PULPO return as the log and the flags name it.
pub(super) struct Named<'g> {
    pub good: &'g IncomingGood,
    pub order: &'g OrderLink,
    pub name: String,
}

impl Named<'_> {
    pub(super) fn label(&self) -> String {
        format!("return {} of {}", self.name, self.order.order_name)
    }
}

/// How a decision went.
enum Sent {
    /// Shopify has the return (made now, adopted, or before): its id.
    Registered(String),
    /// In conflict: the outcome is written.
    Settled,
    /// It failed and is retried next run.
    Failed,
    /// Sent without an answer: Shopify may have made it.
    AnswerLost(String),
}

/// How the return of one PULPO return ended.
enum Registered {
    /// Shopify has it (its id), or the settings register none.
    Yes(Option<String>),
    /// In conflict.
    No,
    Failed,
}

impl ReturnRun<'_> {
    /// Handles the PULPO returns of one Shopify order; the time the first one that failed was
    /// received, so the cursor stays before it.
    pub(super) async fn order(&self, order: ReturnedOrder) -> Result<Option<DateTime<Utc>>, Abort> {
        let links: HashMap<i64, ReturnLink> = self
            .context
            .store
            .return_links_of_order(self.pair, &order.order.shopify_order_id)
            .await?
            .into_iter()
            .map(|link| (link.incoming_good_id, link))
            .collect();
        let pending: Vec<&IncomingGood> = order
            .goods
            .iter()
            .filter(|g| links.get(&g.id).is_none_or(|l| self.pending(l)))
            .collect();
        // Registered (and refunded) before, seen again in the overlap window: nothing to read
        // in Shopify.
        if pending.is_empty() {
            return Ok(None);
        }
        let mut state = if self.settings.register_return {
            self.read_order(&order.order.shopify_order_id, &links)
                .await?
        } else {
            None
        };
        let mut refundable = None;
        let mut failed_at = None;
        for good in pending {
            let named = Named {
                good,
                order: &order.order,
                name: pulpo_name(good),
            };
            let link = links.get(&good.id);
            let known = match link {
                None => Known::New,
                Some(ReturnLink {
                    return_id: Some(id),
                    ..
                }) => Known::Done {
                    return_id: id.clone(),
                },
                Some(_) => Known::Intent,
            };
            let returned = self.returned(good);
            let registered = if self.settings.register_return {
                self.returned_good(&named, &returned, known, &mut state)
                    .await?
            } else {
                // Refunds only: the PULPO return is refunded without a Shopify return.
                Registered::Yes(None)
            };
            let failed = match registered {
                Registered::Yes(return_id)
                    if self.settings.refunds() && link.is_none_or(|l| l.refund_id.is_none()) =>
                {
                    self.refund(&named, &returned, return_id, &mut refundable)
                        .await?
                }
                Registered::Yes(_) | Registered::No => false,
                Registered::Failed => true,
            };
            if failed {
                let at = good
                    .inserted_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc));
                failed_at = Some(failed_at.map_or(at, |earlier: DateTime<Utc>| earlier.min(at)));
            }
        }
        self.context.log.flush().await?;
        Ok(failed_at)
    }

    /// Whether the link of a PULPO return leaves something to do: its return, or its refund.
    fn pending(&self, link: &ReturnLink) -> bool {
        (self.settings.register_return && link.return_id.is_none())
            || (self.settings.refunds() && link.refund_id.is_none())
    }

    /// Carries out one PULPO return's return in Shopify.
    async fn returned_good(
        &self,
        named: &Named<'_>,
        good: &ReturnedGood,
        mut known: Known,
        state: &mut Option<OrderReturnState>,
    ) -> Result<Registered, Abort> {
        let log = self.context.log;
        let mut lost = 0;
        loop {
            let Some(order) = state.as_mut() else {
                let entry = messages::return_refused(
                    &named.order.order_name,
                    &named.name,
                    "Shopify has no such order any more",
                );
                self.failed(named, entry).await?;
                return Ok(Registered::Failed);
            };
            let decision = decide(good, &known, order);
            let detail = match self.carry_out(named, &known, decision, order).await? {
                Sent::Registered(return_id) => return Ok(Registered::Yes(Some(return_id))),
                Sent::Settled => return Ok(Registered::No),
                Sent::Failed => return Ok(Registered::Failed),
                Sent::AnswerLost(detail) => detail,
            };
            // Shopify may have made the return: what the order shows decides, as after a run
            // that stopped between its intent and its answer.
            lost += 1;
            if lost >= MAX_LOST_ANSWERS {
                let entry = messages::return_answers_lost(
                    &named.order.order_name,
                    &named.name,
                    lost,
                    &detail,
                );
                self.failed(named, entry).await?;
                return Ok(Registered::Failed);
            }
            log.record(messages::return_answer_lost(
                &named.order.order_name,
                &named.name,
                &detail,
            ));
            let links: HashMap<i64, ReturnLink> = self
                .context
                .store
                .return_links_of_order(self.pair, &named.order.shopify_order_id)
                .await?
                .into_iter()
                .map(|link| (link.incoming_good_id, link))
                .collect();
            *state = self
                .read_order(&named.order.shopify_order_id, &links)
                .await?;
            known = Known::Intent;
        }
    }

    async fn carry_out(
        &self,
        named: &Named<'_>,
        known: &Known,
        decision: ReturnDecision,
        order: &mut OrderReturnState,
    ) -> Result<Sent, Abort> {
        let log = self.context.log;
        let id = named.good.id;
        match decision {
            ReturnDecision::Create(new) => self.create(named, new, order).await,
            ReturnDecision::Adopt { return_id } => {
                log.record(messages::return_found(&named.order.order_name, &named.name));
                // Created by an earlier attempt that never heard back: counted now.
                log.count(|c| c.created += 1);
                if let Some(found) = order.returns.iter_mut().find(|r| r.id == return_id) {
                    found.linked = true;
                }
                self.commit(id, self.link(named, Some(return_id.clone()), None))
                    .await?;
                Ok(Sent::Registered(return_id))
            }
            ReturnDecision::Unchanged => {
                let Known::Done { return_id } = known else {
                    // The rules leave only a done return unchanged.
                    return Ok(Sent::Settled);
                };
                if let Some(clear) = self.clear_flag(id) {
                    self.write(vec![clear]).await?;
                }
                Ok(Sent::Registered(return_id.clone()))
            }
            ReturnDecision::Conflict(conflict) => {
                let entry =
                    messages::return_conflict(&named.order.order_name, &named.name, &conflict);
                let flag = self.flag(
                    id,
                    named.label(),
                    AttentionKind::Conflict,
                    entry.message.clone(),
                );
                log.record(entry);
                log.count(|c| c.conflicts += 1);
                self.write(vec![flag]).await?;
                Ok(Sent::Settled)
            }
        }
    }

    /// Registers the PULPO return in Shopify: the intent, the call, the completed link.
    async fn create(
        &self,
        named: &Named<'_>,
        new: NewReturn,
        order: &mut OrderReturnState,
    ) -> Result<Sent, Abort> {
        let log = self.context.log;
        self.write(vec![HeldWrite::ReturnLink(self.link(named, None, None))])
            .await?;
        let note = note(named);
        let lines = new
            .lines
            .iter()
            .filter_map(|line| {
                Some(NewReturnLine {
                    fulfillment_line_item_id: line.fulfillment_line_item_id.clone(),
                    quantity: u32::try_from(line.quantity).ok()?,
                    reason: line.reason.to_string(),
                    note: note.clone(),
                })
            })
            .collect();
        let sent = self
            .context
            .shopify()
            .return_create(&ShopifyReturn {
                order_id: named.order.shopify_order_id.clone(),
                lines,
                notify_customer: self.settings.notify_customer,
            })
            .await;
        let outcome = match sent {
            Ok(outcome) => outcome,
            Err(ShopifyError::AnswerLost { detail }) => return Ok(Sent::AnswerLost(detail)),
            Err(error) => return Err(self.shopify_abort(&error)),
        };
        let Some(created) = outcome.created.filter(|_| outcome.user_errors.is_empty()) else {
            let detail: Vec<String> = outcome.user_errors.into_iter().map(|e| e.message).collect();
            let entry =
                messages::return_refused(&named.order.order_name, &named.name, &detail.join("; "));
            self.failed(named, entry).await?;
            return Ok(Sent::Failed);
        };
        // The next PULPO return of the order is decided against what is really left.
        order.returns.push(ExistingReturn {
            id: created.id.clone(),
            holds_units: true,
            linked: true,
            lines: new
                .lines
                .iter()
                .map(|line| ExistingReturnLine {
                    fulfillment_line_item_id: line.fulfillment_line_item_id.clone(),
                    line_item_id: order
                        .fulfilled
                        .iter()
                        .find(|f| f.id == line.fulfillment_line_item_id)
                        .map(|f| f.line_item_id.clone())
                        .unwrap_or_default(),
                    quantity: line.quantity,
                })
                .collect(),
        });
        log.record(messages::return_created(
            &named.order.order_name,
            &named.name,
            &created.name,
            &new,
        ));
        log.count(|c| c.created += 1);
        self.commit(
            named.good.id,
            self.link(named, Some(created.id.clone()), None),
        )
        .await?;
        Ok(Sent::Registered(created.id))
    }

    /// The PULPO return failed as `entry` says: logged, counted and flagged.
    pub(super) async fn failed(&self, named: &Named<'_>, entry: LogEntry) -> Result<(), Abort> {
        let log = self.context.log;
        let flag = self.flag(
            named.good.id,
            named.label(),
            AttentionKind::Failed,
            entry.message.clone(),
        );
        log.record(entry);
        log.count(|c| c.failed += 1);
        self.write(vec![flag]).await
    }

    /// A PULPO return's completed link, with its earlier flag cleared.
    pub(super) async fn commit(
        &self,
        incoming_good_id: i64,
        link: ReturnLink,
    ) -> Result<(), Abort> {
        let mut writes = vec![HeldWrite::ReturnLink(link)];
        writes.extend(self.clear_flag(incoming_good_id));
        self.write(writes).await
    }

    /// Writes under the run's lease, after the log entries that led to them.
    pub(super) async fn write(&self, writes: Vec<HeldWrite>) -> Result<(), Abort> {
        let context = self.context;
        context.log.flush().await?;
        context
            .store
            .write_held(context.log.lease(), &writes)
            .await?;
        Ok(())
    }

    pub(super) fn link(
        &self,
        named: &Named<'_>,
        return_id: Option<String>,
        refund_id: Option<String>,
    ) -> ReturnLink {
        ReturnLink {
            scope: self.pair,
            incoming_good_id: named.good.id,
            sales_order_id: named.good.sales_order_id.unwrap_or_default(),
            shopify_order_id: named.order.shopify_order_id.clone(),
            return_id,
            refund_id,
            updated_at: Utc::now(),
        }
    }

    /// PULPO's return as the rules read it, its reason codes mapped to Shopify's reasons.
    fn returned(&self, good: &IncomingGood) -> ReturnedGood {
        ReturnedGood {
            incoming_good_id: good.id,
            lines: good
                .items
                .iter()
                .map(|item| ReturnedLine {
                    line_item_id: item.line_order_id.clone().unwrap_or_default(),
                    quantity: item.quantity,
                    reason: self
                        .settings
                        .reason_of(item.reason_codes.first().map(|r| r.code.as_str())),
                })
                .collect(),
        }
    }

    /// What Shopify holds of the order now: its lines, fulfilled units and returns (those
    /// linked to a PULPO return by `links` marked so); `None` when Shopify has no such order.
    async fn read_order(
        &self,
        order_id: &str,
        links: &HashMap<i64, ReturnLink>,
    ) -> Result<Option<OrderReturnState>, Abort> {
        let shop = self.context.shopify();
        let (fulfilment, returns) = tokio::join!(
            shop.order_fulfillment_state(order_id),
            shop.order_returns(order_id)
        );
        let fulfilment = fulfilment.map_err(|e| self.shopify_abort(&e))?;
        let returns = returns.map_err(|e| self.shopify_abort(&e))?;
        let (Some(fulfilment), Some(returns)) = (fulfilment, returns) else {
            return Ok(None);
        };
        let mut line_items: Vec<String> = fulfilment
            .fulfillment_orders
            .iter()
            .flat_map(|fo| &fo.lines)
            .map(|l| numeric_id(&l.line_item_id))
            .collect();
        line_items.sort_unstable();
        line_items.dedup();
        let fulfilled = fulfilment
            .fulfillments
            .iter()
            .filter(|f| f.status != FulfillmentStatus::Cancelled)
            .flat_map(|f| &f.lines)
            .map(|l| FulfilledLine {
                id: l.id.clone(),
                line_item_id: numeric_id(&l.line_item_id),
                quantity: i64::from(l.quantity),
            })
            .collect();
        let existing = returns
            .returns
            .into_iter()
            .map(|r| ExistingReturn {
                holds_units: !RELEASED.contains(&r.status.as_str()),
                linked: links
                    .values()
                    .any(|l| l.return_id.as_deref() == Some(r.id.as_str())),
                lines: r
                    .lines
                    .into_iter()
                    .filter_map(|l| {
                        Some(ExistingReturnLine {
                            fulfillment_line_item_id: l.fulfillment_line_item_id?,
                            line_item_id: numeric_id(&l.line_item_id?),
                            quantity: i64::from(l.quantity),
                        })
                    })
                    .collect(),
                id: r.id,
            })
            .collect();
        Ok(Some(OrderReturnState {
            line_items,
            fulfilled,
            returns: existing,
            fully_refunded: returns.financial_status.as_deref() == Some("REFUNDED"),
        }))
    }
}

/// What a PULPO return's Shopify return lines and refund say, so its refund is found again.
pub(super) fn note(named: &Named<'_>) -> String {
    format!("PULPO return {}", named.name)
}

/// `gid://shopify/LineItem/N` → `N`: PULPO's `line_order_id` is the numeric id.
pub(super) fn numeric_id(gid: &str) -> String {
    gid.rsplit('/').next().unwrap_or(gid).to_string()
}
