//! Orders in Shopify's REST / webhook JSON shape (§8.5 of the reference), in and out.
//!
//! Webhook bodies, the JSONL seed file and the control API all speak this shape: int64 ids next
//! to `admin_graphql_api_id`, money as strings with two decimals, timestamps with the shop's
//! offset, lowercase statuses and tags as one string joined with `", "`.
//!
//! The REST shape cannot say everything the model holds: fulfillment orders are not part of it
//! (the control API adds them separately), an order's fulfillment orders all sit at the one
//! `location_id`, and the merchant-set fulfillment statuses (`on_hold`, `scheduled`, …) have no
//! REST value. As a sandbox extension, `fulfillment_status` also accepts those display statuses
//! in lowercase on input.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};

use super::model::{
    CancelReason, Customer, FinancialStatus, Fulfillment, FulfillmentLine, FulfillmentOrder,
    FulfillmentOrderLineItem, FulfillmentOrderRequestStatus, FulfillmentOrderStatus,
    FulfillmentStatus, LineItem, Location, MailingAddress, Order, ProductVariant, SHOP_OFFSET,
    ShippingLine, Shop, TrackingInfo, gid, parse_gid,
};

/// The first order number of a shop, as in Shopify (`#1001`).
pub const FIRST_ORDER_NUMBER: u64 = 1001;

/// REST money: a string with two decimals, `"55.00"`.
pub fn money(amount: Decimal) -> String {
    format!(
        "{:.2}",
        amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    )
}

/// REST timestamp: ISO-8601 with the shop's offset, `"2026-11-20T10:15:00+01:00"`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.with_timezone(&SHOP_OFFSET)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// REST tags: one string, sorted, joined with `", "`.
pub fn tags_to_rest(tags: &BTreeSet<String>) -> String {
    tags.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a REST tag string (`"a, b"`) into tags, trimmed, without empty ones.
pub fn parse_tags(tags: &str) -> BTreeSet<String> {
    tags.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The REST `fulfillment_status` of an order: `fulfilled`, `partial` or `null`.
pub fn fulfillment_status_to_rest(status: FulfillmentStatus) -> Option<&'static str> {
    match status {
        FulfillmentStatus::Fulfilled => Some("fulfilled"),
        FulfillmentStatus::PartiallyFulfilled => Some("partial"),
        _ => None,
    }
}

fn money_set(amount: Decimal, currency: &str) -> Value {
    let money = json!({"amount": money(amount), "currency_code": currency});
    json!({"shop_money": money.clone(), "presentment_money": money})
}

fn optional_timestamp(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(timestamp(at)))
}

/// The order as Shopify's REST API and `orders/*` webhooks show it (§8.5).
pub fn order_to_rest(order: &Order, shop: &Shop) -> Value {
    render_order(order, &|variant_id| {
        shop.variants
            .iter()
            .find(|v| v.id == variant_id)
            .map(|v| v.product_id)
    })
}

/// [`order_to_rest`] with the variant → product lookup supplied by the caller (the webhook
/// sender keeps its own copy so it never needs the shop lock).
pub(crate) fn render_order(order: &Order, product_of: &dyn Fn(u64) -> Option<u64>) -> Value {
    let currency = order.currency.as_str();
    let original_subtotal: Decimal = order
        .line_items
        .iter()
        .map(|l| l.unit_price * Decimal::from(l.quantity))
        .sum();
    let original_total = original_subtotal + order.total_shipping();
    let zero = Decimal::ZERO;
    let paid_online = !matches!(
        order.financial_status,
        Some(FinancialStatus::Pending) | None
    );
    let mut o = Map::new();
    let mut put = |key: &str, value: Value| {
        o.insert(key.to_string(), value);
    };
    put("id", json!(order.id));
    put("admin_graphql_api_id", json!(order.gid()));
    put("buyer_accepts_marketing", json!(false));
    put(
        "cancel_reason",
        json!(order.cancel_reason.map(CancelReason::rest)),
    );
    put("cancelled_at", optional_timestamp(order.cancelled_at));
    put("closed_at", optional_timestamp(order.closed_at));
    put("confirmed", json!(true));
    put("contact_email", json!(order.email));
    put("created_at", json!(timestamp(order.created_at)));
    put("currency", json!(currency));
    put("current_subtotal_price", json!(money(order.subtotal())));
    put(
        "current_subtotal_price_set",
        money_set(order.subtotal(), currency),
    );
    put("current_total_discounts", json!(money(zero)));
    put("current_total_price", json!(money(order.total())));
    put(
        "current_total_price_set",
        money_set(order.total(), currency),
    );
    put("current_total_tax", json!(money(zero)));
    put("email", json!(order.email));
    put(
        "financial_status",
        json!(order.financial_status.map(FinancialStatus::rest)),
    );
    put(
        "fulfillment_status",
        json!(fulfillment_status_to_rest(order.fulfillment_status)),
    );
    put(
        "location_id",
        json!(order.fulfillment_orders.first().map(|fo| fo.location_id)),
    );
    put("name", json!(order.name));
    put("note", json!(order.note));
    put("note_attributes", json!([]));
    put(
        "number",
        json!(order.number.checked_sub(1000).unwrap_or(order.number)),
    );
    put("order_number", json!(order.number));
    put(
        "payment_gateway_names",
        json!([if paid_online {
            "shopify_payments"
        } else {
            "manual"
        }]),
    );
    put("phone", json!(order.phone));
    put("po_number", Value::Null);
    put("presentment_currency", json!(currency));
    put("processed_at", json!(timestamp(order.processed_at)));
    put("source_name", json!(order.source_name));
    put("subtotal_price", json!(money(original_subtotal)));
    put("subtotal_price_set", money_set(original_subtotal, currency));
    put("tags", json!(tags_to_rest(&order.tags)));
    put("taxes_included", json!(true));
    put("test", json!(order.test));
    put("total_discounts", json!(money(zero)));
    put("total_discounts_set", money_set(zero, currency));
    put("total_line_items_price", json!(money(original_subtotal)));
    put(
        "total_line_items_price_set",
        money_set(original_subtotal, currency),
    );
    put("total_price", json!(money(original_total)));
    put("total_price_set", money_set(original_total, currency));
    put(
        "total_shipping_price_set",
        money_set(order.total_shipping(), currency),
    );
    put("total_tax", json!(money(zero)));
    put("total_tax_set", money_set(zero, currency));
    put("total_weight", json!(0));
    put("updated_at", json!(timestamp(order.updated_at)));
    put(
        "billing_address",
        order
            .billing_address
            .as_ref()
            .map_or(Value::Null, address_to_rest),
    );
    put(
        "customer",
        order
            .customer
            .as_ref()
            .map_or(Value::Null, |c| customer_to_rest(c, currency)),
    );
    put(
        "fulfillments",
        order
            .fulfillments
            .iter()
            .enumerate()
            .map(|(i, f)| fulfillment_to_rest(order, i, f))
            .collect(),
    );
    put(
        "line_items",
        order
            .line_items
            .iter()
            .map(|l| line_item_to_rest(order, l, product_of))
            .collect(),
    );
    put("refunds", json!([]));
    put(
        "shipping_address",
        order
            .shipping_address
            .as_ref()
            .map_or(Value::Null, address_to_rest),
    );
    put(
        "shipping_lines",
        order
            .shipping_lines
            .iter()
            .map(|s| shipping_line_to_rest(s, currency))
            .collect(),
    );
    Value::Object(o)
}

fn address_to_rest(address: &MailingAddress) -> Value {
    json!({
        "first_name": address.first_name,
        "address1": address.address1,
        "phone": address.phone,
        "city": address.city,
        "zip": address.zip,
        "province": address.province,
        "country": address.country,
        "last_name": address.last_name,
        "address2": address.address2,
        "company": address.company,
        "latitude": null,
        "longitude": null,
        "name": address.name(),
        "country_code": address.country_code,
        "province_code": address.province_code,
    })
}

fn customer_to_rest(customer: &Customer, currency: &str) -> Value {
    json!({
        "id": customer.id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "state": "enabled",
        "tags": "",
        "currency": currency,
        "verified_email": customer.email.is_some(),
        "admin_graphql_api_id": gid("Customer", customer.id),
    })
}

fn line_item_to_rest(
    order: &Order,
    line: &LineItem,
    product_of: &dyn Fn(u64) -> Option<u64>,
) -> Value {
    let currency = order.currency.as_str();
    let fulfilled = order.fulfilled_quantity(line.id);
    let fulfillable = if order.cancelled_at.is_some() {
        0
    } else {
        (line.current_quantity - fulfilled).max(0)
    };
    let status = if fulfilled > 0 && fulfilled >= line.current_quantity {
        Some("fulfilled")
    } else if fulfilled > 0 {
        Some("partial")
    } else {
        None
    };
    let product_id = line.variant_id.and_then(product_of);
    json!({
        "id": line.id,
        "admin_graphql_api_id": gid("LineItem", line.id),
        "attributed_staffs": [],
        "current_quantity": line.current_quantity,
        "fulfillable_quantity": fulfillable,
        "fulfillment_service": "manual",
        "fulfillment_status": status,
        "gift_card": line.is_gift_card,
        "grams": 0,
        "name": line.name,
        "price": money(line.unit_price),
        "price_set": money_set(line.unit_price, currency),
        "product_exists": product_id.is_some(),
        "product_id": product_id,
        "properties": [],
        "quantity": line.quantity,
        "requires_shipping": line.requires_shipping,
        "sku": line.sku,
        "taxable": true,
        "title": line.title,
        "total_discount": money(Decimal::ZERO),
        "total_discount_set": money_set(Decimal::ZERO, currency),
        "variant_id": line.variant_id,
        "variant_inventory_management": (product_id.is_some() && line.requires_shipping).then_some("shopify"),
        "variant_title": line.variant_title,
        "vendor": line.vendor,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    })
}

fn shipping_line_to_rest(line: &ShippingLine, currency: &str) -> Value {
    json!({
        "id": line.id,
        "carrier_identifier": line.carrier_identifier,
        "code": line.code,
        "discounted_price": money(line.price),
        "discounted_price_set": money_set(line.price, currency),
        "is_removed": false,
        "phone": null,
        "price": money(line.price),
        "price_set": money_set(line.price, currency),
        "requested_fulfillment_service_id": null,
        "source": line.source,
        "title": line.title,
        "tax_lines": [],
        "discount_allocations": [],
    })
}

fn fulfillment_to_rest(order: &Order, index: usize, fulfillment: &Fulfillment) -> Value {
    let first = fulfillment.tracking.first();
    let numbers: Vec<&str> = fulfillment
        .tracking
        .iter()
        .filter_map(|t| t.number.as_deref())
        .collect();
    let urls: Vec<&str> = fulfillment
        .tracking
        .iter()
        .filter_map(|t| t.url.as_deref())
        .collect();
    let lines: Vec<Value> = fulfillment
        .lines
        .iter()
        .map(|fl| {
            let line = order.line_items.iter().find(|l| l.id == fl.line_item_id);
            json!({
                "id": fl.line_item_id,
                "admin_graphql_api_id": gid("LineItem", fl.line_item_id),
                "name": line.map(|l| l.name.as_str()),
                "sku": line.and_then(|l| l.sku.as_deref()),
                "variant_id": line.and_then(|l| l.variant_id),
                "quantity": fl.quantity,
                "requires_shipping": line.is_some_and(|l| l.requires_shipping),
            })
        })
        .collect();
    json!({
        "id": fulfillment.id,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
        "created_at": timestamp(fulfillment.created_at),
        "location_id": fulfillment.location_id,
        "name": format!("{}.{}", order.name, index + 1),
        "order_id": order.id,
        "service": "manual",
        "shipment_status": null,
        "status": "success",
        "tracking_company": first.and_then(|t| t.company.as_deref()),
        "tracking_number": numbers.first(),
        "tracking_numbers": numbers,
        "tracking_url": urls.first(),
        "tracking_urls": urls,
        "updated_at": timestamp(fulfillment.updated_at),
        "line_items": lines,
    })
}

/// A fulfillment order in the shape of Shopify's REST `FulfillmentOrder` (not part of the order
/// payload; the control API adds these so tests can find fulfillment order ids).
pub fn fulfillment_order_to_rest(order: &Order, fo: &FulfillmentOrder, shop: &Shop) -> Value {
    let location = shop.location(fo.location_id);
    let lines: Vec<Value> = fo
        .line_items
        .iter()
        .map(|fl| {
            let line = order.line_items.iter().find(|l| l.id == fl.line_item_id);
            json!({
                "id": fl.id,
                "fulfillment_order_id": fo.id,
                "line_item_id": fl.line_item_id,
                "sku": line.and_then(|l| l.sku.as_deref()),
                "variant_id": line.and_then(|l| l.variant_id),
                "quantity": fl.total_quantity,
                "fulfillable_quantity": fl.remaining_quantity,
            })
        })
        .collect();
    json!({
        "id": fo.id,
        "admin_graphql_api_id": gid("FulfillmentOrder", fo.id),
        "order_id": order.id,
        "assigned_location_id": fo.location_id,
        "assigned_location": {
            "location_id": fo.location_id,
            "name": location.map(|l| l.name.as_str()),
        },
        "status": fo.status.graphql().to_ascii_lowercase(),
        "request_status": fo.request_status.graphql().to_ascii_lowercase(),
        "created_at": timestamp(fo.created_at),
        "updated_at": timestamp(fo.updated_at),
        "line_items": lines,
    })
}

/// A location in the shape of Shopify's REST `Location`.
pub fn location_to_rest(location: &Location) -> Value {
    json!({
        "id": location.id,
        "admin_graphql_api_id": gid("Location", location.id),
        "name": location.name,
        "address1": location.address1,
        "city": location.city,
        "zip": location.zip,
        "country_code": location.country_code,
        "legacy": false,
        "active": location.is_active,
        "primary": location.is_primary,
    })
}

/// A variant in the shape of Shopify's REST `Variant`, plus its inventory levels by location id.
pub fn variant_to_rest(variant: &ProductVariant, shop: &Shop) -> Value {
    let levels: Vec<Value> = shop
        .locations
        .iter()
        .filter_map(|l| {
            shop.inventory
                .get(&(variant.inventory_item_id, l.id))
                .map(|q| {
                    json!({
                        "location_id": l.id,
                        "available": q.available,
                        "on_hand": q.on_hand,
                        "active": shop.is_active_level(variant.inventory_item_id, l.id),
                    })
                })
        })
        .collect();
    json!({
        "id": variant.id,
        "admin_graphql_api_id": gid("ProductVariant", variant.id),
        "product_id": variant.product_id,
        "product_title": variant.product_title,
        "title": variant.title,
        "sku": variant.sku,
        "barcode": variant.barcode,
        "price": money(variant.price),
        "inventory_item_id": variant.inventory_item_id,
        "inventory_management": variant.tracked.then_some("shopify"),
        "requires_shipping": variant.requires_shipping,
        "gift_card": variant.is_gift_card,
        "tags": variant.product_tags,
        "unit_cost": variant.unit_cost.map(money),
        "weight": variant.weight.map(|w| json!({"value": w.value, "unit": w.unit.graphql()})),
        "created_at": timestamp(variant.created_at),
        "updated_at": timestamp(variant.updated_at),
        "inventory_levels": levels,
    })
}

/// Typed access to one JSON object, with errors that name the field by its path
/// (`line_items[0].quantity must be a positive integer`).
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(value: &'a Value, path: &str) -> Result<Fields<'a>, String> {
        match value {
            Value::Object(map) => Ok(Fields {
                map,
                path: path.to_string(),
            }),
            _ => Err(format!(
                "{} must be a JSON object",
                if path.is_empty() { "the order" } else { path }
            )),
        }
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }

    pub(crate) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value at `key`, `None` when missing or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether `key` is present, even as `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{} must be a string", self.field(key))),
        }
    }

    /// An id: a non-negative JSON integer or a string of digits (ids can exceed 2^53).
    pub(crate) fn id(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
            Some(_) => Err(format!("{} must be an integer id", self.field(key))),
        }
    }

    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(_) => Err(format!("{} must be an integer", self.field(key))),
        }
    }

    pub(crate) fn positive_integer(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|q| q > 0) => Ok(n.as_i64()),
            Some(_) => Err(format!("{} must be a positive integer", self.field(key))),
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{} must be true or false", self.field(key))),
        }
    }

    pub(crate) fn decimal(&self, key: &str) -> Result<Option<Decimal>, String> {
        let parsed = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim().parse::<Decimal>().ok(),
            Some(Value::Number(n)) => n.to_string().parse::<Decimal>().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(amount) if amount >= Decimal::ZERO => Ok(Some(amount)),
            _ => Err(format!(
                "{} must be a non-negative amount like \"12.50\"",
                self.field(key)
            )),
        }
    }

    pub(crate) fn timestamp(&self, key: &str) -> Result<Option<DateTime<Utc>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc).trunc_subsecs(0)))
                .map_err(|_| {
                    format!(
                        "{} must be an ISO-8601 timestamp with an offset, like \"2026-11-20T10:15:00+01:00\"",
                        self.field(key)
                    )
                }),
            Some(_) => Err(format!("{} must be a timestamp string", self.field(key))),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(format!("{} must be an array", self.field(key))),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Fields<'a>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => Fields::new(value, &self.field(key)).map(Some),
        }
    }

    pub(crate) fn tags(&self, key: &str) -> Result<Option<BTreeSet<String>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(parse_tags(s))),
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| match t {
                    Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    _ => Err(format!(
                        "{} must be a string like \"a, b\" or an array of tags",
                        self.field(key)
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(format!(
                "{} must be a string like \"a, b\"",
                self.field(key)
            )),
        }
    }
}

/// Reads a REST `MailingAddress` object.
pub(crate) fn address_from_rest(fields: &Fields<'_>) -> Result<MailingAddress, String> {
    let mut first_name = fields.string("first_name")?;
    let mut last_name = fields.string("last_name")?;
    if first_name.is_none()
        && last_name.is_none()
        && let Some(name) = fields.string("name")?
    {
        let mut parts = name.trim().splitn(2, ' ');
        first_name = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        last_name = parts.next().map(|s| s.trim().to_string());
    }
    Ok(MailingAddress {
        first_name,
        last_name,
        company: fields.string("company")?,
        address1: fields.string("address1")?,
        address2: fields.string("address2")?,
        city: fields.string("city")?,
        province: fields.string("province")?,
        province_code: fields.string("province_code")?,
        zip: fields.string("zip")?,
        country: fields.string("country")?,
        country_code: fields.string("country_code")?,
        phone: fields.string("phone")?,
    })
}

/// The fulfillment statuses `order_from_rest` accepts: REST's own values plus, as a sandbox
/// extension, the merchant-set display statuses in lowercase.
fn fulfillment_status_from_rest(value: &str) -> Option<FulfillmentStatus> {
    Some(match value.to_ascii_lowercase().as_str() {
        "unfulfilled" | "restocked" => FulfillmentStatus::Unfulfilled,
        "fulfilled" => FulfillmentStatus::Fulfilled,
        "partial" | "partially_fulfilled" => FulfillmentStatus::PartiallyFulfilled,
        "on_hold" => FulfillmentStatus::OnHold,
        "scheduled" => FulfillmentStatus::Scheduled,
        "in_progress" => FulfillmentStatus::InProgress,
        "request_declined" => FulfillmentStatus::RequestDeclined,
        "fulfillment_not_required" => FulfillmentStatus::FulfillmentNotRequired,
        _ => return None,
    })
}

/// Takes an explicit id from the input and keeps the shop's counter above it.
fn claim_id(shop: &mut Shop, explicit: Option<u64>) -> u64 {
    match explicit {
        Some(id) => {
            shop.next_id = shop.next_id.max(id);
            id
        }
        None => shop.allocate_id(),
    }
}

/// Reads an order in the REST / `orders/create` webhook shape (also accepted wrapped as
/// `{"order": {...}}`). Missing ids, the number and the name are allocated from `shop`; missing
/// timestamps are now; a missing `financial_status` is `pending` as in Shopify's REST create,
/// an explicit `null` is no status. Fulfillment orders go to `location_id` when it is one of the
/// shop's locations, else to the primary location, and hold the lines that require shipping.
/// Fulfilled quantities come from `fulfillments[]`, else from `line_items[].fulfillable_quantity`
/// or `fulfillment_status`. Errors name the field: `line_items[0].quantity must be a positive
/// integer`.
pub fn order_from_rest(value: &Value, shop: &mut Shop) -> Result<Order, String> {
    let value = match value.as_object() {
        Some(map) if map.len() == 1 && map.contains_key("order") => &map["order"],
        _ => value,
    };
    let o = Fields::new(value, "")?;
    let now = Utc::now().trunc_subsecs(0);

    let explicit_id = match o.id("id")? {
        Some(id) => Some(id),
        None => match o.string("admin_graphql_api_id")? {
            Some(g) => Some(parse_gid(&g, "Order").ok_or_else(|| {
                "admin_graphql_api_id must look like gid://shopify/Order/123".to_string()
            })?),
            None => None,
        },
    };
    if let Some(id) = explicit_id
        && shop.orders.contains_key(&id)
    {
        return Err(format!("id: order {id} already exists"));
    }
    let id = claim_id(shop, explicit_id);

    let name = o.string("name")?;
    let number = match o.id("order_number")? {
        Some(n) => Some(n),
        None => match (&name, o.id("number")?) {
            (Some(name), _) if name.chars().any(|c| c.is_ascii_digit()) => {
                let digits: String = name.chars().filter(char::is_ascii_digit).collect();
                digits.parse().ok()
            }
            (_, Some(n)) => Some(n + 1000),
            _ => None,
        },
    };

    let created_at = o.timestamp("created_at")?.unwrap_or(now);
    let processed_at = o.timestamp("processed_at")?.unwrap_or(created_at);
    let updated_at = o.timestamp("updated_at")?.unwrap_or(created_at);
    if updated_at < created_at {
        return Err("updated_at must not be before created_at".into());
    }

    let financial_status = match o.map.get("financial_status") {
        None => Some(FinancialStatus::Pending),
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(FinancialStatus::from_rest(s).ok_or_else(|| {
            format!(
                "financial_status must be one of {}, got {s:?}",
                FinancialStatus::ALL.map(FinancialStatus::rest).join(", ")
            )
        })?),
        Some(_) => return Err("financial_status must be a string".into()),
    };
    let requested_fulfillment = match o.string("fulfillment_status")? {
        None => None,
        Some(s) => Some(fulfillment_status_from_rest(&s).ok_or_else(|| {
            format!(
                "fulfillment_status must be null, fulfilled, partial, restocked or unfulfilled, got {s:?}"
            )
        })?),
    };
    let cancelled_at = o.timestamp("cancelled_at")?;
    let cancel_reason = match o.string("cancel_reason")? {
        None => cancelled_at.map(|_| CancelReason::Other),
        Some(_) if cancelled_at.is_none() => {
            return Err("cancel_reason needs cancelled_at".into());
        }
        Some(s) => Some(CancelReason::from_rest(&s).ok_or_else(|| {
            format!("cancel_reason must be one of customer, declined, fraud, inventory, other, staff, got {s:?}")
        })?),
    };
    let closed_at = o.timestamp("closed_at")?;
    let email = match o.string("email")? {
        Some(email) => Some(email),
        None => o.string("contact_email")?,
    };
    let location_id = o.id("location_id")?;
    let location = location_id
        .and_then(|id| shop.location(id))
        .or_else(|| shop.primary_location())
        .map(|l| l.id);

    // Line items first: everything below refers to them.
    let line_values = o
        .array("line_items")?
        .filter(|items| !items.is_empty())
        .ok_or_else(|| "line_items must be a non-empty array".to_string())?;
    struct ParsedLine {
        line: LineItem,
        fulfillable: Option<i64>,
        fulfilled_status: Option<String>,
    }
    let mut parsed_lines = Vec::with_capacity(line_values.len());
    for (i, value) in line_values.iter().enumerate() {
        let l = Fields::new(value, &format!("line_items[{i}]"))?;
        let quantity = l
            .positive_integer("quantity")?
            .ok_or_else(|| format!("{} must be a positive integer", l.field("quantity")))?;
        let current_quantity = match l.integer("current_quantity")? {
            None => quantity,
            Some(q) if (0..=quantity).contains(&q) => q,
            Some(_) => {
                return Err(format!(
                    "{} must be between 0 and quantity",
                    l.field("current_quantity")
                ));
            }
        };
        let sku = l.string("sku")?;
        let variant_id = l.id("variant_id")?;
        let variant = variant_id
            .and_then(|id| shop.variants.iter().find(|v| v.id == id))
            .or_else(|| sku.as_deref().and_then(|s| shop.variant_by_sku(s)))
            .cloned();
        let title = match (l.string("title")?, &variant) {
            (Some(title), _) => title,
            (None, Some(v)) => v.product_title.clone(),
            (None, None) => {
                return Err(format!(
                    "{} is required for a line whose sku is not a sandbox variant",
                    l.field("title")
                ));
            }
        };
        let variant_title = match l.string("variant_title")? {
            Some(t) => Some(t),
            None => variant
                .as_ref()
                .map(|v| v.title.clone())
                .filter(|t| t != "Default Title"),
        };
        let name = match l.string("name")? {
            Some(name) => name,
            None => match &variant_title {
                Some(vt) => format!("{title} - {vt}"),
                None => title.clone(),
            },
        };
        let unit_price = match (l.decimal("price")?, &variant) {
            (Some(price), _) => price,
            (None, Some(v)) => v.price,
            (None, None) => {
                return Err(format!(
                    "{} is required for a line whose sku is not a sandbox variant",
                    l.field("price")
                ));
            }
        };
        let requires_shipping = l
            .boolean("requires_shipping")?
            .or(variant.as_ref().map(|v| v.requires_shipping))
            .unwrap_or(true);
        let is_gift_card = l
            .boolean("gift_card")?
            .or(variant.as_ref().map(|v| v.is_gift_card))
            .unwrap_or(false);
        let fulfillable = match l.integer("fulfillable_quantity")? {
            None => None,
            Some(q) if (0..=current_quantity).contains(&q) => Some(q),
            Some(_) => {
                return Err(format!(
                    "{} must be between 0 and current_quantity",
                    l.field("fulfillable_quantity")
                ));
            }
        };
        let explicit_line_id = l.id("id")?;
        if let Some(id) = explicit_line_id
            && parsed_lines.iter().any(|p: &ParsedLine| p.line.id == id)
        {
            return Err(format!("{}: line item {id} appears twice", l.field("id")));
        }
        parsed_lines.push(ParsedLine {
            line: LineItem {
                id: claim_id(shop, explicit_line_id),
                name,
                title,
                variant_title,
                vendor: l.string("vendor")?,
                sku: sku.or_else(|| variant.as_ref().and_then(|v| v.sku.clone())),
                variant_id: variant.as_ref().map(|v| v.id).or(variant_id),
                quantity,
                current_quantity,
                requires_shipping,
                is_gift_card,
                unit_price,
            },
            fulfillable,
            fulfilled_status: l.string("fulfillment_status")?,
        });
    }

    let mut shipping_lines = Vec::new();
    for (i, value) in o.array("shipping_lines")?.into_iter().flatten().enumerate() {
        let s = Fields::new(value, &format!("shipping_lines[{i}]"))?;
        let title = s
            .string("title")?
            .ok_or_else(|| format!("{} is required", s.field("title")))?;
        shipping_lines.push(ShippingLine {
            id: claim_id(shop, s.id("id")?),
            title,
            code: s.string("code")?,
            source: s.string("source")?,
            carrier_identifier: s.string("carrier_identifier")?,
            price: s.decimal("price")?.unwrap_or(Decimal::ZERO),
        });
    }

    let customer = match o.object("customer")? {
        None => None,
        Some(c) => Some(Customer {
            id: claim_id(shop, c.id("id")?),
            first_name: c.string("first_name")?,
            last_name: c.string("last_name")?,
            email: c.string("email")?.or_else(|| email.clone()),
            phone: c.string("phone")?,
        }),
    };
    let shipping_address = match o.object("shipping_address")? {
        Some(a) => Some(address_from_rest(&a)?),
        None => None,
    };
    let billing_address = match o.object("billing_address")? {
        Some(a) => Some(address_from_rest(&a)?),
        None => None,
    };

    // Fulfilled quantities per line: explicit fulfillments win over the per-line hints.
    let mut fulfilled: HashMap<u64, i64> = HashMap::new();
    let mut fulfillments = Vec::new();
    for (i, value) in o.array("fulfillments")?.into_iter().flatten().enumerate() {
        let f = Fields::new(value, &format!("fulfillments[{i}]"))?;
        let mut lines = Vec::new();
        for (j, value) in f.array("line_items")?.into_iter().flatten().enumerate() {
            let fl = Fields::new(value, &format!("{}[{j}]", f.field("line_items")))?;
            let line_id = fl
                .id("id")?
                .ok_or_else(|| format!("{} is required", fl.field("id")))?;
            let line = parsed_lines
                .iter()
                .find(|p| p.line.id == line_id)
                .ok_or_else(|| {
                    format!("{}: no line item {line_id} in this order", fl.field("id"))
                })?;
            let quantity = fl
                .positive_integer("quantity")?
                .ok_or_else(|| format!("{} must be a positive integer", fl.field("quantity")))?;
            let done = fulfilled.entry(line_id).or_default();
            *done += quantity;
            if *done > line.line.current_quantity {
                return Err(format!(
                    "{}: more than line item {line_id} has to fulfil",
                    fl.field("quantity")
                ));
            }
            lines.push(FulfillmentLine {
                id: shop.allocate_id(),
                line_item_id: line_id,
                quantity,
            });
        }
        if lines.is_empty() {
            return Err(format!(
                "{} must list the fulfilled lines",
                f.field("line_items")
            ));
        }
        let mut numbers: Vec<String> = match f.array("tracking_numbers")? {
            Some(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
        if numbers.is_empty()
            && let Some(number) = f.string("tracking_number")?
        {
            numbers.push(number);
        }
        let mut urls: Vec<String> = match f.array("tracking_urls")? {
            Some(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
        if urls.is_empty()
            && let Some(url) = f.string("tracking_url")?
        {
            urls.push(url);
        }
        let company = f.string("tracking_company")?;
        let tracking = (0..numbers.len().max(urls.len()))
            .map(|k| TrackingInfo {
                company: company.clone(),
                number: numbers.get(k).cloned(),
                url: urls.get(k).cloned(),
            })
            .collect();
        fulfillments.push(Fulfillment {
            id: claim_id(shop, f.id("id")?),
            location_id: f.id("location_id")?.or(location).unwrap_or_default(),
            tracking,
            lines,
            notify_customer: false,
            created_at: f.timestamp("created_at")?.unwrap_or(updated_at),
            updated_at: f
                .timestamp("updated_at")?
                .or(f.timestamp("created_at")?)
                .unwrap_or(updated_at),
        });
    }
    if fulfillments.is_empty() {
        for p in &parsed_lines {
            if !p.line.requires_shipping {
                continue;
            }
            // Shopify reports nothing fulfillable on a cancelled order: that says nothing
            // about what shipped.
            let fulfillable = p.fulfillable.filter(|_| cancelled_at.is_none());
            let done = match (fulfillable, p.fulfilled_status.as_deref()) {
                (Some(fulfillable), _) => p.line.current_quantity - fulfillable,
                (None, Some("fulfilled")) => p.line.current_quantity,
                _ if requested_fulfillment == Some(FulfillmentStatus::Fulfilled) => {
                    p.line.current_quantity
                }
                _ => 0,
            };
            if done > 0 {
                fulfilled.insert(p.line.id, done);
            }
        }
        if requested_fulfillment == Some(FulfillmentStatus::PartiallyFulfilled)
            && fulfilled.is_empty()
        {
            // "partial" without detail: ship the first line, or all but one unit of it.
            let shipping: Vec<&LineItem> = parsed_lines
                .iter()
                .map(|p| &p.line)
                .filter(|l| l.requires_shipping && l.current_quantity > 0)
                .collect();
            match shipping.as_slice() {
                [first, _, ..] => {
                    fulfilled.insert(first.id, first.current_quantity);
                }
                [only] if only.current_quantity > 1 => {
                    fulfilled.insert(only.id, only.current_quantity - 1);
                }
                _ => {
                    return Err(
                        "fulfillment_status: partial needs more than one unit to ship".into(),
                    );
                }
            }
        }
        let lines: Vec<FulfillmentLine> = parsed_lines
            .iter()
            .filter_map(|p| {
                fulfilled
                    .get(&p.line.id)
                    .map(|&quantity| (p.line.id, quantity))
            })
            .map(|(line_item_id, quantity)| FulfillmentLine {
                id: shop.allocate_id(),
                line_item_id,
                quantity,
            })
            .collect();
        if !lines.is_empty() {
            fulfillments.push(Fulfillment {
                id: shop.allocate_id(),
                location_id: location.unwrap_or_default(),
                tracking: Vec::new(),
                lines,
                created_at: updated_at,
                updated_at,
                notify_customer: false,
            });
        }
    }

    // One fulfillment order at the chosen location with every line that needs shipping.
    let fo_lines: Vec<(u64, i64, i64)> = parsed_lines
        .iter()
        .map(|p| &p.line)
        .filter(|l| l.requires_shipping && l.current_quantity > 0)
        .map(|l| {
            let done = fulfilled.get(&l.id).copied().unwrap_or(0);
            (l.id, l.current_quantity, l.current_quantity - done)
        })
        .collect();
    let mut fulfillment_orders = Vec::new();
    if !fo_lines.is_empty() {
        let location_id = location
            .ok_or_else(|| "location_id: the shop has no location to fulfil from".to_string())?;
        let any_done = fo_lines.iter().any(|&(_, total, left)| left < total);
        let status = if cancelled_at.is_some() || fo_lines.iter().all(|&(_, _, left)| left == 0) {
            FulfillmentOrderStatus::Closed
        } else if any_done {
            FulfillmentOrderStatus::InProgress
        } else {
            match requested_fulfillment {
                Some(FulfillmentStatus::OnHold) => FulfillmentOrderStatus::OnHold,
                Some(FulfillmentStatus::Scheduled) => FulfillmentOrderStatus::Scheduled,
                Some(FulfillmentStatus::InProgress) => FulfillmentOrderStatus::InProgress,
                _ => FulfillmentOrderStatus::Open,
            }
        };
        let fo_id = shop.allocate_id();
        let line_items = fo_lines
            .into_iter()
            .map(|(line_item_id, total, left)| FulfillmentOrderLineItem {
                id: shop.allocate_id(),
                line_item_id,
                total_quantity: total,
                remaining_quantity: left,
            })
            .collect();
        fulfillment_orders.push(FulfillmentOrder {
            id: fo_id,
            status,
            request_status: FulfillmentOrderRequestStatus::Unsubmitted,
            location_id,
            line_items,
            created_at,
            updated_at,
        });
    }

    if shop.next_order_number < FIRST_ORDER_NUMBER {
        shop.next_order_number = FIRST_ORDER_NUMBER;
    }
    let number = match number {
        Some(n) => n,
        None => shop.next_order_number,
    };
    shop.next_order_number = shop.next_order_number.max(number + 1);

    let mut order = Order {
        id,
        name: name.unwrap_or_else(|| format!("#{number}")),
        number,
        email: email.clone(),
        phone: o.string("phone")?,
        created_at,
        updated_at,
        processed_at,
        cancelled_at,
        cancel_reason,
        closed_at,
        test: o.boolean("test")?.unwrap_or(false),
        financial_status,
        fulfillment_status: match requested_fulfillment {
            Some(
                keep @ (FulfillmentStatus::OnHold
                | FulfillmentStatus::Scheduled
                | FulfillmentStatus::InProgress
                | FulfillmentStatus::RequestDeclined),
            ) => keep,
            _ => FulfillmentStatus::Unfulfilled,
        },
        note: o.string("note")?,
        tags: o.tags("tags")?.unwrap_or_default(),
        currency: o.string("currency")?.unwrap_or_else(|| {
            if shop.currency.is_empty() {
                "EUR".into()
            } else {
                shop.currency.clone()
            }
        }),
        customer,
        shipping_address,
        billing_address,
        shipping_lines,
        line_items: parsed_lines.into_iter().map(|p| p.line).collect(),
        fulfillment_orders,
        fulfillments,
        returns: Vec::new(),
        refunds: Vec::new(),
        source_name: o.string("source_name")?.or_else(|| Some("web".into())),
    };
    order.refresh_fulfillment_status();
    match requested_fulfillment {
        Some(FulfillmentStatus::Fulfilled)
            if !matches!(
                order.fulfillment_status,
                FulfillmentStatus::Fulfilled | FulfillmentStatus::FulfillmentNotRequired
            ) =>
        {
            Err("fulfillment_status is fulfilled but the fulfillments leave units to ship".into())
        }
        Some(FulfillmentStatus::PartiallyFulfilled)
            if order.fulfillment_status != FulfillmentStatus::PartiallyFulfilled =>
        {
            Err("fulfillment_status is partial but the fulfillments do not say so".into())
        }
        _ => Ok(order),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_rest_shape() {
        assert_eq!(money(Decimal::new(55, 0)), "55.00");
        assert_eq!(money(Decimal::new(40495, 2)), "404.95");
        assert_eq!(money(Decimal::new(12345, 3)), "12.35");
        let at = DateTime::parse_from_rfc3339("2026-11-20T09:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(at), "2026-11-20T10:15:00+01:00");
        let tags = parse_tags(" vip,  Black Friday ,,vip ");
        assert_eq!(tags_to_rest(&tags), "Black Friday, vip");
    }
}
