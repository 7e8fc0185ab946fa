//! `tentacle bench sales-orders`: one full sales orders import of a generated shop, measured
//! against the least time the sandboxes' limits allow.
//!
//! The bound comes from the sandboxes' own counters: Shopify's is the points charged beyond the
//! initial bucket divided by the restore rate; PULPO's is the summed service time of its
//! requests divided by its concurrency cap. `efficiency = bound / wall`.
//!
//! The sandboxes run in this process or in a child ([`Placement`]).

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use serde_json::json;
use tentacle_domain::run::Trigger;
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::pulpo::PulpoStatsSnapshot;
use tentacle_sandbox::shopify::ShopifyStatsSnapshot;
use tentacle_sandbox::shopify::generator::ORDER_DAYS;
use tentacle_store::{NewCredential, NewIntegration, Store};

use super::placement::{Bound, Placement, SandboxSetup, Sandboxes, round};
use super::usage;

#[derive(Debug, Args)]
pub struct SalesOrdersArgs {
    /// Generated Shopify orders, all imported by one run.
    #[arg(long, default_value_t = 1000)]
    orders: usize,
    /// Seed of the generated shop and catalog.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Shopify cost points restored per second (Standard plan: 100).
    #[arg(long, default_value_t = 100.0)]
    restore_rate: f64,
    /// Shopify cost bucket size (Standard plan: 2000).
    #[arg(long, default_value_t = 2000.0)]
    bucket: f64,
    /// PULPO latency added to every request.
    #[arg(long, default_value_t = 0)]
    pulpo_latency_ms: u64,
    /// PULPO latency added per order of a bulk request.
    #[arg(long, default_value_t = 0)]
    pulpo_item_latency_ms: u64,
    /// PULPO concurrent requests beyond which it answers 429 (none: no cap). tentacle keeps
    /// this many PULPO requests in flight.
    #[arg(long)]
    pulpo_max_concurrency: Option<usize>,
    /// Shopify orders per page (default: the engine's).
    #[arg(long)]
    page_size: Option<u32>,
    /// Where the sandboxes run.
    #[arg(long, value_enum, default_value_t = Placement::InProcess)]
    sandboxes: Placement,
}

const API_VERSION: &str = "2026-10";
const INTEGRATION: &str = "Bench sales orders";

pub async fn run(args: SalesOrdersArgs) -> anyhow::Result<()> {
    let sandboxes = Sandboxes::start(
        args.sandboxes,
        SandboxSetup {
            orders: args.orders,
            seed: args.seed,
            restore_rate: args.restore_rate,
            bucket: args.bucket,
            pulpo_latency_ms: args.pulpo_latency_ms,
            pulpo_item_latency_ms: args.pulpo_item_latency_ms,
            pulpo_max_concurrency: args.pulpo_max_concurrency,
        },
    )
    .await?;

    // A database file, not `:memory:`: tentacle's memory is what is measured, and SQLite keeps
    // only its page cache in memory.
    let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = format!("sqlite://{}/tentacle.db", directory.path().display());
    let store = super::super::db::open(&db).await?;
    provision(
        store.as_ref(),
        &sandboxes.shop_url(),
        &sandboxes.access_token(),
        &sandboxes.pulpo_url(),
    )
    .await?;
    let integration = store
        .integration_by_name(INTEGRATION)
        .await?
        .context("the bench integration was not saved")?;

    let defaults = RunOptions::default();
    let options = RunOptions {
        pulpo_concurrency: args
            .pulpo_max_concurrency
            .unwrap_or(defaults.pulpo_concurrency),
        page_size: args.page_size.unwrap_or(defaults.page_size),
        ..defaults
    };
    let started = Instant::now();
    let finished = run_integration(store, &integration, Trigger::Manual, options, None).await?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage = usage::own()?;
    let (shopify, pulpo) = sandboxes.stats().await?;

    let figures = Figures {
        orders: args.orders,
        wall_s,
        bucket: args.bucket,
        restore_rate: args.restore_rate,
        shopify,
        pulpo,
        usage,
    };
    let mut line = figures.json();
    sandboxes.describe(&mut line)?;
    line["run"] = json!({
        "status": finished.status.as_str(),
        "fetched": finished.counters.fetched,
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

/// Credentials for both sandboxes and a sales orders configuration that imports every
/// generated order it can: orders without a customer go to PULPO's fallback customer, and the
/// first run reaches back past the oldest generated order.
async fn provision(
    store: &dyn Store,
    shop_url: &str,
    access_token: &str,
    pulpo_url: &str,
) -> anyhow::Result<()> {
    let shop = store
        .save_credential(NewCredential::shopify(
            "Bench Shopify sandbox",
            shop_url,
            API_VERSION,
            SecretString::from(access_token.to_string()),
        ))
        .await?;
    let wms = store
        .save_credential(NewCredential::pulpo(
            "Bench PULPO sandbox",
            pulpo_url,
            "sandbox_admin",
            SecretString::from("sandbox".to_string()),
        ))
        .await?;
    let settings = SalesOrderSettings {
        fallback_customer_id: Some(1),
        initial_import_days: ORDER_DAYS + 1,
        ..SalesOrderSettings::default()
    };
    store
        .save_integration(NewIntegration {
            name: INTEGRATION.into(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(&settings)?,
        })
        .await?;
    Ok(())
}

/// Everything the JSON line is computed from.
struct Figures {
    orders: usize,
    wall_s: f64,
    bucket: f64,
    restore_rate: f64,
    shopify: ShopifyStatsSnapshot,
    pulpo: PulpoStatsSnapshot,
    usage: usage::Usage,
}

impl Figures {
    fn json(&self) -> serde_json::Value {
        let orders = self.orders.max(1) as f64;
        let bound = Bound::of(self.bucket, self.restore_rate, &self.shopify, &self.pulpo);
        let bound_s = bound.seconds();
        json!({
            "orders": self.orders,
            "wall_s": round(self.wall_s, 3),
            "orders_per_s": round(self.orders as f64 / self.wall_s, 1),
            "shopify_points": self.shopify.points_charged,
            "points_per_order": round(self.shopify.points_charged as f64 / orders, 2),
            "pulpo_requests": self.pulpo.requests,
            "bound_s": round(bound_s, 3),
            "efficiency": round(bound_s / self.wall_s, 3),
            "peak_rss_mb": round(self.usage.peak_rss_mb, 1),
            "cpu_s": round(self.usage.cpu_s, 2),
            "cpu_s_per_1000_orders": round(self.usage.cpu_s * 1000.0 / orders, 3),
            "shopify_bound_s": round(bound.shopify_s, 3),
            "pulpo_bound_s": round(bound.pulpo_s, 3),
            "shopify_requests": self.shopify.requests,
            "shopify_throttled": self.shopify.throttled,
            "pulpo_rejected": self.pulpo.rejected,
        })
    }
}
