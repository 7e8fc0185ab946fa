//! The PULPO sandbox's control API under `/sandbox/` (not part of PULPO): it plays the
//! warehouse staff (moving orders along, shipping them), sets stock and packing capacity,
//! expires tokens, and adjusts faults and limits at runtime. Never faulted, never limited,
//! no auth.
//!
//! | Method | Path | Body → answer |
//! |---|---|---|
//! | POST | `/sandbox/sales/orders/{id}/advance` | → `SalesOrder` one state further (queue → picking → packing → ended) |
//! | POST | `/sandbox/sales/orders/{id}/ship` | one box [`ShipmentBox`] `{carrier_code?, tracking_code?, tracking_url?, items?}` or several `{boxes: [ShipmentBox]}` → [`Shipped`] `{sales_order, packing_order, packing_boxes, shipment_trackings}` |
//! | POST | `/sandbox/reception/returns` | [`ReturnReceipt`] `{sales_order_id, items: [{line_order_id, quantity, reason_code?}], notes?}` → 201 `IncomingGood` (document type `return`); 422 for a line not shipped, more than shipped and not returned yet, or an unknown reason code |
//! | PUT | `/sandbox/packing/boxes/{box_id}/shipment_tracking` | [`TrackingChange`] `{carrier_code, tracking_code, tracking_url?, status?}` → `ShipmentTracking` (made, or the box's changed in place) |
//! | PUT | `/sandbox/packing/boxes/{box_id}/items/{item_id}/batches` | array of [`BatchShare`] `{number, quantity}` → `PackingBox` (the item's lots or serial numbers replaced) |
//! | POST | `/sandbox/inventory/products` | [`NumberedProducts`] `{count, sku_prefix, warehouse_id?, available_quantity?}` → 201 [`NumberedProductsMade`] `{created, first_id, last_id}` |
//! | PATCH | `/sandbox/inventory/products/{id}` | `{active?, deleted?, management_type?}` (`none`, `lot`, `serial`) → `Product` |
//! | POST | `/sandbox/inventory/products/refusals` | [`ProductRefusal`] `{sku, message, count?}` → the same: the next `count` (1 by default; 0 disarms) creates or updates of that SKU answer 422 `{"errors": [{"sku": message}]}` |
//! | PUT | `/sandbox/inventory/products/{id}/stock` | `{warehouse_id, quantity}` (physical) or `{warehouse_id, available_quantity}` → `{product_id, warehouse_id, quantity, available_quantity}` |
//! | PUT | `/sandbox/inventory/stocks` | `[{product_id, warehouse_id, quantity or available_quantity}]` → `{updated}`, all or none |
//! | PUT | `/sandbox/packing_locations` | `{free}` → `{free}` |
//! | POST | `/sandbox/tokens/expire` | → `{expired}` (tokens that were still valid) |
//! | GET, PUT | `/sandbox/faults` | [`FaultSettings`](crate::faults::FaultSettings) |
//! | GET, PUT | `/sandbox/limits` | [`LimitsUpdate`] → [`Limits`] |
//! | GET | `/sandbox/stats` | → [`PulpoStatsSnapshot`] |
//! | GET | `/sandbox/sales/orders` | → `{sales_orders: [every order], total_results}` |
//!
//! A shipment's box items name a sales item by `line_order_id` (else `product_id`) with a
//! `quantity` and, for lot or serial products, `batches: [{number, quantity}]` adding up to it
//! (a serial number is one unit); a box without `items` takes everything not shipped yet, and
//! a box without `carrier_code` and `tracking_code` has no tracking until one is set. Every box
//! is checked before any is written. Setting a tracking or batches moves the box's and its
//! packing order's `updated_at`, so `updated_at=gt:` finds the change.
//!
//! Errors are `{"error": "<message>"}` with 400 (malformed body), 404 (unknown id) or 422
//! (refused), like the shared fault settings endpoint.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Router, extract::rejection::JsonRejection};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::PulpoState;
use super::limits::{Limits, LimitsUpdate, PulpoStatsSnapshot};
use super::model::{
    Id, IncomingGood, ListResponse, PackingBox, Product, SalesOrder, ShipmentTracking,
};
use super::store::{
    BatchShare, NumberedProducts, NumberedProductsMade, ReturnReceipt, Shipment, ShipmentBox,
    Shipped, StockLevel, StockTarget, StoreError, TrackingChange,
};
use crate::faults::{get_faults, put_faults};

pub fn routes() -> Router<PulpoState> {
    Router::new()
        .route("/sandbox/sales/orders", get(list_sales_orders))
        .route("/sandbox/sales/orders/{id}/advance", post(advance))
        .route("/sandbox/sales/orders/{id}/ship", post(ship))
        .route("/sandbox/reception/returns", post(receive_return))
        .route(
            "/sandbox/packing/boxes/{box_id}/shipment_tracking",
            put(set_tracking),
        )
        .route(
            "/sandbox/packing/boxes/{box_id}/items/{item_id}/batches",
            put(assign_batches),
        )
        .route("/sandbox/inventory/products", post(create_products))
        .route("/sandbox/inventory/products/{id}", patch(set_product_state))
        .route("/sandbox/inventory/products/refusals", post(refuse_product))
        .route("/sandbox/inventory/products/{id}/stock", put(set_stock))
        .route("/sandbox/inventory/stocks", put(set_stocks))
        .route("/sandbox/packing_locations", put(set_packing_locations))
        .route("/sandbox/tokens/expire", post(expire_tokens))
        .route("/sandbox/faults", get(get_faults).put(put_faults))
        .route("/sandbox/limits", get(get_limits).put(put_limits))
        .route("/sandbox/stats", get(stats))
}

/// A refused control request.
#[derive(Debug)]
pub struct ControlError(StatusCode, String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ControlError {
    fn from(error: StoreError) -> Self {
        let status = match error {
            StoreError::NotFound(..) => StatusCode::NOT_FOUND,
            StoreError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ControlError(status, error.to_string())
    }
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ControlError> {
    Json::<T>::from_bytes(bytes)
        .map(|Json(value)| value)
        .map_err(|rejection: JsonRejection| {
            ControlError(StatusCode::BAD_REQUEST, rejection.body_text())
        })
}

fn id(raw: &str) -> Result<Id, ControlError> {
    raw.parse()
        .map_err(|_| ControlError(StatusCode::BAD_REQUEST, format!("invalid id {raw:?}")))
}

async fn list_sales_orders(State(state): State<PulpoState>) -> Json<ListResponse<SalesOrder>> {
    let items = state.sales_orders();
    Json(ListResponse {
        key: "sales_orders",
        total_results: items.len(),
        items,
    })
}

async fn advance(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
) -> Result<Json<SalesOrder>, ControlError> {
    Ok(Json(state.store().advance(id(&raw)?)?))
}

async fn ship(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Json<Shipped>, ControlError> {
    let shipment = shipment(&bytes)?;
    Ok(Json(state.store().ship(id(&raw)?, shipment)?))
}

async fn receive_return(
    State(state): State<PulpoState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<IncomingGood>), ControlError> {
    let receipt: ReturnReceipt = body(&bytes)?;
    Ok((
        StatusCode::CREATED,
        Json(state.store().receive_return(receipt)?),
    ))
}

/// `{boxes: [...]}` for several boxes, or the one box's fields at the top level.
fn shipment(bytes: &[u8]) -> Result<Shipment, ControlError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Boxes {
        boxes: Vec<ShipmentBox>,
    }
    let value: serde_json::Value = body(bytes)?;
    let boxes = if value.get("boxes").is_some() {
        body::<Boxes>(bytes)?.boxes
    } else {
        vec![body::<ShipmentBox>(bytes)?]
    };
    Ok(Shipment { boxes })
}

async fn set_tracking(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Json<ShipmentTracking>, ControlError> {
    let change: TrackingChange = body(&bytes)?;
    Ok(Json(state.store().set_tracking(id(&raw)?, change)?))
}

async fn assign_batches(
    State(state): State<PulpoState>,
    Path((box_id, item_id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<PackingBox>, ControlError> {
    let shares: Vec<BatchShare> = body(&bytes)?;
    Ok(Json(state.store().assign_batches(
        id(&box_id)?,
        id(&item_id)?,
        shares,
    )?))
}

/// A stock level as the control API takes it: physical `quantity` or `available_quantity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StockLevelBody {
    /// In the path for a single product.
    product_id: Option<Id>,
    warehouse_id: Id,
    quantity: Option<i64>,
    available_quantity: Option<i64>,
}

impl StockLevelBody {
    fn level(&self, product_id: Id) -> Result<StockLevel, ControlError> {
        let target = match (self.quantity, self.available_quantity) {
            (Some(quantity), None) => StockTarget::Physical(quantity),
            (None, Some(available)) => StockTarget::Available(available),
            _ => {
                return Err(ControlError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "give exactly one of quantity and available_quantity".into(),
                ));
            }
        };
        Ok(StockLevel {
            product_id,
            warehouse_id: self.warehouse_id,
            target,
        })
    }
}

async fn set_stock(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let product_id = id(&raw)?;
    let body: StockLevelBody = body(&bytes)?;
    let level = body.level(product_id)?;
    let mut store = state.store();
    store.set_stock_levels(&[level])?;
    let available: i64 = store
        .availability(Some(&[product_id]), |_| true, |w| w == level.warehouse_id)
        .iter()
        .map(|a| a.available_quantity)
        .sum();
    Ok(Json(json!({
        "product_id": product_id,
        "warehouse_id": level.warehouse_id,
        "quantity": store.stock(product_id, level.warehouse_id),
        "available_quantity": available,
    })))
}

async fn set_stocks(
    State(state): State<PulpoState>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ControlError> {
    let bodies: Vec<StockLevelBody> = body(&bytes)?;
    let levels = bodies
        .iter()
        .map(|body| {
            let product_id = body.product_id.ok_or_else(|| {
                ControlError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "every level needs a product_id".into(),
                )
            })?;
            body.level(product_id)
        })
        .collect::<Result<Vec<_>, _>>()?;
    state.store().set_stock_levels(&levels)?;
    Ok(Json(json!({ "updated": levels.len() })))
}

async fn create_products(
    State(state): State<PulpoState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<NumberedProductsMade>), ControlError> {
    let order: NumberedProducts = body(&bytes)?;
    let made = state.store().create_numbered_products(order)?;
    Ok((StatusCode::CREATED, Json(made)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductState {
    active: Option<bool>,
    deleted: Option<bool>,
    management_type: Option<String>,
}

async fn set_product_state(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Json<Product>, ControlError> {
    let product_id = id(&raw)?;
    let wanted: ProductState = body(&bytes)?;
    Ok(Json(state.store().set_product_state(
        product_id,
        wanted.active,
        wanted.deleted,
        wanted.management_type,
    )?))
}

/// A refusal armed for a product's next creates or updates.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRefusal {
    sku: String,
    message: String,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

async fn refuse_product(
    State(state): State<PulpoState>,
    bytes: Bytes,
) -> Result<Json<ProductRefusal>, ControlError> {
    let refusal: ProductRefusal = body(&bytes)?;
    state
        .store()
        .refuse_product(refusal.sku.clone(), refusal.message.clone(), refusal.count);
    Ok(Json(refusal))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PackingLocations {
    free: u32,
}

async fn set_packing_locations(
    State(state): State<PulpoState>,
    bytes: Bytes,
) -> Result<Json<PackingLocations>, ControlError> {
    let locations: PackingLocations = body(&bytes)?;
    state.store().free_packing_locations = locations.free;
    Ok(Json(locations))
}

async fn expire_tokens(State(state): State<PulpoState>) -> Json<serde_json::Value> {
    let expired = state.tokens().expire_all();
    Json(json!({ "expired": expired }))
}

async fn get_limits(State(state): State<PulpoState>) -> Json<Limits> {
    Json(state.governor.limits())
}

async fn put_limits(
    State(state): State<PulpoState>,
    bytes: Bytes,
) -> Result<Json<Limits>, ControlError> {
    let update: LimitsUpdate = body(&bytes)?;
    Ok(Json(state.governor.update(update)))
}

async fn stats(State(state): State<PulpoState>) -> Json<PulpoStatsSnapshot> {
    Json(state.governor.snapshot())
}
