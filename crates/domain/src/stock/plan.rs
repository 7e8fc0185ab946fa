//! What one location's reconcile does: compare PULPO's available stock with Shopify's current
//! `available` SKU by SKU and say which quantities to set, which items to activate, and what
//! to warn about. Pure: the engine reads both sides and carries the plan out.

use std::collections::HashMap;

/// One PULPO product's available stock in the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulpoStock {
    pub sku: String,
    /// PULPO's `available_quantity`; may be negative (oversold, corrections).
    pub available: i64,
}

/// One Shopify inventory item as read at the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyItem {
    /// The inventory item's gid.
    pub inventory_item_id: String,
    pub sku: Option<String>,
    /// Whether Shopify tracks its quantity ("Track quantity").
    pub tracked: bool,
    /// How the merchant knows the variant, e.g. "T-shirt - Blue / M".
    pub variant: String,
    /// Its level at the location; `None` when it is not stocked there.
    pub level: Option<Level>,
}

/// An inventory level at the location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// An inactive level is one Shopify keeps for history (or, from 2026-10, one a set at a
    /// location where the item was not stocked left behind): the item is not stocked there.
    pub active: bool,
    pub available: i64,
}

/// A quantity to set: from what Shopify showed to what it should show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub inventory_item_id: String,
    pub sku: String,
    /// The `available` read from Shopify: the compare-and-swap value.
    pub from: i64,
    pub to: i64,
}

/// An item to stock at the location, with the quantity it should show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub inventory_item_id: String,
    pub sku: String,
    pub to: i64,
}

/// SKUs only one side knows: how many, and the first few (sorted) to name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneSided {
    pub count: usize,
    pub first: Vec<String>,
}

/// How many SKUs of a one-sided list an entry names.
pub const NAMED_SKUS: usize = 5;

/// What a location's reconcile does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StockPlan {
    /// SKUs known on both sides (one Shopify item and one PULPO product each).
    pub compared: u64,
    pub sets: Vec<Set>,
    pub activations: Vec<Activation>,
    /// Compared SKUs whose Shopify value is already right.
    pub unchanged: u64,
    /// SKUs PULPO has whose item is not stocked at the location (and activation is off).
    pub not_stocked: Vec<String>,
    /// SKUs on more than one Shopify variant, with the variants.
    pub duplicate_in_shopify: Vec<(String, Vec<String>)>,
    /// SKUs on more than one PULPO product.
    pub duplicate_in_pulpo: Vec<String>,
    /// SKUs whose Shopify item is not tracked.
    pub untracked: Vec<String>,
    pub only_in_pulpo: OneSided,
    pub only_in_shopify: OneSided,
    /// Units held back from Shopify for orders PULPO does not hold yet, over every SKU.
    pub held_for_orders: i64,
}

/// What Shopify should show as available: PULPO's available, less the safety stock, less what
/// Shopify has committed for orders PULPO does not hold yet (PULPO has not reserved those
/// units, so handing them back to Shopify would sell them twice), never below 0.
pub fn wanted(pulpo_available: i64, safety_stock: i64, committed_not_in_pulpo: i64) -> i64 {
    (pulpo_available - safety_stock - committed_not_in_pulpo).max(0)
}

/// The plan for one location. `committed` holds, by inventory item id, the quantity Shopify
/// has committed at the location for orders PULPO does not hold yet.
pub fn plan(
    pulpo: Vec<PulpoStock>,
    shopify: Vec<ShopifyItem>,
    committed: &HashMap<String, i64>,
    safety_stock: i64,
    activate_missing_items: bool,
) -> StockPlan {
    let mut plan = StockPlan::default();
    let mut in_pulpo: HashMap<String, Option<i64>> = HashMap::with_capacity(pulpo.len());
    for product in pulpo {
        in_pulpo
            .entry(product.sku)
            .and_modify(|seen| *seen = None)
            .or_insert(Some(product.available));
    }
    let mut items: HashMap<String, Vec<ShopifyItem>> = HashMap::with_capacity(shopify.len());
    for item in shopify {
        if let Some(sku) = item.sku.clone().filter(|s| !s.trim().is_empty()) {
            items.entry(sku).or_default().push(item);
        }
    }
    let mut only_in_shopify = Vec::new();
    for (sku, mut variants) in items {
        let Some(available) = in_pulpo.remove(&sku) else {
            only_in_shopify.push(sku);
            continue;
        };
        let Some(available) = available else {
            plan.duplicate_in_pulpo.push(sku);
            continue;
        };
        if variants.len() > 1 {
            let mut names: Vec<String> = variants.into_iter().map(|v| v.variant).collect();
            names.sort();
            plan.duplicate_in_shopify.push((sku, names));
            continue;
        }
        let Some(item) = variants.pop() else {
            continue;
        };
        plan.compared += 1;
        if !item.tracked {
            plan.untracked.push(sku);
            continue;
        }
        let held = committed
            .get(&item.inventory_item_id)
            .copied()
            .unwrap_or(0)
            .max(0);
        plan.held_for_orders += held;
        let to = wanted(available, safety_stock, held);
        match item.level {
            Some(level) if level.active => {
                if level.available == to {
                    plan.unchanged += 1;
                } else {
                    plan.sets.push(Set {
                        inventory_item_id: item.inventory_item_id,
                        sku,
                        from: level.available,
                        to,
                    });
                }
            }
            _ if activate_missing_items => plan.activations.push(Activation {
                inventory_item_id: item.inventory_item_id,
                sku,
                to,
            }),
            _ => plan.not_stocked.push(sku),
        }
    }
    let mut only_in_pulpo: Vec<String> = in_pulpo.into_keys().collect();
    plan.only_in_pulpo = one_sided(&mut only_in_pulpo);
    plan.only_in_shopify = one_sided(&mut only_in_shopify);
    // Stable order for logs and batches, whatever the hash maps did.
    plan.sets.sort_by(|a, b| a.sku.cmp(&b.sku));
    plan.activations.sort_by(|a, b| a.sku.cmp(&b.sku));
    plan.not_stocked.sort();
    plan.duplicate_in_shopify.sort();
    plan.duplicate_in_pulpo.sort();
    plan.untracked.sort();
    plan
}

fn one_sided(skus: &mut [String]) -> OneSided {
    skus.sort();
    OneSided {
        count: skus.len(),
        first: skus.iter().take(NAMED_SKUS).cloned().collect(),
    }
}

/// A key that names one batch of quantity sets of one run: the same when the same batch is
/// sent again (a retry after a lost answer), different for another run or another batch, so
/// Shopify applies each batch once and never answers a later run from an earlier one's result.
pub fn idempotency_key(run_id: i64, location_id: &str, sets: &[Set]) -> String {
    // FNV-1a: stable across builds and processes, unlike the standard library's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    };
    feed(location_id.as_bytes());
    for set in sets {
        feed(set.inventory_item_id.as_bytes());
        feed(&set.from.to_le_bytes());
        feed(&set.to.to_le_bytes());
    }
    format!("tentacle-stock-{run_id}-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u32, sku: &str, available: Option<i64>) -> ShopifyItem {
        ShopifyItem {
            inventory_item_id: format!("gid://shopify/InventoryItem/{id}"),
            sku: Some(sku.into()),
            tracked: true,
            variant: format!("Variant {id}"),
            level: available.map(|available| Level {
                active: true,
                available,
            }),
        }
    }

    fn stock(sku: &str, available: i64) -> PulpoStock {
        PulpoStock {
            sku: sku.into(),
            available,
        }
    }

    #[test]
    fn only_differences_are_set_from_what_shopify_shows() {
        let plan = plan(
            vec![stock("A", 5), stock("B", 7)],
            vec![item(1, "A", Some(5)), item(2, "B", Some(3))],
            &HashMap::new(),
            0,
            false,
        );
        assert_eq!((plan.compared, plan.unchanged), (2, 1));
        assert_eq!(
            plan.sets,
            [Set {
                inventory_item_id: "gid://shopify/InventoryItem/2".into(),
                sku: "B".into(),
                from: 3,
                to: 7
            }]
        );
    }

    #[test]
    fn negative_pulpo_stock_and_safety_stock_never_go_below_zero() {
        assert_eq!(wanted(-3, 0, 0), 0);
        assert_eq!(wanted(10, 2, 0), 8);
        assert_eq!(wanted(1, 2, 0), 0);
        let plan = plan(
            vec![stock("A", -3)],
            vec![item(1, "A", Some(4))],
            &HashMap::new(),
            0,
            false,
        );
        assert_eq!(plan.sets[0].to, 0);
    }

    #[test]
    fn units_committed_for_orders_not_in_pulpo_are_held_back() {
        let committed = HashMap::from([("gid://shopify/InventoryItem/1".to_string(), 2)]);
        let plan = plan(
            vec![stock("A", 10)],
            vec![item(1, "A", Some(8))],
            &committed,
            0,
            false,
        );
        assert_eq!((plan.unchanged, plan.held_for_orders), (1, 2));
        assert!(plan.sets.is_empty());
    }

    #[test]
    fn not_stocked_is_warned_or_activated() {
        let mut inactive = item(2, "B", Some(0));
        inactive.level = Some(Level {
            active: false,
            available: 0,
        });
        let both = vec![item(1, "A", None), inactive];
        let warned = plan(
            vec![stock("A", 4), stock("B", 1)],
            both.clone(),
            &HashMap::new(),
            0,
            false,
        );
        assert_eq!(warned.not_stocked, ["A", "B"]);
        assert!(warned.sets.is_empty() && warned.activations.is_empty());
        let activated = plan(
            vec![stock("A", 4), stock("B", 1)],
            both,
            &HashMap::new(),
            0,
            true,
        );
        assert_eq!(
            activated
                .activations
                .iter()
                .map(|a| (a.sku.as_str(), a.to))
                .collect::<Vec<_>>(),
            [("A", 4), ("B", 1)]
        );
    }

    #[test]
    fn duplicates_and_untracked_are_not_pushed() {
        let mut untracked = item(3, "C", Some(0));
        untracked.tracked = false;
        let plan = plan(
            vec![stock("A", 1), stock("B", 1), stock("B", 2), stock("C", 9)],
            vec![
                item(1, "A", Some(0)),
                item(2, "A", Some(0)),
                item(4, "B", Some(0)),
                untracked,
            ],
            &HashMap::new(),
            0,
            false,
        );
        assert!(plan.sets.is_empty());
        assert_eq!(
            plan.duplicate_in_shopify,
            [(
                "A".to_string(),
                vec!["Variant 1".to_string(), "Variant 2".to_string()]
            )]
        );
        assert_eq!(plan.duplicate_in_pulpo, ["B"]);
        assert_eq!(plan.untracked, ["C"]);
    }

    #[test]
    fn one_sided_skus_are_counted_and_a_few_named() {
        let pulpo = (0..12).map(|i| stock(&format!("P{i:02}"), 1)).collect();
        let shopify = vec![item(1, "S1", Some(0)), item(2, "S2", Some(0))];
        let plan = plan(pulpo, shopify, &HashMap::new(), 0, false);
        assert_eq!(plan.only_in_pulpo.count, 12);
        assert_eq!(
            plan.only_in_pulpo.first,
            ["P00", "P01", "P02", "P03", "P04"]
        );
        assert_eq!(plan.only_in_shopify.count, 2);
        assert_eq!(plan.compared, 0);
    }

    #[test]
    fn the_key_follows_the_batch_and_the_run() {
        let sets = vec![Set {
            inventory_item_id: "gid://shopify/InventoryItem/1".into(),
            sku: "A".into(),
            from: 1,
            to: 2,
        }];
        let key = idempotency_key(7, "gid://shopify/Location/1", &sets);
        assert_eq!(key, idempotency_key(7, "gid://shopify/Location/1", &sets));
        assert_ne!(key, idempotency_key(8, "gid://shopify/Location/1", &sets));
        let mut other = sets.clone();
        other[0].from = 0;
        assert_ne!(key, idempotency_key(7, "gid://shopify/Location/1", &other));
    }
}
