//! The `returns` integration's rules (PULPO → Shopify, SPEC §2 and §4, reference §A.8): each
//! customer return PULPO receives for an order tentacle imported becomes one Shopify return on
//! the fulfillment line items of the returned lines, with their quantities and a reason mapped
//! from PULPO's reason code, left open and never restocked (stock comes back through `stock`);
//! never twice for one PULPO return; refunded, when the settings ask, at what the order charged
//! for those units and its shipping, never more than was paid; what cannot follow (more back than was fulfilled, a line
//! the order does not have, an order refunded in full) is a conflict an operator can act on.

mod plan;
mod refund;
mod settings;

pub use plan::{
    ExistingReturn, ExistingReturnLine, FulfilledLine, NewReturn, NewReturnLine, OrderReturnState,
    ReturnConflict, ReturnDecision, ReturnLink, ReturnedGood, ReturnedLine, decide,
};
pub use refund::{RefundPlan, RefundableLine, RefundableOrder, plan_refund};
pub use settings::{RETURN_REASONS, ReturnSettings};
