//! What a returns run reads from PULPO: the customer returns received since the cursor, kept
//! to those of orders tentacle imported, grouped by the Shopify order they return goods of.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use tentacle_domain::messages;
use tentacle_pulpo::model::IncomingGood;
use tentacle_store::OrderLink;

use super::ReturnRun;
use crate::integrations::Abort;

/// The PULPO returns of one Shopify order, oldest first, with the order link of their PULPO
/// sales order.
pub(super) struct ReturnedOrder {
    pub order: OrderLink,
    pub goods: Vec<IncomingGood>,
}

impl ReturnRun<'_> {
    /// The Shopify orders with PULPO returns received at or after `since`. Returns of PULPO
    /// orders tentacle did not import are skipped (INFO).
    pub(super) async fn received(&self, since: DateTime<Utc>) -> Result<Vec<ReturnedOrder>, Abort> {
        let log = self.context.log;
        let goods = self
            .context
            .pulpo()
            .returns_received_since(since)
            .await
            .map_err(|e| self.pulpo_abort(&e))?;
        log.count(|c| c.fetched += goods.len() as u64);
        let ids: Vec<i64> = goods
            .iter()
            .filter_map(|g| g.sales_order_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let links: HashMap<i64, OrderLink> = self
            .context
            .store
            .order_links_of_pulpo_orders(self.orders, &ids)
            .await?
            .into_iter()
            .filter_map(|link| Some((link.pulpo_order_id?, link)))
            .collect();
        let mut by_order: BTreeMap<String, ReturnedOrder> = BTreeMap::new();
        for good in goods {
            let Some(link) = good.sales_order_id.and_then(|id| links.get(&id)) else {
                log.record(messages::return_not_imported(
                    &pulpo_name(&good),
                    good.sales_order_id,
                ));
                log.count(|c| c.skipped += 1);
                continue;
            };
            by_order
                .entry(link.shopify_order_id.clone())
                .or_insert_with(|| ReturnedOrder {
                    order: link.clone(),
                    goods: Vec::new(),
                })
                .goods
                .push(good);
        }
        Ok(by_order.into_values().collect())
    }
}

/// How the warehouse knows a return: its sequence number, else its id.
pub(super) fn pulpo_name(good: &IncomingGood) -> String {
    good.sequence_number
        .clone()
        .unwrap_or_else(|| good.id.to_string())
}
