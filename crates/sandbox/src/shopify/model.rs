//! The Shopify sandbox's data: a shop with locations, product variants, inventory levels and
//! orders with their line items, fulfillment orders and fulfillments.
//!
//! These are the sandbox's own records, shaped after Shopify's objects (names as in the Admin
//! GraphQL schema, §4 of `../shared/reference/shopify-admin-api.md`). The GraphQL layer reads
//! them to answer queries; the control API and the generator write them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The sandbox shop's time zone: Madrid standard time, UTC+01:00. The sandbox ignores daylight
/// saving time, so REST timestamps always carry `+01:00` and search dates are read in this
/// offset, the way Shopify reads them in the shop's time zone.
pub const SHOP_OFFSET: FixedOffset = match FixedOffset::east_opt(3600) {
    Some(offset) => offset,
    None => panic!("a one-hour offset is valid"),
};

/// `OrderDisplayFinancialStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FinancialStatus {
    Authorized,
    Expired,
    Paid,
    PartiallyPaid,
    PartiallyRefunded,
    Pending,
    Refunded,
    Voided,
}

impl FinancialStatus {
    pub const ALL: [FinancialStatus; 8] = [
        FinancialStatus::Authorized,
        FinancialStatus::Expired,
        FinancialStatus::Paid,
        FinancialStatus::PartiallyPaid,
        FinancialStatus::PartiallyRefunded,
        FinancialStatus::Pending,
        FinancialStatus::Refunded,
        FinancialStatus::Voided,
    ];

    /// The GraphQL enum value, e.g. `PARTIALLY_PAID`.
    pub fn graphql(self) -> &'static str {
        match self {
            FinancialStatus::Authorized => "AUTHORIZED",
            FinancialStatus::Expired => "EXPIRED",
            FinancialStatus::Paid => "PAID",
            FinancialStatus::PartiallyPaid => "PARTIALLY_PAID",
            FinancialStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
            FinancialStatus::Pending => "PENDING",
            FinancialStatus::Refunded => "REFUNDED",
            FinancialStatus::Voided => "VOIDED",
        }
    }

    /// The REST / webhook / search value, e.g. `partially_paid`.
    pub fn rest(self) -> String {
        self.graphql().to_ascii_lowercase()
    }

    pub fn from_rest(value: &str) -> Option<FinancialStatus> {
        FinancialStatus::ALL
            .into_iter()
            .find(|s| s.rest() == value.to_ascii_lowercase())
    }
}

/// `OrderDisplayFulfillmentStatus` (the values the sandbox produces; the legacy ones are never
/// emitted by current Shopify either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentStatus {
    Fulfilled,
    InProgress,
    OnHold,
    PartiallyFulfilled,
    RequestDeclined,
    Scheduled,
    Unfulfilled,
    FulfillmentNotRequired,
}

impl FulfillmentStatus {
    pub const ALL: [FulfillmentStatus; 8] = [
        FulfillmentStatus::Fulfilled,
        FulfillmentStatus::InProgress,
        FulfillmentStatus::OnHold,
        FulfillmentStatus::PartiallyFulfilled,
        FulfillmentStatus::RequestDeclined,
        FulfillmentStatus::Scheduled,
        FulfillmentStatus::Unfulfilled,
        FulfillmentStatus::FulfillmentNotRequired,
    ];

    pub fn graphql(self) -> &'static str {
        match self {
            FulfillmentStatus::Fulfilled => "FULFILLED",
            FulfillmentStatus::InProgress => "IN_PROGRESS",
            FulfillmentStatus::OnHold => "ON_HOLD",
            FulfillmentStatus::PartiallyFulfilled => "PARTIALLY_FULFILLED",
            FulfillmentStatus::RequestDeclined => "REQUEST_DECLINED",
            FulfillmentStatus::Scheduled => "SCHEDULED",
            FulfillmentStatus::Unfulfilled => "UNFULFILLED",
            FulfillmentStatus::FulfillmentNotRequired => "FULFILLMENT_NOT_REQUIRED",
        }
    }
}

/// `OrderCancelReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelReason {
    Customer,
    Declined,
    Fraud,
    Inventory,
    Other,
    Staff,
}

impl CancelReason {
    pub const ALL: [CancelReason; 6] = [
        CancelReason::Customer,
        CancelReason::Declined,
        CancelReason::Fraud,
        CancelReason::Inventory,
        CancelReason::Other,
        CancelReason::Staff,
    ];

    /// The REST / webhook value, e.g. `customer`.
    pub fn rest(self) -> String {
        self.graphql().to_ascii_lowercase()
    }

    pub fn from_rest(value: &str) -> Option<CancelReason> {
        CancelReason::ALL
            .into_iter()
            .find(|r| r.graphql().eq_ignore_ascii_case(value))
    }

    pub fn graphql(self) -> &'static str {
        match self {
            CancelReason::Customer => "CUSTOMER",
            CancelReason::Declined => "DECLINED",
            CancelReason::Fraud => "FRAUD",
            CancelReason::Inventory => "INVENTORY",
            CancelReason::Other => "OTHER",
            CancelReason::Staff => "STAFF",
        }
    }
}

/// `FulfillmentOrderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentOrderStatus {
    Cancelled,
    Closed,
    Incomplete,
    InProgress,
    OnHold,
    Open,
    Scheduled,
}

impl FulfillmentOrderStatus {
    pub fn graphql(self) -> &'static str {
        match self {
            FulfillmentOrderStatus::Cancelled => "CANCELLED",
            FulfillmentOrderStatus::Closed => "CLOSED",
            FulfillmentOrderStatus::Incomplete => "INCOMPLETE",
            FulfillmentOrderStatus::InProgress => "IN_PROGRESS",
            FulfillmentOrderStatus::OnHold => "ON_HOLD",
            FulfillmentOrderStatus::Open => "OPEN",
            FulfillmentOrderStatus::Scheduled => "SCHEDULED",
        }
    }

    /// Whether a fulfillment order in this state is finished (Shopify's `includeClosed`).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            FulfillmentOrderStatus::Closed | FulfillmentOrderStatus::Cancelled
        )
    }

    /// Whether `fulfillmentCreate` may still fulfil lines of a fulfillment order in this state.
    pub fn is_fulfillable(self) -> bool {
        matches!(
            self,
            FulfillmentOrderStatus::Open | FulfillmentOrderStatus::InProgress
        )
    }
}

/// `FulfillmentOrderRequestStatus` (the sandbox's merchant-managed locations only use
/// `UNSUBMITTED` and `CLOSED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentOrderRequestStatus {
    Unsubmitted,
    Closed,
}

impl FulfillmentOrderRequestStatus {
    pub fn graphql(self) -> &'static str {
        match self {
            FulfillmentOrderRequestStatus::Unsubmitted => "UNSUBMITTED",
            FulfillmentOrderRequestStatus::Closed => "CLOSED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub id: u64,
    pub name: String,
    pub address1: String,
    pub city: String,
    pub zip: String,
    /// ISO 3166-1 alpha-2, e.g. `ES`.
    pub country_code: String,
    pub is_primary: bool,
    pub is_active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductVariant {
    pub id: u64,
    pub product_id: u64,
    pub product_title: String,
    /// The variant's own title, e.g. `Negro / M` (`Default Title` when the product has one variant).
    pub title: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub price: Decimal,
    pub inventory_item_id: u64,
    pub tracked: bool,
    pub requires_shipping: bool,
    pub is_gift_card: bool,
    /// The product's tags.
    #[serde(default)]
    pub product_tags: Vec<String>,
    /// `InventoryItem.measurement.weight`, in the unit the merchant entered it in.
    #[serde(default)]
    pub weight: Option<Weight>,
    /// `InventoryItem.unitCost`: the merchant's "Cost per item", when entered.
    #[serde(default)]
    pub unit_cost: Option<Decimal>,
    #[serde(default)]
    pub created_at: DateTime<Utc>,
    /// Moves on every change of the variant, its product or its inventory item, as the
    /// `updated_at` search of `productVariants` finds them.
    #[serde(default)]
    pub updated_at: DateTime<Utc>,
}

/// `Weight`: a value and its `WeightUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weight {
    pub value: f64,
    pub unit: WeightUnit,
}

/// `WeightUnit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WeightUnit {
    Grams,
    Kilograms,
    Ounces,
    Pounds,
}

impl WeightUnit {
    pub fn graphql(self) -> &'static str {
        match self {
            WeightUnit::Grams => "GRAMS",
            WeightUnit::Kilograms => "KILOGRAMS",
            WeightUnit::Ounces => "OUNCES",
            WeightUnit::Pounds => "POUNDS",
        }
    }

    pub fn parse(value: &str) -> Option<WeightUnit> {
        Some(match value {
            "GRAMS" => WeightUnit::Grams,
            "KILOGRAMS" => WeightUnit::Kilograms,
            "OUNCES" => WeightUnit::Ounces,
            "POUNDS" => WeightUnit::Pounds,
            _ => return None,
        })
    }
}

/// A level another app sets right before each of the next `times` `inventorySetQuantities`
/// calls that include it: to `available`, then `available + 1`, and so on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherAppChange {
    pub inventory_item_id: u64,
    pub location_id: u64,
    pub available: i64,
    pub times: u32,
}

/// Quantities of one inventory item at one location (`InventoryLevel`). Every unit on hand
/// that is not available is committed to an open order (the sandbox has no reserved, damaged,
/// safety or quality-control stock), so `committed = on_hand - available`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryQuantities {
    pub available: i64,
    pub on_hand: i64,
}

impl InventoryQuantities {
    pub const ZERO: InventoryQuantities = InventoryQuantities {
        available: 0,
        on_hand: 0,
    };

    pub fn committed(&self) -> i64 {
        (self.on_hand - self.available).max(0)
    }
}

/// Units per (inventory item id, location id).
pub type StockByLevel = HashMap<(u64, u64), i64>;

/// What an order holds of the shop's stock: units committed by its unfinished fulfillment
/// orders and units that left with its fulfillments, per level of a tracked item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderStock {
    pub committed: StockByLevel,
    pub shipped: StockByLevel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: u64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl Customer {
    /// `Customer.displayName`: the full name, else the email, else the phone (never empty).
    pub fn display_name(&self) -> String {
        let full = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !full.is_empty() {
            full
        } else {
            self.email
                .clone()
                .or_else(|| self.phone.clone())
                .unwrap_or_default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MailingAddress {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 (`countryCodeV2`).
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

impl MailingAddress {
    /// `MailingAddress.name`: first and last name joined, `None` when both are missing.
    pub fn name(&self) -> Option<String> {
        let full = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!full.is_empty()).then_some(full)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShippingLine {
    pub id: u64,
    pub title: String,
    pub code: Option<String>,
    pub source: Option<String>,
    pub carrier_identifier: Option<String>,
    pub price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: u64,
    /// Product title plus variant title, e.g. `Camiseta Básica - Negro / M`.
    pub name: String,
    /// Product title.
    pub title: String,
    pub variant_title: Option<String>,
    pub vendor: Option<String>,
    pub sku: Option<String>,
    pub variant_id: Option<u64>,
    pub quantity: i64,
    /// After removals and refunds.
    pub current_quantity: i64,
    pub requires_shipping: bool,
    pub is_gift_card: bool,
    pub unit_price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentOrderLineItem {
    pub id: u64,
    pub line_item_id: u64,
    pub total_quantity: i64,
    pub remaining_quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentOrder {
    pub id: u64,
    pub status: FulfillmentOrderStatus,
    pub request_status: FulfillmentOrderRequestStatus,
    /// The assigned location (`assignedLocation.location`).
    pub location_id: u64,
    pub line_items: Vec<FulfillmentOrderLineItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingInfo {
    pub company: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    pub id: u64,
    pub line_item_id: u64,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub id: u64,
    pub location_id: u64,
    pub tracking: Vec<TrackingInfo>,
    pub lines: Vec<FulfillmentLine>,
    pub created_at: DateTime<Utc>,
    /// Moves with tracking changes (`fulfillmentTrackingInfoUpdate`).
    pub updated_at: DateTime<Utc>,
    /// Whether `fulfillmentCreate` asked Shopify to email the customer (`notifyCustomer`), so
    /// tests can see what a real shop would have sent.
    #[serde(default)]
    pub notify_customer: bool,
}

/// `ReturnStatus`: `returnCreate` makes an `OPEN` return ("return in progress"); the merchant
/// closes it (or cancels, declines) in Shopify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReturnStatus {
    Canceled,
    Closed,
    Declined,
    Open,
    Requested,
}

impl ReturnStatus {
    pub fn graphql(self) -> &'static str {
        match self {
            Self::Canceled => "CANCELED",
            Self::Closed => "CLOSED",
            Self::Declined => "DECLINED",
            Self::Open => "OPEN",
            Self::Requested => "REQUESTED",
        }
    }

    /// Whether the return's units count against what can still be returned.
    pub fn holds_units(self) -> bool {
        !matches!(self, Self::Canceled | Self::Declined)
    }
}

/// A return of fulfilled units of an order. Making one never restocks: units go back to stock
/// only when the merchant processes the return with a restock, which the sandbox does not do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Return {
    pub id: u64,
    /// `#1001-R1`.
    pub name: String,
    pub status: ReturnStatus,
    pub lines: Vec<ReturnLine>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether `returnCreate` asked Shopify to email the customer (`notifyCustomer`).
    pub notify_customer: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnLine {
    pub id: u64,
    /// The `FulfillmentLine` returned.
    pub fulfillment_line_id: u64,
    pub line_item_id: u64,
    pub quantity: i64,
    /// A `ReturnReason` value, e.g. `DEFECTIVE`.
    pub reason: String,
    pub reason_note: String,
}

/// A refund of an order: line items taken back (restocked or not), shipping, and the money
/// its `REFUND` transaction gave back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: u64,
    pub note: Option<String>,
    pub lines: Vec<RefundLine>,
    /// Shipping refunded.
    pub shipping: Decimal,
    /// Money given back (the sum of its transactions).
    pub amount: Decimal,
    /// The id of its `REFUND` transaction, when it gave money back.
    pub transaction_id: Option<u64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundLine {
    pub id: u64,
    pub line_item_id: u64,
    pub quantity: i64,
    /// A `RefundLineItemRestockType` value, e.g. `NO_RESTOCK`.
    pub restock_type: String,
    /// What the units cost: the line's unit price × quantity.
    pub subtotal: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    /// `#1001`.
    pub name: String,
    pub number: u64,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<CancelReason>,
    pub closed_at: Option<DateTime<Utc>>,
    pub test: bool,
    /// `displayFinancialStatus` (nullable in Shopify: a cancelled order without payments).
    pub financial_status: Option<FinancialStatus>,
    /// `displayFulfillmentStatus`.
    pub fulfillment_status: FulfillmentStatus,
    pub note: Option<String>,
    /// Always sorted and unique, as Shopify returns them.
    pub tags: BTreeSet<String>,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    pub customer: Option<Customer>,
    pub shipping_address: Option<MailingAddress>,
    pub billing_address: Option<MailingAddress>,
    pub shipping_lines: Vec<ShippingLine>,
    pub line_items: Vec<LineItem>,
    pub fulfillment_orders: Vec<FulfillmentOrder>,
    pub fulfillments: Vec<Fulfillment>,
    /// Returns made with `returnCreate`, oldest first.
    #[serde(default)]
    pub returns: Vec<Return>,
    /// Refunds made with `refundCreate`, oldest first.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    pub source_name: Option<String>,
}

impl Order {
    pub fn gid(&self) -> String {
        format!("gid://shopify/Order/{}", self.id)
    }

    pub fn subtotal(&self) -> Decimal {
        self.line_items
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.current_quantity))
            .sum()
    }

    pub fn total_shipping(&self) -> Decimal {
        self.shipping_lines.iter().map(|s| s.price).sum()
    }

    pub fn total(&self) -> Decimal {
        self.subtotal() + self.total_shipping()
    }

    pub fn requires_shipping(&self) -> bool {
        self.line_items
            .iter()
            .any(|l| l.requires_shipping && l.current_quantity > 0)
    }

    /// Units of fulfillment line `fulfillment_line_id` in returns that are not cancelled or
    /// declined.
    pub fn returned_quantity(&self, fulfillment_line_id: u64) -> i64 {
        self.returns
            .iter()
            .filter(|r| r.status.holds_units())
            .flat_map(|r| &r.lines)
            .filter(|l| l.fulfillment_line_id == fulfillment_line_id)
            .map(|l| l.quantity)
            .sum()
    }

    /// Money received: the order's total once it is paid (the sandbox's orders are paid in one
    /// `SALE` transaction through the `manual` gateway, whose id is the order's).
    pub fn received(&self) -> Decimal {
        match self.financial_status {
            Some(
                FinancialStatus::Paid
                | FinancialStatus::PartiallyRefunded
                | FinancialStatus::Refunded,
            ) => self.total(),
            _ => Decimal::ZERO,
        }
    }

    /// Money given back by refunds.
    pub fn refunded(&self) -> Decimal {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    pub fn refunded_shipping(&self) -> Decimal {
        self.refunds.iter().map(|r| r.shipping).sum()
    }

    /// Units of line item `line_item_id` refunded.
    pub fn refunded_quantity(&self, line_item_id: u64) -> i64 {
        self.refunds
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.line_item_id == line_item_id)
            .map(|l| l.quantity)
            .sum()
    }

    /// `returnStatus`: in progress while a return is open, requested while one is, returned
    /// once every return that holds units is closed.
    pub fn return_status(&self) -> &'static str {
        let statuses = || self.returns.iter().map(|r| r.status);
        if statuses().any(|s| s == ReturnStatus::Open) {
            "IN_PROGRESS"
        } else if statuses().any(|s| s == ReturnStatus::Requested) {
            "RETURN_REQUESTED"
        } else if statuses().any(|s| s == ReturnStatus::Closed) {
            "RETURNED"
        } else {
            "NO_RETURN"
        }
    }

    /// Units of line item `line_item_id` already fulfilled.
    pub fn fulfilled_quantity(&self, line_item_id: u64) -> i64 {
        self.fulfillments
            .iter()
            .flat_map(|f| &f.lines)
            .filter(|l| l.line_item_id == line_item_id)
            .map(|l| l.quantity)
            .sum()
    }

    /// The stock this order holds in `shop`: the remaining units of its fulfillment orders that
    /// are not closed, committed at their assigned location, and the units of its fulfillments,
    /// gone from theirs. Untracked items hold nothing.
    pub fn stock(&self, shop: &Shop) -> OrderStock {
        let item_of = |line_item_id: u64| {
            self.line_items
                .iter()
                .find(|l| l.id == line_item_id)
                .and_then(|l| l.variant_id)
                .and_then(|id| shop.variant(id))
                .filter(|v| v.tracked)
                .map(|v| v.inventory_item_id)
        };
        let mut stock = OrderStock::default();
        for fo in self
            .fulfillment_orders
            .iter()
            .filter(|fo| !fo.status.is_closed())
        {
            for line in &fo.line_items {
                if let Some(item) = item_of(line.line_item_id) {
                    *stock.committed.entry((item, fo.location_id)).or_default() +=
                        line.remaining_quantity;
                }
            }
        }
        for fulfillment in &self.fulfillments {
            for line in &fulfillment.lines {
                if let Some(item) = item_of(line.line_item_id) {
                    *stock
                        .shipped
                        .entry((item, fulfillment.location_id))
                        .or_default() += line.quantity;
                }
            }
        }
        stock
    }

    /// Cancels the order at `at` the way Shopify leaves a cancelled order (§9.5 of the
    /// reference): `cancelledAt` and `cancelReason` set, every fulfillment order that was still
    /// open `CLOSED`, an authorization voided, and the order closed when nothing was paid.
    /// Quantities are left as they were.
    pub fn apply_cancellation(&mut self, reason: CancelReason, at: DateTime<Utc>) {
        self.cancelled_at = Some(at);
        self.cancel_reason = Some(reason);
        for fo in &mut self.fulfillment_orders {
            if !matches!(
                fo.status,
                FulfillmentOrderStatus::Closed | FulfillmentOrderStatus::Cancelled
            ) {
                fo.status = FulfillmentOrderStatus::Closed;
                fo.updated_at = at;
            }
        }
        if self.financial_status == Some(FinancialStatus::Authorized) {
            self.financial_status = Some(FinancialStatus::Voided);
        }
        let paid = matches!(
            self.financial_status,
            Some(
                FinancialStatus::Paid
                    | FinancialStatus::PartiallyPaid
                    | FinancialStatus::PartiallyRefunded
            )
        );
        if !paid && self.closed_at.is_none() {
            self.closed_at = Some(at);
        }
    }

    /// Recomputes `displayFulfillmentStatus` from the fulfillment orders after lines were
    /// fulfilled, moved or cancelled. Statuses that only a merchant sets (on hold, scheduled,
    /// request declined) are kept while nothing has been fulfilled.
    pub fn refresh_fulfillment_status(&mut self) {
        let total: i64 = self
            .fulfillment_orders
            .iter()
            .flat_map(|fo| &fo.line_items)
            .map(|l| l.total_quantity)
            .sum();
        let remaining: i64 = self
            .fulfillment_orders
            .iter()
            .filter(|fo| fo.status != FulfillmentOrderStatus::Cancelled)
            .flat_map(|fo| &fo.line_items)
            .map(|l| l.remaining_quantity)
            .sum();
        let fulfilled: i64 = self
            .fulfillments
            .iter()
            .flat_map(|f| &f.lines)
            .map(|l| l.quantity)
            .sum();
        self.fulfillment_status = if total == 0 && !self.requires_shipping() {
            FulfillmentStatus::FulfillmentNotRequired
        } else if fulfilled > 0 && remaining == 0 {
            FulfillmentStatus::Fulfilled
        } else if fulfilled > 0 {
            FulfillmentStatus::PartiallyFulfilled
        } else {
            match self.fulfillment_status {
                keep @ (FulfillmentStatus::OnHold
                | FulfillmentStatus::Scheduled
                | FulfillmentStatus::RequestDeclined
                | FulfillmentStatus::InProgress) => keep,
                _ => FulfillmentStatus::Unfulfilled,
            }
        };
    }
}

/// Everything one sandbox shop holds. Ids come from one counter so no two objects share one.
#[derive(Debug, Clone, Default)]
pub struct Shop {
    /// `{name}.myshopify.com` for webhook headers.
    pub domain: String,
    pub currency: String,
    pub locations: Vec<Location>,
    pub variants: Vec<ProductVariant>,
    /// Keyed by (inventory item id, location id); absent = not stocked at that location.
    pub inventory: HashMap<(u64, u64), InventoryQuantities>,
    /// Levels of `inventory` that are inactive: kept with their quantities but not stocked,
    /// as API 2026-10 leaves them after `inventorySetQuantities` at a location where the item
    /// was not stocked.
    pub inactive_levels: HashSet<(u64, u64)>,
    /// Changes "another app" makes to a level just before the next `inventorySetQuantities`
    /// calls that touch it: the race between a client's read and its write, on demand.
    pub other_app_changes: Vec<OtherAppChange>,
    pub orders: BTreeMap<u64, Order>,
    pub next_id: u64,
    pub next_order_number: u64,
}

impl Shop {
    /// A fresh id, larger than 2^32 like Shopify's.
    pub fn allocate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn location(&self, id: u64) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }

    pub fn primary_location(&self) -> Option<&Location> {
        self.locations.iter().find(|l| l.is_primary)
    }

    pub fn variant_by_sku(&self, sku: &str) -> Option<&ProductVariant> {
        self.variants.iter().find(|v| v.sku.as_deref() == Some(sku))
    }

    pub fn variant(&self, id: u64) -> Option<&ProductVariant> {
        self.find_variant(id, |v| v.id)
    }

    /// The variant whose inventory item is `item_id` (the sandbox has one item per variant).
    pub fn variant_of_item(&self, item_id: u64) -> Option<&ProductVariant> {
        self.find_variant(item_id, |v| v.inventory_item_id)
    }

    /// Variants are created in id order, so a binary search finds them in a shop of 100,000
    /// SKUs; a linear scan covers shops assembled otherwise (tests).
    fn find_variant(
        &self,
        id: u64,
        key: impl Fn(&ProductVariant) -> u64,
    ) -> Option<&ProductVariant> {
        match self.variants.binary_search_by_key(&id, &key) {
            Ok(index) => self.variants.get(index),
            Err(_) => self.variants.iter().find(|v| key(v) == id),
        }
    }

    /// The level of `item_id` at `location_id` when the item is stocked there (an active level).
    pub fn stocked_level(&self, item_id: u64, location_id: u64) -> Option<InventoryQuantities> {
        if self.inactive_levels.contains(&(item_id, location_id)) {
            return None;
        }
        self.inventory.get(&(item_id, location_id)).copied()
    }

    pub fn is_active_level(&self, item_id: u64, location_id: u64) -> bool {
        self.inventory.contains_key(&(item_id, location_id))
            && !self.inactive_levels.contains(&(item_id, location_id))
    }

    /// Moves the stock an order changed from `before` to `after`, as Shopify does: newly
    /// committed units leave `available` (on hand stays), shipped units leave `on_hand` (they
    /// were committed), and units released without shipping go back to `available` when
    /// `restock`, else leave `on_hand` too. Levels the item is not stocked at stay as they are.
    pub fn account_stock(&mut self, before: &OrderStock, after: &OrderStock, restock: bool) {
        let mut keys: BTreeSet<(u64, u64)> = BTreeSet::new();
        for map in [
            &before.committed,
            &after.committed,
            &before.shipped,
            &after.shipped,
        ] {
            keys.extend(map.keys().copied());
        }
        let units = |map: &StockByLevel, key| map.get(&key).copied().unwrap_or_default();
        for key in keys {
            let committed = units(&after.committed, key) - units(&before.committed, key);
            let shipped = units(&after.shipped, key) - units(&before.shipped, key);
            let Some(level) = self.inventory.get_mut(&key) else {
                continue;
            };
            level.on_hand -= shipped;
            // What left `committed` without being shipped, or (negative) what joined it.
            let released = -(committed + shipped);
            if restock || released < 0 {
                level.available += released;
            } else {
                level.on_hand -= released;
            }
        }
    }
}

/// Parses the numeric tail of a Shopify GID (`gid://shopify/Order/123` → 123), checking the type.
pub fn parse_gid(gid: &str, expected_type: &str) -> Option<u64> {
    let rest = gid.strip_prefix("gid://shopify/")?;
    let (kind, tail) = rest.split_once('/')?;
    if kind != expected_type {
        return None;
    }
    let id = tail.split('?').next()?;
    id.parse().ok()
}

pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gids_round_trip_and_reject_other_types() {
        assert_eq!(parse_gid("gid://shopify/Order/5", "Order"), Some(5));
        assert_eq!(
            parse_gid(
                "gid://shopify/InventoryLevel/7?inventory_item_id=9",
                "InventoryLevel"
            ),
            Some(7)
        );
        assert_eq!(parse_gid("gid://shopify/Order/5", "LineItem"), None);
        assert_eq!(parse_gid("5", "Order"), None);
        assert_eq!(gid("Location", 3), "gid://shopify/Location/3");
        assert_eq!(
            FinancialStatus::from_rest("partially_paid"),
            Some(FinancialStatus::PartiallyPaid)
        );
    }
}
