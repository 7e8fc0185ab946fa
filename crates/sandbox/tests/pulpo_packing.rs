//! PULPO sandbox: shipping through the control API (one box or several, trackings set and
//! changed later, lots and serial numbers) and reading the result through PULPO's packing and
//! batch endpoints.

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
            "attributes": null, "batches": [], "inserted_at": first_box["inserted_at"],
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
    assert_eq!(second["packing_boxes"][0]["box_number"], 2);
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
    assert_eq!(
        body["packing_boxes"][0]["id"],
        second["packing_boxes"][0]["id"]
    );
    let (_, body) = harness
        .get(&format!("/packing/orders/boxes/search?product_id={other}"))
        .await;
    assert_eq!(
        body["packing_boxes"][0]["id"],
        second["packing_boxes"][0]["id"]
    );

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
    let (status, body) = ship(json!({"carrier_code": "SEUR"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .expect("an error")
            .contains("tracking_code"),
        "a carrier needs a tracking code"
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

/// Sets a product's `management_type` through the control API.
async fn manage_by(harness: &Harness, product: i64, management_type: &str) {
    let (status, body) = harness
        .send(
            harness
                .http
                .patch(harness.control_url(&format!("/inventory/products/{product}")))
                .json(&json!({"management_type": management_type})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["management_type"], management_type);
}

/// An order of `lines` (`(product, quantity)`, line ids `<order_num>-<n>` from 1); returns its id.
async fn order_with(harness: &Harness, order_num: &str, lines: &[(i64, i64)]) -> i64 {
    let mut body = order_body(order_num, lines[0].0, lines[0].1);
    body["items"] = lines
        .iter()
        .enumerate()
        .map(|(n, (product, quantity))| {
            json!({"product_id": product, "quantity": quantity, "line_order_id": format!("{order_num}-{}", n + 1)})
        })
        .collect();
    id_of(&harness.create_order(&body).await)
}

#[tokio::test]
async fn reaching_packing_queues_a_packing_order() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let id = order_with(&harness, "Q1", &[(product, 1)]).await;
    harness.advance(id).await;
    let (_, body) = harness
        .get(&format!("/packing/orders?sales_order_id={id}"))
        .await;
    assert_eq!(body["total_results"], 0, "picking has no packing order");
    harness.advance(id).await;
    let (_, body) = harness
        .get(&format!("/packing/orders?sales_order_id={id}&state=queue"))
        .await;
    assert_eq!(body["total_results"], 1, "{body}");
    assert_eq!(
        body["packing_orders"][0]["items"][0]["requested_quantity"],
        1
    );
    assert_eq!(body["packing_orders"][0]["start_date"], Value::Null);
    let (_, shipped) = harness
        .control_post(&format!("/sales/orders/{id}/ship"), &json!({}))
        .await;
    assert_eq!(shipped["packing_order"]["state"], "ended", "{shipped}");
    assert_eq!(
        shipped["packing_order"]["id"],
        body["packing_orders"][0]["id"]
    );
    assert_eq!(
        shipped["shipment_trackings"],
        json!([]),
        "no tracking given"
    );
}

#[tokio::test]
async fn one_shipment_fills_several_boxes_and_trackings_change_later() {
    let harness = Harness::start().await;
    let [a, b] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    let first = order_with(&harness, "MB1", &[(a, 3), (b, 1)]).await;
    let other = order_with(&harness, "MB2", &[(a, 1)]).await;
    let (status, shipped) = harness
        .control_post(
            &format!("/sales/orders/{first}/ship"),
            &json!({"boxes": [
                {"carrier_code": "SEUR", "tracking_code": "S-1", "tracking_url": "https://t/S-1",
                 "items": [{"line_order_id": "MB1-1", "quantity": 2}]},
                {"items": [{"line_order_id": "MB1-1", "quantity": 1}, {"product_id": b, "quantity": 1}]},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["sales_order"]["state"], "ended");
    let boxes = shipped["packing_boxes"].as_array().expect("boxes");
    assert_eq!(boxes.len(), 2);
    assert_eq!(
        (
            boxes[0]["box_number"].as_i64(),
            boxes[1]["box_number"].as_i64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(boxes[1]["items"][0]["line_order_id"], "MB1-1");
    assert_eq!(boxes[1]["items"][1]["line_order_id"], "MB1-2");
    assert_eq!(
        shipped["shipment_trackings"].as_array().map(Vec::len),
        Some(1)
    );
    let packing_order_id = id_of(&shipped["packing_order"]);
    let (box_1, box_2) = (id_of(&boxes[0]), id_of(&boxes[1]));
    let trackings = |box_id: i64| {
        let harness = &harness;
        async move {
            let (status, body) = harness
                .get(&format!(
                    "/packing/orders/{packing_order_id}/boxes/{box_id}/shipment_tracking"
                ))
                .await;
            assert_eq!(status, StatusCode::OK);
            body["shipment_trackings"]
                .as_array()
                .expect("trackings")
                .clone()
        }
    };
    assert!(trackings(box_2).await.is_empty());
    let (status, other_shipped) = harness
        .control_post(
            &format!("/sales/orders/{other}/ship"),
            &json!({"carrier_code": "GLS", "tracking_code": "G-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The second box gets its label, then the first is re-labelled.
    let since = other_shipped["packing_order"]["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_string();
    let (status, set) = harness
        .control_put(
            &format!("/packing/boxes/{box_2}/shipment_tracking"),
            &json!({"carrier_code": "CORREOS", "tracking_code": "C-2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(trackings(box_2).await[0]["tracking_code"], "C-2");
    let before = trackings(box_1).await[0].clone();
    let (_, changed) = harness
        .control_put(
            &format!("/packing/boxes/{box_1}/shipment_tracking"),
            &json!({"carrier_code": "SEUR", "tracking_code": "S-1B", "tracking_url": "https://t/S-1B", "status": "in_transit"}),
        )
        .await;
    let after = trackings(box_1).await;
    assert_eq!(after.len(), 1, "changed in place");
    assert_eq!(after[0]["id"], before["id"]);
    assert_eq!(after[0]["tracking_code"], "S-1B");
    assert_eq!(after[0]["tracking_url"], "https://t/S-1B");
    assert_eq!(after[0]["status"], "in_transit");
    assert!(after[0]["updated_at"].as_str() > before["updated_at"].as_str());
    assert_eq!(changed["updated_at"], after[0]["updated_at"]);

    // The packing order's `updated_at` moved, so a poll since the last shipment finds it, and only it.
    let (_, body) = harness
        .send(
            harness
                .http
                .get(harness.url("/packing/orders"))
                .bearer_auth(&harness.token)
                .query(&[
                    ("sales_order_id", format!("to_list:{first},{other}")),
                    ("updated_at", format!("gt:{since}")),
                ]),
        )
        .await;
    assert_eq!(body["total_results"], 1, "{body}");
    assert_eq!(body["packing_orders"][0]["id"], packing_order_id);
    let (_, body) = harness
        .get(&format!(
            "/packing/orders?sales_order_id=to_list:{first},{other}&state=ended"
        ))
        .await;
    assert_eq!(body["total_results"], 2);
    let (status, _) = harness
        .control_put(
            "/packing/boxes/999/shipment_tracking",
            &json!({"carrier_code": "X", "tracking_code": "Y"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = harness
        .control_put(
            &format!("/packing/boxes/{box_1}/shipment_tracking"),
            &json!({"carrier_code": "X", "tracking_code": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_shipment_with_one_bad_box_writes_nothing() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    let id = order_with(&harness, "BAD1", &[(product, 2)]).await;
    let (status, body) = harness
        .control_post(
            &format!("/sales/orders/{id}/ship"),
            &json!({"boxes": [
                {"items": [{"line_order_id": "BAD1-1", "quantity": 2}]},
                {"items": [{"line_order_id": "BAD1-1", "quantity": 1}]},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .expect("an error")
            .contains("boxes[1].items[0].quantity"),
        "{body}"
    );
    let (status, _) = harness
        .control_post(&format!("/sales/orders/{id}/ship"), &json!({"boxes": []}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        harness.sandbox.state.sales_order(id).expect("order").items[0].fulfilled_quantity,
        0
    );
    let (_, body) = harness.get("/packing/orders/boxes/search").await;
    assert_eq!(body["total_results"], 0);
}

#[tokio::test]
async fn box_items_carry_lots_and_serial_numbers() {
    let harness = Harness::start().await;
    let [lot, serial, plain] = harness.product_ids(3)[..] else {
        panic!("three products");
    };
    manage_by(&harness, lot, "lot").await;
    manage_by(&harness, serial, "serial").await;
    let id = order_with(&harness, "LS1", &[(lot, 5), (serial, 2), (plain, 1)]).await;

    let ship = |body: Value| {
        let harness = &harness;
        async move {
            harness
                .control_post(&format!("/sales/orders/{id}/ship"), &body)
                .await
        }
    };
    for (bad, why) in [
        (
            json!({"items": [{"product_id": plain, "quantity": 1, "batches": [{"number": "L", "quantity": 1}]}]}),
            "not managed by lot or serial",
        ),
        (
            json!({"items": [{"product_id": serial, "quantity": 2, "batches": [{"number": "SN-1", "quantity": 2}]}]}),
            "must be 1",
        ),
        (
            json!({"items": [{"product_id": lot, "quantity": 5, "batches": [{"number": "LOT-A", "quantity": 4}]}]}),
            "add up to 4",
        ),
        (
            json!({"items": [{"product_id": serial, "quantity": 2, "batches": [{"number": "SN-1", "quantity": 1}, {"number": "SN-1", "quantity": 1}]}]}),
            "twice",
        ),
    ] {
        let (status, body) = ship(bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {body}");
        assert!(
            body["error"].as_str().expect("an error").contains(why),
            "{why}: {body}"
        );
    }

    let (status, shipped) = ship(json!({"carrier_code": "SEUR", "tracking_code": "S-9", "items": [
        {"product_id": lot, "quantity": 5, "batches": [{"number": "LOT-A", "quantity": 3}, {"number": "LOT-B", "quantity": 2}]},
        {"product_id": serial, "quantity": 2, "batches": [{"number": "SN-1", "quantity": 1}, {"number": "SN-2", "quantity": 1}]},
        {"product_id": plain, "quantity": 1},
    ]}))
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let packing_box = &shipped["packing_boxes"][0];
    let items = packing_box["items"].as_array().expect("items");
    assert_eq!(items[0]["batches"].as_array().map(Vec::len), Some(2));
    assert_eq!(items[0]["batches"][1]["quantity"], 2);
    assert_eq!(
        items[0]["batches"][0]["packing_box_item_id"],
        items[0]["id"]
    );
    assert_eq!(items[2]["batches"], json!([]));
    let lot_b = items[0]["batches"][1]["batch_id"]
        .as_i64()
        .expect("batch_id");
    let (status, batch) = harness
        .get(&format!("/inventory/products/batches/{lot_b}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            batch["number"].as_str(),
            batch["type"].as_str(),
            batch["product_id"].as_i64()
        ),
        (Some("LOT-B"), Some("lot"), Some(lot))
    );
    let (_, body) = harness
        .get(&format!("/inventory/products/{serial}/batches"))
        .await;
    assert_eq!(body["total_results"], 2, "{body}");
    assert_eq!(body["batches"][0]["type"], "serial");
    let (_, body) = harness.get("/inventory/products/batches?number=SN-2").await;
    assert_eq!(body["batches"][0]["product_id"], serial);
    let (status, _) = harness.get("/inventory/products/batches/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Serial numbers corrected afterwards: the item's batches are replaced, the box moves.
    let box_id = id_of(packing_box);
    let item_id = id_of(&items[1]);
    let (status, changed) = harness
        .control_put(
            &format!("/packing/boxes/{box_id}/items/{item_id}/batches"),
            &json!([{"number": "SN-1", "quantity": 1}, {"number": "SN-3", "quantity": 1}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let batches = &changed["items"][1]["batches"];
    assert_eq!(
        batches[0]["batch_id"], items[1]["batches"][0]["batch_id"],
        "SN-1 is the same batch"
    );
    assert_ne!(batches[1]["batch_id"], items[1]["batches"][1]["batch_id"]);
    assert!(changed["updated_at"].as_str() > packing_box["updated_at"].as_str());
    let (status, _) = harness
        .control_put(
            &format!("/packing/boxes/{box_id}/items/{}/batches", id_of(&items[2])),
            &json!([{"number": "X", "quantity": 1}]),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a plain product takes no batches"
    );
    let (status, _) = harness
        .control_put(
            &format!("/packing/boxes/{box_id}/items/999/batches"),
            &json!([]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
