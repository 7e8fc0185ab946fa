//! PULPO sandbox: concurrency cap, latencies and their accounting, and fault injection.

mod pulpo_support;

use std::time::{Duration, Instant};

use pulpo_support::{Harness, order_body};
use reqwest::StatusCode;
use serde_json::json;
use tentacle_sandbox::pulpo::PulpoStatsSnapshot;

async fn stats(harness: &Harness) -> PulpoStatsSnapshot {
    let (status, body) = harness.control_get("/stats").await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_value(body).expect("a stats snapshot")
}

#[tokio::test]
async fn requests_beyond_the_concurrency_cap_get_429() {
    let harness = Harness::start().await;
    // Each served request sleeps long enough for all six to be in flight together.
    let (status, limits) = harness
        .control_put(
            "/limits",
            &json!({"max_concurrency": 2, "latency_ms": 1500}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(limits["max_concurrency"], 2);
    let before = stats(&harness).await;

    let answers = futures_util::future::join_all((0..6).map(|_| harness.get("/warehouses/"))).await;
    let served = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!((served, refused.len()), (2, 4), "{answers:?}");
    assert_eq!(
        refused[0].1,
        json!({"errors": {"message": "too many requests"}})
    );

    let after = stats(&harness).await;
    assert_eq!(after.requests - before.requests, 6);
    assert_eq!(after.rejected - before.rejected, 4);
    assert_eq!(after.latency_ms - before.latency_ms, 2 * 1500);
    assert_eq!(after.max_concurrency, Some(2));

    // The control API is never limited, and the cap can be lifted.
    harness
        .control_put(
            "/limits",
            &json!({"max_concurrency": null, "latency_ms": 0}),
        )
        .await;
    let answers = futures_util::future::join_all((0..6).map(|_| harness.get("/warehouses/"))).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK));
}

#[tokio::test]
async fn latency_and_item_latency_are_applied_and_counted() {
    let harness = Harness::start_with(tentacle_sandbox::pulpo::PulpoConfig {
        latency_ms: 20,
        item_latency_ms: 15,
        max_concurrency: Some(2),
        ..pulpo_support::config()
    })
    .await;
    let product = harness.product_ids(1)[0];
    let before = harness.sandbox.stats();
    assert_eq!(before.requests, 1, "the harness's login");
    assert_eq!(before.latency_ms, 20);

    let started = Instant::now();
    let (status, _) = harness
        .post(
            "/sales/bulk/orders",
            &json!([
                order_body("L1", product, 1),
                order_body("L2", product, 1),
                order_body("L3", product, 1),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(started.elapsed() >= Duration::from_millis(20 + 3 * 15));
    assert_eq!(harness.get("/warehouses/").await.0, StatusCode::OK);

    let after = harness.sandbox.stats();
    assert_eq!(after, stats(&harness).await, "HTTP and Rust views agree");
    assert_eq!(after.requests, 3);
    assert_eq!(after.rejected, 0);
    assert_eq!(after.latency_ms, 3 * 20);
    assert_eq!(after.item_latency_ms, 3 * 15);
    assert_eq!(after.service_time_ms, 3 * 20 + 3 * 15);
    assert_eq!(after.bound(), Some(Duration::from_micros(105_000 / 2)));
}

#[tokio::test]
async fn shared_faults_apply_to_the_api_but_not_to_the_control_api() {
    let harness = Harness::start().await;
    let (status, settings) = harness
        .control_put("/faults", &json!({"error_share": 1.0}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["error_share"], 1.0);
    let response = harness
        .http
        .get(harness.url("/warehouses/"))
        .bearer_auth(&harness.token)
        .send()
        .await
        .expect("an answer");
    assert!(response.status().is_server_error(), "{}", response.status());
    assert_eq!(harness.control_get("/faults").await.0, StatusCode::OK);
    assert_eq!(harness.control_get("/stats").await.0, StatusCode::OK);

    let (status, _) = harness
        .control_put("/faults", &json!({"error_share": 2.0}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    harness.control_put("/faults", &json!({})).await;
    assert_eq!(harness.get("/warehouses/").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_cap_and_latency_govern_products_and_availability_too() {
    let harness = Harness::start().await;
    harness
        .control_put("/limits", &json!({"max_concurrency": 1, "latency_ms": 400}))
        .await;
    let product = harness.product_ids(1)[0];
    let before = stats(&harness).await;
    let started = Instant::now();
    let availability = format!("/inventory/stocks/availability?warehouse_id=1&id={product}");
    let (products, stock) = tokio::join!(
        harness.get("/inventory/products?active=true&limit=2000&offset=0"),
        harness.get(&availability),
    );
    let mut statuses = [products.0, stock.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let after = stats(&harness).await;
    assert_eq!(after.rejected - before.rejected, 1);
    assert_eq!(after.latency_ms - before.latency_ms, 400);
}
