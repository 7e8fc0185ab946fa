//! `tentacle bench stock`: one stock reconcile (PULPO → Shopify) of a seeded catalog, measured
//! against the least time the sandboxes' limits allow.
//!
//! Through the sandboxes' control APIs, N items with SKUs `BENCH-000001…` are stocked at the
//! Shopify location named like PULPO's first warehouse with [`AVAILABLE`] units, and PULPO gets
//! the same SKUs with the same availability there; then a share of them, spread evenly over
//! the catalog, is given another availability in PULPO. One run of a stock configuration that
//! covers that location should set exactly those, 250 per `inventorySetQuantities`.
//!
//! The default sandboxes also carry their generated catalog (about 200 SKUs, already equal on
//! both sides and no order open): the run reads and compares those too, `items` does not
//! count them and `catalog_compared` does.
//!
//! The bound and the counters are the sandboxes' own, taken from just before the run, so the
//! seeding (control API, PULPO's log-in and warehouse look-up) is not counted. The sandboxes run
//! in this process or in a child ([`Placement`]).

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tentacle_domain::run::Trigger;
use tentacle_domain::stock::StockSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::pulpo::PulpoStatsSnapshot;
use tentacle_sandbox::shopify::ShopifyStatsSnapshot;
use tentacle_store::{NewCredential, NewIntegration, Run, Store};

use super::placement::{Bound, Placement, SandboxSetup, Sandboxes, round};
use super::usage;

#[derive(Debug, Args)]
pub struct StockArgs {
    /// SKUs seeded on both sides (the generated catalog's come on top).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    items: u32,
    /// Share of the SKUs whose availability PULPO has changed (0 to 1).
    #[arg(long, default_value_t = 0.1, value_parser = share)]
    changed_share: f64,
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

pub(super) const API_VERSION: &str = "2026-10";
const INTEGRATION: &str = "Bench stock";
/// The Shopify location and PULPO warehouse the catalog is stocked at.
pub(super) const LOCATION: &str = SHARED_WAREHOUSES[0];
const SKU_PREFIX: &str = "BENCH-";
/// What every seeded SKU shows on both sides before the changes.
const AVAILABLE: i64 = 10;
/// Stock levels per `PUT /sandbox/inventory/stocks`, so no body nears the sandbox's size limit.
const LEVELS_PER_CALL: usize = 10_000;
pub(super) const PULPO_USER: &str = "sandbox_admin";
pub(super) const PULPO_PASSWORD: &str = "sandbox";

fn share(raw: &str) -> Result<f64, String> {
    let value: f64 = raw
        .parse()
        .map_err(|_| format!("{raw:?} is not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 1"))
    }
}

pub async fn run(args: StockArgs) -> anyhow::Result<()> {
    let sandboxes = Sandboxes::start(
        args.sandboxes,
        SandboxSetup {
            // No orders: none holds stock back (the oversell window), so the only differences
            // are the ones seeded.
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
    let items = args.items as usize;
    let changed = seed(&sandboxes, items, args.changed_share).await?;

    // A database file, not `:memory:`: tentacle's memory is what is measured, and SQLite keeps
    // only its page cache in memory.
    let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = format!("sqlite://{}/tentacle.db", directory.path().display());
    let store = super::super::db::open(&db).await?;
    provision(store.as_ref(), &sandboxes).await?;
    let integration = store
        .integration_by_name(INTEGRATION)
        .await?
        .context("the bench integration was not saved")?;

    let defaults = RunOptions::default();
    let options = RunOptions {
        pulpo_concurrency: args
            .pulpo_max_concurrency
            .unwrap_or(defaults.pulpo_concurrency),
        ..defaults
    };
    let before = sandboxes.stats().await?;
    let started = Instant::now();
    let finished = run_integration(store, &integration, Trigger::Manual, options, None).await?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage = usage::own()?;
    let after = sandboxes.stats().await?;

    let figures = Figures {
        items,
        changed,
        wall_s,
        bucket: args.bucket,
        restore_rate: args.restore_rate,
        shopify: shopify_since(&after.0, &before.0),
        pulpo: pulpo_since(&after.1, &before.1),
        usage,
    };
    let mut line = figures.json(&finished);
    sandboxes.describe(&mut line)?;
    line["run"] = json!({
        "status": finished.status.as_str(),
        "fetched": finished.counters.fetched,
        "updated": finished.counters.updated,
        "created": finished.counters.created,
        "skipped": finished.counters.skipped,
        "failed": finished.counters.failed,
    });
    if let Some(error) = &finished.error {
        line["run"]["error"] = json!(error);
    }
    println!("{line}");
    sandboxes.stop().await;
    Ok(())
}

#[derive(Deserialize)]
pub(super) struct Named {
    pub(super) id: i64,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct Locations {
    pub(super) locations: Vec<Named>,
}

#[derive(Deserialize)]
pub(super) struct Warehouses {
    pub(super) warehouses: Vec<Named>,
}

#[derive(Deserialize)]
pub(super) struct Token {
    pub(super) access_token: String,
}

#[derive(Deserialize)]
struct ProductsMade {
    first_id: Option<i64>,
}

/// Seeds `items` SKUs on both sides, equal, then changes PULPO's availability of
/// `changed_share` of them; returns how many changed.
async fn seed(sandboxes: &Sandboxes, items: usize, changed_share: f64) -> anyhow::Result<usize> {
    let http = reqwest::Client::new();
    let shop = sandboxes.shop_url();
    let locations: Locations = json_answer(http.get(format!("{shop}/sandbox/locations"))).await?;
    let location = find(&locations.locations, "Shopify location")?;
    json_answer::<serde_json::Value>(
        http.post(format!("{shop}/sandbox/inventory_items/seed"))
            .json(&json!({
                "count": items,
                "location_id": location,
                "sku_prefix": SKU_PREFIX,
                "available": AVAILABLE,
                "tracked": true,
            })),
    )
    .await?;

    let (api, root) = (sandboxes.pulpo_url(), sandboxes.pulpo_root());
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
    let made: ProductsMade = json_answer(
        http.post(format!("{root}/sandbox/inventory/products"))
            .json(&json!({
                "count": items,
                "sku_prefix": SKU_PREFIX,
                "warehouse_id": warehouse,
                "available_quantity": AVAILABLE,
            })),
    )
    .await?;
    let first_id = made
        .first_id
        .context("the PULPO sandbox made no products")?;

    // Products are numbered like their SKUs, so SKU n is product `first_id + n - 1`. Built a
    // call at a time: this process's peak memory is what the benchmark measures.
    let numbers: Vec<usize> = changed_numbers(items, changed_share).collect();
    for chunk in numbers.chunks(LEVELS_PER_CALL) {
        let levels: Vec<Level> = chunk
            .iter()
            .map(|&n| Level {
                product_id: first_id + n as i64 - 1,
                warehouse_id: warehouse,
                available_quantity: AVAILABLE + 1 + (n % 7) as i64,
            })
            .collect();
        json_answer::<serde_json::Value>(
            http.put(format!("{root}/sandbox/inventory/stocks"))
                .json(&levels),
        )
        .await?;
    }
    Ok(numbers.len())
}

/// A stock level as `PUT /sandbox/inventory/stocks` takes it.
#[derive(Serialize)]
struct Level {
    product_id: i64,
    warehouse_id: i64,
    available_quantity: i64,
}

/// The SKU numbers (1-based) of the `share` that changes, spread evenly over `1..=items`, the
/// same every time.
fn changed_numbers(items: usize, share: f64) -> impl Iterator<Item = usize> {
    let changed = ((items as f64 * share).round() as usize).min(items);
    (0..changed).map(move |i| i * items / changed + 1)
}

/// The id of the place called [`LOCATION`].
pub(super) fn find(places: &[Named], what: &str) -> anyhow::Result<i64> {
    places
        .iter()
        .find(|p| p.name == LOCATION)
        .map(|p| p.id)
        .with_context(|| format!("the sandbox has no {what} named {LOCATION:?}"))
}

/// Sends `request` to a sandbox and reads its JSON answer; any status but success is an error
/// with the sandbox's own words.
pub(super) async fn json_answer<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> anyhow::Result<T> {
    let response = request.send().await?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        anyhow::bail!("the sandbox answered {status}: {body}");
    }
    Ok(response.json().await?)
}

/// Credentials for both sandboxes and a stock configuration covering [`LOCATION`] alone.
async fn provision(store: &dyn Store, sandboxes: &Sandboxes) -> anyhow::Result<()> {
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
    let settings = StockSettings {
        locations: vec![LOCATION.to_string()],
        ..StockSettings::default()
    };
    store
        .save_integration(NewIntegration {
            name: INTEGRATION.into(),
            kind: "stock".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: serde_json::to_value(&settings)?,
        })
        .await?;
    Ok(())
}

/// What the Shopify sandbox counted between two snapshots.
pub(super) fn shopify_since(
    after: &ShopifyStatsSnapshot,
    before: &ShopifyStatsSnapshot,
) -> ShopifyStatsSnapshot {
    ShopifyStatsSnapshot {
        requests: after.requests.saturating_sub(before.requests),
        points_charged: after.points_charged.saturating_sub(before.points_charged),
        throttled: after.throttled.saturating_sub(before.throttled),
        mutations: after.mutations.saturating_sub(before.mutations),
    }
}

/// What the PULPO sandbox counted between two snapshots, under the cap in force at the end.
pub(super) fn pulpo_since(
    after: &PulpoStatsSnapshot,
    before: &PulpoStatsSnapshot,
) -> PulpoStatsSnapshot {
    PulpoStatsSnapshot {
        requests: after.requests.saturating_sub(before.requests),
        writes: after.writes.saturating_sub(before.writes),
        rejected: after.rejected.saturating_sub(before.rejected),
        latency_ms: after.latency_ms.saturating_sub(before.latency_ms),
        item_latency_ms: after.item_latency_ms.saturating_sub(before.item_latency_ms),
        service_time_ms: after.service_time_ms.saturating_sub(before.service_time_ms),
        max_concurrency: after.max_concurrency,
    }
}

/// Everything the JSON line is computed from.
struct Figures {
    items: usize,
    changed: usize,
    wall_s: f64,
    bucket: f64,
    restore_rate: f64,
    shopify: ShopifyStatsSnapshot,
    pulpo: PulpoStatsSnapshot,
    usage: usage::Usage,
}

impl Figures {
    fn json(&self, run: &Run) -> serde_json::Value {
        let items = self.items.max(1) as f64;
        let bound = Bound::of(self.bucket, self.restore_rate, &self.shopify, &self.pulpo);
        let bound_s = bound.seconds();
        json!({
            "items": self.items,
            "changed": self.changed,
            "catalog_compared": run.counters.fetched.saturating_sub(self.items as u64),
            "wall_s": round(self.wall_s, 3),
            "items_per_s": round(self.items as f64 / self.wall_s, 1),
            "shopify_points": self.shopify.points_charged,
            "points_per_item": round(self.shopify.points_charged as f64 / items, 3),
            "shopify_mutations": self.shopify.mutations,
            "pulpo_requests": self.pulpo.requests,
            "bound_s": round(bound_s, 3),
            "efficiency": round(bound_s / self.wall_s, 3),
            "peak_rss_mb": round(self.usage.peak_rss_mb, 1),
            "cpu_s": round(self.usage.cpu_s, 2),
            "cpu_s_per_1000_items": round(self.usage.cpu_s * 1000.0 / items, 3),
            "shopify_bound_s": round(bound.shopify_s, 3),
            "pulpo_bound_s": round(bound.pulpo_s, 3),
            "shopify_requests": self.shopify.requests,
            "shopify_throttled": self.shopify.throttled,
            "pulpo_rejected": self.pulpo.rejected,
        })
    }
}
