//! The sales orders integration's rules (Shopify → PULPO, SPEC §3): which Shopify orders are
//! imported, how each becomes one PULPO sales order per fulfillment order, and when an imported
//! order is updated, cancelled or put in conflict.
//!
//! [`Planner::decide`] takes one Shopify order and what we already created for it in PULPO, and
//! returns a [`Decision`]. It does no I/O: the engine fetches, resolves SKUs and customers,
//! writes to PULPO, and logs with [`crate::messages`].

mod decision;
mod draft;
mod fingerprint;
mod plan;
mod pulpo;
mod settings;
#[cfg(test)]
mod tests;

pub use decision::{
    CancelReason, Cancellation, Conflict, ConflictReason, Decision, OrderError, SkipReason, Step,
    Update, UpdateReason,
};
pub use draft::{
    CHANNEL, CustomerRef, DraftLine, SalesOrderDraft, SalesOrderItem, ShipTo, ShipToAddress,
};
pub use fingerprint::{Fingerprint, InvalidFingerprint};
pub use plan::Planner;
pub use pulpo::{DuplicateWarehouseName, LinkedSalesOrder, PulpoOrderState, Warehouses};
pub use settings::SalesOrderSettings;
