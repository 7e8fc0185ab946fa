//! The stock integration's rules (PULPO → Shopify, SPEC §2 and §4): Shopify's `available` at
//! the location connected to a PULPO warehouse follows PULPO's available stock, SKU by SKU,
//! reconciled against Shopify's current value every run, less a safety stock and less what
//! Shopify has committed for orders PULPO does not hold yet (the oversell window).
//!
//! [`Reconcile`] decides per location, page by page; the engine reads both sides, writes the sets with
//! compare-and-swap and logs with [`crate::messages`].

mod plan;
mod settings;

pub use plan::{
    Activation, Level, NAMED_SKUS, OneSided, PulpoSku, Reconcile, Set, ShopifyItem, ShopifySkus,
    StockPlan, idempotency_key, wanted,
};
pub use settings::StockSettings;
