//! What the sales orders rules know of PULPO: its warehouses by name, the states of its sales
//! orders, and the link we keep between a Shopify fulfillment order and the PULPO sales order
//! created for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Fingerprint;
use crate::string_enum::string_enum;

/// PULPO's warehouses by name. A Shopify location is connected to PULPO when a PULPO warehouse
/// has exactly the same name (SPEC §2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warehouses {
    by_name: BTreeMap<String, i64>,
}

/// Two different PULPO warehouses share a name, so a Shopify location cannot be matched to one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "PULPO has two warehouses named \"{name}\" (ids {first_id} and {second_id}): rename one in \
     PULPO so every Shopify location matches exactly one warehouse"
)]
pub struct DuplicateWarehouseName {
    pub name: String,
    pub first_id: i64,
    pub second_id: i64,
}

impl Warehouses {
    /// Builds the lookup from `(name, id)` pairs as PULPO lists them. The same warehouse listed
    /// twice is fine; two warehouses with one name are an error, since orders could go to either.
    pub fn new(
        warehouses: impl IntoIterator<Item = (String, i64)>,
    ) -> Result<Self, DuplicateWarehouseName> {
        let mut by_name = BTreeMap::new();
        for (name, id) in warehouses {
            if let Some(&first_id) = by_name.get(&name)
                && first_id != id
            {
                return Err(DuplicateWarehouseName {
                    name,
                    first_id,
                    second_id: id,
                });
            }
            by_name.insert(name, id);
        }
        Ok(Self { by_name })
    }

    /// The id of the PULPO warehouse named exactly like this Shopify location.
    pub fn id_of(&self, location_name: &str) -> Option<i64> {
        self.by_name.get(location_name).copied()
    }

    /// Warehouse names in alphabetical order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Whether PULPO has no warehouse at all.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

string_enum! {
    /// The state of a PULPO sales order, as PULPO spells it.
    PulpoOrderState, "PULPO order state" {
        /// Waiting; PULPO has not started work. The only state in which we update an order.
        Queue => "queue",
        /// Put on hold from `queue`; resumes to `queue`.
        Paused => "paused",
        Picking => "picking",
        Packing => "packing",
        Shipping => "shipping",
        /// Shipped; cannot be cancelled.
        Ended => "ended",
        Cancelled => "cancelled",
    }
}

impl PulpoOrderState {
    /// Whether PULPO is done with the order (shipping, shipped or cancelled). Changes in Shopify
    /// no longer concern it: once goods ship, Shopify's remaining quantities drop through our
    /// own fulfillments, which must not read as changes.
    pub const fn is_done(self) -> bool {
        matches!(self, Self::Shipping | Self::Ended | Self::Cancelled)
    }
}

/// The PULPO sales order we created for one Shopify fulfillment order, as our store remembers
/// it. The caller passes every link of an order, cancelled ones included, so that no `order_num`
/// is ever reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedSalesOrder {
    /// GraphQL id of the Shopify fulfillment order.
    pub fulfillment_order_id: String,
    pub pulpo_order_id: i64,
    pub order_num: String,
    /// The PULPO warehouse the order was created in (or last moved to).
    pub warehouse_id: i64,
    /// The PULPO state as last seen.
    pub state: PulpoOrderState,
    /// [`SalesOrderDraft::fingerprint`](super::SalesOrderDraft::fingerprint) of what PULPO last
    /// received for this order.
    pub fingerprint: Fingerprint,
}
