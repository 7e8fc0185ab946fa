//! What a generate_shipments run reads from PULPO: the PULPO orders whose packing changed since
//! the cursor, kept to the ones tentacle imported, and their shipped boxes grouped by the
//! Shopify order they fulfil.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use tentacle_pulpo::model::{PackingOrderFilter, ShippedBox};
use tentacle_store::OrderLink;

use super::ShipmentRun;
use crate::integrations::Abort;

/// The shipped boxes of one Shopify order, each with the order link of its PULPO order.
pub(super) struct ShippedOrder {
    pub shopify_order_id: String,
    pub boxes: Vec<(ShippedBox, OrderLink)>,
}

impl ShipmentRun<'_> {
    /// The Shopify orders with boxes to look at: those whose PULPO packing changed at or after
    /// `since`, and those of boxes that failed before. PULPO orders tentacle did not import
    /// are left alone.
    pub(super) async fn shipped_orders(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<ShippedOrder>, Abort> {
        let (wms, store) = (self.context.pulpo(), self.context.store);
        let changed = wms
            .packing_orders(&PackingOrderFilter {
                updated_since: Some(since),
                ..PackingOrderFilter::default()
            })
            .await
            .map_err(|e| self.pulpo_abort(&e))?;
        let mut sales_order_ids: BTreeSet<i64> =
            changed.iter().filter_map(|o| o.sales_order_id).collect();
        for box_id in self.failed_boxes() {
            if let Some(link) = store.shipment_link(self.pair, box_id).await? {
                sales_order_ids.insert(link.sales_order_id);
            }
        }
        let ids: Vec<i64> = sales_order_ids.into_iter().collect();
        let links: HashMap<i64, OrderLink> = store
            .order_links_of_pulpo_orders(self.orders, &ids)
            .await?
            .into_iter()
            .filter_map(|link| Some((link.pulpo_order_id?, link)))
            .collect();
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let imported: Vec<i64> = links.keys().copied().collect();
        let boxes = wms
            .shipped_boxes(&imported)
            .await
            .map_err(|e| self.pulpo_abort(&e))?;
        self.context.log.count(|c| c.fetched += boxes.len() as u64);
        let mut by_order: BTreeMap<String, Vec<(ShippedBox, OrderLink)>> = BTreeMap::new();
        for shipped in boxes {
            if let Some(link) = links.get(&shipped.sales_order_id) {
                by_order
                    .entry(link.shopify_order_id.clone())
                    .or_default()
                    .push((shipped, link.clone()));
            }
        }
        Ok(by_order
            .into_iter()
            .map(|(shopify_order_id, mut boxes)| {
                boxes.sort_by_key(|(b, _)| b.box_id);
                ShippedOrder {
                    shopify_order_id,
                    boxes,
                }
            })
            .collect())
    }
}
