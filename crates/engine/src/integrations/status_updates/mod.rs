//! The status_updates integration (PULPO → Shopify, SPEC §2 and §4): every Shopify order the
//! sales orders integration imported gets the configured tag once, and the lot and serial
//! numbers PULPO shipped for it are written into its note, in a block of tentacle's own below
//! the merchant's text.
//!
//! A run:
//! 1. the orders to look at: those whose order links were confirmed or changed since the
//!    cursor (to tag), those whose PULPO packing changed since the cursor (for their lots),
//!    and those flagged by an earlier run (retried), the cursor less [`OVERLAP`]; the first
//!    run looks [`FIRST_RUN_DAYS`] back;
//! 2. per order, what Shopify has (tags, note) read once, the tag added unless the order's
//!    mark says it was tagged before (an order the merchant untagged stays untagged), and the
//!    note rewritten when the shipped numbers change it;
//! 3. per order, its mark written with its flag cleared or set, in one held-lease write.
//!
//! The cursor moves to the run's start once every order was handled.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use tentacle_domain::messages;
use tentacle_domain::run::RecordKind;
use tentacle_domain::status_updates::{
    BatchKind, ShippedBatch, StatusSettings, lot_lines, note_with_lots,
};
use tentacle_pulpo::model::PackingOrderFilter;
use tentacle_shopify::fulfillments::UserError;
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, CredentialKind, HeldWrite, LinkScope, OrderLink,
    StatusMark, SystemPair,
};

use super::{Abort, IntegrationType, RunContext, pulpo_abort, shopify_abort};

/// The status_updates type (PULPO → Shopify).
pub struct StatusUpdates;

pub const TYPE: &str = "status_updates";

/// Changes this long before the cursor are read again: an `updated_at` of a change committed
/// while the last run read may be older than that run's start.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// How far back the first run of a configuration looks.
pub const FIRST_RUN_DAYS: i64 = 7;

/// Order links read per store query.
const LINK_PAGE: i64 = 250;

#[async_trait::async_trait]
impl IntegrationType for StatusUpdates {
    const KEY: &'static str = TYPE;
    const LABEL: &'static str = "Status updates";
    const SUMMARY: &'static str = "Tags the Shopify orders imported into PULPO and writes the lot \
                                   and serial numbers shipped into their notes.";
    const ORIGIN: CredentialKind = CredentialKind::Pulpo;
    const DESTINATION: CredentialKind = CredentialKind::Shopify;
    const ORIGIN_HELP: &'static str =
        "The warehouse system the orders were imported into and that ships them.";
    const DESTINATION_HELP: &'static str =
        "The store whose imported orders get the tag and the lot numbers.";

    type Settings = StatusSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &StatusSettings) -> Result<(), Abort> {
        let status = StatusRun::start(run, settings).await?;
        let until = run.options.now;
        let since = match run.store.cursor(run.integration.id).await? {
            Some(cursor) => cursor - OVERLAP,
            None => until - TimeDelta::days(FIRST_RUN_DAYS),
        };
        let orders = status.orders_to_update(since).await?;
        let shipped = status.shipped_batches(&orders).await?;
        let marks: HashMap<String, StatusMark> = run
            .store
            .status_marks(
                status.pair,
                &orders.keys().cloned().collect::<Vec<String>>(),
            )
            .await?
            .into_iter()
            .map(|mark| (mark.shopify_order_id.clone(), mark))
            .collect();
        for (shopify_order_id, order) in &orders {
            let mark = marks.get(shopify_order_id);
            // Tagged before and nothing shipped since: nothing to look at.
            let tagged = mark.is_some_and(|m| m.tagged_at.is_some());
            if tagged && !order.lots && !status.failed.contains(shopify_order_id) {
                continue;
            }
            let batches = shipped.get(shopify_order_id).map(Vec::as_slice);
            status.order(order, mark, batches).await?;
        }
        run.log.flush().await?;
        run.store
            .write_held(
                run.log.lease(),
                &[HeldWrite::Cursor {
                    integration_id: run.integration.id,
                    at: until,
                }],
            )
            .await?;
        Ok(())
    }
}

/// One imported Shopify order as a run sees it.
struct ImportedOrder {
    shopify_order_id: String,
    order_name: String,
    /// The PULPO orders of its fulfillment orders.
    pulpo_order_ids: BTreeSet<i64>,
    /// Its numbers are to be (re)read: its packing changed, or it failed before.
    lots: bool,
}

/// Everything one run works with.
struct StatusRun<'a> {
    context: &'a RunContext<'a>,
    settings: &'a StatusSettings,
    /// The sales orders links of this store and PULPO: which orders tentacle imported.
    links: LinkScope,
    /// Whose status marks these are.
    pair: SystemPair,
    /// Orders whose update failed in an earlier run, by Shopify order id.
    failed: BTreeSet<String>,
}

impl<'a> StatusRun<'a> {
    async fn start(
        context: &'a RunContext<'a>,
        settings: &'a StatusSettings,
    ) -> Result<StatusRun<'a>, Abort> {
        let shop = context.credential(CredentialKind::Shopify);
        let wms = context.credential(CredentialKind::Pulpo);
        let failed = context
            .store
            .flags(Some(context.integration.id))
            .await?
            .into_iter()
            .filter(|f| f.key.record_kind == RecordKind::Order && f.kind == AttentionKind::Failed)
            .map(|f| f.key.record_id)
            .collect();
        Ok(StatusRun {
            context,
            settings,
            links: LinkScope {
                origin_credential_id: shop.id,
                destination_credential_id: wms.id,
            },
            pair: SystemPair {
                shopify_credential_id: shop.id,
                pulpo_credential_id: wms.id,
            },
            failed,
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

    /// The imported orders to look at, by Shopify order id.
    async fn orders_to_update(
        &self,
        since: DateTime<Utc>,
    ) -> Result<BTreeMap<String, ImportedOrder>, Abort> {
        let store = self.context.store;
        let mut orders: BTreeMap<String, ImportedOrder> = BTreeMap::new();
        if self.settings.mark_imported_orders {
            let mut after: Option<(DateTime<Utc>, String)> = None;
            loop {
                let page = store
                    .confirmed_order_links_since(
                        self.links,
                        since,
                        after.as_ref().map(|(at, id)| (*at, id.as_str())),
                        LINK_PAGE,
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some((last.updated_at, last.fulfillment_order_id.clone()));
                let full = page.len() as i64 == LINK_PAGE;
                for link in page {
                    add(&mut orders, link, false);
                }
                if !full {
                    break;
                }
            }
        }
        if self.settings.send_lot_numbers {
            let changed = self
                .context
                .pulpo()
                .packing_orders(&PackingOrderFilter {
                    updated_since: Some(since),
                    ..PackingOrderFilter::default()
                })
                .await
                .map_err(|e| self.pulpo_abort(&e))?;
            let ids: BTreeSet<i64> = changed.iter().filter_map(|o| o.sales_order_id).collect();
            let ids: Vec<i64> = ids.into_iter().collect();
            let shipped: BTreeSet<String> = store
                .order_links_of_pulpo_orders(self.links, &ids)
                .await?
                .into_iter()
                .map(|link| link.shopify_order_id)
                .collect();
            // Every fulfillment order of the order, so the note lists the boxes of all of them.
            for shopify_order_id in shipped {
                for link in store.order_links(self.links, &shopify_order_id).await? {
                    add(&mut orders, link, true);
                }
            }
        }
        for shopify_order_id in &self.failed {
            for link in store.order_links(self.links, shopify_order_id).await? {
                add(&mut orders, link, self.settings.send_lot_numbers);
            }
        }
        Ok(orders)
    }

    /// The lot and serial numbers shipped for the orders whose numbers are read, by Shopify
    /// order id: every box of every PULPO order of each.
    async fn shipped_batches(
        &self,
        orders: &BTreeMap<String, ImportedOrder>,
    ) -> Result<HashMap<String, Vec<ShippedBatch>>, Abort> {
        let wms = self.context.pulpo();
        let order_of: HashMap<i64, &str> = orders
            .values()
            .filter(|o| o.lots)
            .flat_map(|o| {
                o.pulpo_order_ids
                    .iter()
                    .map(|id| (*id, o.shopify_order_id.as_str()))
            })
            .collect();
        if order_of.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<i64> = order_of.keys().copied().collect();
        let boxes = wms
            .shipped_boxes(&ids)
            .await
            .map_err(|e| self.pulpo_abort(&e))?;
        let product_ids: BTreeSet<i64> = boxes
            .iter()
            .flat_map(|b| &b.items)
            .filter(|item| !item.batches.is_empty())
            .map(|item| item.product_id)
            .collect();
        let product_ids: Vec<i64> = product_ids.into_iter().collect();
        let products: HashMap<i64, (String, BatchKind)> = if product_ids.is_empty() {
            HashMap::new()
        } else {
            wms.products_by_ids(&product_ids)
                .await
                .map_err(|e| self.pulpo_abort(&e))?
                .into_iter()
                .filter_map(|p| {
                    let kind = match p.management_type.as_deref()? {
                        "lot" => BatchKind::Lot,
                        "serial" => BatchKind::Serial,
                        _ => return None,
                    };
                    Some((p.id, (p.sku?, kind)))
                })
                .collect()
        };
        let mut by_order: HashMap<String, Vec<ShippedBatch>> = HashMap::new();
        for shipped in &boxes {
            let Some(order) = order_of.get(&shipped.sales_order_id) else {
                continue;
            };
            for item in &shipped.items {
                // A product without lots or serial numbers has nothing to list.
                let Some((sku, kind)) = products.get(&item.product_id) else {
                    continue;
                };
                by_order
                    .entry((*order).to_string())
                    .or_default()
                    .extend(item.batches.iter().map(|batch| ShippedBatch {
                        sku: sku.clone(),
                        kind: *kind,
                        number: batch.number.clone(),
                        quantity: batch.quantity,
                    }));
            }
        }
        Ok(by_order)
    }

    /// Tags the order and writes its note, as needed, then its mark.
    async fn order(
        &self,
        order: &ImportedOrder,
        mark: Option<&StatusMark>,
        batches: Option<&[ShippedBatch]>,
    ) -> Result<(), Abort> {
        let log = self.context.log;
        let shopify = self.context.shopify();
        log.count(|c| c.fetched += 1);
        let Some(state) = shopify
            .order_fulfillment_state(&order.shopify_order_id)
            .await
            .map_err(|e| self.shopify_abort(&e))?
        else {
            // The order was deleted in Shopify: nothing left to update.
            return self
                .write(vec![HeldWrite::ClearFlag(self.key(order))])
                .await;
        };
        let tag = &self.settings.tag;
        let mut tagged_at = mark.and_then(|m| m.tagged_at);
        let mut changed = false;
        if self.settings.mark_imported_orders && tagged_at.is_none() {
            // Tagged already (an answer lost, or the merchant's own tag): only the mark is new.
            if !state.tags.iter().any(|t| t == tag) {
                let errors = shopify
                    .tags_add(&order.shopify_order_id, std::slice::from_ref(tag))
                    .await
                    .map_err(|e| self.shopify_abort(&e))?;
                if !errors.is_empty() {
                    return self.refused(order, &errors).await;
                }
                log.record(messages::order_tagged(&order.order_name, tag));
                changed = true;
            }
            tagged_at = Some(Utc::now());
        }
        let mut note_lines = mark.map(|m| m.note_lines.clone()).unwrap_or_default();
        if let Some(batches) = batches {
            let lines = lot_lines(batches);
            if let Some(note) = note_with_lots(state.note.as_deref(), &lines) {
                let errors = shopify
                    .order_note_update(&order.shopify_order_id, &note)
                    .await
                    .map_err(|e| self.shopify_abort(&e))?;
                if !errors.is_empty() {
                    // The tag added above is kept in the mark, so it is not added again.
                    self.save_mark(order, tagged_at, note_lines).await?;
                    return self.refused(order, &errors).await;
                }
                log.record(messages::order_note_updated(&order.order_name, lines.len()));
                changed = true;
            }
            note_lines = lines;
        }
        if changed {
            log.count(|c| c.updated += 1);
        }
        let mut writes = vec![self.mark(order, tagged_at, note_lines)];
        if self.failed.contains(&order.shopify_order_id) {
            writes.push(HeldWrite::ClearFlag(self.key(order)));
        }
        self.write(writes).await
    }

    async fn save_mark(
        &self,
        order: &ImportedOrder,
        tagged_at: Option<DateTime<Utc>>,
        note_lines: Vec<String>,
    ) -> Result<(), Abort> {
        self.write(vec![self.mark(order, tagged_at, note_lines)])
            .await
    }

    fn mark(
        &self,
        order: &ImportedOrder,
        tagged_at: Option<DateTime<Utc>>,
        note_lines: Vec<String>,
    ) -> HeldWrite {
        HeldWrite::StatusMark(StatusMark {
            scope: self.pair,
            shopify_order_id: order.shopify_order_id.clone(),
            tagged_at,
            note_lines,
            updated_at: Utc::now(),
        })
    }

    /// Shopify refused the order's update: an ERROR, and the order flagged to be retried.
    async fn refused(&self, order: &ImportedOrder, errors: &[UserError]) -> Result<(), Abort> {
        let log = self.context.log;
        let detail: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        let entry = messages::order_status_refused(&order.order_name, &detail.join("; "));
        let flag = HeldWrite::Flag(Attention {
            key: self.key(order),
            record_label: order.order_name.clone(),
            kind: AttentionKind::Failed,
            reason: entry.message.clone(),
            attempts: 1,
            run_id: Some(log.lease().run_id),
            updated_at: Utc::now(),
        });
        log.record(entry);
        log.count(|c| c.failed += 1);
        self.write(vec![flag]).await
    }

    fn key(&self, order: &ImportedOrder) -> AttentionKey {
        AttentionKey {
            integration_id: self.context.integration.id,
            record_kind: RecordKind::Order,
            record_id: order.shopify_order_id.clone(),
        }
    }

    /// Writes under the run's lease, after the log entries that led to them.
    async fn write(&self, writes: Vec<HeldWrite>) -> Result<(), Abort> {
        let context = self.context;
        context.log.flush().await?;
        context
            .store
            .write_held(context.log.lease(), &writes)
            .await?;
        Ok(())
    }
}

/// Adds a confirmed link's order to `orders`; `lots` when its numbers are to be read.
fn add(orders: &mut BTreeMap<String, ImportedOrder>, link: OrderLink, lots: bool) {
    let Some(pulpo_order_id) = link.pulpo_order_id else {
        return;
    };
    let order = orders
        .entry(link.shopify_order_id.clone())
        .or_insert_with(|| ImportedOrder {
            shopify_order_id: link.shopify_order_id,
            order_name: link.order_name,
            pulpo_order_ids: BTreeSet::new(),
            lots,
        });
    order.pulpo_order_ids.insert(pulpo_order_id);
    order.lots |= lots;
}
