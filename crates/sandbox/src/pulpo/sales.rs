//! Sales order endpoints (tag Sales, reference §B.4): search, create, show, replace, cancel,
//! and bulk create / update.
//!
//! PUT on an order that has left `queue` is refused with 422 and an `ErrorsList` naming `state`
//! (the spec allows 403 or 422; 422 carries the reason, which a sync service wants to log).

use std::cmp::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::PulpoState;
use super::error::{ApiError, FieldError, parse_json};
use super::model::{Id, ListResponse, SalesOrder, SalesOrderBody, SalesOrderRef};
use super::query::{Filter, Params, allows, parse_id};
use super::store::StoreError;

/// The `GET /sales/orders` filters the sandbox implements.
struct SalesOrderFilter {
    id: Option<Filter<i64>>,
    order_num: Option<Filter<String>>,
    state: Option<Filter<String>>,
    warehouse_id: Option<Filter<i64>>,
    third_party_id: Option<Filter<i64>>,
    client_id: Option<Filter<String>>,
    channel: Option<Filter<String>>,
    priority: Option<Filter<i64>>,
    criterium: Option<Filter<String>>,
    product_id: Option<Filter<i64>>,
    inserted_at: Option<Filter<DateTime<Utc>>>,
    updated_at: Option<Filter<DateTime<Utc>>>,
}

impl SalesOrderFilter {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(SalesOrderFilter {
            id: params.ids("id")?,
            order_num: params.text("order_num")?,
            state: params.text("state")?,
            warehouse_id: params.ids("warehouse_id")?,
            third_party_id: params.ids("third_party_id")?,
            client_id: params.text("client_id")?,
            channel: params.text("channel")?,
            priority: params.ids("priority")?,
            criterium: params.text("criterium")?,
            product_id: params.ids("product_id")?,
            inserted_at: params.times("inserted_at")?,
            updated_at: params.times("updated_at")?,
        })
    }

    fn matches(&self, order: &SalesOrder) -> bool {
        allows(&self.id, Some(&order.id))
            && allows(&self.order_num, Some(&order.order_num))
            && allows(&self.state, Some(order.state.as_str()))
            && allows(&self.warehouse_id, Some(&order.warehouse_id))
            && allows(&self.third_party_id, order.third_party_id.as_ref())
            && allows(&self.client_id, order.client_id.as_ref())
            && allows(&self.channel, order.channel.as_ref())
            && allows(&self.priority, order.priority.as_ref())
            && allows(&self.criterium, order.criterium.as_ref())
            && allows(&self.inserted_at, Some(&order.inserted_at))
            && allows(&self.updated_at, Some(&order.updated_at))
            && self.product_id.as_ref().is_none_or(|filter| {
                order
                    .items
                    .iter()
                    .any(|item| filter.matches(&item.product_id))
            })
    }
}

/// `sort_by=<field>:<asc|desc>` for `id`, `inserted_at` and `updated_at` (used by real clients
/// for polling, reference §B.3.3). Default: by id.
fn sorter(params: &Params) -> Result<impl Fn(&&SalesOrder, &&SalesOrder) -> Ordering, ApiError> {
    let invalid = || ApiError::bad_request("sort_by", "is invalid");
    let (field, direction) = match params.last("sort_by") {
        None => ("id", "asc"),
        Some(spec) => spec.split_once(':').unwrap_or((spec, "asc")),
    };
    let descending = match direction {
        "asc" => false,
        "desc" => true,
        _ => return Err(invalid()),
    };
    let key: fn(&SalesOrder) -> (DateTime<Utc>, Id) = match field {
        "id" => |o| (DateTime::<Utc>::MIN_UTC, o.id),
        "inserted_at" => |o| (o.inserted_at, o.id),
        "updated_at" => |o| (o.updated_at, o.id),
        _ => return Err(invalid()),
    };
    Ok(move |a: &&SalesOrder, b: &&SalesOrder| {
        let ordering = key(a).cmp(&key(b));
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    })
}

/// `GET /sales/orders`
pub async fn list(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<SalesOrder>>, ApiError> {
    let filter = SalesOrderFilter::from_params(&params)?;
    let sort = sorter(&params)?;
    let page = params.page()?;
    let store = state.store();
    // Looking orders up by number (how a sync service checks for duplicates) or id uses the
    // indexes instead of scanning every order.
    let mut matches: Vec<&SalesOrder> =
        if let Some(nums) = filter.order_num.as_ref().and_then(Filter::candidates) {
            nums.iter()
                .filter_map(|num| store.sales_order_by_num(num))
                .collect()
        } else if let Some(ids) = filter.id.as_ref().and_then(Filter::candidates) {
            ids.iter()
                .filter_map(|id| store.sales_orders.get(id))
                .collect()
        } else {
            store.sales_orders.values().collect()
        };
    matches.retain(|order| filter.matches(order));
    matches.sort_by(sort);
    matches.dedup_by_key(|order| order.id);
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "sales_orders",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// `POST /sales/orders` → 201 `SalesOrder`.
pub async fn create(State(state): State<PulpoState>, body: Bytes) -> Result<Response, ApiError> {
    let body: SalesOrderBody = parse_json(&body)?;
    let order = state.store().create_sales_order(body)?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// `GET /sales/orders/{id}`
pub async fn show(
    State(state): State<PulpoState>,
    Path(id): Path<String>,
) -> Result<Json<SalesOrder>, ApiError> {
    let id = parse_id("id", &id)?;
    state
        .store()
        .sales_orders
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// `PUT /sales/orders/{id}` → 201 `SalesOrder` (the spec's status for a successful update).
pub async fn replace(
    State(state): State<PulpoState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let body: SalesOrderBody = parse_json(&body)?;
    let order = state.store().replace_sales_order(id, body)?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// `POST /sales/orders/{id}/cancel` → 200 `SalesOrder`.
pub async fn cancel(
    State(state): State<PulpoState>,
    Path(id): Path<String>,
) -> Result<Json<SalesOrder>, ApiError> {
    let id = parse_id("id", &id)?;
    Ok(Json(state.store().cancel_sales_order(id)?))
}

/// How a bulk request identifies an order in its `errors` map: its `order_num`, or `[index]`
/// when it has none.
fn bulk_key(index: usize, body: &SalesOrderBody) -> String {
    match body.order_num.as_deref().map(str::trim) {
        Some(order_num) if !order_num.is_empty() => order_num.to_string(),
        _ => format!("[{index}]"),
    }
}

/// The `Error` object for one failed order: `{"<column>": "<message>", …}`.
fn error_object(errors: &[FieldError]) -> Value {
    let mut object = Map::new();
    for error in errors {
        object
            .entry(error.field.clone())
            .or_insert_with(|| Value::String(error.message.clone()));
    }
    Value::Object(object)
}

/// The spec's bulk answers: 201 `{"<done>": [...]}` when every order went through, else 400
/// `{"<done>": [...], "errors": {"<order_num>": {…}}}`.
fn bulk_response(done_key: &str, done: Vec<SalesOrderRef>, errors: Map<String, Value>) -> Response {
    if errors.is_empty() {
        (StatusCode::CREATED, Json(json!({ done_key: done }))).into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ done_key: done, "errors": errors })),
        )
            .into_response()
    }
}

/// `POST /sales/bulk/orders`: creates each order on its own; a failure does not stop the rest.
pub async fn bulk_create(
    State(state): State<PulpoState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bodies: Vec<SalesOrderBody> = parse_json(&body)?;
    state.governor.delay_items(bodies.len()).await;
    let mut created = Vec::new();
    let mut errors = Map::new();
    let mut store = state.store();
    for (index, body) in bodies.into_iter().enumerate() {
        let key = bulk_key(index, &body);
        match store.create_sales_order(body) {
            Ok(order) => created.push(SalesOrderRef {
                id: order.id,
                order_num: order.order_num,
            }),
            Err(error) => {
                errors.insert(key, error_object(&store_errors(error)));
            }
        }
    }
    drop(store);
    Ok(bulk_response("created", created, errors))
}

/// `PUT /sales/bulk/orders`: replaces each order found by its `order_num`.
pub async fn bulk_update(
    State(state): State<PulpoState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bodies: Vec<SalesOrderBody> = parse_json(&body)?;
    state.governor.delay_items(bodies.len()).await;
    let mut updated = Vec::new();
    let mut errors = Map::new();
    let mut store = state.store();
    for (index, body) in bodies.into_iter().enumerate() {
        let key = bulk_key(index, &body);
        let id = body
            .order_num
            .as_deref()
            .and_then(|order_num| store.sales_order_by_num(order_num.trim()))
            .map(|order| order.id);
        let result = match id {
            Some(id) => store.replace_sales_order(id, body),
            None => Err(StoreError::Invalid(vec![FieldError::new(
                "order_num",
                "does not exist",
            )])),
        };
        match result {
            Ok(order) => updated.push(SalesOrderRef {
                id: order.id,
                order_num: order.order_num,
            }),
            Err(error) => {
                errors.insert(key, error_object(&store_errors(error)));
            }
        }
    }
    drop(store);
    Ok(bulk_response("updated", updated, errors))
}

fn store_errors(error: StoreError) -> Vec<FieldError> {
    match error {
        StoreError::Invalid(errors) => errors,
        StoreError::NotFound(what, id) => {
            vec![FieldError::new("id", format!("{what} {id} not found"))]
        }
    }
}
