//! The sales orders integration (Shopify → PULPO, SPEC §3): fetch the orders updated since the
//! cursor, decide per order with the domain's rules, and carry the decision out in PULPO exactly
//! once.
//!
//! Order of work per page: every order of the page is handled (up to `concurrency` at once) and
//! committed, then the cursor moves to the page's last `updatedAt`. A failed order is flagged and
//! re-fetched by id on later runs, so the cursor never waits for it.

mod caches;
mod writer;

use std::collections::HashSet;

use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;
use tentacle_domain::messages::{self, System};
use tentacle_domain::order::ShopifyOrder;
use tentacle_domain::run::{LogEntry, RecordRef};
use tentacle_domain::sales_order::{Decision, Planner, Warehouses};
use tentacle_domain::settings::SalesOrderSettings;
use tentacle_pulpo::{PulpoClient, PulpoError};
use tentacle_shopify::{ShopifyClient, ShopifyError};
use tentacle_store::{Attention, AttentionKind, Integration, LinkScope, Store};

use super::Abort;
use crate::connections;
use crate::log::RunLog;
use crate::runner::RunOptions;
use caches::{CustomerCache, ProductCache};

pub const TYPE: &str = "sales_orders";

/// Orders updated this long before the cursor are read again: Shopify's search index lags
/// behind changes (about a minute observed), and an order it did not show yet must not be
/// skipped for good.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// Everything one run works with.
struct SalesOrdersRun<'a> {
    store: &'a dyn Store,
    integration: &'a Integration,
    log: &'a RunLog,
    settings: SalesOrderSettings,
    warehouses: Warehouses,
    shop: ShopifyClient,
    wms: PulpoClient,
    scope: LinkScope,
    products: ProductCache,
    customers: CustomerCache,
    /// Orders flagged as failed before this run, to clear once they succeed.
    flagged: HashSet<String>,
}

/// How handling one order ended, for the counters and the flags.
enum Handled {
    Done,
    Failed(String),
    Conflict(String),
}

pub async fn run(
    store: &dyn Store,
    integration: &Integration,
    log: &RunLog,
    options: &RunOptions,
) -> Result<(), Abort> {
    let settings: SalesOrderSettings = serde_json::from_value(integration.settings.clone()).map_err(|e| {
        Abort::Entry(LogEntry::error(None, format!("The integration settings cannot be read ({e}): fix them in Integration configuration")))
    })?;
    if let Err(errors) = settings.validate() {
        return Err(Abort::Entry(messages::invalid_settings(&errors)));
    }
    let origin = load_credential(store, integration.origin_credential_id).await?;
    let destination = load_credential(store, integration.destination_credential_id).await?;
    let shop = connections::shopify_client(&origin)
        .map_err(|e| Abort::Entry(LogEntry::error(None, e.to_string())))?;
    let wms = connections::pulpo_client(&destination)
        .map_err(|e| Abort::Entry(LogEntry::error(None, e.to_string())))?;

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

    let flagged = store.flagged_orders(Some(integration.id)).await?;
    let run = SalesOrdersRun {
        store,
        integration,
        log,
        settings,
        warehouses,
        shop,
        wms,
        scope: LinkScope {
            origin_credential_id: origin.id,
            destination_credential_id: destination.id,
        },
        products: ProductCache::default(),
        customers: CustomerCache::default(),
        flagged: flagged
            .iter()
            .filter(|f| f.kind == AttentionKind::Failed)
            .map(|f| f.shopify_order_id.clone())
            .collect(),
    };
    run.retry_flagged().await?;
    run.fetch_and_handle(options).await
}

async fn load_credential(store: &dyn Store, id: i64) -> Result<tentacle_store::Credential, Abort> {
    store.credential(id).await?.ok_or_else(|| {
        Abort::Entry(LogEntry::error(
            None,
            format!("credential {id} no longer exists: edit the integration configuration"),
        ))
    })
}

fn pulpo_abort(error: &PulpoError, credential: &str) -> Abort {
    Abort::Entry(match error {
        PulpoError::LoginRefused { .. } | PulpoError::Unauthorized => {
            messages::credentials_rejected(System::Pulpo, credential)
        }
        PulpoError::Unavailable { attempts, last } => {
            messages::unreachable(System::Pulpo, *attempts, last)
        }
        other => LogEntry::error(
            None,
            format!("{other}: the run stopped and the next run continues where it stopped"),
        ),
    })
}

fn shopify_abort(error: &ShopifyError, credential: &str) -> Abort {
    Abort::Entry(match error {
        ShopifyError::InvalidToken => messages::credentials_rejected(System::Shopify, credential),
        ShopifyError::Unavailable { attempts, last } => {
            messages::unreachable(System::Shopify, *attempts, last)
        }
        other => LogEntry::error(
            None,
            format!("{other}: the run stopped and the next run continues where it stopped"),
        ),
    })
}

/// Errors that stop the whole run: every other order would hit them too.
fn is_systemic(error: &PulpoError) -> bool {
    matches!(
        error,
        PulpoError::LoginRefused { .. } | PulpoError::Unauthorized | PulpoError::Unavailable { .. }
    )
}

impl SalesOrdersRun<'_> {
    /// Orders that failed in earlier runs are read again by id, whatever the cursor says.
    async fn retry_flagged(&self) -> Result<(), Abort> {
        for order_id in &self.flagged {
            let order = match self.shop.order(order_id).await {
                Ok(Some(order)) => order,
                Ok(None) => {
                    self.store
                        .clear_order_flag(self.integration.id, order_id)
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
            self.handle_and_record(order).await?;
        }
        self.log.flush().await?;
        Ok(())
    }

    /// The incremental fetch (or, in daily mode, the re-fetch of the whole timeframe).
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
        let mut after: Option<String> = None;
        loop {
            let page = self
                .shop
                .orders_page(since, Some(until), after.as_deref(), options.page_size)
                .await
                .map_err(|e| shopify_abort(&e, "of this integration"))?;
            self.log
                .count(|c| c.fetched += (page.orders.len() + page.problems.len()) as u64);
            for (name, why) in &page.problems {
                self.log.record(LogEntry::error(
                    Some(RecordRef::Order(name.clone())),
                    why.clone(),
                ));
                self.log.count(|c| c.failed += 1);
            }
            let mut handled = futures_util::stream::iter(
                page.orders
                    .into_iter()
                    .map(|order| self.handle_and_record(order)),
            )
            .buffer_unordered(options.concurrency.max(1));
            while let Some(result) = handled.next().await {
                result?;
            }
            drop(handled);
            self.log.flush().await?;
            // Everything on this page is committed: later runs start after it.
            if let (false, Some(last)) = (daily, page.last_updated_at) {
                self.store.set_cursor(self.integration.id, last).await?;
            }
            if !page.has_next_page {
                break;
            }
            after = page.end_cursor;
        }
        if !daily {
            self.store.set_cursor(self.integration.id, until).await?;
        }
        Ok(())
    }

    /// Handles one order and records its outcome in the counters and flags.
    async fn handle_and_record(&self, order: ShopifyOrder) -> Result<(), Abort> {
        let outcome = match self.handle(&order).await {
            Ok(outcome) => outcome,
            Err(writer::Failure::Pulpo(error)) if is_systemic(&error) => {
                return Err(pulpo_abort(&error, "of this integration"));
            }
            Err(writer::Failure::Pulpo(error)) => {
                let entry = LogEntry::error(
                    Some(RecordRef::Order(order.name.clone())),
                    format!("{error}: the order is retried on the next run"),
                );
                let reason = entry.message.clone();
                self.log.record(entry);
                Handled::Failed(reason)
            }
            Err(writer::Failure::Order(error)) => {
                let entry = messages::order_failed(&order.name, &error);
                let reason = entry.message.clone();
                self.log.record(entry);
                Handled::Failed(reason)
            }
            Err(writer::Failure::Logged(entry)) => {
                let reason = entry.message.clone();
                self.log.record(entry);
                Handled::Failed(reason)
            }
            Err(writer::Failure::Store(error)) => return Err(Abort::Store(error)),
        };
        match outcome {
            Handled::Done => {
                if self.flagged.contains(&order.id) {
                    self.store
                        .clear_order_flag(self.integration.id, &order.id)
                        .await?;
                }
            }
            Handled::Failed(reason) => {
                self.log.count(|c| c.failed += 1);
                self.flag(&order, AttentionKind::Failed, reason).await?;
            }
            Handled::Conflict(reason) => self.flag(&order, AttentionKind::Conflict, reason).await?,
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
            integration_id: self.integration.id,
            shopify_order_id: order.id.clone(),
            order_name: order.name.clone(),
            kind,
            reason,
            attempts: 1,
            run_id: None,
            updated_at: Utc::now(),
        };
        Ok(self.store.flag_order(&attention).await?)
    }

    async fn handle(&self, order: &ShopifyOrder) -> Result<Handled, writer::Failure> {
        let planner = Planner::new(&self.settings, &self.warehouses);
        let links = self.store.order_links(self.scope, &order.id).await?;
        let confirmed: Vec<_> = links.iter().filter_map(|l| l.linked()).collect();
        let decision = match planner.decide(order, &confirmed)? {
            Decision::Sync(_) => {
                // What we remember of PULPO's states may be stale (PULPO works without telling
                // us): read them fresh before changing or cancelling anything.
                let fresh = self.refresh_states(&links).await?;
                planner.decide(order, &fresh)?
            }
            other => other,
        };
        match decision {
            Decision::Skip(reason) => {
                self.log.count(|c| c.skipped += 1);
                self.log
                    .record(messages::order_skipped(&order.name, &reason));
                Ok(Handled::Done)
            }
            Decision::Unchanged => Ok(Handled::Done),
            Decision::Import(drafts) => {
                for draft in &drafts {
                    self.create(order, draft).await?;
                }
                Ok(Handled::Done)
            }
            Decision::Sync(steps) => self.sync(order, steps).await,
        }
    }
}
