//! What a products run writes, per page of variants: which of them can be products, what
//! PULPO holds of each (read fresh), and then the updates and the creates, each outcome logged
//! and its link and flags written with the page in one held-lease write.

use std::collections::HashMap;

use futures_util::{StreamExt, stream};
use tentacle_domain::messages;
use tentacle_domain::products::{
    CatalogVariant, ProductFields, PulpoProduct, Wanted, changes, create_fields, wanted,
};
use tentacle_domain::run::LogEntry;
use tentacle_pulpo::PulpoError;
use tentacle_pulpo::model::{Product, ProductBody};
use tentacle_store::{AttentionKind, HeldWrite, ProductLink};

use super::{BULK, ProductRun};
use crate::integrations::{Abort, is_systemic};

/// A variant that can be a product, with what its product should hold.
struct Item {
    variant: CatalogVariant,
    wanted: Wanted,
    /// Whether an earlier run flagged its SKU: cleared once it goes through.
    flagged: bool,
}

/// A linked or adopted product and what of it to change.
struct Update {
    item: Item,
    product_id: i64,
    change: ProductFields,
    /// PULPO had the SKU before tentacle linked it.
    adopted: bool,
    /// The link of a variant that no longer has the SKU, dropped to free the product.
    drop: Option<String>,
}

impl ProductRun<'_> {
    /// Handles one page of variants.
    pub(super) async fn page(&self, variants: Vec<CatalogVariant>) -> Result<(), Abort> {
        let log = self.context.log;
        log.count(|c| c.fetched += variants.len() as u64);
        let mut writes = Vec::new();
        let items = self.eligible(variants, &mut writes).await?;
        let (updates, creates) = self.plan(items, &mut writes).await?;
        self.update(updates, &mut writes).await?;
        self.create(creates, &mut writes).await?;
        self.write(writes).await
    }

    /// The variants that can be products: not left out, with a SKU no other variant has.
    async fn eligible(
        &self,
        variants: Vec<CatalogVariant>,
        writes: &mut Vec<HeldWrite>,
    ) -> Result<Vec<Item>, Abort> {
        let log = self.context.log;
        let mut by_sku: Vec<(String, Vec<(CatalogVariant, Wanted)>)> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for variant in variants {
            if self.settings.only_physical_products && !variant.requires_shipping {
                self.not_physical
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                log.count(|c| c.skipped += 1);
                // Flagged while it was shipped: left out now, so nothing is left to retry.
                if let Some(sku) = variant.sku.as_deref()
                    && self.met(sku).is_some()
                {
                    writes.push(self.clear(sku));
                }
                continue;
            }
            let Some(wanted) = wanted(&variant, self.settings) else {
                log.record(messages::variant_without_sku(
                    &variant.display_name(),
                    &variant.id,
                ));
                log.count(|c| c.skipped += 1);
                continue;
            };
            let at = *position.entry(wanted.sku.clone()).or_insert_with(|| {
                by_sku.push((wanted.sku.clone(), Vec::new()));
                by_sku.len() - 1
            });
            by_sku[at].1.push((variant, wanted));
        }
        let mut items = Vec::with_capacity(by_sku.len());
        for (sku, mut group) in by_sku {
            let earlier = self.met(&sku);
            if group.len() > 1 {
                let names: Vec<String> = group.iter().map(|(v, _)| named(v)).collect();
                self.conflict(&sku, messages::duplicate_sku(&sku, &names), writes);
                continue;
            }
            let Some((variant, wanted)) = group.pop() else {
                continue;
            };
            // Shared before: it may still be, with a variant this page does not hold.
            if earlier == Some(AttentionKind::Conflict)
                && let Some(entry) = self.still_shared(&variant, &sku).await?
            {
                self.conflict(&sku, entry, writes);
                continue;
            }
            items.push(Item {
                variant,
                wanted,
                flagged: earlier.is_some(),
            });
        }
        Ok(items)
    }

    /// The duplicate-SKU warning when another Shopify variant than `variant` has `sku` now.
    async fn still_shared(
        &self,
        variant: &CatalogVariant,
        sku: &str,
    ) -> Result<Option<LogEntry>, Abort> {
        let sharing = self
            .context
            .shopify()
            .product_variants_with_sku(sku)
            .await
            .map_err(|e| self.shopify_abort(&e))?;
        let mut names = vec![named(variant)];
        names.extend(
            sharing
                .into_iter()
                .filter(|other| other.id != variant.id)
                .map(|other| named(&super::read::from_shopify(other))),
        );
        Ok((names.len() > 1).then(|| messages::duplicate_sku(sku, &names)))
    }

    /// What to do with each item, against its link and PULPO's products read fresh: updates
    /// (linked or adopted products) and creates (SKUs PULPO does not have).
    async fn plan(
        &self,
        items: Vec<Item>,
        writes: &mut Vec<HeldWrite>,
    ) -> Result<(Vec<Update>, Vec<Item>), Abort> {
        let store = self.context.store;
        let pulpo = self.context.pulpo();
        let ids: Vec<String> = items.iter().map(|i| i.variant.id.clone()).collect();
        // SKUs to ask PULPO for: every item's, so a linked variant renamed to a SKU another
        // PULPO product has is caught too. Asked while the links are read.
        let skus: Vec<&str> = items.iter().map(|i| i.wanted.sku.as_str()).collect();
        let (links, by_sku) = tokio::join!(
            store.product_links(self.pair, &ids),
            pulpo.products_by_skus(&skus)
        );
        let links: HashMap<String, ProductLink> = links?
            .into_iter()
            .map(|l| (l.variant_id.clone(), l))
            .collect();
        let by_sku: HashMap<String, Product> = by_sku
            .map_err(|e| self.pulpo_abort(&e))?
            .into_iter()
            .filter_map(|p| Some((p.sku.clone()?, p)))
            .collect();
        let linked_ids: Vec<i64> = links.values().map(|l| l.pulpo_product_id).collect();
        let unlinked_found: Vec<i64> = items
            .iter()
            .filter(|i| !links.contains_key(&i.variant.id))
            .filter_map(|i| by_sku.get(&i.wanted.sku).map(|p| p.id))
            .collect();
        let (linked, claimed) = tokio::join!(
            pulpo.products_by_ids(&linked_ids),
            store.product_links_of_products(self.pair, &unlinked_found)
        );
        let linked: HashMap<i64, Product> = linked
            .map_err(|e| self.pulpo_abort(&e))?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let claimed: HashMap<i64, ProductLink> = claimed?
            .into_iter()
            .map(|l| (l.pulpo_product_id, l))
            .collect();

        let mut updates = Vec::new();
        let mut creates = Vec::new();
        for item in items {
            let sku = item.wanted.sku.clone();
            if let Some(link) = links.get(&item.variant.id) {
                let Some(product) = linked
                    .get(&link.pulpo_product_id)
                    .filter(|p| p.deleted != Some(true))
                else {
                    let entry = messages::product_deleted_in_pulpo(&sku, link.pulpo_product_id);
                    self.conflict(&sku, entry, writes);
                    continue;
                };
                let change = changes(&item.wanted, &pulpo_product(product));
                if change.sku.is_some()
                    && let Some(owner) = by_sku.get(&sku).filter(|p| p.id != product.id)
                {
                    let entry = messages::sku_taken_in_pulpo(&sku, &link.sku, owner.id);
                    self.conflict(&sku, entry, writes);
                    continue;
                }
                if change.is_empty() {
                    if item.flagged {
                        writes.push(self.clear(&sku));
                    }
                    continue;
                }
                updates.push(Update {
                    product_id: product.id,
                    change,
                    adopted: false,
                    drop: None,
                    item,
                });
                continue;
            }
            let Some(product) = by_sku.get(&sku) else {
                creates.push(item);
                continue;
            };
            // PULPO has the SKU: adopt it, unless another variant has it and still has it.
            let mut drop = None;
            if let Some(other) = claimed.get(&product.id) {
                if let Some(entry) = self.still_shared(&item.variant, &sku).await? {
                    self.conflict(&sku, entry, writes);
                    continue;
                }
                drop = Some(other.variant_id.clone());
            }
            updates.push(Update {
                product_id: product.id,
                change: changes(&item.wanted, &pulpo_product(product)),
                adopted: true,
                drop,
                item,
            });
        }
        Ok((updates, creates))
    }

    /// Sends the updates, several at once; each outcome goes to the log and `writes`.
    async fn update(&self, updates: Vec<Update>, writes: &mut Vec<HeldWrite>) -> Result<(), Abort> {
        let pulpo = self.context.pulpo();
        let mut sent = stream::iter(updates)
            .map(|update| async move {
                let answer = if update.change.is_empty() {
                    Ok(())
                } else {
                    pulpo
                        .update_product(update.product_id, &product_body(&update.change))
                        .await
                        .map(|_| ())
                };
                (update, answer)
            })
            .buffer_unordered(self.context.options.pulpo_concurrency.max(1));
        let log = self.context.log;
        while let Some((update, answer)) = sent.next().await {
            let sku = update.item.wanted.sku.clone();
            match answer {
                Ok(()) => {
                    let changed = update.change.describe();
                    log.record(if update.adopted {
                        messages::product_adopted(&sku, update.product_id, &changed)
                    } else {
                        messages::product_updated(&sku, update.product_id, &changed)
                    });
                    log.count(|c| c.updated += 1);
                    if let Some(variant_id) = update.drop.clone() {
                        writes.push(HeldWrite::DropProductLink {
                            scope: self.pair,
                            variant_id,
                        });
                    }
                    writes.push(self.link(&update.item, update.product_id));
                    if update.item.flagged {
                        writes.push(self.clear(&sku));
                    }
                }
                Err(error) if is_systemic(&error) => return Err(self.pulpo_abort(&error)),
                Err(error) => self.failed(&sku, &refusal(&error), writes),
            }
        }
        Ok(())
    }

    /// Creates the new products: alone when there is one (PULPO's answer then names the
    /// problem itself), else in bulk requests of [`BULK`], several at once.
    async fn create(&self, creates: Vec<Item>, writes: &mut Vec<HeldWrite>) -> Result<(), Abort> {
        let pulpo = self.context.pulpo();
        let chunks: Vec<Vec<Item>> =
            creates
                .into_iter()
                .fold(Vec::new(), |mut chunks: Vec<Vec<Item>>, item| {
                    match chunks.last_mut() {
                        Some(chunk) if chunk.len() < BULK => chunk.push(item),
                        _ => chunks.push(vec![item]),
                    }
                    chunks
                });
        let mut sent = stream::iter(chunks)
            .map(|chunk| async move {
                let bodies: Vec<ProductBody> = chunk
                    .iter()
                    .map(|item| product_body(&create_fields(&item.wanted)))
                    .collect();
                let answer = match bodies.as_slice() {
                    [one] => pulpo.create_product(one).await.map(|product| {
                        let sku = chunk[0].wanted.sku.clone();
                        HashMap::from([(sku, Ok(product.id))])
                    }),
                    _ => {
                        let refs: Vec<&ProductBody> = bodies.iter().collect();
                        pulpo.create_products(&refs).await.map(|outcome| {
                            let mut by_sku: HashMap<String, Result<i64, String>> = outcome
                                .created
                                .into_iter()
                                .map(|p| (p.sku, Ok(p.id)))
                                .collect();
                            for (sku, reasons) in outcome.refused {
                                let reasons: Vec<String> =
                                    reasons.iter().map(ToString::to_string).collect();
                                by_sku.insert(sku, Err(reasons.join("; ")));
                            }
                            by_sku
                        })
                    }
                };
                (chunk, answer)
            })
            .buffer_unordered(self.context.options.pulpo_concurrency.max(1));
        let log = self.context.log;
        while let Some((chunk, answer)) = sent.next().await {
            let outcomes = match answer {
                Ok(outcomes) => outcomes,
                Err(error) if is_systemic(&error) => return Err(self.pulpo_abort(&error)),
                Err(PulpoError::Ambiguous { detail }) => self.settle_lost(&chunk, &detail).await?,
                Err(error) => {
                    let reason = refusal(&error);
                    chunk
                        .iter()
                        .map(|item| (item.wanted.sku.clone(), Err(reason.clone())))
                        .collect()
                }
            };
            for item in &chunk {
                let sku = &item.wanted.sku;
                match outcomes.get(sku) {
                    Some(Ok(product_id)) => {
                        log.record(messages::product_created(
                            sku,
                            &item.wanted.name,
                            *product_id,
                        ));
                        log.count(|c| c.created += 1);
                        writes.push(self.link(item, *product_id));
                        if item.flagged {
                            writes.push(self.clear(sku));
                        }
                    }
                    Some(Err(reason)) => self.failed(sku, reason, writes),
                    None => self.failed(sku, "PULPO's answer did not mention it", writes),
                }
            }
        }
        Ok(())
    }

    /// After a create whose answer was lost: asks PULPO which of the SKUs it has now. Those
    /// were created; the others were not and are tried again by the next run.
    async fn settle_lost(
        &self,
        chunk: &[Item],
        detail: &str,
    ) -> Result<HashMap<String, Result<i64, String>>, Abort> {
        let skus: Vec<&str> = chunk.iter().map(|i| i.wanted.sku.as_str()).collect();
        let found: HashMap<String, i64> = self
            .context
            .pulpo()
            .products_by_skus(&skus)
            .await
            .map_err(|e| self.pulpo_abort(&e))?
            .into_iter()
            .filter_map(|p| Some((p.sku?, p.id)))
            .collect();
        Ok(chunk
            .iter()
            .map(|item| {
                let sku = item.wanted.sku.clone();
                let outcome = found.get(&sku).copied().ok_or_else(|| {
                    format!("its answer was lost ({detail}) and PULPO does not have it")
                });
                (sku, outcome)
            })
            .collect())
    }

    /// A SKU PULPO refused: logged, counted and flagged to be tried again.
    fn failed(&self, sku: &str, reason: &str, writes: &mut Vec<HeldWrite>) {
        let entry = messages::product_refused(sku, reason);
        writes.push(self.flag(sku, AttentionKind::Failed, entry.message.clone()));
        let log = self.context.log;
        log.record(entry);
        log.count(|c| c.failed += 1);
    }

    /// A SKU in conflict: logged, counted and flagged until an operator resolves it.
    fn conflict(&self, sku: &str, entry: LogEntry, writes: &mut Vec<HeldWrite>) {
        writes.push(self.flag(sku, AttentionKind::Conflict, entry.message.clone()));
        let log = self.context.log;
        log.record(entry);
        log.count(|c| c.conflicts += 1);
    }

    fn link(&self, item: &Item, product_id: i64) -> HeldWrite {
        HeldWrite::ProductLink(ProductLink {
            scope: self.pair,
            variant_id: item.variant.id.clone(),
            pulpo_product_id: product_id,
            sku: item.wanted.sku.clone(),
            updated_at: chrono::Utc::now(),
        })
    }

    /// Writes under the run's lease, after the log entries that led to them.
    pub(super) async fn write(&self, writes: Vec<HeldWrite>) -> Result<(), Abort> {
        let context = self.context;
        context.log.flush().await?;
        if !writes.is_empty() {
            context
                .store
                .write_held(context.log.lease(), &writes)
                .await?;
        }
        Ok(())
    }
}

/// `Camiseta - Negro / M (gid://shopify/ProductVariant/1)`: a variant as a warning names it.
fn named(variant: &CatalogVariant) -> String {
    format!("\"{}\" ({})", variant.display_name(), variant.id)
}

/// PULPO's reason for refusing a product, or what went wrong with the call.
fn refusal(error: &PulpoError) -> String {
    match error {
        PulpoError::Rejected { errors, .. } if !errors.is_empty() => errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn pulpo_product(product: &Product) -> PulpoProduct {
    PulpoProduct {
        id: product.id,
        sku: product.sku.clone().unwrap_or_default(),
        name: product.name.clone().unwrap_or_default(),
        barcodes: product.barcodes.clone(),
        weight: product.weight,
        cost_price: product.cost_price,
        supplier: product.third_party_id,
        attributes: product.attributes.clone(),
        management_type: product.management_type.clone(),
    }
}

fn product_body(fields: &ProductFields) -> ProductBody {
    ProductBody {
        sku: fields.sku.clone(),
        name: fields.name.clone(),
        barcodes: fields.barcodes.clone(),
        weight: fields.weight,
        cost_price: fields.cost_price,
        third_party_id: fields.supplier,
        management_type: fields.management_type.map(str::to_string),
        attributes: fields.attributes.clone(),
    }
}
