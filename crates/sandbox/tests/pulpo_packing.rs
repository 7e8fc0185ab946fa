//! PULPO sandbox: shipping through the control API and reading the result through PULPO's
//! packing endpoints.

mod pulpo_support;

use pulpo_support::{Harness, id_of, order_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn shipments_leave_packing_orders_boxes_and_trackings() {
    let harness = Harness::start().await;
    let [product, other] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    harness
        .control_put(
            &format!("/inventory/products/{product}/stock"),
            &json!({"warehouse_id": 1, "quantity": 10}),
        )
        .await;
    let mut body = order_body("4711_1", product, 2);
    body["items"]
        .as_array_mut()
        .expect("items")
        .push(json!({"product_id": other, "quantity": 1, "line_order_id": "L-other"}));
    let order = harness.create_order(&body).await;
    let id = id_of(&order);

    let (status, first) = harness
        .control_post(
            &format!("/sales/orders/{id}/ship"),
            &json!({
                "carrier_code": "SEUR",
                "tracking_number": "SEUR-0001",
                "tracking_url": "https://track.example/SEUR-0001",
                "items": [{"line_order_id": "4711_1-1", "quantity": 2}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["sales_order"]["state"], "packing");
    assert_eq!(first["sales_order"]["items"][0]["fulfilled_quantity"], 2);
    assert_eq!(first["sales_order"]["items"][1]["fulfilled_quantity"], 0);
    assert_eq!(harness.sandbox.state.stock(product, 1), 8);

    let (status, body) = harness
        .get(&format!("/packing/orders?sales_order_id={id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_results"], 1);
    let packing_order = &body["packing_orders"][0];
    assert_eq!(packing_order["state"], "taken");
    assert_eq!(packing_order["sales_order_ref"], "4711_1");
    assert_eq!(packing_order["items"][0]["packed_quantity"], 2);
    assert_eq!(packing_order["items"][1]["packed_quantity"], 0);
    let packing_order_id = id_of(packing_order);

    let (status, body) = harness
        .get(&format!("/packing/orders/{packing_order_id}/boxes"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_results"], 1);
    let first_box = &body["packing_boxes"][0];
    assert_eq!(first_box["box_number"], 1);
    assert_eq!(
        first_box["items"],
        json!([{
            "id": first_box["items"][0]["id"], "packing_box_id": first_box["id"],
            "product_id": product, "quantity": 2, "line_order_id": "4711_1-1",
            "attributes": null, "inserted_at": first_box["inserted_at"],
            "updated_at": first_box["updated_at"],
        }])
    );
    let (status, body) = harness
        .get(&format!(
            "/packing/orders/{packing_order_id}/boxes/{}/shipment_tracking",
            id_of(first_box)
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_results"], 1);
    let tracking = &body["shipment_trackings"][0];
    assert_eq!(tracking["carrier_code"], "SEUR");
    assert_eq!(tracking["tracking_code"], "SEUR-0001");
    assert_eq!(tracking["tracking_url"], "https://track.example/SEUR-0001");
    assert_eq!(tracking["packing_box_id"], first_box["id"]);

    // The rest, with no items named: everything not shipped yet.
    let since = first["packing_order"]["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_string();
    let (status, second) = harness
        .control_post(
            &format!("/sales/orders/{id}/ship"),
            &json!({"carrier_code": "GLS", "tracking_number": "GLS-0002"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["sales_order"]["state"], "ended");
    assert_eq!(second["packing_box"]["box_number"], 2);
    assert_eq!(
        harness.sandbox.state.sales_order(id).expect("stored").items[1].fulfilled_quantity,
        1
    );

    let (_, body) = harness
        .send(
            harness
                .http
                .get(harness.url("/packing/orders"))
                .bearer_auth(&harness.token)
                .query(&[
                    ("updated_at", format!("gt:{since}")),
                    ("state", "ended".into()),
                ]),
        )
        .await;
    assert_eq!(body["total_results"], 1, "{body}");
    assert_eq!(body["packing_orders"][0]["id"], packing_order_id);
    let (_, body) = harness
        .get(&format!("/packing/orders/{packing_order_id}/boxes"))
        .await;
    assert_eq!(body["total_results"], 2);
    let (_, body) = harness
        .get("/packing/orders/boxes/search?tracking_code=GLS-0002")
        .await;
    assert_eq!(body["total_results"], 1);
    assert_eq!(body["packing_boxes"][0]["id"], second["packing_box"]["id"]);
    let (_, body) = harness
        .get(&format!("/packing/orders/boxes/search?product_id={other}"))
        .await;
    assert_eq!(body["packing_boxes"][0]["id"], second["packing_box"]["id"]);

    // A box looked up under another packing order has no trackings.
    let (_, body) = harness
        .get(&format!(
            "/packing/orders/{}/boxes/{}/shipment_tracking",
            packing_order_id + 1,
            id_of(first_box)
        ))
        .await;
    assert_eq!(body, json!({"shipment_trackings": [], "total_results": 0}));
}

#[tokio::test]
async fn shipments_that_cannot_happen_are_refused() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let order = harness.create_order(&order_body("X1", product, 1)).await;
    let id = id_of(&order);
    let ship = |body: Value| {
        let harness = &harness;
        async move {
            harness
                .control_post(&format!("/sales/orders/{id}/ship"), &body)
                .await
        }
    };

    let (status, body) = ship(json!({
        "carrier_code": "SEUR", "tracking_number": "T",
        "items": [{"product_id": product, "quantity": 2}],
    }))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .expect("an error")
            .contains("items[0].quantity")
    );
    let (status, _) = ship(json!({
        "carrier_code": "SEUR", "tracking_number": "T",
        "items": [{"line_order_id": "nope", "quantity": 1}],
    }))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = ship(json!({"carrier_code": "SEUR"})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "tracking number is required"
    );

    harness
        .post(&format!("/sales/orders/{id}/cancel"), &Value::Null)
        .await;
    let (status, body) = ship(json!({"carrier_code": "SEUR", "tracking_number": "T"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .expect("an error")
            .contains("cancelled")
    );
    let (status, _) = harness
        .control_post(
            "/sales/orders/999/ship",
            &json!({"carrier_code": "SEUR", "tracking_number": "T"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = harness.get("/packing/orders").await;
    assert_eq!(body, json!({"packing_orders": [], "total_results": 0}));
}
