//! `tentacle sandbox`: both emulators in one process, for trying tentacle by hand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tentacle_sandbox::faults::FaultSettings;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::webhooks::WebhookConfig;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[arg(long, default_value = "127.0.0.1:8201")]
    shopify_listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8202")]
    pulpo_listen: SocketAddr,
    /// Number of generated Shopify orders.
    #[arg(long, default_value_t = 50)]
    orders: usize,
    /// Seed the shop from a JSONL file of orders in Shopify's REST / webhook shape instead.
    #[arg(long)]
    orders_file: Option<PathBuf>,
    /// Seed of the generated data; both sandboxes share the catalog for a seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "shpat_sandbox")]
    shopify_token: String,
    #[arg(long, default_value = "sandbox_admin")]
    pulpo_user: String,
    #[arg(long, default_value = "sandbox")]
    pulpo_password: String,
    /// Shopify cost points restored per second (Standard plan: 100).
    #[arg(long, default_value_t = 100.0)]
    restore_rate: f64,
    /// Shopify cost bucket size (Standard plan: 2000).
    #[arg(long, default_value_t = 2000.0)]
    bucket: f64,
    /// Seconds before a changed order shows up in Shopify `query:` searches.
    #[arg(long, default_value_t = 0.0)]
    index_lag_s: f64,
    /// Deliver `orders/*` webhooks to this URL.
    #[arg(long, requires = "webhook_secret")]
    webhook_url: Option<String>,
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Share of Shopify requests answered 500/502/503.
    #[arg(long, default_value_t = 0.0)]
    shopify_error_share: f64,
    /// Share of PULPO products (by SKU) that PULPO does not know.
    #[arg(long, default_value_t = tentacle_sandbox::catalog::DEFAULT_UNKNOWN_SHARE)]
    pulpo_unknown_share: f64,
    /// PULPO latency added to every request.
    #[arg(long, default_value_t = 0)]
    pulpo_latency_ms: u64,
    /// PULPO latency added per order of a bulk request.
    #[arg(long, default_value_t = 0)]
    pulpo_item_latency_ms: u64,
    /// PULPO concurrent requests beyond which it answers 429.
    #[arg(long)]
    pulpo_max_concurrency: Option<usize>,
    /// PULPO access token lifetime.
    #[arg(long, default_value_t = 3600)]
    pulpo_token_lifetime_s: u64,
    /// Share of PULPO requests answered 500/502/503.
    #[arg(long, default_value_t = 0.0)]
    pulpo_error_share: f64,
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: args.shopify_listen,
        access_token: args.shopify_token.clone(),
        seed: args.seed,
        orders: args.orders,
        orders_file: args.orders_file.clone(),
        bucket: args.bucket,
        restore_rate: args.restore_rate,
        faults: FaultSettings {
            error_share: args.shopify_error_share,
            ..FaultSettings::default()
        },
        index_lag: Duration::from_secs_f64(args.index_lag_s.max(0.0)),
        webhooks: match (args.webhook_url, args.webhook_secret) {
            (Some(url), Some(secret)) => Some(WebhookConfig {
                url,
                secret,
                ..WebhookConfig::default()
            }),
            _ => None,
        },
    })
    .await?;
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: args.pulpo_listen,
        seed: args.seed,
        unknown_share: args.pulpo_unknown_share,
        username: args.pulpo_user.clone(),
        password: args.pulpo_password.clone(),
        token_lifetime: Duration::from_secs(args.pulpo_token_lifetime_s),
        latency_ms: args.pulpo_latency_ms,
        item_latency_ms: args.pulpo_item_latency_ms,
        max_concurrency: args.pulpo_max_concurrency,
        faults: FaultSettings {
            error_share: args.pulpo_error_share,
            ..FaultSettings::default()
        },
    })
    .await?;

    println!("Shopify sandbox  {}", shopify.shop_url());
    println!("  GraphQL        {}", shopify.graphql_url("2026-10"));
    println!("  access token   {}", args.shopify_token);
    println!("  control API    {}/sandbox/orders", shopify.shop_url());
    println!("PULPO sandbox    {}", pulpo.base_url());
    println!("  username       {}", args.pulpo_user);
    println!("  password       {}", args.pulpo_password);
    println!(
        "  control API    http://{}/sandbox/sales/orders",
        pulpo.address()
    );
    println!("Serving until Ctrl-C.");

    tokio::signal::ctrl_c().await?;
    shopify.stop().await;
    pulpo.stop().await;
    Ok(())
}
