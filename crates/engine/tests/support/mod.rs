//! What the end-to-end tests of the PULPO → Shopify types share: both sandboxes on random
//! ports, a store on SQLite or on PostgreSQL (a schema of its own), and a credential for each
//! sandbox.

use std::sync::Arc;

use secrecy::SecretString;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{Cipher, Credential, NewCredential, PgOptions, PgStore, SqliteStore, Store};

const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Every backend a scenario runs on.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

pub struct Systems {
    pub shopify: ShopifySandbox,
    pub pulpo: PulpoSandbox,
    pub store: Arc<dyn Store>,
    /// The Shopify credential ("shop") and the PULPO one ("wms").
    pub shop: Credential,
    pub wms: Credential,
    pub schema: Option<TestSchema>,
    pub dir: tempfile::TempDir,
}

/// Both sandboxes (the Shopify one with `shopify`'s limits and faults, no generated orders), a
/// store on `backend` and both credentials; `None` when PostgreSQL is asked for but missing
/// outside CI (`test` names the schema).
pub async fn systems(backend: Backend, shopify: ShopifyConfig, test: &str) -> Option<Systems> {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders: 0,
        ..shopify
    })
    .await
    .expect("Shopify sandbox");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        ..PulpoConfig::default()
    })
    .await
    .expect("PULPO sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    let cipher = Cipher::from_hex(KEY).expect("key");
    let (store, schema): (Arc<dyn Store>, _) = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}/tentacle.db", dir.path().display());
            (
                Arc::new(SqliteStore::open(&url, cipher).await.expect("store")),
                None,
            )
        }
        Backend::Postgres => {
            let schema = TestSchema::create(test).await?;
            let options = PgOptions { max_connections: 4 };
            let store = PgStore::open_with(&schema.url, cipher, options)
                .await
                .expect("store");
            (Arc::new(store), Some(schema))
        }
    };
    let shop = store
        .save_credential(NewCredential::shopify(
            "shop",
            &shopify.shop_url(),
            "2026-10",
            SecretString::from("shpat_sandbox".to_string()),
        ))
        .await
        .expect("shop credential");
    let wms = store
        .save_credential(NewCredential::pulpo(
            "wms",
            &pulpo.base_url(),
            "sandbox_admin",
            SecretString::from("sandbox".to_string()),
        ))
        .await
        .expect("wms credential");
    Some(Systems {
        shopify,
        pulpo,
        store,
        shop,
        wms,
        schema,
        dir,
    })
}

/// After a worker died holding a run: its lease expires, the reaper queues the run again and a
/// second worker resumes it to its end. The resumed run, which the test checks.
#[allow(
    dead_code,
    reason = "used by the scenarios that kill a worker, not by every test binary"
)]
pub async fn resume_lost_run(store: &Arc<dyn Store>) -> tentacle_store::Run {
    use tentacle_domain::run::LogLevel;
    use tentacle_engine::clock::SystemClock;
    use tentacle_engine::runner::{Executed, Leasing};
    use tentacle_store::{NewLogEntry, Reap};

    let entry = |message: &str| NewLogEntry {
        at: chrono::Utc::now(),
        level: LogLevel::Warning,
        record_kind: None,
        record: None,
        message: message.into(),
    };
    let reaped = store
        .reap_expired_runs(&Reap {
            now: chrono::Utc::now() + chrono::TimeDelta::minutes(5),
            max_losses: 3,
            resumed: entry("Worker lost; resumed"),
            failed: entry("Worker lost too often"),
        })
        .await
        .expect("reap");
    assert_eq!(reaped.requeued.len(), 1, "{reaped:?}");
    let leasing = Leasing {
        clock: Arc::new(SystemClock),
        lease: std::time::Duration::from_secs(30),
    };
    let (_keep, release) = tokio::sync::watch::channel(false);
    let resumed =
        tentacle_engine::worker::work_once(store.clone(), &leasing, "second-worker", release)
            .await
            .expect("work");
    let Some(Executed::Finished(run)) = resumed else {
        panic!("the run resumed and finished: {resumed:?}");
    };
    assert_eq!((run.id, run.attempts), (reaped.requeued[0], 2));
    run
}

/// Waits, at most a minute, until `reached` says the spawned `worker` got as far as the test
/// needs (`what` it should have done, for the message). A worker that stopped early fails the
/// test, saying how it ended, instead of hanging the suite.
#[allow(
    dead_code,
    reason = "used by the scenarios that kill a worker, not by every test binary"
)]
pub async fn wait_for_worker<T: std::fmt::Debug>(
    worker: &mut tokio::task::JoinHandle<T>,
    what: &str,
    reached: impl Fn() -> bool,
) {
    let waited = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while !reached() {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    if waited.is_err() {
        let outcome = if worker.is_finished() {
            format!("it ended: {:?}", worker.await)
        } else {
            "it is still running".to_string()
        };
        panic!("the worker {what} in 60 s; {outcome}");
    }
}
