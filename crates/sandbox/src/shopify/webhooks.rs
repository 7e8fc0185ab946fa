//! Delivery of `orders/*` webhooks with Shopify's headers and HMAC, at least once.
//!
//! [`WebhookSender::deliver`] renders the order's REST JSON at once (a retry carries the
//! original payload, as in Shopify) and queues it; a background task posts it. First attempts
//! go out one at a time in queue order; a failed delivery is retried on its own task with
//! exponential backoff, so one dead endpoint does not hold the others back, and later events
//! may overtake it, as in Shopify. On top of that, a share of events is delivered twice (same
//! `X-Shopify-Event-Id`, different `X-Shopify-Webhook-Id`) and a share is held back and sent
//! after the next event.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{mpsc, watch};

use super::model::{Order, Shop};
use super::rest::render_order;
use crate::rng::Rng;

/// The API version webhook payloads are serialised in (`X-Shopify-API-Version`).
pub const API_VERSION: &str = "2026-10";

/// Where and how webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    pub url: String,
    /// The app's client secret: the HMAC key.
    pub secret: String,
    /// Share of events delivered twice, as two deliveries with the same event id.
    pub duplicate_share: f64,
    /// Share of events held back and delivered after the next event.
    pub out_of_order_share: f64,
    /// Attempts per delivery before it is given up (Shopify: 8).
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with each retry, up to 5 s (Shopify spreads
    /// its retries over hours; the sandbox over seconds).
    pub retry_base_ms: u64,
    /// How long a held-back event waits for a later one before it is sent anyway.
    pub hold_back_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: String::new(),
            secret: String::new(),
            duplicate_share: 0.0,
            out_of_order_share: 0.0,
            max_attempts: 8,
            retry_base_ms: 100,
            hold_back_ms: 200,
        }
    }
}

impl WebhookConfig {
    /// Deliveries to `url` signed with `secret`, without injected duplicates or reordering.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            ..WebhookConfig::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    #[serde(rename = "orders/create")]
    OrdersCreate,
    #[serde(rename = "orders/paid")]
    OrdersPaid,
    #[serde(rename = "orders/updated")]
    OrdersUpdated,
    #[serde(rename = "orders/cancelled")]
    OrdersCancelled,
}

impl Topic {
    /// The `X-Shopify-Topic` value, e.g. `orders/create`.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::OrdersCreate => "orders/create",
            Topic::OrdersPaid => "orders/paid",
            Topic::OrdersUpdated => "orders/updated",
            Topic::OrdersCancelled => "orders/cancelled",
        }
    }
}

/// `X-Shopify-Hmac-Sha256`: base64 of the HMAC-SHA256 of the raw body keyed with the secret.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Counters of what the sender did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WebhookStats {
    /// Events accepted by `deliver`.
    pub events: u64,
    /// Deliveries answered 2xx.
    pub delivered: u64,
    /// Attempts that failed (non-2xx or no answer).
    pub failed_attempts: u64,
    /// Deliveries given up after `max_attempts`.
    pub given_up: u64,
    /// Extra deliveries injected by `duplicate_share`.
    pub duplicates: u64,
    /// Events held back by `out_of_order_share`.
    pub held_back: u64,
    /// Events and deliveries not finished yet.
    pub pending: u64,
}

#[derive(Debug, Default)]
struct Counters {
    events: AtomicU64,
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    given_up: AtomicU64,
    duplicates: AtomicU64,
    held_back: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    config: WebhookConfig,
    shop_domain: String,
    client: reqwest::Client,
    counters: Counters,
    /// Events queued or held plus deliveries in flight; `idle` waits for zero.
    pending: watch::Sender<u64>,
    ids: std::sync::Mutex<Rng>,
}

impl Shared {
    fn finish_one(&self) {
        self.pending.send_modify(|n| *n = n.saturating_sub(1));
    }

    /// A UUID-shaped id from the sandbox's generator (deterministic per seed).
    fn uuid(&self) -> String {
        let mut rng = self
            .ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (a, b) = (rng.next_u64(), rng.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

#[derive(Debug, Clone)]
struct Event {
    topic: Topic,
    event_id: String,
    triggered_at: DateTime<Utc>,
    body: Bytes,
}

/// Delivers webhooks on a background task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    queue: mpsc::UnboundedSender<Event>,
    shared: Arc<Shared>,
    /// Variant id → product id, for `line_items[].product_id` of the payload.
    products: Arc<HashMap<u64, u64>>,
}

impl WebhookSender {
    /// Starts the delivery task (needs a tokio runtime). Payloads carry no `product_id` until
    /// [`WebhookSender::with_products_of`] gives the sender the shop's variants.
    pub fn start(config: WebhookConfig, shop_domain: String, seed: u64) -> WebhookSender {
        let (queue, receiver) = mpsc::unbounded_channel();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let root = Rng::new(seed).fork(0x3EB4_0015);
        let shared = Arc::new(Shared {
            config,
            shop_domain,
            client,
            counters: Counters::default(),
            pending: watch::Sender::new(0),
            ids: std::sync::Mutex::new(root.fork(1)),
        });
        tokio::spawn(dispatch(shared.clone(), receiver, root.fork(2)));
        WebhookSender {
            queue,
            shared,
            products: Arc::new(HashMap::new()),
        }
    }

    /// Remembers which product each of `shop`'s variants belongs to (variants never change
    /// while the sandbox runs).
    pub fn with_products_of(mut self, shop: &Shop) -> WebhookSender {
        self.products = Arc::new(shop.variants.iter().map(|v| (v.id, v.product_id)).collect());
        self
    }

    /// Queues `topic` for `order` with the order's REST JSON as it is now. Never blocks.
    pub fn deliver(&self, topic: Topic, order: &Order) {
        let products = &self.products;
        let body = render_order(order, &|variant| products.get(&variant).copied());
        let event = Event {
            topic,
            event_id: self.shared.uuid(),
            triggered_at: Utc::now(),
            body: Bytes::from(body.to_string()),
        };
        self.shared.counters.events.fetch_add(1, Ordering::Relaxed);
        self.shared.pending.send_modify(|n| *n += 1);
        if self.queue.send(event).is_err() {
            // The delivery task is gone (its runtime shut down): nothing will ever send it.
            self.shared.finish_one();
        }
    }

    pub fn stats(&self) -> WebhookStats {
        let c = &self.shared.counters;
        WebhookStats {
            events: c.events.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed_attempts: c.failed_attempts.load(Ordering::Relaxed),
            given_up: c.given_up.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            held_back: c.held_back.load(Ordering::Relaxed),
            pending: *self.shared.pending.borrow(),
        }
    }

    /// Waits until every queued event has been delivered or given up, retries included.
    pub async fn idle(&self) {
        let mut pending = self.shared.pending.subscribe();
        let _ = pending.wait_for(|n| *n == 0).await;
    }
}

/// The delivery task: takes events in order, holds some back, duplicates some, and makes the
/// first attempt of each delivery before taking the next event.
async fn dispatch(shared: Arc<Shared>, mut receiver: mpsc::UnboundedReceiver<Event>, mut rng: Rng) {
    let hold_back = Duration::from_millis(shared.config.hold_back_ms);
    let mut held: Option<Event> = None;
    loop {
        let next = match &held {
            None => receiver.recv().await,
            Some(_) => match tokio::time::timeout(hold_back, receiver.recv()).await {
                Ok(next) => next,
                // Nothing came after the held event: send it anyway.
                Err(_) => {
                    if let Some(event) = held.take() {
                        send_event(&shared, &mut rng, event).await;
                    }
                    continue;
                }
            },
        };
        let Some(event) = next else {
            if let Some(event) = held.take() {
                send_event(&shared, &mut rng, event).await;
            }
            return;
        };
        if held.is_none() && rng.chance(shared.config.out_of_order_share) {
            shared.counters.held_back.fetch_add(1, Ordering::Relaxed);
            held = Some(event);
            continue;
        }
        send_event(&shared, &mut rng, event).await;
        if let Some(event) = held.take() {
            send_event(&shared, &mut rng, event).await;
        }
    }
}

/// One event: one delivery, or two when the dice inject a duplicate.
async fn send_event(shared: &Arc<Shared>, rng: &mut Rng, event: Event) {
    let copies = if rng.chance(shared.config.duplicate_share) {
        shared.counters.duplicates.fetch_add(1, Ordering::Relaxed);
        shared.pending.send_modify(|n| *n += 1);
        2
    } else {
        1
    };
    for _ in 0..copies {
        let webhook_id = shared.uuid();
        if attempt(shared, &event, &webhook_id).await {
            shared.finish_one();
        } else {
            tokio::spawn(retry(shared.clone(), event.clone(), webhook_id));
        }
    }
}

/// Attempts 2..=max of a delivery, with exponential backoff.
async fn retry(shared: Arc<Shared>, event: Event, webhook_id: String) {
    let max_attempts = shared.config.max_attempts.max(1);
    for retry in 1..max_attempts {
        let exponent = (retry - 1).min(16);
        let delay = shared
            .config
            .retry_base_ms
            .saturating_mul(1 << exponent)
            .min(5_000);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if attempt(&shared, &event, &webhook_id).await {
            shared.finish_one();
            return;
        }
    }
    shared.counters.given_up.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        topic = event.topic.as_str(),
        event_id = %event.event_id,
        "Webhook delivery given up."
    );
    shared.finish_one();
}

/// One POST; true when answered 2xx.
async fn attempt(shared: &Shared, event: &Event, webhook_id: &str) -> bool {
    let config = &shared.config;
    let result = shared
        .client
        .post(&config.url)
        .header("Content-Type", "application/json")
        .header("X-Shopify-Topic", event.topic.as_str())
        .header("X-Shopify-Hmac-Sha256", sign(&config.secret, &event.body))
        .header("X-Shopify-Shop-Domain", &shared.shop_domain)
        .header("X-Shopify-API-Version", API_VERSION)
        .header("X-Shopify-Webhook-Id", webhook_id)
        .header("X-Shopify-Event-Id", &event.event_id)
        .header(
            "X-Shopify-Triggered-At",
            event
                .triggered_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        )
        .body(event.body.clone())
        .send()
        .await;
    let delivered = matches!(&result, Ok(response) if response.status().is_success());
    if delivered {
        shared.counters.delivered.fetch_add(1, Ordering::Relaxed);
    } else {
        shared
            .counters
            .failed_attempts
            .fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(response) => {
                tracing::debug!(status = %response.status(), topic = event.topic.as_str(), "Webhook delivery refused.")
            }
            Err(error) => {
                tracing::debug!(%error, topic = event.topic.as_str(), "Webhook delivery failed.")
            }
        }
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_base64_hmac_sha256() {
        // RFC 4231 test case 2.
        let expected = base64::engine::general_purpose::STANDARD.encode(
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43,
            ]
            .as_slice(),
        );
        assert_eq!(sign("Jefe", b"what do ya want for nothing?"), expected);
    }
}
