//! What a products run reads from Shopify: the catalog page by page, and the variants of the
//! SKUs earlier runs flagged that this run did not meet.

use chrono::{DateTime, Utc};
use tentacle_domain::products::CatalogVariant;
use tentacle_shopify::products as shopify;

use super::{PAGE, ProductRun};
use crate::integrations::Abort;

impl ProductRun<'_> {
    /// Every variant updated at or after `since` (every variant when `None`), page by page.
    /// The next page is read while this one is handled: Shopify's points and PULPO's answers
    /// are waited for at the same time, and at most two pages are held.
    pub(super) async fn catalog(&self, since: Option<DateTime<Utc>>) -> Result<(), Abort> {
        let shop = self.context.shopify();
        let read = |after: Option<String>| async move {
            shop.product_variants_page(since, after.as_deref(), PAGE)
                .await
                .map_err(|e| self.shopify_abort(&e))
        };
        let mut page = read(None).await?;
        loop {
            let variants = page.variants.into_iter().map(from_shopify).collect();
            match page.end_cursor.filter(|_| page.has_next_page) {
                Some(cursor) => {
                    let (next, handled) = tokio::join!(read(Some(cursor)), self.page(variants));
                    handled?;
                    page = next?;
                }
                None => return self.page(variants).await,
            }
        }
    }

    /// The SKUs flagged before this run that its pages did not reach (their variants did not
    /// change): read by SKU and handled like a page, so a refused product is tried again and a
    /// shared SKU is checked again. A SKU no variant has any more loses its flag.
    pub(super) async fn flagged_skus(&self) -> Result<(), Abort> {
        let left: Vec<String> = self
            .flagged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for sku in left {
            let variants = self
                .context
                .shopify()
                .product_variants_with_sku(&sku)
                .await
                .map_err(|e| self.shopify_abort(&e))?;
            if variants.is_empty() {
                self.met(&sku);
                self.write(vec![self.clear(&sku)]).await?;
                continue;
            }
            self.page(variants.into_iter().map(from_shopify).collect())
                .await?;
        }
        Ok(())
    }
}

pub(super) fn from_shopify(variant: shopify::CatalogVariant) -> CatalogVariant {
    CatalogVariant {
        id: variant.id,
        sku: variant.sku,
        barcode: variant.barcode,
        title: variant.title,
        product_title: variant.product_title,
        price: variant.price,
        unit_cost: variant.unit_cost,
        weight_kg: variant.weight.map(shopify::Weight::kilograms),
        tags: variant.product_tags,
        requires_shipping: variant.requires_shipping && !variant.is_gift_card,
    }
}
