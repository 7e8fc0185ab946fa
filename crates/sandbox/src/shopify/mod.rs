//! The Shopify Admin GraphQL sandbox.
//!
//! Serves `POST /admin/api/{version}/graphql.json` with Shopify's auth, cost and throttle rules
//! over a generated or file-seeded shop, plus a control API under `/sandbox/` to create, change,
//! cancel and move orders and to inject faults. Changes are delivered as Shopify webhooks when a
//! webhook URL is configured.

pub mod control;
pub mod generator;
pub mod graphql;
pub mod model;
pub mod rest;
pub mod search;
pub mod throttle;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::faults::{FaultSettings, Faults};
use crate::{RunningServer, StartError};
use model::Shop;

/// Everything a Shopify sandbox is started with.
#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    pub listen: SocketAddr,
    /// The only `X-Shopify-Access-Token` accepted.
    pub access_token: String,
    pub seed: u64,
    /// Number of generated orders (ignored when `orders_file` is set).
    pub orders: usize,
    /// JSONL file of orders in Shopify's REST / `orders/create` webhook shape.
    pub orders_file: Option<PathBuf>,
    /// Cost bucket size (`maximumAvailable`).
    pub bucket: f64,
    /// Points restored per second (`restoreRate`).
    pub restore_rate: f64,
    pub faults: FaultSettings,
    /// A changed order shows up in `query:` searches only this long after the change (the
    /// starting value; `PUT /sandbox/index_lag` changes it at runtime).
    pub index_lag: Duration,
    pub webhooks: Option<webhooks::WebhookConfig>,
}

impl Default for ShopifyConfig {
    fn default() -> Self {
        ShopifyConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8201)),
            access_token: "shpat_sandbox".into(),
            seed: 1,
            orders: 50,
            orders_file: None,
            bucket: 2000.0,
            restore_rate: 100.0,
            faults: FaultSettings::default(),
            index_lag: Duration::ZERO,
            webhooks: None,
        }
    }
}

/// Counters a benchmark reads to compute the bound the sandbox's limits set.
#[derive(Debug, Default)]
pub struct ShopifyStats {
    /// GraphQL requests that reached the cost check (throttled ones included).
    pub requests: AtomicU64,
    /// Sum of `actualQueryCost` of executed requests: the points really spent.
    pub points_charged: AtomicU64,
    /// Requests answered `THROTTLED`.
    pub throttled: AtomicU64,
    /// Mutation requests executed (not throttled): what a client wrote, however it fared.
    pub mutations: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ShopifyStatsSnapshot {
    pub requests: u64,
    pub points_charged: u64,
    pub throttled: u64,
    pub mutations: u64,
}

impl ShopifyStats {
    pub fn snapshot(&self) -> ShopifyStatsSnapshot {
        ShopifyStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            points_charged: self.points_charged.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            mutations: self.mutations.load(Ordering::Relaxed),
        }
    }
}

/// Shared state behind every handler. Cheap to clone.
#[derive(Clone)]
pub struct ShopifyState {
    pub config: Arc<ShopifyConfig>,
    shop: Arc<Mutex<Shop>>,
    pub search_index: Arc<Mutex<search::SearchIndex>>,
    pub bucket: Arc<Mutex<throttle::CostBucket>>,
    pub faults: Faults,
    pub webhooks: Option<webhooks::WebhookSender>,
    pub stats: Arc<ShopifyStats>,
    /// `inventorySetQuantities` results by `@idempotent` key.
    pub idempotency: Arc<Mutex<graphql::IdempotencyStore>>,
    /// User errors armed through `POST /sandbox/refusals`.
    pub refusals: Arc<Mutex<graphql::Refusals>>,
}

/// Why a change to an order was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChangeError<E> {
    #[error("order {0} not found")]
    OrderNotFound(u64),
    #[error(transparent)]
    Refused(E),
}

impl ShopifyState {
    /// Locks the shop for reading or for changes that do not concern orders (inventory).
    /// Order changes go through [`ShopifyState::change_order`] so webhooks and the search index
    /// follow.
    pub fn shop(&self) -> MutexGuard<'_, Shop> {
        // Handlers never panic while holding the lock in a way that leaves the shop
        // half-written, so a poisoned lock is still consistent.
        self.shop
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` to order `order_id` under the shop lock. On success the order's
    /// `updatedAt` moves to now, the search index learns of the change (subject to index lag)
    /// and `topics` are delivered as webhooks with the order's new REST JSON.
    pub fn change_order<T, E>(
        &self,
        order_id: u64,
        topics: &[webhooks::Topic],
        change: impl FnOnce(&mut Shop, u64) -> Result<T, E>,
    ) -> Result<T, ChangeError<E>> {
        self.change_order_announcing(order_id, |shop, id| {
            change(shop, id).map(|output| (output, topics.to_vec()))
        })
    }

    /// [`ShopifyState::change_order`] for changes whose webhook topics depend on what they
    /// found (`orders/paid` only when the order became paid): `change` returns them.
    pub fn change_order_announcing<T, E>(
        &self,
        order_id: u64,
        change: impl FnOnce(&mut Shop, u64) -> Result<(T, Vec<webhooks::Topic>), E>,
    ) -> Result<T, ChangeError<E>> {
        self.change_order_restocking(order_id, true, change)
    }

    /// [`ShopifyState::change_order_announcing`] that says what happens to committed units the
    /// change releases without shipping them: back to `available` when `restock` (Shopify's
    /// `orderCancel(restock:)`), else gone from `on_hand`. Every order change moves the stock it
    /// commits and ships (see [`Shop::account_stock`]).
    pub fn change_order_restocking<T, E>(
        &self,
        order_id: u64,
        restock: bool,
        change: impl FnOnce(&mut Shop, u64) -> Result<(T, Vec<webhooks::Topic>), E>,
    ) -> Result<T, ChangeError<E>> {
        let now = Utc::now();
        let mut shop = self.shop();
        let before = match shop.orders.get(&order_id) {
            Some(order) => order.stock(&shop),
            None => return Err(ChangeError::OrderNotFound(order_id)),
        };
        let (output, topics) = change(&mut shop, order_id).map_err(ChangeError::Refused)?;
        let after = shop
            .orders
            .get(&order_id)
            .ok_or(ChangeError::OrderNotFound(order_id))?
            .stock(&shop);
        shop.account_stock(&before, &after, restock);
        let order = shop
            .orders
            .get_mut(&order_id)
            .ok_or(ChangeError::OrderNotFound(order_id))?;
        order.updated_at = next_timestamp(order.updated_at, now);
        let snapshot = order.clone();
        drop(shop);
        self.order_written(&snapshot, &topics);
        Ok(output)
    }

    /// How long a change takes to show up in `query:` searches.
    pub fn index_lag(&self) -> Duration {
        self.search_index().lag()
    }

    /// Changes the index lag for changes written from now on.
    pub fn set_index_lag(&self, lag: Duration) {
        self.search_index().set_lag(lag);
    }

    /// Locks the search index.
    pub fn search_index(&self) -> MutexGuard<'_, search::SearchIndex> {
        // Recording a change cannot panic half-way through, so a poisoned lock is consistent.
        self.search_index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Inserts a new order (already holding ids from this shop), commits the stock its
    /// fulfillment orders need at their locations, and announces it.
    pub fn insert_order(&self, order: model::Order, topics: &[webhooks::Topic]) {
        let snapshot = order.clone();
        let mut shop = self.shop();
        let stock = order.stock(&shop);
        shop.account_stock(&model::OrderStock::default(), &stock, true);
        shop.orders.insert(order.id, order);
        drop(shop);
        self.order_written(&snapshot, topics);
    }

    fn order_written(&self, order: &model::Order, topics: &[webhooks::Topic]) {
        let mut index = self.search_index();
        let lag = index.lag();
        index.record(order, Utc::now(), lag);
        drop(index);
        if let Some(sender) = &self.webhooks {
            for topic in topics {
                sender.deliver(*topic, order);
            }
        }
    }
}

/// Shopify timestamps have second precision; a change always moves `updatedAt` forward so that
/// `updated_at:>` cursors see it.
fn next_timestamp(previous: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{SubsecRound, TimeDelta};
    let now = now.trunc_subsecs(0);
    if now > previous {
        now
    } else {
        previous + TimeDelta::seconds(1)
    }
}

/// A running Shopify sandbox.
pub struct ShopifySandbox {
    pub state: ShopifyState,
    server: RunningServer,
}

impl ShopifySandbox {
    /// Seeds the shop (generated or from `orders_file`), binds `config.listen` and serves.
    pub async fn start(config: ShopifyConfig) -> Result<ShopifySandbox, StartError> {
        let state = build_state(config)?;
        let router = router(state.clone());
        let server = RunningServer::start(state.config.listen, router).await?;
        Ok(ShopifySandbox { state, server })
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// `http://127.0.0.1:PORT`: the shop URL to give tentacle's Shopify credentials.
    pub fn shop_url(&self) -> String {
        format!("http://{}", self.server.address())
    }

    /// The GraphQL endpoint for `version`.
    pub fn graphql_url(&self, version: &str) -> String {
        format!("{}/admin/api/{version}/graphql.json", self.shop_url())
    }

    pub fn stats(&self) -> ShopifyStatsSnapshot {
        self.state.stats.snapshot()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn build_state(config: ShopifyConfig) -> Result<ShopifyState, StartError> {
    let shop = match &config.orders_file {
        Some(path) => {
            generator::shop_from_orders_file(config.seed, path).map_err(StartError::Seed)?
        }
        None => generator::generate_shop(config.seed, config.orders),
    };
    let mut index = search::SearchIndex::with_lag(config.index_lag);
    let now = Utc::now();
    for order in shop.orders.values() {
        index.record(order, now, Duration::ZERO);
    }
    let webhooks = config.webhooks.clone().map(|c| {
        webhooks::WebhookSender::start(c, shop.domain.clone(), config.seed).with_products_of(&shop)
    });
    Ok(ShopifyState {
        bucket: Arc::new(Mutex::new(throttle::CostBucket::new(
            config.bucket,
            config.restore_rate,
        ))),
        faults: Faults::new(config.faults.clone(), config.seed),
        config: Arc::new(config),
        shop: Arc::new(Mutex::new(shop)),
        search_index: Arc::new(Mutex::new(index)),
        webhooks,
        stats: Arc::new(ShopifyStats::default()),
        idempotency: Arc::default(),
        refusals: Arc::default(),
    })
}

/// The sandbox's routes: the Admin GraphQL endpoint (faulted) and the control API (never faulted).
pub fn router(state: ShopifyState) -> Router {
    Router::new()
        .route(
            "/admin/api/{version}/graphql.json",
            axum::routing::post(graphql::handle),
        )
        .merge(control::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.faults.clone(),
            crate::faults::inject,
        ))
        .with_state(state)
}
