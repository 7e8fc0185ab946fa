//! `tentacle demo`: the whole product on one machine with nothing to set up. Both sandboxes run
//! in-process with generated data, a fresh SQLite database lives in a temporary directory,
//! credentials and a sales orders configuration are provisioned, and a first run imports the
//! orders. Then (unless `--no-serve`) the web UI and the workers serve until Ctrl-C, with a
//! generated admin login printed once.

use std::process::ExitCode;

use clap::Args;
use secrecy::SecretString;
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::{NewCredential, NewIntegration};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Generated Shopify orders.
    #[arg(long, default_value_t = 200)]
    orders: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after the first run instead of serving the sandboxes, the web UI and the workers
    /// until Ctrl-C.
    #[arg(long)]
    no_serve: bool,
    /// Where the web UI (and the JSON API) listen; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
}

pub const INTEGRATION: &str = "Sales orders";

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let local = "127.0.0.1:0".parse()?;
    // The Shopify Plus plan's rate limit (1000 points/s, bucket 20000), so a first import of a
    // few hundred orders takes seconds, as it would for a Plus merchant.
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        seed: args.seed,
        orders: args.orders,
        bucket: 20_000.0,
        restore_rate: 1_000.0,
        ..ShopifyConfig::default()
    })
    .await?;
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        seed: args.seed,
        ..PulpoConfig::default()
    })
    .await?;
    let directory = fresh_directory()?;
    let db = format!("sqlite://{}/tentacle.db", directory.display());
    let store = super::db::open(&db).await?;

    println!("tentacle demo");
    println!(
        "  Shopify sandbox  {}  ({} generated orders, seed {}, Plus plan rate limit)",
        shopify.shop_url(),
        args.orders,
        args.seed
    );
    println!("  PULPO sandbox    {}", pulpo.base_url());
    println!("  database         {db}");
    println!();

    let shop = store
        .save_credential(NewCredential::shopify(
            "Shopify sandbox",
            &shopify.shop_url(),
            "2026-10",
            SecretString::from(shopify.state.config.access_token.clone()),
        ))
        .await?;
    let wms = store
        .save_credential(NewCredential::pulpo(
            "PULPO sandbox",
            &pulpo.base_url(),
            "sandbox_admin",
            SecretString::from("sandbox".to_string()),
        ))
        .await?;
    let settings = SalesOrderSettings {
        fallback_customer_id: Some(1),
        initial_import_days: 14,
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
    println!(
        "Provisioned credentials \"Shopify sandbox\" and \"PULPO sandbox\" and the configuration \"{INTEGRATION}\"."
    );
    println!("First run:");
    println!();

    let finished = super::run::run_now(store.clone(), INTEGRATION).await?;
    println!();
    println!("{}", super::run::summary(&finished, INTEGRATION));
    println!();
    println!(
        "Run {} ended {}: {} orders fetched, {} PULPO sales orders created, {} skipped by the filters, {} failed.",
        finished.id,
        finished.status,
        finished.counters.fetched,
        finished.counters.created,
        finished.counters.skipped,
        finished.counters.failed
    );
    if finished.counters.failed > 0 {
        println!(
            "The failed orders name SKUs the PULPO sandbox does not know (2% of the catalog, on purpose):"
        );
        println!("  tentacle --db {db} logs {} --level ERROR", finished.id);
    }
    println!("Next:");
    println!("  tentacle --db {db} runs                        every run with its counters");
    println!(
        "  tentacle --db {db} logs {}                     what happened to each order",
        finished.id
    );
    println!(
        "  tentacle --db {db} run \"{INTEGRATION}\"           run again: nothing is imported twice"
    );
    let pulpo_control = format!("http://{}/sandbox/sales/orders", pulpo.address());
    println!("  curl -s {pulpo_control} | head     the orders PULPO received");

    if !args.no_serve {
        serve(store, args.listen).await?;
    }
    shopify.stop().await;
    pulpo.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// The web UI with a generated admin account, and the workers that carry out "Run now" and the
/// schedule, until Ctrl-C.
async fn serve(
    store: std::sync::Arc<dyn tentacle_store::Store>,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    const ADMIN: &str = "admin";
    let password = tentacle_web::users::generate_password()?;
    tentacle_web::users::create_user(store.as_ref(), ADMIN, &password).await?;
    let app = tentacle_web::build(tentacle_web::Config {
        listen,
        store: store.clone(),
    })
    .await?;
    println!();
    println!("Web UI     http://{}/", app.address());
    println!("  user     {ADMIN}");
    println!("  password {password}   (generated for this demo)");
    println!("The sandboxes, the web UI and the workers keep serving until Ctrl-C.");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let web = tokio::spawn(app.serve(wait(stopped.clone())));
    let workers = tokio::spawn(tentacle_engine::worker::serve(
        store,
        std::sync::Arc::new(tentacle_engine::clock::SystemClock),
        tentacle_engine::worker::WorkerConfig::default(),
        wait(stopped),
    ));
    tokio::signal::ctrl_c().await?;
    let _ = stop.send(true);
    workers.await??;
    web.await??;
    Ok(())
}

/// A fresh directory for the demo's database; kept after exit so its runs can be read.
fn fresh_directory() -> anyhow::Result<std::path::PathBuf> {
    let directory = std::env::temp_dir().join(format!(
        "tentacle-demo-{}-{}",
        std::process::id(),
        unix_seconds()
    ));
    std::fs::create_dir_all(&directory)?;
    Ok(directory)
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
