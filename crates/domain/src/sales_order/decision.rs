//! What to do with one Shopify order, and why.

use super::{PulpoOrderState, SalesOrderDraft};
use crate::order::{FinancialStatus, FulfillmentStatus};
use crate::run::LogLevel;

/// The verdict on one Shopify order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not imported and nothing to do in PULPO; counts as skipped.
    Skip(SkipReason),
    /// Not imported yet and eligible: create one PULPO sales order per draft (one per Shopify
    /// fulfillment order at a PULPO warehouse). Before creating, look each up by `order_num`
    /// in case an earlier attempt created it without recording it.
    Import(Vec<SalesOrderDraft>),
    /// Already imported and nothing to do.
    Unchanged,
    /// Already imported and something changed: one step per affected PULPO sales order (or new
    /// fulfillment order). A single order can need several kinds at once, e.g. a partial move
    /// updates one PULPO order and creates another.
    Sync(Vec<Step>),
}

/// One thing to do for an imported order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A fulfillment order at a PULPO warehouse that has no PULPO order yet: create it (after
    /// the same `order_num` look-up as for an import).
    Create(SalesOrderDraft),
    /// The PULPO order is in `queue`: replace it with this draft.
    Update(Update),
    /// Cancel the PULPO order. If PULPO refuses, record [`Cancellation::refused`].
    Cancel(Cancellation),
    /// Nothing can be done automatically: log a warning telling the operator what to do.
    Conflict(Conflict),
}

/// Replace a PULPO sales order in `queue` by a new draft (same `order_num`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub pulpo_order_id: i64,
    pub draft: SalesOrderDraft,
    pub reason: UpdateReason,
}

/// Why a PULPO order is updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateReason {
    /// Lines or ship-to changed in Shopify.
    Changed,
    /// The fulfillment order moved to another location that is a PULPO warehouse.
    Moved {
        from_warehouse_id: i64,
        to_warehouse: String,
    },
}

impl Update {
    /// The conflict to record when PULPO refuses the update (e.g. work started meanwhile).
    /// `detail` is PULPO's error message.
    pub fn refused(&self, state: PulpoOrderState, detail: impl Into<String>) -> Conflict {
        Conflict {
            pulpo_order_id: self.pulpo_order_id,
            order_num: self.draft.order_num.clone(),
            state,
            reason: ConflictReason::UpdateRefused {
                detail: detail.into(),
            },
        }
    }
}

/// Cancel a PULPO sales order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    pub pulpo_order_id: i64,
    pub order_num: String,
    /// The PULPO state as last seen.
    pub state: PulpoOrderState,
    pub reason: CancelReason,
}

impl Cancellation {
    /// The conflict to record when PULPO refuses to cancel (already `ended`, or `picking`
    /// without a free packing location). `state` is PULPO's current state if known, else the
    /// last seen one; `detail` is PULPO's error message.
    pub fn refused(&self, state: PulpoOrderState, detail: impl Into<String>) -> Conflict {
        Conflict {
            pulpo_order_id: self.pulpo_order_id,
            order_num: self.order_num.clone(),
            state,
            reason: ConflictReason::CancelRefused {
                cause: self.reason.clone(),
                detail: detail.into(),
            },
        }
    }
}

/// Why a PULPO order is cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReason {
    /// Shopify cancelled the order (`cancelledAt` is set).
    CancelledInShopify,
    /// The order reached one of the cancel financial statuses.
    FinancialStatus(FinancialStatus),
    /// The order reached one of the cancel fulfillment statuses.
    FulfillmentStatus(FulfillmentStatus),
    /// Its fulfillment order moved to a location that is not a PULPO warehouse.
    MovedToUnknownLocation { location: String },
    /// Nothing is left to ship from its fulfillment order (fulfilled elsewhere, removed,
    /// refunded) while PULPO had not started work.
    NothingLeftToShip,
}

/// A PULPO order that needs a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub pulpo_order_id: i64,
    pub order_num: String,
    pub state: PulpoOrderState,
    pub reason: ConflictReason,
}

/// Why a PULPO order could not follow Shopify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictReason {
    /// Lines or ship-to changed in Shopify after PULPO started work.
    ChangedAfterWorkStarted,
    /// The fulfillment order moved to another PULPO warehouse after PULPO started work.
    MovedAfterWorkStarted { to_warehouse: String },
    /// Nothing is left to ship in Shopify, but PULPO already started work.
    NothingLeftAfterWorkStarted,
    /// Shopify no longer lists the fulfillment order the PULPO order was created from.
    FulfillmentOrderMissing { fulfillment_order_id: String },
    /// The order should be cancelled, but the PULPO order has already shipped.
    CancelAfterShipped { cause: CancelReason },
    /// PULPO refused to cancel.
    CancelRefused { cause: CancelReason, detail: String },
    /// PULPO refused to update.
    UpdateRefused { detail: String },
}

/// Why an order is not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Cancelled in Shopify before it was ever imported.
    Cancelled,
    /// Its financial status is not among the import financial statuses.
    FinancialStatusNotImported(Option<FinancialStatus>),
    /// Its fulfillment status is not among the import fulfillment statuses.
    FulfillmentStatusNotImported(FulfillmentStatus),
    /// It lacks these required tags.
    MissingTags(Vec<String>),
    /// None of its open fulfillment orders is at a PULPO warehouse; these are their locations.
    NoPulpoWarehouse { locations: Vec<String> },
    /// Only lines that need no shipping (gift cards, services) are left at PULPO warehouses.
    NoPhysicalLines,
    /// Nothing is left to ship from PULPO warehouses.
    NothingToShip,
    /// No Shopify customer and no fallback customer configured.
    NoCustomer,
}

impl SkipReason {
    /// Skips by filter are routine (INFO); a skip the operator can fix by configuration is a
    /// WARNING.
    pub fn level(&self) -> LogLevel {
        match self {
            Self::NoCustomer => LogLevel::Warning,
            _ => LogLevel::Info,
        }
    }
}

/// Why an order failed: it is not imported or updated this run, logged as an ERROR and retried
/// by later runs. Each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error(
        "The order has no shipping address and PULPO needs one to ship it: add a shipping \
         address to the order in Shopify"
    )]
    NoShippingAddress,
    #[error(
        "The shipping address has no street and PULPO requires one: add the street (address \
         line 1) to the order's shipping address in Shopify"
    )]
    MissingStreet,
    #[error(
        "Line \"{name}\" has no SKU, so it cannot be matched to a PULPO product: set the SKU of \
         the product variant in Shopify"
    )]
    LineWithoutSku { line_item_id: String, name: String },
    #[error(
        "{} not found in PULPO: create the product in PULPO (a products integration makes one \
         for every Shopify variant) or fix the SKU in Shopify",
        sku_list(skus)
    )]
    UnknownSkus { skus: Vec<String> },
    #[error(
        "Shopify listed line item {line_item_id} in a fulfillment order but not among the \
         order's line items: this is usually transient; if it persists, report it"
    )]
    MissingLineItem { line_item_id: String },
    #[error(
        "The order has no customer and no fallback customer is configured: set a fallback \
         customer in the integration settings"
    )]
    NoCustomer,
}

fn sku_list(skus: &[String]) -> String {
    match skus {
        [sku] => format!("SKU {sku}"),
        _ => format!("SKUs {}", skus.join(", ")),
    }
}
