//! The store contract: one story per behaviour, told the same way to [`SqliteStore`] and to
//! [`PgStore`] through the [`Store`] trait, so the engine can rely on the trait whatever the
//! backend. Each scenario becomes `sqlite::<name>` and `postgres::<name>`; the PostgreSQL tests
//! skip (saying so) where no server can be reached, except under `CI=true`.
//!
//! `postgres_processes` adds what only PostgreSQL promises: several tentacle processes (a
//! `PgStore` each, with a pool of its own) sharing one database.
//!
//! Times given to the store (due times, claims, leases, finishes) are fixed instants around
//! 2026-05-04 10:00 UTC, never read from a clock, so no scenario depends on how fast it runs.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tentacle_domain::run::{ApiUsage, LogLevel, RunCounters, RunStatus, Trigger};
use tentacle_domain::sales_order::PulpoOrderState;
use tentacle_store::prelude::*;
use tentacle_store::testing::TestSchema;
use tentacle_store::{
    Attention, AttentionKey, AttentionKind, Cipher, Claim, Credential, CredentialKind,
    ExclusionRole, HeldWrite, Integration, Lease, LinkScope, LogFilter, NewApiToken, NewCredential,
    NewIntegration, NewLogEntry, NewSession, OrderLink, PgOptions, PgStore, ProductLink, Pruned,
    Reap, Reaped, RecordKind, Retention, ReturnLink, Run, RunExclusion, RunFilter, RunRequest,
    ShipmentLink, SqliteStore, StatusMark, StoreError, SystemPair, TokenScope,
};

const KEY: &str = "0707070707070707070707070707070707070707070707070707070707070707";

/// 2026-05-04 10:00:00 UTC plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-04T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
        + TimeDelta::seconds(seconds)
}

/// A store on a database of its own, kept for the whole test (the temporary directory or the
/// PostgreSQL schema goes away with it).
struct Db {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/tentacle.db", dir.path().display());
        let store = open(&url).await.expect("SQLite store");
        Db {
            store,
            url,
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// `None` when PostgreSQL cannot be reached outside CI (`TestSchema` said SKIPPED).
    async fn postgres(test: &str) -> Option<Db> {
        let schema = TestSchema::create(test).await?;
        let url = schema.url.clone();
        let store = open(&url).await.expect("PostgreSQL store");
        Some(Db {
            store,
            url,
            _dir: None,
            _schema: Some(schema),
        })
    }

    fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// Another store on the same database, as another tentacle process would open it.
    async fn open_again(&self) -> Arc<dyn Store> {
        open(&self.url).await.expect("another store")
    }

    /// Deletes the key check value, as in a database made before tentacle stored one.
    async fn forget_key_check(&self) {
        if self.is_postgres() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw pool");
            sqlx::query("DELETE FROM key_check")
                .execute(&pool)
                .await
                .expect("delete");
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw pool");
            sqlx::query("DELETE FROM key_check")
                .execute(&pool)
                .await
                .expect("delete");
            pool.close().await;
        }
    }

    /// Records a migration this binary does not know, as a newer tentacle would have.
    async fn apply_migration_from_the_future(&self) {
        if self.is_postgres() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw pool");
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
                 VALUES (99999999999, 'from the future', now(), TRUE, '\\x00', 0)",
            )
            .execute(&pool)
            .await
            .expect("insert the migration");
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw pool");
            sqlx::query(
                "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
                 VALUES (99999999999, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 0)",
            )
            .execute(&pool)
            .await
            .expect("insert the migration");
            pool.close().await;
        }
    }
}

/// The sealed secrets of the credential `shop` as an older tentacle stored them (the key check
/// on open decrypts the first credential of a database that has no check value yet).
fn old_secrets() -> Vec<u8> {
    Cipher::from_hex(KEY)
        .expect("key")
        .encrypt(b"{}", b"credential:shopify:shop")
}

/// Few connections per store: the tests run in parallel against one PostgreSQL server.
async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let cipher = Cipher::from_hex(KEY).expect("key");
    Ok(if url.starts_with("postgres") {
        let options = PgOptions { max_connections: 4 };
        Arc::new(PgStore::open_with(url, cipher, options).await?)
    } else {
        Arc::new(SqliteStore::open(url, cipher).await?)
    })
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_string())
}

fn shopify(name: &str, token: &str) -> NewCredential {
    NewCredential::shopify(name, "https://shop.example", "2026-10", secret(token))
}

fn pulpo(name: &str, password: &str) -> NewCredential {
    NewCredential::pulpo(name, "https://wms.example", "api", secret(password))
}

/// The Shopify store `shop` and the PULPO instance `wms` (saved again when they exist: same ids).
async fn systems(store: &dyn Store) -> (Credential, Credential) {
    let shop = store
        .save_credential(shopify("shop", "shpat_token"))
        .await
        .expect("shop credential");
    let wms = store
        .save_credential(pulpo("wms", "pulpo-password"))
        .await
        .expect("wms credential");
    (shop, wms)
}

fn sales_orders(name: &str, shop: &Credential, wms: &Credential) -> NewIntegration {
    NewIntegration {
        name: name.into(),
        kind: "sales_orders".into(),
        origin_credential_id: shop.id,
        destination_credential_id: wms.id,
        settings: json!({"frequency_minutes": 10}),
    }
}

/// A sales orders configuration from `shop` to `wms`.
async fn configuration(store: &dyn Store, name: &str) -> Integration {
    let (shop, wms) = systems(store).await;
    store
        .save_integration(sales_orders(name, &shop, &wms))
        .await
        .expect("integration")
}

fn manual(integration: &Integration, due_at: DateTime<Utc>) -> RunRequest {
    RunRequest {
        integration_id: integration.id,
        trigger: Trigger::Manual,
        due_at,
        exclusion: None,
    }
}

fn scheduled(integration: &Integration, due_at: DateTime<Utc>) -> RunRequest {
    RunRequest {
        trigger: Trigger::Schedule,
        ..manual(integration, due_at)
    }
}

/// A run of one role on the store `shop:1`, keeping `gap_seconds` between the roles.
fn exclusive(
    integration: &Integration,
    role: ExclusionRole,
    gap_seconds: i64,
    due_at: DateTime<Utc>,
) -> RunRequest {
    RunRequest {
        integration_id: integration.id,
        trigger: match role {
            ExclusionRole::Daily => Trigger::Daily,
            ExclusionRole::Regular => Trigger::Schedule,
        },
        due_at,
        exclusion: Some(RunExclusion {
            key: "shop:1".into(),
            role,
            gap_seconds,
        }),
    }
}

async fn enqueue(store: &dyn Store, request: RunRequest) -> Run {
    let enqueued = store.enqueue_run(&request).await.expect("enqueue");
    assert!(enqueued.created, "{request:?} queued a run of its own");
    enqueued.run
}

fn claim_at(owner: &str, now: DateTime<Utc>, lease_seconds: i64) -> Claim {
    Claim {
        owner: owner.into(),
        now,
        lease_until: now + TimeDelta::seconds(lease_seconds),
        run_id: None,
    }
}

/// Claims the oldest due run as `owner`, with a 30 s lease.
async fn claim(store: &dyn Store, owner: &str, now: DateTime<Utc>) -> Option<Run> {
    store
        .claim_run(&claim_at(owner, now, 30))
        .await
        .expect("claim")
}

fn lease(run: &Run, owner: &str) -> Lease {
    Lease {
        run_id: run.id,
        owner: owner.into(),
    }
}

async fn finish(store: &dyn Store, run: &Run, owner: &str, now: DateTime<Utc>) -> Run {
    store
        .finish_run(
            &lease(run, owner),
            RunStatus::Finished,
            &RunCounters::default(),
            None,
            now,
        )
        .await
        .expect("finish")
}

fn entry(level: LogLevel, record: Option<&str>, message: &str) -> NewLogEntry {
    NewLogEntry {
        at: at(0),
        level,
        record_kind: record.map(|_| "order".to_string()),
        record: record.map(str::to_string),
        message: message.into(),
    }
}

const RESUMED: &str = "The worker was lost; the run resumes.";
const FAILED: &str = "The worker was lost too often; the run failed.";

fn reap(now: DateTime<Utc>, max_losses: i64) -> Reap {
    Reap {
        now,
        max_losses,
        resumed: entry(LogLevel::Warning, None, RESUMED),
        failed: entry(LogLevel::Error, None, FAILED),
    }
}

async fn messages(store: &dyn Store, run_id: i64) -> Vec<String> {
    store
        .logs(run_id, &LogFilter::default())
        .await
        .expect("logs")
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[track_caller]
fn assert_conflict<T: Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "expected a conflict, got {result:?}"
    );
}

#[track_caller]
fn assert_not_found<T: Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "expected not found, got {result:?}"
    );
}

/// Every write under `held` is refused: the run is no longer this worker's.
async fn assert_lease_lost(store: &dyn Store, held: &Lease) {
    let lost = |result: Result<(), StoreError>, what: &str| match result {
        Err(StoreError::LeaseLost { run_id }) => assert_eq!(run_id, held.run_id, "{what}"),
        other => panic!("{what}: expected the lease to be lost, got {other:?}"),
    };
    assert!(
        !store.renew_lease(held, at(10_000)).await.expect("renew"),
        "renew_lease"
    );
    let counters = RunCounters {
        fetched: 99,
        ..RunCounters::default()
    };
    lost(
        store.update_run_counters(held, &counters).await,
        "update_run_counters",
    );
    lost(
        store
            .append_logs(held, &[entry(LogLevel::Info, None, "too late")])
            .await,
        "append_logs",
    );
    let usage = ApiUsage {
        shopify_requests: 1,
        ..ApiUsage::default()
    };
    lost(store.add_run_usage(held, &usage).await, "add_run_usage");

    // The run's other writes (cursor, links, flags) are refused too, and change nothing.
    let integration_id = store
        .run(held.run_id)
        .await
        .expect("read")
        .expect("run")
        .integration_id;
    let integration = store
        .integration(integration_id)
        .await
        .expect("read")
        .expect("integration");
    let scope = LinkScope {
        origin_credential_id: integration.origin_credential_id,
        destination_credential_id: integration.destination_credential_id,
    };
    let cursor = store.cursor(integration_id).await.expect("cursor");
    lost(
        store
            .write_held(
                held,
                &[HeldWrite::Cursor {
                    integration_id,
                    at: at(10_000),
                }],
            )
            .await,
        "write_held(Cursor)",
    );
    assert_eq!(store.cursor(integration_id).await.expect("cursor"), cursor);
    let late = link(scope, "late", "late", "late-order");
    lost(
        store
            .write_held(held, &[HeldWrite::OrderLink(late.clone())])
            .await,
        "write_held(OrderLink)",
    );
    assert_eq!(
        store
            .order_link(scope, &late.fulfillment_order_id)
            .await
            .expect("read"),
        None
    );
    let flag = attention(integration_id, "late", AttentionKind::Failed, at(0));
    lost(
        store.write_held(held, &[HeldWrite::Flag(flag)]).await,
        "write_held(Flag)",
    );
    store
        .flag(&attention(
            integration_id,
            "kept",
            AttentionKind::Conflict,
            at(0),
        ))
        .await
        .expect("flag");
    lost(
        store
            .write_held(
                held,
                &[HeldWrite::ClearFlag(order_key(integration_id, "kept"))],
            )
            .await,
        "write_held(ClearFlag)",
    );
    let flagged: Vec<String> = store
        .flags(Some(integration_id))
        .await
        .expect("flags")
        .into_iter()
        .map(|a| a.key.record_id)
        .collect();
    assert_eq!(flagged, ["gid://shopify/Order/kept"]);
    store
        .clear_flag(&order_key(integration_id, "kept"))
        .await
        .expect("clear");
    lost(
        store
            .finish_run(held, RunStatus::Finished, &counters, None, at(10_000))
            .await
            .map(|_| ()),
        "finish_run",
    );
    assert!(
        !store
            .release_run(held, &entry(LogLevel::Info, None, "too late"))
            .await
            .expect("release"),
        "release_run"
    );
}

/// Each scenario as a test on SQLite and one on PostgreSQL.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Db::sqlite().await).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                let Some(db) = super::Db::postgres(stringify!($scenario)).await else {
                    return;
                };
                super::$scenario(db).await
            })*
        }
    };
}

on_both_backends!(
    credentials_keep_their_secrets_and_refuse_conflicts,
    creates_refuse_a_name_that_exists_even_two_at_once,
    integrations_keep_their_id_and_stopping_drops_only_runs_never_started,
    enqueue_makes_one_run_per_due_time_and_never_piles_up,
    claims_take_the_oldest_due_run_and_one_per_configuration,
    daily_and_regular_runs_of_one_store_take_turns_with_a_gap,
    a_worker_whose_run_was_reaped_can_no_longer_write,
    the_reaper_resumes_a_lost_run_until_the_retry_limit_then_fails_it,
    logs_keep_their_order_and_filter_by_level_text_and_page,
    run_totals_sum_counters_usage_and_durations,
    cursors_order_links_and_flagged_orders,
    held_writes_land_together_or_not_at_all,
    flags_of_an_order_and_a_sku_of_one_configuration_are_kept_apart,
    the_attention_migration_keeps_the_flags_of_orders,
    api_tokens_users_and_sessions,
    api_tokens_keep_scope_and_expiry_are_listed_and_revoked,
    a_database_migrated_by_a_newer_tentacle_is_refused,
    a_database_is_refused_with_another_key_than_its_own,
    a_queue_change_wakes_idle_workers,
    references_to_missing_rows_are_conflicts,
    shipment_links_keep_one_link_per_box_and_scope,
    status_marks_are_read_in_bulk_and_keep_their_tag,
    held_shipment_links_and_status_marks_land_with_the_cursor_or_not_at_all,
    credentials_with_shipment_links_or_status_marks_cannot_be_deleted,
    order_links_are_found_by_pulpo_order_and_boxes_flagged,
    confirmed_order_links_are_paged_from_a_time,
    product_links_keep_one_product_per_variant_and_one_variant_per_product,
    return_links_keep_one_link_per_pulpo_return_and_land_with_the_run,
    one_process_schedules_at_a_time_and_another_takes_over_when_it_is_gone,
    retention_deletes_only_expired_runs_while_a_run_writes,
    run_totals_do_not_go_down_when_retention_deletes_runs,
    daily_run_totals_sum_the_runs_that_ended_each_day,
    the_retention_migration_backfills_the_run_totals,
);

/// `create_*` is an insert (the API's create), `save_*` the upsert `apply` relies on: of two
/// creates of one name at once exactly one lands, and the other is a `Conflict` naming it.
async fn creates_refuse_a_name_that_exists_even_two_at_once(db: Db) {
    let store = db.store.as_ref();
    let (first, second) = tokio::join!(
        store.create_credential(shopify("shop", "shpat_first")),
        store.create_credential(shopify("shop", "shpat_second")),
    );
    let (won, lost) = match (first, second) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("one create must win and one fail: {other:?}"),
    };
    assert!(
        matches!(&lost, StoreError::Conflict { what } if what.contains("\"shop\"")),
        "{lost:?}"
    );
    let stored = store.credentials().await.expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, won.id);
    let kept = won
        .secrets
        .get("access_token")
        .expect("token")
        .expose_secret()
        .to_string();
    assert_eq!(
        stored[0]
            .secrets
            .get("access_token")
            .expect("token")
            .expose_secret(),
        kept,
        "the winner's secret was not overwritten"
    );
    // The upsert `apply` uses still replaces in place.
    let again = store
        .save_credential(shopify("shop", "shpat_applied"))
        .await
        .expect("upsert");
    assert_eq!(again.id, won.id);

    let wms = store
        .create_credential(pulpo("wms", "pulpo-password"))
        .await
        .expect("wms");
    let (first, second) = tokio::join!(
        store.create_integration(sales_orders("Orders", &won, &wms)),
        store.create_integration(sales_orders("Orders", &won, &wms)),
    );
    assert!(
        first.is_ok() != second.is_ok(),
        "one create must win: {first:?} {second:?}"
    );
    let lost = first.err().or(second.err()).expect("one lost");
    assert!(
        matches!(&lost, StoreError::Conflict { what } if what.contains("\"Orders\"")),
        "{lost:?}"
    );
    assert_eq!(store.integrations().await.expect("list").len(), 1);
    let mut missing = sales_orders("Other", &won, &wms);
    missing.destination_credential_id = wms.id + 1000;
    let refused = store
        .create_integration(missing)
        .await
        .expect_err("no such credential");
    assert!(
        matches!(&refused, StoreError::Conflict { what } if what.contains("does not exist")),
        "{refused:?}"
    );
}

async fn credentials_keep_their_secrets_and_refuse_conflicts(db: Db) {
    let store = db.store.as_ref();
    let shop = store
        .save_credential(shopify("shop", "shpat_first"))
        .await
        .expect("save shop");
    let wms = store
        .save_credential(pulpo("wms", "pulpo-password"))
        .await
        .expect("save wms");
    assert_ne!(shop.id, wms.id);

    let read = store
        .credential(shop.id)
        .await
        .expect("read")
        .expect("by id");
    assert_eq!(read.name, "shop");
    assert_eq!(read.kind, CredentialKind::Shopify);
    assert_eq!(read.config["shop_url"], "https://shop.example");
    let token = read.secrets.get("access_token").expect("access token");
    assert_eq!(token.expose_secret(), "shpat_first");
    let by_name = store
        .credential_by_name("wms")
        .await
        .expect("read")
        .expect("by name");
    assert_eq!(by_name.id, wms.id);
    assert_eq!(by_name.kind, CredentialKind::Pulpo);
    assert_eq!(
        by_name
            .secrets
            .get("password")
            .expect("password")
            .expose_secret(),
        "pulpo-password"
    );
    assert!(
        store
            .credential_by_name("nobody")
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .credential(wms.id + 1000)
            .await
            .expect("read")
            .is_none()
    );
    let names: Vec<String> = store
        .credentials()
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["shop", "wms"]);

    // Saving under a name that exists replaces that credential in place.
    let replaced = store
        .save_credential(shopify("shop", "shpat_second"))
        .await
        .expect("save again");
    assert_eq!(replaced.id, shop.id);
    assert_eq!(store.credentials().await.expect("list").len(), 2);
    let read = store
        .credential(shop.id)
        .await
        .expect("read")
        .expect("by id");
    assert_eq!(
        read.secrets
            .get("access_token")
            .expect("token")
            .expose_secret(),
        "shpat_second"
    );

    // Logs and error pages print credentials: the secret names show, their values never do.
    for shown in [
        format!("{read:?}"),
        format!("{:?}", shopify("shop", "shpat_second")),
    ] {
        assert!(!shown.contains("shpat_second"), "{shown}");
        assert!(shown.contains("access_token"), "{shown}");
    }

    // The secrets are sealed with the name, so a rename seals them again.
    let renamed = store
        .update_credential(shop.id, shopify("shop-eu", "shpat_third"))
        .await
        .expect("rename");
    assert_eq!((renamed.id, renamed.name.as_str()), (shop.id, "shop-eu"));
    let read = store
        .credential(shop.id)
        .await
        .expect("read")
        .expect("by id");
    assert_eq!(read.name, "shop-eu");
    assert_eq!(
        read.secrets
            .get("access_token")
            .expect("token")
            .expose_secret(),
        "shpat_third"
    );
    assert!(
        store
            .credential_by_name("shop")
            .await
            .expect("read")
            .is_none()
    );
    assert_conflict(
        store
            .update_credential(shop.id, shopify("wms", "shpat_third"))
            .await,
    );
    assert_eq!(
        store
            .credential(shop.id)
            .await
            .expect("read")
            .expect("kept")
            .name,
        "shop-eu"
    );
    assert_not_found(
        store
            .update_credential(wms.id + 1000, shopify("ghost", "x"))
            .await,
    );

    // A credential in use stays.
    let sales = store
        .save_integration(sales_orders("Sales orders", &shop, &wms))
        .await
        .expect("integration");
    assert_conflict(store.delete_credential(shop.id).await);
    assert!(store.credential(shop.id).await.expect("read").is_some());
    assert!(
        store
            .delete_integration(sales.id)
            .await
            .expect("delete integration")
    );
    assert!(store.delete_credential(shop.id).await.expect("delete"));
    assert!(
        !store
            .delete_credential(shop.id)
            .await
            .expect("delete again")
    );
    assert!(store.credential(shop.id).await.expect("read").is_none());
}

async fn integrations_keep_their_id_and_stopping_drops_only_runs_never_started(db: Db) {
    let store = db.store.as_ref();
    let (shop, wms) = systems(store).await;
    let sales = store
        .save_integration(sales_orders("Sales orders", &shop, &wms))
        .await
        .expect("save");
    assert!(sales.active, "a new configuration is active");
    assert_eq!(sales.kind, "sales_orders");
    assert_eq!(
        (sales.origin_credential_id, sales.destination_credential_id),
        (shop.id, wms.id)
    );
    let stopped = store
        .set_integration_active(sales.id, false)
        .await
        .expect("stop")
        .expect("exists");
    assert!(!stopped.active);

    // Saving under the same name replaces the settings, not the id or the active flag.
    let resaved = store
        .save_integration(NewIntegration {
            settings: json!({"frequency_minutes": 5}),
            ..sales_orders("Sales orders", &shop, &wms)
        })
        .await
        .expect("save again");
    assert_eq!(resaved.id, sales.id);
    assert!(
        !resaved.active,
        "saving again keeps the configuration stopped"
    );
    assert_eq!(resaved.settings, json!({"frequency_minutes": 5}));

    let daily = store
        .save_integration(sales_orders("Daily re-fetch", &shop, &wms))
        .await
        .expect("save daily");
    let names: Vec<String> = store
        .integrations()
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["Daily re-fetch", "Sales orders"]);
    assert_eq!(
        store
            .integration_by_name("Daily re-fetch")
            .await
            .expect("read")
            .expect("by name")
            .id,
        daily.id
    );

    let renamed = store
        .update_integration(sales.id, sales_orders("Sales orders EU", &shop, &wms))
        .await
        .expect("rename");
    assert_eq!(renamed.id, sales.id);
    assert!(!renamed.active, "an update keeps the active flag");
    assert_eq!(renamed.settings, json!({"frequency_minutes": 10}));
    assert_eq!(
        store
            .integration(sales.id)
            .await
            .expect("read")
            .expect("by id")
            .name,
        "Sales orders EU"
    );
    assert!(
        store
            .integration_by_name("Sales orders")
            .await
            .expect("read")
            .is_none()
    );
    assert_conflict(
        store
            .update_integration(sales.id, sales_orders("Daily re-fetch", &shop, &wms))
            .await,
    );
    assert_not_found(
        store
            .update_integration(daily.id + 1000, sales_orders("Ghost", &shop, &wms))
            .await,
    );
    assert!(
        store
            .set_integration_active(daily.id + 1000, false)
            .await
            .expect("stop")
            .is_none()
    );

    // Stopping drops the queued runs that never started; a running run goes on, and so does a
    // run released to resume.
    let sales = store
        .set_integration_active(sales.id, true)
        .await
        .expect("start")
        .expect("exists");
    assert!(sales.active);
    enqueue(store, manual(&sales, at(0))).await;
    let running = claim(store, "worker-1", at(0)).await.expect("sales run");
    let waiting = enqueue(store, manual(&sales, at(1))).await;
    enqueue(store, manual(&daily, at(0))).await;
    let released = claim(store, "worker-2", at(0)).await.expect("daily run");
    assert_eq!(released.integration_id, daily.id);
    assert!(
        store
            .release_run(
                &lease(&released, "worker-2"),
                &entry(LogLevel::Info, None, "Released: tentacle stops.")
            )
            .await
            .expect("release")
    );
    let never_started = enqueue(store, manual(&daily, at(5))).await;

    store
        .set_integration_active(sales.id, false)
        .await
        .expect("stop");
    store
        .set_integration_active(daily.id, false)
        .await
        .expect("stop");
    assert!(store.run(waiting.id).await.expect("read").is_none());
    assert!(store.run(never_started.id).await.expect("read").is_none());
    let still = store.run(running.id).await.expect("read").expect("kept");
    assert_eq!(still.status, RunStatus::Running);
    assert_eq!(still.worker.as_deref(), Some("worker-1"));
    let resumable = store.run(released.id).await.expect("read").expect("kept");
    assert_eq!(resumable.status, RunStatus::Queued);
    assert_eq!(resumable.attempts, 1);
    assert_eq!(
        finish(store, &running, "worker-1", at(10)).await.status,
        RunStatus::Finished
    );

    // Deleting takes the runs, their logs, the cursor and the flags along.
    store.set_cursor(daily.id, at(-3600)).await.expect("cursor");
    store
        .flag(&attention(daily.id, "1", AttentionKind::Failed, at(0)))
        .await
        .expect("flag");
    assert!(store.delete_integration(daily.id).await.expect("delete"));
    assert!(store.integration(daily.id).await.expect("read").is_none());
    assert!(store.run(released.id).await.expect("read").is_none());
    assert!(messages(store, released.id).await.is_empty());
    assert!(store.cursor(daily.id).await.expect("cursor").is_none());
    assert!(store.flags(None).await.expect("flags").is_empty());
    assert!(
        !store
            .delete_integration(daily.id)
            .await
            .expect("delete again")
    );
    assert!(store.run(running.id).await.expect("read").is_some());
}

async fn enqueue_makes_one_run_per_due_time_and_never_piles_up(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;

    let first = store
        .enqueue_run(&scheduled(&sales, at(600)))
        .await
        .expect("enqueue");
    assert!(first.created);
    let run = &first.run;
    assert_eq!(
        (run.integration_id, run.trigger, run.status),
        (sales.id, Trigger::Schedule, RunStatus::Queued)
    );
    assert_eq!(run.due_at, Some(at(600)));
    assert_eq!(run.started_at, at(600), "a queued run shows its due time");
    assert_eq!((run.attempts, run.worker.as_deref()), (0, None));

    // The same due time from another scheduler (or after a restart) is the same run.
    let again = store
        .enqueue_run(&scheduled(&sales, at(600)))
        .await
        .expect("enqueue again");
    assert!(!again.created);
    assert_eq!(again.run.id, first.run.id);

    // Later requests wait behind the queued run instead of piling up…
    for later in [scheduled(&sales, at(1200)), manual(&sales, at(700))] {
        let kept = store.enqueue_run(&later).await.expect("enqueue later");
        assert!(!kept.created, "{later:?}");
        assert_eq!(kept.run.id, first.run.id);
    }
    // …an earlier one is a run of its own.
    let earlier = enqueue(store, manual(&sales, at(300))).await;
    assert_ne!(earlier.id, first.run.id);
    let runs = store
        .runs(&RunFilter {
            integration_id: Some(sales.id),
            ..RunFilter::default()
        })
        .await
        .expect("runs");
    assert_eq!(runs.len(), 2, "{runs:?}");

    // "Run now" while a run works queues one run beside it, once.
    let busy = configuration(store, "Busy").await;
    enqueue(store, manual(&busy, at(0))).await;
    let running = claim(store, "worker", at(0)).await.expect("claimed");
    assert_eq!(running.integration_id, busy.id);
    let queued = enqueue(store, manual(&busy, at(10))).await;
    assert_ne!(queued.id, running.id);
    assert_eq!(queued.status, RunStatus::Queued);
    let twice = store
        .enqueue_run(&manual(&busy, at(20)))
        .await
        .expect("enqueue");
    assert!(!twice.created);
    assert_eq!(twice.run.id, queued.id);

    // A scheduled due time that already ran is not run again.
    let nightly = configuration(store, "Nightly").await;
    let done = enqueue(store, scheduled(&nightly, at(0))).await;
    let claimed = store
        .claim_run(&Claim {
            run_id: Some(done.id),
            ..claim_at("worker", at(0), 30)
        })
        .await
        .expect("claim")
        .expect("claimed");
    finish(store, &claimed, "worker", at(5)).await;
    let after = store
        .enqueue_run(&scheduled(&nightly, at(0)))
        .await
        .expect("enqueue");
    assert!(!after.created);
    assert_eq!(after.run.id, done.id);
    assert_eq!(after.run.status, RunStatus::Finished);

    // What the scheduler reads in one query: per configuration, the earliest queued run that
    // never started (a running or finished run does not count).
    let unstarted = store.queued_unstarted_due().await.expect("queued runs");
    let expected: std::collections::HashMap<i64, _> = [(sales.id, at(300)), (busy.id, at(10))]
        .into_iter()
        .collect();
    assert_eq!(unstarted, expected);
}

async fn claims_take_the_oldest_due_run_and_one_per_configuration(db: Db) {
    let store = db.store.as_ref();
    let a = configuration(store, "A").await;
    let b = configuration(store, "B").await;
    let c = configuration(store, "C").await;
    let run_a = enqueue(store, manual(&a, at(20))).await;
    let run_b = enqueue(store, manual(&b, at(10))).await;
    let run_c = enqueue(store, manual(&c, at(5))).await;

    assert!(
        claim(store, "early", at(4)).await.is_none(),
        "nothing is due before 5 s"
    );
    let first = claim(store, "worker-1", at(100)).await.expect("first");
    assert_eq!(first.id, run_c.id, "the oldest due run goes first");
    assert_eq!(first.status, RunStatus::Running);
    assert_eq!(first.worker.as_deref(), Some("worker-1"));
    assert_eq!(first.attempts, 1);
    assert_eq!(first.started_at, at(100), "started when claimed");
    assert_eq!(first.due_at, Some(at(5)));
    assert_eq!(
        store
            .run(first.id)
            .await
            .expect("read")
            .expect("run")
            .worker
            .as_deref(),
        Some("worker-1")
    );
    assert_eq!(
        claim(store, "worker-2", at(100)).await.expect("second").id,
        run_b.id
    );
    let third = claim(store, "worker-3", at(100)).await.expect("third");
    assert_eq!(third.id, run_a.id);
    assert!(claim(store, "worker-4", at(100)).await.is_none());

    // One running run per configuration: the next run of A waits for the running one.
    let next_a = enqueue(store, manual(&a, at(30))).await;
    assert!(claim(store, "worker-4", at(100)).await.is_none());
    let done = finish(store, &third, "worker-3", at(110)).await;
    assert_eq!(done.status, RunStatus::Finished);
    assert_eq!(done.worker, None, "nobody holds a finished run");
    assert_eq!(done.finished_at, Some(at(110)));
    assert_eq!(
        store.run(done.id).await.expect("read").expect("run").worker,
        None
    );
    assert_eq!(
        claim(store, "worker-4", at(110)).await.expect("next").id,
        next_a.id
    );

    // `run_id` claims that run only, and only once it is due.
    let d = configuration(store, "D").await;
    let e = configuration(store, "E").await;
    let f = configuration(store, "F").await;
    let run_d = enqueue(store, manual(&d, at(50))).await;
    let run_e = enqueue(store, manual(&e, at(60))).await;
    let run_f = enqueue(store, manual(&f, at(1000))).await;
    let only = |run: &Run| Claim {
        run_id: Some(run.id),
        ..claim_at("cli", at(200), 30)
    };
    assert!(
        store
            .claim_run(&only(&run_f))
            .await
            .expect("claim")
            .is_none()
    );
    assert_eq!(
        store
            .claim_run(&only(&run_e))
            .await
            .expect("claim")
            .expect("E")
            .id,
        run_e.id
    );
    assert!(
        store
            .claim_run(&only(&run_e))
            .await
            .expect("claim")
            .is_none(),
        "claimed already"
    );
    assert_eq!(
        claim(store, "worker-5", at(200)).await.expect("D").id,
        run_d.id
    );
}

async fn daily_and_regular_runs_of_one_store_take_turns_with_a_gap(db: Db) {
    use ExclusionRole::{Daily, Regular};
    let store = db.store.as_ref();
    let regular = configuration(store, "Sales orders").await;
    let daily = configuration(store, "Daily re-fetch").await;

    // Both due at once: the regular run goes first and the daily run waits for it.
    let regular_run = enqueue(store, exclusive(&regular, Regular, 60, at(0))).await;
    let daily_run = enqueue(store, exclusive(&daily, Daily, 60, at(0))).await;
    let running = claim(store, "regular-worker", at(0))
        .await
        .expect("regular run");
    assert_eq!(running.id, regular_run.id);
    assert!(
        claim(store, "other-worker", at(0)).await.is_none(),
        "no daily run while a regular run of the same store runs"
    );
    finish(store, &running, "regular-worker", at(180)).await;
    assert!(
        claim(store, "other-worker", at(239)).await.is_none(),
        "the daily run keeps 60 s from the end of the regular one"
    );
    let running = claim(store, "daily-worker", at(240))
        .await
        .expect("daily run");
    assert_eq!(running.id, daily_run.id);

    // A regular run due while the daily run works waits for it, and 60 s more.
    let next_regular = enqueue(store, exclusive(&regular, Regular, 60, at(600))).await;
    assert!(
        claim(store, "other-worker", at(600)).await.is_none(),
        "no regular run while the daily run of the same store runs"
    );
    finish(store, &running, "daily-worker", at(660)).await;
    assert!(claim(store, "other-worker", at(719)).await.is_none());
    let running = claim(store, "regular-worker", at(720))
        .await
        .expect("regular run");
    assert_eq!(running.id, next_regular.id);
    finish(store, &running, "regular-worker", at(730)).await;

    // A regular run due within the gap after the daily run's due time goes first…
    let daily_run = enqueue(store, exclusive(&daily, Daily, 60, at(1000))).await;
    let regular_run = enqueue(store, exclusive(&regular, Regular, 60, at(1030))).await;
    assert!(
        claim(store, "other-worker", at(1010)).await.is_none(),
        "the daily run waits for the regular run due 30 s after it"
    );
    let running = claim(store, "regular-worker", at(1030))
        .await
        .expect("regular run");
    assert_eq!(running.id, regular_run.id);
    finish(store, &running, "regular-worker", at(1040)).await;
    assert!(claim(store, "other-worker", at(1099)).await.is_none());
    let running = claim(store, "daily-worker", at(1100))
        .await
        .expect("daily run");
    assert_eq!(running.id, daily_run.id);
    finish(store, &running, "daily-worker", at(1110)).await;

    // …one due later than the gap does not hold the daily run back.
    let daily_run = enqueue(store, exclusive(&daily, Daily, 60, at(2000))).await;
    enqueue(store, exclusive(&regular, Regular, 60, at(2100))).await;
    let running = claim(store, "daily-worker", at(2000))
        .await
        .expect("daily run");
    assert_eq!(running.id, daily_run.id);
    assert!(claim(store, "other-worker", at(2100)).await.is_none());
}

async fn a_worker_whose_run_was_reaped_can_no_longer_write(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;
    enqueue(store, manual(&sales, at(-10))).await;
    let run = claim(store, "lost-worker", at(0)).await.expect("claimed");
    let held = lease(&run, "lost-worker");

    // A renewed lease outlives its first expiry.
    assert!(store.renew_lease(&held, at(60)).await.expect("renew"));
    assert_eq!(
        store
            .reap_expired_runs(&reap(at(45), 3))
            .await
            .expect("reap"),
        Reaped::default()
    );
    let counters = RunCounters {
        fetched: 3,
        ..RunCounters::default()
    };
    store
        .update_run_counters(&held, &counters)
        .await
        .expect("counters while held");
    // While held, the run's cursor, link and flag writes go through.
    store
        .write_held(
            &held,
            &[HeldWrite::Cursor {
                integration_id: sales.id,
                at: at(30),
            }],
        )
        .await
        .expect("cursor while held");
    assert_eq!(store.cursor(sales.id).await.expect("cursor"), Some(at(30)));
    let scope = LinkScope {
        origin_credential_id: sales.origin_credential_id,
        destination_credential_id: sales.destination_credential_id,
    };
    let imported = link(scope, "1", "1", "1001");
    store
        .write_held(&held, &[HeldWrite::OrderLink(imported.clone())])
        .await
        .expect("link while held");
    assert_eq!(
        store
            .order_link(scope, &imported.fulfillment_order_id)
            .await
            .expect("read"),
        Some(imported.clone())
    );
    let failed = attention(sales.id, "2", AttentionKind::Failed, at(30));
    store
        .write_held(&held, &[HeldWrite::Flag(failed.clone())])
        .await
        .expect("flag while held");
    assert_eq!(store.flags(Some(sales.id)).await.expect("flags").len(), 1);
    store
        .write_held(&held, &[HeldWrite::ClearFlag(failed.key.clone())])
        .await
        .expect("clear while held");
    assert!(store.flags(Some(sales.id)).await.expect("flags").is_empty());
    assert_eq!(
        store
            .run(run.id)
            .await
            .expect("read")
            .expect("run")
            .counters,
        counters,
        "a run in progress shows its live numbers"
    );

    let reaped = store
        .reap_expired_runs(&reap(at(61), 3))
        .await
        .expect("reap");
    assert_eq!(
        reaped,
        Reaped {
            requeued: vec![run.id],
            failed: vec![],
        }
    );
    assert_lease_lost(store, &held).await;

    // Taken over by another worker, the run is still not the lost worker's.
    let resumed = claim(store, "new-worker", at(62)).await.expect("resumed");
    assert_eq!(resumed.id, run.id);
    assert_eq!(resumed.attempts, 2);
    assert_eq!(resumed.worker.as_deref(), Some("new-worker"));
    assert_eq!(resumed.started_at, at(0), "a resumed run keeps its start");
    assert_lease_lost(store, &held).await;

    let mine = lease(&resumed, "new-worker");
    assert!(store.renew_lease(&mine, at(120)).await.expect("renew"));
    store
        .append_logs(&mine, &[entry(LogLevel::Info, None, "Resumed here.")])
        .await
        .expect("append");
    let counters = RunCounters {
        fetched: 7,
        created: 7,
        ..RunCounters::default()
    };
    let done = store
        .finish_run(&mine, RunStatus::Finished, &counters, None, at(90))
        .await
        .expect("finish");
    assert_eq!(done.status, RunStatus::Finished);
    assert_eq!(done.counters, counters);
    assert_eq!(messages(store, run.id).await, [RESUMED, "Resumed here."]);
    assert_lease_lost(store, &mine).await;
}

async fn the_reaper_resumes_a_lost_run_until_the_retry_limit_then_fails_it(db: Db) {
    let store = db.store.as_ref();
    let flaky = configuration(store, "Flaky").await;
    let other = configuration(store, "Other").await;
    let steady = configuration(store, "Steady").await;
    let flaky_run = enqueue(store, manual(&flaky, at(0))).await;
    let other_run = enqueue(store, manual(&other, at(0))).await;
    let steady_run = enqueue(store, manual(&steady, at(0))).await;
    let only = |run: &Run, owner: &str, now: DateTime<Utc>| Claim {
        run_id: Some(run.id),
        ..claim_at(owner, now, 30)
    };
    store
        .claim_run(&Claim {
            run_id: Some(steady_run.id),
            ..claim_at("steady-worker", at(0), 3600)
        })
        .await
        .expect("claim")
        .expect("steady");
    store
        .claim_run(&only(&other_run, "other-worker", at(0)))
        .await
        .expect("claim")
        .expect("other");

    for round in 1..=3 {
        let start = (round - 1) * 100;
        let run = store
            .claim_run(&only(&flaky_run, &format!("worker-{round}"), at(start)))
            .await
            .expect("claim")
            .expect("flaky run");
        assert_eq!(run.attempts, round);
        assert_eq!(
            store
                .reap_expired_runs(&reap(at(start + 30), 3))
                .await
                .expect("reap"),
            Reaped::default(),
            "a lease holds until its end"
        );
        let mut reaped = store
            .reap_expired_runs(&reap(at(start + 31), 3))
            .await
            .expect("reap");
        reaped.requeued.sort_unstable();
        let expected = match round {
            1 => Reaped {
                requeued: vec![flaky_run.id, other_run.id],
                failed: vec![],
            },
            2 => Reaped {
                requeued: vec![flaky_run.id],
                failed: vec![],
            },
            _ => Reaped {
                requeued: vec![],
                failed: vec![flaky_run.id],
            },
        };
        assert_eq!(reaped, expected, "round {round}");
        let after = store.run(flaky_run.id).await.expect("read").expect("run");
        assert_eq!(after.worker, None);
        if round < 3 {
            assert_eq!(after.status, RunStatus::Queued);
            assert_eq!(after.error, None);
        }
    }

    let failed = store.run(flaky_run.id).await.expect("read").expect("run");
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some(FAILED));
    assert_eq!(failed.finished_at, Some(at(231)));
    assert_eq!(failed.attempts, 3);
    let logs = store
        .logs(flaky_run.id, &LogFilter::default())
        .await
        .expect("logs");
    let entries: Vec<(LogLevel, &str)> =
        logs.iter().map(|e| (e.level, e.message.as_str())).collect();
    assert_eq!(
        entries,
        [
            (LogLevel::Warning, RESUMED),
            (LogLevel::Warning, RESUMED),
            (LogLevel::Error, FAILED)
        ]
    );
    assert!(
        store
            .claim_run(&only(&flaky_run, "worker-4", at(300)))
            .await
            .expect("claim")
            .is_none(),
        "a failed run is not claimed again"
    );
    // The reaper ended it: it counts in the totals like a run its worker failed.
    let totals = store.run_totals().await.expect("totals");
    let failed = totals
        .iter()
        .find(|t| t.integration_id == flaky_run.integration_id && t.status == RunStatus::Failed)
        .unwrap_or_else(|| panic!("no FAILED totals: {totals:#?}"));
    assert_eq!(failed.runs, 1);

    // A run whose lease did not expire is left alone.
    let steady_now = store.run(steady_run.id).await.expect("read").expect("run");
    assert_eq!(steady_now.status, RunStatus::Running);
    assert_eq!(steady_now.worker.as_deref(), Some("steady-worker"));
    assert!(messages(store, steady_run.id).await.is_empty());
    let other_now = store.run(other_run.id).await.expect("read").expect("run");
    assert_eq!(other_now.status, RunStatus::Queued);
    assert_eq!(messages(store, other_run.id).await, [RESUMED]);
}

async fn logs_keep_their_order_and_filter_by_level_text_and_page(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;
    enqueue(store, manual(&sales, at(0))).await;
    let run = claim(store, "worker", at(0)).await.expect("claimed");
    let held = lease(&run, "worker");

    let first_batch = [
        entry(
            LogLevel::Info,
            Some("#1001"),
            "Imported as sales order 1001-1.",
        ),
        entry(
            LogLevel::Warning,
            Some("#1002"),
            "Skipped: a line has no SKU.",
        ),
        entry(
            LogLevel::Error,
            Some("#1003"),
            "Failed: PULPO answered 500.",
        ),
    ];
    let second_batch = [
        NewLogEntry {
            at: at(5),
            record_kind: Some("sku".into()),
            ..entry(LogLevel::Info, Some("SKU-ABC"), "Unknown in PULPO.")
        },
        entry(
            LogLevel::Error,
            None,
            "PULPO unreachable while updating #1001.",
        ),
    ];
    store
        .append_logs(&held, &first_batch)
        .await
        .expect("append");
    store.append_logs(&held, &[]).await.expect("append nothing");
    store
        .append_logs(&held, &second_batch)
        .await
        .expect("append");
    let many: Vec<NewLogEntry> = (0..200)
        .map(|n| entry(LogLevel::Info, None, &format!("entry {n}")))
        .collect();
    store.append_logs(&held, &many).await.expect("append many");

    let all = store
        .logs(run.id, &LogFilter::default())
        .await
        .expect("logs");
    assert_eq!(all.len(), 205);
    let written: Vec<&NewLogEntry> = first_batch
        .iter()
        .chain(&second_batch)
        .chain(&many)
        .collect();
    for (stored, written) in all.iter().zip(written) {
        assert_eq!(stored.run_id, run.id);
        assert_eq!(
            (
                stored.at,
                stored.level,
                &stored.record_kind,
                &stored.record,
                &stored.message
            ),
            (
                written.at,
                written.level,
                &written.record_kind,
                &written.record,
                &written.message
            )
        );
    }
    assert!(
        all.windows(2).all(|w| w[0].id < w[1].id),
        "ids grow in order"
    );

    let read = |filter: LogFilter| async move {
        store
            .logs(run.id, &filter)
            .await
            .expect("logs")
            .into_iter()
            .map(|e| e.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        read(LogFilter {
            min_level: Some(LogLevel::Warning),
            ..LogFilter::default()
        })
        .await,
        [
            "Skipped: a line has no SKU.",
            "Failed: PULPO answered 500.",
            "PULPO unreachable while updating #1001."
        ]
    );
    assert_eq!(
        read(LogFilter {
            min_level: Some(LogLevel::Error),
            ..LogFilter::default()
        })
        .await,
        [
            "Failed: PULPO answered 500.",
            "PULPO unreachable while updating #1001."
        ]
    );
    assert_eq!(
        read(LogFilter {
            min_level: Some(LogLevel::Info),
            ..LogFilter::default()
        })
        .await
        .len(),
        205
    );
    // The text is looked for in the record and in the message, in any case.
    assert_eq!(
        read(LogFilter {
            record: Some("#1001".into()),
            ..LogFilter::default()
        })
        .await,
        [
            "Imported as sales order 1001-1.",
            "PULPO unreachable while updating #1001."
        ]
    );
    assert_eq!(
        read(LogFilter {
            record: Some("sku-abc".into()),
            ..LogFilter::default()
        })
        .await,
        ["Unknown in PULPO."]
    );
    assert_eq!(
        read(LogFilter {
            record: Some("pulpo".into()),
            ..LogFilter::default()
        })
        .await,
        [
            "Failed: PULPO answered 500.",
            "Unknown in PULPO.",
            "PULPO unreachable while updating #1001."
        ]
    );
    assert_eq!(
        read(LogFilter {
            record: Some("pulpo".into()),
            min_level: Some(LogLevel::Error),
            ..LogFilter::default()
        })
        .await,
        [
            "Failed: PULPO answered 500.",
            "PULPO unreachable while updating #1001."
        ]
    );

    // Paging: `after_id` continues where the last page ended.
    let page = |after_id: Option<i64>| async move {
        store
            .logs(
                run.id,
                &LogFilter {
                    after_id,
                    limit: Some(2),
                    ..LogFilter::default()
                },
            )
            .await
            .expect("logs")
    };
    let first = page(None).await;
    assert_eq!(
        first.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[0].id, all[1].id]
    );
    let second = page(Some(first[1].id)).await;
    assert_eq!(
        second.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[2].id, all[3].id]
    );
    assert!(page(Some(all[204].id)).await.is_empty());
    assert_eq!(
        read(LogFilter {
            after_id: Some(all[1].id),
            min_level: Some(LogLevel::Error),
            limit: Some(1),
            ..LogFilter::default()
        })
        .await,
        ["Failed: PULPO answered 500."]
    );
    assert!(
        store
            .logs(run.id + 1000, &LogFilter::default())
            .await
            .expect("logs")
            .is_empty()
    );
}

async fn run_totals_sum_counters_usage_and_durations(db: Db) {
    let store = db.store.as_ref();
    let a = configuration(store, "A").await;
    let b = configuration(store, "B").await;
    let run_with = |integration: &Integration, due: i64| {
        let request = manual(integration, at(due));
        async move {
            enqueue(store, request).await;
            claim(store, "worker", at(due)).await.expect("claimed")
        }
    };
    let end = |run: Run, status: RunStatus, counters: RunCounters, seconds: i64| async move {
        let started = run.started_at;
        store
            .finish_run(
                &lease(&run, "worker"),
                status,
                &counters,
                None,
                started + TimeDelta::seconds(seconds),
            )
            .await
            .expect("finish")
    };

    // A: two finished runs (90 s and 30 s), one of them reporting its API usage in two parts.
    let run = run_with(&a, 0).await;
    let held = lease(&run, "worker");
    let reported = [
        ApiUsage {
            shopify_requests: 2,
            shopify_points: 50,
            shopify_throttled: 1,
            pulpo_requests: 3,
            pulpo_retries: 0,
        },
        ApiUsage {
            shopify_requests: 3,
            shopify_points: 70,
            shopify_throttled: 0,
            pulpo_requests: 4,
            pulpo_retries: 1,
        },
    ];
    for usage in &reported {
        store.add_run_usage(&held, usage).await.expect("usage");
    }
    let first = RunCounters {
        fetched: 5,
        created: 3,
        updated: 1,
        skipped: 1,
        ..RunCounters::default()
    };
    end(run, RunStatus::Finished, first, 90).await;
    let second = RunCounters {
        fetched: 2,
        created: 1,
        cancelled: 1,
        conflicts: 1,
        ..RunCounters::default()
    };
    let run = run_with(&a, 100).await;
    end(run, RunStatus::Finished, second, 30).await;
    let partial = RunCounters {
        fetched: 4,
        created: 2,
        failed: 2,
        ..RunCounters::default()
    };
    let run = run_with(&a, 200).await;
    end(run, RunStatus::FinishedPartially, partial, 60).await;
    // B: a failed run, a running one and a queued one.
    let failed = RunCounters {
        fetched: 1,
        failed: 1,
        ..RunCounters::default()
    };
    let run = run_with(&b, 0).await;
    end(run, RunStatus::Failed, failed, 15).await;
    run_with(&b, 100).await;
    enqueue(store, manual(&b, at(200))).await;

    let totals = store.run_totals().await.expect("totals");
    assert_eq!(totals.len(), 5, "{totals:#?}");
    let of = |integration: &Integration, status: RunStatus| {
        totals
            .iter()
            .find(|t| t.integration_id == integration.id && t.status == status)
            .unwrap_or_else(|| panic!("no totals for {} {status:?}: {totals:#?}", integration.name))
    };
    let finished = of(&a, RunStatus::Finished);
    assert_eq!(finished.runs, 2);
    assert_eq!(
        finished.counters,
        RunCounters {
            fetched: 7,
            created: 4,
            updated: 1,
            cancelled: 1,
            skipped: 1,
            failed: 0,
            conflicts: 1,
        }
    );
    assert!(
        (finished.finished_seconds - 120.0).abs() < 0.01,
        "{finished:?}"
    );
    assert_eq!(
        finished.usage,
        ApiUsage {
            shopify_requests: 5,
            shopify_points: 120,
            shopify_throttled: 1,
            pulpo_requests: 7,
            pulpo_retries: 1,
        }
    );
    let partially = of(&a, RunStatus::FinishedPartially);
    assert_eq!((partially.runs, partially.counters), (1, partial));
    assert!((partially.finished_seconds - 60.0).abs() < 0.01);
    assert_eq!(partially.usage, ApiUsage::default());
    let failed_totals = of(&b, RunStatus::Failed);
    assert_eq!((failed_totals.runs, failed_totals.counters), (1, failed));
    assert!((failed_totals.finished_seconds - 15.0).abs() < 0.01);
    for status in [RunStatus::Running, RunStatus::Queued] {
        let open = of(&b, status);
        assert_eq!(open.runs, 1);
        assert_eq!(open.finished_seconds, 0.0, "{open:?}");
    }
}

fn attention(
    integration_id: i64,
    order: &str,
    kind: AttentionKind,
    at: DateTime<Utc>,
) -> Attention {
    Attention {
        key: order_key(integration_id, order),
        record_label: format!("#{order}"),
        kind,
        reason: "PULPO answered 500".into(),
        attempts: 1,
        run_id: None,
        updated_at: at,
    }
}

/// The flag of the Shopify order `gid://shopify/Order/{order}`.
fn order_key(integration_id: i64, order: &str) -> AttentionKey {
    AttentionKey {
        integration_id,
        record_kind: RecordKind::Order,
        record_id: format!("gid://shopify/Order/{order}"),
    }
}

fn link(scope: LinkScope, fulfillment_order: &str, order: &str, order_num: &str) -> OrderLink {
    OrderLink {
        scope,
        fulfillment_order_id: format!("gid://shopify/FulfillmentOrder/{fulfillment_order}"),
        shopify_order_id: format!("gid://shopify/Order/{order}"),
        order_name: format!("#{order}"),
        order_num: order_num.into(),
        warehouse_id: 1,
        pulpo_order_id: None,
        pulpo_state: PulpoOrderState::Queue,
        fingerprint: "00000000000000aa".parse().expect("fingerprint"),
        updated_at: at(0),
    }
}

async fn cursors_order_links_and_flagged_orders(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;
    let daily = configuration(store, "Daily re-fetch").await;

    assert_eq!(store.cursor(sales.id).await.expect("cursor"), None);
    let moment = at(-3600) + TimeDelta::milliseconds(250);
    store.set_cursor(sales.id, moment).await.expect("set");
    assert_eq!(store.cursor(sales.id).await.expect("cursor"), Some(moment));
    store.set_cursor(sales.id, at(0)).await.expect("set again");
    assert_eq!(store.cursor(sales.id).await.expect("cursor"), Some(at(0)));
    assert_eq!(store.cursor(daily.id).await.expect("cursor"), None);

    // Links, per pair of systems.
    let (shop, wms) = systems(store).await;
    let other_shop = store
        .save_credential(shopify("other shop", "shpat_other"))
        .await
        .expect("credential");
    let scope = LinkScope {
        origin_credential_id: shop.id,
        destination_credential_id: wms.id,
    };
    let other_scope = LinkScope {
        origin_credential_id: other_shop.id,
        ..scope
    };
    let second = link(scope, "2", "1001", "1001-2");
    let first = link(scope, "1", "1001", "1001-1");
    store.save_order_link(&second).await.expect("save");
    store.save_order_link(&first).await.expect("save");
    store
        .save_order_link(&link(scope, "3", "1002", "1002-1"))
        .await
        .expect("save");
    assert_eq!(
        store
            .order_links(scope, "gid://shopify/Order/1001")
            .await
            .expect("links"),
        [first.clone(), second.clone()],
        "sorted by fulfillment order"
    );
    assert_eq!(
        store
            .order_link(scope, &second.fulfillment_order_id)
            .await
            .expect("link"),
        Some(second.clone())
    );
    assert_eq!(store.count_order_links(scope).await.expect("count"), 3);

    // Saving the link of a fulfillment order again replaces it (the create was confirmed).
    let confirmed = OrderLink {
        pulpo_order_id: Some(77),
        pulpo_state: PulpoOrderState::Picking,
        fingerprint: "00000000000000bb".parse().expect("fingerprint"),
        warehouse_id: 2,
        updated_at: at(60) + TimeDelta::milliseconds(5),
        ..second.clone()
    };
    store.save_order_link(&confirmed).await.expect("upsert");
    assert_eq!(
        store
            .order_link(scope, &second.fulfillment_order_id)
            .await
            .expect("link"),
        Some(confirmed.clone())
    );
    assert_eq!(
        confirmed.linked().map(|l| l.pulpo_order_id),
        Some(77),
        "a confirmed link is linked"
    );
    assert_eq!(store.count_order_links(scope).await.expect("count"), 3);

    // An order number is PULPO's identity of the order: unique per pair of systems.
    let clash = link(scope, "4", "1003", "1001-1");
    assert!(
        store.save_order_link(&clash).await.is_err(),
        "a second link with order number 1001-1 in the same scope"
    );
    assert_eq!(
        store
            .order_link(scope, &clash.fulfillment_order_id)
            .await
            .expect("link"),
        None
    );
    assert_eq!(store.count_order_links(scope).await.expect("count"), 3);
    assert_eq!(
        store.count_order_links(other_scope).await.expect("count"),
        0
    );
    assert_eq!(
        store
            .order_link(other_scope, &first.fulfillment_order_id)
            .await
            .expect("link"),
        None
    );
    store
        .save_order_link(&link(other_scope, "1", "1001", "1001-1"))
        .await
        .expect("the same order number in another scope");
    assert_eq!(
        store.count_order_links(other_scope).await.expect("count"),
        1
    );
    assert_eq!(
        store
            .order_links(scope, "gid://shopify/Order/1001")
            .await
            .expect("links")
            .len(),
        2
    );

    // Flags: attempts count up, the newest is first, clearing removes one.
    store
        .flag(&attention(sales.id, "1001", AttentionKind::Failed, at(0)))
        .await
        .expect("flag");
    store
        .flag(&Attention {
            reason: "PULPO refused: unknown SKU".into(),
            kind: AttentionKind::Conflict,
            run_id: Some(7),
            ..attention(sales.id, "1001", AttentionKind::Failed, at(10))
        })
        .await
        .expect("flag again");
    store
        .flag(&attention(sales.id, "1002", AttentionKind::Failed, at(20)))
        .await
        .expect("flag");
    store
        .flag(&attention(daily.id, "1003", AttentionKind::Failed, at(5)))
        .await
        .expect("flag");
    let flagged = store.flags(Some(sales.id)).await.expect("flagged");
    assert_eq!(
        flagged,
        [
            attention(sales.id, "1002", AttentionKind::Failed, at(20)),
            Attention {
                reason: "PULPO refused: unknown SKU".into(),
                attempts: 2,
                run_id: Some(7),
                ..attention(sales.id, "1001", AttentionKind::Conflict, at(10))
            },
        ]
    );
    let everywhere: Vec<String> = store
        .flags(None)
        .await
        .expect("flagged")
        .into_iter()
        .map(|a| a.record_label)
        .collect();
    assert_eq!(everywhere, ["#1002", "#1001", "#1003"]);
    store
        .clear_flag(&order_key(sales.id, "1001"))
        .await
        .expect("clear");
    store
        .clear_flag(&order_key(sales.id, "9999"))
        .await
        .expect("clearing no flag");
    let left: Vec<String> = store
        .flags(Some(sales.id))
        .await
        .expect("flagged")
        .into_iter()
        .map(|a| a.record_label)
        .collect();
    assert_eq!(left, ["#1002"]);
    assert_eq!(store.flags(Some(daily.id)).await.expect("flagged").len(), 1);
}

async fn api_tokens_keep_scope_and_expiry_are_listed_and_revoked(db: Db) {
    let store = db.store.as_ref();
    let expires_at = at(30 * 86_400);
    let prometheus = store
        .create_api_token(&NewApiToken {
            expires_at: Some(expires_at),
            ..new_token("prometheus", "hash-p", TokenScope::Metrics)
        })
        .await
        .expect("token");
    store
        .create_api_token(&new_token("dashboard", "hash-d", TokenScope::Read))
        .await
        .expect("token");
    let read = store
        .api_token_by_hash("hash-p")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.scope, TokenScope::Metrics);
    // Both backends keep at least millisecond precision.
    let kept = read.expires_at.expect("an expiry");
    assert!(
        (kept - expires_at).num_milliseconds().abs() < 1,
        "{kept} {expires_at}"
    );
    assert_eq!(read.last_used_at, None);

    // Use is recorded, at most once a minute.
    let first = at(60);
    store
        .api_token_used(prometheus.id, first)
        .await
        .expect("used");
    store
        .api_token_used(prometheus.id, first + TimeDelta::seconds(20))
        .await
        .expect("used again");
    let used = |hash: &'static str| async move {
        store
            .api_token_by_hash(hash)
            .await
            .expect("read")
            .and_then(|t| t.last_used_at)
            .map(|at| at.timestamp_millis())
    };
    assert_eq!(used("hash-p").await, Some(first.timestamp_millis()));
    store
        .api_token_used(prometheus.id, first + TimeDelta::seconds(90))
        .await
        .expect("used later");
    assert_eq!(
        used("hash-p").await,
        Some((first + TimeDelta::seconds(90)).timestamp_millis())
    );

    let names: Vec<(String, TokenScope)> = store
        .api_tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|t| (t.name, t.scope))
        .collect();
    assert_eq!(
        names,
        [
            ("dashboard".to_string(), TokenScope::Read),
            ("prometheus".to_string(), TokenScope::Metrics)
        ]
    );
    assert!(store.revoke_api_token("prometheus").await.expect("revoke"));
    assert!(!store.revoke_api_token("prometheus").await.expect("again"));
    assert_eq!(store.api_token_by_hash("hash-p").await.expect("read"), None);
}

fn new_token(name: &str, hash: &str, scope: TokenScope) -> NewApiToken {
    NewApiToken {
        name: name.into(),
        token_hash: hash.into(),
        scope,
        expires_at: None,
    }
}

async fn api_tokens_users_and_sessions(db: Db) {
    let store = db.store.as_ref();
    let token = store
        .create_api_token(&new_token("ci", "hash-ci", TokenScope::Admin))
        .await
        .expect("token");
    assert_eq!(
        (token.name.as_str(), token.token_hash.as_str()),
        ("ci", "hash-ci")
    );
    assert_conflict(
        store
            .create_api_token(&new_token("ci", "hash-other", TokenScope::Read))
            .await,
    );
    assert_conflict(
        store
            .create_api_token(&new_token("deploy", "hash-ci", TokenScope::Read))
            .await,
    );
    assert_eq!(
        store.api_token_by_hash("hash-ci").await.expect("read"),
        Some(token)
    );
    assert_eq!(
        store.api_token_by_hash("hash-other").await.expect("read"),
        None
    );

    let admin = store
        .create_user("admin", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        .await
        .expect("user");
    assert_conflict(store.create_user("admin", "$argon2id$other").await);
    assert_eq!(
        store.user_by_name("admin").await.expect("read"),
        Some(admin.clone())
    );
    assert_eq!(store.user_by_name("nobody").await.expect("read"), None);

    let expires_at = Utc::now() + TimeDelta::hours(1);
    let session = store
        .create_session(&NewSession {
            token_hash: "session-1".into(),
            user_id: admin.id,
            csrf_token: "csrf-1".into(),
            expires_at,
        })
        .await
        .expect("session");
    assert_eq!(
        (
            session.user_id,
            session.user_name.as_str(),
            session.csrf_token.as_str()
        ),
        (admin.id, "admin", "csrf-1")
    );
    let found = |hash: &'static str, now: DateTime<Utc>| async move {
        store.session_by_hash(hash, now).await.expect("read")
    };
    assert_eq!(found("session-1", Utc::now()).await, Some(session.clone()));
    assert_eq!(
        found("session-1", expires_at - TimeDelta::seconds(1))
            .await
            .map(|s| s.id),
        Some(session.id)
    );
    assert_eq!(found("session-1", expires_at).await, None, "expired");
    assert_eq!(found("session-2", Utc::now()).await, None);
    assert!(store.delete_session("session-1").await.expect("logout"));
    assert!(
        !store
            .delete_session("session-1")
            .await
            .expect("logout again")
    );
    assert_eq!(found("session-1", Utc::now()).await, None);

    // Log out everywhere ends every session of the user, and only those.
    let other = store
        .create_user("operator", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$b3RoZXI")
        .await
        .expect("user");
    for (hash, user) in [("a-1", admin.id), ("a-2", admin.id), ("o-1", other.id)] {
        store
            .create_session(&NewSession {
                token_hash: hash.into(),
                user_id: user,
                csrf_token: format!("csrf-{hash}"),
                expires_at,
            })
            .await
            .expect("session");
    }
    assert_eq!(store.delete_user_sessions(admin.id).await.expect("all"), 2);
    assert_eq!(found("a-1", Utc::now()).await, None);
    assert!(found("o-1", Utc::now()).await.is_some());
    // A new password ends the user's sessions too.
    assert!(
        store
            .set_user_password("operator", "$argon2id$new")
            .await
            .expect("password")
    );
    assert_eq!(found("o-1", Utc::now()).await, None);
    assert_eq!(
        store
            .user_by_name("operator")
            .await
            .expect("read")
            .map(|u| u.password_hash),
        Some("$argon2id$new".to_string())
    );
    assert!(!store.set_user_password("nobody", "$x").await.expect("none"));
    assert!(store.delete_user("operator").await.expect("deleted"));
    assert!(!store.delete_user("operator").await.expect("gone"));
    assert_eq!(store.user_by_name("operator").await.expect("read"), None);

    // A new session clears the expired ones away.
    let short = store
        .create_session(&NewSession {
            token_hash: "session-short".into(),
            user_id: admin.id,
            csrf_token: "csrf-short".into(),
            expires_at: Utc::now() + TimeDelta::milliseconds(300),
        })
        .await
        .expect("short session");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(found("session-short", Utc::now()).await, None, "expired");
    assert_eq!(
        found("session-short", short.created_at).await.map(|s| s.id),
        Some(short.id),
        "still stored"
    );
    store
        .create_session(&NewSession {
            token_hash: "session-3".into(),
            user_id: admin.id,
            csrf_token: "csrf-3".into(),
            expires_at: Utc::now() + TimeDelta::hours(1),
        })
        .await
        .expect("session");
    assert_eq!(
        found("session-short", short.created_at).await,
        None,
        "deleted when the next session was created"
    );
    assert!(found("session-3", Utc::now()).await.is_some());
}

async fn a_database_is_refused_with_another_key_than_its_own(db: Db) {
    db.store
        .save_credential(shopify("shop", "shpat_token"))
        .await
        .expect("a secret under the first key");
    let with_other_key = || async {
        let other = Cipher::from_hex(&"17".repeat(32)).expect("key");
        if db.is_postgres() {
            PgStore::open_with(&db.url, other, PgOptions { max_connections: 2 })
                .await
                .map(|_| ())
        } else {
            SqliteStore::open(&db.url, other).await.map(|_| ())
        }
    };
    let refused = with_other_key().await;
    assert!(matches!(refused, Err(StoreError::WrongKey)), "{refused:?}");
    // A database from before the key check: its secrets tell, and no check value is written
    // for the wrong key.
    db.forget_key_check().await;
    let refused = with_other_key().await;
    assert!(matches!(refused, Err(StoreError::WrongKey)), "{refused:?}");
    // Refused before anything was written: the database still opens with its own key, and
    // its secret reads.
    let again = db.open_again().await;
    let shop = again
        .credential_by_name("shop")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        shop.secrets
            .get("access_token")
            .expect("token")
            .expose_secret(),
        "shpat_token"
    );
}

async fn a_database_migrated_by_a_newer_tentacle_is_refused(db: Db) {
    let version = db.store.schema_version().await.expect("version");
    assert!(version >= 1, "schema version {version}");
    db.store.ping().await.expect("ping");
    db.open_again()
        .await
        .schema_version()
        .await
        .expect("a second open of the same database works");

    db.apply_migration_from_the_future().await;
    match open(&db.url).await {
        Err(
            error @ StoreError::SchemaTooNew {
                database_version,
                binary_version,
            },
        ) => {
            assert_eq!(database_version, 99_999_999_999);
            assert_eq!(binary_version, version);
            let text = error.to_string();
            assert!(text.contains("schema is newer"), "{text}");
        }
        Err(other) => panic!("expected SchemaTooNew, got {other:?}"),
        Ok(_) => panic!("a database from a newer tentacle was opened"),
    }
}

async fn a_queue_change_wakes_idle_workers(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;
    let mut wake_ups = store.wake_ups();
    if db.is_postgres() {
        assert!(
            wake_ups.wait(Duration::from_secs(5)).await,
            "the listener wakes once when it connects"
        );
    }
    wake_ups.mark_seen();
    assert!(
        !wake_ups.wait(Duration::from_millis(200)).await,
        "nothing changed yet"
    );

    let queued = enqueue(store, manual(&sales, at(0))).await;
    assert!(
        wake_ups.wait(Duration::from_secs(1)).await,
        "a queued run wakes"
    );
    wake_ups.mark_seen();
    let kept = store
        .enqueue_run(&manual(&sales, at(5)))
        .await
        .expect("enqueue");
    assert!(!kept.created);
    assert!(
        !wake_ups.wait(Duration::from_millis(200)).await,
        "nothing new was queued"
    );

    let running = claim(store, "worker", at(0)).await.expect("claimed");
    assert_eq!(running.id, queued.id);
    wake_ups.mark_seen();
    finish(store, &running, "worker", at(1)).await;
    assert!(
        wake_ups.wait(Duration::from_secs(1)).await,
        "a run that ends frees its configuration"
    );
}

async fn one_process_schedules_at_a_time_and_another_takes_over_when_it_is_gone(db: Db) {
    // Stores of their own, as two processes would open them (the PostgreSQL case drops one).
    let first = db.open_again().await;
    let second = db.open_again().await;
    assert_eq!(first.scheduler().await.expect("read"), None);
    assert!(first.hold_scheduler("A", at(0), at(30)).await.expect("A"));
    assert!(!second.hold_scheduler("B", at(1), at(31)).await.expect("B"));
    // The holder renews; it keeps the time it took over.
    assert!(first.hold_scheduler("A", at(10), at(40)).await.expect("A"));
    let held = second.scheduler().await.expect("read").expect("a holder");
    assert_eq!(
        (held.owner.as_str(), held.since, held.lease_until),
        ("A", at(0), at(40))
    );
    assert!(!second.hold_scheduler("B", at(39), at(69)).await.expect("B"));
    if db.is_postgres() {
        // The lock lives with the holder's connection, whatever the clock says; a process
        // that is gone (its store, its connections) frees it for the next poll of another.
        assert!(
            !second
                .hold_scheduler("B", at(99), at(129))
                .await
                .expect("B")
        );
        drop(first);
        let mut took_over = false;
        for _ in 0..100 {
            if second
                .hold_scheduler("B", at(100), at(130))
                .await
                .expect("B")
            {
                took_over = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(took_over, "the lock of a closed connection is freed");
        let held = second.scheduler().await.expect("read").expect("a holder");
        assert_eq!((held.owner.as_str(), held.since), ("B", at(100)));
        let third = db.open_again().await;
        assert!(
            !third
                .hold_scheduler("C", at(101), at(131))
                .await
                .expect("C")
        );
        // Given up cleanly: the next to ask takes it at once.
        second.release_scheduler("B").await.expect("release");
        assert_eq!(third.scheduler().await.expect("read"), None);
        assert!(
            third
                .hold_scheduler("C", at(102), at(132))
                .await
                .expect("C")
        );
        return;
    }
    // SQLite: the lease ran out at 40 (not renewed): the next to ask takes over.
    assert!(second.hold_scheduler("B", at(40), at(70)).await.expect("B"));
    assert!(!first.hold_scheduler("A", at(41), at(71)).await.expect("A"));
    let held = first.scheduler().await.expect("read").expect("a holder");
    assert_eq!(
        (held.owner.as_str(), held.since, held.lease_until),
        ("B", at(40), at(70))
    );
    second.release_scheduler("B").await.expect("release");
    assert_eq!(first.scheduler().await.expect("read"), None);
    assert!(first.hold_scheduler("A", at(42), at(72)).await.expect("A"));
}

async fn references_to_missing_rows_are_conflicts(db: Db) {
    let store = db.store.as_ref();
    let (shop, wms) = systems(store).await;
    let sales = configuration(store, "Sales orders").await;
    let ghost = Credential {
        id: shop.id.max(wms.id) + 1000,
        ..shop.clone()
    };
    assert_conflict(
        store
            .save_integration(sales_orders("Ghost origin", &ghost, &wms))
            .await,
    );
    assert_conflict(
        store
            .update_integration(sales.id, sales_orders("Sales orders", &shop, &ghost))
            .await,
    );
    let missing = Integration {
        id: sales.id + 1000,
        ..sales.clone()
    };
    assert_conflict(store.enqueue_run(&manual(&missing, at(0))).await);
    assert!(store.integrations().await.expect("list").len() == 1);

    // A credential that imported orders refer to stays, like one an integration uses.
    let linked = store
        .save_credential(shopify("linked shop", "shpat_linked"))
        .await
        .expect("credential");
    let scope = LinkScope {
        origin_credential_id: linked.id,
        destination_credential_id: wms.id,
    };
    store
        .save_order_link(&link(scope, "1", "1001", "1001-1"))
        .await
        .expect("link");
    assert_conflict(store.delete_credential(linked.id).await);
    assert!(store.credential(linked.id).await.expect("read").is_some());
}

/// Several tentacle processes on one PostgreSQL database: a `PgStore` each, with its own
/// pool, its own listener and its own workers.
mod postgres_processes {
    use super::*;

    /// Runs the workers until every one has returned, failing with the first worker's panic.
    async fn join_all(mut workers: tokio::task::JoinSet<()>) {
        let all = async {
            while let Some(done) = workers.join_next().await {
                if let Err(error) = done {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("the workers are done within two minutes");
    }

    #[tokio::test]
    async fn another_process_is_woken_through_listen_notify() {
        let Some(db) = Db::postgres("listen_notify").await else {
            return;
        };
        let sales = configuration(db.store.as_ref(), "Sales orders").await;
        let other = db.open_again().await;
        let mut wake_ups = other.wake_ups();
        assert!(
            wake_ups.wait(Duration::from_secs(5)).await,
            "the listener wakes once when it connects"
        );
        wake_ups.mark_seen();
        enqueue(db.store.as_ref(), manual(&sales, at(0))).await;
        assert!(
            wake_ups.wait(Duration::from_secs(1)).await,
            "a run queued by another process wakes this one"
        );
    }

    #[tokio::test]
    async fn workers_that_come_back_after_all_left_are_woken_again() {
        let Some(db) = Db::postgres("listen_again").await else {
            return;
        };
        let sales = configuration(db.store.as_ref(), "Sales orders").await;
        let other = db.open_again().await;
        let mut first = other.wake_ups();
        assert!(first.wait(Duration::from_secs(5)).await, "listening");
        drop(first);
        // The listener notices within 5 s that nobody listens and stops.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let mut again = other.wake_ups();
        assert!(
            again.wait(Duration::from_secs(5)).await,
            "a new listener connects"
        );
        again.mark_seen();
        enqueue(db.store.as_ref(), manual(&sales, at(0))).await;
        assert!(
            again.wait(Duration::from_secs(1)).await,
            "a run queued by another process wakes the returning worker"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn six_processes_claim_every_run_exactly_once() {
        const PROCESSES: usize = 6;
        const WORKERS_PER_PROCESS: usize = 2;
        let Some(db) = Db::postgres("six_processes").await else {
            return;
        };
        let mut queued = Vec::new();
        let mut running = HashMap::new();
        for n in 0..10 {
            let integration = configuration(db.store.as_ref(), &format!("Store {n}")).await;
            // Due times going backwards: a queued later run never holds an earlier one back.
            for due in (0..10).rev() {
                queued.push(
                    enqueue(db.store.as_ref(), manual(&integration, at(due)))
                        .await
                        .id,
                );
            }
            running.insert(integration.id, AtomicBool::new(false));
        }
        let total = queued.len();
        let running = Arc::new(running);
        let claimed = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(AtomicUsize::new(0));

        let mut workers = tokio::task::JoinSet::new();
        for process in 0..PROCESSES {
            let store = db.open_again().await;
            for worker in 0..WORKERS_PER_PROCESS {
                let (store, running, claimed, finished) = (
                    store.clone(),
                    running.clone(),
                    claimed.clone(),
                    finished.clone(),
                );
                workers.spawn(async move {
                    let owner = format!("process-{process}-worker-{worker}");
                    while finished.load(Ordering::SeqCst) < total {
                        let Some(run) = store
                            .claim_run(&claim_at(&owner, at(3600), 600))
                            .await
                            .expect("claim")
                        else {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            continue;
                        };
                        // Set right after the claim and cleared right before the finish: a
                        // window inside the one in which the database holds the run RUNNING.
                        assert!(
                            !running[&run.integration_id].swap(true, Ordering::SeqCst),
                            "two runs of integration {} at once",
                            run.integration_id
                        );
                        claimed.lock().expect("claimed").push(run.id);
                        tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=3))).await;
                        running[&run.integration_id].store(false, Ordering::SeqCst);
                        store
                            .finish_run(
                                &lease(&run, &owner),
                                RunStatus::Finished,
                                &RunCounters::default(),
                                None,
                                at(3600),
                            )
                            .await
                            .expect("finish");
                        finished.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        }
        join_all(workers).await;

        let mut claimed = claimed.lock().expect("claimed").clone();
        claimed.sort_unstable();
        queued.sort_unstable();
        assert_eq!(claimed, queued, "every run claimed exactly once");
        let runs = db
            .store
            .runs(&RunFilter {
                limit: Some(1000),
                ..RunFilter::default()
            })
            .await
            .expect("runs");
        assert_eq!(runs.len(), total);
        for run in runs {
            assert_eq!(run.status, RunStatus::Finished, "{run:?}");
            assert_eq!(run.attempts, 1, "{run:?}");
            assert_eq!(run.worker, None, "{run:?}");
        }
    }

    #[tokio::test]
    async fn the_database_refuses_a_second_running_run_per_configuration() {
        let Some(db) = Db::postgres("second_running").await else {
            return;
        };
        let store = db.store.as_ref();
        let sales = configuration(store, "Sales orders").await;
        let other = configuration(store, "Other").await;
        enqueue(store, manual(&sales, at(1))).await;
        enqueue(store, manual(&sales, at(0))).await;
        let running = claim(store, "worker", at(10)).await.expect("claimed");
        let waiting = store
            .runs(&RunFilter {
                integration_id: Some(sales.id),
                status: Some(RunStatus::Queued),
                ..RunFilter::default()
            })
            .await
            .expect("runs");
        assert_eq!(waiting.len(), 1);
        assert_ne!(waiting[0].id, running.id);
        let other_run = enqueue(store, manual(&other, at(0))).await;

        let pool = sqlx::PgPool::connect(&db.url).await.expect("raw pool");
        let make_running = |id: i64| {
            sqlx::query("UPDATE runs SET status = 'RUNNING' WHERE id = $1")
                .bind(id)
                .execute(&pool)
        };
        match make_running(waiting[0].id).await {
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {}
            other => panic!("expected a unique violation, got {other:?}"),
        }
        make_running(other_run.id)
            .await
            .expect("another configuration's run may run beside it");
        pool.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn daily_and_regular_runs_never_overlap_under_contention() {
        use ExclusionRole::{Daily, Regular};
        let Some(db) = Db::postgres("exclusion_contention").await else {
            return;
        };
        let store = db.store.as_ref();
        let mut queued = Vec::new();
        for (name, role) in [
            ("Sales orders A", Regular),
            ("Sales orders B", Regular),
            ("Daily re-fetch", Daily),
        ] {
            let integration = configuration(store, name).await;
            // No gap: claims and finishes all happen at one instant, so only the "never at
            // once" half of the rule is at stake here.
            for due in (0..6).rev() {
                queued.push(
                    enqueue(store, exclusive(&integration, role, 0, at(due)))
                        .await
                        .id,
                );
            }
        }
        let daily = store
            .integration_by_name("Daily re-fetch")
            .await
            .expect("read")
            .expect("daily")
            .id;
        let total = queued.len();
        let running_regular = Arc::new(AtomicI64::new(0));
        let running_daily = Arc::new(AtomicI64::new(0));
        let claimed = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(AtomicUsize::new(0));

        let mut workers = tokio::task::JoinSet::new();
        for process in 0..6 {
            let store = db.open_again().await;
            for worker in 0..2 {
                let (store, running_regular, running_daily, claimed, finished) = (
                    store.clone(),
                    running_regular.clone(),
                    running_daily.clone(),
                    claimed.clone(),
                    finished.clone(),
                );
                workers.spawn(async move {
                    let owner = format!("process-{process}-worker-{worker}");
                    while finished.load(Ordering::SeqCst) < total {
                        let Some(run) = store
                            .claim_run(&claim_at(&owner, at(3600), 600))
                            .await
                            .expect("claim")
                        else {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            continue;
                        };
                        let (mine, theirs) = if run.integration_id == daily {
                            (&running_daily, &running_regular)
                        } else {
                            (&running_regular, &running_daily)
                        };
                        mine.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(
                            theirs.load(Ordering::SeqCst),
                            0,
                            "a daily and a regular run of one store at once"
                        );
                        claimed.lock().expect("claimed").push(run.id);
                        tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=3))).await;
                        mine.fetch_sub(1, Ordering::SeqCst);
                        store
                            .finish_run(
                                &lease(&run, &owner),
                                RunStatus::Finished,
                                &RunCounters::default(),
                                None,
                                at(3600),
                            )
                            .await
                            .expect("finish");
                        finished.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        }
        join_all(workers).await;

        let mut claimed = claimed.lock().expect("claimed").clone();
        claimed.sort_unstable();
        queued.sort_unstable();
        assert_eq!(claimed, queued, "every run claimed exactly once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reapers_take_each_expired_run_once() {
        const REAPERS: usize = 4;
        let Some(db) = Db::postgres("concurrent_reapers").await else {
            return;
        };
        let store = db.store.as_ref();
        let mut runs = Vec::new();
        for n in 0..20 {
            let integration = configuration(store, &format!("Store {n}")).await;
            runs.push(enqueue(store, manual(&integration, at(0))).await.id);
        }
        runs.sort_unstable();
        let mut reapers = vec![db.store.clone()];
        for _ in 1..REAPERS {
            reapers.push(db.open_again().await);
        }

        // Two rounds resume every run, the third fails them (retry limit 3), each time with
        // every process reaping at once.
        for round in 1..=3_i64 {
            let start = round * 100;
            for n in 0..runs.len() {
                claim(store, &format!("worker-{n}"), at(start))
                    .await
                    .expect("claimed");
            }
            let barrier = Arc::new(tokio::sync::Barrier::new(REAPERS));
            let mut tasks = tokio::task::JoinSet::new();
            for reaper in &reapers {
                let (reaper, barrier) = (reaper.clone(), barrier.clone());
                tasks.spawn(async move {
                    barrier.wait().await;
                    reaper
                        .reap_expired_runs(&reap(at(start + 31), 3))
                        .await
                        .expect("reap")
                });
            }
            let mut requeued = Vec::new();
            let mut failed = Vec::new();
            while let Some(reaped) = tasks.join_next().await {
                let reaped = reaped.expect("reaper");
                requeued.extend(reaped.requeued);
                failed.extend(reaped.failed);
            }
            requeued.sort_unstable();
            failed.sort_unstable();
            if round < 3 {
                assert_eq!(requeued, runs, "round {round}: each run resumed once");
                assert!(failed.is_empty(), "round {round}: {failed:?}");
            } else {
                assert!(requeued.is_empty(), "round {round}: {requeued:?}");
                assert_eq!(failed, runs, "round {round}: each run failed once");
            }
        }

        for id in runs {
            let run = store.run(id).await.expect("read").expect("run");
            assert_eq!(run.status, RunStatus::Failed, "{run:?}");
            assert_eq!(messages(store, id).await, [RESUMED, RESUMED, FAILED]);
        }
    }
}

async fn held_writes_land_together_or_not_at_all(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;
    let scope = LinkScope {
        origin_credential_id: sales.origin_credential_id,
        destination_credential_id: sales.destination_credential_id,
    };
    store
        .flag(&attention(sales.id, "1000", AttentionKind::Failed, at(0)))
        .await
        .expect("flag");
    enqueue(store, manual(&sales, at(-10))).await;
    let run = claim(store, "worker", at(0)).await.expect("claimed");
    let held = lease(&run, "worker");

    // Several writes of the run in one call: all of them land.
    let imported = link(scope, "1", "1001", "1001");
    let failed = attention(sales.id, "1002", AttentionKind::Failed, at(5));
    store
        .write_held(
            &held,
            &[
                HeldWrite::OrderLink(imported.clone()),
                HeldWrite::Flag(failed.clone()),
                HeldWrite::ClearFlag(order_key(sales.id, "1000")),
                HeldWrite::Cursor {
                    integration_id: sales.id,
                    at: at(5),
                },
            ],
        )
        .await
        .expect("writes while held");
    assert_eq!(
        store
            .order_link(scope, &imported.fulfillment_order_id)
            .await
            .expect("read"),
        Some(imported.clone())
    );
    assert_eq!(store.flags(Some(sales.id)).await.expect("flags"), [failed]);
    assert_eq!(store.cursor(sales.id).await.expect("cursor"), Some(at(5)));

    // One write that fails (a link to a credential that does not exist) takes the writes before
    // and after it along: nothing of the call is written.
    let orphan = link(
        LinkScope {
            origin_credential_id: 999_999,
            destination_credential_id: 999_999,
        },
        "2",
        "2001",
        "2001",
    );
    let second = link(scope, "3", "3001", "3001");
    let result = store
        .write_held(
            &held,
            &[
                HeldWrite::Cursor {
                    integration_id: sales.id,
                    at: at(10),
                },
                HeldWrite::ClearFlag(order_key(sales.id, "1002")),
                HeldWrite::OrderLink(orphan),
                HeldWrite::OrderLink(second.clone()),
            ],
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Database(_))),
        "the orphan link is refused: {result:?}"
    );
    assert_eq!(store.cursor(sales.id).await.expect("cursor"), Some(at(5)));
    assert_eq!(store.flags(Some(sales.id)).await.expect("flags").len(), 1);
    assert_eq!(
        store
            .order_link(scope, &second.fulfillment_order_id)
            .await
            .expect("read"),
        None
    );
    // The run still holds its lease and goes on writing.
    store
        .write_held(&held, &[HeldWrite::OrderLink(second.clone())])
        .await
        .expect("a write after a refused one");

    // Once the lease is lost, several writes are refused as one, and none is written.
    store
        .reap_expired_runs(&reap(at(31), 3))
        .await
        .expect("reap");
    let late = link(scope, "4", "4001", "4001");
    match store
        .write_held(
            &held,
            &[
                HeldWrite::OrderLink(late.clone()),
                HeldWrite::Flag(attention(sales.id, "4001", AttentionKind::Failed, at(40))),
                HeldWrite::ClearFlag(order_key(sales.id, "1002")),
                HeldWrite::Cursor {
                    integration_id: sales.id,
                    at: at(40),
                },
            ],
        )
        .await
    {
        Err(StoreError::LeaseLost { run_id }) => assert_eq!(run_id, run.id),
        other => panic!("expected the lease to be lost, got {other:?}"),
    }
    assert_eq!(
        store
            .order_link(scope, &late.fulfillment_order_id)
            .await
            .expect("read"),
        None
    );
    let flagged: Vec<String> = store
        .flags(Some(sales.id))
        .await
        .expect("flags")
        .into_iter()
        .map(|a| a.record_label)
        .collect();
    assert_eq!(flagged, ["#1002"]);
    assert_eq!(store.cursor(sales.id).await.expect("cursor"), Some(at(5)));
}

async fn flags_of_an_order_and_a_sku_of_one_configuration_are_kept_apart(db: Db) {
    let store = db.store.as_ref();
    let sales = configuration(store, "Sales orders").await;
    let order = attention(sales.id, "1001", AttentionKind::Failed, at(0));
    let sku = Attention {
        key: AttentionKey {
            integration_id: sales.id,
            record_kind: RecordKind::Sku,
            record_id: "ABC-1".into(),
        },
        record_label: "ABC-1".into(),
        kind: AttentionKind::Conflict,
        reason: "the SKU is not in PULPO".into(),
        attempts: 1,
        run_id: Some(3),
        updated_at: at(10),
    };
    // A SKU whose id is the order's id is still another record.
    let same_id = Attention {
        key: AttentionKey {
            record_id: order.key.record_id.clone(),
            ..sku.key.clone()
        },
        updated_at: at(5),
        ..sku.clone()
    };
    for flag in [&order, &sku, &same_id] {
        store.flag(flag).await.expect("flag");
    }
    assert_eq!(
        store.flags(Some(sales.id)).await.expect("flags"),
        [sku.clone(), same_id.clone(), order.clone()]
    );

    // Flagging the SKU again counts its attempts only.
    store
        .flag(&Attention {
            updated_at: at(20),
            ..sku.clone()
        })
        .await
        .expect("flag again");
    let attempts: Vec<(RecordKind, String, i64)> = store
        .flags(None)
        .await
        .expect("flags")
        .into_iter()
        .map(|a| (a.key.record_kind, a.key.record_id, a.attempts))
        .collect();
    assert_eq!(
        attempts,
        [
            (RecordKind::Sku, "ABC-1".to_string(), 2),
            (RecordKind::Sku, order.key.record_id.clone(), 1),
            (RecordKind::Order, order.key.record_id.clone(), 1),
        ]
    );

    // Clearing one leaves the others.
    store.clear_flag(&sku.key).await.expect("clear the SKU");
    assert_eq!(
        store.flags(Some(sales.id)).await.expect("flags"),
        [same_id.clone(), order.clone()]
    );
    store.clear_flag(&order.key).await.expect("clear the order");
    let left: Vec<RecordKind> = store
        .flags(Some(sales.id))
        .await
        .expect("flags")
        .into_iter()
        .map(|a| a.key.record_kind)
        .collect();
    assert_eq!(left, [RecordKind::Sku]);
    store.clear_flag(&same_id.key).await.expect("clear");
    assert!(store.flags(None).await.expect("flags").is_empty());
}

/// The migration each backend's old database stops at (the last applied).
struct OldVersions {
    postgres: i64,
    sqlite: i64,
}

/// A database of its own, of `db`'s backend, migrated up to an older version and holding rows
/// written as that version wrote them (`?1` the sealed secrets of `shop`, `?2` and `?3` the
/// two times), for a test of the migrations after it.
struct OldDatabase {
    url: String,
    migrator: sqlx::migrate::Migrator,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

impl OldDatabase {
    async fn create(
        db: &Db,
        name: &str,
        versions: OldVersions,
        rows: &[&str],
        (first, second): (DateTime<Utc>, DateTime<Utc>),
    ) -> OldDatabase {
        let backend = if db.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        };
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let migrator = sqlx::migrate::Migrator::new(migrations)
            .await
            .expect("migrations");
        if db.is_postgres() {
            let schema = TestSchema::create(name)
                .await
                .expect("PostgreSQL answered a moment ago");
            let pool = sqlx::PgPool::connect(&schema.url).await.expect("raw pool");
            migrator
                .run_to(versions.postgres, &pool)
                .await
                .expect("old migrations");
            for sql in rows {
                sqlx::query(sqlx::AssertSqlSafe(sql.replace('?', "$")))
                    .bind(old_secrets())
                    .bind(first)
                    .bind(second)
                    .execute(&pool)
                    .await
                    .expect("old rows");
            }
            pool.close().await;
            OldDatabase {
                url: schema.url.clone(),
                migrator,
                _dir: None,
                _schema: Some(schema),
            }
        } else {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/old.db", dir.path().display());
            let options = std::str::FromStr::from_str(&url)
                .map(|o: sqlx::sqlite::SqliteConnectOptions| o.create_if_missing(true))
                .expect("SQLite URL");
            let pool = sqlx::SqlitePool::connect_with(options)
                .await
                .expect("raw pool");
            migrator
                .run_to(versions.sqlite, &pool)
                .await
                .expect("old migrations");
            for sql in rows {
                sqlx::query(sqlx::AssertSqlSafe(*sql))
                    .bind(old_secrets())
                    .bind(first)
                    .bind(second)
                    .execute(&pool)
                    .await
                    .expect("old rows");
            }
            pool.close().await;
            OldDatabase {
                url,
                migrator,
                _dir: Some(dir),
                _schema: None,
            }
        }
    }
}

async fn the_attention_migration_keeps_the_flags_of_orders(db: Db) {
    // A database of its own, of the same backend, migrated up to the migration before
    // attention was kept by record.
    let old = OldDatabase::create(
        &db,
        "attention_migration",
        OldVersions { postgres: 1, sqlite: 6 },
        &[
            "INSERT INTO credentials (id, name, kind, config, secrets, created_at, updated_at)
             VALUES (1, 'shop', 'shopify', '{}', ?1, ?2, ?2), (2, 'wms', 'pulpo', '{}', ?1, ?2, ?2)",
            "INSERT INTO integrations (id, name, kind, origin_credential_id, destination_credential_id, settings, created_at, updated_at)
             VALUES (1, 'Sales orders', 'sales_orders', 1, 2, '{}', ?2, ?2)",
            "INSERT INTO order_attention (integration_id, shopify_order_id, order_name, kind, reason, attempts, run_id, updated_at)
             VALUES (1, 'gid://shopify/Order/1001', '#1001', 'conflict', 'PULPO refused: unknown SKU', 3, 7, ?2),
                    (1, 'gid://shopify/Order/1002', '#1002', 'failed', 'PULPO answered 500', 1, NULL, ?3)",
        ],
        (at(10), at(20)),
    )
    .await;
    let (url, migrator) = (&old.url, &old.migrator);

    let store = open(url).await.expect("the store migrates the rest");
    let newest = migrator
        .iter()
        .map(|m| m.version)
        .max()
        .expect("migrations");
    assert_eq!(store.schema_version().await.expect("version"), newest);
    let conflict = Attention {
        reason: "PULPO refused: unknown SKU".into(),
        attempts: 3,
        run_id: Some(7),
        ..attention(1, "1001", AttentionKind::Conflict, at(10))
    };
    let failed = attention(1, "1002", AttentionKind::Failed, at(20));
    assert_eq!(
        store.flags(None).await.expect("flags"),
        [failed.clone(), conflict.clone()]
    );

    // The moved flags behave like new ones: flagged again they count on, cleared they go.
    store
        .flag(&Attention {
            updated_at: at(30),
            ..conflict.clone()
        })
        .await
        .expect("flag again");
    store.clear_flag(&failed.key).await.expect("clear");
    assert_eq!(
        store.flags(Some(1)).await.expect("flags"),
        [Attention {
            attempts: 4,
            updated_at: at(30),
            ..conflict
        }]
    );
}

impl Db {
    /// Runs `sql` on a connection of its own, past the store, as another program (or a bug)
    /// writing to the database would.
    async fn execute_raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.is_postgres() {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw pool");
            let result = sqlx::query(sql).execute(&pool).await.map(|_| ());
            pool.close().await;
            result
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw pool");
            let result = sqlx::query(sql).execute(&pool).await.map(|_| ());
            pool.close().await;
            result
        }
    }
}

/// The Shopify store `shop` and the PULPO instance `wms` as the pair the PULPO → Shopify types
/// keep their state for.
async fn system_pair(store: &dyn Store) -> SystemPair {
    let (shop, wms) = systems(store).await;
    SystemPair {
        shopify_credential_id: shop.id,
        pulpo_credential_id: wms.id,
    }
}

/// A generate_shipments configuration from `wms` to `shop`.
async fn shipments_configuration(store: &dyn Store, name: &str) -> Integration {
    let (shop, wms) = systems(store).await;
    store
        .save_integration(NewIntegration {
            name: name.into(),
            kind: "generate_shipments".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: json!({"frequency_minutes": 10}),
        })
        .await
        .expect("integration")
}

/// The intent to fulfill PULPO box `box_id` of Shopify order `order` (not created yet).
fn shipment(scope: SystemPair, box_id: i64, order: &str) -> ShipmentLink {
    ShipmentLink {
        scope,
        box_id,
        packing_order_id: 300 + box_id,
        sales_order_id: 77,
        fulfillment_order_id: format!("gid://shopify/FulfillmentOrder/{order}"),
        shopify_order_id: format!("gid://shopify/Order/{order}"),
        fulfillment_id: None,
        tracking: format!("DHL|TRACK-{box_id}|"),
        updated_at: at(0),
    }
}

/// `shipment` once Shopify confirmed fulfillment `fulfillment`.
fn shipped(scope: SystemPair, box_id: i64, order: &str, fulfillment: &str) -> ShipmentLink {
    ShipmentLink {
        fulfillment_id: Some(format!("gid://shopify/Fulfillment/{fulfillment}")),
        updated_at: at(60),
        ..shipment(scope, box_id, order)
    }
}

fn mark(
    scope: SystemPair,
    order: &str,
    tagged_at: Option<DateTime<Utc>>,
    note_lines: &[&str],
) -> StatusMark {
    StatusMark {
        scope,
        shopify_order_id: format!("gid://shopify/Order/{order}"),
        tagged_at,
        note_lines: note_lines.iter().map(|l| l.to_string()).collect(),
        updated_at: at(0),
    }
}

async fn shipment_links_keep_one_link_per_box_and_scope(db: Db) {
    let store = db.store.as_ref();
    let scope = system_pair(store).await;
    let other_shop = store
        .save_credential(shopify("other shop", "shpat_other"))
        .await
        .expect("credential");
    let other_scope = SystemPair {
        shopify_credential_id: other_shop.id,
        ..scope
    };

    // The intent is written before the create call, the completed link after it.
    let intent = shipment(scope, 501, "1001");
    store.save_shipment_link(&intent).await.expect("intent");
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(intent.clone())
    );
    let completed = shipped(scope, 501, "1001", "9001");
    store
        .save_shipment_link(&completed)
        .await
        .expect("completed");
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(completed.clone())
    );
    assert_eq!(store.count_shipment_links(scope).await.expect("count"), 1);

    // A tracking changed in PULPO and sent again replaces the fingerprint, still one link.
    let retracked = ShipmentLink {
        tracking: "UPS|1Z999|https://ups.example/1Z999".into(),
        updated_at: at(120) + TimeDelta::milliseconds(7),
        ..completed.clone()
    };
    store
        .save_shipment_link(&retracked)
        .await
        .expect("new tracking");
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(retracked.clone())
    );
    assert_eq!(store.count_shipment_links(scope).await.expect("count"), 1);

    // The links of one order, by box.
    let later_box = shipment(scope, 502, "1001");
    let earlier_box = shipped(scope, 499, "1001", "8999");
    for link in [&later_box, &earlier_box, &shipment(scope, 600, "1002")] {
        store.save_shipment_link(link).await.expect("save");
    }
    assert_eq!(
        store
            .shipment_links_of_order(scope, "gid://shopify/Order/1001")
            .await
            .expect("links"),
        [earlier_box.clone(), retracked.clone(), later_box.clone()]
    );
    assert_eq!(store.count_shipment_links(scope).await.expect("count"), 4);

    // The database itself holds one link per box and scope, whatever writes to it.
    let duplicate = format!(
        "INSERT INTO shipment_links (shopify_credential_id, pulpo_credential_id, box_id, packing_order_id,
             sales_order_id, fulfillment_order_id, shopify_order_id, fulfillment_id, tracking, updated_at)
         VALUES ({}, {}, 501, 1, 1, 'fo', 'o', NULL, '', '2026-05-04T10:00:00Z')",
        scope.shopify_credential_id, scope.pulpo_credential_id
    );
    match db.execute_raw(&duplicate).await {
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {}
        other => panic!("expected a unique violation, got {other:?}"),
    }
    // And one box per Shopify fulfillment.
    assert_conflict(
        store
            .save_shipment_link(&shipped(scope, 503, "1001", "9001"))
            .await,
    );
    assert_eq!(store.shipment_link(scope, 503).await.expect("read"), None);
    assert_eq!(store.count_shipment_links(scope).await.expect("count"), 4);

    // Another pair of systems keeps links of its own, for the same box ids.
    assert_eq!(
        store.shipment_link(other_scope, 501).await.expect("read"),
        None
    );
    assert_eq!(
        store
            .count_shipment_links(other_scope)
            .await
            .expect("count"),
        0
    );
    let elsewhere = shipped(other_scope, 501, "1001", "9001");
    store
        .save_shipment_link(&elsewhere)
        .await
        .expect("the same box and fulfillment in another scope");
    assert_eq!(
        store.shipment_link(other_scope, 501).await.expect("read"),
        Some(elsewhere)
    );
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(retracked)
    );
    assert_eq!(
        store
            .count_shipment_links(other_scope)
            .await
            .expect("count"),
        1
    );
    assert_eq!(store.count_shipment_links(scope).await.expect("count"), 4);

    // A link to a credential that does not exist is refused.
    let ghost = SystemPair {
        shopify_credential_id: scope.shopify_credential_id.max(other_shop.id) + 1000,
        ..scope
    };
    assert_conflict(store.save_shipment_link(&shipment(ghost, 1, "1")).await);

    // The links belong to the pair of systems: deleting a configuration keeps them.
    let shipments = shipments_configuration(store, "Shipments").await;
    assert!(
        store
            .delete_integration(shipments.id)
            .await
            .expect("delete")
    );
    assert_eq!(store.count_shipment_links(scope).await.expect("count"), 4);
}

async fn status_marks_are_read_in_bulk_and_keep_their_tag(db: Db) {
    let store = db.store.as_ref();
    let scope = system_pair(store).await;
    let other_shop = store
        .save_credential(shopify("other shop", "shpat_other"))
        .await
        .expect("credential");
    let other_scope = SystemPair {
        shopify_credential_id: other_shop.id,
        ..scope
    };
    let tagged = mark(scope, "10", Some(at(0)), &[]);
    let noted = mark(
        scope,
        "9",
        None,
        &["Lot L-1: 2 × SKU-A", "Serial \"S/N 7\", ünïcode"],
    );
    for mark in [&tagged, &noted, &mark(other_scope, "11", Some(at(1)), &[])] {
        store.save_status_mark(mark).await.expect("save");
    }
    assert_eq!(
        store
            .status_mark(scope, "gid://shopify/Order/9")
            .await
            .expect("read"),
        Some(noted.clone())
    );
    assert_eq!(
        store
            .status_mark(scope, "gid://shopify/Order/11")
            .await
            .expect("read"),
        None,
        "a mark of another scope"
    );

    // Many at once: only those that have a mark, sorted by id (bytewise: …/10 before …/9).
    let mut ids: Vec<String> = (1..=1500)
        .rev()
        .map(|n| format!("gid://shopify/Order/{n}"))
        .collect();
    ids.push("gid://shopify/Order/9".into());
    assert_eq!(
        store.status_marks(scope, &ids).await.expect("marks"),
        [tagged.clone(), noted.clone()]
    );
    assert_eq!(
        store
            .status_marks(scope, &["gid://shopify/Order/9".to_string()])
            .await
            .expect("marks"),
        std::slice::from_ref(&noted)
    );
    assert!(
        store
            .status_marks(scope, &[])
            .await
            .expect("marks")
            .is_empty()
    );

    // Saving again replaces the note lines, but a tag once added stays as it was: neither
    // cleared nor moved.
    let appended = StatusMark {
        tagged_at: None,
        note_lines: vec!["Serial S-2".into()],
        updated_at: at(30),
        ..tagged.clone()
    };
    store.save_status_mark(&appended).await.expect("save");
    let expected = StatusMark {
        tagged_at: Some(at(0)),
        ..appended.clone()
    };
    assert_eq!(
        store
            .status_mark(scope, &tagged.shopify_order_id)
            .await
            .expect("read"),
        Some(expected.clone())
    );
    store
        .save_status_mark(&StatusMark {
            tagged_at: Some(at(90)),
            ..appended.clone()
        })
        .await
        .expect("save");
    assert_eq!(
        store
            .status_mark(scope, &tagged.shopify_order_id)
            .await
            .expect("read"),
        Some(expected)
    );
    // An order marked for its note first is tagged later.
    let now_tagged = StatusMark {
        tagged_at: Some(at(45)),
        updated_at: at(45),
        ..noted.clone()
    };
    store.save_status_mark(&now_tagged).await.expect("save");
    assert_eq!(
        store
            .status_mark(scope, &noted.shopify_order_id)
            .await
            .expect("read"),
        Some(now_tagged)
    );

    // A mark of a credential that does not exist is refused; the marks outlive a configuration.
    let ghost = SystemPair {
        pulpo_credential_id: scope.pulpo_credential_id.max(other_shop.id) + 1000,
        ..scope
    };
    assert_conflict(store.save_status_mark(&mark(ghost, "1", None, &[])).await);
    let shipments = shipments_configuration(store, "Status updates").await;
    assert!(
        store
            .delete_integration(shipments.id)
            .await
            .expect("delete")
    );
    assert_eq!(
        store.status_marks(scope, &ids).await.expect("marks").len(),
        2
    );
}

async fn held_shipment_links_and_status_marks_land_with_the_cursor_or_not_at_all(db: Db) {
    let store = db.store.as_ref();
    let shipments = shipments_configuration(store, "Shipments").await;
    let scope = system_pair(store).await;
    enqueue(store, manual(&shipments, at(-10))).await;
    let run = claim(store, "worker", at(0)).await.expect("claimed");
    let held = lease(&run, "worker");

    // The intent, the tag and the cursor in one call: all of them land.
    let intent = shipment(scope, 501, "1001");
    let tagged = mark(scope, "1001", Some(at(5)), &["Lot L-1: 1 × SKU-A"]);
    store
        .write_held(
            &held,
            &[
                HeldWrite::ShipmentLink(intent.clone()),
                HeldWrite::StatusMark(tagged.clone()),
                HeldWrite::Cursor {
                    integration_id: shipments.id,
                    at: at(5),
                },
            ],
        )
        .await
        .expect("writes while held");
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(intent.clone())
    );
    assert_eq!(
        store
            .status_mark(scope, &tagged.shopify_order_id)
            .await
            .expect("read"),
        Some(tagged.clone())
    );
    assert_eq!(
        store.cursor(shipments.id).await.expect("cursor"),
        Some(at(5))
    );

    // One refused write (a mark for a credential that does not exist) takes the others along.
    let orphan = mark(
        SystemPair {
            shopify_credential_id: 999_999,
            pulpo_credential_id: 999_999,
        },
        "2001",
        None,
        &[],
    );
    let completed = shipped(scope, 501, "1001", "9001");
    let result = store
        .write_held(
            &held,
            &[
                HeldWrite::Cursor {
                    integration_id: shipments.id,
                    at: at(10),
                },
                HeldWrite::ShipmentLink(completed.clone()),
                HeldWrite::StatusMark(orphan),
                HeldWrite::ShipmentLink(shipment(scope, 502, "1001")),
            ],
        )
        .await;
    assert_conflict(result);
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(intent.clone()),
        "still the intent"
    );
    assert_eq!(store.shipment_link(scope, 502).await.expect("read"), None);
    assert_eq!(
        store.cursor(shipments.id).await.expect("cursor"),
        Some(at(5))
    );
    store
        .write_held(&held, &[HeldWrite::ShipmentLink(completed.clone())])
        .await
        .expect("a write after a refused one");

    // Once the lease is lost, nothing of the run's writes lands.
    store
        .reap_expired_runs(&reap(at(31), 3))
        .await
        .expect("reap");
    let late_mark = mark(scope, "1002", Some(at(40)), &[]);
    match store
        .write_held(
            &held,
            &[
                HeldWrite::ShipmentLink(shipment(scope, 503, "1002")),
                HeldWrite::ShipmentLink(ShipmentLink {
                    tracking: "UPS|late|".into(),
                    ..completed.clone()
                }),
                HeldWrite::StatusMark(late_mark.clone()),
                HeldWrite::Cursor {
                    integration_id: shipments.id,
                    at: at(40),
                },
            ],
        )
        .await
    {
        Err(StoreError::LeaseLost { run_id }) => assert_eq!(run_id, run.id),
        other => panic!("expected the lease to be lost, got {other:?}"),
    }
    assert_eq!(store.shipment_link(scope, 503).await.expect("read"), None);
    assert_eq!(
        store.shipment_link(scope, 501).await.expect("read"),
        Some(completed)
    );
    assert_eq!(
        store
            .status_mark(scope, &late_mark.shopify_order_id)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.cursor(shipments.id).await.expect("cursor"),
        Some(at(5))
    );
}

async fn credentials_with_shipment_links_or_status_marks_cannot_be_deleted(db: Db) {
    let store = db.store.as_ref();
    let (shop, wms) = systems(store).await;

    // A PULPO instance whose boxes were shipped stays.
    let shipping_wms = store
        .save_credential(pulpo("shipping wms", "pulpo-shipping"))
        .await
        .expect("credential");
    let shipping = SystemPair {
        shopify_credential_id: shop.id,
        pulpo_credential_id: shipping_wms.id,
    };
    store
        .save_shipment_link(&shipment(shipping, 501, "1001"))
        .await
        .expect("link");
    assert_conflict(store.delete_credential(shipping_wms.id).await);
    assert!(
        store
            .credential(shipping_wms.id)
            .await
            .expect("read")
            .is_some()
    );

    // A Shopify store whose orders were marked stays.
    let marked_shop = store
        .save_credential(shopify("marked shop", "shpat_marked"))
        .await
        .expect("credential");
    let marked = SystemPair {
        shopify_credential_id: marked_shop.id,
        pulpo_credential_id: wms.id,
    };
    store
        .save_status_mark(&mark(marked, "1001", Some(at(0)), &[]))
        .await
        .expect("mark");
    assert_conflict(store.delete_credential(marked_shop.id).await);
    assert!(
        store
            .credential(marked_shop.id)
            .await
            .expect("read")
            .is_some()
    );

    // A credential without links or marks still goes.
    let unused = store
        .save_credential(pulpo("unused wms", "pulpo-unused"))
        .await
        .expect("credential");
    assert!(store.delete_credential(unused.id).await.expect("delete"));
}

async fn order_links_are_found_by_pulpo_order_and_boxes_flagged(db: Db) {
    let store = db.store.as_ref();
    let (shop, wms) = systems(store).await;
    let other_shop = store
        .save_credential(shopify("other shop", "shpat_other"))
        .await
        .expect("credential");
    let scope = LinkScope {
        origin_credential_id: shop.id,
        destination_credential_id: wms.id,
    };
    let other_scope = LinkScope {
        origin_credential_id: other_shop.id,
        ..scope
    };
    let imported = |fulfillment_order: &str, order: &str, pulpo_order_id: i64| OrderLink {
        pulpo_order_id: Some(pulpo_order_id),
        ..link(
            scope,
            fulfillment_order,
            order,
            &format!("{order}-{fulfillment_order}"),
        )
    };
    let late = imported("3", "1002", 30);
    let early = imported("1", "1001", 10);
    let second = imported("2", "1001", 20);
    for l in [&late, &early, &second] {
        store.save_order_link(l).await.expect("save");
    }
    // An intent has no PULPO order yet; another store's link of the same PULPO id is not ours.
    store
        .save_order_link(&link(scope, "4", "1003", "1003-4"))
        .await
        .expect("save");
    store
        .save_order_link(&OrderLink {
            pulpo_order_id: Some(10),
            ..link(other_scope, "1", "1001", "1001-1")
        })
        .await
        .expect("save");

    assert_eq!(
        store
            .order_links_of_pulpo_orders(scope, &[30, 99, 10, 20])
            .await
            .expect("links"),
        [early.clone(), second, late],
        "sorted by PULPO order, the unknown id left out"
    );
    assert_eq!(
        store
            .order_links_of_pulpo_orders(other_scope, &[10])
            .await
            .expect("links")
            .len(),
        1
    );
    assert!(
        store
            .order_links_of_pulpo_orders(scope, &[])
            .await
            .expect("links")
            .is_empty()
    );

    // A box's flag is read back as a box's.
    let shipments = configuration(store, "Shipments").await;
    let flag = Attention {
        key: AttentionKey {
            integration_id: shipments.id,
            record_kind: RecordKind::Box,
            record_id: "4711".into(),
        },
        record_label: "box 1 of #1001".into(),
        kind: AttentionKind::Conflict,
        reason: "the fulfillment order is closed".into(),
        attempts: 1,
        run_id: None,
        updated_at: at(0),
    };
    store.flag(&flag).await.expect("flag");
    let flags = store.flags(Some(shipments.id)).await.expect("flags");
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].key, flag.key);
}

async fn confirmed_order_links_are_paged_from_a_time(db: Db) {
    let store = db.store.as_ref();
    let (shop, wms) = systems(store).await;
    let scope = LinkScope {
        origin_credential_id: shop.id,
        destination_credential_id: wms.id,
    };
    let imported = |fulfillment_order: &str, pulpo_order_id: i64, seconds: i64| OrderLink {
        pulpo_order_id: Some(pulpo_order_id),
        updated_at: at(seconds),
        ..link(
            scope,
            fulfillment_order,
            fulfillment_order,
            fulfillment_order,
        )
    };
    let old = imported("1", 10, -120);
    let b = imported("3", 30, 0);
    let a = imported("2", 20, 0);
    let c = imported("4", 40, 60);
    for l in [&old, &b, &a, &c] {
        store.save_order_link(l).await.expect("save");
    }
    // An intent (no PULPO order yet) is not an imported order.
    store
        .save_order_link(&OrderLink {
            updated_at: at(30),
            ..link(scope, "5", "5", "5")
        })
        .await
        .expect("save");

    let first = store
        .confirmed_order_links_since(scope, at(-60), None, 2)
        .await
        .expect("page");
    assert_eq!(
        first,
        [a.clone(), b.clone()],
        "same time: by fulfillment order id"
    );
    let last = &first[1];
    let second = store
        .confirmed_order_links_since(
            scope,
            at(-60),
            Some((last.updated_at, &last.fulfillment_order_id)),
            2,
        )
        .await
        .expect("page");
    assert_eq!(second, std::slice::from_ref(&c));
    let rest = store
        .confirmed_order_links_since(
            scope,
            at(-60),
            Some((c.updated_at, &c.fulfillment_order_id)),
            2,
        )
        .await
        .expect("page");
    assert!(rest.is_empty());
    assert_eq!(
        store
            .confirmed_order_links_since(scope, at(-600), None, 10)
            .await
            .expect("page"),
        [old, a, b, c],
        "every confirmed link from an earlier time"
    );
}

/// The intent to register PULPO return `incoming_good_id` on Shopify order `order`.
fn return_intent(scope: SystemPair, incoming_good_id: i64, order: &str) -> ReturnLink {
    ReturnLink {
        scope,
        incoming_good_id,
        sales_order_id: 77,
        shopify_order_id: format!("gid://shopify/Order/{order}"),
        return_id: None,
        refund_id: None,
        updated_at: at(0),
    }
}

/// `return_intent` once Shopify confirmed return `shopify_return`.
fn returned(
    scope: SystemPair,
    incoming_good_id: i64,
    order: &str,
    shopify_return: &str,
) -> ReturnLink {
    ReturnLink {
        return_id: Some(format!("gid://shopify/Return/{shopify_return}")),
        updated_at: at(60) + TimeDelta::milliseconds(7),
        ..return_intent(scope, incoming_good_id, order)
    }
}

async fn return_links_keep_one_link_per_pulpo_return_and_land_with_the_run(db: Db) {
    let store = db.store.as_ref();
    let scope = system_pair(store).await;
    let other_shop = store
        .save_credential(shopify("other shop", "shpat_other"))
        .await
        .expect("credential");
    let other_scope = SystemPair {
        shopify_credential_id: other_shop.id,
        ..scope
    };

    // The intent is written before the create call, the completed link after it.
    let intent = return_intent(scope, 41, "1001");
    store.save_return_link(&intent).await.expect("intent");
    assert_eq!(
        store.return_link(scope, 41).await.expect("read"),
        Some(intent.clone())
    );
    let completed = returned(scope, 41, "1001", "7001");
    store.save_return_link(&completed).await.expect("completed");
    assert_eq!(
        store.return_link(scope, 41).await.expect("read"),
        Some(completed.clone())
    );
    assert_eq!(store.count_return_links(scope).await.expect("count"), 1);
    // The refund made for it later is kept with it.
    let refunded = ReturnLink {
        refund_id: Some("gid://shopify/Refund/8001".into()),
        ..completed.clone()
    };
    store.save_return_link(&refunded).await.expect("refunded");
    assert_eq!(
        store.return_link(scope, 41).await.expect("read"),
        Some(refunded.clone())
    );
    let completed = refunded;

    // The links of one order, by PULPO return.
    let later = return_intent(scope, 42, "1001");
    let earlier = returned(scope, 40, "1001", "7000");
    for link in [&later, &earlier, &return_intent(scope, 50, "1002")] {
        store.save_return_link(link).await.expect("save");
    }
    assert_eq!(
        store
            .return_links_of_order(scope, "gid://shopify/Order/1001")
            .await
            .expect("links"),
        [earlier.clone(), completed.clone(), later.clone()]
    );

    // The database itself holds one link per PULPO return and scope, whatever writes to it.
    let duplicate = format!(
        "INSERT INTO return_links (shopify_credential_id, pulpo_credential_id, incoming_good_id,
             sales_order_id, shopify_order_id, return_id, updated_at)
         VALUES ({}, {}, 41, 1, 'o', NULL, '2026-05-04T10:00:00Z')",
        scope.shopify_credential_id, scope.pulpo_credential_id
    );
    match db.execute_raw(&duplicate).await {
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {}
        other => panic!("expected a unique violation, got {other:?}"),
    }
    // And one PULPO return per Shopify return.
    assert_conflict(
        store
            .save_return_link(&returned(scope, 43, "1001", "7001"))
            .await,
    );
    assert_eq!(store.return_link(scope, 43).await.expect("read"), None);
    assert_eq!(store.count_return_links(scope).await.expect("count"), 4);

    // Another pair of systems keeps links of its own, for the same ids.
    assert_eq!(
        store.return_link(other_scope, 41).await.expect("read"),
        None
    );
    store
        .save_return_link(&returned(other_scope, 41, "1001", "7001"))
        .await
        .expect("the same ids in another scope");
    assert_eq!(
        store.count_return_links(other_scope).await.expect("count"),
        1
    );
    assert_eq!(
        store.return_link(scope, 41).await.expect("read"),
        Some(completed.clone())
    );

    // A link to a credential that does not exist is refused, and a credential with links stays.
    let ghost = SystemPair {
        shopify_credential_id: scope.shopify_credential_id.max(other_shop.id) + 1000,
        ..scope
    };
    assert_conflict(store.save_return_link(&return_intent(ghost, 1, "1")).await);
    assert_conflict(store.delete_credential(other_shop.id).await);

    // Under a run's lease the link lands with the cursor, or neither does.
    let (shop, wms) = systems(store).await;
    let returns = store
        .save_integration(NewIntegration {
            name: "Returns".into(),
            kind: "returns".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: json!({"frequency_minutes": 10}),
        })
        .await
        .expect("integration");
    enqueue(store, manual(&returns, at(-10))).await;
    let run = claim(store, "worker", at(0)).await.expect("claimed");
    let held = lease(&run, "worker");
    let done = returned(scope, 42, "1001", "7002");
    let refused = store
        .write_held(
            &held,
            &[
                HeldWrite::ReturnLink(done.clone()),
                HeldWrite::Cursor {
                    integration_id: returns.id,
                    at: at(5),
                },
                HeldWrite::ReturnLink(returned(ghost, 2, "1", "7100")),
            ],
        )
        .await;
    assert_conflict(refused);
    assert_eq!(
        store.return_link(scope, 42).await.expect("read"),
        Some(later),
        "still the intent"
    );
    assert_eq!(store.cursor(returns.id).await.expect("cursor"), None);
    store
        .write_held(
            &held,
            &[
                HeldWrite::ReturnLink(done.clone()),
                HeldWrite::Cursor {
                    integration_id: returns.id,
                    at: at(5),
                },
            ],
        )
        .await
        .expect("writes while held");
    assert_eq!(
        store.return_link(scope, 42).await.expect("read"),
        Some(done)
    );
    assert_eq!(store.cursor(returns.id).await.expect("cursor"), Some(at(5)));

    // The links belong to the pair of systems: deleting the configuration keeps them.
    store
        .finish_run(
            &held,
            RunStatus::Finished,
            &RunCounters::default(),
            None,
            at(6),
        )
        .await
        .expect("finish");
    assert!(store.delete_integration(returns.id).await.expect("delete"));
    assert_eq!(store.count_return_links(scope).await.expect("count"), 4);
}

fn product_link(scope: SystemPair, variant: u64, product: i64, sku: &str) -> ProductLink {
    ProductLink {
        scope,
        variant_id: format!("gid://shopify/ProductVariant/{variant}"),
        pulpo_product_id: product,
        sku: sku.into(),
        updated_at: at(30) + TimeDelta::milliseconds(250),
    }
}

async fn product_links_keep_one_product_per_variant_and_one_variant_per_product(db: Db) {
    let store = db.store.as_ref();
    let scope = system_pair(store).await;
    let other_shop = store
        .save_credential(shopify("other shop", "shpat_other"))
        .await
        .expect("credential");
    let other_scope = SystemPair {
        shopify_credential_id: other_shop.id,
        ..scope
    };
    let first = product_link(scope, 11, 201, "CAM-1");
    let second = product_link(scope, 12, 202, "CAM-2");
    for link in [&first, &second] {
        store.save_product_link(link).await.expect("save");
    }
    let variants = |ids: &[u64]| -> Vec<String> {
        ids.iter()
            .map(|id| format!("gid://shopify/ProductVariant/{id}"))
            .collect()
    };
    let mut found = store
        .product_links(scope, &variants(&[11, 12, 13]))
        .await
        .expect("links");
    found.sort_by_key(|l| l.pulpo_product_id);
    assert_eq!(found, [first.clone(), second.clone()]);
    assert_eq!(
        store
            .product_links_of_products(scope, &[202, 999])
            .await
            .expect("links"),
        std::slice::from_ref(&second)
    );
    assert!(
        store
            .product_links(scope, &[])
            .await
            .expect("none")
            .is_empty()
    );

    // A renamed SKU replaces the variant's link; still one link per variant.
    let renamed = ProductLink {
        sku: "CAM-1-NEW".into(),
        ..first.clone()
    };
    store.save_product_link(&renamed).await.expect("rename");
    assert_eq!(store.count_product_links(scope).await.expect("count"), 2);

    // A second variant cannot claim a linked PULPO product, in this scope; another store can.
    assert_conflict(
        store
            .save_product_link(&product_link(scope, 13, 201, "CAM-1-NEW"))
            .await,
    );
    store
        .save_product_link(&product_link(other_scope, 13, 201, "CAM-1-NEW"))
        .await
        .expect("another store's link");
    assert_eq!(store.count_product_links(scope).await.expect("count"), 2);

    // Dropping a link under the lease frees the product for another variant.
    let products = shipments_configuration(store, "Products").await;
    enqueue(store, manual(&products, at(-10))).await;
    let run = claim(store, "worker", at(0)).await.expect("claimed");
    let held = lease(&run, "worker");
    store
        .write_held(
            &held,
            &[
                HeldWrite::DropProductLink {
                    scope,
                    variant_id: first.variant_id.clone(),
                },
                HeldWrite::ProductLink(product_link(scope, 13, 201, "CAM-1-NEW")),
            ],
        )
        .await
        .expect("relink while held");
    assert_eq!(
        store
            .product_links_of_products(scope, &[201])
            .await
            .expect("links")[0]
            .variant_id,
        "gid://shopify/ProductVariant/13"
    );
    assert_eq!(store.count_product_links(scope).await.expect("count"), 2);
    // A credential with product links stays.
    assert_conflict(store.delete_credential(other_shop.id).await);
}

const DAY: i64 = 86_400;

/// A run of `integration` that started at `start` (seconds from [`at`]) and ended `seconds`
/// later in `status` with `counters`, with `logs` log entries.
async fn ended_run(
    store: &dyn Store,
    integration: &Integration,
    start: i64,
    seconds: i64,
    status: RunStatus,
    counters: RunCounters,
    logs: usize,
) -> Run {
    enqueue(store, manual(integration, at(start))).await;
    let run = claim(store, "worker", at(start)).await.expect("claimed");
    let held = lease(&run, "worker");
    let entries: Vec<NewLogEntry> = (0..logs)
        .map(|n| entry(LogLevel::Info, Some("1001"), &format!("entry {n}")))
        .collect();
    store.append_logs(&held, &entries).await.expect("logs");
    store
        .finish_run(&held, status, &counters, None, at(start + seconds))
        .await
        .expect("finish")
}

async fn log_count(store: &dyn Store, run_id: i64) -> usize {
    store
        .logs(run_id, &LogFilter::default())
        .await
        .expect("logs")
        .len()
}

/// Runs ended more than 90 days ago go unless FAILED (365 days) or pointed at by an attention
/// record; a queued run and a running run stay whatever their age, and the running one writes
/// its log while the retention job works, in batches of 3.
async fn retention_deletes_only_expired_runs_while_a_run_writes(db: Db) {
    let store = db.store.clone();
    let a = configuration(store.as_ref(), "A").await;
    let b = configuration(store.as_ref(), "B").await;
    let c = configuration(store.as_ref(), "C").await;
    let s = store.as_ref();
    let counters = RunCounters::default();
    let old_finished = ended_run(s, &a, -100 * DAY, 60, RunStatus::Finished, counters, 7).await;
    let old_partial = ended_run(
        s,
        &a,
        -95 * DAY,
        60,
        RunStatus::FinishedPartially,
        counters,
        2,
    )
    .await;
    let old_failed = ended_run(s, &a, -100 * DAY, 60, RunStatus::Failed, counters, 4).await;
    let ancient_failed = ended_run(s, &a, -400 * DAY, 60, RunStatus::Failed, counters, 5).await;
    let flagged = ended_run(
        s,
        &a,
        -200 * DAY,
        60,
        RunStatus::FinishedPartially,
        counters,
        3,
    )
    .await;
    let recent = ended_run(s, &a, -10 * DAY, 60, RunStatus::Finished, counters, 2).await;
    // Ended just after the limit: kept.
    let on_the_edge = ended_run(s, &a, -90 * DAY - 30, 60, RunStatus::Finished, counters, 1).await;
    s.flag(&Attention {
        run_id: Some(flagged.id),
        ..attention(a.id, "1001", AttentionKind::Failed, at(-200 * DAY))
    })
    .await
    .expect("flag");
    // B: a run claimed 200 days ago (still running, still writing); C: a run queued as long ago.
    enqueue(s, manual(&b, at(-200 * DAY))).await;
    let running = claim(s, "writer", at(-200 * DAY)).await.expect("running");
    let queued = enqueue(s, manual(&c, at(-200 * DAY))).await;

    let retention = Retention {
        ended_before: at(-90 * DAY),
        failed_ended_before: at(-365 * DAY),
        batch: 3,
    };
    let writer = {
        let store = store.clone();
        let held = lease(&running, "writer");
        tokio::spawn(async move {
            for n in 0..40 {
                store
                    .append_logs(
                        &held,
                        &[entry(LogLevel::Info, None, &format!("writing {n}"))],
                    )
                    .await
                    .expect("the running run writes while retention works");
                tokio::task::yield_now().await;
            }
        })
    };
    let mut total = Pruned::default();
    let mut calls = 0;
    loop {
        let pruned = s.prune_runs(&retention).await.expect("prune");
        assert!(pruned.runs <= 3 && pruned.log_entries <= 3, "{pruned:?}");
        calls += 1;
        total.runs += pruned.runs;
        total.log_entries += pruned.log_entries;
        if pruned == Pruned::default() {
            break;
        }
        tokio::task::yield_now().await;
    }
    writer.await.expect("writer");
    assert_eq!(
        total,
        Pruned {
            runs: 3,
            log_entries: 7 + 2 + 5
        }
    );
    assert!(calls > 5, "small batches: {calls} calls");
    for gone in [&old_finished, &old_partial, &ancient_failed] {
        assert_eq!(
            s.run(gone.id).await.expect("run"),
            None,
            "run {} deleted",
            gone.id
        );
        assert_eq!(log_count(s, gone.id).await, 0);
    }
    for (kept, logs) in [
        (&old_failed, 4),
        (&flagged, 3),
        (&recent, 2),
        (&on_the_edge, 1),
    ] {
        assert!(
            s.run(kept.id).await.expect("run").is_some(),
            "run {} kept",
            kept.id
        );
        assert_eq!(
            log_count(s, kept.id).await,
            logs,
            "run {} keeps its log",
            kept.id
        );
    }
    assert_eq!(
        log_count(s, running.id).await,
        40,
        "the running run's log is intact"
    );
    let still_running = s.run(running.id).await.expect("run").expect("running run");
    assert_eq!(still_running.status, RunStatus::Running);
    assert_eq!(
        s.run(queued.id).await.expect("run").map(|r| r.status),
        Some(RunStatus::Queued)
    );

    // Resolving the attention record lets its run go; a year on, the FAILED one goes too.
    s.clear_flag(&order_key(a.id, "1001"))
        .await
        .expect("resolve");
    let later = Retention {
        ended_before: at(-30 * DAY),
        failed_ended_before: at(-30 * DAY),
        batch: 500,
    };
    let pruned = s.prune_runs(&later).await.expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            runs: 3,
            log_entries: 4 + 3 + 1
        }
    );
    assert_eq!(
        s.prune_runs(&later).await.expect("prune"),
        Pruned::default()
    );
    let left: Vec<i64> = s
        .runs(&RunFilter::default())
        .await
        .expect("runs")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [queued.id, running.id, recent.id]);
}

/// The totals /metrics exports come from a table kept as runs end: deleting the runs leaves
/// them as they were.
async fn run_totals_do_not_go_down_when_retention_deletes_runs(db: Db) {
    let store = db.store.as_ref();
    let a = configuration(store, "A").await;
    let counters = RunCounters {
        fetched: 4,
        created: 2,
        failed: 1,
        ..RunCounters::default()
    };
    ended_run(
        store,
        &a,
        -200 * DAY,
        90,
        RunStatus::FinishedPartially,
        counters,
        2,
    )
    .await;
    ended_run(
        store,
        &a,
        -100 * DAY,
        30,
        RunStatus::FinishedPartially,
        counters,
        2,
    )
    .await;
    ended_run(store, &a, -500 * DAY, 10, RunStatus::Failed, counters, 1).await;
    ended_run(store, &a, -DAY, 20, RunStatus::Finished, counters, 1).await;
    let before = store.run_totals().await.expect("totals");
    assert_eq!(before.len(), 3, "{before:#?}");
    let partial = before
        .iter()
        .find(|t| t.status == RunStatus::FinishedPartially)
        .expect("partial totals");
    assert_eq!(partial.runs, 2);
    assert_eq!(partial.counters.fetched, 8);
    assert!(
        (partial.finished_seconds - 120.0).abs() < 0.01,
        "{partial:?}"
    );

    let retention = Retention {
        ended_before: at(-90 * DAY),
        failed_ended_before: at(-365 * DAY),
        batch: 500,
    };
    while store.prune_runs(&retention).await.expect("prune") != Pruned::default() {}
    assert_eq!(
        store.runs(&RunFilter::default()).await.expect("runs").len(),
        1,
        "three runs deleted"
    );
    assert_eq!(store.run_totals().await.expect("totals"), before);
}

/// Per configuration and UTC day, the runs that ended that day: counts by status, summed
/// counters, total and longest duration; runs not ended and runs before `since` are left out.
async fn daily_run_totals_sum_the_runs_that_ended_each_day(db: Db) {
    let store = db.store.as_ref();
    let a = configuration(store, "A").await;
    let b = configuration(store, "B").await;
    let counters = |created: u64, failed: u64| RunCounters {
        fetched: created + failed,
        created,
        failed,
        ..RunCounters::default()
    };
    // at(0) is 2026-05-04 10:00 UTC. A: two runs on May 2, one on May 3 (started before
    // midnight, ended after: counted on May 3), one on May 4; B: one FAILED run on May 4.
    ended_run(
        store,
        &a,
        -2 * DAY,
        60,
        RunStatus::Finished,
        counters(3, 0),
        0,
    )
    .await;
    ended_run(
        store,
        &a,
        -2 * DAY + 3600,
        120,
        RunStatus::FinishedPartially,
        counters(1, 2),
        0,
    )
    .await;
    ended_run(
        store,
        &a,
        -DAY - 10 * 3600 - 60,
        180,
        RunStatus::Finished,
        counters(5, 0),
        0,
    )
    .await;
    ended_run(store, &a, 0, 30, RunStatus::Finished, counters(2, 0), 0).await;
    ended_run(store, &b, 60, 15, RunStatus::Failed, counters(0, 1), 0).await;
    // Before the window, and not ended: left out.
    ended_run(
        store,
        &b,
        -40 * DAY,
        15,
        RunStatus::Finished,
        counters(9, 0),
        0,
    )
    .await;
    enqueue(store, manual(&a, at(600))).await;
    claim(store, "worker", at(600)).await.expect("running");

    let totals = store
        .daily_run_totals(at(-30 * DAY))
        .await
        .expect("daily totals");
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("day");
    let rows: Vec<(i64, chrono::NaiveDate, u64, u64, u64, u64, u64)> = totals
        .iter()
        .map(|t| {
            (
                t.integration_id,
                t.day,
                t.runs,
                t.partial_runs,
                t.failed_runs,
                t.counters.created,
                t.counters.failed,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (a.id, day("2026-05-02"), 2, 1, 0, 4, 2),
            (a.id, day("2026-05-03"), 1, 0, 0, 5, 0),
            (a.id, day("2026-05-04"), 1, 0, 0, 2, 0),
            (b.id, day("2026-05-04"), 1, 0, 1, 0, 1),
        ]
    );
    let may_2 = &totals[0];
    assert!((may_2.seconds - 180.0).abs() < 0.01, "{may_2:?}");
    assert!((may_2.longest_seconds - 120.0).abs() < 0.01, "{may_2:?}");
    assert_eq!(may_2.counters.fetched, 6);
}

/// A database with runs from before the totals were kept gets them from its runs.
async fn the_retention_migration_backfills_the_run_totals(db: Db) {
    let old = OldDatabase::create(
        &db,
        "retention_migration",
        OldVersions { postgres: 8, sqlite: 13 },
        &[
            "INSERT INTO credentials (id, name, kind, config, secrets, created_at, updated_at)
             VALUES (1, 'shop', 'shopify', '{}', ?1, ?2, ?2), (2, 'wms', 'pulpo', '{}', ?1, ?2, ?2)",
            "INSERT INTO integrations (id, name, kind, origin_credential_id, destination_credential_id, settings, created_at, updated_at)
             VALUES (1, 'Sales orders', 'sales_orders', 1, 2, '{}', ?2, ?2)",
            "INSERT INTO runs (integration_id, trigger, status, started_at, finished_at, ended_ms, fetched, created, failed, pulpo_requests)
             VALUES (1, 'manual', 'FINISHED', ?2, ?3, 1, 5, 3, 0, 7), (1, 'manual', 'FINISHED', ?2, ?3, 1, 2, 1, 0, 1),
                    (1, 'manual', 'FAILED', ?2, ?3, 1, 1, 0, 1, 2), (1, 'manual', 'RUNNING', ?2, NULL, NULL, 4, 4, 0, 3)",
        ],
        (at(0), at(40)),
    )
    .await;
    let url = &old.url;
    let store = open(url).await.expect("migrated store");
    let totals = store.run_totals().await.expect("totals");
    let summary: Vec<(RunStatus, u64, u64, u64, u64)> = totals
        .iter()
        .map(|t| {
            (
                t.status,
                t.runs,
                t.counters.fetched,
                t.counters.created,
                t.usage.pulpo_requests,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (RunStatus::Failed, 1, 1, 0, 2),
            (RunStatus::Finished, 2, 7, 4, 8),
            (RunStatus::Running, 1, 4, 4, 3),
        ]
    );
    let finished = &totals[1];
    assert!(
        (finished.finished_seconds - 80.0).abs() < 0.01,
        "{finished:?}"
    );
}
