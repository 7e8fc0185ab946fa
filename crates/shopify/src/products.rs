//! The catalog as the products integration reads it: product variants with their product and
//! inventory item, everything or those updated since a time, page by page.
//!
//! Cost by Shopify's fitted model (a connection is `2 + m(first) × node`, `m(250) = 11`): a
//! variant node with its product, inventory item, unit cost, measurement and weight is 6
//! objects, so a page of 250 requests 68 points.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;

use crate::client::ShopifyClient;
use crate::error::{Result, ShopifyError};

/// Largest page Shopify serves.
pub const MAX_PAGE: u32 = 250;

/// Product variants, by id, found by `$query` (an `updated_at` search, or none for all).
pub const PRODUCT_VARIANTS: &str =
    "query ProductVariants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id sku barcode title price updatedAt
      product { id title tags isGiftCard }
      inventoryItem {
        requiresShipping
        unitCost { amount }
        measurement { weight { unit value } }
      }
    }
  }
}";

/// One product variant as the products integration maps it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogVariant {
    /// `gid://shopify/ProductVariant/N`.
    pub id: String,
    /// `None` when the merchant left it empty.
    pub sku: Option<String>,
    pub barcode: Option<String>,
    /// The variant's own title; `Default Title` for a product's only variant.
    pub title: String,
    pub price: Decimal,
    pub updated_at: DateTime<Utc>,
    /// `gid://shopify/Product/N`.
    pub product_id: String,
    pub product_title: String,
    pub product_tags: Vec<String>,
    pub is_gift_card: bool,
    /// False for what is never shipped (gift cards, services).
    pub requires_shipping: bool,
    /// The merchant's "Cost per item".
    pub unit_cost: Option<Decimal>,
    pub weight: Option<Weight>,
}

/// `Weight`: a value in its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weight {
    pub value: f64,
    pub unit: WeightUnit,
}

/// `WeightUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WeightUnit {
    Grams,
    Kilograms,
    Ounces,
    Pounds,
}

impl Weight {
    /// The weight in kilograms.
    pub fn kilograms(self) -> f64 {
        let per_unit = match self.unit {
            WeightUnit::Grams => 0.001,
            WeightUnit::Kilograms => 1.0,
            WeightUnit::Ounces => 0.028_349_523_125,
            WeightUnit::Pounds => 0.453_592_37,
        };
        self.value * per_unit
    }
}

/// One page of [`ShopifyClient::product_variants_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantPage {
    pub variants: Vec<CatalogVariant>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// The search for variants updated at or after `since`, the timestamp quoted (unquoted,
/// Shopify splits it at the colons and reads it in the shop's time zone).
pub fn variants_updated_since(since: DateTime<Utc>) -> String {
    format!(
        "updated_at:>='{}'",
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

impl ShopifyClient {
    /// Up to `first` (at most 250) variants after `after`, by id: every variant, or those
    /// updated at or after `updated_since`. Halves the page after a server failure.
    pub async fn product_variants_page(
        &self,
        updated_since: Option<DateTime<Utc>>,
        after: Option<&str>,
        first: u32,
    ) -> Result<VariantPage> {
        self.variants_search(updated_since.map(variants_updated_since), after, first)
            .await
    }

    /// Every variant whose SKU is exactly `sku` (Shopify's `sku:` search matches loosely): the
    /// variants that share a SKU, when it was found twice.
    pub async fn product_variants_with_sku(&self, sku: &str) -> Result<Vec<CatalogVariant>> {
        let quoted = sku.replace('\\', "\\\\").replace('"', "\\\"");
        let mut variants = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .variants_search(
                    Some(format!("sku:\"{quoted}\"")),
                    after.as_deref(),
                    MAX_PAGE,
                )
                .await?;
            variants.extend(
                page.variants
                    .into_iter()
                    .filter(|v| v.sku.as_deref() == Some(sku)),
            );
            match page.end_cursor.filter(|_| page.has_next_page) {
                Some(cursor) => after = Some(cursor),
                None => return Ok(variants),
            }
        }
    }

    async fn variants_search(
        &self,
        search: Option<String>,
        after: Option<&str>,
        first: u32,
    ) -> Result<VariantPage> {
        let first = first.clamp(1, MAX_PAGE);
        let answer: VariantsAnswer = self
            .query(PRODUCT_VARIANTS, |failures| {
                let first = (first >> failures.min(8)).max(1);
                json!({"first": first, "after": after, "query": search})
            })
            .await?;
        let page = answer.product_variants;
        if page.page_info.has_next_page && page.page_info.end_cursor.is_none() {
            return Err(ShopifyError::Decode(
                "productVariants: a next page without a cursor".into(),
            ));
        }
        Ok(VariantPage {
            variants: page.nodes.into_iter().map(CatalogVariant::from).collect(),
            end_cursor: page.page_info.end_cursor,
            has_next_page: page.page_info.has_next_page,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariantsAnswer {
    product_variants: Nodes<VariantNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nodes<T> {
    nodes: Vec<T>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariantNode {
    id: String,
    sku: Option<String>,
    barcode: Option<String>,
    title: String,
    price: Decimal,
    updated_at: DateTime<Utc>,
    product: ProductNode,
    inventory_item: InventoryItemNode,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductNode {
    id: String,
    title: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    is_gift_card: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItemNode {
    requires_shipping: bool,
    unit_cost: Option<MoneyNode>,
    measurement: Option<MeasurementNode>,
}

#[derive(Deserialize)]
struct MoneyNode {
    amount: Decimal,
}

#[derive(Deserialize)]
struct MeasurementNode {
    weight: Option<WeightNode>,
}

#[derive(Deserialize)]
struct WeightNode {
    unit: WeightUnit,
    value: f64,
}

impl From<VariantNode> for CatalogVariant {
    fn from(node: VariantNode) -> CatalogVariant {
        let blank_to_none = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        CatalogVariant {
            id: node.id,
            sku: blank_to_none(node.sku),
            barcode: blank_to_none(node.barcode),
            title: node.title,
            price: node.price,
            updated_at: node.updated_at,
            product_id: node.product.id,
            product_title: node.product.title,
            product_tags: node.product.tags,
            is_gift_card: node.product.is_gift_card,
            requires_shipping: node.inventory_item.requires_shipping,
            unit_cost: node.inventory_item.unit_cost.map(|m| m.amount),
            weight: node
                .inventory_item
                .measurement
                .and_then(|m| m.weight)
                .map(|w| Weight {
                    value: w.value,
                    unit: w.unit,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_convert_to_kilograms() {
        let kg = |value, unit| Weight { value, unit }.kilograms();
        assert!((kg(250.0, WeightUnit::Grams) - 0.25).abs() < 1e-12);
        assert!((kg(1.5, WeightUnit::Kilograms) - 1.5).abs() < 1e-12);
        assert!((kg(16.0, WeightUnit::Ounces) - 0.453_592_37).abs() < 1e-9);
        assert!((kg(2.0, WeightUnit::Pounds) - 0.907_184_74).abs() < 1e-9);
    }
}
