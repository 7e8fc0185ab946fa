//! Packing read endpoints (reference §B.9): packing orders, their boxes (items with their
//! batches), the box search, and a box's shipment trackings. A sales order gets its packing
//! order (`queue`) when it reaches `packing`; boxes and trackings come from the control API
//! (`POST /sandbox/sales/orders/{id}/ship`, `PUT /sandbox/packing/boxes/…`). Packing order
//! states: `queue` → `taken` (boxes shipping) → `ended` (all shipped), or `cancelled`.

use axum::Json;
use axum::extract::{Path, State};

use super::PulpoState;
use super::error::ApiError;
use super::model::{ListResponse, PackingBox, PackingOrder, ShipmentTracking};
use super::query::{Filter, Params, allows, parse_id};
use super::store::Store;

/// `GET /packing/orders` (filters `id`, `sales_order_id`, `warehouse_id`, `state`, `owner_id`,
/// `start_date`, `end_date`, `inserted_at`, `updated_at`, each with PULPO's operators:
/// `sales_order_id=to_list:1,2`, `updated_at=gt:<timestamp>`), by id.
pub async fn list_orders(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<PackingOrder>>, ApiError> {
    let id = params.ids("id")?;
    let sales_order_id = params.ids("sales_order_id")?;
    let warehouse_id = params.ids("warehouse_id")?;
    let state_filter = params.text("state")?;
    let owner_id = params.ids("owner_id")?;
    let start_date = params.times("start_date")?;
    let end_date = params.times("end_date")?;
    let inserted_at = params.times("inserted_at")?;
    let updated_at = params.times("updated_at")?;
    let page = params.page()?;
    let store = state.store();
    let matches: Vec<&PackingOrder> = store
        .packing_orders
        .values()
        .filter(|o| {
            allows(&id, Some(&o.id))
                && allows(&sales_order_id, Some(&o.sales_order_id))
                && allows(&warehouse_id, Some(&o.warehouse_id))
                && allows(&state_filter, Some(&o.state))
                && allows(&owner_id, o.owner_id.as_ref())
                && allows(&start_date, o.start_date.as_ref())
                && allows(&end_date, o.end_date.as_ref())
                && allows(&inserted_at, Some(&o.inserted_at))
                && allows(&updated_at, Some(&o.updated_at))
        })
        .collect();
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "packing_orders",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// The box filters both box endpoints share.
struct BoxFilter {
    box_number: Option<Filter<i64>>,
    product_id: Option<Filter<i64>>,
    tracking_code: Option<Filter<String>>,
    warehouse_id: Option<Filter<i64>>,
}

impl BoxFilter {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(BoxFilter {
            box_number: params.ids("box_number")?,
            product_id: params.ids("product_id")?,
            tracking_code: params.text("tracking_code")?,
            warehouse_id: params.ids("warehouse_id")?,
        })
    }

    fn matches(&self, store: &Store, packing_box: &PackingBox) -> bool {
        allows(&self.box_number, Some(&packing_box.box_number))
            && self.product_id.as_ref().is_none_or(|filter| {
                packing_box
                    .items
                    .iter()
                    .any(|item| filter.matches(&item.product_id))
            })
            && self.tracking_code.as_ref().is_none_or(|filter| {
                store
                    .shipment_trackings
                    .values()
                    .any(|t| t.packing_box_id == packing_box.id && filter.matches(&t.tracking_code))
            })
            && self.warehouse_id.as_ref().is_none_or(|filter| {
                filter.matches_option(
                    store
                        .packing_orders
                        .get(&packing_box.packing_order_id)
                        .map(|o| &o.warehouse_id),
                )
            })
    }
}

fn boxes(
    state: &PulpoState,
    params: &Params,
    packing_order_id: Option<i64>,
) -> Result<Json<ListResponse<PackingBox>>, ApiError> {
    let filter = BoxFilter::from_params(params)?;
    let page = params.page()?;
    let store = state.store();
    let matches: Vec<&PackingBox> = store
        .packing_boxes
        .values()
        .filter(|b| packing_order_id.is_none_or(|id| b.packing_order_id == id))
        .filter(|b| filter.matches(&store, b))
        .collect();
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "packing_boxes",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// `GET /packing/orders/{packing_order_id}/boxes`: an unknown packing order has no boxes.
pub async fn list_boxes(
    State(state): State<PulpoState>,
    Path(packing_order_id): Path<String>,
    params: Params,
) -> Result<Json<ListResponse<PackingBox>>, ApiError> {
    let packing_order_id = parse_id("packing_order_id", &packing_order_id)?;
    boxes(&state, &params, Some(packing_order_id))
}

/// `GET /packing/orders/boxes/search` (filters `box_number`, `product_id`, `tracking_code`,
/// `warehouse_id`).
pub async fn search_boxes(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<PackingBox>>, ApiError> {
    boxes(&state, &params, None)
}

/// `GET /packing/orders/{packing_order_id}/boxes/{box_id}/shipment_tracking` (filter
/// `requires_attention`).
pub async fn list_trackings(
    State(state): State<PulpoState>,
    Path((packing_order_id, box_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<ListResponse<ShipmentTracking>>, ApiError> {
    let packing_order_id = parse_id("packing_order_id", &packing_order_id)?;
    let box_id = parse_id("box_id", &box_id)?;
    let requires_attention = params.flag("requires_attention")?;
    let store = state.store();
    let in_order = store
        .packing_boxes
        .get(&box_id)
        .is_some_and(|b| b.packing_order_id == packing_order_id);
    let items: Vec<ShipmentTracking> = store
        .shipment_trackings
        .values()
        .filter(|t| in_order && t.packing_box_id == box_id)
        .filter(|t| requires_attention.is_none_or(|wanted| t.requires_attention == wanted))
        .cloned()
        .collect();
    Ok(Json(ListResponse {
        key: "shipment_trackings",
        total_results: items.len(),
        items,
    }))
}
