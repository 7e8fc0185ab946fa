//! The stock reads of the PULPO client against the PULPO sandbox over real HTTP: the active
//! products page by page, availability in batches that fit PULPO's request line, negative and
//! missing availability, and 429s under the sandbox's concurrency cap retried, not failed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_pulpo::{ClientOptions, MAX_REQUEST_LINE, PulpoClient, PulpoCredentials};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};

async fn sandbox() -> PulpoSandbox {
    PulpoSandbox::start(PulpoConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..PulpoConfig::default()
    })
    .await
    .expect("sandbox")
}

fn client(sandbox: &PulpoSandbox, options: ClientOptions) -> PulpoClient {
    PulpoClient::new(
        PulpoCredentials {
            base_url: sandbox.base_url(),
            username: "sandbox_admin".into(),
            password: SecretString::from("sandbox".to_string()),
        },
        options,
    )
    .expect("client")
}

/// A control API call that must succeed; returns its answer.
async fn control(
    sandbox: &PulpoSandbox,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", sandbox.control_url()))
        .json(&body)
        .send()
        .await
        .expect("the control API answers");
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// Makes `count` products `<prefix>000001…` available `quantity` in warehouse 1; returns the
/// first id.
async fn numbered_products(
    sandbox: &PulpoSandbox,
    prefix: &str,
    count: usize,
    quantity: i64,
) -> i64 {
    let made = control(
        sandbox,
        reqwest::Method::POST,
        "/inventory/products",
        json!({"count": count, "sku_prefix": prefix, "warehouse_id": 1, "available_quantity": quantity}),
    )
    .await;
    made["first_id"].as_i64().expect("first_id")
}

#[tokio::test]
async fn products_are_read_page_by_page_without_deleted_or_inactive_ones() {
    let sandbox = sandbox().await;
    let seeded = sandbox.state.store().products.len();
    let first = numbered_products(&sandbox, "PAGE-", 4500, 1).await;
    for (id, state) in [
        (first, json!({"deleted": true})),
        (first + 1, json!({"active": false})),
    ] {
        control(
            &sandbox,
            reqwest::Method::PATCH,
            &format!("/inventory/products/{id}"),
            state,
        )
        .await;
    }
    let client = client(
        &sandbox,
        ClientOptions {
            max_in_flight: Some(3),
            ..ClientOptions::default()
        },
    );

    let page = client.products_page(0, 50).await.expect("a page");
    assert_eq!(page.products.len(), 50);
    assert_eq!(page.total_results, seeded + 4500 - 2);
    let last = client
        .products_page(page.total_results - 7, 50)
        .await
        .expect("the last page");
    assert_eq!(last.products.len(), 7);

    let before = sandbox.stats().requests;
    let products = client.active_products().await.expect("every product");
    assert_eq!(products.len(), seeded + 4500 - 2);
    assert!(
        products.windows(2).all(|w| w[0].id < w[1].id),
        "by id, once each"
    );
    assert!(products.iter().all(|p| p.id != first && p.id != first + 1));
    assert_eq!(
        sandbox.stats().requests - before,
        (seeded + 4498).div_ceil(tentacle_pulpo::PRODUCT_PAGE) as u64,
        "pages of PRODUCT_PAGE"
    );
}

#[tokio::test]
async fn availability_comes_in_batches_that_fit_the_request_line_and_keeps_its_sign() {
    let sandbox = sandbox().await;
    let first = numbered_products(&sandbox, "STOCK-", 6000, 3).await;
    let ids: Vec<i64> = (first..first + 6000).collect();
    control(
        &sandbox,
        reqwest::Method::PUT,
        "/inventory/stocks",
        json!([
            {"product_id": first, "warehouse_id": 1, "available_quantity": -4},
            {"product_id": first + 1, "warehouse_id": 1, "quantity": 0},
            {"product_id": first + 2, "warehouse_id": 2, "quantity": 9},
        ]),
    )
    .await;
    let client = client(&sandbox, ClientOptions::default());

    let before = sandbox.stats().requests;
    let mut availability = client
        .stock_availability(1, &ids)
        .await
        .expect("availability");
    let requests = sandbox.stats().requests - before;
    availability.sort_by_key(|a| a.product_id);
    assert_eq!(availability.len(), 6000);
    assert_eq!(
        availability[..3]
            .iter()
            .map(|a| a.available_quantity)
            .collect::<Vec<_>>(),
        [-4, 0, 3],
        "negative kept; another warehouse's stock not counted"
    );
    // Ids of four digits and a comma each: a request line holds well over a thousand.
    let per_request = MAX_REQUEST_LINE / 5;
    assert!(
        requests >= 6000_u64.div_ceil(per_request as u64),
        "{requests}"
    );
    assert!(
        requests <= 8,
        "batches as large as the line allows: {requests}"
    );

    assert!(
        client
            .stock_availability(1, &[])
            .await
            .expect("nothing")
            .is_empty()
    );
    let unknown = client
        .stock_availability(1, &[999_999_999])
        .await
        .expect("an unknown id");
    assert!(unknown.is_empty(), "PULPO knows nothing of it: {unknown:?}");
}

#[tokio::test]
async fn stock_by_sku_covers_every_active_product_and_survives_the_concurrency_cap() {
    let sandbox = sandbox().await;
    let first = numbered_products(&sandbox, "SKU-", 20_000, 2).await;
    control(
        &sandbox,
        reqwest::Method::PATCH,
        &format!("/inventory/products/{}", first + 5),
        json!({"deleted": true}),
    )
    .await;
    control(
        &sandbox,
        reqwest::Method::PUT,
        "/inventory/stocks",
        json!([{"product_id": first + 6, "warehouse_id": 1, "available_quantity": -1}]),
    )
    .await;
    // Fewer slots than the client sends at once, and slow enough for them to collide.
    control(
        &sandbox,
        reqwest::Method::PUT,
        "/limits",
        json!({"max_concurrency": 2, "latency_ms": 40}),
    )
    .await;
    let client = client(
        &sandbox,
        ClientOptions {
            max_in_flight: Some(6),
            min_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_attempts: 20,
            ..ClientOptions::default()
        },
    );

    let stock = client
        .available_stock_by_sku(1)
        .await
        .expect("stock by SKU");
    let seeded = sandbox.state.store().products.len() - 20_000;
    assert_eq!(
        stock.len(),
        seeded + 20_000 - 1,
        "the deleted product is left out"
    );
    let by_sku = |sku: &str| {
        stock
            .iter()
            .find(|s| s.sku == sku)
            .map(|s| s.available_quantity)
    };
    assert_eq!(by_sku("SKU-000001"), Some(2));
    assert_eq!(by_sku("SKU-000006"), None, "deleted");
    assert_eq!(
        by_sku("SKU-000007"),
        Some(-1),
        "negative, for the caller to clamp"
    );
    let seeded_product = stock
        .iter()
        .find(|s| s.product_id < first)
        .expect("a seeded product");
    assert_eq!(
        seeded_product.available_quantity,
        sandbox.state.stock(seeded_product.product_id, 1)
    );

    let stats = sandbox.stats();
    assert!(stats.rejected > 0, "the cap was hit: {stats:?}");
    assert!(client.stats().retries.load(Ordering::Relaxed) >= stats.rejected);
}
