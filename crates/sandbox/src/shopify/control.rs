//! The Shopify sandbox's control API under `/sandbox/` (not part of Shopify, never faulted, no
//! auth): create, change, cancel and move orders the way a merchant or a customer would; create
//! inventory items, stock and unstock them and change their `available` the way another app
//! would; read the shop, and tune faults and the search index lag at runtime.
//!
//! Fulfillment orders can be fulfilled by hand (all or some lines, with tracking), closed,
//! cancelled, put on hold, released and moved, and a tag removed, the way a merchant does in the
//! Shopify admin; the note changes with `PATCH /sandbox/orders/{id}` `{"note": …}`.
//!
//! A mutation can be made to refuse its next calls with a user error
//! (`POST /sandbox/refusals`), as Shopify does for reasons a client cannot see beforehand.
//!
//! Orders are read and written in Shopify's REST shape ([`super::rest`]); order answers also
//! carry the order's `fulfillment_orders` (REST `FulfillmentOrder` shape), which Shopify's order
//! payload does not have, so tests can find fulfillment order ids. Errors are
//! `{"error": "<message naming the field>"}` with 400 (not JSON), 404 (unknown id) or 422
//! (refused).

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SubsecRound, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::generator::catalog_weight;
use super::graphql::mutations;
use super::model::{
    CancelReason, FinancialStatus, FulfillmentOrder, FulfillmentOrderLineItem,
    FulfillmentOrderRequestStatus, FulfillmentOrderStatus, FulfillmentStatus, InventoryQuantities,
    MailingAddress, Order, OtherAppChange, ProductVariant, Shop, Weight, WeightUnit, gid,
    parse_gid,
};
use super::rest::{self, Fields};
use super::search::OrderSearch;
use super::webhooks::Topic;
use super::{ChangeError, ShopifyState};
use crate::faults::{self, Faults};

impl FromRef<ShopifyState> for Faults {
    fn from_ref(state: &ShopifyState) -> Faults {
        state.faults.clone()
    }
}

pub fn routes() -> Router<ShopifyState> {
    Router::new()
        .route("/sandbox/orders", get(list_orders).post(create_order))
        .route("/sandbox/orders/{id}", get(get_order).patch(patch_order))
        .route("/sandbox/orders/{id}/cancel", post(cancel_order))
        .route(
            "/sandbox/orders/{id}/tags/{tag}",
            axum::routing::delete(remove_tag),
        )
        .route(
            "/sandbox/fulfillment_orders/{id}/move",
            post(move_fulfillment_order),
        )
        .route(
            "/sandbox/fulfillment_orders/{id}/fulfill",
            post(fulfill_fulfillment_order),
        )
        .route(
            "/sandbox/fulfillment_orders/{id}/{action}",
            post(change_fulfillment_order_status),
        )
        .route(
            "/sandbox/faults",
            get(faults::get_faults).put(faults::put_faults),
        )
        .route("/sandbox/stats", get(stats))
        .route("/sandbox/index_lag", get(get_index_lag).put(put_index_lag))
        .route("/sandbox/locations", get(locations))
        .route("/sandbox/variants", get(variants).post(create_variant))
        .route(
            "/sandbox/variants/{id}",
            axum::routing::patch(patch_variant),
        )
        .route("/sandbox/inventory_items", post(create_inventory_item))
        .route("/sandbox/inventory_items/seed", post(seed_inventory_items))
        .route(
            "/sandbox/inventory_levels/{item}/{location}",
            get(get_inventory_level)
                .put(put_inventory_level)
                .delete(delete_inventory_level),
        )
        .route(
            "/sandbox/inventory_levels/{item}/{location}/other_app",
            post(post_other_app_change),
        )
        .route("/sandbox/webhooks", get(webhook_stats))
        .route(
            "/sandbox/refusals",
            get(list_refusals).post(arm_refusal).delete(clear_refusals),
        )
}

/// Why a control request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

impl From<ChangeError<ControlError>> for ControlError {
    fn from(error: ChangeError<ControlError>) -> Self {
        match error {
            ChangeError::OrderNotFound(id) => ControlError::NotFound(format!("no order {id}")),
            ChangeError::Refused(error) => error,
        }
    }
}

type Answer = Result<Response, ControlError>;

fn body_json(body: &Bytes) -> Result<Value, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ControlError::BadRequest(format!("the body is not valid JSON: {e}")))
}

/// The object itself, or the object inside `{"<wrapper>": {...}}` as Shopify's REST API wraps.
fn unwrap_object<'a>(value: &'a Value, wrapper: &str) -> &'a Value {
    match value.as_object() {
        Some(map) if map.len() == 1 && map.contains_key(wrapper) => &map[wrapper],
        _ => value,
    }
}

fn path_id(raw: &str, kind: &str, what: &str) -> Result<u64, ControlError> {
    raw.parse()
        .ok()
        .or_else(|| parse_gid(raw, kind))
        .ok_or_else(|| ControlError::NotFound(format!("no {what} {raw}")))
}

/// An order's REST JSON plus its fulfillment orders.
pub fn order_json(order: &Order, shop: &Shop) -> Value {
    let mut value = rest::order_to_rest(order, shop);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "fulfillment_orders".into(),
            order
                .fulfillment_orders
                .iter()
                .map(|fo| rest::fulfillment_order_to_rest(order, fo, shop))
                .collect(),
        );
    }
    value
}

fn read_order(state: &ShopifyState, id: u64) -> Answer {
    let shop = state.shop();
    let order = shop
        .orders
        .get(&id)
        .ok_or_else(|| ControlError::NotFound(format!("no order {id}")))?;
    Ok(Json(json!({"order": order_json(order, &shop)})).into_response())
}

#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<String>,
    since_id: Option<String>,
    query: Option<String>,
    as_of: Option<String>,
}

/// `GET /sandbox/orders[?limit=&since_id=&query=&as_of=]`: orders in id order. With `query`,
/// the orders Shopify's lagging search index finds (at `as_of`, an RFC 3339 instant, default
/// now), plus `search: {parsed, warnings}`.
async fn list_orders(
    State(state): State<ShopifyState>,
    Query(params): Query<ListParams>,
) -> Answer {
    let limit = match params.limit.as_deref() {
        None => usize::MAX,
        Some(raw) => raw.parse().map_err(|_| {
            ControlError::Invalid(format!("limit must be a positive integer, got {raw:?}"))
        })?,
    };
    let since_id = match params.since_id.as_deref() {
        None => 0,
        Some(raw) => raw.parse().map_err(|_| {
            ControlError::Invalid(format!("since_id must be an order id, got {raw:?}"))
        })?,
    };
    let at = match params.as_of.as_deref() {
        None => Utc::now(),
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ControlError::Invalid(format!("as_of must be an RFC 3339 timestamp, got {raw:?}"))
            })?,
    };
    let search = params.query.as_deref().map(OrderSearch::parse);
    let shop = state.shop();
    let ids: Vec<u64> = match &search {
        Some(search) => state.search_index().matching_order_ids(&shop, search, at),
        None => shop.orders.keys().copied().collect(),
    };
    let orders: Vec<Value> = ids
        .into_iter()
        .filter(|&id| id > since_id)
        .take(limit)
        .filter_map(|id| shop.orders.get(&id))
        .map(|order| order_json(order, &shop))
        .collect();
    let mut answer = json!({"orders": orders});
    if let Some(search) = search {
        answer["search"] = json!({"parsed": search.parsed(), "warnings": search.warnings()});
    }
    Ok(Json(answer).into_response())
}

/// `GET /sandbox/orders/{id}` → `{"order": {...}}`.
async fn get_order(State(state): State<ShopifyState>, Path(id): Path<String>) -> Answer {
    read_order(&state, path_id(&id, "Order", "order")?)
}

/// `POST /sandbox/orders`: a REST-shaped order (bare or as `{"order": {...}}`) → 201
/// `{"id", "admin_graphql_api_id", "name"}`; webhooks `orders/create` and, when paid,
/// `orders/paid`.
async fn create_order(State(state): State<ShopifyState>, body: Bytes) -> Answer {
    let value = body_json(&body)?;
    let order = {
        let mut shop = state.shop();
        rest::order_from_rest(&value, &mut shop).map_err(ControlError::Invalid)?
    };
    let mut topics = vec![Topic::OrdersCreate];
    if order.financial_status == Some(FinancialStatus::Paid) {
        topics.push(Topic::OrdersPaid);
    }
    let answer = json!({
        "id": order.id,
        "admin_graphql_api_id": order.gid(),
        "name": order.name,
    });
    tracing::info!(order = %order.name, id = order.id, "Sandbox order created.");
    state.insert_order(order, &topics);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// The fields `PATCH /sandbox/orders/{id}` accepts.
const PATCHABLE: [&str; 10] = [
    "financial_status",
    "fulfillment_status",
    "tags",
    "note",
    "email",
    "phone",
    "shipping_address",
    "billing_address",
    "line_items",
    "id",
];

/// A validated `PATCH` body. `Some(None)` clears a field.
#[derive(Debug, Default)]
struct OrderPatch {
    financial_status: Option<Option<FinancialStatus>>,
    hold: Option<FulfillmentStatus>,
    tags: Option<BTreeSet<String>>,
    note: Option<Option<String>>,
    email: Option<Option<String>>,
    phone: Option<Option<String>>,
    shipping_address: Option<Option<MailingAddress>>,
    billing_address: Option<Option<MailingAddress>>,
    /// (position in the body, line item id, new quantity)
    line_quantities: Vec<(usize, u64, i64)>,
}

impl OrderPatch {
    fn parse(value: &Value) -> Result<OrderPatch, String> {
        let o = Fields::new(unwrap_object(value, "order"), "")?;
        if let Some(unknown) = o.keys().find(|k| !PATCHABLE.contains(&k.as_str())) {
            return Err(format!(
                "{unknown} cannot be changed here (patchable: {})",
                PATCHABLE[..9].join(", ")
            ));
        }
        let mut patch = OrderPatch::default();
        if o.has("financial_status") {
            patch.financial_status = Some(match o.string("financial_status")? {
                None => None,
                Some(s) => Some(FinancialStatus::from_rest(&s).ok_or_else(|| {
                    format!(
                        "financial_status must be one of {}, got {s:?}",
                        FinancialStatus::ALL.map(FinancialStatus::rest).join(", ")
                    )
                })?),
            });
        }
        if let Some(s) = o.string("fulfillment_status")? {
            patch.hold = Some(match s.as_str() {
                "on_hold" => FulfillmentStatus::OnHold,
                "scheduled" => FulfillmentStatus::Scheduled,
                "request_declined" => FulfillmentStatus::RequestDeclined,
                "unfulfilled" => FulfillmentStatus::Unfulfilled,
                _ => {
                    return Err(format!(
                        "fulfillment_status must be on_hold, scheduled, request_declined or unfulfilled (to release a hold), got {s:?}; fulfil through GraphQL fulfillmentCreate"
                    ));
                }
            });
        }
        if o.has("tags") {
            patch.tags = Some(o.tags("tags")?.unwrap_or_default());
        }
        for (key, slot) in [
            ("note", &mut patch.note),
            ("email", &mut patch.email),
            ("phone", &mut patch.phone),
        ] {
            if o.has(key) {
                *slot = Some(o.string(key)?);
            }
        }
        for (key, slot) in [
            ("shipping_address", &mut patch.shipping_address),
            ("billing_address", &mut patch.billing_address),
        ] {
            if o.has(key) {
                *slot = Some(match o.object(key)? {
                    Some(fields) => Some(rest::address_from_rest(&fields)?),
                    None => None,
                });
            }
        }
        for (i, value) in o.array("line_items")?.into_iter().flatten().enumerate() {
            let l = Fields::new(value, &format!("line_items[{i}]"))?;
            let id = l
                .id("id")?
                .ok_or_else(|| format!("{} is required", l.field("id")))?;
            let quantity = match l.integer("quantity")? {
                Some(q) if q >= 0 => q,
                _ => {
                    return Err(format!(
                        "{} must be a non-negative integer",
                        l.field("quantity")
                    ));
                }
            };
            patch.line_quantities.push((i, id, quantity));
        }
        Ok(patch)
    }
}

fn is_unfinished(status: FulfillmentOrderStatus) -> bool {
    matches!(
        status,
        FulfillmentOrderStatus::Open
            | FulfillmentOrderStatus::InProgress
            | FulfillmentOrderStatus::OnHold
            | FulfillmentOrderStatus::Scheduled
    )
}

/// Checks a patch against the order before anything changes.
fn validate_patch(order: &Order, patch: &OrderPatch) -> Result<(), ControlError> {
    let cancelled = order.cancelled_at.is_some();
    if cancelled && (!patch.line_quantities.is_empty() || patch.hold.is_some()) {
        let field = if patch.hold.is_some() {
            "fulfillment_status"
        } else {
            "line_items"
        };
        return Err(ControlError::Invalid(format!(
            "{field}: order {} is cancelled",
            order.name
        )));
    }
    for &(i, id, quantity) in &patch.line_quantities {
        if !order.line_items.iter().any(|l| l.id == id) {
            return Err(ControlError::Invalid(format!(
                "line_items[{i}].id: no line item {id} in order {}",
                order.name
            )));
        }
        let fulfilled = order.fulfilled_quantity(id);
        if quantity < fulfilled {
            return Err(ControlError::Invalid(format!(
                "line_items[{i}].quantity: {fulfilled} units of line item {id} are already fulfilled"
            )));
        }
    }
    if let Some(hold) = patch.hold {
        let wanted = match hold {
            FulfillmentStatus::OnHold | FulfillmentStatus::Scheduled => {
                FulfillmentOrderStatus::Open
            }
            _ => FulfillmentOrderStatus::OnHold,
        };
        let any = order.fulfillment_orders.iter().any(|fo| {
            fo.status == wanted
                || (hold == FulfillmentStatus::Unfulfilled
                    && fo.status == FulfillmentOrderStatus::Scheduled)
                || hold == FulfillmentStatus::RequestDeclined
        });
        if !any {
            return Err(ControlError::Invalid(format!(
                "fulfillment_status: order {} has no fulfillment order in a state to change",
                order.name
            )));
        }
    }
    Ok(())
}

/// Sets line item `line_id` to `quantity` units and makes the fulfillment orders follow: more
/// units join the line's unfinished fulfillment order (or a new one at the order's last
/// location), fewer units leave them.
fn set_line_quantity(
    order: &mut Order,
    shop: &mut Shop,
    line_id: u64,
    quantity: i64,
    now: DateTime<Utc>,
) {
    let Some(line) = order.line_items.iter_mut().find(|l| l.id == line_id) else {
        return;
    };
    let delta = quantity - line.current_quantity;
    line.current_quantity = quantity;
    line.quantity = line.quantity.max(quantity);
    if !line.requires_shipping || delta == 0 {
        return;
    }
    if delta > 0 {
        let grown = order
            .fulfillment_orders
            .iter_mut()
            .filter(|fo| is_unfinished(fo.status))
            .find_map(|fo| {
                let fo_line = fo
                    .line_items
                    .iter_mut()
                    .find(|l| l.line_item_id == line_id)?;
                fo_line.total_quantity += delta;
                fo_line.remaining_quantity += delta;
                fo.updated_at = now;
                Some(())
            });
        if grown.is_some() {
            return;
        }
        let new_line = FulfillmentOrderLineItem {
            id: shop.allocate_id(),
            line_item_id: line_id,
            total_quantity: delta,
            remaining_quantity: delta,
        };
        if let Some(fo) = order
            .fulfillment_orders
            .iter_mut()
            .find(|fo| is_unfinished(fo.status))
        {
            fo.line_items.push(new_line);
            fo.updated_at = now;
        } else {
            let location_id = order
                .fulfillment_orders
                .last()
                .map(|fo| fo.location_id)
                .or_else(|| shop.primary_location().map(|l| l.id))
                .unwrap_or_default();
            order.fulfillment_orders.push(FulfillmentOrder {
                id: shop.allocate_id(),
                status: FulfillmentOrderStatus::Open,
                request_status: FulfillmentOrderRequestStatus::Unsubmitted,
                location_id,
                line_items: vec![new_line],
                created_at: now,
                updated_at: now,
            });
        }
    } else {
        let mut take = -delta;
        for fo in order
            .fulfillment_orders
            .iter_mut()
            .filter(|fo| is_unfinished(fo.status))
        {
            for fo_line in fo
                .line_items
                .iter_mut()
                .filter(|l| l.line_item_id == line_id)
            {
                let removed = fo_line.remaining_quantity.min(take);
                fo_line.remaining_quantity -= removed;
                fo_line.total_quantity -= removed;
                take -= removed;
                fo.updated_at = now;
            }
            if fo.line_items.iter().all(|l| l.remaining_quantity == 0) {
                fo.status = FulfillmentOrderStatus::Closed;
            }
        }
    }
}

fn apply_hold(order: &mut Order, hold: FulfillmentStatus, now: DateTime<Utc>) {
    for fo in &mut order.fulfillment_orders {
        let next = match (hold, fo.status) {
            (FulfillmentStatus::OnHold, FulfillmentOrderStatus::Open) => {
                FulfillmentOrderStatus::OnHold
            }
            (FulfillmentStatus::Scheduled, FulfillmentOrderStatus::Open) => {
                FulfillmentOrderStatus::Scheduled
            }
            (
                FulfillmentStatus::Unfulfilled,
                FulfillmentOrderStatus::OnHold | FulfillmentOrderStatus::Scheduled,
            ) => FulfillmentOrderStatus::Open,
            _ => continue,
        };
        fo.status = next;
        fo.updated_at = now;
    }
    order.fulfillment_status = hold;
}

/// `PATCH /sandbox/orders/{id}`: changes `financial_status`, `fulfillment_status` (holds only),
/// `tags`, `note`, `email`, `phone`, `shipping_address`, `billing_address` and line quantities
/// (`line_items: [{id, quantity}]`, fulfillment orders follow). Webhooks `orders/updated`, plus
/// `orders/paid` when the order became paid.
async fn patch_order(
    State(state): State<ShopifyState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let id = path_id(&id, "Order", "order")?;
    let patch = OrderPatch::parse(&body_json(&body)?).map_err(ControlError::Invalid)?;
    let now = Utc::now().trunc_subsecs(0);
    state.change_order_announcing(id, |shop, id| {
        let order = shop
            .orders
            .get(&id)
            .ok_or_else(|| ControlError::NotFound(format!("no order {id}")))?;
        validate_patch(order, &patch)?;
        let Some(mut order) = shop.orders.remove(&id) else {
            return Err(ControlError::NotFound(format!("no order {id}")));
        };
        let mut topics = vec![Topic::OrdersUpdated];
        if let Some(status) = patch.financial_status {
            if status == Some(FinancialStatus::Paid)
                && order.financial_status != Some(FinancialStatus::Paid)
            {
                topics.push(Topic::OrdersPaid);
            }
            order.financial_status = status;
        }
        if let Some(tags) = patch.tags {
            order.tags = tags;
        }
        if let Some(note) = patch.note {
            order.note = note;
        }
        if let Some(email) = patch.email {
            order.email = email;
        }
        if let Some(phone) = patch.phone {
            order.phone = phone;
        }
        if let Some(address) = patch.shipping_address {
            order.shipping_address = address;
        }
        if let Some(address) = patch.billing_address {
            order.billing_address = address;
        }
        for &(_, line_id, quantity) in &patch.line_quantities {
            set_line_quantity(&mut order, shop, line_id, quantity, now);
        }
        if let Some(hold) = patch.hold {
            apply_hold(&mut order, hold, now);
        }
        order.refresh_fulfillment_status();
        shop.orders.insert(id, order);
        Ok(((), topics))
    })?;
    read_order(&state, id)
}

/// `POST /sandbox/orders/{id}/cancel` with an optional
/// `{"reason": "customer", "refund": true, "restock": false}` (reason default `other`, restock
/// default `true`): cancels now, closes the fulfillment orders, returns their committed units to
/// `available` (or, without restock, takes them off `on_hand`), refunds a paid order when asked;
/// webhook `orders/cancelled`.
async fn cancel_order(
    State(state): State<ShopifyState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let id = path_id(&id, "Order", "order")?;
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let reason = match fields.string("reason").map_err(ControlError::Invalid)? {
        None => CancelReason::Other,
        Some(raw) => CancelReason::from_rest(&raw).ok_or_else(|| {
            ControlError::Invalid(format!(
                "reason must be one of customer, declined, fraud, inventory, other, staff, got {raw:?}"
            ))
        })?,
    };
    let refund = fields
        .boolean("refund")
        .map_err(ControlError::Invalid)?
        .unwrap_or(false);
    let restock = fields
        .boolean("restock")
        .map_err(ControlError::Invalid)?
        .unwrap_or(true);
    let now = Utc::now().trunc_subsecs(0);
    state.change_order_restocking(id, restock, |shop, id| {
        let order = shop
            .orders
            .get_mut(&id)
            .ok_or_else(|| ControlError::NotFound(format!("no order {id}")))?;
        if order.cancelled_at.is_some() {
            return Err(ControlError::Invalid(
                "Cannot cancel an order that has already been canceled".into(),
            ));
        }
        if refund
            && matches!(
                order.financial_status,
                Some(FinancialStatus::Paid | FinancialStatus::PartiallyPaid)
            )
        {
            order.financial_status = Some(FinancialStatus::Refunded);
        }
        order.apply_cancellation(reason, now);
        order.refresh_fulfillment_status();
        Ok(((), vec![Topic::OrdersCancelled]))
    })?;
    tracing::info!(id, reason = reason.graphql(), "Sandbox order cancelled.");
    read_order(&state, id)
}

/// `POST /sandbox/fulfillment_orders/{id}/move` with `{"location_id": N}` and optionally
/// `"line_items": [{"id": <fulfillment order line id>, "quantity": q}]`: like Shopify's
/// `fulfillmentOrderMove`, an untouched fulfillment order moves as a whole; otherwise the units
/// still to fulfil (or the listed ones) move to a new fulfillment order at the location and the
/// original keeps the rest. Answers `{"original_fulfillment_order", "moved_fulfillment_order"}`;
/// webhook `orders/updated`.
async fn move_fulfillment_order(
    State(state): State<ShopifyState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let fo_id = path_id(&id, "FulfillmentOrder", "fulfillment order")?;
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let location_id = fields
        .id("location_id")
        .map_err(ControlError::Invalid)?
        .ok_or_else(|| ControlError::Invalid("location_id is required".into()))?;
    let mut wanted: Vec<(usize, u64, i64)> = Vec::new();
    for (i, value) in fields
        .array("line_items")
        .map_err(ControlError::Invalid)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let l = Fields::new(value, &format!("line_items[{i}]")).map_err(ControlError::Invalid)?;
        let id = l
            .id("id")
            .map_err(ControlError::Invalid)?
            .ok_or_else(|| ControlError::Invalid(format!("{} is required", l.field("id"))))?;
        let quantity = l
            .positive_integer("quantity")
            .map_err(ControlError::Invalid)?
            .ok_or_else(|| {
                ControlError::Invalid(format!(
                    "{} must be a positive integer",
                    l.field("quantity")
                ))
            })?;
        wanted.push((i, id, quantity));
    }
    let order_id = {
        let shop = state.shop();
        if shop.location(location_id).is_none() {
            return Err(ControlError::Invalid(format!(
                "location_id: no location {location_id}"
            )));
        }
        shop.orders
            .values()
            .find(|o| o.fulfillment_orders.iter().any(|fo| fo.id == fo_id))
            .map(|o| o.id)
            .ok_or_else(|| ControlError::NotFound(format!("no fulfillment order {fo_id}")))?
    };
    let now = Utc::now().trunc_subsecs(0);
    let moved_id = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, order_id| {
        move_lines(shop, order_id, fo_id, location_id, &wanted, now)
    })?;
    let shop = state.shop();
    let order = shop
        .orders
        .get(&order_id)
        .ok_or_else(|| ControlError::NotFound(format!("no order {order_id}")))?;
    let fo_json = |id: u64| {
        order
            .fulfillment_orders
            .iter()
            .find(|fo| fo.id == id)
            .map_or(Value::Null, |fo| {
                rest::fulfillment_order_to_rest(order, fo, &shop)
            })
    };
    Ok(Json(json!({
        "original_fulfillment_order": fo_json(fo_id),
        "moved_fulfillment_order": fo_json(moved_id),
    }))
    .into_response())
}

/// Moves fulfillment order `fo_id` (or the `wanted` lines of it) to `location_id`; returns the
/// id of the fulfillment order now at the location.
fn move_lines(
    shop: &mut Shop,
    order_id: u64,
    fo_id: u64,
    location_id: u64,
    wanted: &[(usize, u64, i64)],
    now: DateTime<Utc>,
) -> Result<u64, ControlError> {
    // The order leaves the map while it changes, so new ids can be taken from the shop.
    let mut order = shop
        .orders
        .remove(&order_id)
        .ok_or_else(|| ControlError::NotFound(format!("no order {order_id}")))?;
    let moved = move_lines_of(&mut order, shop, fo_id, location_id, wanted, now);
    shop.orders.insert(order_id, order);
    moved
}

fn move_lines_of(
    order: &mut Order,
    shop: &mut Shop,
    fo_id: u64,
    location_id: u64,
    wanted: &[(usize, u64, i64)],
    now: DateTime<Utc>,
) -> Result<u64, ControlError> {
    let fo = order
        .fulfillment_orders
        .iter_mut()
        .find(|fo| fo.id == fo_id)
        .ok_or_else(|| ControlError::NotFound(format!("no fulfillment order {fo_id}")))?;
    if !is_unfinished(fo.status) {
        return Err(ControlError::Invalid(format!(
            "fulfillment order {fo_id} is {} and cannot be moved",
            fo.status.graphql().to_ascii_lowercase()
        )));
    }
    if fo.location_id == location_id {
        return Err(ControlError::Invalid(format!(
            "location_id: fulfillment order {fo_id} is already at location {location_id}"
        )));
    }
    for &(i, line_id, quantity) in wanted {
        let fo_line = fo
            .line_items
            .iter()
            .find(|l| l.id == line_id)
            .ok_or_else(|| {
                ControlError::Invalid(format!(
                    "line_items[{i}].id: no line {line_id} in fulfillment order {fo_id}"
                ))
            })?;
        if quantity > fo_line.remaining_quantity {
            return Err(ControlError::Invalid(format!(
                "line_items[{i}].quantity: only {} units of line {line_id} are left to move",
                fo_line.remaining_quantity
            )));
        }
    }
    let untouched = fo
        .line_items
        .iter()
        .all(|l| l.remaining_quantity == l.total_quantity);
    if wanted.is_empty() && untouched {
        fo.location_id = location_id;
        fo.updated_at = now;
        return Ok(fo_id);
    }
    let moving: Vec<(u64, u64, i64)> = fo
        .line_items
        .iter()
        .map(|l| {
            let quantity = if wanted.is_empty() {
                l.remaining_quantity
            } else {
                wanted
                    .iter()
                    .filter(|(_, id, _)| *id == l.id)
                    .map(|(_, _, q)| q)
                    .sum()
            };
            (l.id, l.line_item_id, quantity.min(l.remaining_quantity))
        })
        .filter(|&(_, _, q)| q > 0)
        .collect();
    if moving.is_empty() {
        return Err(ControlError::Invalid(format!(
            "fulfillment order {fo_id} has nothing left to move"
        )));
    }
    for fo_line in &mut fo.line_items {
        if let Some((_, _, q)) = moving.iter().find(|(id, _, _)| *id == fo_line.id) {
            fo_line.total_quantity -= q;
            fo_line.remaining_quantity -= q;
        }
    }
    fo.line_items.retain(|l| l.total_quantity > 0);
    if fo.line_items.iter().all(|l| l.remaining_quantity == 0) {
        fo.status = FulfillmentOrderStatus::Closed;
    }
    fo.updated_at = now;
    let moved = FulfillmentOrder {
        id: shop.allocate_id(),
        status: FulfillmentOrderStatus::Open,
        request_status: FulfillmentOrderRequestStatus::Unsubmitted,
        location_id,
        line_items: moving
            .into_iter()
            .map(|(_, line_item_id, q)| FulfillmentOrderLineItem {
                id: shop.allocate_id(),
                line_item_id,
                total_quantity: q,
                remaining_quantity: q,
            })
            .collect(),
        created_at: now,
        updated_at: now,
    };
    let moved_id = moved.id;
    order.fulfillment_orders.push(moved);
    order.refresh_fulfillment_status();
    Ok(moved_id)
}

/// The order holding fulfillment order `fo_id`.
fn order_of_fulfillment_order(state: &ShopifyState, fo_id: u64) -> Result<u64, ControlError> {
    state
        .shop()
        .orders
        .values()
        .find(|o| o.fulfillment_orders.iter().any(|fo| fo.id == fo_id))
        .map(|o| o.id)
        .ok_or_else(|| ControlError::NotFound(format!("no fulfillment order {fo_id}")))
}

/// The keys of `FulfillmentTrackingInput`, which the `tracking` of a fulfilment by hand takes.
const TRACKING_KEYS: [&str; 5] = ["company", "number", "numbers", "url", "urls"];

/// `POST /sandbox/fulfillment_orders/{id}/fulfill` with optionally
/// `"line_items": [{"id": <fulfillment order line id>, "quantity": q}]` (default: every unit
/// still to fulfil) and `"tracking": {"company", "number", "url"}` (or `numbers`, `urls`): the
/// merchant marks items fulfilled in the admin. Same rules and refusals (422, with Shopify's
/// `fulfillmentCreate` message) as the mutation; the committed units leave `on_hand`. Answers 201
/// `{"fulfillment_id", "admin_graphql_api_id", "order"}`; webhook `orders/updated`.
async fn fulfill_fulfillment_order(
    State(state): State<ShopifyState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let fo_id = path_id(&id, "FulfillmentOrder", "fulfillment order")?;
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let mut lines = Vec::new();
    for (i, value) in fields
        .array("line_items")
        .map_err(ControlError::Invalid)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let l = Fields::new(value, &format!("line_items[{i}]")).map_err(ControlError::Invalid)?;
        let line_id = l
            .id("id")
            .map_err(ControlError::Invalid)?
            .ok_or_else(|| ControlError::Invalid(format!("{} is required", l.field("id"))))?;
        let quantity = l
            .positive_integer("quantity")
            .map_err(ControlError::Invalid)?
            .ok_or_else(|| {
                ControlError::Invalid(format!(
                    "{} must be a positive integer",
                    l.field("quantity")
                ))
            })?;
        lines.push((line_id, quantity));
    }
    let tracking = match fields.object("tracking").map_err(ControlError::Invalid)? {
        None => Vec::new(),
        Some(t) => {
            if let Some(unknown) = t.keys().find(|k| !TRACKING_KEYS.contains(&k.as_str())) {
                return Err(ControlError::Invalid(format!(
                    "tracking.{unknown} is not a tracking field (known: {})",
                    TRACKING_KEYS.join(", ")
                )));
            }
            mutations::tracking_infos(fields.get("tracking"))
        }
    };
    let request = mutations::FulfillmentRequest {
        fulfillment_order_id: fo_id,
        lines: (!lines.is_empty()).then_some(lines),
    };
    let order_id = order_of_fulfillment_order(&state, fo_id)?;
    let now = Utc::now().trunc_subsecs(0);
    let fulfillment_id = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        mutations::apply_fulfillment(shop, id, std::slice::from_ref(&request), tracking, now)
            .map_err(|e| ControlError::Invalid(e.message))
    })?;
    let shop = state.shop();
    let order = shop
        .orders
        .get(&order_id)
        .ok_or_else(|| ControlError::NotFound(format!("no order {order_id}")))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "fulfillment_id": fulfillment_id,
            "admin_graphql_api_id": gid("Fulfillment", fulfillment_id),
            "order": order_json(order, &shop),
        })),
    )
        .into_response())
}

/// `POST /sandbox/fulfillment_orders/{id}/{action}` with `action` one of `close`, `cancel`,
/// `hold`, `release_hold` (no body): what a merchant (or an order edit) does to a fulfillment
/// order in the admin. `close` → `CLOSED` and `cancel` → `CANCELLED` from any unfinished state,
/// releasing the units still committed back to `available`; `hold` puts an `OPEN` or
/// `IN_PROGRESS` one `ON_HOLD` (the order shows `ON_HOLD` while nothing is fulfilled and every
/// unfinished fulfillment order is held), `release_hold` returns it to `OPEN`, or `IN_PROGRESS`
/// when part of it was fulfilled. 422 for a fulfillment order in another state. Answers
/// `{"fulfillment_order"}`; webhook `orders/updated`.
async fn change_fulfillment_order_status(
    State(state): State<ShopifyState>,
    Path((id, action)): Path<(String, String)>,
) -> Answer {
    let fo_id = path_id(&id, "FulfillmentOrder", "fulfillment order")?;
    let action = match action.as_str() {
        "close" | "cancel" | "hold" | "release_hold" => action,
        other => {
            return Err(ControlError::NotFound(format!(
                "no fulfillment order action {other:?} (close, cancel, hold, release_hold, fulfill, move)"
            )));
        }
    };
    let order_id = order_of_fulfillment_order(&state, fo_id)?;
    let now = Utc::now().trunc_subsecs(0);
    state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        let order = shop
            .orders
            .get_mut(&id)
            .ok_or_else(|| ControlError::NotFound(format!("no order {id}")))?;
        set_fulfillment_order_status(order, fo_id, &action, now)
    })?;
    let shop = state.shop();
    let order = shop
        .orders
        .get(&order_id)
        .ok_or_else(|| ControlError::NotFound(format!("no order {order_id}")))?;
    let fo = order
        .fulfillment_orders
        .iter()
        .find(|fo| fo.id == fo_id)
        .map_or(Value::Null, |fo| {
            rest::fulfillment_order_to_rest(order, fo, &shop)
        });
    Ok(Json(json!({"fulfillment_order": fo})).into_response())
}

fn set_fulfillment_order_status(
    order: &mut Order,
    fo_id: u64,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), ControlError> {
    let fo = order
        .fulfillment_orders
        .iter_mut()
        .find(|fo| fo.id == fo_id)
        .ok_or_else(|| ControlError::NotFound(format!("no fulfillment order {fo_id}")))?;
    let refuse = |status: FulfillmentOrderStatus| {
        ControlError::Invalid(format!(
            "fulfillment order {fo_id} is {} and cannot be {}",
            status.graphql().to_ascii_lowercase(),
            match action {
                "close" => "closed",
                "cancel" => "cancelled",
                "hold" => "put on hold",
                _ => "released from a hold",
            }
        ))
    };
    let partly_fulfilled = fo
        .line_items
        .iter()
        .any(|l| l.remaining_quantity < l.total_quantity);
    fo.status = match (action, fo.status) {
        ("close", s) if is_unfinished(s) => FulfillmentOrderStatus::Closed,
        ("cancel", s) if is_unfinished(s) => FulfillmentOrderStatus::Cancelled,
        ("hold", FulfillmentOrderStatus::Open | FulfillmentOrderStatus::InProgress) => {
            FulfillmentOrderStatus::OnHold
        }
        ("release_hold", FulfillmentOrderStatus::OnHold) if partly_fulfilled => {
            FulfillmentOrderStatus::InProgress
        }
        ("release_hold", FulfillmentOrderStatus::OnHold) => FulfillmentOrderStatus::Open,
        (_, s) => return Err(refuse(s)),
    };
    fo.updated_at = now;
    let all_held = order
        .fulfillment_orders
        .iter()
        .filter(|fo| is_unfinished(fo.status))
        .all(|fo| fo.status == FulfillmentOrderStatus::OnHold);
    if action == "hold" && all_held {
        order.fulfillment_status = FulfillmentStatus::OnHold;
    } else if order.fulfillment_status == FulfillmentStatus::OnHold && !all_held {
        order.fulfillment_status = FulfillmentStatus::Unfulfilled;
    }
    order.refresh_fulfillment_status();
    Ok(())
}

/// `DELETE /sandbox/orders/{id}/tags/{tag}` (the tag URL-encoded): the merchant removes a tag.
/// Removing a tag the order does not carry changes nothing (like Shopify's `tagsRemove`).
/// Answers the order; webhook `orders/updated` when a tag went.
async fn remove_tag(
    State(state): State<ShopifyState>,
    Path((id, tag)): Path<(String, String)>,
) -> Answer {
    let id = path_id(&id, "Order", "order")?;
    let carried = state
        .shop()
        .orders
        .get(&id)
        .map(|o| o.tags.contains(&tag))
        .ok_or_else(|| ControlError::NotFound(format!("no order {id}")))?;
    if carried {
        state.change_order(id, &[Topic::OrdersUpdated], |shop, id| {
            if let Some(order) = shop.orders.get_mut(&id) {
                order.tags.remove(&tag);
            }
            Ok::<(), ControlError>(())
        })?;
    }
    read_order(&state, id)
}

/// `GET /sandbox/stats`.
async fn stats(State(state): State<ShopifyState>) -> Response {
    Json(state.stats.snapshot()).into_response()
}

/// `GET /sandbox/index_lag` → `{"seconds": f64}`.
async fn get_index_lag(State(state): State<ShopifyState>) -> Response {
    Json(json!({"seconds": state.index_lag().as_secs_f64()})).into_response()
}

/// `PUT /sandbox/index_lag` with `{"seconds": f64}`: changes written from now on show up in
/// searches this long after.
async fn put_index_lag(State(state): State<ShopifyState>, body: Bytes) -> Answer {
    let value = body_json(&body)?;
    let seconds = value
        .get("seconds")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .ok_or_else(|| ControlError::Invalid("seconds must be a non-negative number".into()))?;
    state.set_index_lag(Duration::from_secs_f64(seconds));
    Ok(Json(json!({"seconds": seconds})).into_response())
}

/// `POST /sandbox/refusals` with `{"mutation": "fulfillmentCreate", "message": "…", "count": 1}`
/// (`count` 1 by default): the next `count` calls of the mutation answer the message as a user
/// error and change nothing. Answers the refusals armed.
async fn arm_refusal(State(state): State<ShopifyState>, body: Bytes) -> Answer {
    let value = body_json(&body)?;
    let mutation = value
        .get("mutation")
        .and_then(Value::as_str)
        .filter(|m| mutations::REFUSABLE.contains(m))
        .ok_or_else(|| {
            ControlError::Invalid(format!(
                "mutation must be one of {}",
                mutations::REFUSABLE.join(", ")
            ))
        })?;
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ControlError::Invalid("message is required".into()))?;
    let count = match value.get("count") {
        None => 1,
        Some(count) => count
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| *c > 0)
            .ok_or_else(|| ControlError::Invalid("count must be a positive integer".into()))?,
    };
    state
        .refusals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .arm(mutations::Refusal {
            mutation: mutation.to_string(),
            message: message.to_string(),
            count,
        });
    Ok(list_refusals(State(state)).await)
}

/// `GET /sandbox/refusals` → `{"refusals": [{"mutation", "message", "count"}]}`, the calls
/// still to refuse.
async fn list_refusals(State(state): State<ShopifyState>) -> Response {
    let refusals = state.refusals.lock().unwrap_or_else(|p| p.into_inner());
    let armed: Vec<Value> = refusals
        .armed()
        .iter()
        .map(|r| json!({"mutation": r.mutation, "message": r.message, "count": r.count}))
        .collect();
    Json(json!({"refusals": armed})).into_response()
}

/// `DELETE /sandbox/refusals`: nothing refused any more.
async fn clear_refusals(State(state): State<ShopifyState>) -> Response {
    state
        .refusals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    list_refusals(State(state)).await
}

/// `GET /sandbox/locations` → `{"locations": [...]}`.
async fn locations(State(state): State<ShopifyState>) -> Response {
    let shop = state.shop();
    let locations: Vec<Value> = shop.locations.iter().map(rest::location_to_rest).collect();
    Json(json!({"locations": locations})).into_response()
}

/// `GET /sandbox/variants` → `{"variants": [...]}` with inventory levels.
async fn variants(State(state): State<ShopifyState>) -> Response {
    let shop = state.shop();
    let variants: Vec<Value> = shop
        .variants
        .iter()
        .map(|v| rest::variant_to_rest(v, &shop))
        .collect();
    Json(json!({"variants": variants})).into_response()
}

/// `GET /sandbox/webhooks` → the sender's counters, or `{"configured": false}`.
async fn webhook_stats(State(state): State<ShopifyState>) -> Response {
    match &state.webhooks {
        Some(sender) => Json(json!({"configured": true, "stats": sender.stats()})).into_response(),
        None => Json(json!({"configured": false})).into_response(),
    }
}

/// The largest `count` `POST /sandbox/inventory_items/seed` accepts in one call.
const MAX_SEED: i64 = 1_000_000;

/// Adds a product with one variant and its inventory item; returns the variant.
fn add_variant(
    shop: &mut Shop,
    sku: Option<String>,
    title: String,
    tracked: bool,
) -> &ProductVariant {
    let product_id = shop.allocate_id();
    let id = shop.allocate_id();
    let inventory_item_id = shop.allocate_id();
    let now = Utc::now().trunc_subsecs(0);
    shop.variants.push(ProductVariant {
        id,
        product_id,
        product_title: title,
        title: "Default Title".into(),
        sku,
        barcode: None,
        price: Decimal::new(1000, 2),
        inventory_item_id,
        tracked,
        requires_shipping: true,
        is_gift_card: false,
        product_tags: Vec::new(),
        weight: catalog_weight(usize::try_from(id % 1000).unwrap_or_default(), true),
        unit_cost: Some(Decimal::new(450, 2)),
        created_at: now,
        updated_at: now,
    });
    &shop.variants[shop.variants.len() - 1]
}

/// `POST /sandbox/variants` with the fields of [`apply_variant_fields`]: a new product with one
/// variant and its (tracked) inventory item, as a merchant adds one in the admin. 201 with the
/// variant in the `GET /sandbox/variants` shape.
async fn create_variant(State(state): State<ShopifyState>, body: Bytes) -> Answer {
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let mut shop = state.shop();
    let sku = fields.string("sku").map_err(ControlError::Invalid)?;
    let title = fields
        .string("product_title")
        .map_err(ControlError::Invalid)?
        .unwrap_or_else(|| "Sandbox product".into());
    let mut variant = add_variant(&mut shop, sku, title, true).clone();
    let created_at = variant.created_at;
    let applied = apply_variant_fields(&mut variant, &fields, created_at);
    let index = shop.variants.len() - 1;
    if let Err(error) = applied {
        shop.variants.pop();
        return Err(error);
    }
    shop.variants[index] = variant;
    let answer = rest::variant_to_rest(&shop.variants[index], &shop);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `PATCH /sandbox/variants/{id}`: changes what is given (see [`apply_variant_fields`]) the way
/// a merchant edits a product, and moves the variant's `updated_at`. 200 with the variant.
async fn patch_variant(
    State(state): State<ShopifyState>,
    Path(id): Path<u64>,
    body: Bytes,
) -> Answer {
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let mut shop = state.shop();
    let index = shop
        .variants
        .iter()
        .position(|v| v.id == id)
        .ok_or_else(|| ControlError::NotFound(format!("no variant {id}")))?;
    let mut variant = shop.variants[index].clone();
    apply_variant_fields(&mut variant, &fields, Utc::now().trunc_subsecs(0))?;
    // A product's title and tags are the product's: every variant of it changes with them.
    let (product_id, title, tags) = (
        variant.product_id,
        variant.product_title.clone(),
        variant.product_tags.clone(),
    );
    for other in shop
        .variants
        .iter_mut()
        .filter(|v| v.product_id == product_id)
    {
        if other.product_title != title || other.product_tags != tags {
            other.product_title.clone_from(&title);
            other.product_tags.clone_from(&tags);
            other.updated_at = variant.updated_at;
        }
    }
    shop.variants[index] = variant;
    let answer = rest::variant_to_rest(&shop.variants[index], &shop);
    Ok(Json(answer).into_response())
}

/// Applies the variant fields given in `fields`, all optional: `sku`, `barcode` (null clears
/// them), `price`, `unit_cost` (null clears it), `title` (the variant's), `product_title`,
/// `tags` (the product's, an array of strings), `weight` (`{"value": 250, "unit": "GRAMS"}`,
/// null clears it), `requires_shipping` and `gift_card`. Stamps `updated_at` with `at`.
fn apply_variant_fields(
    variant: &mut ProductVariant,
    fields: &Fields<'_>,
    at: DateTime<Utc>,
) -> Result<(), ControlError> {
    let invalid = ControlError::Invalid;
    // Given as `null`: cleared (`get` reads a `null` as missing).
    let nullable = |key: &str| fields.has(key) && fields.get(key).is_none();
    if fields.has("sku") {
        variant.sku = fields.string("sku").map_err(invalid)?;
    }
    if fields.has("barcode") {
        variant.barcode = fields.string("barcode").map_err(invalid)?;
    }
    if let Some(price) = fields.decimal("price").map_err(invalid)? {
        variant.price = price;
    }
    if nullable("unit_cost") {
        variant.unit_cost = None;
    } else if let Some(cost) = fields.decimal("unit_cost").map_err(invalid)? {
        variant.unit_cost = Some(cost);
    }
    if let Some(title) = fields.string("title").map_err(invalid)? {
        variant.title = title;
    }
    if let Some(title) = fields.string("product_title").map_err(invalid)? {
        variant.product_title = title;
    }
    if let Some(tags) = fields.array("tags").map_err(invalid)? {
        variant.product_tags = tags
            .iter()
            .enumerate()
            .map(|(i, tag)| {
                tag.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(format!("tags[{i}] must be a string")))
            })
            .collect::<Result<_, _>>()?;
    }
    if nullable("weight") {
        variant.weight = None;
    } else if let Some(weight) = fields.get("weight") {
        let w = Fields::new(weight, "weight").map_err(invalid)?;
        let value = w
            .decimal("value")
            .map_err(invalid)?
            .and_then(|v| f64::try_from(v).ok())
            .filter(|v| *v >= 0.0)
            .ok_or_else(|| {
                invalid(format!(
                    "{} must be a number of at least 0",
                    w.field("value")
                ))
            })?;
        let unit = w
            .string("unit")
            .map_err(invalid)?
            .and_then(|u| WeightUnit::parse(&u))
            .ok_or_else(|| {
                invalid(format!(
                    "{} must be GRAMS, KILOGRAMS, OUNCES or POUNDS",
                    w.field("unit")
                ))
            })?;
        variant.weight = Some(Weight { value, unit });
    }
    if let Some(requires_shipping) = fields.boolean("requires_shipping").map_err(invalid)? {
        variant.requires_shipping = requires_shipping;
    }
    if let Some(gift_card) = fields.boolean("gift_card").map_err(invalid)? {
        variant.is_gift_card = gift_card;
    }
    variant.updated_at = at;
    Ok(())
}

fn variant_ids(variant: &ProductVariant) -> Value {
    json!({
        "variant_id": variant.id,
        "variant_admin_graphql_api_id": gid("ProductVariant", variant.id),
        "inventory_item_id": variant.inventory_item_id,
        "inventory_item_admin_graphql_api_id": gid("InventoryItem", variant.inventory_item_id),
        "sku": variant.sku,
        "tracked": variant.tracked,
    })
}

/// A level as the inventory control endpoints show it.
fn level_json(shop: &Shop, item: u64, location: u64) -> Option<Value> {
    shop.inventory.get(&(item, location)).map(|q| {
        json!({
            "inventory_item_id": item,
            "location_id": location,
            "active": shop.is_active_level(item, location),
            "available": q.available,
            "on_hand": q.on_hand,
            "committed": q.committed(),
        })
    })
}

fn known_location(shop: &Shop, location: u64, field: &str) -> Result<(), ControlError> {
    match shop.location(location) {
        Some(_) => Ok(()),
        None => Err(ControlError::Invalid(format!(
            "{field}: no location {location}"
        ))),
    }
}

/// `POST /sandbox/inventory_items` with `{"sku": "X-1", "tracked": true, "title": "…",
/// "levels": [{"location_id": N, "available": 5}]}` (all optional; tracked by default): a new
/// product with one variant and its inventory item, stocked at the listed locations. 201 with
/// the variant's and the item's ids.
async fn create_inventory_item(State(state): State<ShopifyState>, body: Bytes) -> Answer {
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let sku = fields.string("sku").map_err(ControlError::Invalid)?;
    let tracked = fields
        .boolean("tracked")
        .map_err(ControlError::Invalid)?
        .unwrap_or(true);
    let title = fields
        .string("title")
        .map_err(ControlError::Invalid)?
        .unwrap_or_else(|| sku.clone().unwrap_or_else(|| "Sandbox product".into()));
    let mut levels = Vec::new();
    for (i, value) in fields
        .array("levels")
        .map_err(ControlError::Invalid)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let l = Fields::new(value, &format!("levels[{i}]")).map_err(ControlError::Invalid)?;
        let location = l
            .id("location_id")
            .map_err(ControlError::Invalid)?
            .ok_or_else(|| {
                ControlError::Invalid(format!("{} is required", l.field("location_id")))
            })?;
        let available = l
            .integer("available")
            .map_err(ControlError::Invalid)?
            .unwrap_or(0);
        levels.push((l.field("location_id"), location, available));
    }
    let mut shop = state.shop();
    for (field, location, _) in &levels {
        known_location(&shop, *location, field)?;
    }
    let variant = add_variant(&mut shop, sku, title, tracked);
    let (item, answer) = (variant.inventory_item_id, variant_ids(variant));
    for (_, location, available) in levels {
        shop.inventory.insert(
            (item, location),
            InventoryQuantities {
                available,
                on_hand: available,
            },
        );
    }
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `POST /sandbox/inventory_items/seed` with `{"count": 100000, "location_id": N,
/// "sku_prefix": "BENCH-", "available": 10, "tracked": true}`: `count` new single-variant
/// products with SKUs `{sku_prefix}{n:06}`, n = 1..=count, as the PULPO sandbox numbers its own
/// (prefix default `SEED-`), each stocked at the
/// location with `available` units (default 0). 201 with `created` and the first and last
/// inventory item ids (consecutive items are created in id order).
async fn seed_inventory_items(State(state): State<ShopifyState>, body: Bytes) -> Answer {
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let count = fields
        .positive_integer("count")
        .map_err(ControlError::Invalid)?
        .filter(|c| *c <= MAX_SEED)
        .ok_or_else(|| {
            ControlError::Invalid(format!("count must be an integer from 1 to {MAX_SEED}"))
        })?;
    let location = fields
        .id("location_id")
        .map_err(ControlError::Invalid)?
        .ok_or_else(|| ControlError::Invalid("location_id is required".into()))?;
    let prefix = fields
        .string("sku_prefix")
        .map_err(ControlError::Invalid)?
        .unwrap_or_else(|| "SEED-".into());
    let available = fields
        .integer("available")
        .map_err(ControlError::Invalid)?
        .unwrap_or(0);
    let tracked = fields
        .boolean("tracked")
        .map_err(ControlError::Invalid)?
        .unwrap_or(true);
    let mut shop = state.shop();
    known_location(&shop, location, "location_id")?;
    let mut items = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    for n in 1..=count {
        let sku = format!("{prefix}{n:06}");
        let item = add_variant(&mut shop, Some(sku.clone()), sku, tracked).inventory_item_id;
        shop.inventory.insert(
            (item, location),
            InventoryQuantities {
                available,
                on_hand: available,
            },
        );
        items.push(item);
    }
    tracing::info!(count, location, "Sandbox inventory items seeded.");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "created": count,
            "first_inventory_item_id": items.first(),
            "last_inventory_item_id": items.last(),
        })),
    )
        .into_response())
}

fn level_path(item: &str, location: &str) -> Result<(u64, u64), ControlError> {
    Ok((
        path_id(item, "InventoryItem", "inventory item")?,
        path_id(location, "Location", "location")?,
    ))
}

/// `GET /sandbox/inventory_levels/{item}/{location}` → `{"inventory_item_id", "location_id",
/// "active", "available", "on_hand", "committed"}`; 404 when the item has no level there.
async fn get_inventory_level(
    State(state): State<ShopifyState>,
    Path((item, location)): Path<(String, String)>,
) -> Answer {
    let (item, location) = level_path(&item, &location)?;
    let shop = state.shop();
    let level = level_json(&shop, item, location).ok_or_else(|| {
        ControlError::NotFound(format!(
            "inventory item {item} has no level at location {location}"
        ))
    })?;
    Ok(Json(level).into_response())
}

/// `PUT /sandbox/inventory_levels/{item}/{location}` with `{"available": N}` and optionally
/// `"active": bool`: what another app or the merchant does. Sets `available` (on hand moves
/// with it, committed stays), stocking the item there first when it was not (active unless
/// `"active": false`); `active` alone activates or deactivates the level. Answers the level.
async fn put_inventory_level(
    State(state): State<ShopifyState>,
    Path((item, location)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let (item, location) = level_path(&item, &location)?;
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let available = fields.integer("available").map_err(ControlError::Invalid)?;
    let active = fields.boolean("active").map_err(ControlError::Invalid)?;
    if available.is_none() && active.is_none() {
        return Err(ControlError::Invalid(
            "available or active is required".into(),
        ));
    }
    let mut shop = state.shop();
    if shop.variant_of_item(item).is_none() {
        return Err(ControlError::NotFound(format!("no inventory item {item}")));
    }
    known_location(&shop, location, "location")?;
    let key = (item, location);
    let level = shop
        .inventory
        .entry(key)
        .or_insert(InventoryQuantities::ZERO);
    if let Some(available) = available {
        level.on_hand += available - level.available;
        level.available = available;
    }
    match active {
        Some(false) => {
            shop.inactive_levels.insert(key);
        }
        Some(true) => {
            shop.inactive_levels.remove(&key);
        }
        None => {}
    }
    let level = level_json(&shop, item, location).unwrap_or(Value::Null);
    Ok(Json(level).into_response())
}

/// `POST /sandbox/inventory_levels/{item}/{location}/other_app` with `{"available": N,
/// "times": K}` (times default 1): another app sets the level to `available`, `available + 1`,
/// … right before each of the next K `inventorySetQuantities` calls that include it, so a client's
/// `changeFromQuantity` read before is stale by then (`CHANGE_FROM_QUANTITY_STALE`). 204.
async fn post_other_app_change(
    State(state): State<ShopifyState>,
    Path((item, location)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let (item, location) = level_path(&item, &location)?;
    let value = body_json(&body)?;
    let fields = Fields::new(&value, "").map_err(ControlError::Invalid)?;
    let available = fields
        .integer("available")
        .map_err(ControlError::Invalid)?
        .ok_or_else(|| ControlError::Invalid("available is required".into()))?;
    let times = fields
        .positive_integer("times")
        .map_err(ControlError::Invalid)?
        .unwrap_or(1);
    let mut shop = state.shop();
    if !shop.inventory.contains_key(&(item, location)) {
        return Err(ControlError::NotFound(format!(
            "inventory item {item} has no level at location {location}"
        )));
    }
    shop.other_app_changes.push(OtherAppChange {
        inventory_item_id: item,
        location_id: location,
        available,
        times: u32::try_from(times).unwrap_or(u32::MAX),
    });
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /sandbox/inventory_levels/{item}/{location}`: unstocks the item there (the level
/// and its quantities are gone). 204; 404 when there was no level.
async fn delete_inventory_level(
    State(state): State<ShopifyState>,
    Path((item, location)): Path<(String, String)>,
) -> Answer {
    let (item, location) = level_path(&item, &location)?;
    let mut shop = state.shop();
    shop.inactive_levels.remove(&(item, location));
    match shop.inventory.remove(&(item, location)) {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ControlError::NotFound(format!(
            "inventory item {item} has no level at location {location}"
        ))),
    }
}
