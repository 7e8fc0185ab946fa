//! The PULPO WMS REST API v1 sandbox.
//!
//! Serves the part of PULPO's API tentacle uses, under `/api/v1` (every route in [`ROUTES`],
//! paths exactly as in PULPO's Swagger spec), over a tenant seeded from the shared catalog:
//! the warehouses [`SHARED_WAREHOUSES`](crate::catalog::SHARED_WAREHOUSES) +
//! [`PULPO_ONLY_WAREHOUSE`](crate::catalog::PULPO_ONLY_WAREHOUSE) (ids 1, 2, 3), the catalog
//! products PULPO knows (product id = catalog index; stock in the first shared warehouse) and
//! the customer "Fallback customer" (third party id 1). Every route but `GET /` and
//! `POST /auth` needs a bearer token from `POST /auth`.
//!
//! Requests pass, outermost first: the request line length check, the concurrency cap and
//! per-request latency ([`limits`]), the shared fault injection ([`crate::faults`]), the token check ([`auth`]),
//! then the handler. The control API under `/sandbox/` ([`control`]) skips all of that.
//! Trailing slashes are ignored, as in PULPO's Phoenix router (`/warehouses` = `/warehouses/`).
//!
//! Choices where PULPO's documents are silent are recorded where they are made: lists default
//! to 10 per page; PUT on an order that has left `queue` is a 422 naming `state`; cancelling a
//! cancelled order is a 422; 404 and 429 reuse the `AuthError` shape; availability answers 0
//! for a known product without stock rather than leaving it out, and keeps a negative value.
//! Packing box items carry their `PackingBoxItemBatch`es as `batches` (the spec defines the
//! record but no endpoint returning it); the batch endpoints answer `Batch` and
//! `{batches, total_results}` (the spec gives them no schema); a box's newest tracking is
//! changed in place and moves the box's and its packing order's `updated_at`. A return received
//! (control API) is an incoming good of document type `return`, in state `checked`, whose
//! units are back in the warehouse's stock at once.

pub mod auth;
pub mod control;
pub mod error;
pub mod inventory;
pub mod limits;
pub mod model;
pub mod packing;
pub mod query;
pub mod reception;
pub mod sales;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, map_request};
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::catalog::DEFAULT_UNKNOWN_SHARE;
use crate::faults::{FaultSettings, Faults};
use crate::{RunningServer, StartError};
pub use limits::{Limits, PulpoStatsSnapshot};
use model::{Id, Product, SalesOrder};
use store::Store;

/// PULPO's API base path.
pub const BASE_PATH: &str = "/api/v1";

/// Everything a PULPO sandbox is started with.
#[derive(Debug, Clone)]
pub struct PulpoConfig {
    pub listen: SocketAddr,
    /// Seeds the catalog (shared with the Shopify sandbox), tokens and fault dice.
    pub seed: u64,
    /// Share of catalog products PULPO does not know.
    pub unknown_share: f64,
    /// The only credentials `POST /auth` accepts (`<tenant>_<user>` by PULPO's convention).
    pub username: String,
    pub password: String,
    /// Lifetime of issued tokens (`expires_in`), whole seconds.
    pub token_lifetime: Duration,
    /// Added to every API request.
    pub latency_ms: u64,
    /// Added per order of a bulk request.
    pub item_latency_ms: u64,
    /// Concurrent API requests served before answering 429; `None` is no cap.
    pub max_concurrency: Option<usize>,
    pub faults: FaultSettings,
}

impl Default for PulpoConfig {
    fn default() -> Self {
        PulpoConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8202)),
            seed: 1,
            unknown_share: DEFAULT_UNKNOWN_SHARE,
            username: "sandbox_admin".into(),
            password: "sandbox".into(),
            token_lifetime: Duration::from_secs(3600),
            latency_ms: 0,
            item_latency_ms: 0,
            max_concurrency: None,
            faults: FaultSettings::default(),
        }
    }
}

/// Shared state behind every handler. Cheap to clone.
#[derive(Clone)]
pub struct PulpoState {
    pub config: Arc<PulpoConfig>,
    store: Arc<Mutex<Store>>,
    tokens: Arc<Mutex<auth::Tokens>>,
    pub governor: Arc<limits::Governor>,
    pub faults: Faults,
}

impl FromRef<PulpoState> for Faults {
    fn from_ref(state: &PulpoState) -> Faults {
        state.faults.clone()
    }
}

impl PulpoState {
    pub fn new(config: PulpoConfig) -> PulpoState {
        let limits = Limits {
            latency_ms: config.latency_ms,
            item_latency_ms: config.item_latency_ms,
            max_concurrency: config.max_concurrency,
            token_lifetime_s: config.token_lifetime.as_secs(),
        };
        PulpoState {
            store: Arc::new(Mutex::new(Store::seeded(config.seed, config.unknown_share))),
            tokens: Arc::new(Mutex::new(auth::Tokens::new(config.seed))),
            governor: Arc::new(limits::Governor::new(limits)),
            faults: Faults::new(config.faults.clone(), config.seed),
            config: Arc::new(config),
        }
    }

    /// Locks the warehouse data. Never hold the guard across an `.await`.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // Store operations validate before they write, so a panic cannot leave the data
        // half-changed and a poisoned lock is still consistent.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tokens(&self) -> MutexGuard<'_, auth::Tokens> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every sales order, by id.
    pub fn sales_orders(&self) -> Vec<SalesOrder> {
        self.store().sales_orders.values().cloned().collect()
    }

    pub fn sales_order(&self, id: Id) -> Option<SalesOrder> {
        self.store().sales_orders.get(&id).cloned()
    }

    pub fn sales_order_by_num(&self, order_num: &str) -> Option<SalesOrder> {
        self.store().sales_order_by_num(order_num).cloned()
    }

    pub fn product_by_sku(&self, sku: &str) -> Option<Product> {
        self.store().product_by_sku(sku).cloned()
    }

    /// Physical stock of a product in a warehouse.
    pub fn stock(&self, product_id: Id, warehouse_id: Id) -> i64 {
        self.store().stock(product_id, warehouse_id)
    }
}

/// What a PULPO API route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Health,
    RequestToken,
    ListWarehouses,
    ListProducts,
    CreateProduct,
    UpdateProduct,
    BulkCreateProducts,
    ListThirdParties,
    CreateThirdParty,
    ShowThirdParty,
    ListSalesOrders,
    CreateSalesOrder,
    ShowSalesOrder,
    ReplaceSalesOrder,
    CancelSalesOrder,
    BulkCreateSalesOrders,
    BulkUpdateSalesOrders,
    StockAvailability,
    ListPackingOrders,
    ListPackingBoxes,
    SearchPackingBoxes,
    ListShipmentTrackings,
    SearchBatches,
    ShowBatch,
    ListProductBatches,
    ListIncomingGoods,
}

/// One PULPO API route: method and path as in the Swagger spec (relative to [`BASE_PATH`]).
#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    operation: Operation,
}

const fn route(method: Method, path: &'static str, operation: Operation) -> Route {
    Route {
        method,
        path,
        operation,
    }
}

/// Every PULPO API route the sandbox serves; the router is built from this table.
pub const ROUTES: &[Route] = &[
    route(Method::GET, "/", Operation::Health),
    route(Method::POST, "/auth", Operation::RequestToken),
    route(Method::GET, "/warehouses/", Operation::ListWarehouses),
    route(Method::GET, "/inventory/products", Operation::ListProducts),
    route(
        Method::POST,
        "/inventory/products",
        Operation::CreateProduct,
    ),
    route(
        Method::PUT,
        "/inventory/products/{id}",
        Operation::UpdateProduct,
    ),
    route(
        Method::POST,
        "/inventory/bulk/products",
        Operation::BulkCreateProducts,
    ),
    route(
        Method::GET,
        "/iam/third_parties",
        Operation::ListThirdParties,
    ),
    route(
        Method::POST,
        "/iam/third_parties",
        Operation::CreateThirdParty,
    ),
    route(
        Method::GET,
        "/iam/third_parties/{id}",
        Operation::ShowThirdParty,
    ),
    route(Method::GET, "/sales/orders", Operation::ListSalesOrders),
    route(Method::POST, "/sales/orders", Operation::CreateSalesOrder),
    route(Method::GET, "/sales/orders/{id}", Operation::ShowSalesOrder),
    route(
        Method::PUT,
        "/sales/orders/{id}",
        Operation::ReplaceSalesOrder,
    ),
    route(
        Method::POST,
        "/sales/orders/{id}/cancel",
        Operation::CancelSalesOrder,
    ),
    route(
        Method::POST,
        "/sales/bulk/orders",
        Operation::BulkCreateSalesOrders,
    ),
    route(
        Method::PUT,
        "/sales/bulk/orders",
        Operation::BulkUpdateSalesOrders,
    ),
    route(
        Method::GET,
        "/inventory/stocks/availability",
        Operation::StockAvailability,
    ),
    route(Method::GET, "/packing/orders", Operation::ListPackingOrders),
    route(
        Method::GET,
        "/packing/orders/{packing_order_id}/boxes",
        Operation::ListPackingBoxes,
    ),
    route(
        Method::GET,
        "/packing/orders/boxes/search",
        Operation::SearchPackingBoxes,
    ),
    route(
        Method::GET,
        "/packing/orders/{packing_order_id}/boxes/{box_id}/shipment_tracking",
        Operation::ListShipmentTrackings,
    ),
    route(
        Method::GET,
        "/inventory/products/batches",
        Operation::SearchBatches,
    ),
    route(
        Method::GET,
        "/inventory/products/batches/{id}",
        Operation::ShowBatch,
    ),
    route(
        Method::GET,
        "/inventory/products/{id}/batches",
        Operation::ListProductBatches,
    ),
    route(
        Method::GET,
        "/reception/incoming_goods",
        Operation::ListIncomingGoods,
    ),
];

impl Route {
    /// The path the router registers: under [`BASE_PATH`], without a trailing slash.
    fn router_path(&self) -> String {
        format!("{BASE_PATH}{}", self.path.trim_end_matches('/'))
    }

    fn method_router(&self, state: &PulpoState) -> MethodRouter<PulpoState> {
        let filter = MethodFilter::try_from(self.method.clone())
            .expect("ROUTES only uses standard HTTP methods");
        let router = match self.operation {
            Operation::Health => on(filter, health),
            Operation::RequestToken => on(filter, auth::request_token),
            Operation::ListWarehouses => on(filter, inventory::list_warehouses),
            Operation::ListProducts => on(filter, inventory::list_products),
            Operation::CreateProduct => on(filter, inventory::create_product),
            Operation::UpdateProduct => on(filter, inventory::update_product),
            Operation::BulkCreateProducts => on(filter, inventory::bulk_create_products),
            Operation::ListThirdParties => on(filter, inventory::list_third_parties),
            Operation::CreateThirdParty => on(filter, inventory::create_third_party),
            Operation::ShowThirdParty => on(filter, inventory::show_third_party),
            Operation::ListSalesOrders => on(filter, sales::list),
            Operation::CreateSalesOrder => on(filter, sales::create),
            Operation::ShowSalesOrder => on(filter, sales::show),
            Operation::ReplaceSalesOrder => on(filter, sales::replace),
            Operation::CancelSalesOrder => on(filter, sales::cancel),
            Operation::BulkCreateSalesOrders => on(filter, sales::bulk_create),
            Operation::BulkUpdateSalesOrders => on(filter, sales::bulk_update),
            Operation::StockAvailability => on(filter, inventory::availability),
            Operation::ListPackingOrders => on(filter, packing::list_orders),
            Operation::ListPackingBoxes => on(filter, packing::list_boxes),
            Operation::SearchPackingBoxes => on(filter, packing::search_boxes),
            Operation::ListShipmentTrackings => on(filter, packing::list_trackings),
            Operation::SearchBatches => on(filter, inventory::search_batches),
            Operation::ShowBatch => on(filter, inventory::show_batch),
            Operation::ListProductBatches => on(filter, inventory::product_batches),
            Operation::ListIncomingGoods => on(filter, reception::list_incoming_goods),
        };
        match self.operation {
            Operation::Health | Operation::RequestToken => router,
            _ => router.route_layer(from_fn_with_state(state.clone(), auth::require_token)),
        }
    }
}

/// `GET /`: PULPO's health check.
async fn health() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Unknown API paths.
async fn not_found() -> error::ApiError {
    error::ApiError::NotFound
}

/// Drops a trailing slash so `/warehouses/` and `/warehouses` reach the same route.
async fn strip_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// The sandbox's routes: the PULPO API (limited, faulted, authenticated) and the control API.
pub fn router(state: PulpoState) -> Router {
    let mut api = Router::new();
    for route in ROUTES {
        api = api.route(&route.router_path(), route.method_router(&state));
    }
    // Layers added later run first: the request line check, limits, then faults, then (per
    // route) the token check.
    let api = api
        .layer(from_fn_with_state(
            state.faults.clone(),
            crate::faults::inject,
        ))
        .layer(from_fn_with_state(state.clone(), limits::govern))
        .layer(axum::middleware::from_fn(limits::refuse_long_request_lines));
    let app = api
        .merge(control::routes())
        .fallback(not_found)
        .with_state(state);
    // Routing happens inside `app`, so the path must be normalised before it is reached.
    Router::new()
        .fallback_service(app)
        .layer(map_request(strip_trailing_slash))
}

/// A running PULPO sandbox.
pub struct PulpoSandbox {
    pub state: PulpoState,
    server: RunningServer,
}

impl PulpoSandbox {
    /// Seeds the tenant, binds `config.listen` and serves.
    pub async fn start(config: PulpoConfig) -> Result<PulpoSandbox, StartError> {
        if !(0.0..=1.0).contains(&config.unknown_share) {
            return Err(StartError::Seed(format!(
                "unknown_share must be between 0 and 1, got {}",
                config.unknown_share
            )));
        }
        let state = PulpoState::new(config);
        let server = RunningServer::start(state.config.listen, router(state.clone())).await?;
        Ok(PulpoSandbox { state, server })
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// `http://127.0.0.1:PORT/api/v1`: the PULPO URL to give tentacle.
    pub fn base_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.server.address())
    }

    /// `http://127.0.0.1:PORT/sandbox`: the control API.
    pub fn control_url(&self) -> String {
        format!("http://{}/sandbox", self.server.address())
    }

    pub fn stats(&self) -> PulpoStatsSnapshot {
        self.state.governor.snapshot()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}
