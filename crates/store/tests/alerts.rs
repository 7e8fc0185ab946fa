//! The alert story on SQLite and PostgreSQL: incidents decided in the transaction that ends a
//! run, one message per incident and channel, the recovered notice, stale configurations, and
//! delivery from the outbox under a lease. The outbox rows are the reference: what a run's end
//! queued is what will be sent.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tentacle_domain::alerts::{AlertEvent, ChannelTarget, IncidentKind};
use tentacle_domain::run::{LogLevel, RecordKind, RunCounters, RunStatus, Trigger};
use tentacle_store::prelude::*;
use tentacle_store::testing::TestSchema;
use tentacle_store::{
    AlertChannel, AlertClaim, AlertFilter, AlertRecord, ApiVersionDue, Attention, AttentionKey,
    AttentionKind, Cipher, HeldWrite, Integration, Lease, NewAlertChannel, NewCredential,
    NewIntegration, NewLogEntry, PgOptions, PgStore, Reap, Run, RunRequest, SqliteStore,
    StoreError,
};

const KEY: &str = "0909090909090909090909090909090909090909090909090909090909090909";
const PASSWORD: &str = "smtp-password-never-shown";

/// 2026-05-04 10:00:00 UTC plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-04T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
        + TimeDelta::seconds(seconds)
}

struct Db {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

async fn open(url: &str) -> Arc<dyn Store> {
    let cipher = Cipher::from_hex(KEY).expect("key");
    if url.starts_with("postgres") {
        let options = PgOptions { max_connections: 4 };
        Arc::new(
            PgStore::open_with(url, cipher, options)
                .await
                .expect("PostgreSQL store"),
        )
    } else {
        Arc::new(SqliteStore::open(url, cipher).await.expect("SQLite store"))
    }
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/tentacle.db", dir.path().display());
        Db {
            store: open(&url).await,
            url,
            _dir: Some(dir),
            _schema: None,
        }
    }

    async fn postgres(test: &str) -> Option<Db> {
        let schema = TestSchema::create(test).await?;
        let url = schema.url.clone();
        Some(Db {
            store: open(&url).await,
            url,
            _dir: None,
            _schema: Some(schema),
        })
    }

    /// The bytes stored for the channel's secrets, read past the store.
    async fn sealed_secrets(&self, name: &str) -> Vec<u8> {
        let query = "SELECT secrets FROM alert_channels WHERE name = $1";
        if self.url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("raw pool");
            let bytes = sqlx::query_scalar(query).bind(name).fetch_one(&pool).await;
            pool.close().await;
            bytes.expect("secrets")
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url)
                .await
                .expect("raw pool");
            let bytes = sqlx::query_scalar("SELECT secrets FROM alert_channels WHERE name = ?1")
                .bind(name)
                .fetch_one(&pool)
                .await;
            pool.close().await;
            bytes.expect("secrets")
        }
    }
}

async fn configuration(store: &dyn Store, name: &str) -> Integration {
    let secret = |v: &str| SecretString::from(v.to_string());
    let shop = store
        .save_credential(NewCredential::shopify(
            "shop",
            "https://shop.example",
            "2026-10",
            secret("shpat_x"),
        ))
        .await
        .expect("shop");
    let wms = store
        .save_credential(NewCredential::pulpo(
            "wms",
            "https://wms.example",
            "api",
            secret("pw"),
        ))
        .await
        .expect("wms");
    store
        .save_integration(NewIntegration {
            name: name.into(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: json!({"frequency_minutes": 1}),
        })
        .await
        .expect("integration")
}

fn webhook(name: &str, covers: Option<Vec<i64>>) -> NewAlertChannel {
    NewAlertChannel {
        name: name.into(),
        target: ChannelTarget::Webhook {
            url: format!("https://hooks.example/{name}"),
        },
        password: None,
        integration_ids: covers,
        stale_after_hours: 24,
    }
}

fn email(name: &str) -> NewAlertChannel {
    NewAlertChannel {
        name: name.into(),
        target: ChannelTarget::Email {
            smtp_host: "smtp.example.com".into(),
            smtp_port: 587,
            starttls: true,
            username: Some("ops".into()),
            from: "tentacle@example.com".into(),
            to: vec!["ops@example.com".into()],
        },
        password: Some(SecretString::from(PASSWORD.to_string())),
        integration_ids: None,
        stale_after_hours: 24,
    }
}

/// Queues, claims and ends one run of the configuration at `now` with `status`, after `writes`.
async fn run_once(
    store: &dyn Store,
    integration: &Integration,
    now: DateTime<Utc>,
    status: RunStatus,
    writes: impl FnOnce(&Run) -> Vec<HeldWrite>,
) -> Run {
    let queued = store
        .enqueue_run(&RunRequest {
            integration_id: integration.id,
            trigger: Trigger::Manual,
            due_at: now,
            exclusion: None,
        })
        .await
        .expect("enqueue");
    assert!(queued.created);
    let run = store
        .claim_run(&tentacle_store::Claim {
            owner: "w".into(),
            now,
            lease_until: now + TimeDelta::seconds(30),
            run_id: Some(queued.run.id),
        })
        .await
        .expect("claim")
        .expect("claimed");
    let lease = Lease {
        run_id: run.id,
        owner: "w".into(),
    };
    let writes = writes(&run);
    if !writes.is_empty() {
        store.write_held(&lease, &writes).await.expect("writes");
    }
    let error = (status == RunStatus::Failed).then_some("PULPO rejected the credentials \"wms\"");
    store
        .finish_run(&lease, status, &RunCounters::default(), error, now)
        .await
        .expect("finish")
}

async fn outbox(store: &dyn Store, channel: &AlertChannel) -> Vec<AlertRecord> {
    let mut records = store
        .alert_records(&AlertFilter {
            channel_id: Some(channel.id),
            ..AlertFilter::default()
        })
        .await
        .expect("records");
    records.reverse();
    records
}

fn events(records: &[AlertRecord]) -> Vec<(IncidentKind, AlertEvent)> {
    records.iter().map(|r| (r.kind, r.event)).collect()
}

async fn channels_keep_their_settings_and_seal_the_password(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let saved = store
        .save_alert_channel(email("Ops mail"))
        .await
        .expect("save");
    assert_eq!(
        saved.password.as_ref().map(|p| p.expose_secret()),
        Some(PASSWORD)
    );
    assert_eq!(saved.integration_ids, None);
    let sealed = db.sealed_secrets("Ops mail").await;
    assert!(
        !String::from_utf8_lossy(&sealed).contains(PASSWORD),
        "the password is stored encrypted"
    );
    assert!(!format!("{saved:?}").contains(PASSWORD), "Debug hides it");

    // Saved again by name: the same channel, now covering one configuration.
    let mut again = email("Ops mail");
    again.integration_ids = Some(vec![orders.id]);
    let again = store.save_alert_channel(again).await.expect("save again");
    assert_eq!(again.id, saved.id);
    assert_eq!(again.integration_ids, Some(vec![orders.id]));
    assert_eq!(store.alert_channels().await.expect("list").len(), 1);

    let hook = store
        .save_alert_channel(webhook("Slack", None))
        .await
        .expect("webhook");
    let taken = store.update_alert_channel(hook.id, email("Ops mail")).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    let missing = store
        .save_alert_channel(webhook("Teams", Some(vec![orders.id + 100])))
        .await;
    assert!(
        matches!(missing, Err(StoreError::Conflict { .. })),
        "{missing:?}"
    );
    assert!(store.delete_alert_channel(hook.id).await.expect("delete"));
    assert!(!store.delete_alert_channel(hook.id).await.expect("again"));
    assert!(store.alert_channel(hook.id).await.expect("read").is_none());
}

async fn a_configuration_failing_every_minute_sends_one_alert_and_one_recovered(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let stock = configuration(store, "Stock").await;
    let all = store
        .save_alert_channel(webhook("All", None))
        .await
        .expect("all");
    let stock_only = store
        .save_alert_channel(webhook("Stock only", Some(vec![stock.id])))
        .await
        .expect("stock only");

    let mut first_failed = None;
    for minute in 0..30 {
        let run = run_once(
            store,
            &orders,
            at(60 * minute),
            RunStatus::Failed,
            |_| vec![],
        )
        .await;
        first_failed.get_or_insert(run.id);
    }
    let sent = outbox(store, &all).await;
    assert_eq!(events(&sent), [(IncidentKind::Failed, AlertEvent::Opened)]);
    assert_eq!(sent[0].run_id, first_failed);
    assert_eq!(sent[0].subject, "tentacle: Sales orders FAILED");
    assert!(
        sent[0].text.contains("PULPO rejected the credentials"),
        "{}",
        sent[0].text
    );
    assert!(
        outbox(store, &stock_only).await.is_empty(),
        "it covers Stock only"
    );

    let partly = run_once(
        store,
        &orders,
        at(3600),
        RunStatus::FinishedPartially,
        |_| vec![],
    )
    .await;
    run_once(store, &orders, at(3660), RunStatus::Finished, |_| vec![]).await;
    let sent = outbox(store, &all).await;
    assert_eq!(
        events(&sent),
        [
            (IncidentKind::Failed, AlertEvent::Opened),
            (IncidentKind::Failed, AlertEvent::Recovered)
        ]
    );
    assert_eq!(sent[1].run_id, Some(partly.id));
    assert_eq!(sent[1].subject, "tentacle: Sales orders recovered");

    // A new failure is a new incident.
    run_once(store, &orders, at(3720), RunStatus::Failed, |_| vec![]).await;
    assert_eq!(outbox(store, &all).await.len(), 3);
}

async fn a_run_the_reaper_fails_alerts_in_the_same_transaction(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let all = store
        .save_alert_channel(webhook("All", None))
        .await
        .expect("all");
    let queued = store
        .enqueue_run(&RunRequest {
            integration_id: orders.id,
            trigger: Trigger::Manual,
            due_at: at(0),
            exclusion: None,
        })
        .await
        .expect("enqueue");
    store
        .claim_run(&tentacle_store::Claim {
            owner: "dead".into(),
            now: at(0),
            lease_until: at(30),
            run_id: None,
        })
        .await
        .expect("claim")
        .expect("claimed");
    let entry = |message: &str| NewLogEntry {
        at: at(60),
        level: LogLevel::Error,
        record_kind: None,
        record: None,
        message: message.into(),
    };
    let reaped = store
        .reap_expired_runs(&Reap {
            now: at(60),
            max_losses: 1,
            resumed: entry("resumed"),
            failed: entry("The worker was lost too often; the run failed."),
        })
        .await
        .expect("reap");
    assert_eq!(reaped.failed, [queued.run.id]);
    let sent = outbox(store, &all).await;
    assert_eq!(events(&sent), [(IncidentKind::Failed, AlertEvent::Opened)]);
    assert!(sent[0].text.contains("lost too often"), "{}", sent[0].text);
}

fn conflict_flag(run: &Run, integration: &Integration, order: &str) -> HeldWrite {
    HeldWrite::Flag(Attention {
        key: AttentionKey {
            integration_id: integration.id,
            record_kind: RecordKind::Order,
            record_id: format!("gid://shopify/Order/{order}"),
        },
        record_label: format!("#{order}"),
        kind: AttentionKind::Conflict,
        reason: "the PULPO order was changed by hand".into(),
        attempts: 1,
        run_id: Some(run.id),
        updated_at: at(0),
    })
}

async fn new_conflicts_open_one_incident_cleared_when_none_remain(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let all = store
        .save_alert_channel(webhook("All", None))
        .await
        .expect("all");
    let first = run_once(store, &orders, at(0), RunStatus::Finished, |run| {
        vec![
            conflict_flag(run, &orders, "1"),
            conflict_flag(run, &orders, "2"),
        ]
    })
    .await;
    // Flagged again, and a third record: the incident is open, nothing more is sent.
    run_once(store, &orders, at(60), RunStatus::Finished, |run| {
        vec![
            conflict_flag(run, &orders, "1"),
            conflict_flag(run, &orders, "3"),
        ]
    })
    .await;
    let sent = outbox(store, &all).await;
    assert_eq!(
        events(&sent),
        [(IncidentKind::Conflicts, AlertEvent::Opened)]
    );
    assert_eq!(sent[0].run_id, Some(first.id));
    assert!(sent[0].text.contains("2 in conflict"), "{}", sent[0].text);

    // Resolved by the operator: the next run's end clears the incident.
    for order in ["1", "2", "3"] {
        store
            .clear_flag(&AttentionKey {
                integration_id: orders.id,
                record_kind: RecordKind::Order,
                record_id: format!("gid://shopify/Order/{order}"),
            })
            .await
            .expect("clear");
    }
    run_once(store, &orders, at(120), RunStatus::Finished, |_| vec![]).await;
    assert_eq!(
        events(&outbox(store, &all).await),
        [
            (IncidentKind::Conflicts, AlertEvent::Opened),
            (IncidentKind::Conflicts, AlertEvent::Recovered)
        ]
    );
}

async fn a_configuration_without_a_successful_run_goes_stale_once(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let day = store
        .save_alert_channel(webhook("Day", None))
        .await
        .expect("day");
    let mut week = webhook("Week", None);
    week.stale_after_hours = 168;
    let week = store.save_alert_channel(week).await.expect("week");

    // The configuration was just created: not stale yet for anyone.
    assert_eq!(
        store.open_stale_incidents(Utc::now()).await.expect("check"),
        0
    );
    let later = Utc::now() + TimeDelta::hours(25);
    assert_eq!(store.open_stale_incidents(later).await.expect("check"), 1);
    assert_eq!(store.open_stale_incidents(later).await.expect("again"), 0);
    let sent = outbox(store, &day).await;
    assert_eq!(events(&sent), [(IncidentKind::Stale, AlertEvent::Opened)]);
    assert!(sent[0].subject.contains("24 hours"), "{}", sent[0].subject);
    assert!(
        outbox(store, &week).await.is_empty(),
        "a week has not passed"
    );

    // A failing run does not clear it; a successful one does, for the channel that was told.
    run_once(store, &orders, later, RunStatus::Failed, |_| vec![]).await;
    run_once(
        store,
        &orders,
        later + TimeDelta::minutes(1),
        RunStatus::Finished,
        |_| vec![],
    )
    .await;
    assert_eq!(
        events(&outbox(store, &day).await),
        [
            (IncidentKind::Stale, AlertEvent::Opened),
            (IncidentKind::Failed, AlertEvent::Opened),
            (IncidentKind::Failed, AlertEvent::Recovered),
            (IncidentKind::Stale, AlertEvent::Recovered),
        ]
    );
    assert_eq!(
        events(&outbox(store, &week).await),
        [
            (IncidentKind::Failed, AlertEvent::Opened),
            (IncidentKind::Failed, AlertEvent::Recovered),
        ]
    );
}

async fn an_ending_api_version_is_told_once_and_its_fix_once(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let other = configuration(store, "Products").await;
    let only_products = store
        .save_alert_channel(webhook("Catalog team", Some(vec![other.id])))
        .await
        .expect("channel");
    let everyone = store
        .save_alert_channel(webhook("Ops", None))
        .await
        .expect("channel");
    let due = [ApiVersionDue {
        integration_id: orders.id,
        note: "credential \"shop\": API version 2026-10 ends on 2027-10-01 (in 30 days)".into(),
    }];
    // Every covering channel once, however often the check runs.
    assert_eq!(
        store
            .sync_api_version_incidents(at(0), &due)
            .await
            .expect("check"),
        1
    );
    assert_eq!(
        store
            .sync_api_version_incidents(at(60), &due)
            .await
            .expect("again"),
        0
    );
    let sent = outbox(store, &everyone).await;
    assert_eq!(
        events(&sent),
        [(IncidentKind::ApiVersion, AlertEvent::Opened)]
    );
    assert!(
        sent[0].text.contains("2026-10 ends on 2027-10-01")
            && sent[0].text.contains("newer API version"),
        "{}",
        sent[0].text
    );
    assert!(outbox(store, &only_products).await.is_empty());
    // A run's end neither opens nor clears it.
    run_once(store, &orders, at(120), RunStatus::Finished, |_| vec![]).await;
    assert_eq!(events(&outbox(store, &everyone).await).len(), 1);
    // The credential moved to a newer version: one recovered notice, to the channel told.
    assert_eq!(
        store
            .sync_api_version_incidents(at(180), &[])
            .await
            .expect("fixed"),
        1
    );
    assert_eq!(
        events(&outbox(store, &everyone).await),
        [
            (IncidentKind::ApiVersion, AlertEvent::Opened),
            (IncidentKind::ApiVersion, AlertEvent::Recovered),
        ]
    );
    assert!(outbox(store, &only_products).await.is_empty());
    assert_eq!(
        store
            .sync_api_version_incidents(at(240), &[])
            .await
            .expect("still fine"),
        0
    );
}

fn claim(owner: &str, now: DateTime<Utc>, run_id: Option<i64>) -> AlertClaim {
    AlertClaim {
        owner: owner.into(),
        now,
        lease_until: now + TimeDelta::seconds(60),
        run_id,
        limit: 10,
    }
}

async fn messages_are_delivered_under_a_lease_and_retried_later(db: Db) {
    let store = db.store.as_ref();
    let orders = configuration(store, "Sales orders").await;
    let stock = configuration(store, "Stock").await;
    let mail = store.save_alert_channel(email("Mail")).await.expect("mail");
    let failed_orders = run_once(store, &orders, at(0), RunStatus::Failed, |_| vec![]).await;
    run_once(store, &stock, at(0), RunStatus::Failed, |_| vec![]).await;

    // Only the messages of one run, with their channel and its password.
    let mine = store
        .claim_alerts(&claim("run", at(1), Some(failed_orders.id)))
        .await
        .expect("claim");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].record.integration_name, "Sales orders");
    assert_eq!(mine[0].record.attempts, 1);
    assert_eq!(mine[0].channel.id, mail.id);
    assert!(mine[0].channel.password.is_some());
    // Held: another deliverer gets the other message only.
    let others = store
        .claim_alerts(&claim("serve", at(2), None))
        .await
        .expect("claim");
    assert_eq!(
        others
            .iter()
            .map(|d| d.record.integration_name.as_str())
            .collect::<Vec<_>>(),
        ["Stock"]
    );
    // A failed attempt waits for its retry time.
    let retry_at = at(300);
    assert!(
        store
            .alert_failed(
                others[0].record.id,
                "serve",
                "SMTP server unreachable",
                retry_at
            )
            .await
            .expect("failed")
    );
    assert!(
        store
            .claim_alerts(&claim("serve", at(50), None))
            .await
            .expect("claim")
            .is_empty()
    );
    // The lease of the first ran out (its process died between sending and marking): another
    // process sends it again, and the first can no longer mark it.
    let again = store
        .claim_alerts(&claim("serve", at(301), None))
        .await
        .expect("claim");
    let ids: Vec<i64> = again.iter().map(|d| d.record.id).collect();
    assert_eq!(ids, [mine[0].record.id, others[0].record.id]);
    assert_eq!(
        again[1].record.last_error.as_deref(),
        Some("SMTP server unreachable")
    );
    assert!(
        !store
            .alert_delivered(mine[0].record.id, "run", at(302))
            .await
            .expect("mark")
    );
    for delivery in &again {
        assert!(
            store
                .alert_delivered(delivery.record.id, "serve", at(302))
                .await
                .expect("mark")
        );
    }
    assert!(
        store
            .claim_alerts(&claim("serve", at(9999), None))
            .await
            .expect("claim")
            .is_empty()
    );
    let pending = store
        .alert_records(&AlertFilter {
            pending: true,
            ..AlertFilter::default()
        })
        .await
        .expect("pending");
    assert!(pending.is_empty());
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
    channels_keep_their_settings_and_seal_the_password,
    a_configuration_failing_every_minute_sends_one_alert_and_one_recovered,
    a_run_the_reaper_fails_alerts_in_the_same_transaction,
    new_conflicts_open_one_incident_cleared_when_none_remain,
    a_configuration_without_a_successful_run_goes_stale_once,
    an_ending_api_version_is_told_once_and_its_fix_once,
    messages_are_delivered_under_a_lease_and_retried_later,
);

/// Two processes claiming at once on PostgreSQL never take the same message.
#[tokio::test]
async fn concurrent_deliverers_share_the_outbox_without_overlap() {
    let Some(db) = Db::postgres("concurrent_deliverers").await else {
        return;
    };
    let store = db.store.as_ref();
    for channel in 0..8 {
        store
            .save_alert_channel(webhook(&format!("hook{channel}"), None))
            .await
            .expect("channel");
    }
    for name in ["A", "B", "C", "D", "E"] {
        let integration = configuration(store, name).await;
        run_once(store, &integration, at(0), RunStatus::Failed, |_| vec![]).await;
    }
    let other = open(&db.url).await;
    let claim_a = AlertClaim {
        limit: 25,
        ..claim("a", at(1), None)
    };
    let claim_b = AlertClaim {
        limit: 25,
        ..claim("b", at(1), None)
    };
    let (a, b) = tokio::join!(store.claim_alerts(&claim_a), other.claim_alerts(&claim_b));
    let mut ids: Vec<i64> = a
        .expect("a")
        .iter()
        .chain(b.expect("b").iter())
        .map(|d| d.record.id)
        .collect();
    let claimed = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "no message claimed twice");
    assert_eq!(claimed, 40, "5 incidents x 8 channels, all claimed");
}
