//! The GraphQL documents tentacle sends, and the mapping of their answers into the domain.
//!
//! Every field fetched spends the merchant's rate-limit budget, shared with every other app on
//! the store, so the order selection asks for exactly what the sales orders rules read.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use tentacle_domain::order::{
    Address, Customer, FinancialStatus, FulfillmentOrder, FulfillmentOrderLine,
    FulfillmentOrderStatus, FulfillmentStatus, LineItem, ShopifyOrder,
};

use crate::client::ShopifyClient;
use crate::error::{Result, ShopifyError};

/// Lines read per fulfillment order. An order with a fulfillment order of more lines is reported
/// as a problem rather than imported incomplete.
pub const MAX_LINES: usize = 100;
/// Fulfillment orders read per order.
pub const MAX_FULFILLMENT_ORDERS: usize = 10;

// Each object in the answer costs a point and `nodes` of a connection one each, scalars are
// free. The order's line items are read through its fulfillment orders' lines (which need
// `lineItem` for the line item's id anyway), not through `Order.lineItems` as well: a line that
// is on no fulfillment order is never shipped, so the rules never ask for it.
macro_rules! sync_order_fragment {
    () => {
        "fragment SyncOrder on Order {
  id legacyResourceId name updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus tags email phone
  customer { id firstName lastName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
  shippingAddress { firstName lastName name company address1 address2 city province provinceCode zip country countryCodeV2 phone }
  fulfillmentOrders(first: 10) {
    pageInfo { hasNextPage }
    nodes {
      id status
      assignedLocation { name }
      lineItems(first: 100) {
        pageInfo { hasNextPage }
        nodes {
          id remainingQuantity totalQuantity
          lineItem { id sku name quantity requiresShipping isGiftCard originalUnitPriceSet { shopMoney { amount } } }
        }
      }
    }
  }
}"
    };
}

/// Orders updated in `[since, until)`, oldest change first.
pub const ORDERS_UPDATED_SINCE: &str = concat!(
    "query OrdersUpdatedSince($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...SyncOrder }
  }
}
",
    sync_order_fragment!()
);

/// One order by id (retries of failed orders, webhooks).
pub const ORDER_BY_ID: &str = concat!(
    "query OrderById($id: ID!) {
  order(id: $id) { ...SyncOrder }
}
",
    sync_order_fragment!()
);

/// The shop's locations, to match fulfillment orders to PULPO warehouses by name.
pub const LOCATIONS: &str = "query Locations($first: Int!) {
  locations(first: $first) { nodes { id name isActive } }
}";

/// Every document the client can send, for the schema validation test.
pub const ALL_DOCUMENTS: &[(&str, &str)] = &[
    ("OrdersUpdatedSince", ORDERS_UPDATED_SINCE),
    ("OrderById", ORDER_BY_ID),
    ("Locations", LOCATIONS),
    ("InventoryPage", crate::inventory::INVENTORY_PAGE),
    ("InventoryItemAt", crate::inventory::INVENTORY_ITEM),
    (
        "OpenFulfillmentOrders",
        crate::inventory::OPEN_FULFILLMENT_ORDERS,
    ),
    ("SetAvailable", crate::inventory::SET_AVAILABLE),
    ("Activate", crate::inventory::ACTIVATE),
    ("ProductVariants", crate::products::PRODUCT_VARIANTS),
    (
        "OrderFulfillmentState",
        crate::fulfillments::ORDER_FULFILLMENT_STATE,
    ),
    (
        "FulfillmentOrderLines",
        crate::fulfillments::FULFILLMENT_ORDER_LINES,
    ),
    ("FulfillmentLines", crate::fulfillments::FULFILLMENT_LINES),
    ("FulfillmentCreate", crate::fulfillments::FULFILLMENT_CREATE),
    (
        "FulfillmentTrackingUpdate",
        crate::fulfillments::FULFILLMENT_TRACKING_UPDATE,
    ),
    ("TagsAdd", crate::fulfillments::TAGS_ADD),
    ("OrderNoteUpdate", crate::fulfillments::ORDER_NOTE_UPDATE),
    ("OrderReturns", crate::returns::ORDER_RETURNS),
    ("ReturnCreate", crate::returns::RETURN_CREATE),
    ("OrderRefundable", crate::returns::ORDER_REFUNDABLE),
    ("RefundCreate", crate::returns::REFUND_CREATE),
];

/// One page of orders. Orders that could not be read are reported, not dropped.
#[derive(Debug, Clone, Default)]
pub struct OrdersPage {
    pub orders: Vec<ShopifyOrder>,
    /// `(order name, why)` for orders whose data tentacle cannot use as it is.
    pub problems: Vec<(String, String)>,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
    /// `updatedAt` of the last order on the page, read or not: where the next fetch continues.
    pub last_updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Location {
    pub id: String,
    pub name: String,
    #[serde(rename = "isActive")]
    pub is_active: bool,
}

/// The search string for orders updated at or after `since` (and before `until`). Timestamps are
/// quoted: unquoted, Shopify splits them at the colons and reads them in the shop's time zone.
pub fn updated_since_query(since: DateTime<Utc>, until: Option<DateTime<Utc>>) -> String {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    match until {
        Some(until) => format!(
            "updated_at:>='{}' updated_at:<'{}'",
            stamp(since),
            stamp(until)
        ),
        None => format!("updated_at:>='{}'", stamp(since)),
    }
}

impl ShopifyClient {
    /// One page of orders updated since `since`, continuing after `after`. Asks for `page_size`
    /// orders, halving after each server failure (a big page is what times out first).
    pub async fn orders_page(
        &self,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        after: Option<&str>,
        page_size: u32,
    ) -> Result<OrdersPage> {
        let search = updated_since_query(since, until);
        let answer: OrdersAnswer = self
            .query(ORDERS_UPDATED_SINCE, |failures| {
                let first = (page_size >> failures.min(8)).max(1);
                json!({"first": first, "after": after, "query": search})
            })
            .await?;
        let mut page = OrdersPage {
            has_next_page: answer.orders.page_info.has_next_page,
            end_cursor: answer.orders.page_info.end_cursor,
            ..OrdersPage::default()
        };
        for node in answer.orders.nodes {
            page.last_updated_at = Some(node.updated_at);
            let name = node.name.clone();
            match node.into_domain() {
                Ok(order) => page.orders.push(order),
                Err(why) => page.problems.push((name, why)),
            }
        }
        Ok(page)
    }

    /// The order with this GraphQL id; `Ok(None)` when Shopify has no such order.
    pub async fn order(&self, id: &str) -> Result<Option<ShopifyOrder>> {
        let answer: OrderAnswer = self.query(ORDER_BY_ID, |_| json!({"id": id})).await?;
        match answer.order {
            None => Ok(None),
            Some(node) => {
                let name = node.name.clone();
                node.into_domain()
                    .map(Some)
                    .map_err(|why| ShopifyError::Decode(format!("order {name}: {why}")))
            }
        }
    }

    /// The shop's locations (up to 250). Also a cheap connection check.
    pub async fn locations(&self) -> Result<Vec<Location>> {
        let answer: LocationsAnswer = self.query(LOCATIONS, |_| json!({"first": 250})).await?;
        Ok(answer.locations.nodes)
    }
}

#[derive(Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
    #[serde(rename = "pageInfo")]
    page_info: PageInfo,
}

#[derive(Deserialize, Default)]
struct PageInfo {
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
    #[serde(rename = "endCursor", default)]
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
struct OrdersAnswer {
    orders: Nodes<OrderNode>,
}

#[derive(Deserialize)]
struct OrderAnswer {
    order: Option<OrderNode>,
}

#[derive(Deserialize)]
struct LocationsAnswer {
    locations: LocationNodes,
}

#[derive(Deserialize)]
struct LocationNodes {
    nodes: Vec<Location>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderNode {
    id: String,
    legacy_resource_id: String,
    name: String,
    updated_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    display_financial_status: Option<String>,
    display_fulfillment_status: String,
    tags: Vec<String>,
    email: Option<String>,
    phone: Option<String>,
    customer: Option<CustomerNode>,
    shipping_address: Option<AddressNode>,
    fulfillment_orders: Nodes<FulfillmentOrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomerNode {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    default_email_address: Option<EmailNode>,
    default_phone_number: Option<PhoneNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailNode {
    email_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneNode {
    phone_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressNode {
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    company: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province: Option<String>,
    province_code: Option<String>,
    zip: Option<String>,
    country: Option<String>,
    country_code_v2: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemNode {
    id: String,
    sku: Option<String>,
    name: String,
    quantity: u32,
    requires_shipping: bool,
    is_gift_card: bool,
    original_unit_price_set: MoneyBag,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: Money,
}

#[derive(Deserialize)]
struct Money {
    amount: Decimal,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderNode {
    id: String,
    status: String,
    assigned_location: AssignedLocation,
    line_items: Nodes<FulfillmentOrderLineNode>,
}

#[derive(Deserialize)]
struct AssignedLocation {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderLineNode {
    id: String,
    remaining_quantity: u32,
    total_quantity: u32,
    line_item: LineItemNode,
}

impl OrderNode {
    /// The domain's order, or why it cannot be used (a value tentacle does not know, more
    /// lines than one read returns).
    fn into_domain(self) -> std::result::Result<ShopifyOrder, String> {
        if self.fulfillment_orders.page_info.has_next_page {
            return Err(format!(
                "the order has more than {MAX_FULFILLMENT_ORDERS} fulfillment orders, which tentacle does not import yet: import it by hand"
            ));
        }
        let financial_status = self
            .display_financial_status
            .map(|s| s.parse::<FinancialStatus>().map_err(|e| e.to_string()))
            .transpose()?;
        let fulfillment_status = self
            .display_fulfillment_status
            .parse::<FulfillmentStatus>()
            .map_err(|e| e.to_string())?;
        let mut line_items: Vec<LineItem> = Vec::new();
        let mut fulfillment_orders = Vec::with_capacity(self.fulfillment_orders.nodes.len());
        for fo in self.fulfillment_orders.nodes {
            if fo.line_items.page_info.has_next_page {
                return Err(format!(
                    "a fulfillment order has more than {MAX_LINES} lines, which tentacle does not import yet: import it by hand"
                ));
            }
            let mut lines = Vec::with_capacity(fo.line_items.nodes.len());
            for l in fo.line_items.nodes {
                let item = l.line_item;
                lines.push(FulfillmentOrderLine {
                    id: l.id,
                    line_item_id: item.id.clone(),
                    remaining_quantity: l.remaining_quantity,
                    total_quantity: l.total_quantity,
                });
                // A line item split over several fulfillment orders is read once per part.
                if !line_items.iter().any(|known| known.id == item.id) {
                    line_items.push(LineItem {
                        id: item.id,
                        sku: item.sku,
                        name: item.name,
                        quantity: item.quantity,
                        requires_shipping: item.requires_shipping,
                        is_gift_card: item.is_gift_card,
                        unit_price: item.original_unit_price_set.shop_money.amount,
                    });
                }
            }
            fulfillment_orders.push(FulfillmentOrder {
                id: fo.id,
                status: fo
                    .status
                    .parse::<FulfillmentOrderStatus>()
                    .map_err(|e| e.to_string())?,
                location_name: fo.assigned_location.name,
                lines,
            });
        }
        Ok(ShopifyOrder {
            legacy_id: self.legacy_resource_id.parse().map_err(|_| {
                format!(
                    "legacyResourceId {:?} is not a number",
                    self.legacy_resource_id
                )
            })?,
            id: self.id,
            name: self.name,
            updated_at: self.updated_at,
            cancelled_at: self.cancelled_at,
            financial_status,
            fulfillment_status,
            tags: self.tags,
            email: self.email,
            phone: self.phone,
            customer: self.customer.map(|c| Customer {
                id: c.id,
                first_name: c.first_name,
                last_name: c.last_name,
                email: c.default_email_address.and_then(|e| e.email_address),
                phone: c.default_phone_number.and_then(|p| p.phone_number),
            }),
            shipping_address: self.shipping_address.map(|a| Address {
                first_name: a.first_name,
                last_name: a.last_name,
                name: a.name,
                company: a.company,
                address1: a.address1,
                address2: a.address2,
                city: a.city,
                province: a.province,
                province_code: a.province_code,
                zip: a.zip,
                country: a.country,
                country_code: a.country_code_v2,
                phone: a.phone,
            }),
            line_items,
            fulfillment_orders,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_quotes_timestamps() {
        let since = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            updated_since_query(since, None),
            "updated_at:>='2026-11-20T10:00:00Z'"
        );
        let until = since + chrono::TimeDelta::hours(1);
        assert_eq!(
            updated_since_query(since, Some(until)),
            "updated_at:>='2026-11-20T10:00:00Z' updated_at:<'2026-11-20T11:00:00Z'"
        );
    }
}
