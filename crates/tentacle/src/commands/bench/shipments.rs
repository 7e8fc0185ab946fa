//! `tentacle bench shipments`: one generate_shipments run making N shipped PULPO boxes Shopify
//! fulfillments, measured against the least time the sandboxes' limits allow.
//!
//! The setup goes through the sandboxes' control APIs and tentacle's own sales orders
//! integration, as `crates/engine/tests/shipments.rs` does: two PULPO products
//! [`SKU_PREFIX`]`000001` and `…000002` stocked at PULPO's first warehouse, N/2 paid Shopify
//! orders at the location of that name with one unit of each (`POST /sandbox/orders`), one
//! sales orders run importing them, and each imported PULPO order shipped in two boxes, one line
//! each, with its own tracking (`POST /sandbox/sales/orders/{id}/ship`). Then one run of a
//! generate_shipments configuration is timed; it should create one fulfillment per box.
//!
//! The bound and the counters are the sandboxes' own, taken from just before that run, so the
//! setup is not counted. The sandboxes run in this process or in a child ([`Placement`]).

use std::collections::HashSet;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_domain::run::Trigger;
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_domain::shipments::ShipmentSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::pulpo::PulpoStatsSnapshot;
use tentacle_sandbox::shopify::ShopifyStatsSnapshot;
use tentacle_store::{Integration, NewCredential, NewIntegration, Run, Store};

use super::placement::{Bound, Placement, SandboxSetup, Sandboxes, round};
use super::stock::{
    API_VERSION, Locations, PULPO_PASSWORD, PULPO_USER, Token, Warehouses, find, json_answer,
    pulpo_since, shopify_since,
};
use super::usage;

#[derive(Debug, Args)]
pub struct ShipmentsArgs {
    /// Shipped boxes, two per order (an odd count rounds up to whole orders).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    boxes: u32,
    /// Shopify cost points restored per second (Standard plan: 100).
    #[arg(long, default_value_t = 100.0)]
    restore_rate: f64,
    /// Shopify cost bucket size (Standard plan: 2000).
    #[arg(long, default_value_t = 2000.0)]
    bucket: f64,
    /// PULPO latency added to every request.
    #[arg(long, default_value_t = 0)]
    pulpo_latency_ms: u64,
    /// PULPO concurrent requests beyond which it answers 429 (none: no cap). tentacle keeps
    /// this many PULPO requests in flight.
    #[arg(long)]
    pulpo_max_concurrency: Option<usize>,
    /// Where the sandboxes run.
    #[arg(long, value_enum, default_value_t = Placement::InProcess)]
    sandboxes: Placement,
}

pub(super) const SALES: &str = "Bench sales orders";
pub(super) const INTEGRATION: &str = "Bench shipments";
const SKU_PREFIX: &str = "SHIP-";
const BOXES_PER_ORDER: usize = 2;
const CARRIERS: [&str; BOXES_PER_ORDER] = ["seur", "ups_es"];

pub async fn run(args: ShipmentsArgs) -> anyhow::Result<()> {
    let sandboxes = Sandboxes::start(
        args.sandboxes,
        SandboxSetup {
            // Only the bench's orders: every shipped box is one of them.
            orders: 0,
            seed: 1,
            restore_rate: args.restore_rate,
            bucket: args.bucket,
            pulpo_latency_ms: args.pulpo_latency_ms,
            pulpo_item_latency_ms: 0,
            pulpo_max_concurrency: args.pulpo_max_concurrency,
        },
    )
    .await?;
    let orders = (args.boxes as usize).div_ceil(BOXES_PER_ORDER);
    let boxes = orders * BOXES_PER_ORDER;

    // A database file, not `:memory:`: tentacle's memory is what is measured, and SQLite keeps
    // only its page cache in memory.
    let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = format!("sqlite://{}/tentacle.db", directory.path().display());
    let store = super::super::db::open(&db).await?;
    provision(store.as_ref(), &sandboxes).await?;
    let sales = integration(store.as_ref(), SALES).await?;
    let shipments = integration(store.as_ref(), INTEGRATION).await?;

    let defaults = RunOptions::default();
    let options = || RunOptions {
        pulpo_concurrency: args
            .pulpo_max_concurrency
            .unwrap_or(defaults.pulpo_concurrency),
        // Shopify's order search works on whole seconds: an order created this second is
        // found by a run whose "now" is a little later.
        now: chrono::Utc::now() + chrono::TimeDelta::seconds(2),
        ..RunOptions::default()
    };

    let http = reqwest::Client::new();
    let known = pulpo_orders(&http, &sandboxes).await?;
    create_orders(&http, &sandboxes, orders).await?;
    let imported = run_integration(store.clone(), &sales, Trigger::Manual, options(), None).await?;
    let shipped = ship(&http, &sandboxes, &known).await?;
    anyhow::ensure!(
        shipped == orders,
        "the sales orders run imported {shipped} of the {orders} orders: {:?}",
        imported.error
    );

    let before = sandboxes.stats().await?;
    let started = Instant::now();
    let finished = run_integration(store, &shipments, Trigger::Manual, options(), None).await?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage = usage::own()?;
    let after = sandboxes.stats().await?;
    let fulfillments = fulfillments(&http, &sandboxes).await?;

    let figures = Figures {
        boxes,
        orders,
        fulfillments,
        wall_s,
        bucket: args.bucket,
        restore_rate: args.restore_rate,
        shopify: shopify_since(&after.0, &before.0),
        pulpo: pulpo_since(&after.1, &before.1),
        usage,
    };
    let mut line = figures.json();
    sandboxes.describe(&mut line)?;
    line["run"] = counters(&finished);
    println!("{line}");
    sandboxes.stop().await;
    Ok(())
}

pub(super) fn counters(run: &Run) -> Value {
    let mut counters = json!({
        "status": run.status.as_str(),
        "fetched": run.counters.fetched,
        "created": run.counters.created,
        "updated": run.counters.updated,
        "skipped": run.counters.skipped,
        "failed": run.counters.failed,
    });
    if let Some(error) = &run.error {
        counters["error"] = json!(error);
    }
    counters
}

pub(super) async fn integration(store: &dyn Store, name: &str) -> anyhow::Result<Integration> {
    store
        .integration_by_name(name)
        .await?
        .with_context(|| format!("the bench integration {name:?} was not saved"))
}

/// The ids of PULPO's sales orders, through its control API.
pub(super) async fn pulpo_orders(
    http: &reqwest::Client,
    sandboxes: &Sandboxes,
) -> anyhow::Result<Vec<Value>> {
    let mut listed: Value =
        json_answer(http.get(format!("{}/sandbox/sales/orders", sandboxes.pulpo_root()))).await?;
    match listed["sales_orders"].take() {
        Value::Array(orders) => Ok(orders),
        _ => anyhow::bail!("the PULPO sandbox listed no sales_orders"),
    }
}

/// Stocks the two SKUs in PULPO and makes `orders` paid Shopify orders of one unit of each at
/// the location named like PULPO's first warehouse.
pub(super) async fn create_orders(
    http: &reqwest::Client,
    sandboxes: &Sandboxes,
    orders: usize,
) -> anyhow::Result<()> {
    let shop = sandboxes.shop_url();
    let locations: Locations = json_answer(http.get(format!("{shop}/sandbox/locations"))).await?;
    let location = find(&locations.locations, "Shopify location")?;

    let api = sandboxes.pulpo_url();
    let token: Token = json_answer(http.post(format!("{api}/auth")).json(&json!({
        "username": PULPO_USER,
        "password": PULPO_PASSWORD,
        "scope": "default",
        "grant_type": "password",
    })))
    .await?;
    let warehouses: Warehouses = json_answer(
        http.get(format!("{api}/warehouses/"))
            .bearer_auth(&token.access_token),
    )
    .await?;
    let warehouse = find(&warehouses.warehouses, "PULPO warehouse")?;
    json_answer::<Value>(
        http.post(format!(
            "{}/sandbox/inventory/products",
            sandboxes.pulpo_root()
        ))
        .json(&json!({
            "count": BOXES_PER_ORDER,
            "sku_prefix": SKU_PREFIX,
            "warehouse_id": warehouse,
            "available_quantity": orders + 10,
        })),
    )
    .await?;

    for n in 0..orders {
        let line_items: Vec<Value> = (1..=BOXES_PER_ORDER)
            .map(|k| {
                let sku = format!("{SKU_PREFIX}{k:06}");
                json!({"sku": sku, "title": sku, "quantity": 1, "price": "10.00",
                       "requires_shipping": true, "gift_card": false})
            })
            .collect();
        let customer = 9_000_000 + n as u64;
        let email = format!("bench{n}@example.es");
        json_answer::<Value>(http.post(format!("{shop}/sandbox/orders")).json(&json!({
            "financial_status": "paid", "currency": "EUR", "email": email,
            "customer": {"id": customer, "first_name": "Ana", "last_name": "Ruiz", "email": email},
            "shipping_address": {"first_name": "Ana", "last_name": "Ruiz",
                                 "address1": "Gran Vía 1", "city": "Madrid", "zip": "28013",
                                 "country": "Spain", "country_code": "ES"},
            "line_items": line_items,
            "location_id": location,
        })))
        .await?;
    }
    Ok(())
}

/// Ships every PULPO sales order not in `known` (the ones the import made) in one box per
/// line, each with its own tracking; returns how many orders shipped.
pub(super) async fn ship(
    http: &reqwest::Client,
    sandboxes: &Sandboxes,
    known: &[Value],
) -> anyhow::Result<usize> {
    let known: HashSet<i64> = known.iter().filter_map(|o| o["id"].as_i64()).collect();
    let root = sandboxes.pulpo_root();
    let mut shipped = 0;
    for order in pulpo_orders(http, sandboxes).await? {
        let id = order["id"]
            .as_i64()
            .context("a PULPO order without an id")?;
        if known.contains(&id) {
            continue;
        }
        let items = order["items"]
            .as_array()
            .context("a PULPO order without items")?;
        let boxes: Vec<Value> = items
            .iter()
            .zip(CARRIERS.iter().cycle())
            .enumerate()
            .map(|(k, (item, carrier))| {
                json!({"carrier_code": carrier, "tracking_code": format!("B{id}-{k}"),
                       "items": [{"line_order_id": item["line_order_id"],
                                  "quantity": item["quantity"]}]})
            })
            .collect();
        json_answer::<Value>(
            http.post(format!("{root}/sandbox/sales/orders/{id}/ship"))
                .json(&json!({ "boxes": boxes })),
        )
        .await?;
        shipped += 1;
    }
    Ok(shipped)
}

/// The fulfillments Shopify's orders have, as its control API lists them.
async fn fulfillments(http: &reqwest::Client, sandboxes: &Sandboxes) -> anyhow::Result<usize> {
    let listed: Value =
        json_answer(http.get(format!("{}/sandbox/orders", sandboxes.shop_url()))).await?;
    Ok(listed["orders"]
        .as_array()
        .context("the Shopify sandbox listed no orders")?
        .iter()
        .filter_map(|o| o["fulfillments"].as_array())
        .map(Vec::len)
        .sum())
}

/// Credentials for both sandboxes, a sales orders configuration to import the bench's orders
/// and the generate_shipments configuration measured.
pub(super) async fn provision(store: &dyn Store, sandboxes: &Sandboxes) -> anyhow::Result<()> {
    let shop = store
        .save_credential(NewCredential::shopify(
            "Bench Shopify sandbox",
            &sandboxes.shop_url(),
            API_VERSION,
            SecretString::from(sandboxes.access_token()),
        ))
        .await?;
    let wms = store
        .save_credential(NewCredential::pulpo(
            "Bench PULPO sandbox",
            &sandboxes.pulpo_url(),
            PULPO_USER,
            SecretString::from(PULPO_PASSWORD.to_string()),
        ))
        .await?;
    store
        .save_integration(NewIntegration {
            name: SALES.into(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(SalesOrderSettings::default())?,
        })
        .await?;
    store
        .save_integration(NewIntegration {
            name: INTEGRATION.into(),
            kind: "generate_shipments".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: serde_json::to_value(ShipmentSettings::default())?,
        })
        .await?;
    Ok(())
}

/// Everything the JSON line is computed from.
struct Figures {
    boxes: usize,
    orders: usize,
    fulfillments: usize,
    wall_s: f64,
    bucket: f64,
    restore_rate: f64,
    shopify: ShopifyStatsSnapshot,
    pulpo: PulpoStatsSnapshot,
    usage: usage::Usage,
}

impl Figures {
    fn json(&self) -> Value {
        let boxes = self.boxes.max(1) as f64;
        let bound = Bound::of(self.bucket, self.restore_rate, &self.shopify, &self.pulpo);
        let bound_s = bound.seconds();
        json!({
            "boxes": self.boxes,
            "orders": self.orders,
            "fulfillments": self.fulfillments,
            "wall_s": round(self.wall_s, 3),
            "boxes_per_s": round(self.boxes as f64 / self.wall_s, 1),
            "shopify_points": self.shopify.points_charged,
            "points_per_box": round(self.shopify.points_charged as f64 / boxes, 2),
            "shopify_mutations": self.shopify.mutations,
            "pulpo_requests": self.pulpo.requests,
            "bound_s": round(bound_s, 3),
            "efficiency": round(bound_s / self.wall_s, 3),
            "peak_rss_mb": round(self.usage.peak_rss_mb, 1),
            "cpu_s": round(self.usage.cpu_s, 2),
            "shopify_bound_s": round(bound.shopify_s, 3),
            "pulpo_bound_s": round(bound.pulpo_s, 3),
            "shopify_requests": self.shopify.requests,
            "shopify_throttled": self.shopify.throttled,
            "pulpo_rejected": self.pulpo.rejected,
        })
    }
}
