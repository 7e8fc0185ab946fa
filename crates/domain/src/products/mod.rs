//! The `products` integration's rules (Shopify → PULPO, SPEC §2, reference §A.2 and §A.9):
//! each Shopify variant with a SKU is one PULPO product, with its name, barcode, weight,
//! price (from the variant or its "Cost per item", as the settings say), the default supplier
//! and, if asked, the product's tags; an update sends only what differs.

mod plan;
mod settings;

pub use plan::{
    CatalogVariant, ProductFields, PulpoProduct, TAGS_ATTRIBUTE, Wanted, changes, create_fields,
    product_name, wanted,
};
pub use settings::{PriceSource, ProductSettings};
