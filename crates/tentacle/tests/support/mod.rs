//! What the multi-process tests share: the `tentacle` binary and its key, worker processes,
//! both sandboxes, a store's credentials and configurations, and the reference a clean run
//! gives.
#![allow(dead_code)] // each test binary uses its own part

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::{
    Cipher, Integration, LogFilter, NewCredential, NewIntegration, PgOptions, PgStore, SqliteStore,
    Store,
};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_tentacle");
/// The key every process of a test shares for stored secrets.
pub const KEY: &str = "0505050505050505050505050505050505050505050505050505050505050505";

pub async fn open(db: &str) -> Arc<dyn Store> {
    let cipher = Cipher::from_hex(KEY).expect("key");
    Arc::new(
        PgStore::open_with(db, cipher, PgOptions { max_connections: 4 })
            .await
            .expect("store"),
    )
}

/// A `tentacle worker` process on `db`.
pub fn worker(db: &str, extra: &[&str]) -> Child {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .arg("worker")
        .args(extra)
        .env("TENTACLE_MASTER_KEY", KEY)
        .env_remove("TENTACLE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tentacle worker starts")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub async fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

pub async fn sandboxes(orders: usize, pulpo_latency_ms: u64) -> (ShopifySandbox, PulpoSandbox) {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders,
        seed: 3,
        // Sixty stores share this sandbox: Plus-plan limits, so pacing does not dominate.
        bucket: 20_000.0,
        restore_rate: 10_000.0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("shopify");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        seed: 3,
        unknown_share: 0.0,
        latency_ms: pulpo_latency_ms,
        ..PulpoConfig::default()
    })
    .await
    .expect("pulpo");
    (shopify, pulpo)
}

pub fn settings(prefix: &str, frequency_minutes: i64, automatic: bool) -> serde_json::Value {
    serde_json::to_value(SalesOrderSettings {
        automatic_transfer: automatic,
        frequency_minutes,
        fallback_customer_id: Some(1),
        initial_import_days: 30,
        order_number_prefix: prefix.to_string(),
        ..SalesOrderSettings::default()
    })
    .expect("settings")
}

/// A store (Shopify credential `name`) importing into `wms` with `prefix`.
pub async fn configuration(
    store: &dyn Store,
    shopify: &ShopifySandbox,
    wms_id: i64,
    name: &str,
    settings: serde_json::Value,
) -> Integration {
    let shop = store
        .save_credential(NewCredential::shopify(
            name,
            &shopify.shop_url(),
            "2026-10",
            SecretString::from("shpat_sandbox".to_string()),
        ))
        .await
        .expect("shop credential");
    store
        .save_integration(NewIntegration {
            name: name.to_string(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms_id,
            settings,
        })
        .await
        .expect("integration")
}

pub async fn pulpo_credential(store: &dyn Store, pulpo: &PulpoSandbox) -> i64 {
    store
        .save_credential(NewCredential::pulpo(
            "wms",
            &pulpo.base_url(),
            "sandbox_admin",
            SecretString::from("sandbox".to_string()),
        ))
        .await
        .expect("wms credential")
        .id
}

/// The order numbers one clean run imports from `shopify` (into a PULPO of its own, on SQLite):
/// what every configuration must end up with in PULPO, no more, no less.
pub async fn reference_order_numbers(shopify: &ShopifySandbox) -> BTreeSet<String> {
    let (_, pulpo) = sandboxes(0, 0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(
            &format!("sqlite://{}/reference.db", dir.path().display()),
            Cipher::ephemeral(),
        )
        .await
        .expect("reference store"),
    );
    let wms = pulpo_credential(store.as_ref(), &pulpo).await;
    let reference = configuration(
        store.as_ref(),
        shopify,
        wms,
        "reference",
        settings("", 10, false),
    )
    .await;
    let run = run_integration(
        store.clone(),
        &reference,
        Trigger::Manual,
        RunOptions::default(),
        None,
    )
    .await
    .expect("reference run");
    if run.status != RunStatus::Finished {
        let logs = store
            .logs(run.id, &LogFilter::default())
            .await
            .expect("logs");
        panic!("the reference run did not finish cleanly: {run:?}\n{logs:#?}");
    }
    let numbers: BTreeSet<String> = pulpo
        .state
        .sales_orders()
        .into_iter()
        .map(|o| o.order_num)
        .collect();
    assert!(!numbers.is_empty());
    numbers
}
