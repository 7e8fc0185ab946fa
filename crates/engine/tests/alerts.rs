//! Alert delivery from the outbox against a local webhook receiver and a real SMTP server
//! (`aiosmtpd`), on a real SQLite store, with time injected: every kind of incident arrives by
//! both, a refused message waits for its retry time and then goes through, and deliverers
//! working side by side send each message once.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::json;
use tentacle_domain::alerts::ChannelTarget;
use tentacle_domain::run::{RecordKind, RunCounters, RunStatus, Trigger};
use tentacle_engine::alerts::{Delivered, check_stale, deliver_due};
use tentacle_engine::clock::TestClock;
use tentacle_sandbox::alert_receivers::{SmtpReceiver, WebhookReceiver};
use tentacle_store::prelude::*;
use tentacle_store::{
    AlertFilter, Attention, AttentionKey, AttentionKind, Cipher, Claim, HeldWrite, Lease,
    NewAlertChannel, NewCredential, NewIntegration, RunRequest, SqliteStore,
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

#[tokio::test]
async fn failed_conflict_and_stale_alerts_arrive_by_email_and_by_webhook() {
    const PASSWORD: &str = "smtp-secret-Hn8c";
    let Some(smtp) = SmtpReceiver::start("alerts by email", "tentacle", PASSWORD).await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let hook = WebhookReceiver::start().await.expect("receiver");
    channel(store.as_ref(), &hook).await;
    store
        .save_alert_channel(NewAlertChannel {
            name: "Mail".into(),
            target: ChannelTarget::Email {
                smtp_host: "127.0.0.1".into(),
                smtp_port: smtp.port(),
                starttls: false,
                username: Some("tentacle".into()),
                from: "tentacle@example.com".into(),
                to: vec!["ops@example.com".into()],
            },
            password: Some(SecretString::from(PASSWORD.to_string())),
            integration_ids: None,
            stale_after_hours: 24,
        })
        .await
        .expect("mail channel");

    failing(store.as_ref(), "Sales orders", at(0)).await;
    // Another configuration's run finds an order in conflict.
    let orders = store
        .integration_by_name("Sales orders")
        .await
        .expect("read")
        .expect("exists");
    let stock = store
        .save_integration(NewIntegration {
            name: "Returns".into(),
            kind: "sales_orders".into(),
            origin_credential_id: orders.origin_credential_id,
            destination_credential_id: orders.destination_credential_id,
            settings: json!({}),
        })
        .await
        .expect("integration");
    let queued = store
        .enqueue_run(&RunRequest {
            integration_id: stock.id,
            trigger: Trigger::Manual,
            due_at: at(0),
            exclusion: None,
        })
        .await
        .expect("enqueue");
    store
        .claim_run(&Claim {
            owner: "w".into(),
            now: at(0),
            lease_until: at(30),
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
        .write_held(
            &lease,
            &[HeldWrite::Flag(Attention {
                key: AttentionKey {
                    integration_id: stock.id,
                    record_kind: RecordKind::Order,
                    record_id: "gid://shopify/Order/1".into(),
                },
                record_label: "#1001".into(),
                kind: AttentionKind::Conflict,
                reason: "changed by hand in PULPO".into(),
                attempts: 1,
                run_id: Some(queued.run.id),
                updated_at: at(0),
            })],
        )
        .await
        .expect("flag");
    store
        .finish_run(
            &lease,
            RunStatus::Finished,
            &RunCounters::default(),
            None,
            at(0),
        )
        .await
        .expect("finish");
    // And a day later without a successful run, both are stale.
    let clock = TestClock::at(Utc::now() + TimeDelta::hours(25));
    // One stale incident per configuration and channel (each channel has its own threshold).
    assert_eq!(check_stale(store.as_ref(), &clock).await.expect("stale"), 4);

    let done = deliver_due(store.as_ref(), &clock, "serve", None)
        .await
        .expect("deliver");
    // Per channel: failed and stale (Sales orders), conflicts and stale (Returns, whose run
    // at at(0) finished long before `clock`).
    assert_eq!(done, Delivered { sent: 8, failed: 0 });
    let mut subjects: Vec<String> = smtp.received().into_iter().map(|m| m.subject).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "tentacle: Returns has not run successfully for 24 hours",
            "tentacle: Returns has records in conflict",
            "tentacle: Sales orders FAILED",
            "tentacle: Sales orders has not run successfully for 24 hours",
        ]
    );
    let mut posted: Vec<String> = hook
        .received()
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p["integration"].as_str().unwrap_or_default(),
                p["incident"]
            )
        })
        .collect();
    posted.sort();
    assert_eq!(
        posted,
        [
            "Returns \"conflicts\"",
            "Returns \"stale\"",
            "Sales orders \"failed\"",
            "Sales orders \"stale\""
        ]
    );
}

#[tokio::test]
async fn a_shopify_api_version_ending_in_30_days_is_told_once_and_its_fix_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store(&dir).await;
    let hook = WebhookReceiver::start().await.expect("receiver");
    channel(store.as_ref(), &hook).await;
    // Its Shopify credential names 2026-10, whose support ends on 2027-10-01.
    failing(store.as_ref(), "Sales orders", at(0)).await;
    let clock = TestClock::at(
        DateTime::parse_from_rfc3339("2027-09-01T08:00:00Z")
            .expect("time")
            .with_timezone(&Utc),
    );
    let about_versions = |hook: &WebhookReceiver| -> Vec<serde_json::Value> {
        hook.received()
            .into_iter()
            .filter(|m| m["incident"] == "api_version")
            .collect()
    };
    for _ in 0..3 {
        check_stale(store.as_ref(), &clock).await.expect("check");
        deliver_due(store.as_ref(), &clock, "serve-1", None)
            .await
            .expect("deliver");
        clock.advance(TimeDelta::minutes(1));
    }
    let told = about_versions(&hook);
    assert_eq!(told.len(), 1, "{told:?}");
    let text = told[0]["text"].as_str().expect("text");
    assert!(
        text.contains("2026-10")
            && text.contains("2027-10-01")
            && text.contains("newer API version"),
        "{text}"
    );

    // The operator picks a newer version: one recovered notice.
    store
        .save_credential(NewCredential::shopify(
            "shop",
            "https://shop.example",
            "2027-07",
            SecretString::from("t".to_string()),
        ))
        .await
        .expect("newer version");
    for _ in 0..2 {
        check_stale(store.as_ref(), &clock).await.expect("check");
        deliver_due(store.as_ref(), &clock, "serve-1", None)
            .await
            .expect("deliver");
    }
    let told = about_versions(&hook);
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[1]["event"], "recovered", "{told:?}");
}
