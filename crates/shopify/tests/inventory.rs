//! The stock calls of the client against the Shopify sandbox over real HTTP: paging inventory
//! levels at a location, open fulfillment orders, `inventorySetQuantities` with
//! compare-and-swap (stale after another app's change), the 2026-07 / 2026-10 difference where
//! an item is not stocked, `inventoryActivate`, and retries through throttling and 5xx.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::faults::FaultSettings;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_shopify::inventory::{
    InventoryLevel, InventorySet, InventorySetErrorCode, InventorySetQuantity,
};
use tentacle_shopify::{ClientOptions, ShopifyClient, ShopifyCredentials, ShopifyError};

const TOKEN: &str = "shpat_inventory";

struct Shop {
    sandbox: ShopifySandbox,
    http: reqwest::Client,
    madrid: String,
    barcelona: String,
}

impl Shop {
    async fn start(config: ShopifyConfig) -> Shop {
        let sandbox = ShopifySandbox::start(ShopifyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            access_token: TOKEN.into(),
            orders: 0,
            ..config
        })
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let locations: Value = http
            .get(format!("{}/sandbox/locations", sandbox.shop_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let gid = |name: &str| {
            let id = locations["locations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"] == name)
                .unwrap()["id"]
                .as_u64()
                .unwrap();
            format!("gid://shopify/Location/{id}")
        };
        let (madrid, barcelona) = (gid(SHARED_WAREHOUSES[0]), gid(SHARED_WAREHOUSES[1]));
        Shop {
            sandbox,
            http,
            madrid,
            barcelona,
        }
    }

    fn client(&self, version: &str) -> ShopifyClient {
        ShopifyClient::new(
            ShopifyCredentials {
                shop_url: self.sandbox.shop_url(),
                access_token: SecretString::from(TOKEN),
                api_version: version.into(),
            },
            ClientOptions {
                min_backoff: Duration::from_millis(5),
                max_backoff: Duration::from_millis(50),
                ..ClientOptions::default()
            },
        )
        .unwrap()
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sandbox.shop_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// A new item with `sku`, stocked in Madrid with `available` units; its GID.
    async fn item(&self, sku: &str, available: i64) -> String {
        let madrid = numeric(&self.madrid);
        let created = self
            .control(
                reqwest::Method::POST,
                "/sandbox/inventory_items",
                json!({"sku": sku, "levels": [{"location_id": madrid, "available": available}]}),
            )
            .await;
        created["inventory_item_admin_graphql_api_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `available` of `item` at `location` as the control API shows it.
    async fn available(&self, item: &str, location: &str) -> Option<i64> {
        let response = self
            .http
            .get(format!(
                "{}/sandbox/inventory_levels/{}/{}",
                self.sandbox.shop_url(),
                numeric(item),
                numeric(location)
            ))
            .send()
            .await
            .unwrap();
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let level: Value = response.json().await.unwrap();
        level["available"].as_i64()
    }
}

fn numeric(gid: &str) -> u64 {
    gid.rsplit('/').next().unwrap().parse().unwrap()
}

fn set_of(quantities: Vec<InventorySetQuantity>) -> InventorySet {
    InventorySet {
        reason: "correction".into(),
        reference_document_uri: Some("gid://tentacle/StockRun/1".into()),
        quantities,
    }
}

fn quantity(item: &str, location: &str, to: i64, from: Option<i64>) -> InventorySetQuantity {
    InventorySetQuantity {
        inventory_item_id: item.into(),
        location_id: location.into(),
        quantity: to,
        change_from_quantity: from,
    }
}

#[tokio::test]
async fn inventory_pages_cover_every_item_with_its_level_at_the_location() {
    let shop = Shop::start(ShopifyConfig::default()).await;
    let stocked = shop.item("INV-1", 4).await;
    let client = shop.client("2026-10");
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = client
            .inventory_page(&shop.madrid, after.as_deref(), 250)
            .await
            .unwrap();
        assert!(page.items.len() <= 250);
        items.extend(page.items);
        if !page.has_next_page {
            break;
        }
        after = page.end_cursor;
    }
    let variants = shop
        .control(reqwest::Method::GET, "/sandbox/variants", Value::Null)
        .await;
    assert_eq!(
        items.len(),
        variants["variants"].as_array().unwrap().len(),
        "every item once"
    );
    let record = items
        .iter()
        .find(|r| r.inventory_item_id == stocked)
        .unwrap();
    assert_eq!(record.sku.as_deref(), Some("INV-1"));
    assert!(record.tracked);
    assert!(
        record
            .variant_id
            .starts_with("gid://shopify/ProductVariant/")
    );
    assert_eq!(record.variant_name, "INV-1 - Default Title");
    assert_eq!(
        record.level,
        Some(InventoryLevel {
            active: true,
            available: 4
        })
    );
    let in_barcelona = client
        .inventory_page(&shop.barcelona, None, 250)
        .await
        .unwrap();
    assert!(
        in_barcelona.items.iter().any(|r| r.level.is_none()),
        "some catalog items are not stocked in Barcelona"
    );
    // A page of 250 requests 2 + 11 × 4 points, far below Shopify's limit of 1000.
    assert!(
        client
            .stats()
            .points
            .load(std::sync::atomic::Ordering::Relaxed)
            < 46 * 10
    );
}

#[tokio::test]
async fn a_stale_read_makes_the_whole_set_fail_with_the_index_of_the_stale_quantity() {
    let shop = Shop::start(ShopifyConfig::default()).await;
    let first = shop.item("INV-2", 5).await;
    let second = shop.item("INV-3", 9).await;
    let client = shop.client("2026-10");
    // Another app sells one unit between our read (9) and our write.
    shop.control(
        reqwest::Method::PUT,
        &format!(
            "/sandbox/inventory_levels/{}/{}",
            numeric(&second),
            numeric(&shop.madrid)
        ),
        json!({"available": 8}),
    )
    .await;
    let set = set_of(vec![
        quantity(&first, &shop.madrid, 6, Some(5)),
        quantity(&second, &shop.madrid, 12, Some(9)),
    ]);
    let outcome = client
        .inventory_set_quantities(&set, "run-1-a")
        .await
        .unwrap();
    assert!(!outcome.applied());
    assert_eq!(outcome.user_errors.len(), 1, "{outcome:?}");
    let error = &outcome.user_errors[0];
    assert_eq!(error.code, InventorySetErrorCode::ChangeFromQuantityStale);
    assert_eq!(error.quantity_index, Some(1));
    assert_eq!(
        error.field,
        vec!["input", "quantities", "1", "changeFromQuantity"]
    );
    assert_eq!(
        shop.available(&first, &shop.madrid).await,
        Some(5),
        "all or nothing"
    );

    // The same key again answers the same, without applying anything.
    let again = client
        .inventory_set_quantities(&set, "run-1-a")
        .await
        .unwrap();
    assert_eq!(again, outcome);

    let fresh = set_of(vec![
        quantity(&first, &shop.madrid, 6, Some(5)),
        quantity(&second, &shop.madrid, 12, Some(8)),
    ]);
    let outcome = client
        .inventory_set_quantities(&fresh, "run-1-b")
        .await
        .unwrap();
    assert!(outcome.applied(), "{outcome:?}");
    assert!(
        outcome
            .adjustment_group_id
            .as_deref()
            .is_some_and(|id| id.starts_with("gid://shopify/InventoryAdjustmentGroup/"))
    );
    assert_eq!(shop.available(&second, &shop.madrid).await, Some(12));

    let mismatch = client
        .inventory_set_quantities(&set, "run-1-b")
        .await
        .unwrap();
    assert_eq!(
        mismatch.user_errors[0].code,
        InventorySetErrorCode::IdempotencyKeyParameterMismatch
    );
    assert_eq!(mismatch.user_errors[0].quantity_index, None);

    let too_many = set_of(
        (0..251)
            .map(|_| quantity(&first, &shop.madrid, 1, None))
            .collect(),
    );
    assert!(matches!(
        client.inventory_set_quantities(&too_many, "run-1-c").await,
        Err(ShopifyError::BadRequest(_))
    ));
    let none = client
        .inventory_set_quantities(&set_of(Vec::new()), "run-1-d")
        .await
        .unwrap();
    assert!(none.user_errors.is_empty());
}

#[tokio::test]
async fn a_set_where_the_item_is_not_stocked_is_refused_in_2026_07_and_leaves_an_inactive_level_in_2026_10()
 {
    let shop = Shop::start(ShopifyConfig::default()).await;
    let item = shop.item("INV-4", 2).await;
    let set = set_of(vec![quantity(&item, &shop.barcelona, 3, Some(0))]);

    let july = shop.client("2026-07");
    let refused = july.inventory_set_quantities(&set, "july").await.unwrap();
    assert_eq!(
        refused.user_errors[0].code,
        InventorySetErrorCode::ItemNotStockedAtLocation
    );
    assert_eq!(refused.user_errors[0].quantity_index, Some(0));
    assert_eq!(shop.available(&item, &shop.barcelona).await, None);

    let october = shop.client("2026-10");
    let set_anyway = october
        .inventory_set_quantities(&set, "october")
        .await
        .unwrap();
    assert!(set_anyway.applied(), "{set_anyway:?}");
    let page = october
        .inventory_page(&shop.barcelona, None, 250)
        .await
        .unwrap();
    let mut after = page.end_cursor.clone();
    let mut records = page.items;
    let mut more = page.has_next_page;
    while more {
        let page = october
            .inventory_page(&shop.barcelona, after.as_deref(), 250)
            .await
            .unwrap();
        records.extend(page.items);
        more = page.has_next_page;
        after = page.end_cursor;
    }
    let record = records
        .iter()
        .find(|r| r.inventory_item_id == item)
        .unwrap();
    assert_eq!(
        record.level,
        Some(InventoryLevel {
            active: false,
            available: 3
        })
    );

    // Activating with a quantity is refused for an active level, allowed for the inactive one.
    let refused = october
        .inventory_activate(&item, &shop.madrid, Some(1), "activate-madrid")
        .await
        .unwrap();
    assert_eq!(refused.user_errors[0].field, vec!["available"]);
    let activated = october
        .inventory_activate(&item, &shop.barcelona, Some(7), "activate-barcelona")
        .await
        .unwrap();
    assert!(activated.user_errors.is_empty(), "{activated:?}");
    assert_eq!(
        activated.level,
        Some(InventoryLevel {
            active: true,
            available: 7
        })
    );
    let unknown = october
        .inventory_activate(
            "gid://shopify/InventoryItem/1",
            &shop.barcelona,
            None,
            "activate-unknown",
        )
        .await
        .unwrap();
    assert_eq!(unknown.level, None);
    assert_eq!(unknown.user_errors[0].field, vec!["inventoryItemId"]);
}

#[tokio::test]
async fn open_fulfillment_orders_are_those_at_the_location_not_closed() {
    let shop = Shop::start(ShopifyConfig::default()).await;
    let item = shop.item("INV-5", 10).await;
    let madrid = numeric(&shop.madrid);
    let order = |quantity: i64| {
        shop.control(
            reqwest::Method::POST,
            "/sandbox/orders",
            json!({"financial_status": "paid", "location_id": madrid,
                   "line_items": [{"sku": "INV-5", "quantity": quantity, "price": "1.00"}]}),
        )
    };
    order(3).await;
    let cancelled = order(2).await;
    shop.control(
        reqwest::Method::POST,
        &format!("/sandbox/orders/{}/cancel", cancelled["id"]),
        json!({}),
    )
    .await;
    let client = shop.client("2026-10");
    let page = client
        .open_fulfillment_orders_page(&shop.madrid, None, 50)
        .await
        .unwrap();
    assert!(!page.has_next_page);
    assert_eq!(page.fulfillment_orders.len(), 1, "{page:?}");
    let fo = &page.fulfillment_orders[0];
    assert!(fo.id.starts_with("gid://shopify/FulfillmentOrder/"));
    assert!(!fo.more_lines);
    assert_eq!(fo.lines.len(), 1);
    assert_eq!(fo.lines[0].sku.as_deref(), Some("INV-5"));
    assert_eq!(
        fo.lines[0].inventory_item_id.as_deref(),
        Some(item.as_str())
    );
    assert_eq!(fo.lines[0].remaining_quantity, 3);
    assert_eq!(shop.available(&item, &shop.madrid).await, Some(7));
    let elsewhere = client
        .open_fulfillment_orders_page(&shop.barcelona, None, 50)
        .await
        .unwrap();
    assert!(elsewhere.fulfillment_orders.is_empty());
    assert!(matches!(
        client
            .open_fulfillment_orders_page("Madrid", None, 50)
            .await,
        Err(ShopifyError::BadRequest(_))
    ));
}

#[tokio::test]
async fn throttling_and_server_errors_are_waited_out_for_stock_calls_too() {
    // A bucket of 60 points restoring 30 a second: a 46-point inventory page fits once, then
    // the next ones are throttled or paced. A fifth of the requests fail with a 5xx, another
    // fifth lose their answer after Shopify handled them: the retried set reuses its
    // idempotency key, so it is applied once (a second application would be stale).
    let shop = Shop::start(ShopifyConfig {
        bucket: 60.0,
        restore_rate: 30.0,
        faults: FaultSettings {
            error_share: 0.2,
            drop_after_share: 0.2,
            ..FaultSettings::default()
        },
        ..ShopifyConfig::default()
    })
    .await;
    let item = shop.item("INV-6", 1).await;
    let client = shop.client("2026-10");
    for _ in 0..3 {
        client
            .inventory_page(&shop.madrid, None, 250)
            .await
            .unwrap();
    }
    let outcome = client
        .inventory_set_quantities(
            &set_of(vec![quantity(&item, &shop.madrid, 2, Some(1))]),
            "retried",
        )
        .await
        .unwrap();
    assert!(outcome.applied(), "{outcome:?}");
    assert_eq!(shop.available(&item, &shop.madrid).await, Some(2));
    let stats = client.stats();
    assert!(
        stats.retries.load(std::sync::atomic::Ordering::Relaxed) > 0
            || stats.throttled.load(std::sync::atomic::Ordering::Relaxed) > 0
    );
}
