//! The `generate_shipments` integration's rules (PULPO → Shopify, SPEC §2 and §4): each box
//! PULPO ships becomes one Shopify fulfillment on the fulfillment order its PULPO order came
//! from, with the box's tracking, never twice for one box; a tracking changed later in PULPO
//! updates the fulfillment; what cannot follow (closed, on hold, moved, fulfilled by hand, too
//! many units, an unknown line) is a conflict with words an operator can act on.

mod plan;
mod settings;

pub use plan::{
    BoxDecision, BoxItem, BoxLink, ExistingFulfillment, FulfillmentOrder, FulfillmentOrderLine,
    FulfillmentOrderStatus, NewFulfillment, PulpoBox, ShipmentConflict, Tracking, decide,
};
pub use settings::ShipmentSettings;
