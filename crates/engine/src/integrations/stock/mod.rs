//! The stock integration (PULPO → Shopify, SPEC §2 and §4): Shopify's `available` at each
//! location connected to a PULPO warehouse (the same name) follows PULPO's available stock, SKU
//! by SKU, reconciled against Shopify's current value on every run, so a value changed by hand
//! in Shopify is corrected and nothing depends on what tentacle pushed before.
//!
//! Per location:
//! 1. [`read`]: what Shopify has committed at the location for orders PULPO does not hold yet
//!    (the sales orders links say which it holds), then Shopify's inventory page by page, each
//!    page's SKUs looked up in PULPO while the next page is read;
//! 2. the domain's [`Reconcile`] decides (safety stock, the oversell window, not stocked,
//!    duplicates, untracked, one-sided SKUs);
//! 3. [`write`]: only the differences, 250 per `inventorySetQuantities`, each with the value read
//!    as `changeFromQuantity` and an idempotency key per batch; a quantity another app moved
//!    meanwhile is read again and retried, never overwritten blindly.
//!
//! A run that stops anywhere (a crash, a lost lease) leaves Shopify with values that are each
//! either the old or the new one; the next run reads both sides afresh and converges.

mod read;
mod write;

use std::collections::HashSet;

use tentacle_domain::messages;
use tentacle_domain::run::{LogEntry, RecordKind};
use tentacle_domain::stock::{Reconcile, StockSettings};
use tentacle_pulpo::model::Warehouse;
use tentacle_shopify::queries::Location;
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, CredentialKind, HeldWrite, LinkScope,
};

use super::{Abort, IntegrationType, RunContext, pulpo_abort, shopify_abort};
use crate::log::RunLog;

/// The stock type (PULPO → Shopify).
pub struct Stock;

pub const TYPE: &str = "stock";

#[async_trait::async_trait]
impl IntegrationType for Stock {
    const KEY: &'static str = TYPE;
    const LABEL: &'static str = "Stock";
    const SUMMARY: &'static str = "Sets Shopify's available quantity at each location connected \
                                   to a PULPO warehouse from PULPO's available stock.";
    const ORIGIN: CredentialKind = CredentialKind::Pulpo;
    const DESTINATION: CredentialKind = CredentialKind::Shopify;
    const ORIGIN_HELP: &'static str = "The warehouse system the stock comes from.";
    const DESTINATION_HELP: &'static str = "The store whose available quantities follow it.";

    type Settings = StockSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &StockSettings) -> Result<(), Abort> {
        let stock = StockRun::start(run, settings).await?;
        for (location, warehouse) in stock.connected().await? {
            stock.location(&location, &warehouse).await?;
        }
        Ok(())
    }
}

/// Everything one run works with.
struct StockRun<'a> {
    context: &'a RunContext<'a>,
    settings: &'a StockSettings,
    /// The sales orders links of this store and PULPO: which orders PULPO holds.
    scope: LinkScope,
    /// Records flagged before this run, to clear once they are no longer a failure.
    flagged: HashSet<String>,
}

/// How one location's push ended, for the counters and the flags.
#[derive(Debug, Default)]
struct Pushed {
    updated: u64,
    activated: u64,
    /// SKUs left as they were for a reason the log gives (not stocked after all, gone).
    skipped: u64,
    /// SKUs that failed, with why.
    failed: Vec<(String, String)>,
}

impl Pushed {
    /// Records that `sku` failed: `entry` in the log, its words as the reason of its flag.
    fn fail(&mut self, log: &RunLog, sku: String, entry: LogEntry) {
        self.failed.push((sku, entry.message.clone()));
        log.record(entry);
    }
}

impl<'a> StockRun<'a> {
    async fn start(
        context: &'a RunContext<'a>,
        settings: &'a StockSettings,
    ) -> Result<StockRun<'a>, Abort> {
        let flagged = context
            .store
            .flags(Some(context.integration.id))
            .await?
            .into_iter()
            .filter(|f| f.key.record_kind == RecordKind::Sku)
            .map(|f| f.key.record_id)
            .collect();
        Ok(StockRun {
            context,
            settings,
            scope: LinkScope {
                origin_credential_id: context.credential(CredentialKind::Shopify).id,
                destination_credential_id: context.credential(CredentialKind::Pulpo).id,
            },
            flagged,
        })
    }

    fn shopify_abort(&self, error: &tentacle_shopify::ShopifyError) -> Abort {
        shopify_abort(
            error,
            &self.context.credential(CredentialKind::Shopify).name,
        )
    }

    fn pulpo_abort(&self, error: &tentacle_pulpo::PulpoError) -> Abort {
        pulpo_abort(error, &self.context.credential(CredentialKind::Pulpo).name)
    }

    /// The (location, warehouse) pairs of the same name this configuration covers; a location
    /// the settings name that is not such a pair, or no pair at all, is a warning.
    async fn connected(&self) -> Result<Vec<(Location, Warehouse)>, Abort> {
        let (locations, warehouses) = tokio::join!(
            self.context.shopify().locations(),
            self.context.pulpo().warehouses()
        );
        let locations: Vec<Location> = locations
            .map_err(|e| self.shopify_abort(&e))?
            .into_iter()
            .filter(|l| l.is_active)
            .collect();
        let warehouses = warehouses.map_err(|e| self.pulpo_abort(&e))?;
        let location_names: Vec<String> = locations.iter().map(|l| l.name.clone()).collect();
        let warehouse_names: Vec<String> = warehouses.iter().map(|w| w.name.clone()).collect();
        let pairs: Vec<(Location, Warehouse)> = locations
            .iter()
            .filter_map(|l| {
                let warehouse = warehouses.iter().find(|w| w.name == l.name)?;
                Some((l.clone(), warehouse.clone()))
            })
            .collect();
        let log = self.context.log;
        if self.settings.locations.is_empty() {
            if pairs.is_empty() {
                log.record(messages::stock_no_connected_location(
                    &location_names,
                    &warehouse_names,
                ));
            }
            return Ok(pairs);
        }
        for name in &self.settings.locations {
            if !pairs.iter().any(|(l, _)| &l.name == name) {
                log.record(messages::stock_location_not_connected(
                    name,
                    &location_names,
                    &warehouse_names,
                ));
            }
        }
        Ok(pairs
            .into_iter()
            .filter(|(l, _)| self.settings.locations.contains(&l.name))
            .collect())
    }

    /// Reconciles one location.
    async fn location(&self, location: &Location, warehouse: &Warehouse) -> Result<(), Abort> {
        let log = self.context.log;
        let committed = self.committed(location).await?;
        let mut reconcile = Reconcile::new(
            self.settings.safety_stock,
            self.settings.activate_missing_items,
        );
        self.read_inventory(location, warehouse, &committed, &mut reconcile)
            .await?;
        let (mut plan, shopify_skus) = reconcile.finish();
        // PULPO's products are paged once more to count the ones Shopify lacks, while the
        // differences go to Shopify: one system each.
        let (only_in_pulpo, pushed) = tokio::join!(
            self.only_in_pulpo(&shopify_skus),
            self.push(location, &plan.sets, &plan.activations)
        );
        drop(shopify_skus);
        plan.only_in_pulpo = only_in_pulpo?;
        let pushed = pushed?;

        for sku in &plan.not_stocked {
            log.record(messages::stock_not_stocked(sku, &location.name));
        }
        for sku in &plan.untracked {
            log.record(messages::stock_untracked(sku));
        }
        for sku in &plan.duplicate_in_pulpo {
            log.record(messages::stock_duplicate_in_pulpo(sku));
        }
        for sku in &plan.duplicate_in_shopify {
            let variants = self
                .context
                .shopify()
                .inventory_with_sku(&location.id, sku)
                .await
                .map_err(|e| self.shopify_abort(&e))?;
            let names: Vec<String> = variants.into_iter().map(|v| v.variant_name).collect();
            log.record(messages::stock_duplicate_sku(sku, &names));
        }
        if plan.only_in_pulpo.count + plan.only_in_shopify.count > 0 {
            log.record(messages::stock_one_sided(
                &location.name,
                &plan.only_in_pulpo,
                &plan.only_in_shopify,
            ));
        }

        let failed = pushed.failed.len() as u64;
        let skipped = (plan.not_stocked.len()
            + plan.untracked.len()
            + plan.duplicate_in_pulpo.len()
            + plan.duplicate_in_shopify.len()) as u64
            + pushed.skipped;
        log.count(|c| {
            c.fetched += plan.compared;
            c.updated += pushed.updated;
            c.created += pushed.activated;
            c.skipped += skipped;
            c.failed += failed;
        });
        self.settle_flags(location, &pushed.failed).await?;
        log.record(messages::stock_location_done(
            &location.name,
            plan.compared,
            pushed.updated,
            pushed.activated,
            plan.unchanged,
            failed,
            plan.held_for_orders,
        ));
        log.flush().await?;
        Ok(())
    }

    /// Flags the SKUs that failed at `location` and clears the flags of this location's SKUs
    /// that did not fail this time, in one held-lease write.
    async fn settle_flags(
        &self,
        location: &Location,
        failed: &[(String, String)],
    ) -> Result<(), Abort> {
        let context = self.context;
        let key = |sku: &str| AttentionKey {
            integration_id: context.integration.id,
            record_kind: RecordKind::Sku,
            record_id: record_id(&location.name, sku),
        };
        let failing: HashSet<String> = failed
            .iter()
            .map(|(sku, _)| record_id(&location.name, sku))
            .collect();
        let prefix = record_id(&location.name, "");
        let mut writes: Vec<HeldWrite> = self
            .flagged
            .iter()
            .filter(|id| id.starts_with(&prefix) && !failing.contains(*id))
            .map(|id| {
                HeldWrite::ClearFlag(AttentionKey {
                    integration_id: context.integration.id,
                    record_kind: RecordKind::Sku,
                    record_id: id.clone(),
                })
            })
            .collect();
        writes.extend(failed.iter().map(|(sku, reason)| {
            HeldWrite::Flag(Attention {
                key: key(sku),
                record_label: format!("SKU {sku} at {}", location.name),
                kind: AttentionKind::Failed,
                reason: reason.clone(),
                attempts: 1,
                run_id: Some(context.log.lease().run_id),
                updated_at: chrono::Utc::now(),
            })
        }));
        if !writes.is_empty() {
            context.log.flush().await?;
            context
                .store
                .write_held(context.log.lease(), &writes)
                .await?;
        }
        Ok(())
    }
}

/// The attention record of a SKU at a location: the same SKU at two locations is two records.
fn record_id(location: &str, sku: &str) -> String {
    format!("{location}:{sku}")
}
