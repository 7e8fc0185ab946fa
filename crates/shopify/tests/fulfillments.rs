//! The shipment and status update calls of the client against the Shopify sandbox over real
//! HTTP: reading an order's fulfilment state (paged past 100 lines), one fulfillment per box with
//! tracking, refusals as user errors, tracking updates, tags and notes, retries through 5xx
//! and throttling, and returns of fulfilled units read back from the order.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_domain::order::{FulfillmentOrderStatus, FulfillmentStatus as DisplayStatus};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_shopify::fulfillments::{
    FulfillmentLine, FulfillmentStatus, NewFulfillment, Tracking, UserError,
};
use tentacle_shopify::returns::{NewRefund, NewReturn, NewReturnLine, ReturnLine};
use tentacle_shopify::{ClientOptions, ShopifyClient, ShopifyCredentials, ShopifyError};

const TOKEN: &str = "shpat_fulfillments";

struct Shop {
    sandbox: ShopifySandbox,
    http: reqwest::Client,
    madrid: u64,
}

/// An order as the control API created it.
struct Order {
    gid: String,
    fo_gid: String,
    fo_id: u64,
    /// Fulfillment order line item GIDs and line item GIDs, in line order.
    fo_lines: Vec<String>,
    lines: Vec<String>,
}

impl Shop {
    async fn start(bucket: f64, restore_rate: f64) -> Shop {
        let sandbox = ShopifySandbox::start(ShopifyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            access_token: TOKEN.into(),
            orders: 0,
            bucket,
            restore_rate,
            ..ShopifyConfig::default()
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
        let madrid = locations["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == SHARED_WAREHOUSES[0])
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        Shop {
            sandbox,
            http,
            madrid,
        }
    }

    fn client(&self) -> ShopifyClient {
        ShopifyClient::new(
            ShopifyCredentials {
                shop_url: self.sandbox.shop_url(),
                access_token: SecretString::from(TOKEN),
                api_version: "2026-10".into(),
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

    /// A paid order at Madrid with one line per quantity in `quantities`.
    async fn order(&self, quantities: &[u32]) -> Order {
        let lines: Vec<Value> = quantities
            .iter()
            .enumerate()
            .map(|(i, q)| json!({"title": format!("Item {i}"), "quantity": q, "price": "5.00"}))
            .collect();
        let created = self
            .control(
                reqwest::Method::POST,
                "/sandbox/orders",
                json!({"financial_status": "paid", "location_id": self.madrid, "tags": "web", "line_items": lines}),
            )
            .await;
        let id = created["id"].as_u64().unwrap();
        let order = self
            .control(
                reqwest::Method::GET,
                &format!("/sandbox/orders/{id}"),
                Value::Null,
            )
            .await;
        let fo = &order["order"]["fulfillment_orders"][0];
        let gids = |v: &Value, kind: &str| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|l| format!("gid://shopify/{kind}/{}", l["id"]))
                .collect()
        };
        Order {
            gid: format!("gid://shopify/Order/{id}"),
            fo_gid: fo["admin_graphql_api_id"].as_str().unwrap().to_string(),
            fo_id: fo["id"].as_u64().unwrap(),
            fo_lines: gids(&fo["line_items"], "FulfillmentOrderLineItem"),
            lines: gids(&order["order"]["line_items"], "LineItem"),
        }
    }
}

fn seur(number: &str) -> Tracking {
    Tracking {
        company: Some("SEUR".into()),
        number: Some(number.into()),
        url: Some(format!("https://track.example/{number}")),
    }
}

fn box_of(order: &Order, lines: &[(usize, u32)], tracking: Tracking) -> NewFulfillment {
    NewFulfillment {
        fulfillment_order_id: order.fo_gid.clone(),
        lines: lines
            .iter()
            .map(|(i, q)| (order.fo_lines[*i].clone(), *q))
            .collect(),
        tracking,
        notify_customer: false,
    }
}

#[tokio::test]
async fn boxes_become_fulfillments_and_the_state_shows_them() {
    let shop = Shop::start(2000.0, 100.0).await;
    let client = shop.client();
    let order = shop.order(&[3, 1]).await;
    let before = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        before.display_fulfillment_status,
        DisplayStatus::Unfulfilled
    );
    assert_eq!(
        before.fulfillment_orders[0].status,
        FulfillmentOrderStatus::Open
    );
    assert_eq!(
        before.fulfillment_orders[0].location_id,
        Some(format!("gid://shopify/Location/{}", shop.madrid))
    );
    assert!(before.fulfillments.is_empty());

    let outcome = client
        .fulfillment_create(&box_of(&order, &[(0, 2)], seur("B1")))
        .await
        .unwrap();
    assert_eq!(outcome.user_errors, vec![]);
    let created = outcome.fulfillment.unwrap();
    assert_eq!(created.status, FulfillmentStatus::Success);

    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.order_id, order.gid);
    assert_eq!(
        state.display_fulfillment_status,
        DisplayStatus::PartiallyFulfilled
    );
    let fo = &state.fulfillment_orders[0];
    assert_eq!(fo.id, order.fo_gid);
    assert_eq!(fo.status, FulfillmentOrderStatus::InProgress);
    assert_eq!(
        fo.lines
            .iter()
            .map(|l| (
                l.id.as_str(),
                l.line_item_id.as_str(),
                l.remaining_quantity,
                l.total_quantity
            ))
            .collect::<Vec<_>>(),
        vec![
            (order.fo_lines[0].as_str(), order.lines[0].as_str(), 1, 3),
            (order.fo_lines[1].as_str(), order.lines[1].as_str(), 1, 1),
        ]
    );
    assert_eq!(state.fulfillments.len(), 1);
    assert_eq!(state.fulfillments[0].id, created.id);
    assert_eq!(state.fulfillments[0].tracking, vec![seur("B1")]);
    assert_eq!(
        state.fulfillments[0].lines,
        vec![FulfillmentLine {
            id: state.fulfillments[0].lines[0].id.clone(),
            line_item_id: order.lines[0].clone(),
            quantity: 2
        }]
    );
    assert!(
        state.fulfillments[0].lines[0]
            .id
            .starts_with("gid://shopify/FulfillmentLineItem/")
    );
    assert!(!state.more_fulfillments);

    // Everything left, no tracking known yet.
    let rest = NewFulfillment {
        lines: Vec::new(),
        ..box_of(&order, &[], Tracking::default())
    };
    let outcome = client.fulfillment_create(&rest).await.unwrap();
    assert_eq!(outcome.user_errors, vec![]);
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.display_fulfillment_status, DisplayStatus::Fulfilled);
    assert_eq!(
        state.fulfillment_orders[0].status,
        FulfillmentOrderStatus::Closed
    );
    assert_eq!(state.fulfillments[1].tracking, vec![]);

    assert_eq!(
        client
            .order_fulfillment_state("gid://shopify/Order/1")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_closed_fulfillment_order_and_too_many_units_are_user_errors() {
    let shop = Shop::start(2000.0, 100.0).await;
    let client = shop.client();
    let order = shop.order(&[2]).await;
    let over = client
        .fulfillment_create(&box_of(&order, &[(0, 3)], seur("X")))
        .await
        .unwrap();
    assert_eq!(over.fulfillment, None);
    assert_eq!(
        over.user_errors,
        vec![UserError {
            field: vec!["fulfillment".into()],
            message: "Invalid fulfillment order line item quantity requested.".into()
        }]
    );
    shop.control(
        reqwest::Method::POST,
        &format!("/sandbox/fulfillment_orders/{}/close", order.fo_id),
        Value::Null,
    )
    .await;
    let closed = client
        .fulfillment_create(&box_of(&order, &[(0, 1)], seur("Y")))
        .await
        .unwrap();
    assert_eq!(closed.fulfillment, None);
    assert_eq!(
        closed.user_errors[0].message,
        format!(
            "Fulfillment order {} has an unfulfillable status= closed.",
            order.fo_id
        )
    );
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert!(state.fulfillments.is_empty(), "refusals change nothing");
}

#[tokio::test]
async fn tracking_tags_and_notes_change_in_place() {
    let shop = Shop::start(2000.0, 100.0).await;
    let client = shop.client();
    let order = shop.order(&[1]).await;
    let created = client
        .fulfillment_create(&box_of(&order, &[(0, 1)], seur("OLD")))
        .await
        .unwrap()
        .fulfillment
        .unwrap();
    let updated = client
        .fulfillment_tracking_update(&created.id, &seur("NEW"), true)
        .await
        .unwrap();
    assert_eq!(updated.user_errors, vec![]);
    assert_eq!(updated.fulfillment.unwrap().id, created.id);
    let unknown = client
        .fulfillment_tracking_update("gid://shopify/Fulfillment/1", &seur("NEW"), false)
        .await
        .unwrap();
    assert_eq!(unknown.fulfillment, None);
    assert_eq!(
        unknown.user_errors[0].field,
        vec!["fulfillmentId".to_string()]
    );

    let errors = client
        .tags_add(&order.gid, &["pulpo-imported".into(), "a-first".into()])
        .await
        .unwrap();
    assert_eq!(errors, vec![]);
    let errors = client
        .order_note_update(&order.gid, "Lot L-7: SN-1, SN-2")
        .await
        .unwrap();
    assert_eq!(errors, vec![]);
    let too_long = client
        .tags_add(&order.gid, &["x".repeat(41)])
        .await
        .unwrap();
    assert_eq!(too_long.len(), 1);

    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.fulfillments[0].tracking, vec![seur("NEW")]);
    assert_eq!(state.tags, vec!["a-first", "pulpo-imported", "web"]);
    assert_eq!(state.note.as_deref(), Some("Lot L-7: SN-1, SN-2"));
    let missing = client
        .order_note_update("gid://shopify/Order/1", "x")
        .await
        .unwrap();
    assert_eq!(missing[0].message, "Order does not exist");
}

#[tokio::test]
async fn more_than_a_page_of_lines_is_read_in_pages() {
    let shop = Shop::start(100_000.0, 10_000.0).await;
    let client = shop.client();
    let quantities = vec![1; 130];
    let order = shop.order(&quantities).await;
    let outcome = client
        .fulfillment_create(&NewFulfillment {
            lines: Vec::new(),
            ..box_of(&order, &[], seur("BIG"))
        })
        .await
        .unwrap();
    assert_eq!(outcome.user_errors, vec![]);
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    let fo_lines: Vec<&str> = state.fulfillment_orders[0]
        .lines
        .iter()
        .map(|l| l.id.as_str())
        .collect();
    assert_eq!(
        fo_lines,
        order
            .fo_lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    let shipped: Vec<&str> = state.fulfillments[0]
        .lines
        .iter()
        .map(|l| l.line_item_id.as_str())
        .collect();
    assert_eq!(
        shipped,
        order.lines.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn reads_and_writes_go_through_5xx_and_throttling() {
    // A bucket that pays for about one state read at a time.
    let shop = Shop::start(150.0, 100.0).await;
    let client = shop.client();
    let order = shop.order(&[2]).await;
    shop.control(
        reqwest::Method::PUT,
        "/sandbox/faults",
        json!({"error_share": 0.5}),
    )
    .await;
    // Reads are resent through 5xx; a create is not (a 5xx may come after the work), so it
    // either goes through or says its answer was lost.
    for _ in 0..4 {
        client
            .order_fulfillment_state(&order.gid)
            .await
            .unwrap()
            .unwrap();
    }
    let mut lost = 0;
    let mut made = 0;
    for number in ["R1", "R2", "R3", "R4", "R5", "R6"] {
        match client
            .fulfillment_create(&box_of(&order, &[(0, 1)], seur(number)))
            .await
        {
            Ok(outcome) if outcome.fulfillment.is_some() => made += 1,
            Ok(_) => {}
            Err(ShopifyError::AnswerLost { detail }) => {
                assert!(detail.starts_with('5'), "{detail}");
                lost += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    shop.control(reqwest::Method::PUT, "/sandbox/faults", json!({}))
        .await;
    assert!(lost > 0, "some creates met a 5xx");
    assert!(made > 0, "some went through");
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.fulfillments.len(),
        made,
        "the sandbox's 5xx did nothing and a lost create was never resent"
    );
    assert!(
        client.stats().retries.load(Ordering::Relaxed) > 0,
        "5xx were retried"
    );
    // Two clients of one shop share its bucket without knowing of each other: Shopify
    // throttles one, and it waits for the bucket instead of failing.
    let other = shop.client();
    tokio::join!(
        async {
            for _ in 0..3 {
                client
                    .order_fulfillment_state(&order.gid)
                    .await
                    .unwrap()
                    .unwrap();
            }
        },
        async {
            for _ in 0..3 {
                other
                    .order_fulfillment_state(&order.gid)
                    .await
                    .unwrap()
                    .unwrap();
            }
        }
    );
    assert!(
        shop.sandbox.stats().throttled > 0,
        "the shared bucket ran dry"
    );
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.fulfillments.len(),
        made,
        "the throttled reads changed nothing"
    );
    assert_eq!(
        state.fulfillment_orders[0].lines[0].remaining_quantity,
        2 - u32::try_from(made).unwrap()
    );
}

#[tokio::test]
async fn a_create_whose_connection_is_cut_after_the_work_is_never_resent() {
    let shop = Shop::start(10_000.0, 1_000.0).await;
    let client = shop.client();
    let order = shop.order(&[3]).await;
    shop.control(
        reqwest::Method::PUT,
        "/sandbox/faults",
        json!({"drop_after_share": 1.0}),
    )
    .await;
    let error = client
        .fulfillment_create(&box_of(&order, &[(0, 1)], seur("CUT1")))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ShopifyError::AnswerLost { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("may or may not have been made"));
    shop.control(reqwest::Method::PUT, "/sandbox/faults", json!({}))
        .await;
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.fulfillments.len(),
        1,
        "Shopify made it once and the client did not send it again"
    );
    assert_eq!(client.stats().retries.load(Ordering::Relaxed), 0);
    assert_eq!(state.fulfillment_orders[0].lines[0].remaining_quantity, 2);
}

#[tokio::test]
async fn returns_of_fulfilled_units_are_made_and_read_back_from_the_order() {
    let shop = Shop::start(2000.0, 100.0).await;
    let client = shop.client();
    let order = shop.order(&[3, 1]).await;
    client
        .fulfillment_create(&box_of(&order, &[], seur("R1")))
        .await
        .unwrap();
    let state = client
        .order_fulfillment_state(&order.gid)
        .await
        .unwrap()
        .unwrap();
    let fulfilled = &state.fulfillments[0].lines;
    let before = client.order_returns(&order.gid).await.unwrap().unwrap();
    assert_eq!(before.return_status, "NO_RETURN");
    assert_eq!(before.financial_status.as_deref(), Some("PAID"));
    assert!(before.returns.is_empty());

    let new = NewReturn {
        order_id: order.gid.clone(),
        lines: vec![NewReturnLine {
            fulfillment_line_item_id: fulfilled[0].id.clone(),
            quantity: 2,
            reason: "SIZE_TOO_SMALL".into(),
            note: "PULPO return RT000001".into(),
        }],
        notify_customer: false,
    };
    let made = client.return_create(&new).await.unwrap();
    assert_eq!(made.user_errors, vec![]);
    let created = made.created.unwrap();
    assert_eq!(created.status, "OPEN");
    let after = client.order_returns(&order.gid).await.unwrap().unwrap();
    assert_eq!(after.return_status, "IN_PROGRESS");
    assert_eq!(after.returns.len(), 1);
    assert_eq!(after.returns[0].id, created.id);
    assert_eq!(
        after.returns[0].lines,
        vec![ReturnLine {
            fulfillment_line_item_id: Some(fulfilled[0].id.clone()),
            line_item_id: Some(order.lines[0].clone()),
            quantity: 2,
        }]
    );
    assert!(!after.more_lines);

    // Two more of the first line: only one is left to return.
    let over = client
        .return_create(&NewReturn {
            lines: vec![NewReturnLine {
                quantity: 2,
                ..new.lines[0].clone()
            }],
            ..new.clone()
        })
        .await
        .unwrap();
    assert_eq!(over.created, None);
    assert_eq!(
        over.user_errors[0].field,
        ["returnInput", "returnLineItems", "0", "quantity"]
    );
    assert_eq!(
        client.order_returns("gid://shopify/Order/1").await.unwrap(),
        None
    );

    // The two returned units refunded at what the order charged, once per key.
    let refundable = client.order_refundable(&order.gid).await.unwrap().unwrap();
    let money = |cents| rust_decimal::Decimal::new(cents, 2);
    assert_eq!(
        (refundable.received, refundable.refunded),
        (money(2000), money(0))
    );
    assert_eq!(refundable.lines[0].unit_price, money(500));
    assert_eq!(refundable.lines[0].refundable_quantity, 3);
    let payment = refundable.payment.clone();
    assert!(payment.is_some(), "paid through a transaction");
    let refund = NewRefund {
        order_id: order.gid.clone(),
        lines: vec![(order.lines[0].clone(), 2)],
        shipping: money(0),
        amount: money(1000),
        payment,
        note: "PULPO return RT000001".into(),
        notify: false,
    };
    let made = client.refund_create(&refund, "refund-key-1").await.unwrap();
    assert_eq!(made.user_errors, vec![]);
    let again = client.refund_create(&refund, "refund-key-1").await.unwrap();
    assert_eq!(again.refund_id, made.refund_id, "one refund per key");
    let after = client.order_refundable(&order.gid).await.unwrap().unwrap();
    assert_eq!(after.refunded, money(1000));
    assert_eq!(after.lines[0].refundable_quantity, 1);
    assert_eq!(
        after.refunds,
        [(
            made.refund_id.unwrap(),
            Some("PULPO return RT000001".to_string())
        )]
    );
    // More than is left to refund is a user error.
    let over = client
        .refund_create(
            &NewRefund {
                lines: Vec::new(),
                amount: money(5000),
                ..refund
            },
            "refund-key-2",
        )
        .await
        .unwrap();
    assert_eq!(over.refund_id, None);
    assert_eq!(over.user_errors[0].field, ["transactions"]);
}
