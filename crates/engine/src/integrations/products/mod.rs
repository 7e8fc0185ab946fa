//! The products integration (Shopify → PULPO, SPEC §2, reference §A.2 and §A.9): every
//! Shopify variant with a SKU is one PULPO product, created once and kept like Shopify has it.
//!
//! A run:
//! 1. [`read`]: the variants updated since the cursor (less [`OVERLAP`]; the first run, and
//!    the first run of each day (UTC), reads the whole catalog), page by page; then the SKUs flagged by earlier runs (refused by
//!    PULPO, or on two variants) that this run did not meet, looked up by SKU;
//! 2. per page, [`write`]: the links of its variants and PULPO's products read fresh (by id
//!    for linked variants, by SKU for the others); a linked product gets what differs, a SKU
//!    PULPO already has is adopted (linked, then updated), a new one is created, in bulk when
//!    there are several; each outcome lands with its link and flags in one held-lease write.
//!
//! Exactly once: the database keeps one link per variant and one per PULPO product, and a
//! SKU is only created after PULPO was asked for it; a create whose answer was lost is settled
//! by asking PULPO for the SKU again, never by creating blind.
//!
//! The cursor moves to the run's start only once every page was handled, so a run that stops
//! anywhere reads the same variants again; unchanged ones cost a comparison, not a write.

mod read;
mod write;

use std::collections::HashMap;

use chrono::TimeDelta;
use tentacle_domain::messages;
use tentacle_domain::products::ProductSettings;
use tentacle_domain::run::RecordKind;
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, CredentialKind, HeldWrite, SystemPair,
};

use super::{Abort, IntegrationType, RunContext, pulpo_abort, shopify_abort};

/// The products type (Shopify → PULPO).
pub struct Products;

pub const TYPE: &str = "products";

/// Variants updated this long before the cursor are read again: Shopify's search index may
/// show a change committed while the last run read only after that run's start.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(5);

/// Variants per Shopify page.
pub const PAGE: u32 = 250;

/// New products per bulk create. PULPO serves a bulk request item by item; a few requests in
/// flight at once beat one long one, and a refused request costs less to look into.
pub const BULK: usize = 50;

#[async_trait::async_trait]
impl IntegrationType for Products {
    const KEY: &'static str = TYPE;
    const LABEL: &'static str = "Products";
    const SUMMARY: &'static str = "Makes each Shopify variant with a SKU a PULPO product and \
                                   keeps its name, barcode, weight and price as Shopify has them.";
    const ORIGIN: CredentialKind = CredentialKind::Shopify;
    const DESTINATION: CredentialKind = CredentialKind::Pulpo;
    const ORIGIN_HELP: &'static str = "The store whose catalog is sent.";
    const DESTINATION_HELP: &'static str = "The warehouse system that gets the products.";

    type Settings = ProductSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &ProductSettings) -> Result<(), Abort> {
        let products = ProductRun::start(run, settings).await?;
        let until = run.options.now;
        // The day's first run reads the whole catalog again: a change that moves a product's
        // `updatedAt` but not its variants' (Shopify may keep a product's title and tags to the
        // product) is then found within a day. Unchanged variants cost a comparison, not a
        // write.
        let since = match run.store.cursor(run.integration.id).await? {
            Some(cursor) if cursor.date_naive() == until.date_naive() => Some(cursor - OVERLAP),
            Some(_) => {
                run.log.record(messages::daily_catalog_read());
                None
            }
            None => None,
        };
        products.catalog(since).await?;
        products.flagged_skus().await?;
        let left_out = products.left_out();
        if left_out > 0 {
            run.log.record(messages::not_physical_skipped(left_out));
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

/// Everything one run works with.
struct ProductRun<'a> {
    context: &'a RunContext<'a>,
    settings: &'a ProductSettings,
    /// Whose product links these are.
    pair: SystemPair,
    /// SKUs flagged before this run and how: failed ones are tried again, ones in conflict
    /// checked again; a flag is cleared once its SKU goes through. Taken out as the run meets
    /// them, so what is left at the end is looked up on its own.
    flagged: std::sync::Mutex<HashMap<String, AttentionKind>>,
    /// Variants left out because they are never shipped.
    not_physical: std::sync::atomic::AtomicU64,
}

impl<'a> ProductRun<'a> {
    async fn start(
        context: &'a RunContext<'a>,
        settings: &'a ProductSettings,
    ) -> Result<ProductRun<'a>, Abort> {
        let shop = context.credential(CredentialKind::Shopify);
        let wms = context.credential(CredentialKind::Pulpo);
        if let Some(supplier) = settings.default_supplier {
            let party = context
                .pulpo()
                .third_party(supplier)
                .await
                .map_err(|e| pulpo_abort(&e, &wms.name))?;
            let kind = party.as_ref().and_then(|p| p.third_type.clone());
            if kind.as_deref() != Some("S") {
                return Err(Abort::Entry(messages::supplier_not_found(
                    supplier,
                    party.map(|_| kind.as_deref().unwrap_or("none")),
                )));
            }
        }
        let flagged = context
            .store
            .flags(Some(context.integration.id))
            .await?
            .into_iter()
            .filter(|f| f.key.record_kind == RecordKind::Sku)
            .map(|f| (f.key.record_id, f.kind))
            .collect();
        Ok(ProductRun {
            context,
            settings,
            pair: SystemPair {
                shopify_credential_id: shop.id,
                pulpo_credential_id: wms.id,
            },
            flagged: std::sync::Mutex::new(flagged),
            not_physical: std::sync::atomic::AtomicU64::new(0),
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

    fn left_out(&self) -> u64 {
        self.not_physical.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How the SKU was flagged before this run, taking it out of those left to look up.
    fn met(&self, sku: &str) -> Option<AttentionKind> {
        self.flagged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sku)
    }

    /// The flag of a SKU that failed or is in conflict.
    fn flag(&self, sku: &str, kind: AttentionKind, reason: String) -> HeldWrite {
        HeldWrite::Flag(Attention {
            key: self.sku_key(sku),
            record_label: sku.to_string(),
            kind,
            reason,
            attempts: 1,
            run_id: Some(self.context.log.lease().run_id),
            updated_at: chrono::Utc::now(),
        })
    }

    fn clear(&self, sku: &str) -> HeldWrite {
        HeldWrite::ClearFlag(self.sku_key(sku))
    }

    fn sku_key(&self, sku: &str) -> AttentionKey {
        AttentionKey {
            integration_id: self.context.integration.id,
            record_kind: RecordKind::Sku,
            record_id: sku.to_string(),
        }
    }
}
