//! What a stock run reads: Shopify's open fulfillment orders at the location (for the oversell
//! window), Shopify's inventory at the location page by page with each page's SKUs looked up
//! in PULPO while the next page is read, and PULPO's products once more for the SKUs Shopify
//! lacks. Memory stays a few bytes per SKU whatever the catalog (see [`Reconcile`]).

use std::collections::HashMap;

use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::mpsc;

use tentacle_domain::stock::{Level, OneSided, PulpoSku, Reconcile, ShopifyItem, ShopifySkus};
use tentacle_pulpo::PRODUCT_PAGE;
use tentacle_pulpo::model::{Product, Warehouse};
use tentacle_shopify::inventory::{InventoryPage, MAX_PAGE};
use tentacle_shopify::queries::Location;

use super::StockRun;
use crate::integrations::Abort;

/// Open fulfillment orders read per page (each with up to 100 lines, about 86 points).
const FULFILLMENT_ORDER_PAGE: u32 = 50;

impl StockRun<'_> {
    /// By inventory item id, the units Shopify has committed at `location` for orders PULPO
    /// does not hold yet: the remaining quantities of the open fulfillment orders there that
    /// have no confirmed link to a PULPO order. A pending link (the create's answer was lost)
    /// counts as not held: holding back too much for a moment is better than selling twice.
    pub(super) async fn committed(
        &self,
        location: &Location,
    ) -> Result<HashMap<String, i64>, Abort> {
        let shop = self.context.shopify();
        let mut committed: HashMap<String, i64> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = shop
                .open_fulfillment_orders_page(
                    &location.id,
                    after.as_deref(),
                    FULFILLMENT_ORDER_PAGE,
                )
                .await
                .map_err(|e| self.shopify_abort(&e))?;
            for order in page.fulfillment_orders {
                let held = self
                    .context
                    .store
                    .order_link(self.scope, &order.id)
                    .await?
                    .is_some_and(|link| link.linked().is_some());
                if held {
                    continue;
                }
                for line in order.lines {
                    if let Some(item) = line.inventory_item_id {
                        *committed.entry(item).or_default() += line.remaining_quantity.max(0);
                    }
                }
            }
            match page.end_cursor {
                Some(cursor) if page.has_next_page => after = Some(cursor),
                _ => return Ok(committed),
            }
        }
    }

    /// Reads Shopify's inventory at `location` into `reconcile`, page by page. Shopify's pages
    /// come one after the other (each needs the cursor of the one before); the PULPO look-ups
    /// of several pages run at once behind them, so a run takes about as long as the slower
    /// of the two systems rather than their sum. Pages reach `reconcile` in order.
    pub(super) async fn read_inventory(
        &self,
        location: &Location,
        warehouse: &Warehouse,
        committed: &HashMap<String, i64>,
        reconcile: &mut Reconcile,
    ) -> Result<(), Abort> {
        let shop = self.context.shopify();
        let lookahead = (self.context.options.pulpo_concurrency / 2).max(2);
        let (pages_in, pages) = mpsc::channel::<InventoryPage>(lookahead);
        let fetch = async move {
            let mut after: Option<String> = None;
            loop {
                let page = shop
                    .inventory_page(&location.id, after.as_deref(), MAX_PAGE)
                    .await
                    .map_err(|e| self.shopify_abort(&e))?;
                let next = page.end_cursor.clone().filter(|_| page.has_next_page);
                // A closed channel: the consumer stopped, and its error ends the run.
                if pages_in.send(page).await.is_err() {
                    return Ok(());
                }
                match next {
                    Some(cursor) => after = Some(cursor),
                    None => return Ok::<(), Abort>(()),
                }
            }
        };
        let consume = async move {
            let mut pages = pages;
            let mut looking_up = FuturesOrdered::new();
            let mut more = true;
            loop {
                tokio::select! {
                    biased;
                    Some((page, pulpo)) = looking_up.next(), if !looking_up.is_empty() => {
                        reconcile.page(items_of(page), &pulpo?, committed);
                    }
                    page = pages.recv(), if more && looking_up.len() < lookahead => match page {
                        Some(page) => looking_up.push_back(self.looked_up(warehouse, page)),
                        None => more = false,
                    },
                    else => return Ok::<(), Abort>(()),
                }
            }
        };
        tokio::pin!(fetch, consume);
        let mut fetched = false;
        loop {
            tokio::select! {
                done = &mut fetch, if !fetched => {
                    done?;
                    fetched = true;
                }
                done = &mut consume => return done,
            }
        }
    }

    /// A page with what PULPO has for its SKUs.
    async fn looked_up(
        &self,
        warehouse: &Warehouse,
        page: InventoryPage,
    ) -> (InventoryPage, Result<HashMap<String, PulpoSku>, Abort>) {
        let pulpo = self.pulpo_stock(warehouse, &page).await;
        (page, pulpo)
    }

    /// What PULPO has for the SKUs of one Shopify page: the available stock of each SKU one
    /// active product carries, or that several do.
    async fn pulpo_stock(
        &self,
        warehouse: &Warehouse,
        page: &InventoryPage,
    ) -> Result<HashMap<String, PulpoSku>, Abort> {
        let wms = self.context.pulpo();
        let skus: Vec<&str> = page.items.iter().filter_map(|i| i.sku.as_deref()).collect();
        if skus.is_empty() {
            return Ok(HashMap::new());
        }
        let products = wms
            .products_by_skus(&skus)
            .await
            .map_err(|e| self.pulpo_abort(&e))?;
        let mut by_sku: HashMap<String, Option<i64>> = HashMap::with_capacity(products.len());
        for product in products.into_iter().filter(is_live) {
            let Some(sku) = product.sku else { continue };
            by_sku
                .entry(sku)
                .and_modify(|id| *id = None)
                .or_insert(Some(product.id));
        }
        let ids: Vec<i64> = by_sku.values().filter_map(|id| *id).collect();
        let available: HashMap<i64, i64> = wms
            .stock_availability(warehouse.id, &ids)
            .await
            .map_err(|e| self.pulpo_abort(&e))?
            .into_iter()
            .map(|a| (a.product_id, a.available_quantity))
            .collect();
        Ok(by_sku
            .into_iter()
            .map(|(sku, id)| {
                let stock = match id {
                    // A product PULPO reports no availability for has none.
                    Some(id) => PulpoSku::Available(available.get(&id).copied().unwrap_or(0)),
                    None => PulpoSku::Duplicate,
                };
                (sku, stock)
            })
            .collect())
    }

    /// PULPO's products whose SKU no Shopify item at the location carries, counted, a few
    /// named; paged so that a large catalog is never held at once.
    pub(super) async fn only_in_pulpo(&self, shopify: &ShopifySkus) -> Result<OneSided, Abort> {
        let wms = self.context.pulpo();
        let mut only = OneSided::default();
        let mut offset = 0;
        loop {
            let page = wms
                .products_page(offset, PRODUCT_PAGE)
                .await
                .map_err(|e| self.pulpo_abort(&e))?;
            let read = page.products.len();
            for product in page.products.into_iter().filter(is_live) {
                if let Some(sku) = product.sku.as_deref().filter(|s| !s.trim().is_empty())
                    && !shopify.contains(sku)
                {
                    only.add(sku);
                }
            }
            offset += read;
            // PULPO may cap a page below what was asked: step by what came back.
            if read == 0 || offset >= page.total_results {
                return Ok(only);
            }
        }
    }
}

/// An active, not deleted product: one whose stock matters.
fn is_live(product: &Product) -> bool {
    product.active != Some(false) && product.deleted != Some(true)
}

fn items_of(page: InventoryPage) -> Vec<ShopifyItem> {
    page.items
        .into_iter()
        .map(|record| ShopifyItem {
            inventory_item_id: record.inventory_item_id,
            sku: record.sku,
            tracked: record.tracked,
            level: record.level.map(|level| Level {
                active: level.active,
                available: level.available,
            }),
        })
        .collect()
}
