//! Webhook delivery from the Shopify sandbox to a real HTTP receiver: headers, HMAC over the raw
//! body, topics, at-least-once retries, injected duplicates and out-of-order delivery.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tentacle_sandbox::RunningServer;
use tentacle_sandbox::shopify::webhooks::{WebhookConfig, WebhookStats};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

const SECRET: &str = "whsec_sandbox_test";

#[derive(Debug, Clone)]
struct Delivery {
    headers: HashMap<String, String>,
    body: Bytes,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Debug, Default)]
struct Received {
    deliveries: Vec<Delivery>,
    attempts: usize,
    /// Attempts still to answer 500.
    fail_next: usize,
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Received>>);

impl Receiver {
    fn deliveries(&self) -> Vec<Delivery> {
        self.0.lock().unwrap().deliveries.clone()
    }

    fn attempts(&self) -> usize {
        self.0.lock().unwrap().attempts
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut received = receiver.0.lock().unwrap();
    received.attempts += 1;
    if received.fail_next > 0 {
        received.fail_next -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    received.deliveries.push(Delivery { headers, body });
    StatusCode::OK
}

/// A receiver on 127.0.0.1:0 that answers 500 to its first `fail_first` attempts.
async fn start_receiver(fail_first: usize) -> (Receiver, RunningServer) {
    let receiver = Receiver::default();
    receiver.0.lock().unwrap().fail_next = fail_first;
    let router = Router::new()
        .route("/webhooks", axum::routing::post(receive))
        .with_state(receiver.clone());
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap();
    (receiver, server)
}

fn url_of(address: SocketAddr) -> String {
    format!("http://{address}/webhooks")
}

async fn start_shop(webhooks: WebhookConfig) -> ShopifySandbox {
    ShopifySandbox::start(ShopifyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        orders: 0,
        webhooks: Some(WebhookConfig {
            secret: SECRET.into(),
            retry_base_ms: 10,
            ..webhooks
        }),
        ..ShopifyConfig::default()
    })
    .await
    .unwrap()
}

/// Waits until the sandbox has delivered (or given up) everything, and returns its counters.
async fn drained(sandbox: &ShopifySandbox) -> WebhookStats {
    let sender = sandbox.state.webhooks.as_ref().unwrap();
    tokio::time::timeout(Duration::from_secs(20), sender.idle())
        .await
        .expect("the webhook queue drains");
    sender.stats()
}

async fn post(sandbox: &ShopifySandbox, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.shop_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}");
    response.json().await.unwrap()
}

async fn patch(sandbox: &ShopifySandbox, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .patch(format!("{}{path}", sandbox.shop_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}");
    response.json().await.unwrap()
}

fn pending_order(tag: &str) -> Value {
    json!({"tags": tag, "line_items": [{"sku": "GIFT-25", "quantity": 1}]})
}

fn expected_hmac(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn webhooks_carry_shopify_headers_and_a_valid_hmac() {
    let (receiver, server) = start_receiver(0).await;
    let sandbox = start_shop(WebhookConfig::new(url_of(server.address()), "")).await;
    let created = post(
        &sandbox,
        "/sandbox/orders",
        json!({"financial_status": "paid", "tags": "vip",
               "line_items": [{"sku": "GIFT-25", "quantity": 2}]}),
    )
    .await;
    let id = created["id"].as_u64().unwrap();
    let path = format!("/sandbox/orders/{id}");
    patch(&sandbox, &path, json!({"tags": "vip, updated"})).await;
    post(
        &sandbox,
        &format!("{path}/cancel"),
        json!({"reason": "customer"}),
    )
    .await;
    let pending = post(&sandbox, "/sandbox/orders", pending_order("later")).await;
    patch(
        &sandbox,
        &format!("/sandbox/orders/{}", pending["id"]),
        json!({"financial_status": "paid"}),
    )
    .await;
    let stats = drained(&sandbox).await;
    assert_eq!(stats.events, 7);
    assert_eq!(stats.delivered, 7);
    assert_eq!(stats.failed_attempts, 0);

    let deliveries = receiver.deliveries();
    let topics: Vec<&str> = deliveries
        .iter()
        .map(|d| d.header("x-shopify-topic"))
        .collect();
    assert_eq!(
        topics,
        [
            "orders/create",
            "orders/paid",
            "orders/updated",
            "orders/cancelled",
            "orders/create",
            "orders/updated",
            "orders/paid"
        ]
    );
    let mut webhook_ids = HashSet::new();
    let mut event_ids = HashSet::new();
    for delivery in &deliveries {
        assert_eq!(
            delivery.header("x-shopify-hmac-sha256"),
            expected_hmac(SECRET, &delivery.body),
            "HMAC over the raw body"
        );
        assert_ne!(
            delivery.header("x-shopify-hmac-sha256"),
            expected_hmac("another secret", &delivery.body)
        );
        assert_eq!(
            delivery.header("x-shopify-shop-domain"),
            "tentacle-sandbox.myshopify.com"
        );
        assert_eq!(delivery.header("x-shopify-api-version"), "2026-10");
        assert_eq!(delivery.header("content-type"), "application/json");
        assert!(
            chrono::DateTime::parse_from_rfc3339(delivery.header("x-shopify-triggered-at")).is_ok()
        );
        assert!(webhook_ids.insert(delivery.header("x-shopify-webhook-id").to_string()));
        assert!(event_ids.insert(delivery.header("x-shopify-event-id").to_string()));
    }
    let bodies: Vec<Value> = deliveries.iter().map(Delivery::json).collect();
    assert_eq!(bodies[0]["id"], json!(id));
    assert_eq!(
        bodies[0]["admin_graphql_api_id"],
        format!("gid://shopify/Order/{id}")
    );
    assert_eq!(bodies[0]["total_price"], "50.00");
    assert_eq!(bodies[1]["financial_status"], "paid");
    assert_eq!(bodies[2]["tags"], "updated, vip");
    assert!(bodies[3]["cancelled_at"].is_string());
    assert_eq!(bodies[3]["cancel_reason"], "customer");
    assert_eq!(bodies[4]["financial_status"], "pending");
    assert_eq!(bodies[6]["financial_status"], "paid");

    let control: Value = reqwest::get(format!("{}/sandbox/webhooks", sandbox.shop_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(control["stats"]["delivered"], 7);
    server.stop().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_they_arrive() {
    let (receiver, server) = start_receiver(3).await;
    let sandbox = start_shop(WebhookConfig::new(url_of(server.address()), "")).await;
    let first = post(&sandbox, "/sandbox/orders", pending_order("one")).await;
    let second = post(&sandbox, "/sandbox/orders", pending_order("two")).await;
    let stats = drained(&sandbox).await;
    assert_eq!(stats.delivered, 2);
    assert_eq!(stats.failed_attempts, 3);
    assert_eq!(stats.given_up, 0);
    assert_eq!(receiver.attempts(), 5);
    let ids: HashSet<Value> = receiver
        .deliveries()
        .iter()
        .map(|d| d.json()["id"].clone())
        .collect();
    assert_eq!(
        ids,
        HashSet::from([first["id"].clone(), second["id"].clone()])
    );
    server.stop().await;
}

#[tokio::test]
async fn delivery_gives_up_after_max_attempts_without_blocking_the_shop() {
    // A port nobody listens on: every attempt fails to connect.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let sandbox = start_shop(WebhookConfig {
        max_attempts: 3,
        ..WebhookConfig::new(url_of(closed), "")
    })
    .await;
    let started = std::time::Instant::now();
    post(&sandbox, "/sandbox/orders", pending_order("lost")).await;
    post(&sandbox, "/sandbox/orders", pending_order("lost too")).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "creating orders does not wait for deliveries"
    );
    let stats = drained(&sandbox).await;
    assert_eq!(stats.events, 2);
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.failed_attempts, 6);
    assert_eq!(stats.given_up, 2);
    assert_eq!(stats.pending, 0);
}

#[tokio::test]
async fn duplicates_share_the_event_id() {
    let (receiver, server) = start_receiver(0).await;
    let sandbox = start_shop(WebhookConfig {
        duplicate_share: 1.0,
        ..WebhookConfig::new(url_of(server.address()), "")
    })
    .await;
    post(&sandbox, "/sandbox/orders", pending_order("a")).await;
    post(&sandbox, "/sandbox/orders", pending_order("b")).await;
    let stats = drained(&sandbox).await;
    assert_eq!(stats.events, 2);
    assert_eq!(stats.duplicates, 2);
    let deliveries = receiver.deliveries();
    assert_eq!(deliveries.len(), 4);
    let mut by_event: HashMap<String, Vec<&Delivery>> = HashMap::new();
    for delivery in &deliveries {
        by_event
            .entry(delivery.header("x-shopify-event-id").to_string())
            .or_default()
            .push(delivery);
    }
    assert_eq!(by_event.len(), 2);
    for copies in by_event.values() {
        assert_eq!(copies.len(), 2);
        assert_ne!(
            copies[0].header("x-shopify-webhook-id"),
            copies[1].header("x-shopify-webhook-id")
        );
        assert_eq!(copies[0].body, copies[1].body);
        assert_eq!(
            copies[0].header("x-shopify-triggered-at"),
            copies[1].header("x-shopify-triggered-at")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn out_of_order_events_arrive_after_a_later_one() {
    let (receiver, server) = start_receiver(0).await;
    let sandbox = start_shop(WebhookConfig {
        out_of_order_share: 1.0,
        hold_back_ms: 2_000,
        ..WebhookConfig::new(url_of(server.address()), "")
    })
    .await;
    let first = post(&sandbox, "/sandbox/orders", pending_order("first")).await;
    let second = post(&sandbox, "/sandbox/orders", pending_order("second")).await;
    // A held-back event with nothing after it is still delivered, after `hold_back_ms`.
    let third = post(&sandbox, "/sandbox/orders", pending_order("third")).await;
    let stats = drained(&sandbox).await;
    assert_eq!(stats.held_back, 2);
    let arrived: Vec<Value> = receiver
        .deliveries()
        .iter()
        .map(|d| d.json()["id"].clone())
        .collect();
    assert_eq!(
        arrived,
        [
            second["id"].clone(),
            first["id"].clone(),
            third["id"].clone()
        ]
    );
    server.stop().await;
}
