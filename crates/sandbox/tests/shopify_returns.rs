//! Returns in the Shopify sandbox over real HTTP: `returnCreate` on fulfilled units (an `OPEN`
//! return, the order's `returnStatus` in progress, nothing restocked), its refusals (more than
//! is left to return, an unknown fulfillment line item or order, no lines) and the armed
//! refusal, and the order's returns read back; `refundCreate` (once per idempotency key, at most
//! what was received, restocked only when asked) with the order's transactions and totals.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

const TOKEN: &str = "shpat_returns";

const FULFILL: &str = "mutation Fulfill($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id fulfillmentLineItems(first: 10) { nodes { id quantity lineItem { id } } } }
    userErrors { field message }
  }
}";

const RETURN: &str = "mutation Return($input: ReturnInput!) {
  returnCreate(returnInput: $input) {
    return { id name status totalQuantity }
    userErrors { field message code }
  }
}";

const RETURNS: &str = "query Returns($id: ID!) {
  order(id: $id) {
    returnStatus
    returns(first: 5) {
      nodes {
        id name status totalQuantity
        returnLineItems(first: 10) {
          nodes {
            quantity returnReason returnReasonNote
            ... on ReturnLineItem { fulfillmentLineItem { id lineItem { id } } }
          }
        }
      }
    }
  }
}";

struct Harness {
    sandbox: ShopifySandbox,
    client: reqwest::Client,
    madrid: u64,
}

/// An order of 3 × `A` and 1 × `B` at Madrid, fulfilled in one fulfillment.
struct Fulfilled {
    gid: String,
    id: u64,
    /// Line item gids, `A` then `B`.
    lines: Vec<String>,
    /// The fulfillment line item gid of each line, `A` then `B`.
    fulfilled: Vec<String>,
    items: Vec<u64>,
}

impl Harness {
    async fn start() -> Harness {
        let sandbox = ShopifySandbox::start(ShopifyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            access_token: TOKEN.into(),
            orders: 0,
            bucket: 100_000.0,
            restore_rate: 10_000.0,
            ..ShopifyConfig::default()
        })
        .await
        .unwrap();
        let mut h = Harness {
            sandbox,
            client: reqwest::Client::new(),
            madrid: 0,
        };
        let (_, body) = h.control("GET", "/sandbox/locations", None).await;
        h.madrid = body["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == SHARED_WAREHOUSES[0])
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        h
    }

    async fn control(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.sandbox.shop_url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .client
            .post(self.sandbox.graphql_url("2026-10"))
            .header("X-Shopify-Access-Token", TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body:#}");
        body["data"].clone()
    }

    /// `(available, on_hand)` of `item` at Madrid.
    async fn level(&self, item: u64) -> (i64, i64) {
        let (status, body) = self
            .control(
                "GET",
                &format!("/sandbox/inventory_levels/{item}/{}", self.madrid),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["available"].as_i64().unwrap(),
            body["on_hand"].as_i64().unwrap(),
        )
    }

    async fn fulfilled_order(&self, prefix: &str) -> Fulfilled {
        let mut items = Vec::new();
        for sku in ["A", "B"] {
            let (status, body) = self
                .control(
                    "POST",
                    "/sandbox/inventory_items",
                    Some(json!({"sku": format!("{prefix}-{sku}"), "tracked": true,
                        "levels": [{"location_id": self.madrid, "available": 10}]})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            items.push(body["inventory_item_id"].as_u64().unwrap());
        }
        let (status, created) = self
            .control(
                "POST",
                "/sandbox/orders",
                Some(json!({
                    "financial_status": "paid",
                    "location_id": self.madrid,
                    "line_items": [
                        {"sku": format!("{prefix}-A"), "quantity": 3, "price": "5.00"},
                        {"sku": format!("{prefix}-B"), "quantity": 1, "price": "7.50"},
                    ],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_u64().unwrap();
        let gid = format!("gid://shopify/Order/{id}");
        let (_, order) = self
            .control("GET", &format!("/sandbox/orders/{id}"), None)
            .await;
        let fo = &order["order"]["fulfillment_orders"][0];
        let made = self
            .gql(
                FULFILL,
                json!({"fulfillment": {"lineItemsByFulfillmentOrder": [
                    {"fulfillmentOrderId": fo["admin_graphql_api_id"]}]}}),
            )
            .await;
        let nodes = made["fulfillmentCreate"]["fulfillment"]["fulfillmentLineItems"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        let lines: Vec<String> = order["order"]["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| format!("gid://shopify/LineItem/{}", l["id"]))
            .collect();
        let fulfilled = lines
            .iter()
            .map(|line| {
                nodes
                    .iter()
                    .find(|n| n["lineItem"]["id"] == line.as_str())
                    .unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        Fulfilled {
            gid,
            id,
            lines,
            fulfilled,
            items,
        }
    }

    async fn create_return(&self, order: &Fulfilled, lines: Value, notify: bool) -> Value {
        self.gql(
            RETURN,
            json!({"input": {"orderId": order.gid, "returnLineItems": lines, "notifyCustomer": notify}}),
        )
        .await["returnCreate"]
            .clone()
    }
}

#[tokio::test]
async fn a_return_of_one_line_is_open_in_progress_and_restocks_nothing() {
    let h = Harness::start().await;
    let order = h.fulfilled_order("RET").await;
    let before = [h.level(order.items[0]).await, h.level(order.items[1]).await];

    let made = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": order.fulfilled[0], "quantity": 2,
                    "returnReason": "DEFECTIVE", "returnReasonNote": "PULPO return RT000001"}]),
            true,
        )
        .await;
    assert_eq!(made["userErrors"], json!([]), "{made}");
    assert_eq!(made["return"]["status"], "OPEN");
    assert_eq!(made["return"]["totalQuantity"], 2);
    let name = format!("{}-R1", h.sandbox.state.shop().orders[&order.id].name);
    assert_eq!(made["return"]["name"], name.as_str());

    let read = h.gql(RETURNS, json!({"id": order.gid})).await;
    assert_eq!(read["order"]["returnStatus"], "IN_PROGRESS");
    let returned = &read["order"]["returns"]["nodes"][0];
    assert_eq!(returned["id"], made["return"]["id"]);
    let line = &returned["returnLineItems"]["nodes"][0];
    assert_eq!(line["quantity"], 2);
    assert_eq!(line["returnReason"], "DEFECTIVE");
    assert_eq!(line["returnReasonNote"], "PULPO return RT000001");
    assert_eq!(
        line["fulfillmentLineItem"]["id"],
        order.fulfilled[0].as_str()
    );
    assert_eq!(
        line["fulfillmentLineItem"]["lineItem"]["id"],
        order.lines[0].as_str()
    );
    assert_eq!(
        returned["returnLineItems"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "only the returned line"
    );
    assert!(h.sandbox.state.shop().orders[&order.id].returns[0].notify_customer);
    // Nothing went back to stock: the merchant restocks (or not) when processing the return.
    assert_eq!(
        [h.level(order.items[0]).await, h.level(order.items[1]).await],
        before
    );
}

#[tokio::test]
async fn more_than_is_left_to_return_and_unknown_lines_are_refused() {
    let h = Harness::start().await;
    let order = h.fulfilled_order("OVR").await;
    let first = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": order.fulfilled[0], "quantity": 2}]),
            false,
        )
        .await;
    assert_eq!(first["userErrors"], json!([]));
    assert_eq!(
        h.sandbox.state.shop().orders[&order.id].returns[0].lines[0].reason,
        "UNKNOWN",
        "no reason given"
    );
    let refused = |body: &Value, field: Value, code: &str| {
        assert_eq!(body["return"], Value::Null, "{body}");
        assert_eq!(body["userErrors"][0]["field"], field, "{body}");
        assert_eq!(body["userErrors"][0]["code"], code, "{body}");
    };
    let over = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": order.fulfilled[0], "quantity": 2}]),
            false,
        )
        .await;
    refused(
        &over,
        json!(["returnInput", "returnLineItems", "0", "quantity"]),
        "INVALID",
    );
    assert_eq!(
        over["userErrors"][0]["message"],
        "Quantity is not available for return."
    );
    // Two lines of one fulfillment line count together.
    let split = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": order.fulfilled[0], "quantity": 1},
                   {"fulfillmentLineItemId": order.fulfilled[0], "quantity": 1}]),
            false,
        )
        .await;
    refused(
        &split,
        json!(["returnInput", "returnLineItems", "1", "quantity"]),
        "INVALID",
    );
    let unknown = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": "gid://shopify/FulfillmentLineItem/1", "quantity": 1}]),
            false,
        )
        .await;
    refused(
        &unknown,
        json!([
            "returnInput",
            "returnLineItems",
            "0",
            "fulfillmentLineItemId"
        ]),
        "NOT_FOUND",
    );
    let zero = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": order.fulfilled[1], "quantity": 0}]),
            false,
        )
        .await;
    refused(
        &zero,
        json!(["returnInput", "returnLineItems", "0", "quantity"]),
        "GREATER_THAN",
    );
    let none = h.create_return(&order, json!([]), false).await;
    refused(&none, json!(["returnInput", "returnLineItems"]), "BLANK");
    let no_order = h
        .gql(
            RETURN,
            json!({"input": {"orderId": "gid://shopify/Order/1", "returnLineItems": [
                {"fulfillmentLineItemId": order.fulfilled[1], "quantity": 1}]}}),
        )
        .await["returnCreate"]
        .clone();
    refused(&no_order, json!(["returnInput", "orderId"]), "NOT_FOUND");
    // What is left still goes.
    let rest = h
        .create_return(
            &order,
            json!([{"fulfillmentLineItemId": order.fulfilled[0], "quantity": 1},
                   {"fulfillmentLineItemId": order.fulfilled[1], "quantity": 1}]),
            false,
        )
        .await;
    assert_eq!(rest["userErrors"], json!([]), "{rest}");
    assert_eq!(h.sandbox.state.shop().orders[&order.id].returns.len(), 2);
}

#[tokio::test]
async fn an_armed_refusal_of_return_create_makes_no_return() {
    let h = Harness::start().await;
    let order = h.fulfilled_order("ARM").await;
    let (status, body) = h
        .control(
            "POST",
            "/sandbox/refusals",
            Some(json!({"mutation": "returnCreate", "message": "The order is being edited.", "count": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines = json!([{"fulfillmentLineItemId": order.fulfilled[1], "quantity": 1}]);
    let refused = h.create_return(&order, lines.clone(), false).await;
    assert_eq!(
        refused,
        json!({"return": null, "userErrors": [{"field": null, "message": "The order is being edited.", "code": null}]})
    );
    assert!(h.sandbox.state.shop().orders[&order.id].returns.is_empty());
    let made = h.create_return(&order, lines, false).await;
    assert_eq!(made["userErrors"], json!([]));
}

const REFUND: &str = "mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id note totalRefundedSet { shopMoney { amount } } refundLineItems(first: 5) { nodes { quantity restockType lineItem { id } } } }
    userErrors { field message }
  }
}";

const PAID: &str = "query Paid($id: ID!) {
  order(id: $id) {
    displayFinancialStatus
    totalReceivedSet { shopMoney { amount } }
    totalRefundedSet { shopMoney { amount } }
    transactions(first: 5) { id kind status gateway amountSet { shopMoney { amount } } parentTransaction { id } }
    lineItems(first: 5) { nodes { id refundableQuantity discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } } } }
  }
}";

impl Harness {
    async fn refund(&self, key: &str, input: Value) -> Value {
        self.gql(REFUND, json!({"input": input, "key": key})).await["refundCreate"].clone()
    }
}

#[tokio::test]
async fn a_refund_gives_back_at_most_what_was_received_once_per_key_and_restocks_only_when_asked() {
    let h = Harness::start().await;
    let order = h.fulfilled_order("REF").await;
    let paid = h.gql(PAID, json!({"id": order.gid})).await["order"].clone();
    assert_eq!(paid["displayFinancialStatus"], "PAID");
    // 3 × 5.00 + 1 × 7.50, no shipping.
    assert_eq!(paid["totalReceivedSet"]["shopMoney"]["amount"], "22.5");
    let sale = &paid["transactions"][0];
    assert_eq!(
        (&sale["kind"], &sale["gateway"]),
        (&json!("SALE"), &json!("manual"))
    );
    assert_eq!(
        paid["lineItems"]["nodes"][0]["discountedUnitPriceAfterAllDiscountsSet"]["shopMoney"]["amount"],
        "5.0"
    );
    let before = h.level(order.items[0]).await;
    let input = |quantity: i64, amount: &str| {
        json!({"orderId": order.gid, "note": "PULPO return RT000001",
               "refundLineItems": [{"lineItemId": order.lines[0], "quantity": quantity, "restockType": "NO_RESTOCK"}],
               "transactions": [{"orderId": order.gid, "parentId": sale["id"], "gateway": "manual",
                                 "kind": "REFUND", "amount": amount}]})
    };

    let made = h.refund("k-1", input(1, "5.00")).await;
    assert_eq!(made["userErrors"], json!([]), "{made}");
    assert_eq!(
        made["refund"]["totalRefundedSet"]["shopMoney"]["amount"],
        "5.0"
    );
    assert_eq!(
        made["refund"]["refundLineItems"]["nodes"][0]["restockType"],
        "NO_RESTOCK"
    );
    // The same key and input: the same refund, not a second one.
    assert_eq!(h.refund("k-1", input(1, "5.00")).await, made);
    let mismatch = h.refund("k-1", input(2, "10.00")).await;
    assert_eq!(
        mismatch["userErrors"][0]["message"],
        "The idempotency key has already been used with different parameters."
    );
    let paid = h.gql(PAID, json!({"id": order.gid})).await["order"].clone();
    assert_eq!(paid["displayFinancialStatus"], "PARTIALLY_REFUNDED");
    assert_eq!(paid["totalRefundedSet"]["shopMoney"]["amount"], "5.0");
    assert_eq!(paid["lineItems"]["nodes"][0]["refundableQuantity"], 2);
    assert_eq!(paid["transactions"][1]["kind"], "REFUND");
    assert_eq!(
        paid["transactions"][1]["parentTransaction"]["id"],
        sale["id"]
    );
    assert_eq!(
        h.level(order.items[0]).await,
        before,
        "NO_RESTOCK restocks nothing"
    );
    assert_eq!(h.sandbox.state.shop().orders[&order.id].refunds.len(), 1);

    // More money than is left, and more units than were bought, are refused.
    let too_much = h.refund("k-2", input(1, "20.00")).await;
    assert_eq!(too_much["refund"], Value::Null);
    assert_eq!(too_much["userErrors"][0]["field"], json!(["transactions"]));
    let too_many = h.refund("k-3", input(3, "1.00")).await;
    assert_eq!(
        too_many["userErrors"][0]["field"],
        json!(["refundLineItems", "0", "quantity"])
    );
    // Without the @idempotent directive the call is refused before it runs (2026-04 on).
    let body: Value = h
        .client
        .post(h.sandbox.graphql_url("2026-10"))
        .header("X-Shopify-Access-Token", TOKEN)
        .json(&json!({"query": "mutation R($input: RefundInput!) { refundCreate(input: $input) { refund { id } userErrors { message } } }",
                      "variables": {"input": input(1, "5.00")}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );

    // A restock asked for goes back to the location; the rest of the money refunds the order.
    let mut restocked = input(2, "17.50");
    restocked["refundLineItems"][0]["restockType"] = json!("RETURN");
    restocked["refundLineItems"][0]["locationId"] =
        json!(format!("gid://shopify/Location/{}", h.madrid));
    let made = h.refund("k-4", restocked).await;
    assert_eq!(made["userErrors"], json!([]), "{made}");
    assert_eq!(h.level(order.items[0]).await, (before.0 + 2, before.1 + 2));
    let paid = h.gql(PAID, json!({"id": order.gid})).await["order"].clone();
    assert_eq!(paid["displayFinancialStatus"], "REFUNDED");
}
