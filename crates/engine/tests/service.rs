//! The service core with a test clock: the scheduler queues each due time once, workers claim
//! under leases, the daily run keeps its distance from regular runs of the same store, and the
//! controls start, stop and "run now". Runs that execute talk to both sandboxes over HTTP.
//!
//! Every scenario runs on SQLite and on PostgreSQL (a schema of its own per test).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use tentacle_domain::run::{RunCounters, RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_engine::clock::{Clock, TestClock};
use tentacle_engine::runner::{Executed, Leasing};
use tentacle_engine::{controls, scheduler, worker};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{
    Cipher, Claim, Integration, Lease, LogFilter, NewCredential, NewIntegration, PgOptions,
    PgStore, Run, RunFilter, SqliteStore, Store,
};
use tokio::sync::watch;

const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Opens (another handle on) the test database, as another process would.
async fn open(db: &str) -> Arc<dyn Store> {
    let cipher = Cipher::from_hex(KEY).expect("key");
    if db.starts_with("postgres") {
        let options = PgOptions { max_connections: 4 };
        Arc::new(
            PgStore::open_with(db, cipher, options)
                .await
                .expect("store"),
        )
    } else {
        Arc::new(SqliteStore::open(db, cipher).await.expect("store"))
    }
}

struct Service {
    _shopify: ShopifySandbox,
    _pulpo: PulpoSandbox,
    _dir: tempfile::TempDir,
    _schema: Option<TestSchema>,
    db: String,
    store: Arc<dyn Store>,
    clock: TestClock,
    shop_id: i64,
    wms_id: i64,
}

/// Both sandboxes and a store with their credentials; `None` when PostgreSQL is asked for but
/// cannot be reached outside CI (the test then says it skipped).
async fn service(backend: Backend, pulpo: PulpoConfig) -> Option<Service> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, schema) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/tentacle.db", dir.path().display()),
            None,
        ),
        Backend::Postgres => {
            let schema = TestSchema::create("engine_service").await?;
            (schema.url.clone(), Some(schema))
        }
    };
    let store = open(&db).await;
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders: 0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("Shopify sandbox");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        ..pulpo
    })
    .await
    .expect("PULPO sandbox");
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
    Some(Service {
        _shopify: shopify,
        _pulpo: pulpo,
        _dir: dir,
        _schema: schema,
        db,
        store,
        clock: TestClock::at(utc("2026-05-04T10:07:00Z")),
        shop_id: shop.id,
        wms_id: wms.id,
    })
}

impl Service {
    async fn integration(&self, name: &str, settings: SalesOrderSettings) -> Integration {
        self.store
            .save_integration(NewIntegration {
                name: name.into(),
                kind: "sales_orders".into(),
                origin_credential_id: self.shop_id,
                destination_credential_id: self.wms_id,
                settings: serde_json::to_value(&settings).expect("settings"),
            })
            .await
            .expect("integration")
    }

    fn leasing(&self) -> Leasing {
        Leasing {
            clock: Arc::new(self.clock.clone()),
            lease: Duration::from_secs(30),
        }
    }

    async fn tick(&self) -> usize {
        scheduler::tick(self.store.as_ref(), &self.clock)
            .await
            .expect("tick")
    }

    /// Claims like a worker that then holds the run (it never executes it).
    async fn claim_as(&self, owner: &str) -> Option<Run> {
        let now = self.clock.now();
        self.store
            .claim_run(&Claim {
                owner: owner.into(),
                now,
                lease_until: now + TimeDelta::seconds(30),
                run_id: None,
            })
            .await
            .expect("claim")
    }

    async fn finish_as(&self, owner: &str, run: &Run) -> Run {
        self.store
            .finish_run(
                &Lease {
                    run_id: run.id,
                    owner: owner.into(),
                },
                RunStatus::Finished,
                &RunCounters::default(),
                None,
                self.clock.now(),
            )
            .await
            .expect("finish")
    }

    /// A worker claims the oldest due run and executes it against the sandboxes.
    async fn work_once(&self) -> Option<Run> {
        let (_keep, release) = watch::channel(false);
        match worker::work_once(self.store.clone(), &self.leasing(), "test-worker", release)
            .await
            .expect("work")
        {
            Some(Executed::Finished(run)) => Some(run),
            Some(other) => panic!("the run did not finish: {other:?}"),
            None => None,
        }
    }

    async fn runs(&self, integration: &Integration) -> Vec<Run> {
        self.store
            .runs(&RunFilter {
                integration_id: Some(integration.id),
                ..RunFilter::default()
            })
            .await
            .expect("runs")
    }
}

/// Each scenario as a test on SQLite and one on PostgreSQL.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Backend::Postgres).await
            })*
        }
    };
}

on_both_backends!(
    every_due_time_makes_one_run_across_schedulers_and_restarts,
    the_daily_run_waits_for_a_regular_run_of_the_same_store_and_vice_versa,
    run_now_while_running_queues_and_stop_lets_the_running_run_finish,
    a_lost_worker_stops_writing_and_its_run_resumes_elsewhere,
);

fn regular(frequency_minutes: i64) -> SalesOrderSettings {
    SalesOrderSettings {
        frequency_minutes,
        ..SalesOrderSettings::default()
    }
}

fn daily(time: &str, time_difference_seconds: i64) -> SalesOrderSettings {
    SalesOrderSettings {
        transfer_once_a_day: true,
        transmission_time: time.into(),
        time_zone: "UTC".into(),
        time_difference_seconds,
        ..SalesOrderSettings::default()
    }
}

async fn every_due_time_makes_one_run_across_schedulers_and_restarts(backend: Backend) {
    let Some(app) = service(backend, PulpoConfig::default()).await else {
        return;
    };
    let sales = app.integration("Sales orders", regular(10)).await;
    // Another process on the same file: its own store, its own scheduler.
    let other = open(&app.db).await;

    assert_eq!(app.tick().await, 1, "10:07 queues the 10:10 run");
    assert_eq!(app.tick().await, 0);
    assert_eq!(
        scheduler::tick(other.as_ref(), &app.clock)
            .await
            .expect("tick"),
        0,
        "the other scheduler finds it queued"
    );
    let queued = app.runs(&sales).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].status, RunStatus::Queued);
    assert_eq!(queued[0].trigger, Trigger::Schedule);
    assert_eq!(queued[0].due_at, Some(utc("2026-05-04T10:10:00Z")));
    assert!(app.work_once().await.is_none(), "not due before 10:10");

    app.clock.set(utc("2026-05-04T10:10:00Z"));
    let state = controls::state(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("state");
    assert_eq!(state.next_run_at, Some(utc("2026-05-04T10:10:00Z")));
    let done = app.work_once().await.expect("the 10:10 run");
    assert_eq!(done.status, RunStatus::Finished);
    assert!(app.work_once().await.is_none());

    // Ticks at 10:10 and 10:15 from both processes queue only 10:20; a run overrunning its
    // period is followed by one catch-up run, not a pile.
    app.tick().await;
    app.clock.set(utc("2026-05-04T10:15:00Z"));
    scheduler::tick(other.as_ref(), &app.clock)
        .await
        .expect("tick");
    app.tick().await;
    app.clock.set(utc("2026-05-04T10:45:00Z"));
    app.tick().await;
    app.tick().await;
    let runs = app.runs(&sales).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].due_at, Some(utc("2026-05-04T10:20:00Z")));
    let state = controls::state(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("state");
    assert!(state.active);
    assert_eq!(state.last_run.map(|r| r.id), Some(done.id));
    assert_eq!(state.next_run_at, Some(utc("2026-05-04T10:20:00Z")));
    assert_eq!(
        app.work_once().await.expect("catch-up").due_at,
        Some(utc("2026-05-04T10:20:00Z"))
    );
    app.tick().await;
    assert_eq!(
        app.runs(&sales).await[0].due_at,
        Some(utc("2026-05-04T10:50:00Z"))
    );
}

async fn the_daily_run_waits_for_a_regular_run_of_the_same_store_and_vice_versa(backend: Backend) {
    let Some(app) = service(backend, PulpoConfig::default()).await else {
        return;
    };
    app.clock.set(utc("2026-05-04T01:55:00Z"));
    let regular_config = app.integration("Sales orders", regular(10)).await;
    let daily_config = app.integration("Daily re-fetch", daily("02:00", 60)).await;
    assert_eq!(app.tick().await, 2, "02:00 for both");

    // 02:00: both are due; the regular run goes first and the daily run waits.
    app.clock.set(utc("2026-05-04T02:00:00Z"));
    let regular_run = app.claim_as("regular-worker").await.expect("regular run");
    assert_eq!(regular_run.integration_id, regular_config.id);
    assert!(app.claim_as("other-worker").await.is_none());
    app.clock.set(utc("2026-05-04T02:03:00Z"));
    app.finish_as("regular-worker", &regular_run).await;
    app.clock.set(utc("2026-05-04T02:03:59Z"));
    assert!(
        app.claim_as("other-worker").await.is_none(),
        "the daily run keeps 60 s from the end of the regular one"
    );

    // 02:04: the daily run starts and says why it is late.
    app.clock.set(utc("2026-05-04T02:04:00Z"));
    let daily_run = app.work_once().await.expect("the daily run");
    assert_eq!(daily_run.integration_id, daily_config.id);
    assert_eq!(daily_run.trigger, Trigger::Daily);
    assert_eq!(daily_run.status, RunStatus::Finished);
    let logs = app
        .store
        .logs(daily_run.id, &LogFilter::default())
        .await
        .expect("logs");
    assert!(
        logs.iter().any(|e| e
            .message
            .starts_with("Daily run postponed: the sales orders configuration \"Sales orders\"")),
        "{logs:?}"
    );

    // A regular run due while the daily run works waits for it, and 60 s more.
    let manual_daily = controls::run_now(app.store.as_ref(), daily_config.id, &app.clock)
        .await
        .expect("run now");
    let held = app.claim_as("daily-worker").await.expect("daily run");
    assert_eq!(held.id, manual_daily.id);
    app.tick().await;
    app.clock.set(utc("2026-05-04T02:10:00Z"));
    assert!(app.claim_as("other-worker").await.is_none());
    app.clock.set(utc("2026-05-04T02:11:00Z"));
    app.finish_as("daily-worker", &held).await;
    app.clock.set(utc("2026-05-04T02:11:30Z"));
    assert!(app.claim_as("other-worker").await.is_none());
    app.clock.set(utc("2026-05-04T02:12:00Z"));
    let next_regular = app.claim_as("other-worker").await.expect("regular run");
    assert_eq!(next_regular.integration_id, regular_config.id);
    assert_eq!(next_regular.due_at, Some(utc("2026-05-04T02:10:00Z")));
}

async fn run_now_while_running_queues_and_stop_lets_the_running_run_finish(backend: Backend) {
    let Some(app) = service(backend, PulpoConfig::default()).await else {
        return;
    };
    let sales = app.integration("Sales orders", regular(10)).await;

    let first = controls::run_now(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("run now");
    assert_eq!(first.status, RunStatus::Queued);
    assert_eq!(first.trigger, Trigger::Manual);
    let running = app.claim_as("busy-worker").await.expect("claimed");
    assert_eq!(running.id, first.id);

    // Run now while it runs: queued, never in parallel.
    let second = controls::run_now(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("run now");
    assert_eq!(second.status, RunStatus::Queued);
    assert_ne!(second.id, first.id);
    let again = controls::run_now(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("run now");
    assert_eq!(again.id, second.id, "one queued run is enough");
    assert!(app.work_once().await.is_none(), "the configuration is busy");
    let state = controls::state(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("state");
    assert_eq!(state.current_run.map(|r| r.id), Some(first.id));
    assert_eq!(state.next_run_at, second.due_at);

    // Stop while it runs: the running run finishes, nothing new starts.
    app.tick().await;
    controls::stop(app.store.as_ref(), sales.id)
        .await
        .expect("stop");
    let finished = app.finish_as("busy-worker", &running).await;
    assert_eq!(finished.status, RunStatus::Finished);
    app.clock.advance(TimeDelta::hours(1));
    assert_eq!(app.tick().await, 0);
    assert!(app.work_once().await.is_none());
    let state = controls::state(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("state");
    assert!(!state.active);
    assert_eq!(state.current_run, None);
    assert_eq!(state.last_run.map(|r| r.id), Some(first.id));
    assert_eq!(state.next_run_at, None);
    assert_eq!(app.runs(&sales).await.len(), 1, "queued runs were dropped");

    controls::start(app.store.as_ref(), sales.id)
        .await
        .expect("start");
    assert_eq!(app.tick().await, 1);
}

async fn a_lost_worker_stops_writing_and_its_run_resumes_elsewhere(backend: Backend) {
    let Some(app) = service(backend, PulpoConfig::default()).await else {
        return;
    };
    let sales = app.integration("Sales orders", regular(10)).await;
    controls::run_now(app.store.as_ref(), sales.id, &app.clock)
        .await
        .expect("run now");
    let lost = app.claim_as("lost-worker").await.expect("claimed");
    let lost_lease = Lease {
        run_id: lost.id,
        owner: "lost-worker".into(),
    };

    app.clock.advance(TimeDelta::seconds(29));
    assert!(
        worker::reap(app.store.as_ref(), &app.clock, 3)
            .await
            .expect("reap")
            .requeued
            .is_empty()
    );
    app.clock.advance(TimeDelta::seconds(2));
    assert_eq!(
        worker::reap(app.store.as_ref(), &app.clock, 3)
            .await
            .expect("reap")
            .requeued,
        vec![lost.id]
    );
    // The lost worker wakes up: every write of its run is refused.
    assert!(
        !app.store
            .renew_lease(&lost_lease, app.clock.now())
            .await
            .expect("renew")
    );
    assert!(
        app.store
            .update_run_counters(&lost_lease, &RunCounters::default())
            .await
            .is_err()
    );

    let resumed = app.work_once().await.expect("resumed");
    assert_eq!(resumed.id, lost.id);
    assert_eq!(resumed.attempts, 2);
    assert_eq!(resumed.status, RunStatus::Finished);
    let logs = app
        .store
        .logs(lost.id, &LogFilter::default())
        .await
        .expect("logs");
    assert!(
        logs.iter()
            .any(|e| e.message.starts_with("Worker lost; resumed")),
        "{logs:?}"
    );
}
