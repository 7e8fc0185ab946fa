//! What one location's reconcile does: compare PULPO's available stock with Shopify's current
//! `available` SKU by SKU and say which quantities to set, which items to activate, and what
//! to warn about. Pure: the engine reads both sides and carries the plan out.

use std::collections::HashMap;

/// One Shopify inventory item as read at the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyItem {
    /// The inventory item's gid.
    pub inventory_item_id: String,
    pub sku: Option<String>,
    /// Whether Shopify tracks its quantity ("Track quantity").
    pub tracked: bool,
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

/// SKUs only one side knows: how many, and the first few (smallest) to name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneSided {
    pub count: usize,
    pub first: Vec<String>,
}

impl OneSided {
    /// Counts `sku`, keeping it among the named when it is one of the smallest.
    pub fn add(&mut self, sku: &str) {
        self.count += 1;
        if self.first.len() < NAMED_SKUS || self.first.last().is_some_and(|l| sku < l.as_str()) {
            let at = self.first.partition_point(|s| s.as_str() < sku);
            self.first.insert(at, sku.to_owned());
            self.first.truncate(NAMED_SKUS);
        }
    }
}

/// How many SKUs of a one-sided list an entry names.
pub const NAMED_SKUS: usize = 5;

/// What PULPO has for a SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PulpoSku {
    /// One product with this available stock (may be negative).
    Available(i64),
    /// More than one product carries the SKU.
    Duplicate,
}

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
    /// SKUs on more than one Shopify item (variant).
    pub duplicate_in_shopify: Vec<String>,
    /// SKUs on more than one PULPO product.
    pub duplicate_in_pulpo: Vec<String>,
    /// SKUs whose Shopify item is not tracked.
    pub untracked: Vec<String>,
    pub only_in_pulpo: OneSided,
    pub only_in_shopify: OneSided,
    /// Units held back from Shopify for orders PULPO does not hold yet, over every SKU.
    pub held_for_orders: i64,
}

/// What became of a Shopify SKU, remembered (by a hash of the SKU) until the end, because a
/// later page may show the same SKU on another item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Unchanged,
    Pending,
    OnlyInShopify,
    PulpoDuplicate,
    Duplicate,
}

/// What Shopify should show as available: PULPO's available, less the safety stock, less what
/// Shopify has committed for orders PULPO does not hold yet (PULPO has not reserved those
/// units, so handing them back to Shopify would sell them twice), never below 0.
pub fn wanted(pulpo_available: i64, safety_stock: i64, committed_not_in_pulpo: i64) -> i64 {
    (pulpo_available - safety_stock - committed_not_in_pulpo).max(0)
}

/// A location's reconcile, fed page by page so that memory stays small whatever the catalog:
/// per SKU it keeps only a hash and what became of it; what is to be done (sets, activations,
/// warnings) is kept in full.
#[derive(Debug)]
pub struct Reconcile {
    safety_stock: i64,
    activate_missing_items: bool,
    seen: HashMap<u64, Outcome>,
    plan: StockPlan,
}

/// A SKU's hash: FNV-1a, stable across builds; 64 bits make a collision among a million SKUs
/// about one in 36 million.
fn sku_hash(sku: &str) -> u64 {
    fnv(sku.as_bytes(), 0xcbf2_9ce4_8422_2325)
}

fn fnv(bytes: &[u8], mut hash: u64) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Reconcile {
    pub fn new(safety_stock: i64, activate_missing_items: bool) -> Reconcile {
        Reconcile {
            safety_stock,
            activate_missing_items,
            seen: HashMap::new(),
            plan: StockPlan::default(),
        }
    }

    /// One page of Shopify items, with what PULPO has for their SKUs (`pulpo` may hold more)
    /// and, by inventory item id, what Shopify has committed at the location for orders PULPO
    /// does not hold yet.
    pub fn page(
        &mut self,
        items: Vec<ShopifyItem>,
        pulpo: &HashMap<String, PulpoSku>,
        committed: &HashMap<String, i64>,
    ) {
        for item in items {
            let Some(sku) = item.sku.clone().filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            let hash = sku_hash(&sku);
            if let Some(before) = self.seen.get_mut(&hash) {
                match *before {
                    Outcome::Unchanged => {
                        self.plan.unchanged -= 1;
                        self.plan.compared -= 1;
                    }
                    Outcome::Pending => self.plan.compared -= 1,
                    // Still only in Shopify, still a PULPO duplicate, already a duplicate.
                    _ => continue,
                }
                *before = Outcome::Duplicate;
                self.plan.duplicate_in_shopify.push(sku);
                continue;
            }
            let outcome = match pulpo.get(&sku) {
                None => {
                    self.plan.only_in_shopify.add(&sku);
                    Outcome::OnlyInShopify
                }
                Some(PulpoSku::Duplicate) => {
                    self.plan.duplicate_in_pulpo.push(sku);
                    Outcome::PulpoDuplicate
                }
                Some(PulpoSku::Available(available)) => {
                    self.compare(item, sku, *available, committed)
                }
            };
            self.seen.insert(hash, outcome);
        }
    }

    fn compare(
        &mut self,
        item: ShopifyItem,
        sku: String,
        available: i64,
        committed: &HashMap<String, i64>,
    ) -> Outcome {
        self.plan.compared += 1;
        if !item.tracked {
            self.plan.untracked.push(sku);
            return Outcome::Pending;
        }
        let held = committed
            .get(&item.inventory_item_id)
            .copied()
            .unwrap_or(0)
            .max(0);
        self.plan.held_for_orders += held;
        let to = wanted(available, self.safety_stock, held);
        match item.level {
            Some(level) if level.active && level.available == to => {
                self.plan.unchanged += 1;
                return Outcome::Unchanged;
            }
            Some(level) if level.active => self.plan.sets.push(Set {
                inventory_item_id: item.inventory_item_id,
                sku,
                from: level.available,
                to,
            }),
            _ if self.activate_missing_items => self.plan.activations.push(Activation {
                inventory_item_id: item.inventory_item_id,
                sku,
                to,
            }),
            _ => self.plan.not_stocked.push(sku),
        }
        Outcome::Pending
    }

    /// The plan (what a SKU seen on several items would have had done is dropped; the
    /// SKUs only in PULPO are for the caller to count, with the SKUs Shopify has), and the SKUs
    /// Shopify has.
    pub fn finish(mut self) -> (StockPlan, ShopifySkus) {
        let seen = &self.seen;
        let single = |sku: &str| seen.get(&sku_hash(sku)) != Some(&Outcome::Duplicate);
        let plan = &mut self.plan;
        plan.sets.retain(|s| single(&s.sku));
        plan.activations.retain(|a| single(&a.sku));
        plan.not_stocked.retain(|s| single(s));
        plan.untracked.retain(|s| single(s));
        // Stable order for logs and batches, whatever the pages' order was.
        plan.sets.sort_by(|a, b| a.sku.cmp(&b.sku));
        plan.activations.sort_by(|a, b| a.sku.cmp(&b.sku));
        plan.not_stocked.sort();
        plan.duplicate_in_shopify.sort();
        plan.duplicate_in_shopify.dedup();
        plan.duplicate_in_pulpo.sort();
        plan.untracked.sort();
        (self.plan, ShopifySkus(self.seen))
    }
}

/// The SKUs a location's Shopify items carry (by hash), to tell which PULPO products Shopify
/// does not have.
#[derive(Debug)]
pub struct ShopifySkus(HashMap<u64, Outcome>);

impl ShopifySkus {
    pub fn contains(&self, sku: &str) -> bool {
        self.0.contains_key(&sku_hash(sku))
    }
}

/// A key that names one batch of quantity sets of one run: the same when the same batch is
/// sent again (a retry after a lost answer), different for another run or another batch, so
/// Shopify applies each batch once and never answers a later run from an earlier one's result.
pub fn idempotency_key(run_id: i64, location_id: &str, sets: &[Set]) -> String {
    // FNV-1a (stable across builds and processes, unlike the standard library's hasher), with
    // a separator after each part so that parts cannot run into each other.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| hash = fnv(&[bytes, &[0xff]].concat(), hash);
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
            level: available.map(|available| Level {
                active: true,
                available,
            }),
        }
    }

    fn pulpo(stock: &[(&str, PulpoSku)]) -> HashMap<String, PulpoSku> {
        stock.iter().map(|(s, p)| (s.to_string(), *p)).collect()
    }

    fn one_page(
        items: Vec<ShopifyItem>,
        stock: &[(&str, PulpoSku)],
        committed: &HashMap<String, i64>,
        activate: bool,
    ) -> StockPlan {
        let mut reconcile = Reconcile::new(0, activate);
        reconcile.page(items, &pulpo(stock), committed);
        reconcile.finish().0
    }

    use PulpoSku::{Available, Duplicate};

    #[test]
    fn only_differences_are_set_from_what_shopify_shows() {
        let plan = one_page(
            vec![item(1, "A", Some(5)), item(2, "B", Some(3))],
            &[("A", Available(5)), ("B", Available(7))],
            &HashMap::new(),
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
        let plan = one_page(
            vec![item(1, "A", Some(4))],
            &[("A", Available(-3))],
            &HashMap::new(),
            false,
        );
        assert_eq!(plan.sets[0].to, 0);
        let mut safe = Reconcile::new(2, false);
        safe.page(
            vec![item(1, "A", Some(4))],
            &pulpo(&[("A", Available(10))]),
            &HashMap::new(),
        );
        assert_eq!(safe.finish().0.sets[0].to, 8);
    }

    #[test]
    fn units_committed_for_orders_not_in_pulpo_are_held_back() {
        let committed = HashMap::from([("gid://shopify/InventoryItem/1".to_string(), 2)]);
        let plan = one_page(
            vec![item(1, "A", Some(8))],
            &[("A", Available(10))],
            &committed,
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
        let stock = [("A", Available(4)), ("B", Available(1))];
        let warned = one_page(both.clone(), &stock, &HashMap::new(), false);
        assert_eq!(warned.not_stocked, ["A", "B"]);
        assert!(warned.sets.is_empty() && warned.activations.is_empty());
        let activated = one_page(both, &stock, &HashMap::new(), true);
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
    fn duplicates_and_untracked_are_not_pushed_even_across_pages() {
        let mut untracked = item(3, "C", Some(0));
        untracked.tracked = false;
        let stock = pulpo(&[
            ("A", Available(1)),
            ("B", Duplicate),
            ("C", Available(9)),
            ("D", Available(2)),
        ]);
        let mut reconcile = Reconcile::new(0, false);
        reconcile.page(
            vec![
                item(1, "A", Some(0)),
                item(4, "B", Some(0)),
                item(5, "D", Some(2)),
            ],
            &stock,
            &HashMap::new(),
        );
        reconcile.page(
            vec![item(2, "A", Some(0)), untracked, item(6, "D", Some(2))],
            &stock,
            &HashMap::new(),
        );
        let (plan, _) = reconcile.finish();
        assert!(plan.sets.is_empty(), "{plan:?}");
        assert_eq!(plan.duplicate_in_shopify, ["A", "D"]);
        assert_eq!(plan.duplicate_in_pulpo, ["B"]);
        assert_eq!(plan.untracked, ["C"]);
        assert_eq!((plan.compared, plan.unchanged), (1, 0));
    }

    #[test]
    fn one_sided_skus_are_counted_and_the_smallest_named() {
        let mut reconcile = Reconcile::new(0, false);
        reconcile.page(
            vec![item(1, "S2", Some(0)), item(2, "S1", Some(0))],
            &HashMap::new(),
            &HashMap::new(),
        );
        let (mut plan, skus) = reconcile.finish();
        for i in (0..12).rev() {
            let sku = format!("P{i:02}");
            assert!(!skus.contains(&sku));
            plan.only_in_pulpo.add(&sku);
        }
        assert!(skus.contains("S1"));
        assert_eq!(plan.only_in_pulpo.count, 12);
        assert_eq!(
            plan.only_in_pulpo.first,
            ["P00", "P01", "P02", "P03", "P04"]
        );
        assert_eq!(plan.only_in_shopify.count, 2);
        assert_eq!(plan.only_in_shopify.first, ["S1", "S2"]);
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
