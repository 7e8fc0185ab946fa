//! The HTTP client: login and token renewal, retries, and one method per PULPO call tentacle makes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{StreamExt, stream};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use tentacle_http::{
    Backoff, MAX_ANSWER_BYTES, ReadError, read_capped, retry_after, transport_detail,
};

use crate::error::{PulpoError, Result, field_messages};
use crate::model::{
    Availability, Batch, BulkCreated, BulkOutcome, CreatedProduct, IncomingGood, NewCustomer,
    PackingBox, PackingOrder, PackingOrderFilter, Product, ProductBody, ProductBulkOutcome,
    ProductPage, SalesOrder, SalesOrderBody, ShipmentTracking, ShippedBatch, ShippedBox,
    ShippedItem, SkuAvailability, ThirdParty, Tracking, Warehouse,
};

/// What a PULPO credential holds.
#[derive(Clone)]
pub struct PulpoCredentials {
    /// Instance base URL including `/api/v1`, e.g. `https://eu.pulpo.co/api/v1`.
    pub base_url: String,
    /// `<tenant>_<user>`.
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for PulpoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulpoCredentials")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Per request, including reading the answer.
    pub timeout: Duration,
    /// Attempts per call for retryable failures (429, 5xx, transport), the first included.
    pub max_attempts: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Requests in flight at once, at most; further ones wait their turn. Set it to the
    /// concurrency PULPO serves: beyond it PULPO answers 429 and the request comes back later
    /// anyway. `None`: no limit.
    pub max_in_flight: Option<usize>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            max_attempts: 8,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_in_flight: None,
        }
    }
}

/// Records asked for per page of a list, at least.
const LIST_PAGE: usize = 100;
/// What `&limit=…&offset=…` may take of a request line: both numbers up to 10 digits.
const PAGING_PARAMS: usize = "&limit=&offset=".len() + 20;

/// Bytes kept free on an id-list request line for the other query parameters (`state`,
/// `updated_at=gte:<timestamp>`, `limit`, `offset`).
const LIST_QUERY_ALLOWANCE: usize = 200;

/// Products asked for per page when reading the whole catalog. PULPO documents no maximum
/// `limit`; 2000 is the largest page seen served in production (reference §B.3.1, there with
/// the undocumented `capped_limit=0`, which the spec does not allow us to send). PULPO caps
/// results at a size it does not document, so a page may hold fewer: paging advances by what
/// the first page held, never by what was asked.
pub const PRODUCT_PAGE: usize = 2000;

/// The longest request line PULPO serves: its Phoenix/Cowboy front refuses longer ones with
/// 414 (Cowboy's `max_request_line_length`, 8000 bytes; nginx's 8 KiB and Bandit's 10 000 are
/// looser). It is what bounds the product ids of one availability request: PULPO documents
/// no count limit for a list filter.
pub const MAX_REQUEST_LINE: usize = 8000;

/// Calls a fan-out helper runs at once when the client has no in-flight limit: enough to hide
/// PULPO's latency without flooding it.
const FAN_OUT_WITHOUT_LIMIT: usize = 8;

/// Counters of what the client did, for run summaries and metrics.
#[derive(Debug, Default)]
pub struct RequestStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub logins: AtomicU64,
}

/// Renew this long before PULPO says the token expires, so a request never leaves with a token
/// that dies in flight.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// How many times one request logs in again after a 401 before it calls the credentials
/// rejected. One is not enough: a token can be revoked again between the new login and its use.
const RENEWALS_AFTER_401: u32 = 3;

struct Token {
    value: SecretString,
    renew_at: Instant,
}

/// Whether a request may be sent again after it may have reached PULPO.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Replay {
    Safe,
    /// Creating: a second send could create a duplicate.
    Unsafe,
}

pub struct PulpoClient {
    http: reqwest::Client,
    base_url: String,
    username: String,
    password: SecretString,
    options: ClientOptions,
    token: tokio::sync::Mutex<Option<Token>>,
    in_flight: Option<tokio::sync::Semaphore>,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for PulpoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulpoClient")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .finish()
    }
}

/// The outcome of one attempt that is worth another try.
struct RetryLater {
    reason: String,
    retry_after: Option<Duration>,
}

impl PulpoClient {
    pub fn new(credentials: PulpoCredentials, options: ClientOptions) -> Result<PulpoClient> {
        let base_url = credentials.base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(PulpoError::BadBaseUrl(base_url));
        }
        let http = tentacle_http::client(options.timeout)
            .map_err(|e| PulpoError::Decode(e.to_string()))?;
        Ok(PulpoClient {
            http,
            base_url,
            username: credentials.username,
            password: credentials.password,
            in_flight: options
                .max_in_flight
                .map(|n| tokio::sync::Semaphore::new(n.max(1))),
            options,
            token: tokio::sync::Mutex::new(None),
            stats: Arc::new(RequestStats::default()),
        })
    }

    pub fn stats(&self) -> Arc<RequestStats> {
        self.stats.clone()
    }

    /// Logs in and lists warehouses: proves the URL, the credentials and API access.
    pub async fn check(&self) -> Result<Vec<Warehouse>> {
        self.warehouses().await
    }

    pub async fn warehouses(&self) -> Result<Vec<Warehouse>> {
        self.list("/warehouses/", "warehouses", &[("limit", "1000".into())])
            .await
    }

    /// The product with exactly this SKU, if PULPO has one.
    pub async fn product_by_sku(&self, sku: &str) -> Result<Option<Product>> {
        let products: Vec<Product> = self
            .list(
                "/inventory/products",
                "products",
                &[("sku", sku.to_string())],
            )
            .await?;
        // The filter may match loosely; only an exact SKU is the same product.
        Ok(products.into_iter().find(|p| p.sku.as_deref() == Some(sku)))
    }

    /// The products with exactly these SKUs that PULPO has, in as few requests as PULPO's list
    /// filter allows.
    pub async fn products_by_skus(&self, skus: &[&str]) -> Result<Vec<Product>> {
        let products: Vec<Product> = self
            .list_matching("/inventory/products", "products", &[], "sku", skus)
            .await?;
        Ok(products
            .into_iter()
            .filter(|p| p.sku.as_deref().is_some_and(|sku| skus.contains(&sku)))
            .collect())
    }

    /// Creates one product. Not replayed after a lost answer (it answers
    /// [`PulpoError::Ambiguous`]): look the SKU up before creating it again.
    pub async fn create_product(&self, body: &ProductBody) -> Result<Product> {
        self.call(
            Method::POST,
            "/inventory/products",
            &[],
            Some(body),
            Replay::Unsafe,
        )
        .await
    }

    /// Creates several products in one request (`POST /inventory/bulk/products`); PULPO
    /// continues past the ones it refuses. Not replayed after a lost answer: look the SKUs up.
    pub async fn create_products(&self, bodies: &[&ProductBody]) -> Result<ProductBulkOutcome> {
        let (status, answer) = self
            .send(
                Method::POST,
                "/inventory/bulk/products",
                &[],
                Some(bodies),
                Replay::Unsafe,
            )
            .await?;
        // 201 `{created: [ProductResponse]}`; 400 `{created: [...], errors: [ErrorsList]}`
        // with one errors list per refused product, in the order sent. A 400 without
        // `errors` is a verdict on the whole request.
        match status {
            s if s.is_success() => Ok(product_bulk_outcome(bodies, &answer)),
            StatusCode::BAD_REQUEST if answer.get("errors").is_some_and(Value::is_array) => {
                Ok(product_bulk_outcome(bodies, &answer))
            }
            s => Err(PulpoError::Rejected {
                status: s.as_u16(),
                errors: field_messages(&answer),
            }),
        }
    }

    /// Changes the fields `body` gives of product `id` (PULPO keeps the rest). Replayed after
    /// a lost answer: sending the same fields twice leaves the product as once.
    pub async fn update_product(&self, id: i64, body: &ProductBody) -> Result<Product> {
        self.call(
            Method::PUT,
            &format!("/inventory/products/{id}"),
            &[],
            Some(body),
            Replay::Safe,
        )
        .await
    }

    /// The products with these ids that PULPO has, deleted ones included (a shipped product
    /// may have been deleted since), in as few requests as PULPO's list filter allows.
    pub async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<Product>> {
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.list_matching(
            "/inventory/products",
            "products",
            &[("show_deleted", "true".to_string())],
            "id",
            &ids,
        )
        .await
    }

    /// One page of the active, not deleted products (`active=true&show_deleted=false`), in
    /// PULPO's order. `total_results` counts them over all pages. PULPO may serve fewer than
    /// `limit` (its result cap), so the next page starts at `offset + products.len()`.
    pub async fn products_page(&self, offset: usize, limit: usize) -> Result<ProductPage> {
        let query = [
            ("active", "true".to_string()),
            ("show_deleted", "false".to_string()),
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
        ];
        self.call::<(), _>(
            Method::GET,
            "/inventory/products",
            &query,
            None,
            Replay::Safe,
        )
        .await
    }

    /// Every active, not deleted product, by id: the first page tells how many PULPO serves
    /// per page, then the other pages are read up to the in-flight limit at once.
    pub async fn active_products(&self) -> Result<Vec<Product>> {
        let first = self.products_page(0, PRODUCT_PAGE).await?;
        let total = first.total_results;
        let step = first.products.len();
        let mut products = first.products;
        if step > 0 && step < total {
            products.reserve(total - step);
            let mut pages = stream::iter((step..total).step_by(step))
                .map(|offset| self.products_page(offset, step))
                .buffered(self.fan_out());
            while let Some(page) = pages.next().await {
                products.extend(page?.products);
            }
        }
        // PULPO filters them already; a product that changed between pages is not read as
        // active, nor twice.
        products.retain(|p| p.active != Some(false) && p.deleted != Some(true));
        products.sort_unstable_by_key(|p| p.id);
        products.dedup_by_key(|p| p.id);
        Ok(products)
    }

    /// Availability of these products in one warehouse, as PULPO reports it (negative when
    /// oversold; a product PULPO knows nothing of may be absent). The ids are sent as
    /// `id=to_list:…` in as few requests as the request line allows ([`MAX_REQUEST_LINE`]:
    /// about 1100 six-digit ids each), up to the in-flight limit at once. No ids, no request.
    pub async fn stock_availability(
        &self,
        warehouse_id: i64,
        product_ids: &[i64],
    ) -> Result<Vec<Availability>> {
        let prefix =
            format!("/inventory/stocks/availability?warehouse_id={warehouse_id}&id=to_list:");
        // The paths are built before the requests: a stream of futures borrowing the batches
        // would not be `Send` for callers that hold this future across threads.
        let paths = self.id_list_paths(&prefix, product_ids);
        let mut answers = stream::iter(paths)
            .map(|path| async move {
                self.call::<(), Vec<Availability>>(Method::GET, &path, &[], None, Replay::Safe)
                    .await
            })
            .buffer_unordered(self.fan_out());
        let mut availability = Vec::with_capacity(product_ids.len());
        while let Some(answer) = answers.next().await {
            availability.extend(answer?);
        }
        Ok(availability)
    }

    /// Every active product with a SKU and its availability in the warehouse: the products
    /// page by page, then their availability in batches, both up to the in-flight limit at
    /// once. A product PULPO reports no availability for has 0; negative values are kept
    /// (the caller clamps). Ordered by product id.
    pub async fn available_stock_by_sku(&self, warehouse_id: i64) -> Result<Vec<SkuAvailability>> {
        let mut products = self.active_products().await?;
        // Without a SKU a product cannot be matched to a Shopify variant.
        products.retain(|p| p.sku.as_deref().is_some_and(|sku| !sku.trim().is_empty()));
        let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
        let mut available: HashMap<i64, i64> = HashMap::with_capacity(ids.len());
        for entry in self.stock_availability(warehouse_id, &ids).await? {
            // One entry per product is PULPO's shape; summing keeps a split answer right too.
            *available.entry(entry.product_id).or_default() += entry.available_quantity;
        }
        Ok(products
            .into_iter()
            .filter_map(|product| {
                Some(SkuAvailability {
                    available_quantity: available.get(&product.id).copied().unwrap_or(0),
                    product_id: product.id,
                    sku: product.sku?,
                })
            })
            .collect())
    }

    /// How many calls a fan-out helper runs at once: the in-flight limit, which the requests
    /// wait for anyway.
    fn fan_out(&self) -> usize {
        self.options
            .max_in_flight
            .unwrap_or(FAN_OUT_WITHOUT_LIMIT)
            .max(1)
    }

    /// The third party with this id, if PULPO has one.
    pub async fn third_party(&self, id: i64) -> Result<Option<ThirdParty>> {
        match self
            .call::<(), ThirdParty>(
                Method::GET,
                &format!("/iam/third_parties/{id}"),
                &[],
                None,
                Replay::Safe,
            )
            .await
        {
            Ok(party) => Ok(Some(party)),
            Err(PulpoError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Customers (third parties of type `C`) with this identifier number.
    pub async fn customers_by_identifier(
        &self,
        identifier_number: &str,
    ) -> Result<Vec<ThirdParty>> {
        let parties: Vec<ThirdParty> = self
            .list(
                "/iam/third_parties",
                "third_parties",
                &[
                    ("third_type", "C".into()),
                    ("identifier_number", identifier_number.to_string()),
                ],
            )
            .await?;
        Ok(parties
            .into_iter()
            .filter(|p| p.identifier_number.as_deref() == Some(identifier_number))
            .collect())
    }

    /// Customers (third parties of type `C`) with any of these identifier numbers, in as few
    /// requests as PULPO's list filter allows.
    pub async fn customers_by_identifiers(
        &self,
        identifier_numbers: &[&str],
    ) -> Result<Vec<ThirdParty>> {
        let parties: Vec<ThirdParty> = self
            .list_matching(
                "/iam/third_parties",
                "third_parties",
                &[("third_type", "C".into())],
                "identifier_number",
                identifier_numbers,
            )
            .await?;
        Ok(parties
            .into_iter()
            .filter(|p| {
                p.identifier_number
                    .as_deref()
                    .is_some_and(|n| identifier_numbers.contains(&n))
            })
            .collect())
    }

    /// Creating a customer twice would only make a second customer record, never a second
    /// shipment, so an unconfirmed create is looked up by the caller like any other.
    pub async fn create_customer(&self, customer: &NewCustomer) -> Result<ThirdParty> {
        self.call(
            Method::POST,
            "/iam/third_parties",
            &[],
            Some(customer),
            Replay::Unsafe,
        )
        .await
    }

    pub async fn sales_order(&self, id: i64) -> Result<SalesOrder> {
        self.call::<(), _>(
            Method::GET,
            &format!("/sales/orders/{id}"),
            &[],
            None,
            Replay::Safe,
        )
        .await
    }

    /// The sales order with this `order_num`, if PULPO has one (it is unique in PULPO).
    pub async fn sales_order_by_num(&self, order_num: &str) -> Result<Option<SalesOrder>> {
        let orders: Vec<SalesOrder> = self
            .list(
                "/sales/orders",
                "sales_orders",
                &[("order_num", order_num.to_string())],
            )
            .await?;
        Ok(orders.into_iter().find(|o| o.order_num == order_num))
    }

    /// The sales orders with these `order_num`s that PULPO has, in as few requests as PULPO's
    /// list filter allows.
    pub async fn sales_orders_by_nums(&self, order_nums: &[&str]) -> Result<Vec<SalesOrder>> {
        let orders: Vec<SalesOrder> = self
            .list_matching(
                "/sales/orders",
                "sales_orders",
                &[],
                "order_num",
                order_nums,
            )
            .await?;
        Ok(orders
            .into_iter()
            .filter(|o| order_nums.contains(&o.order_num.as_str()))
            .collect())
    }

    /// Creates one sales order. On [`PulpoError::Ambiguous`] the order may exist: look it up by
    /// `order_num` before creating it again.
    pub async fn create_sales_order(&self, body: &SalesOrderBody) -> Result<SalesOrder> {
        self.call(
            Method::POST,
            "/sales/orders",
            &[],
            Some(body),
            Replay::Unsafe,
        )
        .await
    }

    /// Creates several sales orders in one request; PULPO continues past the ones it refuses.
    pub async fn create_sales_orders(&self, bodies: &[&SalesOrderBody]) -> Result<BulkOutcome> {
        let (status, answer) = self
            .send(
                Method::POST,
                "/sales/bulk/orders",
                &[],
                Some(bodies),
                Replay::Unsafe,
            )
            .await?;
        // 201: all created; 400: `{created: [...], errors: {<order_num>: ...}}`. A 400 without
        // `created` is a verdict on the whole request.
        match status {
            s if s.is_success() => Ok(bulk_outcome(&answer)),
            StatusCode::BAD_REQUEST if answer.get("created").is_some_and(Value::is_array) => {
                Ok(bulk_outcome(&answer))
            }
            s => Err(PulpoError::Rejected {
                status: s.as_u16(),
                errors: field_messages(&answer),
            }),
        }
    }

    /// Replaces the sales order (PULPO allows it while the order is in `queue`).
    pub async fn update_sales_order(&self, id: i64, body: &SalesOrderBody) -> Result<SalesOrder> {
        self.call(
            Method::PUT,
            &format!("/sales/orders/{id}"),
            &[],
            Some(body),
            Replay::Safe,
        )
        .await
    }

    /// Cancels; PULPO refuses (`Rejected`, 422) when the order has ended, or is being picked and
    /// no packing location is free.
    pub async fn cancel_sales_order(&self, id: i64) -> Result<SalesOrder> {
        self.call::<(), _>(
            Method::POST,
            &format!("/sales/orders/{id}/cancel"),
            &[],
            None,
            Replay::Safe,
        )
        .await
    }

    /// The packing orders matching `filter`, every page, by id. Sales order ids go out as
    /// `sales_order_id=to_list:…` in as few requests as the request line allows
    /// ([`MAX_REQUEST_LINE`]), up to the in-flight limit at once.
    pub async fn packing_orders(&self, filter: &PackingOrderFilter) -> Result<Vec<PackingOrder>> {
        let mut query: Vec<(&str, String)> = Vec::new();
        match filter.states.as_slice() {
            [] => {}
            [state] => query.push(("state", state.clone())),
            states => query.push(("state", format!("to_list:{}", states.join(",")))),
        }
        if let Some(since) = filter.updated_since {
            // ISO-8601 UTC with microseconds, as Workato sends it (reference §B.3.3): PULPO's
            // own timestamps have microseconds, so a cursor taken from one loses nothing.
            let since = since.to_rfc3339_opts(SecondsFormat::Micros, true);
            query.push(("updated_at", format!("gte:{since}")));
        }
        let paths: Vec<String> = match &filter.sales_order_ids {
            None => vec!["/packing/orders".to_string()],
            Some(ids) => self.id_list_paths("/packing/orders?sales_order_id=to_list:", ids),
        };
        let query = &query;
        let mut answers = stream::iter(paths)
            .map(|path| async move {
                self.list_all::<PackingOrder>(&path, "packing_orders", query, LIST_PAGE)
                    .await
            })
            .buffer_unordered(self.fan_out());
        let mut orders = Vec::new();
        while let Some(answer) = answers.next().await {
            orders.extend(answer?);
        }
        // A packing order that changed between pages may be read twice.
        orders.sort_unstable_by_key(|o| o.id);
        orders.dedup_by_key(|o| o.id);
        Ok(orders)
    }

    /// The customer returns received at or after `since` (incoming goods of document type
    /// `return`, `inserted_at=gte:`; inclusive, so a receipt in the same instant as the last
    /// run's cursor is read again, never missed), every page, by id.
    pub async fn returns_received_since(&self, since: DateTime<Utc>) -> Result<Vec<IncomingGood>> {
        let since = since.to_rfc3339_opts(SecondsFormat::Micros, true);
        let query = [
            ("document_type", "return".to_string()),
            ("inserted_at", format!("gte:{since}")),
        ];
        let mut goods: Vec<IncomingGood> = self
            .list_all(
                "/reception/incoming_goods",
                "incoming_goods",
                &query,
                LIST_PAGE,
            )
            .await?;
        // One received between pages may be read twice.
        goods.sort_unstable_by_key(|g| g.id);
        goods.dedup_by_key(|g| g.id);
        Ok(goods)
    }

    /// Every box of a packing order with its items and their batches, every page.
    pub async fn packing_boxes(&self, packing_order_id: i64) -> Result<Vec<PackingBox>> {
        self.list_all(
            &format!("/packing/orders/{packing_order_id}/boxes"),
            "packing_boxes",
            &[],
            LIST_PAGE,
        )
        .await
    }

    /// The shipment trackings (carrier labels) of one box.
    pub async fn shipment_trackings(
        &self,
        packing_order_id: i64,
        box_id: i64,
    ) -> Result<Vec<ShipmentTracking>> {
        // The spec gives this list no `limit`/`offset`: a box has a label or a few.
        self.list(
            &format!("/packing/orders/{packing_order_id}/boxes/{box_id}/shipment_tracking"),
            "shipment_trackings",
            &[],
        )
        .await
    }

    /// One lot or serial number by id (`GET /inventory/products/batches/{id}`).
    pub async fn batch(&self, id: i64) -> Result<Batch> {
        self.call::<(), _>(
            Method::GET,
            &format!("/inventory/products/batches/{id}"),
            &[],
            None,
            Replay::Safe,
        )
        .await
    }

    /// Every box PULPO packed for these sales orders, with items, lot and serial numbers and
    /// tracking: what a shipment run compares with what Shopify has. Requests: the packing
    /// orders in `to_list:` batches, then one per packing order that has started (not `queue`
    /// or `draft`), one per box for its trackings, one per distinct batch for its number, each
    /// stage up to the in-flight limit at once (PULPO offers no filter that reads boxes or
    /// trackings of several packing orders together). Boxes without items are left out.
    /// Ordered by sales order, packing order, box number. No ids, no request.
    pub async fn shipped_boxes(&self, sales_order_ids: &[i64]) -> Result<Vec<ShippedBox>> {
        let packing_orders = self
            .packing_orders(&PackingOrderFilter {
                sales_order_ids: Some(sales_order_ids.to_vec()),
                ..PackingOrderFilter::default()
            })
            .await?;
        let started: Vec<(i64, i64)> = packing_orders
            .iter()
            .filter(|o| !matches!(o.state.as_deref(), Some("queue" | "draft")))
            .filter_map(|o| Some((o.id, o.sales_order_id?)))
            .collect();
        let mut boxes: Vec<(i64, PackingBox)> = Vec::new();
        let mut answers = stream::iter(started)
            .map(|(packing_order_id, sales_order_id)| async move {
                self.packing_boxes(packing_order_id)
                    .await
                    .map(|boxes| (sales_order_id, boxes))
            })
            .buffer_unordered(self.fan_out());
        while let Some(answer) = answers.next().await {
            let (sales_order_id, found) = answer?;
            boxes.extend(
                found
                    .into_iter()
                    .filter(|b| !b.items.is_empty())
                    .map(|b| (sales_order_id, b)),
            );
        }
        drop(answers);

        let mut trackings: HashMap<i64, Tracking> = HashMap::new();
        let keys: Vec<(i64, i64)> = boxes
            .iter()
            .map(|(_, b)| (b.packing_order_id, b.id))
            .collect();
        let mut answers = stream::iter(keys)
            .map(|(packing_order_id, box_id)| async move {
                self.shipment_trackings(packing_order_id, box_id)
                    .await
                    .map(|found| (box_id, found))
            })
            .buffer_unordered(self.fan_out());
        while let Some(answer) = answers.next().await {
            let (box_id, found) = answer?;
            if let Some(tracking) = newest_tracking(found) {
                trackings.insert(box_id, tracking);
            }
        }
        drop(answers);

        let mut batch_ids: Vec<i64> = boxes
            .iter()
            .flat_map(|(_, b)| &b.items)
            .flat_map(|item| &item.batches)
            .map(|batch| batch.batch_id)
            .collect();
        batch_ids.sort_unstable();
        batch_ids.dedup();
        let mut numbers: HashMap<i64, String> = HashMap::with_capacity(batch_ids.len());
        let mut answers = stream::iter(batch_ids)
            .map(|id| self.batch(id))
            .buffer_unordered(self.fan_out());
        while let Some(answer) = answers.next().await {
            let batch = answer?;
            numbers.insert(batch.id, batch.number);
        }
        drop(answers);

        let mut shipped: Vec<ShippedBox> = boxes
            .into_iter()
            .map(|(sales_order_id, packing_box)| {
                let items = packing_box
                    .items
                    .into_iter()
                    .map(|item| ShippedItem {
                        product_id: item.product_id,
                        quantity: item.quantity,
                        line_order_id: item.line_order_id,
                        batches: item
                            .batches
                            .into_iter()
                            .map(|batch| ShippedBatch {
                                number: numbers.get(&batch.batch_id).cloned().unwrap_or_default(),
                                batch_id: batch.batch_id,
                                quantity: batch.quantity,
                            })
                            .collect(),
                    })
                    .collect();
                ShippedBox {
                    sales_order_id,
                    packing_order_id: packing_box.packing_order_id,
                    box_id: packing_box.id,
                    box_number: packing_box.box_number,
                    items,
                    tracking: trackings.remove(&packing_box.id),
                }
            })
            .collect();
        shipped.sort_unstable_by_key(|b| {
            (b.sales_order_id, b.packing_order_id, b.box_number, b.box_id)
        });
        Ok(shipped)
    }

    /// `prefix` (a path ending in `=to_list:`) with `ids` appended, split into as few paths as
    /// keep each request line within [`MAX_REQUEST_LINE`], with room for the other query
    /// parameters a list request adds.
    fn id_list_paths(&self, prefix: &str, ids: &[i64]) -> Vec<String> {
        // The whole base URL is counted though only its path is on the request line: a margin.
        let fixed = "GET ".len()
            + self.base_url.len()
            + prefix.len()
            + LIST_QUERY_ALLOWANCE
            + " HTTP/1.1".len();
        let budget = MAX_REQUEST_LINE.saturating_sub(fixed);
        id_batches(ids, budget)
            .into_iter()
            .map(|batch| {
                let mut path = prefix.to_string();
                for (i, id) in batch.iter().enumerate() {
                    let separator = if i == 0 { "" } else { "," };
                    // Writing to a String cannot fail.
                    let _ = write!(path, "{separator}{id}");
                }
                path
            })
            .collect()
    }

    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>> {
        let answer: Value = self
            .call::<(), _>(Method::GET, path, query, None, Replay::Safe)
            .await?;
        let items = answer.get(key).cloned().unwrap_or(Value::Array(Vec::new()));
        serde_json::from_value(items).map_err(|e| PulpoError::Decode(format!("{path}: {e}")))
    }

    /// Every record of a list whose `field` is one of `values`: `field=to_list:a,b,…` in as few
    /// requests as the request line allows ([`MAX_REQUEST_LINE`]), up to the in-flight limit at
    /// once, each asking for a page as large as its list so one request usually answers it (and
    /// read page by page when PULPO holds more). A value with a comma cannot be in a list and is
    /// asked for alone. Answers come in the order of `values`.
    async fn list_matching<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        filters: &[(&str, String)],
        field: &str,
        values: &[&str],
    ) -> Result<Vec<T>> {
        let (listable, alone): (Vec<&str>, Vec<&str>) =
            values.iter().partition(|value| !value.contains(','));
        let fixed = "GET ".len()
            + self.base_url.len()
            + path.len()
            + " HTTP/1.1".len()
            + filters
                .iter()
                .map(|(name, value)| name.len() + encoded_len(value) + "&=".len())
                .sum::<usize>()
            + field.len()
            + encoded_len("to_list:")
            + "&=".len()
            + PAGING_PARAMS;
        let budget = MAX_REQUEST_LINE.saturating_sub(fixed);
        let mut conditions: Vec<(String, usize)> = value_batches(&listable, budget)
            .into_iter()
            .map(|batch| (format!("to_list:{}", batch.join(",")), batch.len()))
            .collect();
        conditions.extend(alone.into_iter().map(|value| (value.to_string(), 1)));
        let mut answers = stream::iter(conditions)
            .map(|(condition, count)| async move {
                let mut query = filters.to_vec();
                query.push((field, condition));
                self.list_all(path, key, &query, count.max(LIST_PAGE)).await
            })
            .buffered(self.fan_out());
        let mut items = Vec::new();
        while let Some(answer) = answers.next().await {
            items.extend(answer?);
        }
        Ok(items)
    }

    /// Every page of a list: `limit`/`offset` until `total_results` are read.
    async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<T>> {
        let mut items: Vec<T> = Vec::new();
        loop {
            let mut paged = query.to_vec();
            paged.push(("limit", limit.to_string()));
            paged.push(("offset", items.len().to_string()));
            let answer: Value = self
                .call::<(), _>(Method::GET, path, &paged, None, Replay::Safe)
                .await?;
            let page: Vec<T> = serde_json::from_value(
                answer.get(key).cloned().unwrap_or(Value::Array(Vec::new())),
            )
            .map_err(|e| PulpoError::Decode(format!("{path}: {e}")))?;
            let total = answer["total_results"].as_u64().unwrap_or(0) as usize;
            let read = page.len();
            items.extend(page);
            if read == 0 || items.len() >= total {
                return Ok(items);
            }
        }
    }

    /// One call; decodes a 2xx body into `T`, turns a 4xx into [`PulpoError::Rejected`].
    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        replay: Replay,
    ) -> Result<T> {
        let (status, answer) = self.send(method.clone(), path, query, body, replay).await?;
        if !status.is_success() {
            return Err(PulpoError::Rejected {
                status: status.as_u16(),
                errors: field_messages(&answer),
            });
        }
        serde_json::from_value(answer)
            .map_err(|e| PulpoError::Decode(format!("{method} {path}: {e}")))
    }

    /// One request with token handling and retries. Answers 2xx and the 4xx that are PULPO's
    /// verdict on the request (validation, conflicts) with their JSON body.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
        replay: Replay,
    ) -> Result<(StatusCode, Value)> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 0;
        let mut renewals_after_401 = 0;
        loop {
            attempt += 1;
            let token = self.token().await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret())
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            // A turn is held until the answer is read, and released before any backoff.
            let sent = {
                let _turn = self.turn().await;
                match request.send().await {
                    Err(error) => Err(error),
                    Ok(response) => {
                        let status = response.status();
                        let retry_after = retry_after(&response);
                        Ok((
                            status,
                            retry_after,
                            read_capped(response, MAX_ANSWER_BYTES).await,
                        ))
                    }
                }
            };
            let failure = match sent {
                Err(error) if error.is_connect() => RetryLater {
                    reason: format!("cannot connect: {error}"),
                    retry_after: None,
                },
                Err(error) if replay == Replay::Unsafe => {
                    return Err(PulpoError::Ambiguous {
                        detail: transport_detail(&error),
                    });
                }
                Err(error) => RetryLater {
                    reason: transport_detail(&error),
                    retry_after: None,
                },
                Ok((status, retry_after, text)) => {
                    let text = match text {
                        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
                        // Asking again would only read the same flood again.
                        Err(ReadError::TooLarge { cap }) => {
                            return Err(PulpoError::TooLarge {
                                cap_mib: cap / (1024 * 1024),
                            });
                        }
                        Err(ReadError::Transport(detail)) if replay == Replay::Unsafe => {
                            return Err(PulpoError::Ambiguous { detail });
                        }
                        Err(ReadError::Transport(detail)) => {
                            self.backoff(
                                attempt,
                                &RetryLater {
                                    reason: detail,
                                    retry_after: None,
                                },
                            )
                            .await?;
                            continue;
                        }
                    };
                    // Redirects are not followed (they would carry the token elsewhere).
                    if status.is_redirection() {
                        return Err(PulpoError::Redirected {
                            status: status.as_u16(),
                        });
                    }
                    let parsed: Value = if text.trim().is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    };
                    match status {
                        s if s.is_success() => return Ok((s, parsed)),
                        StatusCode::UNAUTHORIZED if renewals_after_401 < RENEWALS_AFTER_401 => {
                            // The token may have been revoked or expired early: log in again.
                            // A login that succeeds proves the credentials, so a token that
                            // expires again before its first use is renewed again, a few times.
                            renewals_after_401 += 1;
                            self.forget_token(&token).await;
                            attempt -= 1;
                            continue;
                        }
                        StatusCode::UNAUTHORIZED => return Err(PulpoError::Unauthorized),
                        StatusCode::NOT_FOUND => {
                            // A path may carry its query (long id lists); the route names it.
                            let route = path.split_once('?').map_or(path, |(route, _)| route);
                            return Err(PulpoError::NotFound {
                                what: route.to_string(),
                            });
                        }
                        StatusCode::TOO_MANY_REQUESTS => RetryLater {
                            reason: "429 Too Many Requests".into(),
                            retry_after,
                        },
                        s if s.is_server_error() && replay == Replay::Unsafe => {
                            return Err(PulpoError::Ambiguous {
                                detail: format!("{s} from {method} {path}"),
                            });
                        }
                        s if s.is_server_error() => RetryLater {
                            reason: format!("{s}"),
                            retry_after,
                        },
                        s => return Ok((s, parsed)),
                    }
                }
            };
            self.backoff(attempt, &failure).await?;
        }
    }

    /// A turn among the requests allowed in flight (none needed without a limit).
    async fn turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match &self.in_flight {
            Some(semaphore) => semaphore.acquire().await.ok(),
            None => None,
        }
    }

    /// Sleeps before the next attempt, or gives up after `max_attempts`.
    async fn backoff(&self, attempt: u32, failure: &RetryLater) -> Result<()> {
        if attempt >= self.options.max_attempts {
            return Err(PulpoError::Unavailable {
                attempts: attempt,
                last: failure.reason.clone(),
            });
        }
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        let backoff = Backoff {
            min: self.options.min_backoff,
            max: self.options.max_backoff,
        };
        let delay = backoff.delay(attempt, failure.retry_after);
        tracing::debug!(attempt, reason = %failure.reason, delay_ms = delay.as_millis() as u64, "PULPO request will be retried");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// A valid bearer token, logging in when there is none or it is about to expire.
    async fn token(&self) -> Result<SecretString> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let token = self.login().await?;
        let value = token.value.clone();
        *slot = Some(token);
        Ok(value)
    }

    async fn forget_token(&self, used: &SecretString) {
        let mut slot = self.token.lock().await;
        // Another request may already have renewed it; keep a newer token.
        if slot
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == used.expose_secret())
        {
            *slot = None;
        }
    }

    async fn login(&self) -> Result<Token> {
        let url = format!("{}/auth", self.base_url);
        let body = json!({
            "username": self.username,
            "password": self.password.expose_secret(),
            "scope": "default",
            "grant_type": "password",
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.stats.logins.fetch_add(1, Ordering::Relaxed);
            let sent = {
                let _turn = self.turn().await;
                self.http.post(&url).json(&body).send().await
            };
            let failure = match sent {
                Err(error) => RetryLater {
                    reason: transport_detail(&error),
                    retry_after: None,
                },
                Ok(response) if response.status().is_redirection() => {
                    return Err(PulpoError::Redirected {
                        status: response.status().as_u16(),
                    });
                }
                Ok(response) if response.status().is_success() => {
                    let body = read_capped(response, MAX_ANSWER_BYTES)
                        .await
                        .map_err(|error| match error {
                            ReadError::TooLarge { cap } => PulpoError::TooLarge {
                                cap_mib: cap / (1024 * 1024),
                            },
                            ReadError::Transport(_) => {
                                PulpoError::Decode(format!("/auth: {error}"))
                            }
                        })?;
                    let answer: Value = serde_json::from_slice(&body)
                        .map_err(|e| PulpoError::Decode(format!("/auth: {e}")))?;
                    let access_token = answer["access_token"].as_str().ok_or_else(|| {
                        PulpoError::Decode("/auth answered without access_token".into())
                    })?;
                    let lifetime =
                        Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(3600));
                    let margin = if lifetime > TOKEN_MARGIN * 2 {
                        TOKEN_MARGIN
                    } else {
                        lifetime / 2
                    };
                    return Ok(Token {
                        value: SecretString::from(access_token.to_string()),
                        renew_at: Instant::now() + lifetime - margin,
                    });
                }
                Ok(response)
                    if matches!(
                        response.status(),
                        StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN
                    ) =>
                {
                    return Err(PulpoError::LoginRefused {
                        username: self.username.clone(),
                    });
                }
                Ok(response) => RetryLater {
                    reason: format!("/auth answered {}", response.status()),
                    retry_after: retry_after(&response),
                },
            };
            self.backoff(attempt, &failure).await?;
        }
    }
}

/// Splits ids into consecutive batches whose comma-separated list fits `budget` bytes (one id
/// alone always makes a batch, whatever its length).
fn id_batches(ids: &[i64], budget: usize) -> Vec<&[i64]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (index, &id) in ids.iter().enumerate() {
        let digits = decimal_len(id);
        if index > start && used + 1 + digits > budget {
            batches.push(&ids[start..index]);
            start = index;
            used = digits;
        } else {
            used += digits + usize::from(index > start);
        }
    }
    if start < ids.len() {
        batches.push(&ids[start..]);
    }
    batches
}

/// Splits values into consecutive batches whose `to_list:` list, percent-encoded as a query
/// value (each comma is `%2C`), fits `budget` bytes (one value alone always makes a batch).
fn value_batches<'v>(values: &'v [&'v str], budget: usize) -> Vec<&'v [&'v str]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (index, value) in values.iter().enumerate() {
        let length = encoded_len(value);
        if index > start && used + ENCODED_COMMA + length > budget {
            batches.push(&values[start..index]);
            start = index;
            used = length;
        } else {
            used += length + if index > start { ENCODED_COMMA } else { 0 };
        }
    }
    if start < values.len() {
        batches.push(&values[start..]);
    }
    batches
}

/// `,` in a query value.
const ENCODED_COMMA: usize = "%2C".len();

/// Bytes of `value` as a query value (`application/x-www-form-urlencoded`, what reqwest sends):
/// letters, digits and `*-._` as they are, a space as `+`, any other byte as `%XX`.
fn encoded_len(value: &str) -> usize {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' | b' ' => 1,
            _ => 3,
        })
        .sum()
}

/// Characters of `id` in decimal, sign included.
fn decimal_len(id: i64) -> usize {
    let digits = id
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |log| log as usize + 1);
    digits + usize::from(id < 0)
}

/// The newest label of a box that has a tracking code (a box re-labelled may keep older ones).
fn newest_tracking(trackings: Vec<ShipmentTracking>) -> Option<Tracking> {
    trackings
        .into_iter()
        .filter_map(|t| {
            let tracking_code = t.tracking_code.filter(|code| !code.trim().is_empty())?;
            Some(Tracking {
                id: t.id,
                carrier_code: t.carrier_code,
                tracking_code,
                tracking_url: t.tracking_url,
                updated_at: t.updated_at,
            })
        })
        .max_by_key(|t| t.id)
}

/// Reads a bulk product answer. `created` comes flat (`[ProductResponse]`, the 201) or, in the
/// 400, as the spec's `BulkErrorsProductsResponse` has it: `[BulkProductResponse]`, each with
/// its own `created` list. The errors carry no SKU, so they are paired, in order, with the
/// SKUs sent that were not created.
fn product_bulk_outcome(bodies: &[&ProductBody], answer: &Value) -> ProductBulkOutcome {
    let mut created = Vec::new();
    for entry in answer["created"].as_array().into_iter().flatten() {
        match entry.get("created").and_then(Value::as_array) {
            Some(inner) => created.extend(
                inner
                    .iter()
                    .filter_map(|p| serde_json::from_value::<CreatedProduct>(p.clone()).ok()),
            ),
            None => created.extend(serde_json::from_value::<CreatedProduct>(entry.clone()).ok()),
        }
    }
    let made: std::collections::HashSet<&str> = created.iter().map(|p| p.sku.as_str()).collect();
    let mut errors = answer["errors"].as_array().into_iter().flatten();
    let refused = bodies
        .iter()
        .filter_map(|body| body.sku.as_deref())
        .filter(|sku| !made.contains(sku))
        .map(|sku| {
            let reasons = errors
                .next()
                .map(field_messages)
                .filter(|reasons| !reasons.is_empty())
                .unwrap_or_else(|| {
                    vec![crate::FieldMessage {
                        field: "sku".into(),
                        message: "was not created, and PULPO gave no reason".into(),
                    }]
                });
            (sku.to_string(), reasons)
        })
        .collect();
    ProductBulkOutcome { created, refused }
}

fn bulk_outcome(answer: &Value) -> BulkOutcome {
    let created: Vec<BulkCreated> =
        serde_json::from_value(answer["created"].clone()).unwrap_or_default();
    let errors = match answer.get("errors") {
        Some(Value::Object(by_order)) => by_order
            .iter()
            .map(|(order_num, error)| {
                (order_num.clone(), field_messages(&json!({"errors": error})))
            })
            .collect(),
        _ => Vec::new(),
    };
    BulkOutcome { created, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_batches_fill_the_budget_and_keep_every_id_once() {
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(9), 1);
        assert_eq!(decimal_len(10), 2);
        assert_eq!(decimal_len(-10), 3);
        assert_eq!(decimal_len(i64::MIN), 20);
        let ids = [1, 22, 333, 4444, 5];
        // "1,22" is 4 bytes, "1,22,333" 8.
        assert_eq!(
            id_batches(&ids, 7),
            [&[1, 22][..], &[333][..], &[4444, 5][..]]
        );
        assert_eq!(
            id_batches(&ids, 2),
            [&[1][..], &[22], &[333], &[4444], &[5]]
        );
        assert_eq!(id_batches(&[], 100), Vec::<&[i64]>::new());
        let many: Vec<i64> = (100_000..200_000).collect();
        let batches = id_batches(&many, 7000);
        assert!(batches.iter().all(|b| b.len() * 7 - 1 <= 7000));
        assert_eq!(batches[0].len(), 1000);
        assert_eq!(batches.concat(), many);
    }

    #[test]
    fn value_batches_count_values_percent_encoded() {
        assert_eq!(encoded_len("CAM-0003-M"), 10);
        assert_eq!(encoded_len("a b/ñ"), 3 + 3 + 6);
        let values = ["AB", "C,D", "EF", "G"];
        // "AB%2CC%2CD" is 12 bytes: the comma inside a value counts as encoded too.
        assert_eq!(
            value_batches(&values, 12),
            [&["AB", "C,D"][..], &["EF", "G"][..]]
        );
        assert_eq!(
            value_batches(&values, 1),
            [&["AB"][..], &["C,D"], &["EF"], &["G"]]
        );
        let skus: Vec<String> = (1..=1000).map(|n| format!("BENCH-{n:06}")).collect();
        let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
        let batches = value_batches(&skus, 7000);
        assert!(batches.iter().all(|b| b.len() * 15 - 3 <= 7000));
        assert_eq!(batches[0].len(), 466);
        assert_eq!(batches.concat(), skus);
    }
}
