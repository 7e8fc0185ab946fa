//! Alert delivery from the outbox against a local webhook receiver, on a real SQLite store,
//! with time injected: a refused message waits for its retry time and then goes through, and
//! deliverers working side by side send each message once.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::json;
use tentacle_domain::alerts::ChannelTarget;
use tentacle_domain::run::{RunCounters, RunStatus, Trigger};
use tentacle_engine::alerts::{Delivered, deliver_due};
use tentacle_engine::clock::TestClock;
use tentacle_sandbox::alert_receivers::WebhookReceiver;
use tentacle_store::prelude::*;
use tentacle_store::{
    AlertFilter, Cipher, Claim, Lease, NewAlertChannel, NewCredential, NewIntegration, RunRequest,
    SqliteStore,
};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-04T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
        + TimeDelta::seconds(seconds)
}

async fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    Arc::new(
        SqliteStore::open(&url, Cipher::ephemeral())
            .await
            .expect("store"),
    )
}

/// A configuration named `name` whose one run ends FAILED at `now`.
async fn failing(store: &dyn Store, name: &str, now: DateTime<Utc>) {
    let secret = |v: &str| SecretString::from(v.to_string());
    let shop = store
        .save_credential(NewCredential::shopify(
            "shop",
            "https://shop.example",
            "2026-10",
            secret("t"),
        ))
        .await
        .expect("shop");
    let wms = store
        .save_credential(NewCredential::pulpo(
            "wms",
            "https://wms.example",
            "api",
            secret("p"),
        ))
        .await
        .expect("wms");
    let integration = store
        .save_integration(NewIntegration {
            name: name.into(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: json!({}),
        })
        .await
        .expect("integration");
    let queued = store
        .enqueue_run(&RunRequest {
            integration_id: integration.id,
            trigger: Trigger::Manual,
            due_at: now,
            exclusion: None,
        })
        .await
        .expect("enqueue");
    store
        .claim_run(&Claim {
            owner: "w".into(),
            now,
            lease_until: now + TimeDelta::seconds(30),
            run_id: Some(queued.run.id),
        })
        .await
        .expect("claim")
        .expect("claimed");
    let lease = Lease {
        run_id: queued.run.id,
        owner: "w".into(),
    };
    store
        .finish_run(
            &lease,
            RunStatus::Failed,
            &RunCounters::default(),
            Some("PULPO could not be reached"),
            now,
        )
        .await
        .expect("finish");
}

async fn channel(store: &dyn Store, hook: &WebhookReceiver) {
    store
        .save_alert_channel(NewAlertChannel {
            name: "Chat".into(),
            target: ChannelTarget::Webhook { url: hook.url() },
            password: None,
            integration_ids: None,
            stale_after_hours: 24,
        })
        .await
        .expect("channel");
}

#[tokio::test]
async fn a_refused_alert_waits_for_its_retry_and_then_goes_through() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let hook = WebhookReceiver::start().await.expect("receiver");
    channel(store.as_ref(), &hook).await;
    failing(store.as_ref(), "Sales orders", at(0)).await;
    let clock = TestClock::at(at(1));

    hook.answer_next(&[503]);
    let first = deliver_due(store.as_ref(), &clock, "serve-1", None)
        .await
        .expect("deliver");
    assert_eq!(first, Delivered { sent: 0, failed: 1 });
    let pending = store
        .alert_records(&AlertFilter {
            pending: true,
            ..AlertFilter::default()
        })
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("HTTP 503")),
        "{pending:?}"
    );
    // Not before its retry time (30 s after the first attempt)…
    clock.advance(TimeDelta::seconds(29));
    let early = deliver_due(store.as_ref(), &clock, "serve-1", None)
        .await
        .expect("deliver");
    assert_eq!(early, Delivered::default());
    assert!(hook.received().is_empty());
    // …then it goes through, once.
    clock.advance(TimeDelta::seconds(2));
    let retried = deliver_due(store.as_ref(), &clock, "serve-2", None)
        .await
        .expect("deliver");
    assert_eq!(retried, Delivered { sent: 1, failed: 0 });
    let received = hook.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["integration"], "Sales orders");
    assert_eq!(received[0]["incident"], "failed");
    let again = deliver_due(store.as_ref(), &clock, "serve-2", None)
        .await
        .expect("deliver");
    assert_eq!(again, Delivered::default());
}

#[tokio::test]
async fn deliverers_side_by_side_send_each_alert_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let hook = WebhookReceiver::start().await.expect("receiver");
    channel(store.as_ref(), &hook).await;
    for n in 0..30 {
        failing(store.as_ref(), &format!("Store {n}"), at(0)).await;
    }
    let clock = TestClock::at(at(1));
    let (a, b, c) = tokio::join!(
        deliver_due(store.as_ref(), &clock, "a", None),
        deliver_due(store.as_ref(), &clock, "b", None),
        deliver_due(store.as_ref(), &clock, "c", None),
    );
    let sent = a.expect("a").sent + b.expect("b").sent + c.expect("c").sent;
    assert_eq!(sent, 30);
    let mut names: Vec<String> = hook
        .received()
        .iter()
        .map(|p| p["integration"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names.len(), 30);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 30, "no alert sent twice");
}
