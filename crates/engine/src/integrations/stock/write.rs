//! What a stock run writes to Shopify: the differences, 250 quantities per
//! `inventorySetQuantities`, each with the value read as `changeFromQuantity` (a compare and
//! swap) under an idempotency key per batch, and the items to activate at the location.
//!
//! Shopify applies a set call all or nothing. When it refuses some quantities, the others go
//! again in a new call (a new batch, so a new key); a quantity that was stale (another app moved
//! it since the read) is read again and retried with the fresh value up to
//! [`STALE_ATTEMPTS`] times, then left for the next run with a warning: never overwritten
//! blindly.

use std::collections::HashMap;

use tentacle_domain::messages;
use tentacle_domain::stock::{Activation, Set, idempotency_key};
use tentacle_shopify::inventory::{
    InventorySet, InventorySetErrorCode, InventorySetQuantity, MAX_PAGE,
};
use tentacle_shopify::queries::Location;

use super::{Pushed, StockRun};
use crate::integrations::Abort;

/// Retries of one quantity that keeps coming back stale, after the first try.
pub(super) const STALE_ATTEMPTS: u32 = 3;

/// Shopify's reason code for a quantity set to match the warehouse's count.
const REASON: &str = "correction";

impl StockRun<'_> {
    /// Sets `sets` and activates `activations` at `location`.
    pub(super) async fn push(
        &self,
        location: &Location,
        sets: &[Set],
        activations: &[Activation],
    ) -> Result<Pushed, Abort> {
        let mut pushed = Pushed::default();
        for batch in sets.chunks(MAX_PAGE as usize) {
            self.set_batch(location, batch.to_vec(), &mut pushed)
                .await?;
            // A batch's entries go to the database with it, rather than every entry of a large
            // push waiting in memory for the location's end.
            self.context.log.flush().await?;
        }
        for activation in activations {
            self.activate(location, activation, &mut pushed).await?;
        }
        Ok(pushed)
    }

    /// One batch until every quantity in it is set, left alone, or failed.
    async fn set_batch(
        &self,
        location: &Location,
        mut pending: Vec<Set>,
        pushed: &mut Pushed,
    ) -> Result<(), Abort> {
        let (shop, log) = (self.context.shopify(), self.context.log);
        let run_id = log.lease().run_id;
        let mut stale: HashMap<String, u32> = HashMap::new();
        while !pending.is_empty() {
            let set = InventorySet {
                reason: REASON.into(),
                reference_document_uri: Some(format!("gid://tentacle/StockRun/{run_id}")),
                quantities: pending
                    .iter()
                    .map(|s| InventorySetQuantity {
                        inventory_item_id: s.inventory_item_id.clone(),
                        location_id: location.id.clone(),
                        quantity: s.to,
                        change_from_quantity: Some(s.from),
                    })
                    .collect(),
            };
            let key = idempotency_key(run_id, &location.id, &pending);
            let outcome = shop
                .inventory_set_quantities(&set, &key)
                .await
                .map_err(|e| self.shopify_abort(&e))?;
            if outcome.applied() {
                for s in &pending {
                    log.record(messages::stock_set(&s.sku, &location.name, s.from, s.to));
                }
                pushed.updated += pending.len() as u64;
                return Ok(());
            }
            // Refused whole: sort the refusals out, send the rest again.
            let mut refusals: HashMap<usize, (InventorySetErrorCode, String)> = HashMap::new();
            let mut unplaced = Vec::new();
            for error in outcome.user_errors {
                match error.quantity_index.filter(|i| *i < pending.len()) {
                    Some(index) => {
                        refusals.insert(index, (error.code, error.message));
                    }
                    None => unplaced.push(error.message),
                }
            }
            if refusals.is_empty() {
                // Shopify refused the call without naming a quantity: every one fails alike.
                let detail = unplaced.join("; ");
                for s in pending.drain(..) {
                    let entry = messages::stock_refused(&s.sku, &location.name, &detail);
                    pushed.fail(log, s.sku, entry);
                }
                return Ok(());
            }
            let mut again = Vec::with_capacity(pending.len());
            for (index, s) in pending.into_iter().enumerate() {
                match refusals.remove(&index) {
                    None => again.push(s),
                    Some((InventorySetErrorCode::ChangeFromQuantityStale, _)) => {
                        let attempts = stale.entry(s.inventory_item_id.clone()).or_default();
                        *attempts += 1;
                        if *attempts > STALE_ATTEMPTS {
                            let entry =
                                messages::stock_kept_changing(&s.sku, &location.name, *attempts);
                            pushed.fail(log, s.sku, entry);
                            continue;
                        }
                        if let Some(fresh) = self.read_again(location, s, pushed).await? {
                            again.push(fresh);
                        }
                    }
                    Some((InventorySetErrorCode::ItemNotStockedAtLocation, _)) => {
                        // Unstocked since the read (API versions up to 2026-07 refuse the set).
                        log.record(messages::stock_not_stocked(&s.sku, &location.name));
                        pushed.skipped += 1;
                    }
                    Some((_, message)) => {
                        let entry = messages::stock_refused(&s.sku, &location.name, &message);
                        pushed.fail(log, s.sku, entry);
                    }
                }
            }
            pending = again;
        }
        Ok(())
    }

    /// A stale quantity read again: the set to retry from the fresh value, or `None` when there
    /// is nothing to do any more (already right, unstocked, gone).
    async fn read_again(
        &self,
        location: &Location,
        set: Set,
        pushed: &mut Pushed,
    ) -> Result<Option<Set>, Abort> {
        let log = self.context.log;
        let fresh = self
            .context
            .shopify()
            .inventory_item(&set.inventory_item_id, &location.id)
            .await
            .map_err(|e| self.shopify_abort(&e))?;
        match fresh.and_then(|item| item.level) {
            Some(level) if level.active && level.available == set.to => Ok(None),
            Some(level) if level.active => Ok(Some(Set {
                from: level.available,
                ..set
            })),
            _ => {
                log.record(messages::stock_not_stocked(&set.sku, &location.name));
                pushed.skipped += 1;
                Ok(None)
            }
        }
    }

    /// Stocks one item at the location with its quantity.
    async fn activate(
        &self,
        location: &Location,
        activation: &Activation,
        pushed: &mut Pushed,
    ) -> Result<(), Abort> {
        let log = self.context.log;
        let key = format!(
            "tentacle-activate-{}-{}",
            log.lease().run_id,
            activation
                .inventory_item_id
                .rsplit('/')
                .next()
                .unwrap_or_default()
        );
        let answer = self
            .context
            .shopify()
            .inventory_activate(
                &activation.inventory_item_id,
                &location.id,
                Some(activation.to),
                &key,
            )
            .await
            .map_err(|e| self.shopify_abort(&e))?;
        if answer.user_errors.is_empty() {
            log.record(messages::stock_activated(
                &activation.sku,
                &location.name,
                activation.to,
            ));
            pushed.activated += 1;
        } else {
            let detail: Vec<String> = answer.user_errors.into_iter().map(|e| e.message).collect();
            let entry =
                messages::stock_refused(&activation.sku, &location.name, &detail.join("; "));
            pushed.fail(log, activation.sku.clone(), entry);
        }
        Ok(())
    }
}
