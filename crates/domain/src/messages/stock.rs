//! Entries of the stock integration. Entries about one SKU carry it as their record, so the run
//! page can filter by SKU.

use crate::run::{LogEntry, RecordRef};
use crate::stock::OneSided;

fn sku_record(sku: &str) -> Option<RecordRef> {
    Some(RecordRef::Sku(sku.to_owned()))
}

/// INFO: Shopify's available for `sku` at `location` was set.
pub fn stock_set(sku: &str, location: &str, from: i64, to: i64) -> LogEntry {
    LogEntry::info(
        sku_record(sku),
        format!("Stock of SKU {sku} at {location} set from {from} to {to} in Shopify"),
    )
}

/// INFO: the item was stocked at the location and its quantity set.
pub fn stock_activated(sku: &str, location: &str, to: i64) -> LogEntry {
    LogEntry::info(
        sku_record(sku),
        format!("SKU {sku} is now stocked at {location} in Shopify, with {to} available"),
    )
}

/// WARNING: the SKU's Shopify item is not stocked at the location, so its stock is not sent.
pub fn stock_not_stocked(sku: &str, location: &str) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "SKU {sku} is in PULPO but its Shopify product is not stocked at the location \
             {location}: in Shopify, make the product available at {location} (Products → the \
             product → Inventory), or turn on \"Activate items not stocked at the location\" in \
             this configuration; its stock is not sent to Shopify until then"
        ),
    )
}

/// WARNING: one SKU on several Shopify variants; tentacle cannot tell which one PULPO means.
pub fn stock_duplicate_sku(sku: &str, variants: &[String]) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "SKU {sku} is on {} Shopify variants ({}): give each variant its own SKU in \
             Shopify; its stock is not sent until then",
            variants.len(),
            variants.join(", ")
        ),
    )
}

/// WARNING: one SKU on several PULPO products.
pub fn stock_duplicate_in_pulpo(sku: &str) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "SKU {sku} belongs to more than one PULPO product: keep one product per SKU in \
             PULPO; its stock is not sent to Shopify until then"
        ),
    )
}

/// INFO: Shopify does not track the item's quantity, so there is nothing to set.
pub fn stock_untracked(sku: &str) -> LogEntry {
    LogEntry::info(
        sku_record(sku),
        format!(
            "SKU {sku} is skipped: Shopify does not track its quantity (\"Track quantity\" is off \
             on the variant)"
        ),
    )
}

/// WARNING: another app kept changing the quantity between tentacle's read and its write;
/// tentacle never overwrites blindly, so this SKU waits for the next run.
pub fn stock_kept_changing(sku: &str, location: &str, attempts: u32) -> LogEntry {
    LogEntry::warning(
        sku_record(sku),
        format!(
            "Stock of SKU {sku} at {location} changed in Shopify while tentacle set it, \
             {attempts} times in a row (another app or a person is adjusting it): it was not \
             overwritten and is reconciled again on the next run"
        ),
    )
}

/// ERROR: Shopify refused to set or activate the SKU's stock.
pub fn stock_refused(sku: &str, location: &str, detail: &str) -> LogEntry {
    LogEntry::error(
        sku_record(sku),
        format!(
            "Shopify refused the stock of SKU {sku} at {location} ({detail}): it is retried on \
             the next run"
        ),
    )
}

/// INFO (run): SKUs only one side knows, counted rather than listed one by one (a warehouse
/// often carries other channels' products).
pub fn stock_one_sided(
    location: &str,
    only_in_pulpo: &OneSided,
    only_in_shopify: &OneSided,
) -> LogEntry {
    let part = |count: usize, side: &str, first: &[String]| {
        if count == 0 {
            return None;
        }
        let more = if count > first.len() { ", …" } else { "" };
        Some(format!(
            "{count} SKU{} only in {side} ({}{more})",
            if count == 1 { "" } else { "s" },
            first.join(", ")
        ))
    };
    let parts: Vec<String> = [
        part(only_in_pulpo.count, "PULPO", &only_in_pulpo.first),
        part(only_in_shopify.count, "Shopify", &only_in_shopify.first),
    ]
    .into_iter()
    .flatten()
    .collect();
    LogEntry::info(
        None,
        format!(
            "At {location}: {}; they are left alone (not in both systems)",
            parts.join("; ")
        ),
    )
}

/// INFO (run): what a location's reconcile did.
pub fn stock_location_done(
    location: &str,
    compared: u64,
    updated: u64,
    activated: u64,
    unchanged: u64,
    failed: u64,
    held_for_orders: i64,
) -> LogEntry {
    let held = if held_for_orders > 0 {
        format!(
            "; {held_for_orders} units held back for open Shopify orders that PULPO does not hold \
             yet"
        )
    } else {
        String::new()
    };
    LogEntry::info(
        None,
        format!(
            "Stock at {location}: {compared} SKUs compared, {updated} updated, {activated} \
             activated, {unchanged} unchanged, {failed} failed{held}"
        ),
    )
}

/// WARNING (run): a location the settings name is not connected to a PULPO warehouse.
pub fn stock_location_not_connected(
    name: &str,
    locations: &[String],
    warehouses: &[String],
) -> LogEntry {
    LogEntry::warning(
        None,
        format!(
            "The location \"{name}\" in this configuration's settings is not both a Shopify \
             location ({}) and a PULPO warehouse ({}): fix the name in Integration \
             configuration, or rename the location or warehouse so the names are equal; its \
             stock is not sent until then",
            locations.join(", "),
            warehouses.join(", "),
        ),
    )
}

/// WARNING (run): no Shopify location is named like a PULPO warehouse, so no stock can be sent.
pub fn stock_no_connected_location(locations: &[String], warehouses: &[String]) -> LogEntry {
    LogEntry::warning(
        None,
        format!(
            "No Shopify location ({}) has the name of a PULPO warehouse ({}): rename the \
             location in Shopify or the warehouse in PULPO so the names are equal; no stock is \
             sent until then",
            locations.join(", "),
            warehouses.join(", "),
        ),
    )
}
