//! The Shopify sandbox's control API (`/sandbox/…`) over real HTTP: creating, changing,
//! cancelling and moving orders, and the runtime knobs.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tentacle_sandbox::catalog::{SHARED_WAREHOUSES, SHOP_ONLY_LOCATION};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

struct Control {
    sandbox: ShopifySandbox,
    client: reqwest::Client,
}

impl Control {
    async fn start() -> Control {
        let sandbox = ShopifySandbox::start(ShopifyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            orders: 0,
            ..ShopifyConfig::default()
        })
        .await
        .unwrap();
        Control {
            sandbox,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.shop_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.patch(self.url(path)).json(&body))
            .await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }

    /// Creates an order and returns its REST JSON as `GET /sandbox/orders/{id}` shows it.
    async fn create(&self, order: Value) -> Value {
        let (status, created) = self.post("/sandbox/orders", order).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        self.order(created["id"].as_u64().unwrap()).await
    }

    async fn order(&self, id: u64) -> Value {
        let (status, body) = self.get(&format!("/sandbox/orders/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["order"].clone()
    }

    async fn location(&self, name: &str) -> u64 {
        let (_, body) = self.get("/sandbox/locations").await;
        body["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()["id"]
            .as_u64()
            .unwrap()
    }

    /// SKUs of catalog products that need shipping.
    async fn physical_skus(&self) -> Vec<String> {
        let (_, body) = self.get("/sandbox/variants").await;
        body["variants"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["requires_shipping"] == true)
            .map(|v| v["sku"].as_str().unwrap().to_string())
            .take(3)
            .collect()
    }
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

fn fo_lines(order: &Value) -> Vec<(u64, u64, i64, i64)> {
    order["fulfillment_orders"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|fo| {
            let location = fo["assigned_location_id"].as_u64().unwrap();
            fo["line_items"].as_array().unwrap().iter().map(move |l| {
                (
                    location,
                    l["line_item_id"].as_u64().unwrap(),
                    l["quantity"].as_i64().unwrap(),
                    l["fulfillable_quantity"].as_i64().unwrap(),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn create_order_answers_ids_and_fills_in_the_rest() {
    let control = Control::start().await;
    let skus = control.physical_skus().await;
    let (status, created) = control
        .post(
            "/sandbox/orders",
            json!({"line_items": [{"sku": skus[0], "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_u64().unwrap();
    assert!(id > u64::from(u32::MAX));
    assert_eq!(
        created["admin_graphql_api_id"],
        format!("gid://shopify/Order/{id}")
    );
    assert_eq!(created["name"], "#1001");

    let order = control.order(id).await;
    assert_eq!(order["financial_status"], "pending");
    assert_eq!(order["line_items"][0]["sku"], skus[0].as_str());
    assert_eq!(order["line_items"][0]["requires_shipping"], true);
    assert!(
        order["line_items"][0]["price"]
            .as_str()
            .unwrap()
            .contains('.')
    );
    let primary = control.location(SHARED_WAREHOUSES[0]).await;
    let line_id = order["line_items"][0]["id"].as_u64().unwrap();
    assert_eq!(fo_lines(&order), [(primary, line_id, 2, 2)]);
    assert_eq!(order["fulfillment_orders"][0]["status"], "open");

    // Shopify's REST wrapper is accepted too, and the gid can be used in the path.
    let (status, wrapped) = control
        .post(
            "/sandbox/orders",
            json!({"order": {"financial_status": "paid",
                             "line_items": [{"sku": "GIFT-25", "quantity": 1}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(wrapped["name"], "#1002");
    let gid = wrapped["admin_graphql_api_id"].as_str().unwrap();
    let (status, by_gid) = control
        .get(&format!("/sandbox/orders/{}", gid.replace('/', "%2F")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        by_gid["order"]["fulfillment_orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let (_, listed) = control.get("/sandbox/orders").await;
    assert_eq!(listed["orders"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn create_order_validation_names_the_field() {
    let control = Control::start().await;
    let sku = control.physical_skus().await.remove(0);
    let line = |quantity: Value| json!({"line_items": [{"sku": sku, "quantity": quantity}]});
    let cases = [
        (
            line(json!(0)),
            "line_items[0].quantity must be a positive integer",
        ),
        (
            line(json!("2")),
            "line_items[0].quantity must be a positive integer",
        ),
        (
            line(json!(1.5)),
            "line_items[0].quantity must be a positive integer",
        ),
        (
            json!({"line_items": []}),
            "line_items must be a non-empty array",
        ),
        (json!({}), "line_items must be a non-empty array"),
        (
            json!({"line_items": [{"sku": "NOPE", "quantity": 1}]}),
            "line_items[0].title is required",
        ),
        (
            json!({"financial_status": "bezahlt", "line_items": [{"sku": sku, "quantity": 1}]}),
            "financial_status must be one of",
        ),
        (
            json!({"cancel_reason": "fraud", "line_items": [{"sku": sku, "quantity": 1}]}),
            "cancel_reason needs cancelled_at",
        ),
        (
            json!({"created_at": "yesterday", "line_items": [{"sku": sku, "quantity": 1}]}),
            "created_at must be an ISO-8601 timestamp",
        ),
        (
            json!({"shipping_address": "Calle Mayor 1", "line_items": [{"sku": sku, "quantity": 1}]}),
            "shipping_address must be a JSON object",
        ),
        (
            json!({"line_items": [{"sku": sku, "quantity": 1, "price": "-3"}]}),
            "line_items[0].price must be a non-negative amount",
        ),
        (
            json!({"fulfillment_status": "partial", "line_items": [{"sku": sku, "quantity": 1}]}),
            "fulfillment_status: partial needs more than one unit",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = control.post("/sandbox/orders", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(error_of(&answer).contains(message), "{body}: {answer}");
    }
    let response = control
        .client
        .post(control.url("/sandbox/orders"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let (status, created) = control
        .post(
            "/sandbox/orders",
            json!({"id": 77, "line_items": [{"sku": sku, "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["id"], 77);
    let (status, again) = control
        .post(
            "/sandbox/orders",
            json!({"id": 77, "line_items": [{"sku": sku, "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&again), "id: order 77 already exists");
}

#[tokio::test]
async fn patch_changes_fields_and_moves_updated_at() {
    let control = Control::start().await;
    let skus = control.physical_skus().await;
    let order = control
        .create(
            json!({"financial_status": "pending", "note": "old", "tags": "a",
                       "line_items": [{"sku": skus[0], "quantity": 1}]}),
        )
        .await;
    let id = order["id"].as_u64().unwrap();
    let (status, patched) = control
        .patch(
            &format!("/sandbox/orders/{id}"),
            json!({
                "financial_status": "paid",
                "tags": "vip, Black Friday",
                "note": null,
                "email": "jürgen@example.de",
                "shipping_address": {"first_name": "Jürgen", "last_name": "Weiß",
                                     "address1": "Schloßallee 5", "city": "München",
                                     "zip": "80331", "country_code": "DE"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let patched = &patched["order"];
    assert_eq!(patched["financial_status"], "paid");
    assert_eq!(patched["tags"], "Black Friday, vip");
    assert_eq!(patched["note"], Value::Null);
    assert_eq!(patched["email"], "jürgen@example.de");
    assert_eq!(patched["shipping_address"]["address1"], "Schloßallee 5");
    assert_eq!(patched["shipping_address"]["name"], "Jürgen Weiß");
    let before = DateTime::parse_from_rfc3339(order["updated_at"].as_str().unwrap()).unwrap();
    let after = DateTime::parse_from_rfc3339(patched["updated_at"].as_str().unwrap()).unwrap();
    assert!(
        after > before,
        "updated_at moves forward: {before} → {after}"
    );
    assert_eq!(control.order(id).await["tags"], "Black Friday, vip");
}

#[tokio::test]
async fn patch_line_quantities_adjust_fulfillment_orders() {
    let control = Control::start().await;
    let skus = control.physical_skus().await;
    let order = control
        .create(json!({"financial_status": "paid", "line_items": [
            {"sku": skus[0], "quantity": 3}, {"sku": skus[1], "quantity": 1}]}))
        .await;
    let id = order["id"].as_u64().unwrap();
    let (a, b) = (
        order["line_items"][0]["id"].as_u64().unwrap(),
        order["line_items"][1]["id"].as_u64().unwrap(),
    );
    let primary = control.location(SHARED_WAREHOUSES[0]).await;
    let (status, patched) = control
        .patch(
            &format!("/sandbox/orders/{id}"),
            json!({"line_items": [{"id": a, "quantity": 5}, {"id": b, "quantity": 0}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let patched = &patched["order"];
    assert_eq!(patched["line_items"][0]["current_quantity"], 5);
    assert_eq!(patched["line_items"][1]["current_quantity"], 0);
    assert_eq!(fo_lines(patched), [(primary, a, 5, 5), (primary, b, 0, 0)]);
    assert_eq!(patched["fulfillment_orders"][0]["status"], "open");

    // A partially shipped line cannot drop below what shipped; above it, the rest follows.
    let partial = control
        .create(json!({"financial_status": "paid", "fulfillment_status": "partial",
                       "line_items": [{"id": 9_000_000_000_001u64, "sku": skus[2], "quantity": 4}],
                       "fulfillments": [{"line_items": [{"id": 9_000_000_000_001u64, "quantity": 1}]}]}))
        .await;
    let pid = partial["id"].as_u64().unwrap();
    let (status, refused) = control
        .patch(
            &format!("/sandbox/orders/{pid}"),
            json!({"line_items": [{"id": 9_000_000_000_001u64, "quantity": 0}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&refused),
        "line_items[0].quantity: 1 units of line item 9000000000001 are already fulfilled"
    );
    let (_, shrunk) = control
        .patch(
            &format!("/sandbox/orders/{pid}"),
            json!({"line_items": [{"id": 9_000_000_000_001u64, "quantity": 1}]}),
        )
        .await;
    let shrunk = &shrunk["order"];
    assert_eq!(shrunk["fulfillment_status"], "fulfilled");
    assert_eq!(shrunk["fulfillment_orders"][0]["status"], "closed");
    // Growing a line whose fulfillment order is closed opens a new one at the same location.
    let (_, grown) = control
        .patch(
            &format!("/sandbox/orders/{pid}"),
            json!({"line_items": [{"id": 9_000_000_000_001u64, "quantity": 3}]}),
        )
        .await;
    let grown = &grown["order"];
    assert_eq!(grown["fulfillment_status"], "partial");
    assert_eq!(
        fo_lines(grown),
        [
            (primary, 9_000_000_000_001, 1, 0),
            (primary, 9_000_000_000_001, 2, 2)
        ]
    );
}

#[tokio::test]
async fn patch_validation_names_the_field() {
    let control = Control::start().await;
    let sku = control.physical_skus().await.remove(0);
    let order = control
        .create(json!({"line_items": [{"sku": sku, "quantity": 1}]}))
        .await;
    let path = format!("/sandbox/orders/{}", order["id"]);
    for (body, status, message) in [
        (
            json!({"colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour cannot be changed here",
        ),
        (
            json!({"financial_status": "bezahlt"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "financial_status must be one of",
        ),
        (
            json!({"line_items": [{"id": 1, "quantity": 2}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line_items[0].id: no line item 1 in order #1001",
        ),
        (
            json!({"line_items": [{"id": order["line_items"][0]["id"], "quantity": -1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line_items[0].quantity must be a non-negative integer",
        ),
        (
            json!({"fulfillment_status": "fulfilled"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "fulfillment_status must be on_hold",
        ),
        (
            json!({"tags": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tags must be a string",
        ),
    ] {
        let (got, answer) = control.patch(&path, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(error_of(&answer).contains(message), "{body}: {answer}");
    }
    let (status, answer) = control
        .patch("/sandbox/orders/123", json!({"note": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&answer), "no order 123");
    let (status, _) = control
        .patch("/sandbox/orders/abc", json!({"note": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = control.get("/sandbox/orders/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn holds_change_fulfillment_order_states() {
    let control = Control::start().await;
    let sku = control.physical_skus().await.remove(0);
    let order = control
        .create(json!({"financial_status": "paid", "line_items": [{"sku": sku, "quantity": 1}]}))
        .await;
    let path = format!("/sandbox/orders/{}", order["id"]);
    let (_, held) = control
        .patch(&path, json!({"fulfillment_status": "on_hold"}))
        .await;
    assert_eq!(held["order"]["fulfillment_orders"][0]["status"], "on_hold");
    let (_, found) = control
        .send(
            control
                .client
                .get(control.url("/sandbox/orders"))
                .query(&[("query", "fulfillment_status:on_hold")]),
        )
        .await;
    assert_eq!(found["orders"][0]["id"], order["id"]);
    let (_, released) = control
        .patch(&path, json!({"fulfillment_status": "unfulfilled"}))
        .await;
    assert_eq!(released["order"]["fulfillment_orders"][0]["status"], "open");
    let (status, answer) = control
        .patch(&path, json!({"fulfillment_status": "unfulfilled"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&answer).starts_with("fulfillment_status:"));
}

#[tokio::test]
async fn cancel_closes_fulfillment_orders_once() {
    let control = Control::start().await;
    let sku = control.physical_skus().await.remove(0);
    let paid = control
        .create(json!({"financial_status": "paid", "line_items": [{"sku": sku, "quantity": 2}]}))
        .await;
    let path = format!("/sandbox/orders/{}/cancel", paid["id"]);
    let (status, cancelled) = control.post(&path, json!({"reason": "customer"})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let cancelled = &cancelled["order"];
    assert!(cancelled["cancelled_at"].is_string());
    assert_eq!(cancelled["cancel_reason"], "customer");
    assert_eq!(cancelled["fulfillment_orders"][0]["status"], "closed");
    assert_eq!(cancelled["financial_status"], "paid");
    assert_eq!(
        cancelled["closed_at"],
        Value::Null,
        "a paid order stays open"
    );
    assert_eq!(cancelled["line_items"][0]["fulfillable_quantity"], 0);

    let (status, again) = control.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error_of(&again),
        "Cannot cancel an order that has already been canceled"
    );
    let (status, patched) = control
        .patch(
            &format!("/sandbox/orders/{}", paid["id"]),
            json!({"line_items": [{"id": paid["line_items"][0]["id"], "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&patched).contains("is cancelled"));

    let pending = control
        .create(json!({"line_items": [{"sku": sku, "quantity": 1}]}))
        .await;
    let (status, answer) = control
        .post(
            &format!("/sandbox/orders/{}/cancel", pending["id"]),
            json!({"reason": "whim"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&answer).starts_with("reason must be one of"));
    // No body: reason "other"; nothing was paid, so the order closes.
    let response = control
        .client
        .post(control.url(&format!("/sandbox/orders/{}/cancel", pending["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["order"]["cancel_reason"], "other");
    assert_eq!(order["order"]["closed_at"], order["order"]["cancelled_at"]);

    let refunded = control
        .create(json!({"financial_status": "paid", "line_items": [{"sku": sku, "quantity": 1}]}))
        .await;
    let (_, order) = control
        .post(
            &format!("/sandbox/orders/{}/cancel", refunded["id"]),
            json!({"reason": "inventory", "refund": true}),
        )
        .await;
    assert_eq!(order["order"]["financial_status"], "refunded");

    let (status, _) = control.post("/sandbox/orders/5/cancel", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, found) = control
        .send(
            control
                .client
                .get(control.url("/sandbox/orders"))
                .query(&[("query", "status:cancelled")]),
        )
        .await;
    assert_eq!(found["orders"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn move_fulfillment_orders_between_locations() {
    let control = Control::start().await;
    let skus = control.physical_skus().await;
    let barcelona = control.location(SHARED_WAREHOUSES[1]).await;
    let valencia = control.location(SHOP_ONLY_LOCATION).await;
    let madrid = control.location(SHARED_WAREHOUSES[0]).await;
    let order = control
        .create(json!({"financial_status": "paid", "line_items": [
            {"sku": skus[0], "quantity": 2}, {"sku": skus[1], "quantity": 1}]}))
        .await;
    let fo_id = order["fulfillment_orders"][0]["id"].as_u64().unwrap();
    let path = format!("/sandbox/fulfillment_orders/{fo_id}/move");

    let (status, moved) = control.post(&path, json!({"location_id": barcelona})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["moved_fulfillment_order"]["id"], fo_id);
    assert_eq!(
        moved["moved_fulfillment_order"]["assigned_location"]["name"],
        SHARED_WAREHOUSES[1]
    );
    let id = order["id"].as_u64().unwrap();
    assert_eq!(
        control.order(id).await["fulfillment_orders"][0]["assigned_location_id"],
        barcelona
    );

    for (body, status, message) in [
        (
            json!({"location_id": barcelona}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is already at location",
        ),
        (
            json!({"location_id": 12}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "location_id: no location 12",
        ),
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "location_id is required",
        ),
        (
            json!({"location_id": madrid, "line_items": [{"id": 1, "quantity": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "line_items[0].id: no line 1",
        ),
    ] {
        let (got, answer) = control.post(&path, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(error_of(&answer).contains(message), "{body}: {answer}");
    }
    let (status, _) = control
        .post(
            "/sandbox/fulfillment_orders/42/move",
            json!({"location_id": madrid}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Moving one unit of the first line back splits the order over both warehouses.
    let fo_line = order["fulfillment_orders"][0]["line_items"][0]["id"]
        .as_u64()
        .unwrap();
    let (status, split) = control
        .post(
            &path,
            json!({"location_id": madrid, "line_items": [{"id": fo_line, "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{split}");
    let a = order["line_items"][0]["id"].as_u64().unwrap();
    let b = order["line_items"][1]["id"].as_u64().unwrap();
    assert_eq!(
        fo_lines(&control.order(id).await),
        [
            (barcelona, a, 1, 1),
            (barcelona, b, 1, 1),
            (madrid, a, 1, 1)
        ]
    );
    let (status, too_many) = control
        .post(
            &path,
            json!({"location_id": valencia, "line_items": [{"id": fo_line, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&too_many).contains("only 1 units"));

    // A partly shipped fulfillment order moves what is left; the original closes.
    let partial = control
        .create(
            json!({"financial_status": "paid", "fulfillment_status": "partial",
                       "line_items": [{"sku": skus[2], "quantity": 3}]}),
        )
        .await;
    let partial_fo = partial["fulfillment_orders"][0]["id"].as_u64().unwrap();
    let (status, moved) = control
        .post(
            &format!("/sandbox/fulfillment_orders/{partial_fo}/move"),
            json!({"location_id": valencia}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["original_fulfillment_order"]["status"], "closed");
    assert_eq!(
        moved["moved_fulfillment_order"]["line_items"][0]["fulfillable_quantity"],
        1
    );
    let (status, closed) = control
        .post(
            &format!("/sandbox/fulfillment_orders/{partial_fo}/move"),
            json!({"location_id": madrid}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&closed).contains("is closed and cannot be moved"));
}

#[tokio::test]
async fn faults_stats_index_lag_and_listings() {
    let control = Control::start().await;
    let (status, faults) = control.get("/sandbox/faults").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["error_share"], 0.0);
    let (status, faults) = control
        .put("/sandbox/faults", json!({"error_share": 1.0}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faults["error_share"], 1.0);
    let response = control
        .client
        .post(control.sandbox.graphql_url("2026-10"))
        .json(&json!({"query": "{ shop { name } }"}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_server_error(),
        "the Admin API is faulted"
    );
    let (status, _) = control.get("/sandbox/orders").await;
    assert_eq!(status, StatusCode::OK, "the control API never is");
    let (status, refused) = control
        .put("/sandbox/faults", json!({"error_share": 2.0}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&refused).contains("error_share"));

    let (status, stats) = control.get("/sandbox/stats").await;
    assert_eq!(status, StatusCode::OK);
    for key in ["requests", "points_charged", "throttled"] {
        assert!(stats[key].is_u64(), "{key}");
    }

    let (_, lag) = control.get("/sandbox/index_lag").await;
    assert_eq!(lag["seconds"], 0.0);
    let (status, lag) = control
        .put("/sandbox/index_lag", json!({"seconds": 2.5}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lag["seconds"], 2.5);
    assert_eq!(control.get("/sandbox/index_lag").await.1["seconds"], 2.5);
    let (status, refused) = control
        .put("/sandbox/index_lag", json!({"seconds": -1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(&refused).starts_with("seconds"));

    let (_, locations) = control.get("/sandbox/locations").await;
    let names: Vec<&str> = locations["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            SHARED_WAREHOUSES[0],
            SHARED_WAREHOUSES[1],
            SHOP_ONLY_LOCATION
        ]
    );
    let (_, variants) = control.get("/sandbox/variants").await;
    let tracked = variants["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["inventory_management"] == "shopify")
        .unwrap();
    assert!(tracked["inventory_item_id"].is_u64());
    assert!(!tracked["inventory_levels"].as_array().unwrap().is_empty());
    let (_, webhooks) = control.get("/sandbox/webhooks").await;
    assert_eq!(webhooks["configured"], false);
}
