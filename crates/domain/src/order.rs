//! The Shopify order as the sales orders integration sees it.
//!
//! These types hold only what the integration's rules read. The Shopify client maps Admin
//! GraphQL responses into them (`Order`, `LineItem`, `FulfillmentOrder`, `MailingAddress`,
//! `Customer`); the enums carry Shopify's GraphQL values (`PAID`, `UNFULFILLED`, …) as they
//! appear on the wire and in the integration settings.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::string_enum::string_enum;

string_enum! {
    /// Shopify `OrderDisplayFinancialStatus`.
    FinancialStatus, "financial status" {
        Authorized => "AUTHORIZED",
        Expired => "EXPIRED",
        Paid => "PAID",
        PartiallyPaid => "PARTIALLY_PAID",
        PartiallyRefunded => "PARTIALLY_REFUNDED",
        Pending => "PENDING",
        Refunded => "REFUNDED",
        Voided => "VOIDED",
    }
}

string_enum! {
    /// Shopify `OrderDisplayFulfillmentStatus` (API 2026-10).
    FulfillmentStatus, "fulfillment status" {
        Fulfilled => "FULFILLED",
        /// New in API 2026-10: nothing in the order needs fulfilling.
        FulfillmentNotRequired => "FULFILLMENT_NOT_REQUIRED",
        InProgress => "IN_PROGRESS",
        OnHold => "ON_HOLD",
        /// Legacy, replaced by `UNFULFILLED`.
        Open => "OPEN",
        PartiallyFulfilled => "PARTIALLY_FULFILLED",
        /// Legacy, replaced by `IN_PROGRESS`.
        PendingFulfillment => "PENDING_FULFILLMENT",
        RequestDeclined => "REQUEST_DECLINED",
        /// Legacy, replaced by `UNFULFILLED`.
        Restocked => "RESTOCKED",
        Scheduled => "SCHEDULED",
        Unfulfilled => "UNFULFILLED",
    }
}

string_enum! {
    /// Shopify `FulfillmentOrderStatus`.
    FulfillmentOrderStatus, "fulfillment order status" {
        Cancelled => "CANCELLED",
        Closed => "CLOSED",
        Incomplete => "INCOMPLETE",
        InProgress => "IN_PROGRESS",
        OnHold => "ON_HOLD",
        Open => "OPEN",
        Scheduled => "SCHEDULED",
    }
}

impl FulfillmentOrderStatus {
    /// Whether the fulfillment order can still be fulfilled. `CANCELLED` and `CLOSED` ones
    /// (cancelled, merged away or completely fulfilled) have nothing left to ship.
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Cancelled | Self::Closed)
    }
}

/// A Shopify order: the fields the sales orders rules read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopifyOrder {
    /// GraphQL id, `gid://shopify/Order/<n>`.
    pub id: String,
    /// `legacyResourceId`: the numeric id; PULPO's `external_order_num`.
    pub legacy_id: u64,
    /// The order name shown to people, e.g. `#1001`.
    pub name: String,
    pub updated_at: DateTime<Utc>,
    /// Set when the order was cancelled in Shopify.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `displayFinancialStatus`; Shopify returns `null` for some cancelled orders.
    pub financial_status: Option<FinancialStatus>,
    /// `displayFulfillmentStatus`.
    pub fulfillment_status: FulfillmentStatus,
    pub tags: Vec<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub customer: Option<Customer>,
    pub shipping_address: Option<Address>,
    /// The line items its fulfillment orders ship, each once. A line on no fulfillment order
    /// (nothing to ship for it) need not be here: the rules only read lines through
    /// [`FulfillmentOrderLine::line_item_id`].
    pub line_items: Vec<LineItem>,
    /// Every fulfillment order of the order (all pages).
    pub fulfillment_orders: Vec<FulfillmentOrder>,
}

impl ShopifyOrder {
    /// The order name without its leading `#`: `#1001` → `1001`. The base of PULPO's `order_num`.
    pub fn number(&self) -> &str {
        self.name.strip_prefix('#').unwrap_or(&self.name)
    }

    /// Whether Shopify cancelled the order (`cancelledAt` is set).
    pub fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    /// Whether the order carries `tag`. Shopify tags are case-insensitive and trimmed, so the
    /// comparison is too.
    pub fn has_tag(&self, tag: &str) -> bool {
        let wanted = tag.trim();
        self.tags
            .iter()
            .any(|t| t.trim().eq_ignore_ascii_case(wanted))
    }

    /// The line item with this GraphQL id.
    pub fn line_item(&self, id: &str) -> Option<&LineItem> {
        self.line_items.iter().find(|item| item.id == id)
    }

    /// The fulfillment order with this GraphQL id.
    pub fn fulfillment_order(&self, id: &str) -> Option<&FulfillmentOrder> {
        self.fulfillment_orders.iter().find(|fo| fo.id == id)
    }
}

/// The Shopify customer of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// GraphQL id, `gid://shopify/Customer/<n>`.
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `defaultEmailAddress.emailAddress`.
    pub email: Option<String>,
    /// `defaultPhoneNumber.phoneNumber`.
    pub phone: Option<String>,
}

impl Customer {
    /// First and last name joined by a space, or `None` when both are blank.
    pub fn full_name(&self) -> Option<String> {
        join_names(self.first_name.as_deref(), self.last_name.as_deref())
    }
}

/// A Shopify `MailingAddress` (the order's shipping address). Every field may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Full name as Shopify composes it.
    pub name: Option<String>,
    pub company: Option<String>,
    /// Street and house number.
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub zip: Option<String>,
    /// Country name, e.g. `Germany`.
    pub country: Option<String>,
    /// `countryCodeV2`: ISO 3166-1 alpha-2, e.g. `DE`.
    pub country_code: Option<String>,
    pub phone: Option<String>,
}

/// A line of a Shopify order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// GraphQL id, `gid://shopify/LineItem/<n>`.
    pub id: String,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: u32,
    /// `false` for gift cards, services and other lines nothing is shipped for.
    pub requires_shipping: bool,
    pub is_gift_card: bool,
    /// `originalUnitPriceSet.shopMoney.amount`.
    pub unit_price: Decimal,
}

impl LineItem {
    /// The numeric id of the line item (the tail of its GraphQL id), as PULPO's `line_order_id`.
    pub fn legacy_id(&self) -> String {
        gid_tail(&self.id).to_owned()
    }
}

/// A Shopify fulfillment order: the part of an order one location ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentOrder {
    /// GraphQL id, `gid://shopify/FulfillmentOrder/<n>`.
    pub id: String,
    pub status: FulfillmentOrderStatus,
    /// `assignedLocation.name`: matched against PULPO warehouse names.
    pub location_name: String,
    pub lines: Vec<FulfillmentOrderLine>,
}

/// A line of a fulfillment order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentOrderLine {
    /// GraphQL id, `gid://shopify/FulfillmentOrderLineItem/<n>`.
    pub id: String,
    /// GraphQL id of the order's line item this line fulfills.
    pub line_item_id: String,
    /// Units still to ship from this fulfillment order.
    pub remaining_quantity: u32,
    pub total_quantity: u32,
}

/// The last path segment of a Shopify GraphQL id without its query:
/// `gid://shopify/InventoryLevel/14?inventory_item_id=5` → `14`. A string that is not a GID
/// is returned whole.
pub fn gid_tail(gid: &str) -> &str {
    let path = gid.split_once('?').map_or(gid, |(path, _)| path);
    path.rsplit_once('/').map_or(path, |(_, tail)| tail)
}

/// The numeric id inside a Shopify GraphQL id, if it has one.
pub fn gid_number(gid: &str) -> Option<u64> {
    gid_tail(gid).parse().ok()
}

pub(crate) fn join_names(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_from_shopify_values_and_name_a_bad_value() {
        assert_eq!("PAID".parse(), Ok(FinancialStatus::Paid));
        assert_eq!(
            "FULFILLMENT_NOT_REQUIRED".parse(),
            Ok(FulfillmentStatus::FulfillmentNotRequired)
        );
        let error = "PAYED".parse::<FinancialStatus>().unwrap_err();
        assert_eq!(error.value, "PAYED");
        assert!(
            error
                .to_string()
                .starts_with("unknown financial status `PAYED`: expected one of AUTHORIZED,")
        );
        // Shopify values are upper case; lower case is not one of them.
        assert!("paid".parse::<FinancialStatus>().is_err());
    }

    #[test]
    fn statuses_round_trip_through_serde() {
        let json = serde_json::to_string(&FulfillmentStatus::PartiallyFulfilled).unwrap();
        assert_eq!(json, "\"PARTIALLY_FULFILLED\"");
        let back: FulfillmentStatus = serde_json::from_str(&json).unwrap();
        assert_eq!(back, FulfillmentStatus::PartiallyFulfilled);
        let error = serde_json::from_str::<FulfillmentStatus>("\"SHIPPED\"").unwrap_err();
        assert!(error.to_string().contains("`SHIPPED`"), "{error}");
    }

    #[test]
    fn every_shopify_enum_value_is_known() {
        assert_eq!(FinancialStatus::ALL.len(), 8);
        assert_eq!(FulfillmentStatus::ALL.len(), 11);
        assert_eq!(FulfillmentOrderStatus::ALL.len(), 7);
        for status in FulfillmentStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(*status));
        }
    }

    #[test]
    fn gid_tail_takes_the_numeric_part() {
        assert_eq!(gid_tail("gid://shopify/LineItem/123"), "123");
        assert_eq!(
            gid_tail("gid://shopify/InventoryLevel/14?inventory_item_id=5"),
            "14"
        );
        assert_eq!(gid_number("gid://shopify/FulfillmentOrder/99"), Some(99));
        assert_eq!(gid_number("not-a-gid"), None);
    }

    #[test]
    fn tags_match_case_insensitively() {
        let order = ShopifyOrder {
            id: "gid://shopify/Order/1".into(),
            legacy_id: 1,
            name: "#1001".into(),
            updated_at: DateTime::UNIX_EPOCH,
            cancelled_at: None,
            financial_status: Some(FinancialStatus::Paid),
            fulfillment_status: FulfillmentStatus::Unfulfilled,
            tags: vec!["TrustedCustomer".into()],
            email: None,
            phone: None,
            customer: None,
            shipping_address: None,
            line_items: vec![],
            fulfillment_orders: vec![],
        };
        assert!(order.has_tag("trustedcustomer"));
        assert!(!order.has_tag("ShipmentAllowed"));
        assert_eq!(order.number(), "1001");
    }
}
