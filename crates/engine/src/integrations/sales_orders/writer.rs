//! Carrying decisions out in PULPO: create (exactly once, several orders in one bulk request
//! where that saves requests), update, cancel, and recording conflicts when PULPO refuses.
//!
//! Exactly once (SPEC §3.3): before a create, a link without a PULPO id is saved (the intent).
//! If the create's answer is lost (timeout, cut connection, 5xx), or our process dies before
//! the answer is committed, the intent is still there on the next attempt, and the order is
//! looked up by `order_num` before it is created again. A bulk create is the same story for
//! each order in it: every one has its intent before the request, and every one the answer
//! does not confirm is looked up before it is sent again.

use std::collections::HashMap;

use chrono::Utc;
use tentacle_domain::messages;
use tentacle_domain::order::{Customer, ShopifyOrder, gid_tail};
use tentacle_domain::run::LogEntry;
use tentacle_domain::sales_order::{
    CustomerRef, LinkedSalesOrder, OrderError, PulpoOrderState, SalesOrderDraft, SalesOrderItem,
    Step,
};
use tentacle_pulpo::model::{SalesItemBody, SalesOrder, SalesOrderBody};
use tentacle_pulpo::{FieldMessage, PulpoError};
use tentacle_store::{HeldWrite, OrderLink, StoreError};

use super::{Handled, SalesOrdersRun, resolve};

/// Why one order could not be handled.
pub enum Failure {
    /// The order's data: fix it in Shopify or PULPO.
    Order(OrderError),
    /// PULPO refused or could not be reached.
    Pulpo(PulpoError),
    /// Failed, and this entry says why and what to do.
    Logged(LogEntry),
    Store(StoreError),
}

impl From<OrderError> for Failure {
    fn from(error: OrderError) -> Self {
        Failure::Order(error)
    }
}

impl From<PulpoError> for Failure {
    fn from(error: PulpoError) -> Self {
        Failure::Pulpo(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

/// Attempts at creating one sales order whose earlier answers were lost.
const CREATE_ATTEMPTS: u32 = 3;
/// Orders sent in one bulk create.
const BULK_MAX: usize = 100;

/// A PULPO sales order to create: one draft of a Shopify order, with its PULPO body.
pub struct NewSalesOrder<'a> {
    pub order: &'a ShopifyOrder,
    pub draft: &'a SalesOrderDraft,
    pub body: SalesOrderBody,
}

/// PULPO's ids for what a batch of drafts names.
pub struct Resolved {
    /// SKU → product id (`None`: unknown to PULPO), or why the SKUs could not be looked up.
    products: Result<HashMap<String, Option<i64>>, PulpoError>,
    /// Shopify customer identifier → PULPO customer id, or why it could not be resolved.
    customers: HashMap<String, Result<i64, PulpoError>>,
}

impl Resolved {
    /// The PULPO body for `draft` (one of the drafts resolved).
    pub fn body(&self, draft: &SalesOrderDraft) -> Result<SalesOrderBody, Failure> {
        let products = self
            .products
            .as_ref()
            .map_err(|e| Failure::Pulpo(e.clone()))?;
        let items = draft.resolve_products(|sku| products.get(sku).copied().flatten())?;
        let third_party_id = match &draft.customer {
            CustomerRef::Shopify(customer) => {
                let identifier = gid_tail(&customer.id);
                match self.customers.get(identifier) {
                    Some(resolved) => resolved.clone()?,
                    None => {
                        return Err(Failure::Pulpo(PulpoError::Decode(format!(
                            "customer {identifier} was not among those resolved"
                        ))));
                    }
                }
            }
            CustomerRef::Fallback(id) => *id,
        };
        Ok(body(draft, items, third_party_id))
    }
}

/// What became of one [`NewSalesOrder`] so far.
type Created = Option<Result<(), Failure>>;

impl SalesOrdersRun<'_> {
    /// Resolves what `drafts` name to PULPO ids: SKUs to products and customers matched or
    /// created, each kind in one go for all of them.
    pub(super) async fn resolve(&self, drafts: &[&SalesOrderDraft]) -> Resolved {
        let products = self
            .products
            .product_ids(self.wms, drafts.iter().flat_map(|d| d.skus()))
            .await;
        let shopify_customers: Vec<&Customer> = drafts
            .iter()
            .filter_map(|d| match &d.customer {
                CustomerRef::Shopify(customer) => Some(customer),
                CustomerRef::Fallback(_) => None,
            })
            .collect();
        let customers = if shopify_customers.is_empty() {
            HashMap::new()
        } else {
            resolve::customer_ids(self.wms, &shopify_customers, self.pulpo_concurrency).await
        };
        Resolved {
            products,
            customers,
        }
    }

    fn link(
        &self,
        order: &ShopifyOrder,
        draft: &SalesOrderDraft,
        pulpo: Option<(i64, PulpoOrderState)>,
    ) -> OrderLink {
        OrderLink {
            scope: self.scope,
            fulfillment_order_id: draft.fulfillment_order_id.clone(),
            shopify_order_id: order.id.clone(),
            order_name: order.name.clone(),
            order_num: draft.order_num.clone(),
            warehouse_id: draft.warehouse_id,
            pulpo_order_id: pulpo.map(|(id, _)| id),
            pulpo_state: pulpo.map_or(PulpoOrderState::Queue, |(_, state)| state),
            fingerprint: draft.fingerprint(),
            updated_at: Utc::now(),
        }
    }

    /// Creates each of `new` in PULPO unless PULPO already has it, and returns how each went,
    /// in order. Several go in bulk requests; one alone in a plain create. Only the store's
    /// failures end the whole call.
    ///
    /// Exactly once: an order with an unconfirmed link from an earlier attempt is looked up by
    /// `order_num` first; every other one gets its link (the intent) before the request; an
    /// answer that is lost is followed by a look-up before the order is sent again.
    pub(super) async fn create(
        &self,
        new: &[NewSalesOrder<'_>],
    ) -> Result<Vec<Result<(), Failure>>, StoreError> {
        let mut results: Vec<Created> = (0..new.len()).map(|_| None).collect();
        let mut unsure = Vec::new();
        for (i, entry) in new.iter().enumerate() {
            match self
                .store
                .order_link(self.scope, &entry.draft.fulfillment_order_id)
                .await?
            {
                // Created meanwhile (the same order on two pages of a run, another worker).
                Some(link) if link.pulpo_order_id.is_some() => results[i] = Some(Ok(())),
                // An earlier attempt may have reached PULPO without us hearing back.
                Some(_) => unsure.push(i),
                None => {}
            }
        }
        if !unsure.is_empty() {
            match self.find(new, &unsure).await {
                Ok(found) => {
                    for (i, pulpo) in unsure.into_iter().zip(found) {
                        if let Some(pulpo) = pulpo {
                            let entry = &new[i];
                            self.confirm(entry, (pulpo.id, pulpo.state)).await?;
                            self.log.record(messages::order_found_in_pulpo(
                                &entry.order.name,
                                &entry.draft.order_num,
                            ));
                            results[i] = Some(Ok(()));
                        }
                    }
                }
                Err(error) => {
                    for i in unsure {
                        results[i] = Some(Err(Failure::Pulpo(error.clone())));
                    }
                }
            }
        }
        let pending: Vec<usize> = (0..new.len()).filter(|&i| results[i].is_none()).collect();
        let intents: Vec<HeldWrite> = pending
            .iter()
            .map(|&i| HeldWrite::OrderLink(self.link(new[i].order, new[i].draft, None)))
            .collect();
        if !intents.is_empty() {
            self.store.write_held(self.log.lease(), &intents).await?;
        }
        if let [only] = pending[..] {
            results[only] = Some(self.create_one(&new[only]).await?);
        } else {
            for chunk in pending.chunks(BULK_MAX) {
                self.create_bulk(new, chunk, &mut results).await?;
            }
        }
        Ok(results
            .into_iter()
            .map(|result| result.unwrap_or(Ok(())))
            .collect())
    }

    /// PULPO's orders with the `order_num`s of `new[indexes]`, in the same order.
    async fn find(
        &self,
        new: &[NewSalesOrder<'_>],
        indexes: &[usize],
    ) -> Result<Vec<Option<SalesOrder>>, PulpoError> {
        let nums: Vec<&str> = indexes
            .iter()
            .map(|&i| new[i].draft.order_num.as_str())
            .collect();
        let mut found = self.wms.sales_orders_by_nums(&nums).await?;
        Ok(nums
            .iter()
            .map(|num| {
                found
                    .iter()
                    .position(|o| o.order_num == *num)
                    .map(|at| found.swap_remove(at))
            })
            .collect())
    }

    /// Saves the link of an order PULPO has and counts it as created.
    async fn confirm(
        &self,
        entry: &NewSalesOrder<'_>,
        pulpo: (i64, PulpoOrderState),
    ) -> Result<(), StoreError> {
        let link = self.link(entry.order, entry.draft, Some(pulpo));
        self.store
            .write_held(self.log.lease(), &[HeldWrite::OrderLink(link)])
            .await?;
        self.log.count(|c| c.created += 1);
        Ok(())
    }

    /// [`Self::confirm`], and logs the import.
    async fn confirm_created(
        &self,
        entry: &NewSalesOrder<'_>,
        pulpo: (i64, PulpoOrderState),
    ) -> Result<(), StoreError> {
        self.confirm(entry, pulpo).await?;
        self.log
            .record(messages::order_imported(&entry.order.name, entry.draft));
        Ok(())
    }

    /// One create with its intent already saved: retried after lost answers, adopted when
    /// the `order_num` turns out taken by the same Shopify order.
    async fn create_one(
        &self,
        entry: &NewSalesOrder<'_>,
    ) -> Result<Result<(), Failure>, StoreError> {
        let draft = entry.draft;
        let mut attempt = 0;
        let created = loop {
            attempt += 1;
            match self.wms.create_sales_order(&entry.body).await {
                Ok(created) => break created,
                Err(PulpoError::Ambiguous { detail }) => {
                    match self.wms.sales_order_by_num(&draft.order_num).await {
                        Ok(Some(found)) => break found,
                        Ok(None) if attempt < CREATE_ATTEMPTS => {}
                        Ok(None) => {
                            return Ok(Err(Failure::Pulpo(PulpoError::Ambiguous { detail })));
                        }
                        Err(error) => return Ok(Err(error.into())),
                    }
                }
                Err(PulpoError::Rejected { errors, .. }) if is_taken(&errors) => {
                    return match self.adopt(entry, &errors).await {
                        Ok(Ok(found)) => {
                            self.confirm_created(entry, (found.id, found.state)).await?;
                            Ok(Ok(()))
                        }
                        Ok(Err(refused)) => Ok(Err(refused)),
                        Err(error) => Ok(Err(error.into())),
                    };
                }
                Err(PulpoError::Rejected { errors, .. }) => {
                    return Ok(Err(self.rejected(entry, &errors)));
                }
                Err(other) => return Ok(Err(other.into())),
            }
        };
        self.confirm_created(entry, (created.id, created.state))
            .await?;
        Ok(Ok(()))
    }

    /// Taken `order_num`: someone (another worker, an earlier run whose answer was lost)
    /// created it. The same order is adopted; another one is a rejection to explain.
    async fn adopt(
        &self,
        entry: &NewSalesOrder<'_>,
        errors: &[FieldMessage],
    ) -> Result<Result<SalesOrder, Failure>, PulpoError> {
        Ok(
            match self.wms.sales_order_by_num(&entry.draft.order_num).await? {
                Some(found) if is_same(&found, entry.draft) => Ok(found),
                _ => Err(self.rejected(entry, errors)),
            },
        )
    }

    fn rejected(&self, entry: &NewSalesOrder<'_>, errors: &[FieldMessage]) -> Failure {
        Failure::Logged(messages::pulpo_rejected_order(
            &entry.order.name,
            &entry.draft.order_num,
            &join(errors),
        ))
    }

    /// One bulk create of `new[chunk]` (intents saved), with look-ups and new attempts for
    /// the orders whose answer was lost. Fills `results` for every index of `chunk`.
    async fn create_bulk(
        &self,
        new: &[NewSalesOrder<'_>],
        chunk: &[usize],
        results: &mut [Created],
    ) -> Result<(), StoreError> {
        let mut open: Vec<usize> = chunk.to_vec();
        let mut attempt = 0;
        while !open.is_empty() {
            attempt += 1;
            let bodies: Vec<&SalesOrderBody> = open.iter().map(|&i| &new[i].body).collect();
            let (lost, detail) = match self.wms.create_sales_orders(&bodies).await {
                Ok(outcome) => {
                    let mut lost = Vec::new();
                    for &i in &open {
                        let entry = &new[i];
                        let num = entry.draft.order_num.as_str();
                        if let Some(created) = outcome.created.iter().find(|c| c.order_num == num) {
                            self.confirm_created(entry, (created.id, PulpoOrderState::Queue))
                                .await?;
                            results[i] = Some(Ok(()));
                        } else if let Some((_, errors)) =
                            outcome.errors.iter().find(|(n, _)| n == num)
                        {
                            results[i] = Some(if is_taken(errors) {
                                match self.adopt(entry, errors).await {
                                    Ok(Ok(found)) => {
                                        self.confirm_created(entry, (found.id, found.state))
                                            .await?;
                                        Ok(())
                                    }
                                    Ok(Err(refused)) => Err(refused),
                                    Err(error) => Err(error.into()),
                                }
                            } else {
                                Err(self.rejected(entry, errors))
                            });
                        } else {
                            // PULPO's answer does not mention it: as good as lost.
                            lost.push(i);
                        }
                    }
                    (
                        lost,
                        "PULPO's bulk answer did not mention the order".to_string(),
                    )
                }
                Err(PulpoError::Ambiguous { detail }) => (open, detail),
                Err(PulpoError::Rejected { .. }) => {
                    // A verdict on the request as a whole: let PULPO judge each order alone.
                    for &i in &open {
                        results[i] = Some(self.create_one(&new[i]).await?);
                    }
                    return Ok(());
                }
                Err(other) => {
                    for &i in &open {
                        results[i] = Some(Err(Failure::Pulpo(other.clone())));
                    }
                    return Ok(());
                }
            };
            if lost.is_empty() {
                break;
            }
            match self.find(new, &lost).await {
                Ok(found) => {
                    open = Vec::new();
                    for (i, pulpo) in lost.into_iter().zip(found) {
                        match pulpo {
                            Some(found) => {
                                self.confirm_created(&new[i], (found.id, found.state))
                                    .await?;
                                results[i] = Some(Ok(()));
                            }
                            None if attempt < CREATE_ATTEMPTS => open.push(i),
                            None => {
                                results[i] = Some(Err(Failure::Pulpo(PulpoError::Ambiguous {
                                    detail: detail.clone(),
                                })));
                            }
                        }
                    }
                }
                Err(error) => {
                    for i in lost {
                        results[i] = Some(Err(Failure::Pulpo(error.clone())));
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    /// The order's confirmed links with PULPO's current states (saved when they changed).
    pub(super) async fn refresh_states(
        &self,
        links: &[OrderLink],
    ) -> Result<Vec<LinkedSalesOrder>, Failure> {
        let mut fresh = Vec::with_capacity(links.len());
        for link in links {
            let Some(mut linked) = link.linked() else {
                continue;
            };
            match self.wms.sales_order(linked.pulpo_order_id).await {
                Ok(current) if current.state != link.pulpo_state => {
                    linked.state = current.state;
                    let updated = OrderLink {
                        pulpo_state: current.state,
                        updated_at: Utc::now(),
                        ..link.clone()
                    };
                    self.store
                        .write_held(self.log.lease(), &[HeldWrite::OrderLink(updated)])
                        .await?;
                }
                Ok(_) => {}
                // Deleted in PULPO: keep what we knew; the decision treats it as before.
                Err(PulpoError::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
            fresh.push(linked);
        }
        Ok(fresh)
    }

    async fn current_state(
        &self,
        pulpo_order_id: i64,
        fallback: PulpoOrderState,
    ) -> PulpoOrderState {
        self.wms
            .sales_order(pulpo_order_id)
            .await
            .map_or(fallback, |o| o.state)
    }

    async fn save_state(
        &self,
        order: &ShopifyOrder,
        pulpo_order_id: i64,
        state: PulpoOrderState,
        draft: Option<&SalesOrderDraft>,
    ) -> Result<(), Failure> {
        let links = self.store.order_links(self.scope, &order.id).await?;
        if let Some(link) = links
            .into_iter()
            .find(|l| l.pulpo_order_id == Some(pulpo_order_id))
        {
            let mut link = OrderLink {
                pulpo_state: state,
                updated_at: Utc::now(),
                ..link
            };
            if let Some(draft) = draft {
                link.fingerprint = draft.fingerprint();
                link.warehouse_id = draft.warehouse_id;
                link.fulfillment_order_id = draft.fulfillment_order_id.clone();
            }
            self.store
                .write_held(self.log.lease(), &[HeldWrite::OrderLink(link)])
                .await?;
        }
        Ok(())
    }

    /// Carries out the steps for an order already in PULPO.
    pub(super) async fn sync(
        &self,
        order: &ShopifyOrder,
        steps: Vec<Step>,
    ) -> Result<Handled, Failure> {
        let mut conflict: Option<String> = None;
        for step in steps {
            match step {
                Step::Create(draft) => {
                    let new = NewSalesOrder {
                        order,
                        draft: &draft,
                        body: self.resolve(&[&draft]).await.body(&draft)?,
                    };
                    self.create(std::slice::from_ref(&new))
                        .await?
                        .into_iter()
                        .try_for_each(|created| created)?;
                }
                Step::Update(update) => {
                    let body = self.resolve(&[&update.draft]).await.body(&update.draft)?;
                    match self
                        .wms
                        .update_sales_order(update.pulpo_order_id, &body)
                        .await
                    {
                        Ok(updated) => {
                            self.save_state(
                                order,
                                update.pulpo_order_id,
                                updated.state,
                                Some(&update.draft),
                            )
                            .await?;
                            self.log.count(|c| c.updated += 1);
                            self.log
                                .record(messages::order_updated(&order.name, &update));
                        }
                        Err(PulpoError::Rejected { errors, .. }) => {
                            let state = self
                                .current_state(update.pulpo_order_id, PulpoOrderState::Picking)
                                .await;
                            let detail = join(&errors);
                            let refused = update.refused(state, detail);
                            self.save_state(order, update.pulpo_order_id, state, None)
                                .await?;
                            conflict = Some(self.record_conflict(order, &refused));
                        }
                        Err(other) => return Err(other.into()),
                    }
                }
                Step::Cancel(cancellation) => match self
                    .wms
                    .cancel_sales_order(cancellation.pulpo_order_id)
                    .await
                {
                    Ok(cancelled) => {
                        self.save_state(order, cancellation.pulpo_order_id, cancelled.state, None)
                            .await?;
                        self.log.count(|c| c.cancelled += 1);
                        self.log
                            .record(messages::order_cancelled(&order.name, &cancellation));
                    }
                    Err(PulpoError::Rejected { errors, .. }) => {
                        let state = self
                            .current_state(cancellation.pulpo_order_id, cancellation.state)
                            .await;
                        let detail = join(&errors);
                        let refused = cancellation.refused(state, detail);
                        self.save_state(order, cancellation.pulpo_order_id, state, None)
                            .await?;
                        conflict = Some(self.record_conflict(order, &refused));
                    }
                    Err(other) => return Err(other.into()),
                },
                Step::Conflict(found) => conflict = Some(self.record_conflict(order, &found)),
            }
        }
        Ok(conflict.map_or(Handled::Done, Handled::Conflict))
    }

    fn record_conflict(
        &self,
        order: &ShopifyOrder,
        conflict: &tentacle_domain::sales_order::Conflict,
    ) -> String {
        let entry = messages::order_conflict(&order.name, conflict);
        let reason = entry.message.clone();
        self.log.count(|c| c.conflicts += 1);
        self.log.record(entry);
        reason
    }
}

fn join(errors: &[tentacle_pulpo::FieldMessage]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn is_taken(errors: &[FieldMessage]) -> bool {
    errors.iter().any(|e| e.field == "order_num")
}

/// Whether PULPO's order is the one this draft would create.
fn is_same(found: &SalesOrder, draft: &SalesOrderDraft) -> bool {
    found.external_order_num.as_deref() == Some(draft.external_order_num.as_str())
}

fn body(
    draft: &SalesOrderDraft,
    items: Vec<SalesOrderItem>,
    third_party_id: i64,
) -> SalesOrderBody {
    SalesOrderBody {
        order_num: draft.order_num.clone(),
        external_order_num: Some(draft.external_order_num.clone()),
        order_type: "sales_order".into(),
        warehouse_id: draft.warehouse_id,
        third_party_id: Some(third_party_id),
        channel: Some(draft.channel.to_string()),
        notes: None,
        items: items
            .into_iter()
            .map(|item| SalesItemBody {
                product_id: item.product_id,
                quantity: i64::from(item.quantity),
                line_order_id: item.line_order_id,
            })
            .collect(),
        ship_to: draft.ship_to.clone(),
    }
}
