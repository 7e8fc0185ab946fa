//! PULPO sandbox: customer returns received through the control API
//! (`POST /sandbox/reception/returns`) and read back through PULPO's incoming goods.

mod pulpo_support;

use pulpo_support::{Harness, id_of, order_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An order of two lines (2 × `product`, 1 × `other`) in warehouse 1, its first line shipped.
async fn partly_shipped(harness: &Harness) -> (i64, i64) {
    let [product, other] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    for p in [product, other] {
        harness
            .control_put(
                &format!("/inventory/products/{p}/stock"),
                &json!({"warehouse_id": 1, "quantity": 10}),
            )
            .await;
    }
    let mut body = order_body("RET_1", product, 2);
    body["items"]
        .as_array_mut()
        .expect("items")
        .push(json!({"product_id": other, "quantity": 1, "line_order_id": "L-other"}));
    let order = harness.create_order(&body).await;
    let id = id_of(&order);
    let (status, shipped) = harness
        .control_post(
            &format!("/sales/orders/{id}/ship"),
            &json!({"items": [{"line_order_id": "RET_1-1", "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    (id, product)
}

#[tokio::test]
async fn a_return_of_a_shipped_line_is_an_incoming_good_with_its_reason_and_stock() {
    let harness = Harness::start().await;
    let (order, product) = partly_shipped(&harness).await;
    assert_eq!(harness.sandbox.state.stock(product, 1), 8);

    let (status, good) = harness
        .control_post(
            "/reception/returns",
            &json!({"sales_order_id": order, "items": [
                {"line_order_id": "RET_1-1", "quantity": 1, "reason_code": "DAMAGED"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{good}");
    assert_eq!(good["document_type"], "return");
    assert_eq!(good["sales_order_id"], order);
    assert_eq!(good["warehouse_id"], 1);
    assert_eq!(good["items"][0]["line_order_id"], "RET_1-1");
    assert_eq!(good["items"][0]["product_id"], product);
    assert_eq!(good["items"][0]["quantity"], 1);
    assert_eq!(good["items"][0]["reason_codes"][0]["code"], "DAMAGED");
    assert_eq!(good["reason_codes"][0]["code"], "DAMAGED");
    // The unit is back in the warehouse.
    assert_eq!(harness.sandbox.state.stock(product, 1), 9);

    let since = good["inserted_at"]
        .as_str()
        .expect("inserted_at")
        .to_string();
    let (status, list) = harness
        .get(&format!(
            "/reception/incoming_goods?document_type=return&inserted_at=gte:{since}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total_results"], 1);
    assert_eq!(list["incoming_goods"][0]["id"], good["id"]);
    let (_, later) = harness
        .get(&format!("/reception/incoming_goods?inserted_at=gt:{since}"))
        .await;
    assert_eq!(later["total_results"], 0);
    let (_, purchases) = harness
        .get("/reception/incoming_goods?document_type=purchase_order")
        .await;
    assert_eq!(purchases["total_results"], 0);
}

#[tokio::test]
async fn what_was_not_shipped_or_is_already_back_cannot_be_returned() {
    let harness = Harness::start().await;
    let (order, _) = partly_shipped(&harness).await;
    let receive = |items: Value| {
        let harness = &harness;
        async move {
            harness
                .control_post(
                    "/reception/returns",
                    &json!({"sales_order_id": order, "items": items}),
                )
                .await
        }
    };
    let refused = |answer: (StatusCode, Value), words: &str| {
        assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.1);
        let error = answer.1["error"].as_str().expect("error").to_string();
        assert!(error.contains(words), "{error}");
    };
    refused(
        receive(json!([{"line_order_id": "L-other", "quantity": 1}])).await,
        "items[0].quantity: nothing of this line was shipped",
    );
    refused(
        receive(json!([{"line_order_id": "RET_1-1", "quantity": 3}])).await,
        "can't be more than the 2 units shipped and not returned yet",
    );
    refused(
        receive(json!([{"line_order_id": "nope", "quantity": 1}])).await,
        "items[0].line_order_id: is not a line of sales order RET_1",
    );
    refused(
        receive(json!([{"line_order_id": "RET_1-1", "quantity": 1, "reason_code": "BORED"}])).await,
        "items[0].reason_code",
    );
    refused(receive(json!([])).await, "items: can't be empty");
    // Two items of one line count together.
    refused(
        receive(json!([
            {"line_order_id": "RET_1-1", "quantity": 1},
            {"line_order_id": "RET_1-1", "quantity": 2}]))
        .await,
        "items[1].quantity: can't be more than the 1 units",
    );
    let (status, _) = receive(json!([{"line_order_id": "RET_1-1", "quantity": 2}])).await;
    assert_eq!(status, StatusCode::CREATED);
    refused(
        receive(json!([{"line_order_id": "RET_1-1", "quantity": 1}])).await,
        "can't be more than the 0 units",
    );
    let (status, _) = harness
        .control_post(
            "/reception/returns",
            &json!({"sales_order_id": 999_999, "items": [{"line_order_id": "RET_1-1", "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = harness.get("/reception/incoming_goods").await;
    assert_eq!(list["total_results"], 1, "refusals write nothing");
}
