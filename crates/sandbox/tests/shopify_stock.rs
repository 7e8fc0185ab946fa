//! Stock in the Shopify sandbox over real HTTP: inventory levels and their activity, committed
//! stock following orders, the `fulfillmentOrders` query, `inventoryActivate`, the 2026-07 /
//! 2026-10 difference of `inventorySetQuantities` where an item is not stocked, compare-and-swap
//! against another app's change, query costs, and the inventory control endpoints.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking, like the tests themselves"
)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::shopify::graphql::CANCEL_JOB_DELAY;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

const TOKEN: &str = "shpat_stock";

struct Harness {
    sandbox: ShopifySandbox,
    client: reqwest::Client,
    /// The first PULPO warehouse location and the second one.
    madrid: u64,
    barcelona: u64,
}

/// One stocked level as the control API shows it.
#[derive(Debug, PartialEq)]
struct Level {
    active: bool,
    available: i64,
    on_hand: i64,
    committed: i64,
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
            barcelona: 0,
        };
        let (_, body) = h.control("GET", "/sandbox/locations", None).await;
        let location = |name: &str| {
            body["locations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"] == name)
                .unwrap()["id"]
                .as_u64()
                .unwrap()
        };
        h.madrid = location(SHARED_WAREHOUSES[0]);
        h.barcelona = location(SHARED_WAREHOUSES[1]);
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

    async fn gql_at(&self, version: &str, query: &str, variables: Value) -> Value {
        self.client
            .post(self.sandbox.graphql_url(version))
            .header("X-Shopify-Access-Token", TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_at("2026-10", query, variables).await
    }

    /// A new tracked item with `sku`, stocked at `levels` (location, available); its item id.
    async fn item(&self, sku: &str, tracked: bool, levels: &[(u64, i64)]) -> u64 {
        let levels: Vec<Value> = levels
            .iter()
            .map(|(l, a)| json!({"location_id": l, "available": a}))
            .collect();
        let (status, body) = self
            .control(
                "POST",
                "/sandbox/inventory_items",
                Some(json!({"sku": sku, "tracked": tracked, "levels": levels})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["inventory_item_id"].as_u64().unwrap()
    }

    async fn level(&self, item: u64, location: u64) -> Option<Level> {
        let (status, body) = self
            .control(
                "GET",
                &format!("/sandbox/inventory_levels/{item}/{location}"),
                None,
            )
            .await;
        if status == StatusCode::NOT_FOUND {
            return None;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        Some(Level {
            active: body["active"].as_bool().unwrap(),
            available: body["available"].as_i64().unwrap(),
            on_hand: body["on_hand"].as_i64().unwrap(),
            committed: body["committed"].as_i64().unwrap(),
        })
    }

    /// An order for `quantity` units of `sku` fulfilled from `location`; the order's REST JSON.
    async fn order(&self, sku: &str, quantity: i64, location: u64) -> Value {
        let (status, body) = self
            .control(
                "POST",
                "/sandbox/orders",
                Some(json!({
                    "financial_status": "paid",
                    "location_id": location,
                    "line_items": [{"sku": sku, "quantity": quantity, "price": "5.00"}],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, order) = self
            .control("GET", &format!("/sandbox/orders/{}", body["id"]), None)
            .await;
        order["order"].clone()
    }
}

fn item_gid(item: u64) -> String {
    format!("gid://shopify/InventoryItem/{item}")
}

fn location_gid(location: u64) -> String {
    format!("gid://shopify/Location/{location}")
}

fn level_of(active: bool, available: i64, on_hand: i64) -> Option<Level> {
    Some(Level {
        active,
        available,
        on_hand,
        committed: on_hand - available,
    })
}

const SET: &str = "mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta } }
    userErrors { field message code }
  }
}";

const ACTIVATE: &str = "mutation Activate($item: ID!, $location: ID!, $available: Int, $key: String!) {
  inventoryActivate(inventoryItemId: $item, locationId: $location, available: $available) @idempotent(key: $key) {
    inventoryLevel { id isActive quantities(names: [\"available\", \"on_hand\", \"committed\"]) { name quantity } }
    userErrors { field message }
  }
}";

const LEVEL: &str = "query Level($item: ID!, $location: ID!) {
  inventoryItem(id: $item) {
    id sku tracked
    variant { id sku displayName }
    active: inventoryLevel(locationId: $location) { id isActive }
    any: inventoryLevel(locationId: $location, includeInactive: true) {
      isActive quantities(names: [\"available\", \"on_hand\", \"committed\"]) { name quantity }
    }
  }
}";

fn set_input(quantities: &[(u64, u64, i64, Value)]) -> Value {
    json!({
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://tentacle/StockRun/1",
        "quantities": quantities.iter().map(|(item, location, quantity, from)| json!({
            "inventoryItemId": item_gid(*item),
            "locationId": location_gid(*location),
            "quantity": quantity,
            "changeFromQuantity": from,
        })).collect::<Vec<_>>(),
    })
}

fn quantities(available: i64, on_hand: i64) -> Value {
    json!([
        {"name": "available", "quantity": available},
        {"name": "on_hand", "quantity": on_hand},
        {"name": "committed", "quantity": on_hand - available},
    ])
}

#[tokio::test]
async fn inventory_items_show_their_variant_and_level_and_activation_stocks_them() {
    let h = Harness::start().await;
    let item = h.item("STOCK-1", true, &[]).await;
    let vars = json!({"item": item_gid(item), "location": location_gid(h.madrid)});
    let body = h.gql(LEVEL, vars.clone()).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let read = &body["data"]["inventoryItem"];
    assert_eq!(read["sku"], "STOCK-1");
    assert_eq!(read["tracked"], true);
    assert_eq!(read["variant"]["sku"], "STOCK-1");
    assert_eq!(read["variant"]["displayName"], "STOCK-1 - Default Title");
    assert_eq!(read["active"], Value::Null, "not stocked: no level");
    assert_eq!(
        read["any"],
        Value::Null,
        "never stocked: no inactive level either"
    );

    let unkeyed = h
        .gql(
            "mutation A($item: ID!, $location: ID!) { inventoryActivate(inventoryItemId: $item, locationId: $location) { userErrors { field message } } }",
            vars.clone(),
        )
        .await;
    assert_eq!(unkeyed["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(unkeyed["data"]["inventoryActivate"], Value::Null);
    assert_eq!(h.level(item, h.madrid).await, None);

    let activate = |available: Value, key: &str| {
        let mut vars = vars.clone();
        vars["available"] = available;
        vars["key"] = json!(key);
        h.gql(ACTIVATE, vars)
    };
    let activated = activate(json!(7), "activate-1").await;
    let payload = &activated["data"]["inventoryActivate"];
    assert_eq!(payload["userErrors"], json!([]), "{activated:#}");
    assert_eq!(payload["inventoryLevel"]["isActive"], true);
    assert_eq!(payload["inventoryLevel"]["quantities"], quantities(7, 7));
    assert_eq!(
        payload["inventoryLevel"]["id"],
        format!(
            "gid://shopify/InventoryLevel/{}?inventory_item_id={item}",
            h.madrid
        )
    );
    // Mutation root 10, the payload and its level free, the quantities list one object.
    assert_eq!(activated["extensions"]["cost"]["requestedQueryCost"], 11);
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 7, 7));

    let same_key = activate(json!(7), "activate-1").await;
    assert_eq!(same_key["data"], activated["data"], "the key answers again");
    let again = activate(json!(3), "activate-2").await;
    assert_eq!(
        again["data"]["inventoryActivate"]["userErrors"],
        json!([{"field": ["available"], "message": "Not allowed to set available quantity when the item is already active at the location."}])
    );
    let plain = activate(Value::Null, "activate-3").await;
    assert_eq!(
        plain["data"]["inventoryActivate"]["inventoryLevel"]["quantities"],
        quantities(7, 7)
    );
    let unknown = h
        .gql(
            ACTIVATE,
            json!({"item": item_gid(1), "location": location_gid(h.madrid), "key": "activate-4"}),
        )
        .await;
    assert_eq!(
        unknown["data"]["inventoryActivate"]["userErrors"][0]["field"],
        json!(["inventoryItemId"])
    );
    let read = h.gql(LEVEL, vars).await;
    assert_eq!(read["data"]["inventoryItem"]["active"]["isActive"], true);
}

#[tokio::test]
async fn a_set_where_the_item_is_not_stocked_depends_on_the_version() {
    let h = Harness::start().await;
    let item = h.item("STOCK-2", true, &[(h.madrid, 3)]).await;
    let input = set_input(&[(item, h.barcelona, 4, json!(0))]);

    let refused = h
        .gql_at("2026-07", SET, json!({"input": input, "key": "v07"}))
        .await;
    assert_eq!(
        refused["data"]["inventorySetQuantities"],
        json!({
            "inventoryAdjustmentGroup": null,
            "userErrors": [{
                "field": ["input", "quantities", "0", "locationId"],
                "message": "The specified inventory item is not stocked at the location.",
                "code": "ITEM_NOT_STOCKED_AT_LOCATION",
            }],
        })
    );
    assert_eq!(h.level(item, h.barcelona).await, None);

    let set = h
        .gql_at("2026-10", SET, json!({"input": input, "key": "v10"}))
        .await;
    assert_eq!(
        set["data"]["inventorySetQuantities"]["userErrors"],
        json!([]),
        "{set:#}"
    );
    assert_eq!(h.level(item, h.barcelona).await, level_of(false, 4, 4));
    let read = h
        .gql(
            LEVEL,
            json!({"item": item_gid(item), "location": location_gid(h.barcelona)}),
        )
        .await;
    let read = &read["data"]["inventoryItem"];
    assert_eq!(
        read["active"],
        Value::Null,
        "an inactive level is not stocked"
    );
    assert_eq!(read["any"]["isActive"], false);
    assert_eq!(read["any"]["quantities"], quantities(4, 4));

    // 2026-07 also refuses a set on the inactive level; activation keeps its quantity.
    let inactive = h
        .gql_at(
            "2026-07",
            SET,
            json!({"input": set_input(&[(item, h.barcelona, 6, json!(4))]), "key": "v07-b"}),
        )
        .await;
    assert_eq!(
        inactive["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "ITEM_NOT_STOCKED_AT_LOCATION"
    );
    let activated = h
        .gql(
            ACTIVATE,
            json!({"item": item_gid(item), "location": location_gid(h.barcelona), "key": "act"}),
        )
        .await;
    assert_eq!(
        activated["data"]["inventoryActivate"]["inventoryLevel"]["isActive"],
        true
    );
    assert_eq!(h.level(item, h.barcelona).await, level_of(true, 4, 4));
}

#[tokio::test]
async fn another_apps_change_between_read_and_write_makes_the_whole_set_stale() {
    let h = Harness::start().await;
    let first = h.item("STOCK-3", true, &[(h.madrid, 5)]).await;
    let second = h.item("STOCK-4", true, &[(h.madrid, 9)]).await;
    let (status, changed) = h
        .control(
            "PUT",
            &format!("/sandbox/inventory_levels/{second}/{}", h.madrid),
            Some(json!({"available": 8})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["available"], 8);

    let input = set_input(&[
        (first, h.madrid, 6, json!(5)),
        (second, h.madrid, 10, json!(9)),
    ]);
    let stale = h.gql(SET, json!({"input": input, "key": "cas-1"})).await;
    assert_eq!(
        stale["data"]["inventorySetQuantities"],
        json!({
            "inventoryAdjustmentGroup": null,
            "userErrors": [{
                "field": ["input", "quantities", "1", "changeFromQuantity"],
                "message": "The specified compare quantity (9) does not match the current quantity (8).",
                "code": "CHANGE_FROM_QUANTITY_STALE",
            }],
        })
    );
    // All or nothing: the valid first quantity was not applied either.
    assert_eq!(h.level(first, h.madrid).await, level_of(true, 5, 5));
    assert_eq!(h.level(second, h.madrid).await, level_of(true, 8, 8));

    let fresh = set_input(&[
        (first, h.madrid, 6, json!(5)),
        (second, h.madrid, 10, json!(8)),
    ]);
    let set = h.gql(SET, json!({"input": fresh, "key": "cas-2"})).await;
    assert_eq!(
        set["data"]["inventorySetQuantities"]["userErrors"],
        json!([])
    );
    assert_eq!(h.level(first, h.madrid).await, level_of(true, 6, 6));
    assert_eq!(h.level(second, h.madrid).await, level_of(true, 10, 10));
}

#[tokio::test]
async fn orders_commit_stock_and_fulfillments_and_cancellations_release_it() {
    let h = Harness::start().await;
    let item = h.item("STOCK-5", true, &[(h.madrid, 10)]).await;
    let untracked = h.item("STOCK-6", false, &[(h.madrid, 4)]).await;

    let order = h.order("STOCK-5", 3, h.madrid).await;
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 7, 10));
    h.order("STOCK-6", 2, h.madrid).await;
    assert_eq!(
        h.level(untracked, h.madrid).await,
        level_of(true, 4, 4),
        "untracked items commit nothing"
    );

    // Fulfilling 2 of the 3 units ships them: on hand and committed go down, available stays.
    let fo = &order["fulfillment_orders"][0];
    let fulfilled = h
        .gql(
            "mutation F($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { fulfillment { id } userErrors { field message } } }",
            json!({"f": {"lineItemsByFulfillmentOrder": [{
                "fulfillmentOrderId": fo["admin_graphql_api_id"],
                "fulfillmentOrderLineItems": [{"id": format!("gid://shopify/FulfillmentOrderLineItem/{}", fo["line_items"][0]["id"]), "quantity": 2}],
            }]}}),
        )
        .await;
    assert_eq!(
        fulfilled["data"]["fulfillmentCreate"]["userErrors"],
        json!([]),
        "{fulfilled:#}"
    );
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 7, 8));

    // Cancelling with restock (the control API's default) returns the last unit to available.
    let (status, _) = h
        .control(
            "POST",
            &format!("/sandbox/orders/{}/cancel", order["id"]),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 8, 8));

    // Without restock the committed units are gone from on hand.
    let lost = h.order("STOCK-5", 2, h.madrid).await;
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 6, 8));
    h.control(
        "POST",
        &format!("/sandbox/orders/{}/cancel", lost["id"]),
        Some(json!({"restock": false})),
    )
    .await;
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 6, 6));

    // `orderCancel(restock: true)` releases them when its job runs.
    let cancelled = h.order("STOCK-5", 1, h.madrid).await;
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 5, 6));
    let answer = h
        .gql(
            "mutation C($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, restock: true, notifyCustomer: false) { job { id } orderCancelUserErrors { message } } }",
            json!({"id": cancelled["admin_graphql_api_id"]}),
        )
        .await;
    assert_eq!(
        answer["data"]["orderCancel"]["orderCancelUserErrors"],
        json!([])
    );
    tokio::time::sleep(CANCEL_JOB_DELAY * 4).await;
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 6, 6));

    // Moving a fulfillment order moves its commitment.
    h.control(
        "PUT",
        &format!("/sandbox/inventory_levels/{item}/{}", h.barcelona),
        Some(json!({"available": 2})),
    )
    .await;
    let moved = h.order("STOCK-5", 1, h.madrid).await;
    let (status, body) = h
        .control(
            "POST",
            &format!(
                "/sandbox/fulfillment_orders/{}/move",
                moved["fulfillment_orders"][0]["id"]
            ),
            Some(json!({"location_id": h.barcelona})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.level(item, h.madrid).await, level_of(true, 6, 6));
    assert_eq!(h.level(item, h.barcelona).await, level_of(true, 1, 2));
}

const FULFILLMENT_ORDERS: &str = "query F($query: String, $closed: Boolean) {
  fulfillmentOrders(first: 10, query: $query, includeClosed: $closed) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id status orderId orderName updatedAt
      assignedLocation { location { id } }
      lineItems(first: 10) { nodes { id sku remainingQuantity totalQuantity inventoryItemId } }
    }
  }
}";

#[tokio::test]
async fn fulfillment_orders_are_listed_by_location_status_id_and_update() {
    let h = Harness::start().await;
    let item = h
        .item("STOCK-7", true, &[(h.madrid, 10), (h.barcelona, 10)])
        .await;
    let in_madrid = h.order("STOCK-7", 2, h.madrid).await;
    let in_barcelona = h.order("STOCK-7", 1, h.barcelona).await;
    let closed = h.order("STOCK-7", 1, h.madrid).await;
    h.control(
        "POST",
        &format!("/sandbox/orders/{}/cancel", closed["id"]),
        None,
    )
    .await;
    let list = |query: Value, closed: bool| {
        h.gql(
            FULFILLMENT_ORDERS,
            json!({"query": query, "closed": closed}),
        )
    };
    let ids = |body: &Value| -> Vec<String> {
        body["data"]["fulfillmentOrders"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };
    let fo_gid = |order: &Value| {
        order["fulfillment_orders"][0]["admin_graphql_api_id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let madrid = list(json!(format!("assigned_location_id:{}", h.madrid)), false).await;
    assert!(madrid.get("errors").is_none(), "{madrid:#}");
    assert_eq!(ids(&madrid), vec![fo_gid(&in_madrid)]);
    let node = &madrid["data"]["fulfillmentOrders"]["nodes"][0];
    assert_eq!(node["status"], "OPEN");
    assert_eq!(node["orderId"], in_madrid["admin_graphql_api_id"]);
    assert_eq!(node["orderName"], in_madrid["name"]);
    assert_eq!(
        node["assignedLocation"]["location"]["id"],
        location_gid(h.madrid)
    );
    let line = &node["lineItems"]["nodes"][0];
    assert_eq!(line["sku"], "STOCK-7");
    assert_eq!(line["remainingQuantity"], 2);
    assert_eq!(line["inventoryItemId"], item_gid(item));

    let with_closed = list(json!(format!("assigned_location_id:{}", h.madrid)), true).await;
    assert_eq!(ids(&with_closed), vec![fo_gid(&in_madrid), fo_gid(&closed)]);
    assert_eq!(
        with_closed["data"]["fulfillmentOrders"]["nodes"][1]["status"],
        "CLOSED"
    );
    assert_eq!(ids(&list(Value::Null, false).await).len(), 2);
    assert_eq!(
        ids(&list(json!("status:closed"), true).await),
        vec![fo_gid(&closed)]
    );
    let barcelona_id = in_barcelona["fulfillment_orders"][0]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        ids(&list(json!(format!("id:{barcelona_id}")), false).await),
        vec![fo_gid(&in_barcelona)]
    );
    assert_eq!(
        ids(&list(json!("updated_at:>'2999-01-01T00:00:00Z'"), true).await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&list(json!("updated_at:>='2020-01-01T00:00:00Z'"), false).await).len(),
        2
    );
    let unknown = list(json!("sku:STOCK-7"), false).await;
    assert_eq!(
        unknown["extensions"]["search"][0]["warnings"][0]["code"],
        "invalid_field"
    );
}

#[tokio::test]
async fn an_inventory_page_of_250_costs_what_the_fitted_model_says() {
    let h = Harness::start().await;
    let (status, seeded) = h
        .control(
            "POST",
            "/sandbox/inventory_items/seed",
            Some(json!({"count": 300, "location_id": h.madrid, "sku_prefix": "COST-", "available": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    let page = "query P($location: ID!, $after: String) {
      inventoryItems(first: 250, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id sku tracked
          variant { id displayName }
          inventoryLevel(locationId: $location) { isActive quantities(names: [\"available\"]) { name quantity } }
        }
      }
    }";
    let body = h
        .gql(page, json!({"location": location_gid(h.barcelona)}))
        .await;
    let cost = &body["extensions"]["cost"];
    // 2 + m(250) × (item 1 + variant 1 + level 1 + quantities 1) = 2 + 11 × 4.
    assert_eq!(cost["requestedQueryCost"], 46, "{cost}");
    let nodes = body["data"]["inventoryItems"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 250);
    // What came back (1 + 250 items with their variants, …) costs more than the fitted
    // request, and the actual cost never exceeds what was requested.
    assert_eq!(cost["actualQueryCost"], 46, "{cost}");

    // A small page shows the refund: the level of an item not stocked in Barcelona is null.
    let one = page.replace(
        "first: 250, after: $after",
        "first: 3, after: $after, query: \"sku:COST-000001\"",
    );
    let body = h
        .gql(&one, json!({"location": location_gid(h.barcelona)}))
        .await;
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 2 + 2 * 4, "{cost}");
    assert_eq!(
        body["data"]["inventoryItems"]["nodes"][0]["inventoryLevel"],
        Value::Null
    );
    assert_eq!(cost["actualQueryCost"], 1 + 2, "{cost}");
    let body = h
        .gql(&one, json!({"location": location_gid(h.madrid)}))
        .await;
    assert_eq!(body["extensions"]["cost"]["actualQueryCost"], 1 + 4);
}
#[tokio::test]
async fn seeding_many_skus_is_quick_and_they_can_be_paged_and_set() {
    let h = Harness::start().await;
    let started = Instant::now();
    let (status, seeded) = h
        .control(
            "POST",
            "/sandbox/inventory_items/seed",
            Some(json!({"count": 20_000, "location_id": h.madrid, "available": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{seeded}");
    assert_eq!(seeded["created"], 20_000);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let last = seeded["last_inventory_item_id"].as_u64().unwrap();
    let read = h
        .gql(
            LEVEL,
            json!({"item": item_gid(last), "location": location_gid(h.madrid)}),
        )
        .await;
    assert_eq!(read["data"]["inventoryItem"]["sku"], "SEED-020000");
    assert_eq!(
        read["data"]["inventoryItem"]["any"]["quantities"],
        quantities(1, 1)
    );
    let quantities: Vec<(u64, u64, i64, Value)> = (0..250)
        .map(|i| (last - 3 * i, h.madrid, 5, json!(1)))
        .collect();
    let started = Instant::now();
    let set = h
        .gql(SET, json!({"input": set_input(&quantities), "key": "bulk"}))
        .await;
    assert_eq!(
        set["data"]["inventorySetQuantities"]["userErrors"],
        json!([])
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.level(last, h.madrid).await, level_of(true, 5, 5));
}

#[tokio::test]
async fn inventory_control_endpoints_stock_unstock_and_validate() {
    let h = Harness::start().await;
    let item = h.item("STOCK-8", true, &[]).await;
    let path = format!("/sandbox/inventory_levels/{item}/{}", h.barcelona);
    assert_eq!(h.level(item, h.barcelona).await, None);
    let (status, _) = h.control("PUT", &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = h
        .control("PUT", &path, Some(json!({"available": 3, "active": false})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.level(item, h.barcelona).await, level_of(false, 3, 3));
    h.control("PUT", &path, Some(json!({"active": true}))).await;
    assert_eq!(h.level(item, h.barcelona).await, level_of(true, 3, 3));
    let (status, _) = h.control("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.level(item, h.barcelona).await, None);
    let (status, _) = h.control("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .control(
            "PUT",
            &format!("/sandbox/inventory_levels/1/{}", h.madrid),
            Some(json!({"available": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = h
        .control(
            "POST",
            "/sandbox/inventory_items",
            Some(json!({"sku": "X", "levels": [{"location_id": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "levels[0].location_id: no location 1");
    let (status, _) = h
        .control(
            "POST",
            "/sandbox/inventory_items/seed",
            Some(json!({"count": 0, "location_id": h.madrid})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The variants list shows the new item with its level's activity.
    let (_, variants) = h.control("GET", "/sandbox/variants", None).await;
    let listed = variants["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == "STOCK-8")
        .unwrap();
    assert_eq!(listed["inventory_management"], "shopify");
}
