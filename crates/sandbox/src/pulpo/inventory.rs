//! Warehouses, products, their batches (lots and serial numbers) and stock availability
//! (reference §B.5–B.7), and third parties (customers and suppliers, §B.8).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::PulpoState;
use super::error::{ApiError, parse_json};
use super::model::{
    Availability, Batch, ListResponse, Product, ProductBody, ThirdParty, ThirdPartyBody, Warehouse,
};
use super::query::{Filter, Params, allows, parse_id};

/// `GET /warehouses/` (filters `id`, `name`, `city`, `active`).
pub async fn list_warehouses(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<Warehouse>>, ApiError> {
    let id = params.ids("id")?;
    let name = params.text("name")?;
    let city = params.text("city")?;
    let active = params.flag("active")?;
    let page = params.page()?;
    let store = state.store();
    let matches: Vec<&Warehouse> = store
        .warehouses
        .iter()
        .filter(|w| {
            allows(&id, Some(&w.id))
                && allows(&name, Some(&w.name))
                && allows(&city, w.city.as_ref())
                && active.is_none_or(|active| w.active == active)
        })
        .collect();
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "warehouses",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// `GET /inventory/products` (filters `id`, `sku`, `barcode`, `name`, `article_number`,
/// `active`, `show_deleted`). `sku` and `barcode` match exactly; `sku=to_list:a,b` looks up
/// several at once. Deleted products are left out unless `show_deleted=true` ("Default is
/// false", the spec says).
pub async fn list_products(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<Product>>, ApiError> {
    let id = params.ids("id")?;
    let sku = params.text("sku")?;
    let barcode = params.text("barcode")?;
    let name = params.text("name")?;
    let article_number = params.text("article_number")?;
    let active = params.flag("active")?;
    let show_deleted = params.flag("show_deleted")?.unwrap_or(false);
    let page = params.page()?;
    let store = state.store();
    let keep = |p: &&Product| {
        (show_deleted || !p.deleted)
            && allows(&id, Some(&p.id))
            && allows(&sku, Some(&p.sku))
            && allows(&name, Some(&p.name))
            && allows(&article_number, p.article_number.as_ref())
            && active.is_none_or(|active| p.active == active)
            && barcode
                .as_ref()
                .is_none_or(|filter| p.barcodes.iter().any(|b| filter.matches(b)))
    };
    // A SKU list (how a client looks up a page of SKUs) goes through the SKU index: scanning
    // every product against a list of hundreds of SKUs, once per page, made the look-ups of a
    // 100,000-product tenant grow with the square of its size.
    let matches: Vec<&Product> = match sku.as_ref().and_then(|filter| filter.candidates()) {
        Some(skus) => {
            let mut found: Vec<&Product> = skus
                .iter()
                .filter_map(|sku| store.product_by_sku(sku))
                .filter(keep)
                .collect();
            // In id order and once each, as the scan gives them.
            found.sort_unstable_by_key(|p| p.id);
            found.dedup_by_key(|p| p.id);
            found
        }
        None => store.products.values().filter(keep).collect(),
    };
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "products",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// `POST /inventory/products` → 201 `Product`.
pub async fn create_product(
    State(state): State<PulpoState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ProductBody = parse_json(&body)?;
    let product = state.store().create_product(body)?;
    Ok((StatusCode::CREATED, Json(product)).into_response())
}

/// `GET /iam/third_parties/{id}` → `ThirdParty`, or 404.
pub async fn show_third_party(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
) -> Result<Json<ThirdParty>, ApiError> {
    let id = parse_id("id", &raw)?;
    let store = state.store();
    store
        .third_parties
        .get(&id)
        .filter(|party| party.deleted_at.is_none())
        .cloned()
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// `PUT /inventory/products/{id}` → 200 `Product`: changes the fields given, keeps the rest.
pub async fn update_product(
    State(state): State<PulpoState>,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Json<Product>, ApiError> {
    let id = parse_id("id", &raw)?;
    let body: ProductBody = parse_json(&body)?;
    Ok(Json(state.store().update_product(id, body)?))
}

/// `POST /inventory/bulk/products`: creates each product on its own, continuing past the
/// ones it refuses. 201 `BulkProductResponse` `{"created": [{id, sku}]}` when all went
/// through, else 400 `BulkErrorsProductsResponse`: `created` as the spec defines it (one
/// `BulkProductResponse` holding the created products) and `errors`, one `ErrorsList` per
/// refused product in the order they were sent, since the spec gives the errors no key.
pub async fn bulk_create_products(
    State(state): State<PulpoState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let bodies: Vec<ProductBody> = parse_json(&body)?;
    state.governor.delay_items(bodies.len()).await;
    let mut created = Vec::new();
    let mut errors = Vec::new();
    let mut store = state.store();
    for body in bodies {
        match store.create_product(body) {
            Ok(product) => created.push(json!({"id": product.id, "sku": product.sku})),
            Err(error) => errors.push(json!({"errors": [error.column_messages()]})),
        }
    }
    drop(store);
    Ok(if errors.is_empty() {
        (StatusCode::CREATED, Json(json!({ "created": created }))).into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"created": [{"created": created}], "errors": errors})),
        )
            .into_response()
    })
}

/// The batches of `product_id` (any product when `None`) matching the search filters `number`,
/// `type`, `expiration_date`, `client_id` (and `product_id` when searching all), by id, paged.
/// The spec gives these searches no response schema; the answer is its `ResponseList_Batch`.
fn batches(
    state: &PulpoState,
    params: &Params,
    product_id: Option<i64>,
) -> Result<Json<ListResponse<Batch>>, ApiError> {
    let product_filter = match product_id {
        Some(_) => None,
        None => params.ids("product_id")?,
    };
    let number = params.text("number")?;
    let batch_type = params.text("type")?;
    let expiration_date = params.text("expiration_date")?;
    let client_id = params.text("client_id")?;
    let page = params.page()?;
    let store = state.store();
    let matches: Vec<&Batch> = store
        .batches
        .values()
        .filter(|b| {
            product_id.is_none_or(|id| b.product_id == id)
                && !b.deleted
                && allows(&product_filter, Some(&b.product_id))
                && allows(&number, Some(&b.number))
                && allows(&batch_type, Some(&b.batch_type))
                && allows(&expiration_date, b.expiration_date.as_ref())
                && allows(&client_id, b.client_id.as_ref())
        })
        .collect();
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "batches",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// `GET /inventory/products/batches`: batches of every product.
pub async fn search_batches(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<Batch>>, ApiError> {
    batches(&state, &params, None)
}

/// `GET /inventory/products/{id}/batches`: an unknown product has none.
pub async fn product_batches(
    State(state): State<PulpoState>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Json<ListResponse<Batch>>, ApiError> {
    let id = parse_id("id", &id)?;
    batches(&state, &params, Some(id))
}

/// `GET /inventory/products/batches/{id}` → the `Batch` (the spec gives no schema), 404 when
/// unknown.
pub async fn show_batch(
    State(state): State<PulpoState>,
    Path(id): Path<String>,
) -> Result<Json<Batch>, ApiError> {
    let id = parse_id("id", &id)?;
    state
        .store()
        .batches
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// `GET /inventory/stocks/availability` → a bare array, one entry per known product asked
/// for, by id; `id` and `warehouse_id` are lists (`id=1,2`, `id=1&id=2`, `id[]=1` or
/// `to_list:`). How many ids fit is bounded by the request line ([`super::limits`]).
pub async fn availability(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<Vec<Availability>>, ApiError> {
    let products = params.ids("id")?;
    let warehouses = params.ids("warehouse_id")?;
    let store = state.store();
    let include_warehouse = |id| warehouses.as_ref().is_none_or(|f| f.matches(&id));
    let answer = match products.as_ref().and_then(Filter::exactly) {
        Some(ids) => store.availability(Some(ids), |_| true, include_warehouse),
        None => store.availability(
            products.as_ref().and_then(Filter::candidates),
            |id| products.as_ref().is_none_or(|f| f.matches(&id)),
            include_warehouse,
        ),
    };
    Ok(Json(answer))
}

/// `GET /iam/third_parties` (filters `id`, `third_type`, `name`, `identifier_type`,
/// `identifier_number`, `erp_code`, `erp_id`, `active`).
pub async fn list_third_parties(
    State(state): State<PulpoState>,
    params: Params,
) -> Result<Json<ListResponse<ThirdParty>>, ApiError> {
    let id = params.ids("id")?;
    let third_type = params.text("third_type")?;
    let name = params.text("name")?;
    let identifier_type = params.text("identifier_type")?;
    let identifier_number = params.text("identifier_number")?;
    let erp_code = params.text("erp_code")?;
    let erp_id = params.text("erp_id")?;
    let active = params.flag("active")?;
    let page = params.page()?;
    let store = state.store();
    // Looking customers up by identifier (how a sync service matches them) uses the index
    // instead of scanning every third party.
    let candidates: Vec<&ThirdParty> = match identifier_number.as_ref().and_then(Filter::candidates)
    {
        Some(numbers) => {
            let mut found: Vec<&ThirdParty> = numbers
                .iter()
                .flat_map(|number| store.third_parties_by_identifier(number))
                .collect();
            found.sort_by_key(|t| t.id);
            found.dedup_by_key(|t| t.id);
            found
        }
        None => store.third_parties.values().collect(),
    };
    let matches: Vec<&ThirdParty> = candidates
        .into_iter()
        .filter(|t| {
            allows(&id, Some(&t.id))
                && allows(&third_type, Some(&t.third_type))
                && allows(&name, Some(&t.name))
                && allows(&identifier_type, Some(&t.identifier_type))
                && allows(&identifier_number, Some(&t.identifier_number))
                && allows(&erp_code, t.erp_code.as_ref())
                && allows(&erp_id, t.erp_id.as_ref())
                && active.is_none_or(|active| t.active == active)
        })
        .collect();
    let (page, total_results) = page.apply(matches);
    Ok(Json(ListResponse {
        key: "third_parties",
        items: page.into_iter().cloned().collect(),
        total_results,
    }))
}

/// `POST /iam/third_parties` → 201 `ThirdParty`.
pub async fn create_third_party(
    State(state): State<PulpoState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ThirdPartyBody = parse_json(&body)?;
    let third_party = state.store().create_third_party(body)?;
    Ok((StatusCode::CREATED, Json(third_party)).into_response())
}
