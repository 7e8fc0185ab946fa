//! PULPO sandbox: sales orders (create, validation, search, replace, cancel, bulk).

mod pulpo_support;

use pulpo_support::{Harness, id_of, order_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The `ErrorsList` keys of a 4xx body.
fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("an ErrorsList: {body}"))
        .iter()
        .flat_map(|error| {
            error
                .as_object()
                .expect("an Error object")
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn created_orders_read_back_with_pulpos_fields() {
    let harness = Harness::start().await;
    let [product, other] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    let mut body = order_body("1001_1", product, 2);
    body["items"]
        .as_array_mut()
        .expect("items")
        .push(json!({"product_id": other, "quantity": 1, "line_order_id": "L2"}));
    body["third_party_id"] = json!(1);
    body["channel"] = json!("shopify");
    body["attributes"] = json!({"shopify_order_id": "gid://shopify/Order/1"});
    let created = harness.create_order(&body).await;

    assert_eq!(created["order_num"], "1001_1");
    assert_eq!(created["state"], "queue");
    assert_eq!(created["type"], "sales_order");
    assert_eq!(created["warehouse_id"], 1);
    assert_eq!(created["third_party_id"], 1);
    assert_eq!(
        created["attributes"]["shopify_order_id"],
        "gid://shopify/Order/1"
    );
    assert_eq!(created["ship_to"]["address"]["street"], "Calle Mayor 1");
    assert_eq!(created["inserted_at"], created["updated_at"]);
    let items = created["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["product_id"], product);
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(items[0]["fulfilled_quantity"], 0);
    assert_eq!(items[0]["state"], "queue");
    assert_eq!(items[0]["sales_order_id"], created["id"]);
    assert_ne!(items[0]["id"], items[1]["id"]);

    let id = id_of(&created);
    let (status, shown) = harness.get(&format!("/sales/orders/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, created);
    let stored = harness
        .sandbox
        .state
        .sales_order_by_num("1001_1")
        .expect("stored");
    assert_eq!(stored.id, id);
    assert_eq!(harness.sandbox.state.sales_orders().len(), 1);

    let (status, body) = harness.get("/sales/orders/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = harness.get("/sales/orders/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_fields(&body), ["id"]);
}

#[tokio::test]
async fn duplicate_order_num_is_refused_naming_order_num() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    harness
        .create_order(&order_body("1002_1", product, 1))
        .await;
    let (status, body) = harness
        .post("/sales/orders", &order_body("1002_1", product, 3))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": [{"order_num": "has already been taken"}]})
    );
    assert_eq!(harness.sandbox.state.sales_orders().len(), 1);
}

#[tokio::test]
async fn invalid_orders_are_refused_naming_the_field() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];

    let mut no_street = order_body("A", product, 1);
    no_street["ship_to"]["address"]
        .as_object_mut()
        .expect("address")
        .remove("street");
    let (status, body) = harness.post("/sales/orders", &no_street).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": [{"ship_to.address.street": "can't be blank"}]})
    );

    let mut no_ship_to = order_body("A", product, 1);
    no_ship_to.as_object_mut().expect("body").remove("ship_to");
    let (_, body) = harness.post("/sales/orders", &no_ship_to).await;
    assert_eq!(error_fields(&body), ["ship_to"]);

    let (status, body) = harness
        .post("/sales/orders", &order_body("A", 999_999, 1))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": [{"items[0].product_id": "does not exist"}]})
    );

    let mut several = order_body("", product, 0);
    several["third_party_id"] = json!(777);
    several["warehouse_id"] = json!(42);
    let (_, body) = harness.post("/sales/orders", &several).await;
    assert_eq!(
        error_fields(&body),
        [
            "order_num",
            "warehouse_id",
            "third_party_id",
            "items[0].quantity"
        ]
    );

    let mut wrong_type = order_body("A", product, 1);
    wrong_type["items"][0]["quantity"] = json!("two");
    let (status, body) = harness.post("/sales/orders", &wrong_type).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["items[0].quantity"]);

    let (status, body) = harness
        .send(
            harness
                .http
                .post(harness.url("/sales/orders"))
                .bearer_auth(&harness.token)
                .body("{not json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(harness.sandbox.state.sales_orders().is_empty());
}

#[tokio::test]
async fn search_filters_paginate_and_sort() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let first = harness.create_order(&order_body("S1", product, 1)).await;
    let second = harness.create_order(&order_body("S2", product, 1)).await;
    let mut third_body = order_body("S3", product, 1);
    third_body["warehouse_id"] = json!(2);
    let third = harness.create_order(&third_body).await;
    harness.advance(id_of(&first)).await;

    let nums = |body: &Value| -> Vec<String> {
        body["sales_orders"]
            .as_array()
            .expect("sales_orders")
            .iter()
            .map(|o| o["order_num"].as_str().expect("order_num").to_string())
            .collect()
    };
    let (status, body) = harness.get("/sales/orders?order_num=S2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (nums(&body), &body["total_results"]),
        (vec!["S2".into()], &json!(1))
    );
    let (_, body) = harness.get("/sales/orders?state=picking").await;
    assert_eq!(nums(&body), ["S1"]);
    let (_, body) = harness.get("/sales/orders?state=queue").await;
    assert_eq!(nums(&body), ["S2", "S3"]);
    let (_, body) = harness.get("/sales/orders?warehouse_id=2").await;
    assert_eq!(nums(&body), ["S3"]);
    let (_, body) = harness
        .get(&format!(
            "/sales/orders?id=to_list:{},{}",
            id_of(&first),
            id_of(&third)
        ))
        .await;
    assert_eq!(nums(&body), ["S1", "S3"]);

    // S1 changed (advanced) after S3 was created: it is the newest change.
    let since = third["updated_at"].as_str().expect("updated_at");
    let (status, body) = harness
        .send(
            harness
                .http
                .get(harness.url("/sales/orders"))
                .bearer_auth(&harness.token)
                .query(&[("updated_at", format!("gte:{since}"))]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(nums(&body), ["S1", "S3"]);
    let (_, body) = harness
        .send(
            harness
                .http
                .get(harness.url("/sales/orders"))
                .bearer_auth(&harness.token)
                .query(&[("updated_at", format!("gt:{since}"))]),
        )
        .await;
    assert_eq!(nums(&body), ["S1"]);
    let (_, body) = harness
        .get("/sales/orders?updated_at=lt:2000-01-01%2000:00:00")
        .await;
    assert_eq!(body["total_results"], 0);

    let (_, body) = harness
        .get("/sales/orders?sort_by=updated_at:desc&limit=2")
        .await;
    assert_eq!(
        (nums(&body), &body["total_results"]),
        (vec!["S1".into(), "S3".into()], &json!(3))
    );
    let (_, body) = harness.get("/sales/orders?limit=2&offset=2").await;
    assert_eq!(nums(&body), ["S3"]);
    assert_eq!(second["state"], "queue");

    let (status, body) = harness.get("/sales/orders?updated_at=gte:yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&body), ["updated_at"]);
}

#[tokio::test]
async fn put_replaces_queued_orders_only() {
    let harness = Harness::start().await;
    let [product, other] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    let created = harness.create_order(&order_body("P1", product, 1)).await;
    let id = id_of(&created);

    let mut replacement = order_body("P1", other, 5);
    replacement["notes"] = json!("leave at the door");
    let (status, replaced) = harness
        .put(&format!("/sales/orders/{id}"), &replacement)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["notes"], "leave at the door");
    assert_eq!(replaced["items"][0]["product_id"], other);
    assert_eq!(replaced["items"][0]["quantity"], 5);
    assert_eq!(replaced["inserted_at"], created["inserted_at"]);
    assert!(
        replaced["updated_at"].as_str() > created["updated_at"].as_str(),
        "updated_at moves forward"
    );

    harness.advance(id).await;
    let (status, body) = harness
        .put(&format!("/sales/orders/{id}"), &replacement)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["state"]);
    let (status, _) = harness
        .put("/sales/orders/4242", &order_body("X", product, 1))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cancel_follows_pulpos_state_rules() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let cancel = |id: i64| {
        let harness = &harness;
        async move {
            harness
                .post(&format!("/sales/orders/{id}/cancel"), &Value::Null)
                .await
        }
    };

    let queued = harness.create_order(&order_body("C1", product, 1)).await;
    let (status, body) = cancel(id_of(&queued)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "cancelled");
    assert_eq!(body["items"][0]["state"], "cancelled");
    assert!(body["updated_at"].as_str() > queued["updated_at"].as_str());
    let (status, _) = cancel(id_of(&queued)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "already cancelled"
    );

    let ended = id_of(&harness.create_order(&order_body("C2", product, 1)).await);
    for _ in 0..3 {
        harness.advance(ended).await;
    }
    let (status, body) = cancel(ended).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["state"]);

    let picking = id_of(&harness.create_order(&order_body("C3", product, 1)).await);
    harness.advance(picking).await;
    let (status, _) = harness
        .control_put("/packing_locations", &json!({"free": 0}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = cancel(picking).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&body), ["packing_location_id"]);
    harness
        .control_put("/packing_locations", &json!({"free": 1}))
        .await;
    let (status, body) = cancel(picking).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "cancelled");

    let (status, _) = cancel(9_999).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bulk_create_continues_past_failures_and_reports_them() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let (status, body) = harness
        .post(
            "/sales/bulk/orders",
            &json!([order_body("B1", product, 1), order_body("B2", product, 2)]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let created = body["created"].as_array().expect("created");
    assert_eq!(created.len(), 2);
    assert_eq!(created[1]["order_num"], "B2");
    assert_eq!(body.as_object().expect("object").len(), 1, "{body}");

    let (status, body) = harness
        .post(
            "/sales/bulk/orders",
            &json!([
                order_body("B3", product, 1),
                order_body("BAD", 999_999, 1),
                order_body("B1", product, 1),
                order_body("B4", product, 1),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let nums: Vec<&str> = body["created"]
        .as_array()
        .expect("created")
        .iter()
        .map(|o| o["order_num"].as_str().expect("order_num"))
        .collect();
    assert_eq!(nums, ["B3", "B4"]);
    assert_eq!(
        body["errors"],
        json!({
            "BAD": {"items[0].product_id": "does not exist"},
            "B1": {"order_num": "has already been taken"},
        })
    );
    let b4 = harness
        .sandbox
        .state
        .sales_order_by_num("B4")
        .expect("B4 was created after the failures");
    assert_eq!(b4.state.as_str(), "queue");
    assert_eq!(harness.sandbox.state.sales_orders().len(), 4);
}

#[tokio::test]
async fn bulk_update_replaces_by_order_num() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let queued = harness.create_order(&order_body("U1", product, 1)).await;
    let picking = harness.create_order(&order_body("U2", product, 1)).await;
    harness.advance(id_of(&picking)).await;

    let (status, body) = harness
        .put("/sales/bulk/orders", &json!([order_body("U1", product, 7)]))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"updated": [{"id": queued["id"], "order_num": "U1"}]})
    );
    let (_, shown) = harness
        .get(&format!("/sales/orders/{}", id_of(&queued)))
        .await;
    assert_eq!(shown["items"][0]["quantity"], 7);

    let (status, body) = harness
        .put(
            "/sales/bulk/orders",
            &json!([
                order_body("U2", product, 2),
                order_body("NOPE", product, 2),
                order_body("U1", product, 8),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["updated"],
        json!([{"id": queued["id"], "order_num": "U1"}])
    );
    assert_eq!(
        body["errors"]["U2"]["state"],
        "sales order in state picking can not be updated"
    );
    assert_eq!(body["errors"]["NOPE"]["order_num"], "does not exist");
}
