//! The sales orders integration (Shopify → PULPO, SPEC §3): fetch the orders updated since the
//! cursor, decide per order with the domain's rules, and carry the decision out in PULPO exactly
//! once.
//!
//! The work is a pipeline of three stages, each taking pages in order, so that Shopify's rate
//! limit and PULPO's latency are paid at the same time rather than one after the other:
//!
//! 1. **fetch** reads the next page of orders from Shopify while the pages before it are worked
//!    on;
//! 2. **plan** decides what to do with each order of a page (up to `pulpo_concurrency` at once)
//!    and resolves the SKUs and customers of the page's new PULPO orders, each kind in one go;
//! 3. **write** carries the page's decisions out in PULPO (new orders in bulk, see
//!    [`writer`]), records every outcome, and only then moves the cursor to the page's last
//!    `updatedAt`.
//!
//! Channels of one page between the stages bound what is held in memory by the page size, not
//! by the number of orders a run reads. A failed order is flagged and re-fetched by id on later
//! runs, so the cursor never waits for it.

mod daily;
mod resolve;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use tentacle_domain::messages;
use tentacle_domain::order::ShopifyOrder;
use tentacle_domain::run::{LogEntry, RecordRef, Trigger};
use tentacle_domain::sales_order::{
    Decision, Planner, SalesOrderDraft, SalesOrderSettings, SkipReason, Step, Warehouses,
};
use tentacle_pulpo::PulpoClient;
use tentacle_pulpo::model::SalesOrderBody;
use tentacle_shopify::queries::OrdersPage;
use tentacle_shopify::{ShopifyClient, ShopifyError};
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, CredentialKind, ExclusionRole, HeldWrite, Integration,
    LinkScope, RecordKind, Run, RunExclusion, Store, StoreError,
};
use tokio::sync::mpsc;

use super::{Abort, IntegrationType, RunContext, is_systemic, pulpo_abort, shopify_abort};
use crate::log::RunLog;
use crate::options::RunOptions;
use resolve::ProductCache;
use writer::{Failure, NewSalesOrder};

/// The sales orders type (Shopify → PULPO).
pub struct SalesOrders;

pub const TYPE: &str = "sales_orders";

#[async_trait::async_trait]
impl IntegrationType for SalesOrders {
    const KEY: &'static str = TYPE;
    const LABEL: &'static str = "Sales orders";
    const SUMMARY: &'static str =
        "Imports eligible Shopify orders as PULPO sales orders, and cancels and updates them.";
    const ORIGIN: CredentialKind = CredentialKind::Shopify;
    const DESTINATION: CredentialKind = CredentialKind::Pulpo;
    const ORIGIN_HELP: &'static str = "The store orders come from.";
    const DESTINATION_HELP: &'static str = "The warehouse system they go to.";

    type Settings = SalesOrderSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &SalesOrderSettings) -> Result<(), Abort> {
        let run = SalesOrdersRun::start(run, settings.clone()).await?;
        run.retry_flagged(run.options).await?;
        run.fetch_and_handle(run.options).await
    }

    /// The daily re-fetch and the regular runs of one Shopify store (origin credential) never
    /// overlap (SPEC §3.4).
    fn exclusion(
        &self,
        integration: &Integration,
        settings: &SalesOrderSettings,
    ) -> Option<RunExclusion> {
        Some(RunExclusion {
            key: format!("shopify:{}", integration.origin_credential_id),
            role: if settings.transfer_once_a_day {
                ExclusionRole::Daily
            } else {
                ExclusionRole::Regular
            },
            gap_seconds: settings.time_difference_seconds,
        })
    }

    async fn on_start(
        &self,
        store: &dyn Store,
        integration: &Integration,
        settings: &SalesOrderSettings,
        run: &Run,
        log: &RunLog,
    ) -> Result<(), StoreError> {
        if settings.transfer_once_a_day || run.trigger == Trigger::Daily {
            daily::log_postponement(store, integration, run, log).await?;
        }
        Ok(())
    }
}

/// Orders updated this long before the cursor are read again: Shopify's search index lags
/// behind changes (about a minute observed), and an order it did not show yet must not be
/// skipped for good.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// Pages written while a page waits to be written: the one being written when its planning
/// started, and the one planned just before it (one page waits between plan and write).
const STALE_PAGES: usize = 2;

/// Everything one run works with.
struct SalesOrdersRun<'a> {
    store: &'a dyn Store,
    integration: &'a Integration,
    log: &'a RunLog,
    options: &'a RunOptions,
    settings: SalesOrderSettings,
    warehouses: Warehouses,
    shop: &'a ShopifyClient,
    wms: &'a PulpoClient,
    scope: LinkScope,
    products: ProductCache,
    /// PULPO requests in flight at once (the client holds to it) and orders decided at once.
    pulpo_concurrency: usize,
    /// Orders flagged as failed before this run, to clear once they succeed.
    flagged: HashSet<String>,
}

/// How handling one order ended, for the counters and the flags.
enum Handled {
    Done,
    Failed(String),
    Conflict(String),
}

/// One order of a batch and what is left to do for it once it is planned.
struct Planned {
    order: ShopifyOrder,
    work: Work,
}

enum Work {
    /// Left out by the rules, for this reason.
    Skip(SkipReason),
    /// Nothing changed since it was handled.
    Unchanged,
    /// Planning failed.
    Failed(Failure),
    /// New PULPO orders, one per fulfillment order, with their bodies.
    Import(Vec<(SalesOrderDraft, SalesOrderBody)>),
    /// Changes to the order's PULPO orders.
    Sync(Vec<Step>),
}

/// A page (or a batch of re-fetched orders), planned.
struct PlannedBatch {
    orders: Vec<Planned>,
    /// Where the cursor moves once the batch is written; `None` for orders that do not move it.
    cursor: Option<DateTime<Utc>>,
}

impl<'a> SalesOrdersRun<'a> {
    /// Checks both systems can be reached and reads the warehouses and locations.
    async fn start(
        context: &'a RunContext<'a>,
        settings: SalesOrderSettings,
    ) -> Result<SalesOrdersRun<'a>, Abort> {
        let (store, integration, log) = (context.store, context.integration, context.log);
        let (origin, destination) = (&context.origin, &context.destination);
        let (shop, wms) = (context.shopify(), context.pulpo());
        let pulpo_warehouses = wms
            .warehouses()
            .await
            .map_err(|e| pulpo_abort(&e, &destination.name))?;
        let warehouses = Warehouses::new(pulpo_warehouses.iter().map(|w| (w.name.clone(), w.id)))
            .map_err(|e| Abort::Entry(messages::duplicate_warehouse(&e)))?;
        let locations = shop
            .locations()
            .await
            .map_err(|e| shopify_abort(&e, &origin.name))?;
        if !locations
            .iter()
            .any(|l| warehouses.id_of(&l.name).is_some())
        {
            log.record(messages::no_connected_location(
                &locations.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
                &warehouses.names().map(str::to_string).collect::<Vec<_>>(),
            ));
        }

        let flagged = store.flags(Some(integration.id)).await?;
        Ok(SalesOrdersRun {
            store,
            integration,
            log,
            options: context.options,
            settings,
            warehouses,
            shop,
            wms,
            scope: LinkScope {
                origin_credential_id: origin.id,
                destination_credential_id: destination.id,
            },
            products: ProductCache::default(),
            pulpo_concurrency: context.options.pulpo_concurrency.max(1),
            flagged: flagged
                .iter()
                .filter(|f| {
                    f.kind == AttentionKind::Failed && f.key.record_kind == RecordKind::Order
                })
                .map(|f| f.key.record_id.clone())
                .collect(),
        })
    }
}

/// One order's sync with PULPO, tagged with the order's place in its page.
type SyncJob<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (usize, Result<Handled, Failure>)> + Send + 'a>,
>;

impl SalesOrdersRun<'_> {
    /// Orders that failed in earlier runs are read again by id, whatever the cursor says, and
    /// handled in batches of a page.
    async fn retry_flagged(&self, options: &RunOptions) -> Result<(), Abort> {
        let batch_size = (options.page_size as usize).max(1);
        let mut batch = Vec::new();
        for order_id in &self.flagged {
            let order = match self.shop.order(order_id).await {
                Ok(Some(order)) => order,
                Ok(None) => {
                    self.store
                        .write_held(self.log.lease(), &[self.clear_flag(order_id)])
                        .await?;
                    continue;
                }
                Err(ShopifyError::Decode(why)) => {
                    self.log.record(LogEntry::error(None, why));
                    continue;
                }
                Err(error) => return Err(shopify_abort(&error, "of this integration")),
            };
            self.log.count(|c| c.fetched += 1);
            batch.push(order);
            if batch.len() >= batch_size {
                let planned = self.plan(std::mem::take(&mut batch), None).await;
                self.write(planned).await?;
            }
        }
        if !batch.is_empty() {
            let planned = self.plan(batch, None).await;
            self.write(planned).await?;
        }
        self.log.flush().await?;
        Ok(())
    }

    /// The incremental fetch (or, in daily mode, the re-fetch of the whole timeframe), as the
    /// fetch → plan → write pipeline.
    async fn fetch_and_handle(&self, options: &RunOptions) -> Result<(), Abort> {
        let daily = self.settings.transfer_once_a_day;
        let until = options.now;
        let since = if daily {
            until - TimeDelta::days(self.settings.timeframe_days)
        } else {
            match self.store.cursor(self.integration.id).await? {
                Some(cursor) => cursor - OVERLAP,
                None => until - TimeDelta::days(self.settings.initial_import_days),
            }
        };
        // One page waits between stages; errors travel down the pipeline in page order, so
        // the pages before a failure are still written.
        let (pages_in, mut pages) = mpsc::channel::<Result<OrdersPage, Abort>>(1);
        let (planned_in, mut planned) = mpsc::channel::<Result<PlannedBatch, Abort>>(1);
        let fetch = async move {
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .shop
                    .orders_page(since, Some(until), after.as_deref(), options.page_size)
                    .await
                    .map_err(|e| shopify_abort(&e, "of this integration"));
                let next = match &page {
                    Ok(page) if page.has_next_page => page.end_cursor.clone(),
                    _ => None,
                };
                // A closed channel: the write stage stopped, the run is over.
                if pages_in.send(page).await.is_err() || next.is_none() {
                    return;
                }
                after = next;
            }
        };
        // One page at a time: a page planned ahead in a `buffered` stream would not be polled
        // while this loop waits for the write stage, and could sit on database connections
        // and PULPO turns the write stage needs.
        let plan = async move {
            while let Some(page) = pages.recv().await {
                let batch = match page {
                    Ok(page) => Ok(self.plan_page(page, daily).await),
                    Err(abort) => Err(abort),
                };
                if planned_in.send(batch).await.is_err() {
                    return;
                }
            }
        };
        let write = async move {
            // The orders of the pages written while the page at hand was planned.
            let mut recent: VecDeque<HashSet<String>> = VecDeque::with_capacity(STALE_PAGES);
            while let Some(batch) = planned.recv().await {
                let batch = self.replan_stale(batch?, &recent).await;
                let cursor = batch.cursor;
                if recent.len() == STALE_PAGES {
                    recent.pop_front();
                }
                recent.push_back(batch.orders.iter().map(|p| p.order.id.clone()).collect());
                self.write(batch).await?;
                self.log.flush().await?;
                // Everything on this page is committed: later runs start after it.
                if let Some(last) = cursor {
                    self.store
                        .write_held(self.log.lease(), &[self.cursor(last)])
                        .await?;
                }
            }
            Ok::<(), Abort>(())
        };
        let feed = async {
            tokio::join!(fetch, plan);
        };
        // The write stage decides the outcome; when it stops early, the stages feeding it are
        // dropped with it.
        match select(std::pin::pin!(write), std::pin::pin!(feed)).await {
            Either::Left((written, _)) => written?,
            Either::Right(((), write)) => write.await?,
        }
        if !daily {
            self.store
                .write_held(self.log.lease(), &[self.cursor(until)])
                .await?;
        }
        Ok(())
    }

    /// An order changed while a run reads it shows up again on a later page. If that page was
    /// planned before the earlier one was written, its decision rests on links that have
    /// changed since (a create that has happened, a cancel that has been done): such orders
    /// are decided again now that the earlier pages are written.
    async fn replan_stale(
        &self,
        batch: PlannedBatch,
        recent: &VecDeque<HashSet<String>>,
    ) -> PlannedBatch {
        let (stale, mut orders): (Vec<Planned>, Vec<Planned>) =
            batch.orders.into_iter().partition(|planned| {
                recent
                    .iter()
                    .any(|written| written.contains(&planned.order.id))
            });
        if !stale.is_empty() {
            let again = self
                .plan(stale.into_iter().map(|p| p.order).collect(), None)
                .await;
            orders.extend(again.orders);
        }
        PlannedBatch {
            orders,
            cursor: batch.cursor,
        }
    }

    /// Counts a fetched page, records the orders it could not read, and plans the others.
    async fn plan_page(&self, page: OrdersPage, daily: bool) -> PlannedBatch {
        self.log
            .count(|c| c.fetched += (page.orders.len() + page.problems.len()) as u64);
        for (name, why) in page.problems {
            self.log
                .record(LogEntry::error(Some(RecordRef::Order(name)), why));
            self.log.count(|c| c.failed += 1);
        }
        let cursor = if daily { None } else { page.last_updated_at };
        self.plan(page.orders, cursor).await
    }

    /// Decides for each order (up to `pulpo_concurrency` at once), then resolves the SKUs and
    /// customers of every new PULPO order of the batch in one go.
    async fn plan(&self, orders: Vec<ShopifyOrder>, cursor: Option<DateTime<Utc>>) -> PlannedBatch {
        let decided: Vec<(ShopifyOrder, Result<Decision, Failure>)> =
            futures_util::stream::iter(orders.into_iter().map(|order| async move {
                let decision = self.decide(&order).await;
                (order, decision)
            }))
            .buffered(self.pulpo_concurrency)
            .collect()
            .await;
        let drafts: Vec<&SalesOrderDraft> = decided
            .iter()
            .filter_map(|(_, decision)| match decision {
                Ok(Decision::Import(drafts)) => Some(drafts),
                _ => None,
            })
            .flatten()
            .collect();
        let resolved = self.resolve(&drafts).await;
        let orders = decided
            .into_iter()
            .map(|(order, decision)| {
                let work = match decision {
                    Err(failure) => Work::Failed(failure),
                    Ok(Decision::Skip(reason)) => Work::Skip(reason),
                    Ok(Decision::Unchanged) => Work::Unchanged,
                    Ok(Decision::Sync(steps)) => Work::Sync(steps),
                    Ok(Decision::Import(drafts)) => {
                        // An order whose PULPO orders cannot all be prepared creates none of
                        // them this run.
                        let bodies: Result<Vec<_>, Failure> =
                            drafts.iter().map(|draft| resolved.body(draft)).collect();
                        match bodies {
                            Ok(bodies) => Work::Import(drafts.into_iter().zip(bodies).collect()),
                            Err(failure) => Work::Failed(failure),
                        }
                    }
                };
                Planned { order, work }
            })
            .collect();
        PlannedBatch { orders, cursor }
    }

    /// Carries out a planned batch: every new PULPO order in as few requests as possible, the
    /// changes to existing ones order by order, then every outcome recorded.
    async fn write(&self, batch: PlannedBatch) -> Result<(), Abort> {
        // Orders whose planning failed have nothing to write: settled first.
        let (failed, orders): (Vec<Planned>, Vec<Planned>) = batch
            .orders
            .into_iter()
            .partition(|planned| matches!(planned.work, Work::Failed(_)));
        for planned in failed {
            if let Work::Failed(failure) = planned.work {
                self.settle(&planned.order, Err(failure)).await?;
            }
        }
        let new: Vec<NewSalesOrder<'_>> = orders
            .iter()
            .filter_map(|planned| match &planned.work {
                Work::Import(drafts) => Some(drafts.iter().map(|(draft, body)| NewSalesOrder {
                    order: &planned.order,
                    draft,
                    body: body.clone(),
                })),
                _ => None,
            })
            .flatten()
            .collect();
        // Boxed one by one (not built in an iterator adapter): the worker spawns this future,
        // and closures returning futures inside adapters defeat the compiler's `Send` proof.
        let mut sync_jobs: Vec<SyncJob<'_>> = Vec::new();
        for (index, planned) in orders.iter().enumerate() {
            if let Work::Sync(steps) = &planned.work {
                let steps = steps.clone();
                sync_jobs.push(Box::pin(async move {
                    (index, self.sync(&planned.order, steps).await)
                }));
            }
        }
        let syncs = futures_util::stream::iter(sync_jobs)
            .buffer_unordered(self.pulpo_concurrency)
            .collect::<Vec<_>>();
        let (created, synced) = tokio::join!(self.create(&new), syncs);
        let mut created = created?.into_iter();
        let mut synced = synced
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>();
        for (index, planned) in orders.iter().enumerate() {
            let outcome = match &planned.work {
                Work::Skip(reason) => {
                    self.log.count(|c| c.skipped += 1);
                    self.log
                        .record(messages::order_skipped(&planned.order.name, reason));
                    Ok(Handled::Done)
                }
                Work::Unchanged => Ok(Handled::Done),
                Work::Failed(_) => continue,
                Work::Import(drafts) => {
                    // Every result of this order is taken, failed or not, so the next order
                    // gets its own.
                    let results: Vec<_> = created.by_ref().take(drafts.len()).collect();
                    results
                        .into_iter()
                        .collect::<Result<Vec<()>, Failure>>()
                        .map(|_| Handled::Done)
                }
                Work::Sync(_) => synced.remove(&index).unwrap_or(Ok(Handled::Done)),
            };
            self.settle(&planned.order, outcome).await?;
        }
        Ok(())
    }

    /// Records how handling `order` ended in the counters, the log and the flags.
    async fn settle(
        &self,
        order: &ShopifyOrder,
        outcome: Result<Handled, Failure>,
    ) -> Result<(), Abort> {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(Failure::Pulpo(error)) if is_systemic(&error) => {
                return Err(pulpo_abort(&error, "of this integration"));
            }
            Err(Failure::Pulpo(error)) => {
                let entry = LogEntry::error(
                    Some(RecordRef::Order(order.name.clone())),
                    format!("{error}: the order is retried on the next run"),
                );
                let reason = entry.message.clone();
                self.log.record(entry);
                Handled::Failed(reason)
            }
            Err(Failure::Order(error)) => {
                let entry = messages::order_failed(&order.name, &error);
                let reason = entry.message.clone();
                self.log.record(entry);
                Handled::Failed(reason)
            }
            Err(Failure::Logged(entry)) => {
                let reason = entry.message.clone();
                self.log.record(entry);
                Handled::Failed(reason)
            }
            Err(Failure::Store(error)) => return Err(Abort::Store(error)),
        };
        match outcome {
            Handled::Done => {
                if self.flagged.contains(&order.id) {
                    self.store
                        .write_held(self.log.lease(), &[self.clear_flag(&order.id)])
                        .await?;
                }
            }
            Handled::Failed(reason) => {
                self.log.count(|c| c.failed += 1);
                self.flag(order, AttentionKind::Failed, reason).await?;
            }
            Handled::Conflict(reason) => self.flag(order, AttentionKind::Conflict, reason).await?,
        }
        Ok(())
    }

    async fn flag(
        &self,
        order: &ShopifyOrder,
        kind: AttentionKind,
        reason: String,
    ) -> Result<(), Abort> {
        let attention = Attention {
            key: self.order_key(&order.id),
            record_label: order.name.clone(),
            kind,
            reason,
            attempts: 1,
            run_id: Some(self.log.lease().run_id),
            updated_at: Utc::now(),
        };
        Ok(self
            .store
            .write_held(self.log.lease(), &[HeldWrite::Flag(attention)])
            .await?)
    }

    /// The attention flag of the Shopify order `order_id` in this configuration.
    fn order_key(&self, order_id: &str) -> AttentionKey {
        AttentionKey {
            integration_id: self.integration.id,
            record_kind: RecordKind::Order,
            record_id: order_id.to_string(),
        }
    }

    fn clear_flag(&self, order_id: &str) -> HeldWrite {
        HeldWrite::ClearFlag(self.order_key(order_id))
    }

    /// This configuration's cursor moved to `at`: orders updated up to then are handled.
    fn cursor(&self, at: DateTime<Utc>) -> HeldWrite {
        HeldWrite::Cursor {
            integration_id: self.integration.id,
            at,
        }
    }

    /// What to do with `order`, from the rules and what we know of its PULPO orders.
    async fn decide(&self, order: &ShopifyOrder) -> Result<Decision, Failure> {
        let planner = Planner::new(&self.settings, &self.warehouses);
        let links = self.store.order_links(self.scope, &order.id).await?;
        let confirmed: Vec<_> = links.iter().filter_map(|l| l.linked()).collect();
        Ok(match planner.decide(order, &confirmed)? {
            Decision::Sync(_) => {
                // What we remember of PULPO's states may be stale (PULPO works without telling
                // us): read them fresh before changing or cancelling anything.
                let fresh = self.refresh_states(&links).await?;
                planner.decide(order, &fresh)?
            }
            other => other,
        })
    }
}
