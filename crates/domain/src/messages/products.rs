//! Entries of the `products` integration. Entries about one product carry its SKU as their
//! record, so the run page can filter by it.

use crate::run::{LogEntry, RecordRef};

fn sku_record(sku: &str) -> Option<RecordRef> {
    Some(RecordRef::Sku(sku.to_owned()))
}

/// INFO: a variant became a new PULPO product.
pub fn product_created(sku: &str, name: &str, product_id: i64) -> LogEntry {
    LogEntry::info(
        sku_record(sku),
        format!("SKU {sku} ({name}) is new in PULPO as product {product_id}"),
    )
}

/// INFO: PULPO already had the SKU, so the variant was linked to it, never created twice.
pub fn product_adopted(sku: &str, product_id: i64, changed: &str) -> LogEntry {
    let what = if changed.is_empty() {
        "it already matched Shopify".to_string()
    } else {
        format!("updated: {changed}")
    };
    LogEntry::info(
        sku_record(sku),
        format!(
            "SKU {sku} was already in PULPO as product {product_id}: linked, not created twice; \
             {what}"
        ),
    )
}

/// INFO: a variant changed in Shopify and its PULPO product follows.
pub fn product_updated(sku: &str, product_id: i64, changed: &str) -> LogEntry {
    LogEntry::info(
        sku_record(sku),
        format!("SKU {sku} changed in Shopify: PULPO product {product_id} updated ({changed})"),
    )
}

/// WARNING: a variant without a SKU cannot be a PULPO product.
pub fn variant_without_sku(variant_name: &str, variant_id: &str) -> LogEntry {
    LogEntry::warning(
        None,
        format!(
            "Variant \"{variant_name}\" ({variant_id}) has no SKU and was skipped: give it a SKU \
             in Shopify and the next run sends it"
        ),
    )
}

/// WARNING: two Shopify variants share a SKU; neither is sent until one is changed.
pub fn duplicate_sku(sku: &str, variants: &[String]) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "SKU {sku} is on {} Shopify variants ({}): neither is sent to PULPO; give each \
             variant its own SKU in Shopify and the next run sends them",
            variants.len(),
            variants.join(" and ")
        ),
    )
}

/// ERROR: PULPO refused a product; the next run tries again.
pub fn product_refused(sku: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        sku_record(sku),
        format!(
            "PULPO refused SKU {sku}: {detail}. Correct it in Shopify (or in PULPO); the next \
             run tries again"
        ),
    )
}

/// WARNING: the linked PULPO product was deleted in PULPO; it is not made again.
pub fn product_deleted_in_pulpo(sku: &str, product_id: i64) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "SKU {sku}: its PULPO product {product_id} was deleted in PULPO and is not made \
             again: restore it in PULPO, or delete the variant in Shopify"
        ),
    )
}

/// WARNING: a SKU was changed in Shopify to one another PULPO product already has.
pub fn sku_taken_in_pulpo(sku: &str, old_sku: &str, product_id: i64) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "SKU {old_sku} was renamed to {sku} in Shopify, but PULPO product {product_id} \
             already has {sku}: the rename is not sent; merge or rename the products in PULPO"
        ),
    )
}

/// INFO (run): the day's first run reads the whole catalog, not only what changed.
pub fn daily_catalog_read() -> LogEntry {
    LogEntry::info(
        None,
        "The day's first run reads the whole Shopify catalog again, to find changes Shopify \
         keeps to the product (its title, its tags); only what differs is sent to PULPO",
    )
}

/// INFO (run): variants that are never shipped were left out.
pub fn not_physical_skipped(count: u64) -> LogEntry {
    LogEntry::info(
        None,
        format!(
            "{count} variant(s) need no shipping (gift cards, services) and were left out, as \
             \"Only physical products\" says"
        ),
    )
}

/// ERROR (run): the default supplier is not a PULPO supplier; nothing was sent.
pub fn supplier_not_found(supplier_id: i64, found: Option<&str>) -> LogEntry {
    let why = match found {
        None => "PULPO has no third party with that id".to_string(),
        Some(kind) => format!("that third party is of type {kind}, not S (supplier)"),
    };
    LogEntry::error(
        None,
        format!(
            "The default supplier {supplier_id} cannot be used: {why}. Set the id of a PULPO \
             supplier, or leave it empty; the run stopped before sending anything"
        ),
    )
}
