//! Field resolvers: how each served field reads the sandbox's records, in Shopify's output
//! formats (reference §5): `Decimal` as `"55.0"`, `UnsignedInt64` as strings, `DateTime` in UTC
//! with second precision and `Z`, tags sorted, ids as `gid://shopify/Type/N`.

use std::rc::Rc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::connection::{Page, PageArgs, PageInfo, SortValue, paginate};
use super::errors::FieldError;
use super::execute::Executor;
use super::mutations::{AdjustmentGroup, InventoryChange, Payload, UserErrorData};
use super::query_string::{self, Term};
use super::schema::FieldDef;
use crate::shopify::model::{
    Customer, FinancialStatus, Fulfillment, FulfillmentLine, FulfillmentOrder,
    FulfillmentOrderLineItem, FulfillmentOrderStatus, InventoryQuantities, LineItem, Location,
    MailingAddress, Order, ProductVariant, Refund, RefundLine, Return, ReturnLine, ShippingLine,
    Shop, TrackingInfo, Weight, gid, parse_gid,
};
use crate::shopify::search::{OrderSearch, SearchWarning};

/// A value a resolver hands back before completion.
pub enum Out<'s> {
    Null,
    Leaf(Value),
    Obj(Obj<'s>),
    List(Vec<Out<'s>>),
}

/// An object of the response, borrowing the shop's records.
#[derive(Clone)]
pub enum Obj<'s> {
    Query,
    Order(&'s Order),
    LineItem(&'s Order, &'s LineItem),
    FulfillmentOrder(&'s Order, &'s FulfillmentOrder),
    FulfillmentOrderLineItem(&'s Order, &'s FulfillmentOrderLineItem),
    AssignedLocation(Option<&'s Location>),
    MailingAddress(&'s MailingAddress),
    Customer(&'s Customer),
    EmailAddress(&'s str),
    PhoneNumber(&'s str),
    MoneyBag(Decimal, &'s str),
    MoneyV2(Decimal, &'s str),
    ShippingLine(&'s Order, &'s ShippingLine),
    Fulfillment(&'s Order, &'s Fulfillment),
    TrackingInfo(&'s TrackingInfo),
    FulfillmentLineItem(&'s Order, &'s FulfillmentLine),
    Return(&'s Order, &'s Return),
    ReturnLineItem(&'s Order, &'s ReturnLine),
    Refund(&'s Order, &'s Refund),
    RefundLineItem(&'s Order, &'s RefundLine),
    /// The order's `SALE` (`None`) or a refund's `REFUND` transaction.
    Transaction(&'s Order, Option<&'s Refund>),
    ProductVariant(&'s ProductVariant),
    /// The product, as far as a variant knows it.
    Product(&'s ProductVariant),
    InventoryItem(&'s ProductVariant),
    InventoryItemMeasurement(&'s ProductVariant),
    Weight(Weight),
    /// The level of a variant's item at a location, and whether it is active.
    InventoryLevel(&'s ProductVariant, &'s Location, InventoryQuantities, bool),
    InventoryQuantity(&'static str, i64),
    Location(&'s Location),
    LocationAddress(&'s Location),
    Connection(Rc<Page<Obj<'s>>>),
    Edge(Rc<(Obj<'s>, String)>),
    PageInfo(Rc<PageInfo>),
    Count {
        count: u64,
        exact: bool,
    },
    Payload(Rc<Payload>),
    UserError(Rc<UserErrorData>),
    AdjustmentGroup(Rc<AdjustmentGroup>),
    InventoryChange(InventoryChange),
    Job(Rc<str>),
}

impl Obj<'_> {
    /// The concrete type of objects that can stand behind an interface (`Node`).
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self {
            Obj::Order(_) => "Order",
            Obj::LineItem(..) => "LineItem",
            Obj::FulfillmentOrder(..) => "FulfillmentOrder",
            Obj::FulfillmentOrderLineItem(..) => "FulfillmentOrderLineItem",
            Obj::Customer(_) => "Customer",
            Obj::Fulfillment(..) => "Fulfillment",
            Obj::FulfillmentLineItem(..) => "FulfillmentLineItem",
            Obj::Return(..) => "Return",
            Obj::ReturnLineItem(..) => "ReturnLineItem",
            Obj::Refund(..) => "Refund",
            Obj::Transaction(..) => "OrderTransaction",
            Obj::ProductVariant(_) => "ProductVariant",
            Obj::Product(_) => "Product",
            Obj::InventoryItem(_) => "InventoryItem",
            Obj::InventoryLevel(..) => "InventoryLevel",
            Obj::Location(_) => "Location",
            Obj::AdjustmentGroup(_) => "InventoryAdjustmentGroup",
            _ => return None,
        })
    }
}

/// `"55.0"`, `"12.5"`, `"949.95"`: normalized, with `.0` when integral.
pub fn decimal(amount: Decimal) -> String {
    let normalized = amount.normalize();
    if normalized.scale() == 0 {
        format!("{normalized}.0")
    } else {
        normalized.to_string()
    }
}

/// `2026-07-02T23:39:19Z`.
pub fn datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn leaf(value: impl Into<Value>) -> Out<'static> {
    Out::Leaf(value.into())
}

fn opt_str(value: Option<&str>) -> Out<'static> {
    value.map_or(Out::Null, leaf)
}

fn opt_time(value: Option<DateTime<Utc>>) -> Out<'static> {
    value.map_or(Out::Null, |t| leaf(datetime(t)))
}

fn obj(o: Obj<'_>) -> Out<'_> {
    Out::Obj(o)
}

fn list<'s>(items: impl IntoIterator<Item = Obj<'s>>) -> Out<'s> {
    Out::List(items.into_iter().map(Out::Obj).collect())
}

fn not_served(type_name: &str, field: &str) -> FieldError {
    FieldError::new(
        "INTERNAL_SERVER_ERROR",
        format!("The sandbox does not serve {type_name}.{field}"),
    )
}

/// How many items of a plain list (not a connection) `first` asks for; all without it.
fn list_first(args: &Map<String, Value>) -> usize {
    args.get("first")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn epoch_ms(at: DateTime<Utc>) -> SortValue {
    SortValue::Int(at.timestamp_millis())
}

fn id_value(id: u64) -> SortValue {
    SortValue::Int(i64::try_from(id).unwrap_or(i64::MAX))
}

/// A connection over `items`, each already carrying its sort value and id.
fn connection<'s>(
    items: Vec<(SortValue, u64, Obj<'s>)>,
    args: &Map<String, Value>,
    field: &str,
) -> Result<Out<'s>, FieldError> {
    let page_args = PageArgs::read(args, field)?;
    let page = paginate(items, &page_args)?;
    Ok(obj(Obj::Connection(Rc::new(page))))
}

/// A connection over records in their stored order (line items, fulfillment orders, …),
/// paged by id.
fn id_connection<'s, T: 's>(
    records: impl IntoIterator<Item = &'s T>,
    id: impl Fn(&T) -> u64,
    wrap: impl Fn(&'s T) -> Obj<'s>,
    args: &Map<String, Value>,
    field: &str,
) -> Result<Out<'s>, FieldError> {
    let items = records
        .into_iter()
        .map(|r| (id_value(id(r)), id(r), wrap(r)))
        .collect();
    connection(items, args, field)
}

/// Resolves `def` on `object`.
pub fn resolve<'s>(
    ex: &mut Executor<'_>,
    shop: &'s Shop,
    object: &Obj<'s>,
    parent: &str,
    def: &FieldDef,
    args: &Map<String, Value>,
    key: &str,
) -> Result<Out<'s>, FieldError> {
    let field = def.name.as_str();
    match object {
        Obj::Query => query_root(ex, shop, field, args, key),
        Obj::Order(order) => order_field(shop, order, field, args),
        Obj::LineItem(order, line) => line_item_field(shop, order, line, field),
        Obj::FulfillmentOrder(order, fo) => fulfillment_order_field(shop, order, fo, field, args),
        Obj::FulfillmentOrderLineItem(order, line) => fo_line_field(shop, order, line, field),
        Obj::AssignedLocation(location) => Ok(match (field, location) {
            ("name", l) => leaf(l.map(|l| l.name.as_str()).unwrap_or_default()),
            ("location", l) => l.map_or(Out::Null, |l| obj(Obj::Location(l))),
            ("address1", l) => opt_str(l.map(|l| l.address1.as_str())),
            ("city", l) => opt_str(l.map(|l| l.city.as_str())),
            ("zip", l) => opt_str(l.map(|l| l.zip.as_str())),
            ("countryCode", l) => leaf(l.map(|l| l.country_code.as_str()).unwrap_or("US")),
            ("address2" | "province" | "phone", _) => Out::Null,
            _ => return Err(not_served(parent, field)),
        }),
        Obj::MailingAddress(address) => mailing_address_field(address, field),
        Obj::Customer(customer) => Ok(match field {
            "id" => leaf(gid("Customer", customer.id)),
            "legacyResourceId" => leaf(customer.id.to_string()),
            "firstName" => opt_str(customer.first_name.as_deref()),
            "lastName" => opt_str(customer.last_name.as_deref()),
            "displayName" => leaf(customer.display_name()),
            "email" => opt_str(customer.email.as_deref()),
            "phone" => opt_str(customer.phone.as_deref()),
            "defaultEmailAddress" => customer
                .email
                .as_deref()
                .map_or(Out::Null, |e| obj(Obj::EmailAddress(e))),
            "defaultPhoneNumber" => customer
                .phone
                .as_deref()
                .map_or(Out::Null, |p| obj(Obj::PhoneNumber(p))),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::EmailAddress(email) => Ok(leaf(*email)),
        Obj::PhoneNumber(phone) => Ok(leaf(*phone)),
        Obj::MoneyBag(amount, currency) => Ok(obj(Obj::MoneyV2(*amount, currency))),
        Obj::MoneyV2(amount, currency) => Ok(match field {
            "amount" => leaf(decimal(*amount)),
            _ => leaf(*currency),
        }),
        Obj::ShippingLine(order, line) => {
            let money = || obj(Obj::MoneyBag(line.price, &order.currency));
            Ok(match field {
                "id" => leaf(gid("ShippingLine", line.id)),
                "title" => leaf(line.title.as_str()),
                "code" => opt_str(line.code.as_deref()),
                "source" => opt_str(line.source.as_deref()),
                "carrierIdentifier" => opt_str(line.carrier_identifier.as_deref()),
                "originalPriceSet" | "discountedPriceSet" | "currentDiscountedPriceSet" => money(),
                "isRemoved" | "custom" => leaf(false),
                _ => return Err(not_served(parent, field)),
            })
        }
        Obj::Fulfillment(order, fulfillment) => {
            fulfillment_field(shop, order, fulfillment, field, args)
        }
        Obj::TrackingInfo(info) => Ok(match field {
            "company" => opt_str(info.company.as_deref()),
            "number" => opt_str(info.number.as_deref()),
            _ => opt_str(info.url.as_deref()),
        }),
        Obj::FulfillmentLineItem(order, line) => Ok(match field {
            "id" => leaf(gid("FulfillmentLineItem", line.id)),
            "quantity" => leaf(line.quantity),
            "lineItem" => order
                .line_items
                .iter()
                .find(|l| l.id == line.line_item_id)
                .map_or(Out::Null, |l| obj(Obj::LineItem(order, l))),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::Return(order, ret) => return_field(order, ret, field, args),
        Obj::ReturnLineItem(order, line) => Ok(match field {
            "id" => leaf(gid("ReturnLineItem", line.id)),
            "quantity" => leaf(line.quantity),
            "returnReason" => leaf(line.reason.as_str()),
            "returnReasonNote" => leaf(line.reason_note.as_str()),
            "customerNote" => Out::Null,
            "fulfillmentLineItem" => order
                .fulfillments
                .iter()
                .flat_map(|f| &f.lines)
                .find(|l| l.id == line.fulfillment_line_id)
                .map_or(Out::Null, |l| obj(Obj::FulfillmentLineItem(order, l))),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::Refund(order, refund) => Ok(match field {
            "id" => leaf(gid("Refund", refund.id)),
            "note" => opt_str(refund.note.as_deref()),
            "createdAt" => leaf(datetime(refund.created_at)),
            "totalRefundedSet" => obj(Obj::MoneyBag(refund.amount, &order.currency)),
            "refundLineItems" => {
                return id_connection(
                    &refund.lines,
                    |l| l.id,
                    |l| Obj::RefundLineItem(order, l),
                    args,
                    field,
                );
            }
            _ => return Err(not_served(parent, field)),
        }),
        Obj::RefundLineItem(order, line) => Ok(match field {
            "id" => leaf(gid("RefundLineItem", line.id)),
            "quantity" => leaf(line.quantity),
            "restockType" => leaf(line.restock_type.as_str()),
            "subtotalSet" => obj(Obj::MoneyBag(line.subtotal, &order.currency)),
            "lineItem" => order
                .line_items
                .iter()
                .find(|l| l.id == line.line_item_id)
                .map_or(Out::Null, |l| obj(Obj::LineItem(order, l))),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::Transaction(order, refund) => Ok(match (field, refund) {
            ("id", None) => leaf(gid("OrderTransaction", order.id)),
            ("id", Some(r)) => leaf(gid("OrderTransaction", r.transaction_id.unwrap_or(r.id))),
            ("kind", None) => leaf("SALE"),
            ("kind", Some(_)) => leaf("REFUND"),
            ("status", _) => leaf("SUCCESS"),
            ("gateway", _) => leaf("manual"),
            ("amountSet", None) => obj(Obj::MoneyBag(order.received(), &order.currency)),
            ("amountSet", Some(r)) => obj(Obj::MoneyBag(r.amount, &order.currency)),
            ("parentTransaction", None) => Out::Null,
            ("parentTransaction", Some(_)) => obj(Obj::Transaction(order, None)),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::ProductVariant(variant) => variant_field(shop, variant, field),
        Obj::Product(variant) => Ok(match field {
            "id" => leaf(gid("Product", variant.product_id)),
            "legacyResourceId" => leaf(variant.product_id.to_string()),
            "title" => leaf(variant.product_title.as_str()),
            "tags" => leaf(json!(variant.product_tags)),
            "isGiftCard" => leaf(variant.is_gift_card),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::InventoryItemMeasurement(variant) => Ok(match field {
            "id" => leaf(format!(
                "gid://shopify/InventoryItemMeasurement/{}",
                variant.inventory_item_id
            )),
            "weight" => variant.weight.map_or(Out::Null, |w| obj(Obj::Weight(w))),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::Weight(weight) => Ok(match field {
            "unit" => leaf(weight.unit.graphql()),
            "value" => leaf(weight.value),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::InventoryItem(variant) => inventory_item_field(shop, variant, field, args),
        Obj::InventoryLevel(variant, location, quantities, active) => Ok(match field {
            "id" => leaf(format!(
                "gid://shopify/InventoryLevel/{}?inventory_item_id={}",
                location.id, variant.inventory_item_id
            )),
            "isActive" => leaf(*active),
            "item" => obj(Obj::InventoryItem(variant)),
            "location" => obj(Obj::Location(location)),
            "quantities" => {
                let names: Vec<&str> = args
                    .get("names")
                    .and_then(Value::as_array)
                    .map(|n| n.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                list(
                    names
                        .into_iter()
                        .filter_map(|n| quantity(quantities, n))
                        .map(|(n, q)| Obj::InventoryQuantity(n, q)),
                )
            }
            _ => return Err(not_served(parent, field)),
        }),
        Obj::InventoryQuantity(name, value) => Ok(match field {
            "name" => leaf(*name),
            "quantity" => leaf(*value),
            _ => Out::Null,
        }),
        Obj::Location(location) => location_field(shop, location, field, args),
        Obj::LocationAddress(location) => Ok(match field {
            "address1" => leaf(location.address1.as_str()),
            "city" => leaf(location.city.as_str()),
            "zip" => leaf(location.zip.as_str()),
            "countryCode" => leaf(location.country_code.as_str()),
            _ => Out::Null,
        }),
        Obj::Connection(page) => Ok(match field {
            "nodes" => list(page.items.iter().map(|(o, _)| o.clone())),
            "edges" => list(
                page.items
                    .iter()
                    .map(|item| Obj::Edge(Rc::new(item.clone()))),
            ),
            _ => obj(Obj::PageInfo(Rc::new(page.info.clone()))),
        }),
        Obj::Edge(edge) => Ok(match field {
            "cursor" => leaf(edge.1.as_str()),
            _ => obj(edge.0.clone()),
        }),
        Obj::PageInfo(info) => Ok(match field {
            "hasNextPage" => leaf(info.has_next_page),
            "hasPreviousPage" => leaf(info.has_previous_page),
            "startCursor" => opt_str(info.start_cursor.as_deref()),
            _ => opt_str(info.end_cursor.as_deref()),
        }),
        Obj::Count { count, exact } => Ok(match field {
            "count" => leaf(*count),
            _ => leaf(if *exact { "EXACT" } else { "AT_LEAST" }),
        }),
        Obj::Payload(payload) => payload_field(shop, payload, field),
        Obj::UserError(error) => Ok(match field {
            "field" => error.field.as_ref().map_or(Out::Null, |f| leaf(json!(f))),
            "message" => leaf(error.message.as_str()),
            _ => opt_str(error.code),
        }),
        Obj::AdjustmentGroup(group) => Ok(match field {
            "id" => leaf(gid("InventoryAdjustmentGroup", group.id)),
            "createdAt" => leaf(datetime(group.created_at)),
            "reason" => leaf(group.reason.as_str()),
            "referenceDocumentUri" => opt_str(group.reference_document_uri.as_deref()),
            "changes" => list(
                group
                    .changes
                    .iter()
                    .filter(|c| change_selected(c, args))
                    .map(|c| Obj::InventoryChange(c.clone())),
            ),
            _ => return Err(not_served(parent, field)),
        }),
        Obj::InventoryChange(change) => Ok(match field {
            "name" => leaf(change.name),
            "delta" => leaf(change.delta),
            "quantityAfterChange" | "ledgerDocumentUri" => Out::Null,
            "item" => shop
                .variant_of_item(change.item_id)
                .map_or(Out::Null, |v| obj(Obj::InventoryItem(v))),
            _ => shop
                .location(change.location_id)
                .map_or(Out::Null, |l| obj(Obj::Location(l))),
        }),
        Obj::Job(id) => Ok(match field {
            "id" => leaf(id.as_ref()),
            _ => leaf(false),
        }),
    }
}

fn change_selected(change: &InventoryChange, args: &Map<String, Value>) -> bool {
    let contains = |name: &str, wanted: &str| {
        args.get(name)
            .and_then(Value::as_array)
            .is_none_or(|values| values.iter().any(|v| v.as_str() == Some(wanted)))
    };
    contains("inventoryItemIds", &gid("InventoryItem", change.item_id))
        && contains("locationIds", &gid("Location", change.location_id))
        && contains("quantityNames", change.name)
}

/// The quantity called `name` of a level (`committed` is what `available` lacks of `on_hand`).
fn quantity(q: &InventoryQuantities, name: &str) -> Option<(&'static str, i64)> {
    Some(match name {
        "available" => ("available", q.available),
        "on_hand" => ("on_hand", q.on_hand),
        "committed" => ("committed", q.committed()),
        "incoming" => ("incoming", 0),
        "reserved" => ("reserved", 0),
        "damaged" => ("damaged", 0),
        "safety_stock" => ("safety_stock", 0),
        "quality_control" => ("quality_control", 0),
        _ => return None,
    })
}

fn query_root<'s>(
    ex: &mut Executor<'_>,
    shop: &'s Shop,
    field: &str,
    args: &Map<String, Value>,
    key: &str,
) -> Result<Out<'s>, FieldError> {
    let id_arg = arg_str(args, "id");
    Ok(match field {
        "order" => id_arg
            .and_then(|id| parse_gid(id, "Order"))
            .and_then(|id| shop.orders.get(&id))
            .map_or(Out::Null, |o| obj(Obj::Order(o))),
        "orders" => return orders(ex, shop, args, key),
        "ordersCount" => {
            let ids = matching_orders(ex, shop, args, key);
            let limit = args
                .get("limit")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let count = ids.len() as u64;
            obj(Obj::Count {
                count: count.min(limit),
                exact: count <= limit,
            })
        }
        "fulfillment" => id_arg
            .and_then(|id| parse_gid(id, "Fulfillment"))
            .and_then(|id| find_fulfillment(shop, id))
            .map_or(Out::Null, |(o, f)| obj(Obj::Fulfillment(o, f))),
        "fulfillmentOrder" => id_arg
            .and_then(|id| parse_gid(id, "FulfillmentOrder"))
            .and_then(|id| find_fulfillment_order(shop, id))
            .map_or(Out::Null, |(o, fo)| obj(Obj::FulfillmentOrder(o, fo))),
        "location" => match id_arg {
            None => shop
                .primary_location()
                .map_or(Out::Null, |l| obj(Obj::Location(l))),
            Some(id) => parse_gid(id, "Location")
                .and_then(|id| shop.location(id))
                .map_or(Out::Null, |l| obj(Obj::Location(l))),
        },
        "locations" => {
            let include_inactive =
                args.get("includeInactive").and_then(Value::as_bool) == Some(true);
            let terms = search_terms(ex, args, key, &["name", "id", "active"]);
            let by_name = arg_str(args, "sortKey") != Some("ID");
            let items = shop
                .locations
                .iter()
                .filter(|l| include_inactive || l.is_active)
                .filter(|l| terms.iter().all(|t| location_matches(l, t)))
                .map(|l| {
                    let value = if by_name {
                        SortValue::Text(l.name.clone())
                    } else {
                        id_value(l.id)
                    };
                    (value, l.id, Obj::Location(l))
                })
                .collect();
            return connection(items, args, "locations");
        }
        "productVariant" => id_arg
            .and_then(|id| parse_gid(id, "ProductVariant"))
            .and_then(|id| shop.variant(id))
            .map_or(Out::Null, |v| obj(Obj::ProductVariant(v))),
        "productVariants" => {
            let terms = search_terms(
                ex,
                args,
                key,
                &[
                    "sku",
                    "barcode",
                    "id",
                    "product_id",
                    "title",
                    "inventory_item_id",
                    "updated_at",
                    "gift_card",
                ],
            );
            let by_sku = arg_str(args, "sortKey") == Some("SKU");
            let now = ex.now;
            let items = shop
                .variants
                .iter()
                .filter(|v| terms.iter().all(|t| variant_matches(v, t, now)))
                .map(|v| {
                    let value = if by_sku {
                        SortValue::Text(v.sku.clone().unwrap_or_default())
                    } else {
                        id_value(v.id)
                    };
                    (value, v.id, Obj::ProductVariant(v))
                })
                .collect();
            return connection(items, args, "productVariants");
        }
        "inventoryItem" => id_arg
            .and_then(|id| parse_gid(id, "InventoryItem"))
            .and_then(|id| shop.variant_of_item(id))
            .map_or(Out::Null, |v| obj(Obj::InventoryItem(v))),
        "inventoryItems" => {
            let terms = search_terms(ex, args, key, &["sku", "id"]);
            let items = shop
                .variants
                .iter()
                .filter(|v| {
                    terms.iter().all(|t| match t.field.as_deref() {
                        Some("id") => t.compare_number(v.inventory_item_id) != t.negated,
                        _ => variant_matches(v, t, ex.now),
                    })
                })
                .map(|v| {
                    (
                        id_value(v.inventory_item_id),
                        v.inventory_item_id,
                        Obj::InventoryItem(v),
                    )
                })
                .collect();
            return connection(items, args, "inventoryItems");
        }
        "fulfillmentOrders" => return fulfillment_orders(ex, shop, args, key),
        "node" => id_arg.map_or(Out::Null, |id| node(shop, id)),
        _ => return Err(not_served("QueryRoot", field)),
    })
}

/// `node(id:)` for the types the sandbox holds.
fn node<'s>(shop: &'s Shop, id: &str) -> Out<'s> {
    let found = if let Some(n) = parse_gid(id, "Order") {
        shop.orders.get(&n).map(Obj::Order)
    } else if let Some(n) = parse_gid(id, "Refund") {
        shop.orders.values().find_map(|o| {
            o.refunds
                .iter()
                .find(|r| r.id == n)
                .map(|r| Obj::Refund(o, r))
        })
    } else if let Some(n) = parse_gid(id, "Return") {
        shop.orders.values().find_map(|o| {
            o.returns
                .iter()
                .find(|r| r.id == n)
                .map(|r| Obj::Return(o, r))
        })
    } else if let Some(n) = parse_gid(id, "FulfillmentOrder") {
        find_fulfillment_order(shop, n).map(|(o, fo)| Obj::FulfillmentOrder(o, fo))
    } else if let Some(n) = parse_gid(id, "Location") {
        shop.location(n).map(Obj::Location)
    } else if let Some(n) = parse_gid(id, "ProductVariant") {
        shop.variants
            .iter()
            .find(|v| v.id == n)
            .map(Obj::ProductVariant)
    } else if let Some(n) = parse_gid(id, "Product") {
        shop.variants
            .iter()
            .find(|v| v.product_id == n)
            .map(Obj::Product)
    } else if let Some(n) = parse_gid(id, "InventoryItem") {
        shop.variant_of_item(n).map(Obj::InventoryItem)
    } else {
        None
    };
    found.map_or(Out::Null, Out::Obj)
}

pub fn find_fulfillment_order(shop: &Shop, id: u64) -> Option<(&Order, &FulfillmentOrder)> {
    shop.orders.values().find_map(|o| {
        o.fulfillment_orders
            .iter()
            .find(|fo| fo.id == id)
            .map(|fo| (o, fo))
    })
}

fn find_fulfillment(shop: &Shop, id: u64) -> Option<(&Order, &Fulfillment)> {
    shop.orders
        .values()
        .find_map(|o| o.fulfillments.iter().find(|f| f.id == id).map(|f| (o, f)))
}

/// `fulfillmentOrders(query:, includeClosed:, sortKey:)`: every order's fulfillment orders,
/// closed and cancelled ones only with `includeClosed`, filtered by `assigned_location_id`,
/// `status`, `id` and `updated_at`.
fn fulfillment_orders<'s>(
    ex: &mut Executor<'_>,
    shop: &'s Shop,
    args: &Map<String, Value>,
    key: &str,
) -> Result<Out<'s>, FieldError> {
    let include_closed = args.get("includeClosed").and_then(Value::as_bool) == Some(true);
    let terms = search_terms(
        ex,
        args,
        key,
        &["assigned_location_id", "status", "id", "updated_at"],
    );
    let by_update = arg_str(args, "sortKey") == Some("UPDATED_AT");
    let now = ex.now;
    let items = shop
        .orders
        .values()
        .flat_map(|o| o.fulfillment_orders.iter().map(move |fo| (o, fo)))
        .filter(|(_, fo)| include_closed || !fo.status.is_closed())
        .filter(|(_, fo)| terms.iter().all(|t| fulfillment_order_matches(fo, t, now)))
        .map(|(o, fo)| {
            let value = if by_update {
                epoch_ms(fo.updated_at)
            } else {
                id_value(fo.id)
            };
            (value, fo.id, Obj::FulfillmentOrder(o, fo))
        })
        .collect();
    connection(items, args, "fulfillmentOrders")
}

fn fulfillment_order_matches(fo: &FulfillmentOrder, t: &Term, now: DateTime<Utc>) -> bool {
    let hit = match t.field.as_deref() {
        Some("assigned_location_id") => t.compare_number(fo.location_id),
        Some("id") => t.compare_number(fo.id),
        Some("status") => fo.status.graphql().eq_ignore_ascii_case(&t.value),
        Some("updated_at") => {
            crate::shopify::search::time_term_holds(&t.value, t.comparator, fo.updated_at, now)
        }
        // Free text: Shopify searches the order name among other fields.
        _ => false,
    };
    hit != t.negated
}

/// Terms of `args.query` for the simple searches, warning about fields outside `known`.
fn search_terms(
    ex: &mut Executor<'_>,
    args: &Map<String, Value>,
    key: &str,
    known: &[&str],
) -> Vec<Term> {
    let Some(query) = arg_str(args, "query").filter(|q| !q.trim().is_empty()) else {
        return Vec::new();
    };
    let terms = query_string::terms(query);
    let warnings: Vec<SearchWarning> = terms
        .iter()
        .filter_map(|t| t.field.as_deref())
        .filter(|f| !known.contains(f))
        .map(|f| SearchWarning {
            field: f.to_string(),
            message: "Invalid search field for this query.".into(),
            code: "invalid_field".into(),
        })
        .collect();
    report_search(ex, key, query, &warnings);
    terms
        .into_iter()
        .filter(|t| t.field.as_deref().is_none_or(|f| known.contains(&f)))
        .collect()
}

/// Adds an `extensions.search` entry when `warnings` is not empty (Shopify omits it otherwise).
fn report_search(ex: &mut Executor<'_>, key: &str, query: &str, warnings: &[SearchWarning]) {
    if warnings.is_empty() {
        return;
    }
    let warnings: Vec<Value> = warnings
        .iter()
        .map(|w| json!({"field": w.field, "message": w.message, "code": w.code}))
        .collect();
    ex.search.push(json!({
        "path": [key],
        "query": query,
        "parsed": query_string::parsed(query),
        "warnings": warnings,
    }));
}

fn variant_matches(v: &ProductVariant, t: &Term, now: DateTime<Utc>) -> bool {
    let eq = |actual: Option<&str>| actual.is_some_and(|a| a.eq_ignore_ascii_case(&t.value));
    let hit = match t.field.as_deref() {
        Some("sku") => eq(v.sku.as_deref()),
        Some("barcode") => eq(v.barcode.as_deref()),
        Some("id") => t.compare_number(v.id),
        Some("product_id") => t.compare_number(v.product_id),
        Some("inventory_item_id") => t.compare_number(v.inventory_item_id),
        Some("title") => v.title.to_lowercase().contains(&t.value.to_lowercase()),
        Some("updated_at") => {
            crate::shopify::search::time_term_holds(&t.value, t.comparator, v.updated_at, now)
        }
        Some("gift_card") => t.value.eq_ignore_ascii_case(&v.is_gift_card.to_string()),
        _ => {
            let text = t.value.to_lowercase();
            v.sku
                .as_deref()
                .is_some_and(|s| s.to_lowercase().contains(&text))
                || v.product_title.to_lowercase().contains(&text)
                || v.title.to_lowercase().contains(&text)
        }
    };
    hit != t.negated
}

fn location_matches(l: &Location, t: &Term) -> bool {
    let hit = match t.field.as_deref() {
        Some("id") => t.compare_number(l.id),
        Some("active") => (t.value == "true") == l.is_active,
        _ => l.name.to_lowercase().contains(&t.value.to_lowercase()),
    };
    hit != t.negated
}

/// Ids of the orders `args.query` finds (every order without a query), reporting warnings.
fn matching_orders(
    ex: &mut Executor<'_>,
    shop: &Shop,
    args: &Map<String, Value>,
    key: &str,
) -> Vec<u64> {
    match arg_str(args, "query").filter(|q| !q.trim().is_empty()) {
        Some(query) => {
            let search = OrderSearch::parse(query);
            ex.search.extend(search.extension(&[key]));
            // Lock order: the shop (held by the caller), then the index.
            ex.state
                .search_index
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .matching_order_ids(shop, &search, ex.now)
        }
        None => shop.orders.keys().copied().collect(),
    }
}

fn orders<'s>(
    ex: &mut Executor<'_>,
    shop: &'s Shop,
    args: &Map<String, Value>,
    key: &str,
) -> Result<Out<'s>, FieldError> {
    // Argument errors come before the search runs.
    PageArgs::read(args, "orders")?;
    let ids = matching_orders(ex, shop, args, key);
    let sort_key = arg_str(args, "sortKey").unwrap_or("PROCESSED_AT");
    let items = ids
        .iter()
        .filter_map(|id| shop.orders.get(id))
        .map(|o| (order_sort_value(o, sort_key), o.id, Obj::Order(o)))
        .collect();
    connection(items, args, "orders")
}

/// The value `OrderSortKeys` sorts by; cursors carry it as `last_value`.
fn order_sort_value(order: &Order, sort_key: &str) -> SortValue {
    let text = |s: Option<&str>| SortValue::Text(s.unwrap_or_default().to_string());
    match sort_key {
        "PROCESSED_AT" => epoch_ms(order.processed_at),
        "UPDATED_AT" => epoch_ms(order.updated_at),
        "CREATED_AT" => epoch_ms(order.created_at),
        "ORDER_NUMBER" => id_value(order.number),
        "TOTAL_PRICE" | "CURRENT_TOTAL_PRICE" => SortValue::Int(
            (order.total() * Decimal::from(100))
                .trunc()
                .try_into()
                .unwrap_or(0),
        ),
        "TOTAL_ITEMS_QUANTITY" => SortValue::Int(order.line_items.iter().map(|l| l.quantity).sum()),
        "CUSTOMER_NAME" => text(order.customer.as_ref().map(|c| c.display_name()).as_deref()),
        "FINANCIAL_STATUS" => text(order.financial_status.map(FinancialStatus::graphql)),
        "FULFILLMENT_STATUS" => text(Some(order.fulfillment_status.graphql())),
        "DESTINATION" => text(
            order
                .shipping_address
                .as_ref()
                .and_then(|a| a.city.as_deref()),
        ),
        _ => id_value(order.id),
    }
}

fn order_field<'s>(
    shop: &'s Shop,
    order: &'s Order,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Out<'s>, FieldError> {
    let money = |amount: Decimal| obj(Obj::MoneyBag(amount, &order.currency));
    Ok(match field {
        "id" => leaf(order.gid()),
        "legacyResourceId" => leaf(order.id.to_string()),
        "name" => leaf(order.name.as_str()),
        "number" => leaf(order.number),
        "createdAt" => leaf(datetime(order.created_at)),
        "updatedAt" => leaf(datetime(order.updated_at)),
        "processedAt" => leaf(datetime(order.processed_at)),
        "cancelledAt" => opt_time(order.cancelled_at),
        "cancelReason" => opt_str(order.cancel_reason.map(|r| r.graphql())),
        "closed" => leaf(order.closed_at.is_some()),
        "closedAt" => opt_time(order.closed_at),
        "confirmed" => leaf(true),
        "test" => leaf(order.test),
        "displayFinancialStatus" => opt_str(order.financial_status.map(FinancialStatus::graphql)),
        "displayFulfillmentStatus" => leaf(order.fulfillment_status.graphql()),
        "tags" => leaf(json!(order.tags)),
        "note" => opt_str(order.note.as_deref()),
        "email" => opt_str(order.email.as_deref()),
        "phone" => opt_str(order.phone.as_deref()),
        "poNumber" => Out::Null,
        "sourceName" => opt_str(order.source_name.as_deref()),
        "currencyCode" | "presentmentCurrencyCode" => leaf(order.currency.as_str()),
        "returnStatus" => leaf(order.return_status()),
        "requiresShipping" => leaf(order.requires_shipping()),
        "taxesIncluded" => leaf(false),
        "fulfillable" => leaf(order.fulfillment_orders.iter().any(|fo| {
            fo.status.is_fulfillable() && fo.line_items.iter().any(|l| l.remaining_quantity > 0)
        })),
        "subtotalLineItemsQuantity" => {
            leaf(order.line_items.iter().map(|l| l.quantity).sum::<i64>())
        }
        "totalPriceSet" | "currentTotalPriceSet" => money(order.total()),
        "subtotalPriceSet" | "currentSubtotalPriceSet" => money(order.subtotal()),
        "totalShippingPriceSet" => money(order.total_shipping()),
        "totalTaxSet" | "totalDiscountsSet" => money(Decimal::ZERO),
        "customer" => order
            .customer
            .as_ref()
            .map_or(Out::Null, |c| obj(Obj::Customer(c))),
        "shippingAddress" => order
            .shipping_address
            .as_ref()
            .map_or(Out::Null, |a| obj(Obj::MailingAddress(a))),
        "billingAddress" => order
            .billing_address
            .as_ref()
            .map_or(Out::Null, |a| obj(Obj::MailingAddress(a))),
        "shippingLine" => order
            .shipping_lines
            .first()
            .map_or(Out::Null, |l| obj(Obj::ShippingLine(order, l))),
        "shippingLines" => {
            return id_connection(
                &order.shipping_lines,
                |l| l.id,
                |l| Obj::ShippingLine(order, l),
                args,
                field,
            );
        }
        "lineItems" => {
            return id_connection(
                &order.line_items,
                |l| l.id,
                |l| Obj::LineItem(order, l),
                args,
                field,
            );
        }
        "fulfillmentOrders" => {
            return id_connection(
                &order.fulfillment_orders,
                |fo| fo.id,
                |fo| Obj::FulfillmentOrder(order, fo),
                args,
                field,
            );
        }
        "totalReceivedSet" => money(order.received()),
        "totalRefundedSet" => money(order.refunded()),
        "totalRefundedShippingSet" => money(order.refunded_shipping()),
        "refunds" => {
            let first = list_first(args);
            list(
                order
                    .refunds
                    .iter()
                    .take(first)
                    .map(|r| Obj::Refund(order, r)),
            )
        }
        "transactions" => {
            let first = list_first(args);
            let sale = (order.received() > Decimal::ZERO).then_some(Obj::Transaction(order, None));
            let refunds = order
                .refunds
                .iter()
                .filter(|r| r.transaction_id.is_some())
                .map(|r| Obj::Transaction(order, Some(r)));
            list(sale.into_iter().chain(refunds).take(first))
        }
        "returns" => {
            return id_connection(
                &order.returns,
                |r| r.id,
                |r| Obj::Return(order, r),
                args,
                field,
            );
        }
        "fulfillments" => {
            let first = list_first(args);
            list(
                order
                    .fulfillments
                    .iter()
                    .take(first)
                    .map(|f| Obj::Fulfillment(order, f)),
            )
        }
        _ => {
            let _ = shop;
            return Err(not_served("Order", field));
        }
    })
}

fn line_item_field<'s>(
    shop: &'s Shop,
    order: &'s Order,
    line: &'s LineItem,
    field: &str,
) -> Result<Out<'s>, FieldError> {
    let money = |amount: Decimal| obj(Obj::MoneyBag(amount, &order.currency));
    Ok(match field {
        "id" => leaf(gid("LineItem", line.id)),
        "name" => leaf(line.name.as_str()),
        "title" => leaf(line.title.as_str()),
        "variantTitle" => opt_str(line.variant_title.as_deref()),
        "vendor" => opt_str(line.vendor.as_deref()),
        "sku" => opt_str(line.sku.as_deref()),
        "quantity" => leaf(line.quantity),
        "currentQuantity" => leaf(line.current_quantity),
        "unfulfilledQuantity" => leaf(
            order
                .fulfillment_orders
                .iter()
                .filter(|fo| {
                    !matches!(
                        fo.status,
                        FulfillmentOrderStatus::Closed | FulfillmentOrderStatus::Cancelled
                    )
                })
                .flat_map(|fo| &fo.line_items)
                .filter(|l| l.line_item_id == line.id)
                .map(|l| l.remaining_quantity)
                .sum::<i64>(),
        ),
        "requiresShipping" => leaf(line.requires_shipping),
        "isGiftCard" => leaf(line.is_gift_card),
        "variant" => line
            .variant_id
            .and_then(|id| shop.variant(id))
            .map_or(Out::Null, |v| obj(Obj::ProductVariant(v))),
        "product" => line
            .variant_id
            .and_then(|id| shop.variant(id))
            .map_or(Out::Null, |v| obj(Obj::Product(v))),
        // The sandbox has no discounts: every price of a unit is the unit price.
        "originalUnitPriceSet"
        | "discountedUnitPriceSet"
        | "discountedUnitPriceAfterAllDiscountsSet" => money(line.unit_price),
        "refundableQuantity" => leaf(line.quantity - order.refunded_quantity(line.id)),
        "originalTotalSet" => money(line.unit_price * Decimal::from(line.quantity)),
        _ => return Err(not_served("LineItem", field)),
    })
}

fn fulfillment_order_field<'s>(
    shop: &'s Shop,
    order: &'s Order,
    fo: &'s FulfillmentOrder,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "id" => leaf(gid("FulfillmentOrder", fo.id)),
        "status" => leaf(fo.status.graphql()),
        "requestStatus" => leaf(fo.request_status.graphql()),
        "assignedLocation" => obj(Obj::AssignedLocation(shop.location(fo.location_id))),
        "lineItems" => {
            return id_connection(
                &fo.line_items,
                |l| l.id,
                |l| Obj::FulfillmentOrderLineItem(order, l),
                args,
                field,
            );
        }
        "order" => obj(Obj::Order(order)),
        "orderId" => leaf(order.gid()),
        "orderName" => leaf(order.name.as_str()),
        "orderProcessedAt" => leaf(datetime(order.processed_at)),
        "createdAt" => leaf(datetime(fo.created_at)),
        "updatedAt" => leaf(datetime(fo.updated_at)),
        _ => return Err(not_served("FulfillmentOrder", field)),
    })
}

fn fo_line_field<'s>(
    shop: &'s Shop,
    order: &'s Order,
    line: &'s FulfillmentOrderLineItem,
    field: &str,
) -> Result<Out<'s>, FieldError> {
    let order_line = order.line_items.iter().find(|l| l.id == line.line_item_id);
    let variant = order_line
        .and_then(|l| l.variant_id)
        .and_then(|id| shop.variant(id));
    Ok(match field {
        "id" => leaf(gid("FulfillmentOrderLineItem", line.id)),
        "totalQuantity" => leaf(line.total_quantity),
        "remainingQuantity" => leaf(line.remaining_quantity),
        "lineItem" => order_line.map_or(Out::Null, |l| obj(Obj::LineItem(order, l))),
        "sku" => opt_str(order_line.and_then(|l| l.sku.as_deref())),
        "productTitle" => leaf(order_line.map(|l| l.title.as_str()).unwrap_or_default()),
        "variantTitle" => opt_str(order_line.and_then(|l| l.variant_title.as_deref())),
        "vendor" => opt_str(order_line.and_then(|l| l.vendor.as_deref())),
        "requiresShipping" => leaf(order_line.is_some_and(|l| l.requires_shipping)),
        "variant" => variant.map_or(Out::Null, |v| obj(Obj::ProductVariant(v))),
        "inventoryItemId" => variant.map_or(Out::Null, |v| {
            leaf(gid("InventoryItem", v.inventory_item_id))
        }),
        _ => return Err(not_served("FulfillmentOrderLineItem", field)),
    })
}

fn mailing_address_field<'s>(a: &'s MailingAddress, field: &str) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "name" => a.name().map_or(Out::Null, leaf),
        "firstName" => opt_str(a.first_name.as_deref()),
        "lastName" => opt_str(a.last_name.as_deref()),
        "company" => opt_str(a.company.as_deref()),
        "address1" => opt_str(a.address1.as_deref()),
        "address2" => opt_str(a.address2.as_deref()),
        "city" => opt_str(a.city.as_deref()),
        "province" => opt_str(a.province.as_deref()),
        "provinceCode" => opt_str(a.province_code.as_deref()),
        "zip" => opt_str(a.zip.as_deref()),
        "country" => opt_str(a.country.as_deref()),
        "countryCodeV2" => opt_str(a.country_code.as_deref()),
        "phone" => opt_str(a.phone.as_deref()),
        _ => return Err(not_served("MailingAddress", field)),
    })
}

fn return_field<'s>(
    order: &'s Order,
    ret: &'s Return,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "id" => leaf(gid("Return", ret.id)),
        "name" => leaf(ret.name.as_str()),
        "status" => leaf(ret.status.graphql()),
        "createdAt" => leaf(datetime(ret.created_at)),
        "closedAt" => opt_time(ret.closed_at),
        "totalQuantity" => leaf(ret.lines.iter().map(|l| l.quantity).sum::<i64>()),
        "order" => obj(Obj::Order(order)),
        "returnLineItems" => {
            return id_connection(
                &ret.lines,
                |l| l.id,
                |l| Obj::ReturnLineItem(order, l),
                args,
                field,
            );
        }
        _ => return Err(not_served("Return", field)),
    })
}

fn fulfillment_field<'s>(
    shop: &'s Shop,
    order: &'s Order,
    fulfillment: &'s Fulfillment,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "id" => leaf(gid("Fulfillment", fulfillment.id)),
        "legacyResourceId" => leaf(fulfillment.id.to_string()),
        "name" => {
            let index = order
                .fulfillments
                .iter()
                .position(|f| f.id == fulfillment.id)
                .unwrap_or_default();
            leaf(format!("{}.{}", order.name, index + 1))
        }
        "status" => leaf("SUCCESS"),
        "displayStatus" => leaf("FULFILLED"),
        "createdAt" => leaf(datetime(fulfillment.created_at)),
        "updatedAt" => leaf(datetime(fulfillment.updated_at)),
        "requiresShipping" => leaf(true),
        "totalQuantity" => leaf(fulfillment.lines.iter().map(|l| l.quantity).sum::<i64>()),
        "order" => obj(Obj::Order(order)),
        "location" => shop
            .location(fulfillment.location_id)
            .map_or(Out::Null, |l| obj(Obj::Location(l))),
        "trackingInfo" => {
            let first = list_first(args);
            list(
                fulfillment
                    .tracking
                    .iter()
                    .take(first)
                    .map(Obj::TrackingInfo),
            )
        }
        "fulfillmentLineItems" => {
            return id_connection(
                &fulfillment.lines,
                |l| l.id,
                |l| Obj::FulfillmentLineItem(order, l),
                args,
                field,
            );
        }
        _ => return Err(not_served("Fulfillment", field)),
    })
}

fn variant_field<'s>(
    shop: &'s Shop,
    variant: &'s ProductVariant,
    field: &str,
) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "id" => leaf(gid("ProductVariant", variant.id)),
        "legacyResourceId" => leaf(variant.id.to_string()),
        "sku" => opt_str(variant.sku.as_deref()),
        "barcode" => opt_str(variant.barcode.as_deref()),
        "title" => leaf(variant.title.as_str()),
        "displayName" => leaf(format!("{} - {}", variant.product_title, variant.title)),
        // `Money` is a decimal string with two places, unlike `Decimal`.
        "price" => leaf(format!("{:.2}", variant.price)),
        "inventoryItem" => obj(Obj::InventoryItem(variant)),
        "product" => obj(Obj::Product(variant)),
        "createdAt" => leaf(datetime(variant.created_at)),
        "updatedAt" => leaf(datetime(variant.updated_at)),
        "inventoryQuantity" => leaf(
            shop.locations
                .iter()
                .filter_map(|l| shop.stocked_level(variant.inventory_item_id, l.id))
                .map(|q| q.available)
                .sum::<i64>(),
        ),
        _ => return Err(not_served("ProductVariant", field)),
    })
}

fn inventory_item_field<'s>(
    shop: &'s Shop,
    variant: &'s ProductVariant,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Out<'s>, FieldError> {
    let item = variant.inventory_item_id;
    Ok(match field {
        "id" => leaf(gid("InventoryItem", item)),
        "legacyResourceId" => leaf(item.to_string()),
        "sku" => opt_str(variant.sku.as_deref()),
        "tracked" => leaf(variant.tracked),
        "requiresShipping" => leaf(variant.requires_shipping),
        "variant" => obj(Obj::ProductVariant(variant)),
        "unitCost" => variant
            .unit_cost
            .map_or(Out::Null, |cost| obj(Obj::MoneyV2(cost, &shop.currency))),
        "measurement" => obj(Obj::InventoryItemMeasurement(variant)),
        "inventoryLevel" => arg_str(args, "locationId")
            .and_then(|id| parse_gid(id, "Location"))
            .and_then(|id| shop.location(id))
            .and_then(|l| level(shop, variant, l, args))
            .map_or(Out::Null, obj),
        "inventoryLevels" => {
            let items = shop
                .locations
                .iter()
                .filter_map(|l| level(shop, variant, l, args).map(|o| (id_value(l.id), l.id, o)))
                .collect();
            return connection(items, args, field);
        }
        _ => return Err(not_served("InventoryItem", field)),
    })
}

/// The level of `variant`'s item at `location`: `None` when the item was never stocked there,
/// and, unless `args.includeInactive`, when its level there is inactive.
fn level<'s>(
    shop: &'s Shop,
    variant: &'s ProductVariant,
    location: &'s Location,
    args: &Map<String, Value>,
) -> Option<Obj<'s>> {
    let include_inactive = args.get("includeInactive").and_then(Value::as_bool) == Some(true);
    let key = (variant.inventory_item_id, location.id);
    let quantities = *shop.inventory.get(&key)?;
    let active = !shop.inactive_levels.contains(&key);
    (active || include_inactive)
        .then_some(Obj::InventoryLevel(variant, location, quantities, active))
}

fn location_field<'s>(
    shop: &'s Shop,
    location: &'s Location,
    field: &str,
    args: &Map<String, Value>,
) -> Result<Out<'s>, FieldError> {
    Ok(match field {
        "id" => leaf(gid("Location", location.id)),
        "legacyResourceId" => leaf(location.id.to_string()),
        "name" => leaf(location.name.as_str()),
        "isActive" => leaf(location.is_active),
        "isPrimary" => leaf(location.is_primary),
        "fulfillsOnlineOrders" => leaf(true),
        "address" => obj(Obj::LocationAddress(location)),
        "inventoryLevel" => arg_str(args, "inventoryItemId")
            .and_then(|id| parse_gid(id, "InventoryItem"))
            .and_then(|id| shop.variant_of_item(id))
            .and_then(|v| level(shop, v, location, args))
            .map_or(Out::Null, obj),
        _ => return Err(not_served("Location", field)),
    })
}

fn payload_field<'s>(
    shop: &'s Shop,
    payload: &Payload,
    field: &str,
) -> Result<Out<'s>, FieldError> {
    let errors =
        |errors: &[UserErrorData]| list(errors.iter().map(|e| Obj::UserError(Rc::new(e.clone()))));
    let order = |id: Option<u64>| {
        id.and_then(|id| shop.orders.get(&id))
            .map_or(Out::Null, |o| obj(Obj::Order(o)))
    };
    Ok(match (payload, field) {
        (_, "userErrors" | "orderCancelUserErrors") => errors(payload.user_errors()),
        (
            Payload::InventoryActivate {
                level: Some((item, location)),
                ..
            },
            _,
        ) => shop
            .variant_of_item(*item)
            .zip(shop.location(*location))
            .and_then(|(v, l)| {
                let key = (*item, *location);
                shop.inventory.get(&key).map(|q| {
                    obj(Obj::InventoryLevel(
                        v,
                        l,
                        *q,
                        !shop.inactive_levels.contains(&key),
                    ))
                })
            })
            .unwrap_or(Out::Null),
        (Payload::InventoryActivate { .. }, _) => Out::Null,
        (Payload::InventorySet { group, .. }, _) => group
            .as_ref()
            .map_or(Out::Null, |g| obj(Obj::AdjustmentGroup(Rc::new(g.clone())))),
        (
            Payload::FulfillmentCreate {
                fulfillment: Some((order_id, fulfillment_id)),
                ..
            }
            | Payload::FulfillmentTrackingInfoUpdate {
                fulfillment: Some((order_id, fulfillment_id)),
                ..
            },
            _,
        ) => shop
            .orders
            .get(order_id)
            .and_then(|o| {
                o.fulfillments
                    .iter()
                    .find(|f| f.id == *fulfillment_id)
                    .map(|f| obj(Obj::Fulfillment(o, f)))
            })
            .unwrap_or(Out::Null),
        (Payload::FulfillmentCreate { .. } | Payload::FulfillmentTrackingInfoUpdate { .. }, _) => {
            Out::Null
        }
        (
            Payload::ReturnCreate {
                created: Some((order_id, return_id)),
                ..
            },
            _,
        ) => shop
            .orders
            .get(order_id)
            .and_then(|o| {
                o.returns
                    .iter()
                    .find(|r| r.id == *return_id)
                    .map(|r| obj(Obj::Return(o, r)))
            })
            .unwrap_or(Out::Null),
        (Payload::ReturnCreate { .. }, _) => Out::Null,
        (
            Payload::RefundCreate {
                refund: Some((order_id, refund_id)),
                ..
            },
            field,
        ) => shop
            .orders
            .get(order_id)
            .and_then(|o| match field {
                "order" => Some(obj(Obj::Order(o))),
                _ => o
                    .refunds
                    .iter()
                    .find(|r| r.id == *refund_id)
                    .map(|r| obj(Obj::Refund(o, r))),
            })
            .unwrap_or(Out::Null),
        (Payload::RefundCreate { .. }, _) => Out::Null,
        (Payload::TagsAdd { node, .. }, _) => order(*node),
        (Payload::OrderUpdate { order: id, .. }, _) => order(*id),
        (Payload::OrderCancel { job, .. }, _) => job
            .as_ref()
            .map_or(Out::Null, |id| obj(Obj::Job(Rc::from(id.as_str())))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_times_use_shopifys_formats() {
        assert_eq!(decimal(Decimal::new(5500, 2)), "55.0");
        assert_eq!(decimal(Decimal::new(1250, 2)), "12.5");
        assert_eq!(decimal(Decimal::new(94995, 2)), "949.95");
        assert_eq!(decimal(Decimal::ZERO), "0.0");
        let at = DateTime::parse_from_rfc3339("2026-07-02T23:39:19.734+02:00")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(datetime(at), "2026-07-02T21:39:19Z");
    }
}
