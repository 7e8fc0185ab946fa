//! `tentacle bench products`: one products run importing N Shopify variants into PULPO,
//! measured against the least time the sandboxes' limits allow, then a second run with nothing
//! changed, which must send PULPO no write.
//!
//! The setup goes through the Shopify sandbox's control API: N variants `BENCH-P-000001…`
//! (`POST /sandbox/inventory_items/seed`) beside the sandbox's 200-product catalog, most of
//! which PULPO already has (adopted, not created). The bound and the counters are the
//! sandboxes' own, taken from just before the measured run, so the setup is not counted. The
//! sandboxes run in this process or in a child ([`Placement`]); run them in a child to measure
//! tentacle's memory alone.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_domain::products::ProductSettings;
use tentacle_domain::run::Trigger;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::pulpo::PulpoStatsSnapshot;
use tentacle_sandbox::shopify::ShopifyStatsSnapshot;
use tentacle_store::{Integration, NewCredential, NewIntegration, Run, Store};

use super::placement::{Bound, Placement, SandboxSetup, Sandboxes, round};
use super::stock::{
    API_VERSION, Locations, PULPO_PASSWORD, PULPO_USER, find, json_answer, pulpo_since,
    shopify_since,
};
use super::usage;

#[derive(Debug, Args)]
pub struct ProductsArgs {
    /// Variants to import, beside the sandbox's 200-product catalog.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    variants: u32,
    /// Shopify cost points restored per second (Standard plan: 100).
    #[arg(long, default_value_t = 100.0)]
    restore_rate: f64,
    /// Shopify cost bucket size (Standard plan: 2000).
    #[arg(long, default_value_t = 2000.0)]
    bucket: f64,
    /// PULPO latency added to every request.
    #[arg(long, default_value_t = 20)]
    pulpo_latency_ms: u64,
    /// PULPO latency added per product of a bulk request.
    #[arg(long, default_value_t = 0)]
    pulpo_item_latency_ms: u64,
    /// PULPO concurrent requests beyond which it answers 429. tentacle keeps this many PULPO
    /// requests in flight.
    #[arg(long, default_value_t = 8)]
    pulpo_max_concurrency: usize,
    /// Where the sandboxes run.
    #[arg(long, value_enum, default_value_t = Placement::InProcess)]
    sandboxes: Placement,
}

const INTEGRATION: &str = "Bench products";
const SKU_PREFIX: &str = "BENCH-P-";

pub async fn run(args: ProductsArgs) -> anyhow::Result<()> {
    let sandboxes = Sandboxes::start(
        args.sandboxes,
        SandboxSetup {
            orders: 0,
            seed: 1,
            restore_rate: args.restore_rate,
            bucket: args.bucket,
            pulpo_latency_ms: args.pulpo_latency_ms,
            pulpo_item_latency_ms: args.pulpo_item_latency_ms,
            pulpo_max_concurrency: Some(args.pulpo_max_concurrency),
        },
    )
    .await?;

    // A database file, not `:memory:`: tentacle's memory is what is measured, and SQLite keeps
    // only its page cache in memory.
    let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = format!("sqlite://{}/tentacle.db", directory.path().display());
    let store = super::super::db::open(&db).await?;
    let products = provision(store.as_ref(), &sandboxes).await?;
    let http = reqwest::Client::new();
    seed_variants(&http, &sandboxes, args.variants).await?;

    let options = || RunOptions {
        pulpo_concurrency: args.pulpo_max_concurrency,
        now: chrono::Utc::now() + chrono::TimeDelta::seconds(2),
        ..RunOptions::default()
    };
    let before = sandboxes.stats().await?;
    let started = Instant::now();
    let imported =
        run_integration(store.clone(), &products, Trigger::Manual, options(), None).await?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage = usage::own()?;
    let after = sandboxes.stats().await?;

    let started = Instant::now();
    let rerun = run_integration(store, &products, Trigger::Manual, options(), None).await?;
    let rerun_s = started.elapsed().as_secs_f64();
    let again = sandboxes.stats().await?;

    let figures = Figures {
        variants: imported.counters.fetched as usize,
        wall_s,
        bucket: args.bucket,
        restore_rate: args.restore_rate,
        shopify: shopify_since(&after.0, &before.0),
        pulpo: pulpo_since(&after.1, &before.1),
        usage,
    };
    let mut line = figures.json();
    sandboxes.describe(&mut line)?;
    line["run"] = counters(&imported);
    line["rerun"] = counters(&rerun);
    line["rerun"]["wall_s"] = json!(round(rerun_s, 3));
    line["rerun"]["pulpo_writes"] = json!(again.1.writes.saturating_sub(after.1.writes));
    // Reading the catalog again costs Shopify points like the import: the rerun waits for
    // them at the restore rate, which is most of its time.
    line["rerun"]["shopify_points"] = json!(
        again
            .0
            .points_charged
            .saturating_sub(after.0.points_charged)
    );
    println!("{line}");
    sandboxes.stop().await;
    Ok(())
}

fn counters(run: &Run) -> Value {
    let mut counters = json!({
        "status": run.status.as_str(),
        "fetched": run.counters.fetched,
        "created": run.counters.created,
        "updated": run.counters.updated,
        "skipped": run.counters.skipped,
        "failed": run.counters.failed,
        "conflicts": run.counters.conflicts,
    });
    if let Some(error) = &run.error {
        counters["error"] = json!(error);
    }
    counters
}

/// `count` variants with numbered SKUs, stocked at the first location, in calls of 10,000.
async fn seed_variants(
    http: &reqwest::Client,
    sandboxes: &Sandboxes,
    count: u32,
) -> anyhow::Result<()> {
    let shop = sandboxes.shop_url();
    let locations: Locations = json_answer(http.get(format!("{shop}/sandbox/locations"))).await?;
    let location = find(&locations.locations, "Shopify location")?;
    json_answer::<Value>(
        http.post(format!("{shop}/sandbox/inventory_items/seed"))
            .json(&json!({"count": count, "location_id": location,
                          "sku_prefix": SKU_PREFIX, "available": 1})),
    )
    .await?;
    Ok(())
}

/// Credentials for both sandboxes and the products configuration measured.
async fn provision(store: &dyn Store, sandboxes: &Sandboxes) -> anyhow::Result<Integration> {
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
    Ok(store
        .save_integration(NewIntegration {
            name: INTEGRATION.into(),
            kind: "products".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(ProductSettings::default())?,
        })
        .await?)
}

/// Everything the JSON line is computed from.
struct Figures {
    variants: usize,
    wall_s: f64,
    bucket: f64,
    restore_rate: f64,
    shopify: ShopifyStatsSnapshot,
    pulpo: PulpoStatsSnapshot,
    usage: usage::Usage,
}

impl Figures {
    fn json(&self) -> Value {
        let variants = self.variants.max(1) as f64;
        let bound = Bound::of(self.bucket, self.restore_rate, &self.shopify, &self.pulpo);
        let bound_s = bound.seconds();
        json!({
            "variants": self.variants,
            "wall_s": round(self.wall_s, 3),
            "variants_per_s": round(self.variants as f64 / self.wall_s, 1),
            "shopify_points": self.shopify.points_charged,
            "points_per_variant": round(self.shopify.points_charged as f64 / variants, 2),
            "pulpo_requests": self.pulpo.requests,
            "pulpo_writes": self.pulpo.writes,
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
