//! Carrying decisions out in PULPO: create (exactly once), update, cancel, and recording
//! conflicts when PULPO refuses.
//!
//! Exactly once (SPEC §3.3): before a create, a link without a PULPO id is saved (the intent).
//! If the create's answer is lost (timeout, cut connection, 5xx), or our process dies before
//! the answer is committed, the intent is still there on the next attempt, and the order is
//! looked up by `order_num` before it is created again.

use chrono::Utc;
use tentacle_domain::messages;
use tentacle_domain::order::ShopifyOrder;
use tentacle_domain::run::LogEntry;
use tentacle_domain::sales_order::{
    CustomerRef, LinkedSalesOrder, OrderError, PulpoOrderState, SalesOrderDraft, Step,
};
use tentacle_pulpo::PulpoError;
use tentacle_pulpo::model::{SalesItemBody, SalesOrder, SalesOrderBody};
use tentacle_store::{OrderLink, StoreError};

use super::{Handled, SalesOrdersRun};

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

impl SalesOrdersRun<'_> {
    /// The PULPO body for `draft`: SKUs resolved to product ids, the customer matched or created.
    async fn prepare(&self, draft: &SalesOrderDraft) -> Result<SalesOrderBody, Failure> {
        let mut ids = std::collections::HashMap::new();
        for sku in draft.skus() {
            ids.insert(
                sku.to_string(),
                self.products.product_id(&self.wms, sku).await?,
            );
        }
        let items = draft.resolve_products(|sku| ids.get(sku).copied().flatten())?;
        let third_party_id = match &draft.customer {
            CustomerRef::Shopify(customer) => {
                self.customers.customer_id(&self.wms, customer).await?
            }
            CustomerRef::Fallback(id) => *id,
        };
        Ok(SalesOrderBody {
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
        })
    }

    fn link(
        &self,
        order: &ShopifyOrder,
        draft: &SalesOrderDraft,
        pulpo: Option<&SalesOrder>,
    ) -> OrderLink {
        OrderLink {
            scope: self.scope,
            fulfillment_order_id: draft.fulfillment_order_id.clone(),
            shopify_order_id: order.id.clone(),
            order_name: order.name.clone(),
            order_num: draft.order_num.clone(),
            warehouse_id: draft.warehouse_id,
            pulpo_order_id: pulpo.map(|o| o.id),
            pulpo_state: pulpo.map_or(PulpoOrderState::Queue, |o| o.state),
            fingerprint: draft.fingerprint(),
            updated_at: Utc::now(),
        }
    }

    /// Creates the PULPO order for `draft` unless PULPO already has it.
    pub(super) async fn create(
        &self,
        order: &ShopifyOrder,
        draft: &SalesOrderDraft,
    ) -> Result<(), Failure> {
        let body = self.prepare(draft).await?;
        let earlier = self
            .store
            .order_link(self.scope, &draft.fulfillment_order_id)
            .await?;
        if earlier.is_some_and(|link| link.pulpo_order_id.is_none()) {
            // An earlier attempt may have reached PULPO without us hearing back.
            if let Some(found) = self.wms.sales_order_by_num(&draft.order_num).await? {
                self.store
                    .save_order_link(&self.link(order, draft, Some(&found)))
                    .await?;
                self.log.count(|c| c.created += 1);
                self.log.record(messages::order_found_in_pulpo(
                    &order.name,
                    &draft.order_num,
                ));
                return Ok(());
            }
        }
        self.store
            .save_order_link(&self.link(order, draft, None))
            .await?;
        let mut attempt = 0;
        let created = loop {
            attempt += 1;
            match self.wms.create_sales_order(&body).await {
                Ok(created) => break created,
                Err(PulpoError::Ambiguous { detail }) => {
                    if let Some(found) = self.wms.sales_order_by_num(&draft.order_num).await? {
                        break found;
                    }
                    if attempt >= CREATE_ATTEMPTS {
                        return Err(Failure::Pulpo(PulpoError::Ambiguous { detail }));
                    }
                }
                Err(PulpoError::Rejected { errors, .. })
                    if errors.iter().any(|e| e.field == "order_num") =>
                {
                    // Taken: someone (another worker, an earlier run whose answer was lost)
                    // created it. Adopt it if it is the same order; otherwise say so.
                    match self.wms.sales_order_by_num(&draft.order_num).await? {
                        Some(found)
                            if found.external_order_num.as_deref()
                                == Some(draft.external_order_num.as_str()) =>
                        {
                            break found;
                        }
                        _ => {
                            return Err(Failure::Logged(messages::pulpo_rejected_order(
                                &order.name,
                                &draft.order_num,
                                &join(&errors),
                            )));
                        }
                    }
                }
                Err(PulpoError::Rejected { errors, .. }) => {
                    return Err(Failure::Logged(messages::pulpo_rejected_order(
                        &order.name,
                        &draft.order_num,
                        &join(&errors),
                    )));
                }
                Err(other) => return Err(Failure::Pulpo(other)),
            }
        };
        self.store
            .save_order_link(&self.link(order, draft, Some(&created)))
            .await?;
        self.log.count(|c| c.created += 1);
        self.log
            .record(messages::order_imported(&order.name, draft));
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
                    self.store.save_order_link(&updated).await?;
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
            self.store.save_order_link(&link).await?;
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
                Step::Create(draft) => self.create(order, &draft).await?,
                Step::Update(update) => {
                    let body = self.prepare(&update.draft).await?;
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
