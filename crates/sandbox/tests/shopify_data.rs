//! The Shopify sandbox's data: the generator, JSONL seeding, the REST shape and the search
//! syntax with its lagging index, through the control API over real HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{Value, json};
use tentacle_sandbox::StartError;
use tentacle_sandbox::catalog::{CATALOG_SIZE, SHARED_WAREHOUSES, SHOP_ONLY_LOCATION};
use tentacle_sandbox::shopify::generator::{
    self, generate_shop, generate_shop_at, shop_without_orders,
};
use tentacle_sandbox::shopify::model::{
    FinancialStatus, FulfillmentOrderStatus, FulfillmentStatus, Order, Shop,
};
use tentacle_sandbox::shopify::rest::{order_from_rest, order_to_rest};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

async fn start(config: ShopifyConfig) -> ShopifySandbox {
    ShopifySandbox::start(ShopifyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config
    })
    .await
    .unwrap()
}

async fn empty_shop() -> ShopifySandbox {
    start(ShopifyConfig {
        orders: 0,
        ..ShopifyConfig::default()
    })
    .await
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The REST JSON without anything that moves with the clock.
fn without_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !key.ends_with("_at"));
            map.values_mut().for_each(without_timestamps);
        }
        Value::Array(items) => items.iter_mut().for_each(without_timestamps),
        _ => {}
    }
}

fn rest_of(shop: &Shop) -> Vec<Value> {
    shop.orders
        .values()
        .map(|o| order_to_rest(o, shop))
        .collect()
}

#[test]
fn same_seed_same_shop() {
    let now = instant("2026-11-20T10:00:00Z");
    let a = generate_shop_at(11, 150, now);
    let b = generate_shop_at(11, 150, now);
    assert_eq!(
        a.orders, b.orders,
        "same seed and clock give identical orders"
    );
    assert_eq!(a.variants, b.variants);
    assert_eq!(a.locations, b.locations);

    // Against the real clock only timestamps may differ.
    let mut earlier = rest_of(&generate_shop(11, 150));
    let mut later = rest_of(&generate_shop_at(11, 150, Utc::now() + TimeDelta::hours(5)));
    earlier.iter_mut().for_each(without_timestamps);
    later.iter_mut().for_each(without_timestamps);
    assert_eq!(earlier, later);

    let mut other = rest_of(&generate_shop_at(12, 150, now));
    other.iter_mut().for_each(without_timestamps);
    assert_ne!(earlier, other, "another seed gives another shop");
}

#[test]
fn generated_shop_has_shared_locations_and_one_variant_per_product() {
    let shop = generate_shop_at(5, 0, Utc::now());
    assert_eq!(shop.domain, "tentacle-sandbox.myshopify.com");
    assert_eq!(shop.currency, "EUR");
    let names: Vec<&str> = shop.locations.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            SHARED_WAREHOUSES[0],
            SHARED_WAREHOUSES[1],
            SHOP_ONLY_LOCATION
        ]
    );
    assert_eq!(
        shop.primary_location().map(|l| l.name.as_str()),
        Some(SHARED_WAREHOUSES[0])
    );
    assert_eq!(shop.variants.len(), CATALOG_SIZE);
    let skus: HashSet<_> = shop.variants.iter().map(|v| v.sku.clone()).collect();
    assert_eq!(skus.len(), CATALOG_SIZE);
    assert!(shop.variants.iter().all(|v| v.id > u64::from(u32::MAX)));
    let gift = shop.variants.iter().find(|v| v.is_gift_card).unwrap();
    assert!(!gift.requires_shipping && !gift.tracked);
    for variant in shop.variants.iter().filter(|v| v.tracked) {
        let primary = shop.locations[0].id;
        let level = shop.inventory[&(variant.inventory_item_id, primary)];
        // On hand is the catalog's stock; open orders commit part of it (available may go
        // below 0 when they need more than is there).
        assert!(level.on_hand >= 0 && level.on_hand >= level.available);
    }
    let unstocked_in_barcelona = shop
        .variants
        .iter()
        .filter(|v| v.tracked)
        .filter(|v| {
            !shop
                .inventory
                .contains_key(&(v.inventory_item_id, shop.locations[1].id))
        })
        .count();
    assert!(
        unstocked_in_barcelona > 0,
        "some items are not stocked at a PULPO warehouse location"
    );
}

/// Units fulfilled plus units left to fulfil per line, checked against the line itself.
fn assert_consistent(order: &Order, now: DateTime<Utc>) {
    let name = &order.name;
    assert!(
        order.created_at <= order.updated_at,
        "{name}: updated ≥ created"
    );
    assert!(
        order.updated_at < now && order.processed_at < now,
        "{name}: in the past"
    );
    assert!(
        order.created_at > now - TimeDelta::days(11),
        "{name}: within the last days"
    );
    for fo in &order.fulfillment_orders {
        for line in &fo.line_items {
            assert!(
                (0..=line.total_quantity).contains(&line.remaining_quantity),
                "{name}: FO remaining within total"
            );
        }
    }
    for line in &order.line_items {
        let fo_total: i64 = order
            .fulfillment_orders
            .iter()
            .flat_map(|fo| &fo.line_items)
            .filter(|l| l.line_item_id == line.id)
            .map(|l| l.total_quantity)
            .sum();
        let remaining: i64 = order
            .fulfillment_orders
            .iter()
            .flat_map(|fo| &fo.line_items)
            .filter(|l| l.line_item_id == line.id)
            .map(|l| l.remaining_quantity)
            .sum();
        assert!(line.current_quantity <= line.quantity, "{name}");
        if line.requires_shipping {
            assert_eq!(
                fo_total, line.current_quantity,
                "{name}: FO lines cover the line"
            );
            assert_eq!(
                order.fulfilled_quantity(line.id) + remaining,
                line.current_quantity,
                "{name}: fulfilled + remaining = ordered"
            );
        } else {
            assert_eq!(fo_total, 0, "{name}: no FO line for what needs no shipping");
        }
    }
    match order.fulfillment_status {
        FulfillmentStatus::Fulfilled | FulfillmentStatus::PartiallyFulfilled => {
            assert!(!order.fulfillments.is_empty(), "{name}: has fulfillments")
        }
        _ => assert!(order.fulfillments.is_empty(), "{name}: nothing shipped"),
    }
    if order.cancelled_at.is_some() {
        assert!(order.cancelled_at <= Some(order.updated_at));
        assert!(
            order
                .fulfillment_orders
                .iter()
                .all(|fo| fo.status == FulfillmentOrderStatus::Closed)
        );
    }
}

#[test]
fn generated_orders_cover_every_status_and_stay_consistent() {
    let now = Utc::now();
    let shop = generate_shop_at(1, 500, now);
    let orders: Vec<&Order> = shop.orders.values().collect();
    assert_eq!(orders.len(), 500);
    for (i, order) in orders.iter().enumerate() {
        assert_eq!(order.name, format!("#{}", 1001 + i));
        assert!(order.id > u64::from(u32::MAX));
        assert!((1..=10).contains(&order.line_items.len()));
        assert_consistent(order, now);
    }
    for status in FinancialStatus::ALL {
        assert!(
            orders.iter().any(|o| o.financial_status == Some(status)),
            "{status:?} appears"
        );
    }
    for status in FulfillmentStatus::ALL {
        assert!(
            orders.iter().any(|o| o.fulfillment_status == status),
            "{status:?} appears"
        );
    }
    let location = |name: &str| shop.locations.iter().find(|l| l.name == name).unwrap().id;
    let (madrid, barcelona, valencia) = (
        location(SHARED_WAREHOUSES[0]),
        location(SHARED_WAREHOUSES[1]),
        location(SHOP_ONLY_LOCATION),
    );
    let at = |o: &Order, l: u64| o.fulfillment_orders.iter().any(|fo| fo.location_id == l);
    let count = |f: &dyn Fn(&Order) -> bool| orders.iter().filter(|o| f(o)).count();
    assert!(
        count(&|o| o.cancelled_at.is_some()) >= 10,
        "cancelled orders"
    );
    assert!(
        count(&|o| o.customer.is_none()) >= 10,
        "orders without customer"
    );
    assert!(count(&|o| o.line_items.iter().any(|l| l.is_gift_card)) >= 10);
    assert!(
        count(&|o| o
            .line_items
            .iter()
            .any(|l| !l.requires_shipping && !l.is_gift_card))
            >= 5,
        "other lines without shipping"
    );
    assert!(
        count(&|o| at(o, madrid) && at(o, barcelona)) >= 10,
        "split over both PULPO warehouses"
    );
    assert!(
        count(&|o| at(o, valencia)) >= 10,
        "at the shop-only location"
    );
    assert!(count(&|o| o.closed_at.is_some()) >= 10, "closed orders");
    assert!(count(&|o| !o.tags.is_empty()) >= 100, "tagged orders");
    assert!(count(&|o| o.test) >= 1, "test orders");
    let importable = count(&|o| {
        o.cancelled_at.is_none()
            && o.financial_status == Some(FinancialStatus::Paid)
            && o.fulfillment_status == FulfillmentStatus::Unfulfilled
            && (at(o, madrid) || at(o, barcelona))
    });
    assert!(importable > 250, "most orders are importable: {importable}");
    let unicode = count(&|o| {
        o.shipping_address
            .as_ref()
            .and_then(|a| a.name())
            .is_some_and(|n| n.chars().any(|c| "áéíóúñçãõüöäßÁÍ".contains(c)))
    });
    assert!(unicode > 100, "accented names: {unicode}");
    assert!(orders.iter().any(|o| {
        o.shipping_address
            .as_ref()
            .and_then(|a| a.address1.as_deref())
            .is_some_and(|a| a.contains('ß'))
    }));
}

/// Orders whose state the REST shape can say in full: fulfillment orders at one location and a
/// status REST has a value for.
fn expressible_in_rest(order: &Order) -> bool {
    let locations: BTreeSet<u64> = order
        .fulfillment_orders
        .iter()
        .map(|fo| fo.location_id)
        .collect();
    locations.len() <= 1
        && matches!(
            order.fulfillment_status,
            FulfillmentStatus::Unfulfilled
                | FulfillmentStatus::Fulfilled
                | FulfillmentStatus::PartiallyFulfilled
                | FulfillmentStatus::FulfillmentNotRequired
        )
}

#[test]
fn rest_round_trip_keeps_lines_addresses_tags_and_statuses() {
    let shop = generate_shop_at(2, 300, Utc::now());
    let mut fresh = shop_without_orders(2);
    let mut checked = 0;
    for order in shop.orders.values().filter(|o| expressible_in_rest(o)) {
        let rest = order_to_rest(order, &shop);
        let back = order_from_rest(&rest, &mut fresh)
            .unwrap_or_else(|e| panic!("{} reads back: {e}\n{rest:#}", order.name));
        assert_eq!(order_to_rest(&back, &fresh), rest, "{}", order.name);
        assert_eq!(back.line_items, order.line_items);
        assert_eq!(back.shipping_address, order.shipping_address);
        assert_eq!(back.tags, order.tags);
        assert_eq!(back.financial_status, order.financial_status);
        assert_eq!(back.fulfillment_status, order.fulfillment_status);
        assert_eq!(back.cancelled_at, order.cancelled_at);
        checked += 1;
    }
    assert!(checked > 200, "checked {checked}");
}

#[test]
fn rest_shape_follows_shopify_formats() {
    let shop = generate_shop_at(4, 60, Utc::now());
    let order = shop
        .orders
        .values()
        .find(|o| o.tags.len() >= 2 && o.customer.is_some())
        .unwrap();
    let rest = order_to_rest(order, &shop);
    assert_eq!(rest["id"], json!(order.id));
    assert_eq!(
        rest["admin_graphql_api_id"],
        format!("gid://shopify/Order/{}", order.id)
    );
    assert_eq!(rest["order_number"], json!(order.number));
    assert_eq!(rest["number"], json!(order.number - 1000));
    assert!(rest["tags"].as_str().unwrap().contains(", "));
    let price = rest["total_price"].as_str().unwrap();
    assert_eq!(price.split('.').nth(1).map(str::len), Some(2), "{price}");
    let created = rest["created_at"].as_str().unwrap();
    assert!(created.ends_with("+01:00"), "{created}");
    assert_eq!(instant(created), order.created_at);
    assert_eq!(
        rest["financial_status"],
        json!(order.financial_status.map(|s| s.rest()))
    );
    let line = &rest["line_items"][0];
    for key in [
        "id",
        "sku",
        "quantity",
        "requires_shipping",
        "gift_card",
        "price",
        "variant_id",
        "product_id",
        "fulfillable_quantity",
    ] {
        assert!(!line[key].is_null(), "line_items[0].{key}");
    }
    assert!(rest["customer"]["id"].is_u64());
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tentacle-shopdata-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Orders in the `orders/create` webhook shape (§8.5), one of them at the second warehouse,
/// one with a gift card, one cancelled, one partially shipped.
fn fixture_orders(shop: &Shop) -> Vec<Value> {
    let barcelona = shop.locations[1].id;
    let physical: Vec<&str> = shop
        .variants
        .iter()
        .filter(|v| v.requires_shipping)
        .filter_map(|v| v.sku.as_deref())
        .take(3)
        .collect();
    let address = json!({
        "first_name": "Íñigo", "last_name": "Muñoz Peña", "name": "Íñigo Muñoz Peña",
        "company": null, "address1": "Calle de la Cigüeña, 7", "address2": "3º izq.",
        "city": "A Coruña", "province": "A Coruña", "province_code": "C", "zip": "15001",
        "country": "Spain", "country_code": "ES", "phone": "+34 612 345 678",
        "latitude": null, "longitude": null
    });
    vec![
        json!({
            "id": 820982911946154508u64,
            "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
            "name": "#9001", "order_number": 9001, "email": "inigo@example.com",
            "created_at": "2026-11-18T09:10:11+01:00", "updated_at": "2026-11-18T09:12:00+01:00",
            "processed_at": "2026-11-18T09:10:11+01:00", "cancelled_at": null, "cancel_reason": null,
            "financial_status": "paid", "fulfillment_status": null, "currency": "EUR",
            "tags": "vip, Black Friday", "note": "Llamar antes", "test": false,
            "total_price": "54.85", "location_id": null,
            "customer": {"id": 115310627314723954u64, "email": "inigo@example.com",
                         "first_name": "Íñigo", "last_name": "Muñoz Peña", "state": "enabled"},
            "billing_address": address, "shipping_address": address,
            "shipping_lines": [{"id": 271878346596884015u64, "title": "Envío estándar",
                                "code": "standard", "price": "4.95", "source": "shopify"}],
            "line_items": [
                {"id": 866550311766439020u64, "sku": physical[0], "quantity": 2,
                 "requires_shipping": true, "gift_card": false, "price": "12.50",
                 "name": "Camiseta - Negro / M", "title": "Camiseta"},
                {"id": 141249953214522974u64, "sku": physical[1], "quantity": 1}
            ]
        }),
        json!({
            "id": 5_100_000_000_002u64, "name": "#9002", "email": "joao@example.org",
            "created_at": "2026-11-18T10:00:00+01:00", "financial_status": "paid",
            "fulfillment_status": null, "tags": "", "location_id": barcelona,
            "shipping_address": {"first_name": "João", "last_name": "Gonçalves",
                                 "address1": "Rua Augusta, 87", "city": "Lisboa", "zip": "1100-048",
                                 "country": "Portugal", "country_code": "PT"},
            "line_items": [
                {"id": 5_100_000_000_003u64, "sku": physical[2], "quantity": 3},
                {"id": 5_100_000_000_004u64, "sku": "GIFT-25", "quantity": 1, "gift_card": true,
                 "requires_shipping": false}
            ]
        }),
        json!({
            "id": 5_100_000_000_010u64, "name": "#9003",
            "created_at": "2026-11-18T11:00:00+01:00", "financial_status": "voided",
            "cancelled_at": "2026-11-18T12:00:00+01:00", "cancel_reason": "customer",
            "closed_at": "2026-11-18T12:00:00+01:00", "tags": "reenvío",
            "line_items": [{"id": 5_100_000_000_011u64, "sku": physical[0], "quantity": 1}]
        }),
        json!({
            "id": 5_100_000_000_020u64, "name": "#9004",
            "created_at": "2026-11-18T11:30:00+01:00", "financial_status": "paid",
            "fulfillment_status": "partial",
            "line_items": [{"id": 5_100_000_000_021u64, "sku": physical[1], "quantity": 4}],
            "fulfillments": [{"id": 5_100_000_000_022u64, "tracking_company": "SEUR",
                              "tracking_number": "SE123", "line_items": [
                                  {"id": 5_100_000_000_021u64, "quantity": 1}]}]
        }),
    ]
}

async fn get_json(client: &reqwest::Client, url: String) -> Value {
    let response = client.get(&url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn jsonl_file_seeds_the_shop_and_reads_back() {
    let seed = 21;
    let fixtures = fixture_orders(&shop_without_orders(seed));
    let text = fixtures
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n\n");
    let path = temp_file("seed.jsonl", &text);
    let sandbox = start(ShopifyConfig {
        seed,
        orders_file: Some(path.clone()),
        ..ShopifyConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let base = sandbox.shop_url();
    let listed = get_json(&client, format!("{base}/sandbox/orders")).await;
    assert_eq!(listed["orders"].as_array().unwrap().len(), 4);

    for fixture in &fixtures {
        let id = fixture["id"].as_u64().unwrap();
        let order = get_json(&client, format!("{base}/sandbox/orders/{id}")).await["order"].clone();
        assert_eq!(order["name"], fixture["name"]);
        let lines = order["line_items"].as_array().unwrap();
        let wanted = fixture["line_items"].as_array().unwrap();
        assert_eq!(lines.len(), wanted.len());
        for (line, want) in lines.iter().zip(wanted) {
            assert_eq!(line["id"], want["id"]);
            assert_eq!(line["sku"], want["sku"]);
            assert_eq!(line["quantity"], want["quantity"]);
        }
        let tags = |v: &Value| -> BTreeSet<String> {
            v.as_str()
                .unwrap_or_default()
                .split(", ")
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        };
        assert_eq!(tags(&order["tags"]), tags(&fixture["tags"]), "tags, sorted");
        for key in ["financial_status", "cancel_reason", "email"] {
            if !fixture[key].is_null() {
                assert_eq!(order[key], fixture[key], "{key} of {}", fixture["name"]);
            }
        }
        if let Some(address) = fixture["shipping_address"].as_object() {
            for (key, value) in address {
                if !value.is_null() && key != "name" {
                    assert_eq!(
                        &order["shipping_address"][key], value,
                        "shipping_address.{key}"
                    );
                }
            }
        }
    }

    let first = get_json(&client, format!("{base}/sandbox/orders/820982911946154508")).await;
    let first = &first["order"];
    assert_eq!(first["tags"], "Black Friday, vip");
    assert_eq!(first["customer"]["id"], json!(115310627314723954u64));
    assert_eq!(first["created_at"], "2026-11-18T09:10:11+01:00");
    assert_eq!(first["line_items"][0]["price"], "12.50");
    assert_eq!(
        first["fulfillment_orders"][0]["assigned_location"]["name"],
        SHARED_WAREHOUSES[0]
    );

    let second = get_json(&client, format!("{base}/sandbox/orders/5100000000002")).await;
    let fos = second["order"]["fulfillment_orders"].as_array().unwrap();
    assert_eq!(fos.len(), 1);
    assert_eq!(fos[0]["assigned_location"]["name"], SHARED_WAREHOUSES[1]);
    let fo_lines = fos[0]["line_items"].as_array().unwrap();
    assert_eq!(
        fo_lines.len(),
        1,
        "the gift card gets no fulfillment order line"
    );
    assert_eq!(fo_lines[0]["line_item_id"], json!(5_100_000_000_003u64));
    assert_eq!(second["order"]["line_items"][1]["gift_card"], true);

    let cancelled = get_json(&client, format!("{base}/sandbox/orders/5100000000010")).await;
    assert_eq!(
        cancelled["order"]["cancelled_at"],
        "2026-11-18T12:00:00+01:00"
    );
    assert_eq!(
        cancelled["order"]["fulfillment_orders"][0]["status"],
        "closed"
    );

    let partial = get_json(&client, format!("{base}/sandbox/orders/5100000000020")).await;
    let partial = &partial["order"];
    assert_eq!(partial["fulfillment_status"], "partial");
    assert_eq!(partial["fulfillments"][0]["tracking_company"], "SEUR");
    assert_eq!(partial["line_items"][0]["fulfillable_quantity"], 3);
    assert_eq!(
        partial["fulfillment_orders"][0]["line_items"][0]["fulfillable_quantity"],
        3
    );

    // New orders continue after the file's numbers and ids.
    let created: Value = client
        .post(format!("{base}/sandbox/orders"))
        .json(&json!({"line_items": [{"sku": "GIFT-25", "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["name"], "#9005");
    assert!(created["id"].as_u64().unwrap() > 820982911946154508);
    sandbox.stop().await;
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn jsonl_bad_line_is_refused_with_line_and_field() {
    let shop = shop_without_orders(1);
    let good = fixture_orders(&shop)[0].to_string();
    let mut bad = fixture_orders(&shop)[1].clone();
    bad["line_items"][0]["quantity"] = json!(0);
    for (name, text, message) in [
        (
            "quantity.jsonl",
            format!("{good}\n{bad}\n"),
            "line 2: line_items[0].quantity must be a positive integer",
        ),
        (
            "json.jsonl",
            format!("{good}\n\n{{oops\n"),
            "line 3: not valid JSON",
        ),
        (
            "status.jsonl",
            good.replace("\"paid\"", "\"bezahlt\""),
            "line 1: financial_status must be one of",
        ),
        (
            "duplicate.jsonl",
            format!("{good}\n{good}"),
            "line 2: id: order 820982911946154508 already exists",
        ),
    ] {
        let path = temp_file(name, &text);
        let result = ShopifySandbox::start(ShopifyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            orders_file: Some(path.clone()),
            ..ShopifyConfig::default()
        })
        .await;
        match result {
            Err(StartError::Seed(error)) => {
                assert!(error.contains(message), "{name}: {error}")
            }
            Err(other) => panic!("{name}: unexpected error {other}"),
            Ok(_) => panic!("{name}: a bad file must be refused"),
        }
        let _ = std::fs::remove_file(path);
    }
    assert!(
        generator::shop_from_orders_file(1, &PathBuf::from("/nonexistent/orders.jsonl"))
            .unwrap_err()
            .contains("cannot read")
    );
}

/// A sandbox with orders #1001…#1006 of known timestamps, statuses, tags and SKUs.
struct SearchShop {
    sandbox: ShopifySandbox,
    client: reqwest::Client,
    ids: Vec<u64>,
}

impl SearchShop {
    async fn new() -> SearchShop {
        let sandbox = empty_shop().await;
        let client = reqwest::Client::new();
        let skus = ["CAM-X1", "SUD-X2", "GOR-X3"];
        let orders = [
            json!({"created_at": "2026-01-10T10:00:00Z", "updated_at": "2026-01-10T10:00:00Z",
                   "financial_status": "paid", "tags": "vip", "email": "ana@example.com",
                   "customer": {"first_name": "Ana", "last_name": "Núñez"},
                   "line_items": [{"sku": skus[0], "title": "Camiseta", "price": "10.00", "quantity": 1}]}),
            json!({"created_at": "2026-01-10T11:00:00Z", "updated_at": "2026-01-10T12:00:00Z",
                   "financial_status": "pending", "tags": "vip, b2b",
                   "line_items": [{"sku": skus[1], "title": "Sudadera", "price": "30.00", "quantity": 2}]}),
            json!({"created_at": "2026-01-11T09:00:00Z", "updated_at": "2026-01-11T09:00:00Z",
                   "financial_status": "paid", "fulfillment_status": "fulfilled", "tags": "b2b",
                   "closed_at": "2026-01-11T09:00:00Z", "test": true,
                   "line_items": [{"sku": skus[2], "title": "Gorra", "price": "15.00", "quantity": 1}]}),
            json!({"created_at": "2026-01-11T10:00:00Z", "updated_at": "2026-01-11T10:30:00Z",
                   "financial_status": "voided", "cancelled_at": "2026-01-11T10:30:00Z",
                   "cancel_reason": "fraud", "closed_at": "2026-01-11T10:30:00Z",
                   "line_items": [{"sku": skus[0], "title": "Camiseta", "price": "10.00", "quantity": 1}]}),
            json!({"created_at": "2026-01-12T10:00:00Z", "updated_at": "2026-01-12T10:00:00Z",
                   "financial_status": "paid", "fulfillment_status": "partial",
                   "line_items": [{"sku": skus[1], "title": "Sudadera", "price": "30.00", "quantity": 3}]}),
            json!({"created_at": "2026-01-12T11:00:00Z", "updated_at": "2026-01-12T11:00:00Z",
                   "financial_status": "authorized", "fulfillment_status": "on_hold", "tags": "Black Friday",
                   "line_items": [{"sku": skus[2], "title": "Gorra", "price": "15.00", "quantity": 1}]}),
        ];
        let mut ids = Vec::new();
        for order in orders {
            let response = client
                .post(format!("{}/sandbox/orders", sandbox.shop_url()))
                .json(&order)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
            let created: Value = response.json().await.unwrap();
            ids.push(created["id"].as_u64().unwrap());
        }
        SearchShop {
            sandbox,
            client,
            ids,
        }
    }

    /// Order numbers (1 for #1001 …) the query finds, and the warnings' fields.
    async fn find(&self, query: &str) -> (Vec<u64>, Vec<String>) {
        self.find_at(query, None).await
    }

    async fn find_at(&self, query: &str, at: Option<DateTime<Utc>>) -> (Vec<u64>, Vec<String>) {
        let mut params = vec![("query", query.to_string())];
        if let Some(at) = at {
            params.push(("as_of", at.to_rfc3339()));
        }
        let answer: Value = self
            .client
            .get(format!("{}/sandbox/orders", self.sandbox.shop_url()))
            .query(&params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let numbers = answer["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_number"].as_u64().unwrap() - 1000)
            .collect();
        let warnings = answer["search"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["field"].as_str().unwrap().to_string())
            .collect();
        (numbers, warnings)
    }

    async fn expect(&self, query: &str, numbers: &[u64]) {
        let (found, warnings) = self.find(query).await;
        assert_eq!(found, numbers, "{query}");
        assert!(warnings.is_empty(), "{query}: {warnings:?}");
    }
}

#[tokio::test]
async fn search_compares_quoted_timestamps_and_dates() {
    let shop = SearchShop::new().await;
    shop.expect("updated_at:>'2026-01-10T10:00:00Z'", &[2, 3, 4, 5, 6])
        .await;
    shop.expect("updated_at:>='2026-01-10T10:00:00Z'", &[1, 2, 3, 4, 5, 6])
        .await;
    shop.expect("updated_at:<'2026-01-10T12:00:00Z'", &[1])
        .await;
    shop.expect("updated_at:<='2026-01-10T12:00:00Z'", &[1, 2])
        .await;
    shop.expect("updated_at:'2026-01-10T12:00:00Z'", &[2]).await;
    shop.expect("updated_at:>=\"2026-01-11T10:00:00+01:00\"", &[3, 4, 5, 6])
        .await;
    shop.expect("updated_at:>\"2026-01-11T10:00:00+01:00\"", &[4, 5, 6])
        .await;
    shop.expect(
        "created_at:>='2026-01-11T00:00:00Z' created_at:<'2026-01-12T00:00:00Z'",
        &[3, 4],
    )
    .await;
    // Dates are days in the shop's time zone (UTC+1): 2026-01-12 starts at 23:00 UTC the day before.
    shop.expect("created_at:>=2026-01-12", &[5, 6]).await;
    shop.expect("created_at:<2026-01-11", &[1, 2]).await;
    shop.expect("created_at:2026-01-11", &[3, 4]).await;
    shop.expect("processed_at:<=2026-01-10", &[1, 2]).await;
    shop.expect("updated_at:<now", &[1, 2, 3, 4, 5, 6]).await;
    shop.expect("updated_at:>now", &[]).await;
}

#[tokio::test]
async fn unquoted_timestamp_is_split_at_its_colons() {
    let shop = SearchShop::new().await;
    // Meant: after 10:00 UTC, which excludes #1001. Read: after the hour 10:00 in the shop's
    // time zone (09:00–10:00 UTC), which includes it, plus a bogus field "00".
    let (found, warnings) = shop.find("updated_at:>2026-01-10T10:00:00Z").await;
    assert_eq!(found, [1, 2, 3, 4, 5, 6]);
    assert_eq!(warnings, ["00"]);
    let (found, warnings) = shop.find("updated_at:>'2026-01-10T10:00:00Z'").await;
    assert_eq!(found, [2, 3, 4, 5, 6]);
    assert!(warnings.is_empty());
}

#[tokio::test]
async fn search_by_status_tag_name_id_sku_and_more() {
    let shop = SearchShop::new().await;
    shop.expect("status:open", &[1, 2, 5, 6]).await;
    shop.expect("status:closed", &[3, 4]).await;
    shop.expect("status:cancelled", &[4]).await;
    shop.expect("status:not_closed", &[1, 2, 5, 6]).await;
    shop.expect("financial_status:paid", &[1, 3, 5]).await;
    shop.expect("financial_status:paid fulfillment_status:unfulfilled", &[1])
        .await;
    shop.expect("fulfillment_status:unshipped", &[1, 2, 4])
        .await;
    shop.expect("fulfillment_status:shipped", &[3]).await;
    shop.expect("fulfillment_status:fulfilled", &[3]).await;
    shop.expect("fulfillment_status:partial", &[5]).await;
    shop.expect("fulfillment_status:on_hold", &[6]).await;
    shop.expect("tag:vip", &[1, 2]).await;
    shop.expect("tag:vip tag:b2b", &[2]).await;
    shop.expect("tag:VIP", &[1, 2]).await;
    shop.expect("tag:'Black Friday'", &[6]).await;
    shop.expect("tag_not:vip", &[3, 4, 5, 6]).await;
    shop.expect("tag_not:vip tag_not:b2b", &[4, 5, 6]).await;
    shop.expect("name:#1003", &[3]).await;
    shop.expect("name:1003", &[3]).await;
    let third = shop.ids[2];
    shop.expect(&format!("id:{third}"), &[3]).await;
    shop.expect(&format!("id:>={third}"), &[3, 4, 5, 6]).await;
    shop.expect(&format!("id:<{third}"), &[1, 2]).await;
    shop.expect(
        &format!("id:>{} id:<={}", shop.ids[0], shop.ids[2]),
        &[2, 3],
    )
    .await;
    shop.expect("sku:SUD-X2", &[2, 5]).await;
    shop.expect("sku:sud-x2", &[2, 5]).await;
    shop.expect("email:ana@example.com", &[1]).await;
    shop.expect("test:true", &[3]).await;
    shop.expect("núñez", &[1]).await;
    shop.expect("'Ana Núñez'", &[1]).await;
    shop.expect("", &[1, 2, 3, 4, 5, 6]).await;
}

#[tokio::test]
async fn search_combines_with_or_and_negation() {
    let shop = SearchShop::new().await;
    shop.expect("tag:vip OR tag:b2b", &[1, 2, 3]).await;
    shop.expect("-tag:vip", &[3, 4, 5, 6]).await;
    shop.expect("NOT financial_status:paid", &[2, 4, 6]).await;
    shop.expect("financial_status:paid -status:closed", &[1, 5])
        .await;
    shop.expect("(tag:vip OR sku:GOR-X3) -test:true", &[1, 2, 6])
        .await;
    shop.expect(
        "status:cancelled OR fulfillment_status:partial OR name:1001",
        &[1, 4, 5],
    )
    .await;
}

#[tokio::test]
async fn unknown_fields_and_values_warn_and_match_everything() {
    let shop = SearchShop::new().await;
    let (found, warnings) = shop.find("colour:red tag:vip").await;
    assert_eq!(found, [1, 2]);
    assert_eq!(warnings, ["colour"]);
    let (found, warnings) = shop.find("financial_status:bezahlt").await;
    assert_eq!(found, [1, 2, 3, 4, 5, 6]);
    assert_eq!(warnings, ["financial_status"]);
    // A documented field the sandbox does not model is accepted without a warning.
    shop.expect("risk_level:low tag:b2b", &[2, 3]).await;
}

#[tokio::test]
async fn search_index_lags_behind_changes() {
    let shop = SearchShop::new().await;
    let client = &shop.client;
    let base = shop.sandbox.shop_url();
    let lag: Value = client
        .put(format!("{base}/sandbox/index_lag"))
        .json(&json!({"seconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lag["seconds"], 60.0);

    let before = Utc::now().trunc_subsecs(0) - TimeDelta::seconds(2);
    let response = client
        .patch(format!("{base}/sandbox/orders/{}", shop.ids[0]))
        .json(&json!({"tags": "vip, lagging"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let changed = Utc::now();
    let query = format!("updated_at:>'{}'", before.format("%Y-%m-%dT%H:%M:%SZ"));

    // The order itself shows the change at once.
    let order = get_json(client, format!("{base}/sandbox/orders/{}", shop.ids[0])).await;
    assert_eq!(order["order"]["tags"], "lagging, vip");
    // Searches see the previous version until the lag has passed.
    assert_eq!(
        shop.find_at(&query, Some(changed)).await.0,
        Vec::<u64>::new()
    );
    assert_eq!(
        shop.find_at("tag:lagging", Some(changed)).await.0,
        Vec::<u64>::new()
    );
    assert_eq!(shop.find_at("tag:vip", Some(changed)).await.0, [1, 2]);
    let later = changed + TimeDelta::seconds(61);
    assert_eq!(shop.find_at(&query, Some(later)).await.0, [1]);
    assert_eq!(shop.find_at("tag:lagging", Some(later)).await.0, [1]);

    // A new order is not found at all until the lag has passed.
    let created: Value = client
        .post(format!("{base}/sandbox/orders"))
        .json(&json!({"tags": "fresh", "line_items": [{"sku": "GIFT-25", "quantity": 1}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let now = Utc::now();
    assert_eq!(
        shop.find_at("tag:fresh", Some(now)).await.0,
        Vec::<u64>::new()
    );
    assert_eq!(shop.find_at("", Some(now)).await.0, [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        shop.find_at("tag:fresh", Some(now + TimeDelta::seconds(61)))
            .await
            .0,
        [7]
    );
    assert_eq!(created["name"], "#1007");

    // Back to no lag: the next change is searchable at once.
    client
        .put(format!("{base}/sandbox/index_lag"))
        .json(&json!({"seconds": 0}))
        .send()
        .await
        .unwrap();
    client
        .patch(format!("{base}/sandbox/orders/{}", shop.ids[1]))
        .json(&json!({"tags": "instant"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shop.find("tag:instant").await.0, [2]);
}

#[tokio::test]
async fn generated_sandbox_serves_its_orders() {
    let sandbox = start(ShopifyConfig {
        seed: 9,
        orders: 40,
        index_lag: Duration::from_secs(30),
        ..ShopifyConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let base = sandbox.shop_url();
    let all = get_json(&client, format!("{base}/sandbox/orders")).await;
    assert_eq!(all["orders"].as_array().unwrap().len(), 40);
    // Seeded orders are in the index from the start, lag or not.
    let found = get_json(
        &client,
        format!("{base}/sandbox/orders?query=tag_not:nowhere"),
    )
    .await;
    assert_eq!(found["orders"].as_array().unwrap().len(), 40);
    let page = get_json(
        &client,
        format!(
            "{base}/sandbox/orders?limit=5&since_id={}",
            all["orders"][9]["id"]
        ),
    )
    .await;
    let page: Vec<&Value> = page["orders"].as_array().unwrap().iter().collect();
    assert_eq!(page.len(), 5);
    assert_eq!(page[0]["id"], all["orders"][10]["id"]);
    let variants = get_json(&client, format!("{base}/sandbox/variants")).await;
    assert_eq!(variants["variants"].as_array().unwrap().len(), CATALOG_SIZE);
    let locations = get_json(&client, format!("{base}/sandbox/locations")).await;
    assert_eq!(locations["locations"][0]["name"], SHARED_WAREHOUSES[0]);
    assert_eq!(locations["locations"][0]["primary"], true);
    sandbox.stop().await;
}
