//! The shipment reads of the PULPO client against the PULPO sandbox over real HTTP: boxes of
//! sales orders with their items, lot and serial numbers and trackings, a tracking changed
//! later, packing orders changed since a cursor, and lists longer than a page.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_pulpo::model::{PackingOrderFilter, ShippedBatch, Tracking};
use tentacle_pulpo::{ClientOptions, PulpoClient, PulpoCredentials};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};

async fn sandbox(max_concurrency: Option<usize>) -> PulpoSandbox {
    PulpoSandbox::start(PulpoConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        max_concurrency,
        ..PulpoConfig::default()
    })
    .await
    .expect("sandbox")
}

fn client(sandbox: &PulpoSandbox, max_in_flight: Option<usize>) -> PulpoClient {
    PulpoClient::new(
        PulpoCredentials {
            base_url: sandbox.base_url(),
            username: "sandbox_admin".into(),
            password: SecretString::from("sandbox".to_string()),
        },
        ClientOptions {
            max_in_flight,
            ..ClientOptions::default()
        },
    )
    .expect("client")
}

/// A control API call that must succeed; returns its answer.
async fn control(sandbox: &PulpoSandbox, method: Method, path: &str, body: Value) -> Value {
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

/// A sales order of `lines` (`(product, quantity)`, line ids `<order_num>-<n>` from 1), made
/// through PULPO's API; returns its id.
async fn order(sandbox: &PulpoSandbox, order_num: &str, lines: &[(i64, i64)]) -> i64 {
    let items: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(n, (product, quantity))| {
            json!({"product_id": product, "quantity": quantity, "line_order_id": format!("{order_num}-{}", n + 1)})
        })
        .collect();
    let order = sandbox
        .state
        .store()
        .create_sales_order(
            serde_json::from_value(json!({
                "order_num": order_num,
                "ship_to": {"address": {"street": "Calle Mayor 1"}},
                "items": items,
            }))
            .expect("an order body"),
        )
        .expect("the order is valid");
    order.id
}

async fn ship(sandbox: &PulpoSandbox, id: i64, body: Value) -> Value {
    control(
        sandbox,
        Method::POST,
        &format!("/sales/orders/{id}/ship"),
        body,
    )
    .await
}

fn products(sandbox: &PulpoSandbox, n: usize) -> Vec<i64> {
    sandbox
        .state
        .store()
        .products
        .keys()
        .take(n)
        .copied()
        .collect()
}

#[tokio::test]
async fn one_box_with_its_tracking() {
    let sandbox = sandbox(None).await;
    let client = client(&sandbox, None);
    let product = products(&sandbox, 1)[0];
    let id = order(&sandbox, "1001", &[(product, 2)]).await;
    let unshipped = order(&sandbox, "1002", &[(product, 1)]).await;
    assert!(
        client
            .shipped_boxes(&[id, unshipped])
            .await
            .expect("boxes")
            .is_empty()
    );
    let shipped = ship(
        &sandbox,
        id,
        json!({"carrier_code": "SEUR", "tracking_code": "S-1", "tracking_url": "https://t/S-1"}),
    )
    .await;

    let boxes = client
        .shipped_boxes(&[id, unshipped, 999])
        .await
        .expect("boxes");
    assert_eq!(boxes.len(), 1);
    let shipped_box = &boxes[0];
    assert_eq!(shipped_box.sales_order_id, id);
    assert_eq!(
        shipped_box.packing_order_id,
        shipped["packing_order"]["id"].as_i64().expect("id")
    );
    assert_eq!(shipped_box.box_number, Some(1));
    assert_eq!(shipped_box.items.len(), 1);
    assert_eq!(shipped_box.items[0].product_id, product);
    assert_eq!(shipped_box.items[0].quantity, 2);
    assert_eq!(
        shipped_box.items[0].line_order_id.as_deref(),
        Some("1001-1")
    );
    assert!(shipped_box.items[0].batches.is_empty());
    let tracking = shipped_box.tracking.as_ref().expect("a tracking");
    assert_eq!(tracking.carrier_code.as_deref(), Some("SEUR"));
    assert_eq!(tracking.tracking_code, "S-1");
    assert_eq!(tracking.tracking_url.as_deref(), Some("https://t/S-1"));

    let before = client.stats().requests.load(Ordering::Relaxed);
    assert!(client.shipped_boxes(&[]).await.expect("none").is_empty());
    assert_eq!(
        client.stats().requests.load(Ordering::Relaxed),
        before,
        "no ids, no request"
    );
}

#[tokio::test]
async fn two_boxes_and_a_tracking_changed_later() {
    let sandbox = sandbox(None).await;
    let client = client(&sandbox, Some(2));
    let [a, b] = products(&sandbox, 2)[..] else {
        panic!("two products");
    };
    let id = order(&sandbox, "2001", &[(a, 3), (b, 1)]).await;
    let shipped = ship(
        &sandbox,
        id,
        json!({"boxes": [
            {"carrier_code": "SEUR", "tracking_code": "S-1", "items": [{"line_order_id": "2001-1", "quantity": 3}]},
            {"items": [{"line_order_id": "2001-2", "quantity": 1}]},
        ]}),
    )
    .await;
    let box_ids: Vec<i64> = shipped["packing_boxes"]
        .as_array()
        .expect("boxes")
        .iter()
        .map(|b| b["id"].as_i64().expect("id"))
        .collect();

    let boxes = client.shipped_boxes(&[id]).await.expect("boxes");
    assert_eq!(boxes.len(), 2);
    assert_eq!(boxes.iter().map(|b| b.box_id).collect::<Vec<_>>(), box_ids);
    assert_eq!(boxes[0].items[0].line_order_id.as_deref(), Some("2001-1"));
    assert_eq!(boxes[1].items[0].line_order_id.as_deref(), Some("2001-2"));
    assert_eq!(boxes[1].tracking, None, "no label yet");
    let first_tracking = boxes[0].tracking.clone().expect("a tracking");

    // The second box gets its label, the first is re-labelled.
    let cursor: DateTime<Utc> = Utc::now();
    control(
        &sandbox,
        Method::PUT,
        &format!("/packing/boxes/{}/shipment_tracking", box_ids[1]),
        json!({"carrier_code": "GLS", "tracking_code": "G-2", "tracking_url": "https://t/G-2"}),
    )
    .await;
    control(
        &sandbox,
        Method::PUT,
        &format!("/packing/boxes/{}/shipment_tracking", box_ids[0]),
        json!({"carrier_code": "SEUR", "tracking_code": "S-1B", "tracking_url": "https://t/S-1B"}),
    )
    .await;
    let boxes = client.shipped_boxes(&[id]).await.expect("boxes");
    let changed = boxes[0].tracking.as_ref().expect("a tracking");
    assert_eq!(changed.id, first_tracking.id, "changed in place");
    assert_eq!(changed.tracking_code, "S-1B");
    assert_eq!(changed.tracking_url.as_deref(), Some("https://t/S-1B"));
    assert_ne!(changed.updated_at, first_tracking.updated_at);
    assert_eq!(
        boxes[1]
            .tracking
            .as_ref()
            .map(|t: &Tracking| t.tracking_code.as_str()),
        Some("G-2")
    );

    // The packing order changed since the cursor; another one did not.
    let other = order(&sandbox, "2002", &[(a, 1)]).await;
    ship(
        &sandbox,
        other,
        json!({"carrier_code": "GLS", "tracking_code": "G-9"}),
    )
    .await;
    let after_other: DateTime<Utc> = Utc::now();
    let changed = client
        .packing_orders(&PackingOrderFilter {
            sales_order_ids: Some(vec![id, other]),
            states: vec!["ended".into(), "taken".into()],
            updated_since: Some(cursor),
        })
        .await
        .expect("packing orders");
    assert_eq!(changed.len(), 2);
    let changed = client
        .packing_orders(&PackingOrderFilter {
            updated_since: Some(after_other),
            ..PackingOrderFilter::default()
        })
        .await
        .expect("packing orders");
    assert!(changed.is_empty(), "{changed:?}");
    let one = client
        .packing_orders(&PackingOrderFilter {
            sales_order_ids: Some(vec![id]),
            ..PackingOrderFilter::default()
        })
        .await
        .expect("packing orders");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].sales_order_id, Some(id));
    assert_eq!(one[0].state.as_deref(), Some("ended"));
    let trackings = client
        .shipment_trackings(one[0].id, box_ids[0])
        .await
        .expect("trackings");
    assert_eq!(trackings.len(), 1);
    assert!(
        client
            .packing_orders(&PackingOrderFilter {
                sales_order_ids: Some(Vec::new()),
                ..PackingOrderFilter::default()
            })
            .await
            .expect("none")
            .is_empty()
    );
}

#[tokio::test]
async fn lots_and_serial_numbers_of_shipped_items() {
    let sandbox = sandbox(None).await;
    let client = client(&sandbox, None);
    let [lot, serial, plain] = products(&sandbox, 3)[..] else {
        panic!("three products");
    };
    for (product, management_type) in [(lot, "lot"), (serial, "serial")] {
        control(
            &sandbox,
            Method::PATCH,
            &format!("/inventory/products/{product}"),
            json!({"management_type": management_type}),
        )
        .await;
    }
    let id = order(&sandbox, "3001", &[(lot, 5), (serial, 2), (plain, 1)]).await;
    let shipped = ship(
        &sandbox,
        id,
        json!({"boxes": [
            {"carrier_code": "SEUR", "tracking_code": "S-3", "items": [
                {"product_id": lot, "quantity": 5, "batches": [{"number": "LOT-A", "quantity": 3}, {"number": "LOT-B", "quantity": 2}]},
                {"product_id": serial, "quantity": 1, "batches": [{"number": "SN-1", "quantity": 1}]},
            ]},
            {"carrier_code": "SEUR", "tracking_code": "S-4", "items": [
                {"product_id": serial, "quantity": 1, "batches": [{"number": "SN-2", "quantity": 1}]},
                {"product_id": plain, "quantity": 1},
            ]},
        ]}),
    )
    .await;

    let boxes = client.shipped_boxes(&[id]).await.expect("boxes");
    assert_eq!(boxes.len(), 2);
    let numbers = |batches: &[ShippedBatch]| -> Vec<(String, i64)> {
        batches
            .iter()
            .map(|b| (b.number.clone(), b.quantity))
            .collect()
    };
    assert_eq!(
        numbers(&boxes[0].items[0].batches),
        [("LOT-A".to_string(), 3), ("LOT-B".to_string(), 2)]
    );
    assert_eq!(
        numbers(&boxes[0].items[1].batches),
        [("SN-1".to_string(), 1)]
    );
    assert_eq!(
        numbers(&boxes[1].items[0].batches),
        [("SN-2".to_string(), 1)]
    );
    assert!(boxes[1].items[1].batches.is_empty());
    let batch_id = boxes[0].items[0].batches[1].batch_id;
    let batch = client.batch(batch_id).await.expect("a batch");
    assert_eq!(
        (
            batch.number.as_str(),
            batch.batch_type.as_deref(),
            batch.product_id
        ),
        ("LOT-B", Some("lot"), Some(lot))
    );

    // A serial number corrected in PULPO is read fresh.
    let box_id = shipped["packing_boxes"][1]["id"].as_i64().expect("id");
    let item_id = shipped["packing_boxes"][1]["items"][0]["id"]
        .as_i64()
        .expect("id");
    control(
        &sandbox,
        Method::PUT,
        &format!("/packing/boxes/{box_id}/items/{item_id}/batches"),
        json!([{"number": "SN-7", "quantity": 1}]),
    )
    .await;
    let boxes = client.shipped_boxes(&[id]).await.expect("boxes");
    assert_eq!(
        numbers(&boxes[1].items[0].batches),
        [("SN-7".to_string(), 1)]
    );
}

#[tokio::test]
async fn boxes_and_packing_orders_beyond_a_page_are_all_read_within_the_limit() {
    // The sandbox answers 429 beyond 3 requests at once: the client keeps to its limit of 3.
    let sandbox = sandbox(Some(3)).await;
    let client = client(&sandbox, Some(3));
    let product = products(&sandbox, 1)[0];
    let big = order(&sandbox, "4000", &[(product, 105)]).await;
    let boxes: Vec<Value> = (0..105)
        .map(|n| json!({"carrier_code": "SEUR", "tracking_code": format!("B-{n}"), "items": [{"line_order_id": "4000-1", "quantity": 1}]}))
        .collect();
    ship(&sandbox, big, json!({"boxes": boxes})).await;
    let mut ids = vec![big];
    for n in 1..=110 {
        let id = order(&sandbox, &format!("4{n:03}"), &[(product, 1)]).await;
        ship(
            &sandbox,
            id,
            json!({"carrier_code": "GLS", "tracking_code": format!("G-{n}")}),
        )
        .await;
        ids.push(id);
    }
    // Orders that never shipped make no box requests.
    for n in 0..5 {
        ids.push(order(&sandbox, &format!("5{n:03}"), &[(product, 1)]).await);
    }

    let before = client.stats().requests.load(Ordering::Relaxed);
    let boxes = client.shipped_boxes(&ids).await.expect("boxes");
    let requests = client.stats().requests.load(Ordering::Relaxed) - before;
    assert_eq!(boxes.len(), 105 + 110);
    let big_boxes: Vec<_> = boxes.iter().filter(|b| b.sales_order_id == big).collect();
    assert_eq!(big_boxes.len(), 105);
    assert_eq!(
        big_boxes.iter().map(|b| b.box_number).collect::<Vec<_>>(),
        (1..=105).map(Some).collect::<Vec<_>>(),
        "in box order"
    );
    assert!(boxes.iter().all(|b| b.tracking.is_some()));
    // 2 pages of packing orders, 111 + 1 pages of boxes, 215 trackings.
    assert_eq!(requests, 2 + 112 + 215);
    assert_eq!(
        client.stats().retries.load(Ordering::Relaxed),
        0,
        "never over the limit"
    );
}
