//! `tentacle bench returns`: one returns run registering N PULPO customer returns as Shopify
//! returns, measured against the least time the sandboxes' limits allow.
//!
//! The setup is `bench shipments`' (N paid Shopify orders of two lines, imported by a sales
//! orders run, shipped in PULPO in two boxes and fulfilled in Shopify by an untimed
//! generate_shipments run), then one unit of each order's first line comes back
//! (`POST /sandbox/reception/returns`, reason `DAMAGED`). Then one run of a returns
//! configuration (default settings: returns registered, nothing refunded) is timed; it should
//! create one Shopify return per PULPO return.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use tentacle_domain::returns::ReturnSettings;
use tentacle_domain::run::Trigger;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_store::NewIntegration;

use super::placement::{Bound, Placement, SandboxSetup, Sandboxes, round};
use super::shipments::{
    INTEGRATION as SHIPMENTS, SALES, counters, create_orders, integration, provision, pulpo_orders,
    ship,
};
use super::stock::{API_VERSION, json_answer, pulpo_since, shopify_since};
use super::usage;

#[derive(Debug, Args)]
pub struct ReturnsArgs {
    /// PULPO returns, one per shipped order.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    returns: u32,
    /// Shopify cost points restored per second (Standard plan: 100).
    #[arg(long, default_value_t = 100.0)]
    restore_rate: f64,
    /// Shopify cost bucket size (Standard plan: 2000).
    #[arg(long, default_value_t = 2000.0)]
    bucket: f64,
    /// PULPO latency added to every request.
    #[arg(long, default_value_t = 0)]
    pulpo_latency_ms: u64,
    /// PULPO concurrent requests beyond which it answers 429 (none: no cap).
    #[arg(long)]
    pulpo_max_concurrency: Option<usize>,
    /// Where the sandboxes run.
    #[arg(long, value_enum, default_value_t = Placement::InProcess)]
    sandboxes: Placement,
}

const INTEGRATION: &str = "Bench returns";

pub async fn run(args: ReturnsArgs) -> anyhow::Result<()> {
    let sandboxes = Sandboxes::start(
        args.sandboxes,
        SandboxSetup {
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
    let orders = args.returns as usize;
    let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = format!("sqlite://{}/tentacle.db", directory.path().display());
    let store = super::super::db::open(&db).await?;
    provision(store.as_ref(), &sandboxes).await?;
    let shipments = integration(store.as_ref(), SHIPMENTS).await?;
    store
        .save_integration(NewIntegration {
            name: INTEGRATION.into(),
            kind: "returns".into(),
            origin_credential_id: shipments.origin_credential_id,
            destination_credential_id: shipments.destination_credential_id,
            settings: serde_json::to_value(ReturnSettings::default())?,
        })
        .await?;
    let sales = integration(store.as_ref(), SALES).await?;
    let returns = integration(store.as_ref(), INTEGRATION).await?;
    let defaults = RunOptions::default();
    let options = || RunOptions {
        pulpo_concurrency: args
            .pulpo_max_concurrency
            .unwrap_or(defaults.pulpo_concurrency),
        now: chrono::Utc::now() + chrono::TimeDelta::seconds(2),
        ..RunOptions::default()
    };

    let http = reqwest::Client::new();
    let known = pulpo_orders(&http, &sandboxes).await?;
    create_orders(&http, &sandboxes, orders).await?;
    run_integration(store.clone(), &sales, Trigger::Manual, options(), None).await?;
    let shipped = ship(&http, &sandboxes, &known).await?;
    let fulfilled =
        run_integration(store.clone(), &shipments, Trigger::Manual, options(), None).await?;
    anyhow::ensure!(
        shipped == orders && fulfilled.counters.created as usize == 2 * orders,
        "{shipped} of {orders} orders shipped, {} boxes fulfilled: {:?}",
        fulfilled.counters.created,
        fulfilled.error
    );
    let received = receive(&http, &sandboxes, &known).await?;

    let before = sandboxes.stats().await?;
    let started = Instant::now();
    let finished = run_integration(store, &returns, Trigger::Manual, options(), None).await?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage = usage::own()?;
    let after = sandboxes.stats().await?;
    let made = shopify_returns(&http, &sandboxes).await?;

    let shopify = shopify_since(&after.0, &before.0);
    let pulpo = pulpo_since(&after.1, &before.1);
    let bound = Bound::of(args.bucket, args.restore_rate, &shopify, &pulpo);
    let per = received.max(1) as f64;
    let mut line = json!({
        "returns": received,
        "shopify_returns": made,
        "wall_s": round(wall_s, 3),
        "returns_per_s": round(received as f64 / wall_s, 1),
        "shopify_points": shopify.points_charged,
        "points_per_return": round(shopify.points_charged as f64 / per, 2),
        "shopify_mutations": shopify.mutations,
        "pulpo_requests": pulpo.requests,
        "bound_s": round(bound.seconds(), 3),
        "efficiency": round(bound.seconds() / wall_s, 3),
        "peak_rss_mb": round(usage.peak_rss_mb, 1),
        "cpu_s": round(usage.cpu_s, 2),
        "shopify_bound_s": round(bound.shopify_s, 3),
        "pulpo_bound_s": round(bound.pulpo_s, 3),
        "shopify_requests": shopify.requests,
        "shopify_throttled": shopify.throttled,
        "pulpo_rejected": pulpo.rejected,
    });
    sandboxes.describe(&mut line)?;
    line["run"] = counters(&finished);
    println!("{line}");
    sandboxes.stop().await;
    Ok(())
}

/// One unit of the first line of every PULPO order not in `known` comes back; how many.
async fn receive(
    http: &reqwest::Client,
    sandboxes: &Sandboxes,
    known: &[Value],
) -> anyhow::Result<usize> {
    let known: HashSet<i64> = known.iter().filter_map(|o| o["id"].as_i64()).collect();
    let mut received = 0;
    for order in pulpo_orders(http, sandboxes).await? {
        let id = order["id"]
            .as_i64()
            .context("a PULPO order without an id")?;
        if known.contains(&id) {
            continue;
        }
        let line = &order["items"][0]["line_order_id"];
        json_answer::<Value>(
            http.post(format!(
                "{}/sandbox/reception/returns",
                sandboxes.pulpo_root()
            ))
            .json(&json!({"sales_order_id": id, "items": [
                    {"line_order_id": line, "quantity": 1, "reason_code": "DAMAGED"}]})),
        )
        .await?;
        received += 1;
    }
    Ok(received)
}

/// The returns Shopify's orders have, read through its GraphQL API (the control API's REST
/// shape has none).
async fn shopify_returns(http: &reqwest::Client, sandboxes: &Sandboxes) -> anyhow::Result<usize> {
    const QUERY: &str = "query R($after: String) { orders(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { returns(first: 5) { nodes { id } } } } }";
    let url = format!(
        "{}/admin/api/{API_VERSION}/graphql.json",
        sandboxes.shop_url()
    );
    let mut after = Value::Null;
    let mut count = 0;
    loop {
        let page: Value = json_answer(
            http.post(&url)
                .header("X-Shopify-Access-Token", sandboxes.access_token())
                .json(&json!({"query": QUERY, "variables": {"after": after}})),
        )
        .await?;
        // The run may have left the bucket empty: a THROTTLED page is asked for again.
        if page["errors"][0]["extensions"]["code"] == "THROTTLED" {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            continue;
        }
        let orders = &page["data"]["orders"];
        count += orders["nodes"]
            .as_array()
            .with_context(|| format!("the Shopify sandbox listed no orders: {page}"))?
            .iter()
            .filter_map(|o| o["returns"]["nodes"].as_array())
            .map(Vec::len)
            .sum::<usize>();
        if orders["pageInfo"]["hasNextPage"] != true {
            return Ok(count);
        }
        after = orders["pageInfo"]["endCursor"].clone();
    }
}
