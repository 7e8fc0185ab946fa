//! Shipments and status updates in the Shopify sandbox over real HTTP: `fulfillmentCreate` box by
//! box with tracking (remaining quantities, fulfillment order and order statuses, stock, the
//! refusals for closed, cancelled and held fulfillment orders and for too many units),
//! `fulfillmentTrackingInfoUpdate`, reading an order's fulfillments and fulfillment orders,
//! `tagsAdd` and `orderUpdate` notes, the merchant's control endpoints, and their costs.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

const TOKEN: &str = "shpat_fulfillments";

const FULFILL: &str = "mutation Fulfill($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}";

const TRACKING: &str = "mutation Tracking($id: ID!, $tracking: FulfillmentTrackingInput!, $notify: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: $notify) {
    fulfillment { id status updatedAt trackingInfo { company number url } }
    userErrors { field message }
  }
}";

const STATE: &str = "query State($id: ID!) {
  order(id: $id) {
    displayFulfillmentStatus tags note email
    fulfillments(first: 10) {
      id status createdAt
      trackingInfo(first: 5) { company number url }
      fulfillmentLineItems(first: 10) { nodes { lineItem { id } quantity } }
    }
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: 10) { nodes { id lineItem { id } remainingQuantity totalQuantity } }
      }
    }
  }
}";

const TAG: &str = "mutation Tag($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }";
const NOTE: &str = "mutation Note($input: OrderInput!) { orderUpdate(input: $input) { order { id note } userErrors { field message } } }";

struct Harness {
    sandbox: ShopifySandbox,
    client: reqwest::Client,
    madrid: u64,
}

/// An order of two lines (3 × `A`, 1 × `B`) at Madrid, both items tracked and stocked there.
struct TwoLineOrder {
    gid: String,
    id: u64,
    fo_gid: String,
    fo_id: u64,
    /// Fulfillment order line item ids, in the order's line order.
    fo_lines: Vec<u64>,
    /// Line item ids.
    lines: Vec<u64>,
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
        self.client
            .post(self.sandbox.graphql_url("2026-10"))
            .header("X-Shopify-Access-Token", TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn state(&self, order: &TwoLineOrder) -> Value {
        let body = self.gql(STATE, json!({"id": order.gid})).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        body["data"]["order"].clone()
    }

    /// `(available, on_hand, committed)` of `item` at Madrid.
    async fn level(&self, item: u64) -> (i64, i64, i64) {
        let (status, body) = self
            .control(
                "GET",
                &format!("/sandbox/inventory_levels/{item}/{}", self.madrid),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let n = |k: &str| body[k].as_i64().unwrap();
        (n("available"), n("on_hand"), n("committed"))
    }

    async fn two_line_order(&self, prefix: &str) -> TwoLineOrder {
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
                    "email": "ana@example.com",
                    "tags": "web, b2c",
                    "note": "Leave at the door",
                    "line_items": [
                        {"sku": format!("{prefix}-A"), "quantity": 3, "price": "5.00"},
                        {"sku": format!("{prefix}-B"), "quantity": 1, "price": "7.50"},
                    ],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_u64().unwrap();
        let (_, order) = self
            .control("GET", &format!("/sandbox/orders/{id}"), None)
            .await;
        let fo = &order["order"]["fulfillment_orders"][0];
        let ids = |v: &Value, key: &str| -> Vec<u64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|l| l[key].as_u64().unwrap())
                .collect()
        };
        TwoLineOrder {
            gid: format!("gid://shopify/Order/{id}"),
            id,
            fo_gid: fo["admin_graphql_api_id"].as_str().unwrap().to_string(),
            fo_id: fo["id"].as_u64().unwrap(),
            fo_lines: ids(&fo["line_items"], "id"),
            lines: ids(&order["order"]["line_items"], "id"),
            items,
        }
    }

    async fn fulfill(
        &self,
        order: &TwoLineOrder,
        lines: &[(usize, i64)],
        tracking: Value,
    ) -> Value {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(i, q)| json!({"id": fo_line_gid(order.fo_lines[*i]), "quantity": q}))
            .collect();
        self.gql(
            FULFILL,
            json!({"fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": order.fo_gid, "fulfillmentOrderLineItems": lines}],
                "trackingInfo": tracking,
                "notifyCustomer": true,
            }}),
        )
        .await
    }
}

fn fo_line_gid(id: u64) -> String {
    format!("gid://shopify/FulfillmentOrderLineItem/{id}")
}

fn line_gid(id: u64) -> String {
    format!("gid://shopify/LineItem/{id}")
}

fn requested_cost(body: &Value) -> u64 {
    body["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn boxes_fulfil_the_order_step_by_step_and_release_committed_stock() {
    let h = Harness::start().await;
    let order = h.two_line_order("BOX").await;
    assert_eq!(h.level(order.items[0]).await, (7, 10, 3));
    let first = h
        .fulfill(
            &order,
            &[(0, 2)],
            json!({"company": "SEUR", "number": "BOX-1", "url": "https://track.example/BOX-1"}),
        )
        .await;
    let payload = &first["data"]["fulfillmentCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{first}");
    assert_eq!(payload["fulfillment"]["status"], "SUCCESS");
    let state = h.state(&order).await;
    assert_eq!(state["displayFulfillmentStatus"], "PARTIALLY_FULFILLED");
    let fo = &state["fulfillmentOrders"]["nodes"][0];
    assert_eq!(fo["status"], "IN_PROGRESS");
    assert_eq!(
        fo["assignedLocation"]["location"]["id"],
        format!("gid://shopify/Location/{}", h.madrid)
    );
    assert_eq!(
        fo["lineItems"]["nodes"],
        json!([
            {"id": fo_line_gid(order.fo_lines[0]), "lineItem": {"id": line_gid(order.lines[0])}, "remainingQuantity": 1, "totalQuantity": 3},
            {"id": fo_line_gid(order.fo_lines[1]), "lineItem": {"id": line_gid(order.lines[1])}, "remainingQuantity": 1, "totalQuantity": 1},
        ])
    );
    let fulfillment = &state["fulfillments"][0];
    assert_eq!(fulfillment["id"], payload["fulfillment"]["id"]);
    assert_eq!(fulfillment["status"], "SUCCESS");
    assert!(fulfillment["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        fulfillment["trackingInfo"],
        json!([{"company": "SEUR", "number": "BOX-1", "url": "https://track.example/BOX-1"}])
    );
    assert_eq!(
        fulfillment["fulfillmentLineItems"]["nodes"],
        json!([{"lineItem": {"id": line_gid(order.lines[0])}, "quantity": 2}])
    );
    // Shipped units leave on hand; what stays committed is what remains to ship.
    assert_eq!(h.level(order.items[0]).await, (7, 8, 1));

    let over = h.fulfill(&order, &[(0, 2)], Value::Null).await;
    assert_eq!(
        over["data"]["fulfillmentCreate"],
        json!({"fulfillment": null, "userErrors": [{"field": ["fulfillment"], "message": "Invalid fulfillment order line item quantity requested."}]})
    );

    // The second box: several tracking numbers, one per parcel.
    let second = h
        .fulfill(
            &order,
            &[(0, 1), (1, 1)],
            json!({"company": "SEUR", "numbers": ["BOX-2a", "BOX-2b"], "urls": ["https://t/2a", "https://t/2b"]}),
        )
        .await;
    assert_eq!(
        second["data"]["fulfillmentCreate"]["userErrors"],
        json!([]),
        "{second}"
    );
    let state = h.state(&order).await;
    assert_eq!(state["displayFulfillmentStatus"], "FULFILLED");
    assert_eq!(state["fulfillmentOrders"]["nodes"][0]["status"], "CLOSED");
    assert_eq!(
        state["fulfillments"][1]["trackingInfo"],
        json!([
            {"company": "SEUR", "number": "BOX-2a", "url": "https://t/2a"},
            {"company": "SEUR", "number": "BOX-2b", "url": "https://t/2b"},
        ])
    );
    assert_eq!(h.level(order.items[0]).await, (7, 7, 0));
    assert_eq!(h.level(order.items[1]).await, (9, 9, 0));

    let closed = h.fulfill(&order, &[(0, 1)], Value::Null).await;
    assert_eq!(
        closed["data"]["fulfillmentCreate"]["userErrors"],
        json!([{"field": ["fulfillment"], "message": format!("Fulfillment order {} has an unfulfillable status= closed.", order.fo_id)}])
    );
}

#[tokio::test]
async fn held_cancelled_and_closed_fulfillment_orders_refuse_fulfilments() {
    let h = Harness::start().await;
    let order = h.two_line_order("HOLD").await;
    let action = |a: &str| format!("/sandbox/fulfillment_orders/{}/{a}", order.fo_id);
    let (status, body) = h.control("POST", &action("hold"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fulfillment_order"]["status"], "on_hold");
    assert_eq!(h.state(&order).await["displayFulfillmentStatus"], "ON_HOLD");
    let held = h.fulfill(&order, &[(0, 1)], Value::Null).await;
    assert_eq!(
        held["data"]["fulfillmentCreate"]["userErrors"],
        json!([{"field": ["fulfillment"], "message": format!("Fulfillment order {} has an unfulfillable status= on_hold.", order.fo_id)}])
    );
    let (status, _) = h.control("POST", &action("hold"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = h.control("POST", &action("release_hold"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fulfillment_order"]["status"], "open");
    assert_eq!(
        h.state(&order).await["displayFulfillmentStatus"],
        "UNFULFILLED"
    );
    let partial = h.fulfill(&order, &[(0, 1)], Value::Null).await;
    assert_eq!(
        partial["data"]["fulfillmentCreate"]["userErrors"],
        json!([])
    );
    // A hold on a partly fulfilled fulfillment order is released back to IN_PROGRESS.
    h.control("POST", &action("hold"), None).await;
    let (_, body) = h.control("POST", &action("release_hold"), None).await;
    assert_eq!(body["fulfillment_order"]["status"], "in_progress");

    // Closing releases the units still committed back to available.
    assert_eq!(h.level(order.items[0]).await, (7, 9, 2));
    let (status, body) = h.control("POST", &action("close"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.level(order.items[0]).await, (9, 9, 0));
    let closed = h.fulfill(&order, &[(0, 1)], Value::Null).await;
    assert_eq!(
        closed["data"]["fulfillmentCreate"]["userErrors"][0]["message"],
        format!(
            "Fulfillment order {} has an unfulfillable status= closed.",
            order.fo_id
        )
    );
    let (status, body) = h.control("POST", &action("cancel"), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let other = h.two_line_order("CANCEL").await;
    let (status, _) = h
        .control(
            "POST",
            &format!("/sandbox/fulfillment_orders/{}/cancel", other.fo_id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.level(other.items[0]).await, (10, 10, 0));
    let cancelled = h.fulfill(&other, &[(0, 1)], Value::Null).await;
    assert_eq!(
        cancelled["data"]["fulfillmentCreate"]["userErrors"][0]["message"],
        format!(
            "Fulfillment order {} has an unfulfillable status= cancelled.",
            other.fo_id
        )
    );
    let (status, _) = h
        .control(
            "POST",
            &format!("/sandbox/fulfillment_orders/{}/explode", other.fo_id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tracking_info_update_replaces_the_tracking_and_costs_as_recorded() {
    let h = Harness::start().await;
    let order = h.two_line_order("TRK").await;
    let created = h
        .fulfill(
            &order,
            &[(0, 3)],
            json!({"company": "SEUR", "number": "OLD"}),
        )
        .await;
    assert_eq!(requested_cost(&created), 11);
    let id = created["data"]["fulfillmentCreate"]["fulfillment"]["id"].clone();
    let before = h.state(&order).await;
    let updated = h
        .gql(
            TRACKING,
            json!({"id": id, "notify": false, "tracking": {"company": "MRW", "number": "NEW", "url": "https://mrw.example/NEW"}}),
        )
        .await;
    assert_eq!(
        updated["data"]["fulfillmentTrackingInfoUpdate"]["userErrors"],
        json!([]),
        "{updated}"
    );
    assert_eq!(
        updated["data"]["fulfillmentTrackingInfoUpdate"]["fulfillment"]["trackingInfo"],
        json!([{"company": "MRW", "number": "NEW", "url": "https://mrw.example/NEW"}])
    );
    // draft-proxy 2026-04 fulfillment-state-preconditions: 51 requested for this shape.
    assert_eq!(requested_cost(&updated), 51);
    let after = h.state(&order).await;
    assert_eq!(
        after["fulfillments"][0]["trackingInfo"],
        json!([{"company": "MRW", "number": "NEW", "url": "https://mrw.example/NEW"}])
    );
    assert_eq!(
        after["fulfillments"][0]["createdAt"],
        before["fulfillments"][0]["createdAt"]
    );
    let unknown = h
        .gql(
            TRACKING,
            json!({"id": "gid://shopify/Fulfillment/1", "tracking": {"number": "X"}}),
        )
        .await;
    assert_eq!(
        unknown["data"]["fulfillmentTrackingInfoUpdate"],
        json!({"fulfillment": null, "userErrors": [{"field": ["fulfillmentId"], "message": "Fulfillment does not exist."}]})
    );
    let one = h
        .gql(
            "query One($id: ID!) { fulfillment(id: $id) { id fulfillmentLineItems(first: 1) { pageInfo { hasNextPage } nodes { quantity } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        one["data"]["fulfillment"],
        json!({"id": id, "fulfillmentLineItems": {"pageInfo": {"hasNextPage": false}, "nodes": [{"quantity": 3}]}})
    );
}

#[tokio::test]
async fn tags_merge_sorted_and_notes_change_alone() {
    let h = Harness::start().await;
    let order = h.two_line_order("TAG").await;
    let added = h
        .gql(
            TAG,
            json!({"id": order.gid, "tags": ["pulpo", "a-first", "web"]}),
        )
        .await;
    assert_eq!(
        added["data"]["tagsAdd"],
        json!({"node": {"id": order.gid}, "userErrors": []})
    );
    assert_eq!(requested_cost(&added), 10);
    let long = "x".repeat(41);
    let refused = h
        .gql(TAG, json!({"id": order.gid, "tags": ["ok", long]}))
        .await;
    assert_eq!(
        refused["data"]["tagsAdd"],
        json!({"node": null, "userErrors": [{"field": ["tags", "1"], "message": "Title Tag exceeds the maximum length of 40 characters"}]})
    );
    let noted = h
        .gql(
            NOTE,
            json!({"input": {"id": order.gid, "note": "Leave at the door\nLot L-7: SN-1, SN-2"}}),
        )
        .await;
    assert_eq!(
        noted["data"]["orderUpdate"],
        json!({"order": {"id": order.gid, "note": "Leave at the door\nLot L-7: SN-1, SN-2"}, "userErrors": []})
    );
    let state = h.state(&order).await;
    assert_eq!(state["tags"], json!(["a-first", "b2c", "pulpo", "web"]));
    assert_eq!(
        state["email"], "ana@example.com",
        "orderUpdate keeps what it is not given"
    );

    // The merchant removes a tag and rewrites the note.
    let (status, body) = h
        .control(
            "DELETE",
            &format!("/sandbox/orders/{}/tags/pulpo", order.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["order"]["tags"], "a-first, b2c, web");
    let (status, _) = h
        .control(
            "DELETE",
            &format!("/sandbox/orders/{}/tags/absent", order.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .control(
            "PATCH",
            &format!("/sandbox/orders/{}", order.id),
            Some(json!({"note": "Merchant note"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let state = h.state(&order).await;
    assert_eq!(state["tags"], json!(["a-first", "b2c", "web"]));
    assert_eq!(state["note"], "Merchant note");
}

#[tokio::test]
async fn the_merchant_fulfils_by_hand() {
    let h = Harness::start().await;
    let order = h.two_line_order("HAND").await;
    let path = format!("/sandbox/fulfillment_orders/{}/fulfill", order.fo_id);
    let (status, body) = h
        .control(
            "POST",
            &path,
            Some(json!({"line_items": [{"id": order.fo_lines[0], "quantity": 4}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "Invalid fulfillment order line item quantity requested."
    );
    let (status, body) = h
        .control(
            "POST",
            &path,
            Some(
                json!({"line_items": [{"id": order.fo_lines[0], "quantity": 1}],
                "tracking": {"company": "Correos", "number": "PQ1", "url": "https://c/PQ1"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let fulfillment_gid = body["admin_graphql_api_id"].clone();
    let state = h.state(&order).await;
    assert_eq!(state["fulfillments"][0]["id"], fulfillment_gid);
    assert_eq!(
        state["fulfillments"][0]["trackingInfo"],
        json!([{"company": "Correos", "number": "PQ1", "url": "https://c/PQ1"}])
    );
    assert_eq!(state["displayFulfillmentStatus"], "PARTIALLY_FULFILLED");
    let (status, body) = h.control("POST", &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        h.state(&order).await["displayFulfillmentStatus"],
        "FULFILLED"
    );
    let (status, body) = h
        .control("POST", &path, Some(json!({"tracking": {"carrier": "x"}})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("tracking.carrier"));
}

#[tokio::test]
async fn reading_an_orders_fulfilment_state_costs_by_the_fitted_model() {
    let h = Harness::start().await;
    let order = h.two_line_order("COST").await;
    h.fulfill(&order, &[(0, 1)], json!({"number": "1"})).await;
    let body = h.gql(STATE, json!({"id": order.gid})).await;
    // order 1; fulfillments (a list, one object) 1 + trackingInfo 1 + fulfillmentLineItems
    // 2 + m(10) × (node 1 + lineItem 1) = 10; fulfillmentOrders 2 + m(5) × (node 1 +
    // assignedLocation 1 + location 1 + lineItems 2 + m(10) × (node 1 + lineItem 1)) = 2 + 3 × 13.
    assert_eq!(requested_cost(&body), 1 + 12 + 41);
}

#[tokio::test]
async fn an_armed_refusal_answers_a_user_error_for_its_calls_and_changes_nothing() {
    let h = Harness::start().await;
    let order = h.two_line_order("REF").await;
    let (status, body) = h
        .control(
            "POST",
            "/sandbox/refusals",
            Some(json!({"mutation": "fulfillmentCreate", "message": "The fulfillment order is locked.", "count": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["refusals"][0]["count"], 2);
    let (status, body) = h
        .control(
            "POST",
            "/sandbox/refusals",
            Some(json!({"mutation": "productDelete", "message": "no"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("fulfillmentCreate")
    );

    for _ in 0..2 {
        let refused = h.fulfill(&order, &[(0, 1)], json!({"number": "R1"})).await;
        assert_eq!(
            refused["data"]["fulfillmentCreate"],
            json!({"fulfillment": null, "userErrors": [{"field": null, "message": "The fulfillment order is locked."}]})
        );
    }
    let state = h.state(&order).await;
    assert_eq!(state["fulfillments"], json!([]), "nothing was fulfilled");
    // Other mutations are not refused, and the third call goes through.
    let tagged = h.gql(TAG, json!({"id": order.gid, "tags": ["x"]})).await;
    assert_eq!(tagged["data"]["tagsAdd"]["userErrors"], json!([]));
    let made = h.fulfill(&order, &[(0, 1)], json!({"number": "R1"})).await;
    assert_eq!(made["data"]["fulfillmentCreate"]["userErrors"], json!([]));
    let (_, body) = h.control("GET", "/sandbox/refusals", None).await;
    assert_eq!(body["refusals"], json!([]));

    h.control(
        "POST",
        "/sandbox/refusals",
        Some(json!({"mutation": "tagsAdd", "message": "Order is being edited."})),
    )
    .await;
    let (status, body) = h.control("DELETE", "/sandbox/refusals", None).await;
    assert_eq!(
        (status, body["refusals"].clone()),
        (StatusCode::OK, json!([]))
    );
    let tagged = h.gql(TAG, json!({"id": order.gid, "tags": ["y"]})).await;
    assert_eq!(tagged["data"]["tagsAdd"]["userErrors"], json!([]));
}
