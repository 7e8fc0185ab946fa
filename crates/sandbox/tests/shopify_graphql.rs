//! The Shopify sandbox's GraphQL endpoint over real HTTP: auth, Shopify's error shapes, cost and
//! throttling, pagination, output formats, the reference operations and every mutation.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tentacle_sandbox::shopify::model::{
    Customer, FinancialStatus, FulfillmentOrder, FulfillmentOrderLineItem,
    FulfillmentOrderRequestStatus, FulfillmentOrderStatus, FulfillmentStatus, InventoryQuantities,
    LineItem, Location, MailingAddress, Order, ProductVariant, ShippingLine,
};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox, ShopifyState};

const TOKEN: &str = "shpat_test";
const VERSION: &str = "2026-10";

/// A running sandbox with a small known shop.
struct Harness {
    sandbox: ShopifySandbox,
    client: reqwest::Client,
    shop: Seeded,
}

/// Ids of what `seed` put into the shop.
struct Seeded {
    madrid: u64,
    barcelona: u64,
    /// (variant id, inventory item id, sku).
    variants: Vec<(u64, u64, String)>,
    /// In creation order; order `i` was processed `i` hours after the base time.
    orders: Vec<u64>,
}

fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 1, 8, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::TimeDelta::hours(hours)
}

/// Two locations, three variants stocked in Madrid, and `orders` orders. Order `i` has two
/// lines (quantities 2 and 1) in one open fulfillment order at Madrid, and its `updatedAt`
/// runs in the opposite direction of its `processedAt`.
fn seed(state: &ShopifyState, orders: usize) -> Seeded {
    let (madrid, barcelona, variants) = {
        let mut shop = state.shop();
        // A shop of the test's own: the generator's catalog and locations would shift indices.
        shop.locations.clear();
        shop.variants.clear();
        shop.inventory.clear();
        shop.next_id = 1 << 33;
        shop.currency = "EUR".into();
        let madrid = shop.allocate_id();
        let barcelona = shop.allocate_id();
        for (id, name, primary) in [(madrid, "Madrid", true), (barcelona, "Barcelona", false)] {
            shop.locations.push(Location {
                id,
                name: name.into(),
                address1: "Calle Mayor 1".into(),
                city: name.into(),
                zip: "28001".into(),
                country_code: "ES".into(),
                is_primary: primary,
                is_active: true,
            });
        }
        let mut variants = Vec::new();
        for (i, price) in [(1, "25.00"), (2, "12.50"), (3, "949.95")] {
            let id = shop.allocate_id();
            let item = shop.allocate_id();
            let sku = format!("SKU-{i}");
            shop.variants.push(ProductVariant {
                id,
                product_id: 900 + i,
                product_title: format!("Camiseta {i}"),
                title: "Negro / M".into(),
                sku: Some(sku.clone()),
                barcode: Some(format!("84000000000{i}")),
                price: price.parse().unwrap_or_default(),
                inventory_item_id: item,
                tracked: true,
                requires_shipping: true,
                is_gift_card: false,
                product_tags: vec!["Camiseta".into()],
                weight: None,
                unit_cost: None,
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            });
            shop.inventory.insert(
                (item, madrid),
                InventoryQuantities {
                    available: 10,
                    on_hand: 12,
                },
            );
            variants.push((id, item, sku));
        }
        (madrid, barcelona, variants)
    };
    let mut ids = Vec::new();
    for i in 0..orders {
        let order = {
            let mut shop = state.shop();
            let id = shop.allocate_id();
            let number = 1001 + i as u64;
            let mut lines = Vec::new();
            let mut fo_lines = Vec::new();
            for (v, quantity) in [(0usize, 2i64), (1, 1)] {
                let variant = shop.variants[v].clone();
                let line_id = shop.allocate_id();
                lines.push(LineItem {
                    id: line_id,
                    name: format!("{} - {}", variant.product_title, variant.title),
                    title: variant.product_title.clone(),
                    variant_title: Some(variant.title.clone()),
                    vendor: Some("Tentacle".into()),
                    sku: variant.sku.clone(),
                    variant_id: Some(variant.id),
                    quantity,
                    current_quantity: quantity,
                    requires_shipping: true,
                    is_gift_card: false,
                    unit_price: variant.price,
                });
                let fo_line = shop.allocate_id();
                fo_lines.push(FulfillmentOrderLineItem {
                    id: fo_line,
                    line_item_id: line_id,
                    total_quantity: quantity,
                    remaining_quantity: quantity,
                });
            }
            let fo_id = shop.allocate_id();
            let customer_id = shop.allocate_id();
            let shipping_id = shop.allocate_id();
            let address = MailingAddress {
                first_name: Some("Ana".into()),
                last_name: Some("García".into()),
                address1: Some("Calle Luna 5".into()),
                city: Some("Madrid".into()),
                zip: Some("28004".into()),
                country: Some("Spain".into()),
                country_code: Some("ES".into()),
                ..Default::default()
            };
            Order {
                id,
                name: format!("#{number}"),
                number,
                email: Some(format!("ana{i}@example.com")),
                phone: None,
                created_at: at(i as i64),
                updated_at: at(100 - i as i64),
                processed_at: at(i as i64),
                cancelled_at: None,
                cancel_reason: None,
                closed_at: None,
                test: false,
                financial_status: Some(FinancialStatus::Paid),
                fulfillment_status: FulfillmentStatus::Unfulfilled,
                note: None,
                tags: BTreeSet::from(["web".to_string(), "b2c".to_string()]),
                currency: "EUR".into(),
                customer: Some(Customer {
                    id: customer_id,
                    first_name: Some("Ana".into()),
                    last_name: Some("García".into()),
                    email: Some(format!("ana{i}@example.com")),
                    phone: Some("+34600000000".into()),
                }),
                shipping_address: Some(address.clone()),
                billing_address: Some(address),
                shipping_lines: vec![ShippingLine {
                    id: shipping_id,
                    title: "Standard".into(),
                    code: Some("STD".into()),
                    source: Some("shopify".into()),
                    carrier_identifier: None,
                    price: Decimal::new(500, 2),
                }],
                line_items: lines,
                fulfillment_orders: vec![FulfillmentOrder {
                    id: fo_id,
                    status: FulfillmentOrderStatus::Open,
                    request_status: FulfillmentOrderRequestStatus::Unsubmitted,
                    location_id: madrid,
                    line_items: fo_lines,
                    created_at: at(i as i64),
                    updated_at: at(i as i64),
                }],
                fulfillments: Vec::new(),
                returns: Vec::new(),
                refunds: Vec::new(),
                source_name: Some("web".into()),
            }
        };
        ids.push(order.id);
        state.insert_order(order, &[]);
    }
    Seeded {
        madrid,
        barcelona,
        variants,
        orders: ids,
    }
}

async fn start(orders: usize, bucket: f64, restore_rate: f64) -> Harness {
    let config = ShopifyConfig {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        access_token: TOKEN.into(),
        orders: 0,
        bucket,
        restore_rate,
        ..ShopifyConfig::default()
    };
    let sandbox = ShopifySandbox::start(config)
        .await
        .unwrap_or_else(|e| panic!("sandbox starts: {e}"));
    let shop = seed(&sandbox.state, orders);
    Harness {
        sandbox,
        client: reqwest::Client::new(),
        shop,
    }
}

impl Harness {
    async fn post(&self, version: &str, token: Option<&str>, body: Value) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.sandbox.graphql_url(version))
            .json(&body);
        if let Some(token) = token {
            request = request.header("X-Shopify-Access-Token", token);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request: {e}"))
    }

    async fn gql_version(&self, version: &str, query: &str, variables: Value) -> Value {
        let response = self
            .post(
                version,
                Some(TOKEN),
                json!({"query": query, "variables": variables}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response
            .json()
            .await
            .unwrap_or_else(|e| panic!("JSON body: {e}"))
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_version(VERSION, query, variables).await
    }

    /// Runs `query` and fails on any error; returns `data`.
    async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    fn order_gid(&self, index: usize) -> String {
        format!("gid://shopify/Order/{}", self.shop.orders[index])
    }

    fn order(&self, index: usize) -> Order {
        self.sandbox
            .state
            .shop()
            .orders
            .get(&self.shop.orders[index])
            .cloned()
            .unwrap_or_else(|| panic!("order {index}"))
    }

    fn fulfillment_order_gid(&self, index: usize) -> String {
        format!(
            "gid://shopify/FulfillmentOrder/{}",
            self.order(index).fulfillment_orders[0].id
        )
    }
}

fn cost(body: &Value) -> (u64, Option<u64>) {
    let cost = &body["extensions"]["cost"];
    (
        cost["requestedQueryCost"].as_u64().unwrap_or(u64::MAX),
        cost["actualQueryCost"].as_u64(),
    )
}

fn ids_of(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str().map(str::to_string))
        .collect()
}

fn decode_cursor(cursor: &Value) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("cursor {cursor} is base64: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("cursor {cursor} is JSON: {e}"))
}

/// The §12 `OrdersSince` reference operation.
const ORDERS_SINCE: &str = r#"
query OrdersSince($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name createdAt updatedAt processedAt
      cancelledAt cancelReason closed closedAt test
      displayFinancialStatus displayFulfillmentStatus
      tags note email phone currencyCode
      totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      subtotalPriceSet { shopMoney { amount currencyCode } }
      totalShippingPriceSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      customer { id legacyResourceId firstName lastName displayName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
      shippingAddress { name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone }
      billingAddress { name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone }
      shippingLines(first: 5) { nodes { title code source carrierIdentifier originalPriceSet { shopMoney { amount currencyCode } } } }
      lineItems(first: 100) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id name title sku quantity currentQuantity requiresShipping isGiftCard
          variant { id sku barcode inventoryItem { id } }
          originalUnitPriceSet { shopMoney { amount currencyCode } }
        }
      }
      fulfillmentOrders(first: 5) {
        nodes {
          id status requestStatus
          assignedLocation { name location { id } }
          lineItems(first: 100) { nodes { id remainingQuantity totalQuantity lineItem { id } } }
        }
      }
    }
  }
}"#;

const SET_AVAILABLE: &str = r#"
mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}"#;

const FULFILL: &str = r#"
mutation Fulfill($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status displayStatus trackingInfo { company number url } }
    userErrors { field message }
  }
}"#;

const TAG: &str = "mutation Tag($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }";
const NOTE: &str = "mutation Note($input: OrderInput!) { orderUpdate(input: $input) { order { id note } userErrors { field message } } }";
const CANCEL: &str = r#"
mutation Cancel($orderId: ID!) {
  orderCancel(orderId: $orderId, reason: CUSTOMER, restock: true, notifyCustomer: false) {
    job { id done } orderCancelUserErrors { field message code }
  }
}"#;

#[tokio::test]
async fn auth_is_required_and_every_answer_names_the_version() {
    let h = start(1, 2000.0, 100.0).await;
    let body = json!({"query": "{ __typename }"});
    for token in [None, Some("shpat_wrong")] {
        let response = h.post("2026-07", token, body.clone()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["X-Shopify-API-Version"],
            "2026-07",
            "401s name the version too"
        );
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(
            body,
            json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
        );
    }
    let response = h.post(VERSION, Some(TOKEN), body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["X-Shopify-API-Version"], VERSION);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["data"], json!({"__typename": "QueryRoot"}));
    // A raw `application/graphql` body is accepted too.
    let raw = h
        .client
        .post(h.sandbox.graphql_url(VERSION))
        .header("X-Shopify-Access-Token", TOKEN)
        .header("Content-Type", "application/graphql")
        .body("{ orders(first: 1) { nodes { name } } }")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body: Value = raw.json().await.unwrap_or_default();
    assert_eq!(body["data"]["orders"]["nodes"], json!([{"name": "#1001"}]));
    assert_eq!(h.sandbox.stats().requests, 2);
}

#[tokio::test]
async fn what_a_request_uses_that_the_schema_deprecates_is_named_in_a_header() {
    let h = start(1, 2000.0, 100.0).await;
    let header = |response: &reqwest::Response| {
        response
            .headers()
            .get("X-Shopify-API-Deprecated-Reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // Nothing deprecated: no header.
    let plain = h
        .post(
            VERSION,
            Some(TOKEN),
            json!({"query": "{ orders(first: 1) { nodes { name } } }"}),
        )
        .await;
    assert_eq!(header(&plain), None);
    // A deprecated field (`Customer.email`, 2026-10: use `defaultEmailAddress`) and a
    // deprecated argument, in the document.
    let fields = h
        .post(
            VERSION,
            Some(TOKEN),
            json!({"query": "{ orders(first: 1) { nodes { name customer { email } } } }"}),
        )
        .await;
    assert_eq!(header(&fields).as_deref(), Some("Customer.email"));
    // Deprecated input fields given in the variables (2026-10: `ReturnInput.notifyCustomer` is
    // ignored, `ReturnLineItemInput.returnReason` replaced by `returnReasonDefinitionId`), even
    // when Shopify refuses the mutation itself.
    let returns = h
        .post(
            VERSION,
            Some(TOKEN),
            json!({
                "query": "mutation R($input: ReturnInput!) { returnCreate(returnInput: $input) { userErrors { message } } }",
                "variables": {"input": {
                    "orderId": "gid://shopify/Order/1",
                    "notifyCustomer": false,
                    "returnLineItems": [{"fulfillmentLineItemId": "gid://shopify/FulfillmentLineItem/1", "quantity": 1, "returnReason": "DEFECTIVE"}],
                }},
            }),
        )
        .await;
    assert_eq!(
        header(&returns).as_deref(),
        Some("ReturnInput.notifyCustomer, ReturnLineItemInput.returnReason")
    );
    let cancel = h
        .post(
            VERSION,
            Some(TOKEN),
            json!({"query": "mutation { orderCancel(orderId: \"gid://shopify/Order/1\", reason: OTHER, restock: false, refund: false) { orderCancelUserErrors { message } } }"}),
        )
        .await;
    assert_eq!(
        header(&cancel).as_deref(),
        Some("Mutation.orderCancel(refund)")
    );
}

#[tokio::test]
async fn static_errors_have_shopifys_shapes_and_no_cost() {
    let h = start(1, 2000.0, 100.0).await;
    let parse = h
        .gql("query A {\n  orders(first: 1) {\n    id\n", json!({}))
        .await;
    assert_eq!(
        parse,
        json!({"errors": [{
            "message": "syntax error, unexpected end of file at [3, 5]",
            "locations": [{"line": 3, "column": 5}],
            "extensions": {"code": "PARSE_ERROR"},
        }]})
    );
    let undefined = h
        .gql(
            "query OpName {\n  orders(first: 1) {\n    nodes {\n      id\n      x\n    }\n  }\n}",
            json!({}),
        )
        .await;
    assert_eq!(
        undefined,
        json!({"errors": [{
            "message": "Field 'x' doesn't exist on type 'Order'",
            "locations": [{"line": 5, "column": 7}],
            "path": ["query OpName", "orders", "nodes", "x"],
            "extensions": {"code": "undefinedField", "typeName": "Order", "fieldName": "x"},
        }]})
    );
    let mismatch = h
        .gql(
            "query Q { order(id: \"gid://shopify/Order/1\") }",
            json!({}),
        )
        .await;
    assert_eq!(
        mismatch["errors"][0]["extensions"]["code"],
        "selectionMismatch"
    );
    assert_eq!(
        mismatch["errors"][0]["message"],
        "Field must have selections (field 'order' returns Order but has no selections. Did you mean 'order { ... }'?)"
    );
    let leaf = h
        .gql("{ orders(first: 1) { nodes { id { x } } } }", json!({}))
        .await;
    assert_eq!(leaf["errors"][0]["extensions"]["code"], "selectionMismatch");
    let missing = h.gql("query Q { order { id } }", json!({})).await;
    assert_eq!(
        missing["errors"][0],
        json!({
            "message": "Field 'order' is missing required arguments: id",
            "locations": [{"line": 1, "column": 11}],
            "path": ["query Q", "order"],
            "extensions": {"code": "missingRequiredArguments", "className": "Field", "name": "order", "arguments": "id"},
        })
    );
    let null_literal = h.gql("query Q { order(id: null) { id } }", json!({})).await;
    assert_eq!(
        null_literal["errors"][0]["extensions"],
        json!({"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": "id"})
    );
    assert_eq!(
        null_literal["errors"][0]["message"],
        "Argument 'id' on Field 'order' has an invalid value (null). Expected type 'ID!'."
    );
    let unknown_argument = h
        .gql(
            "query Q { orders(first: 1, color: 2) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        unknown_argument["errors"][0]["message"],
        "Field 'orders' doesn't accept argument 'color'"
    );
    assert_eq!(
        unknown_argument["errors"][0]["extensions"]["code"],
        "argumentNotAccepted"
    );
    let bad_enum = h
        .gql(
            "{ orders(first: 1, sortKey: COLOR) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        bad_enum["errors"][0]["extensions"]["code"],
        "argumentLiteralsIncompatible"
    );
    let variable = h
        .gql("query Q($id: ID!) { order(id: $id) { id } }", json!({}))
        .await;
    assert_eq!(
        variable,
        json!({"errors": [{
            "message": "Variable $id of type ID! was provided invalid value",
            "locations": [{"line": 1, "column": 9}],
            "extensions": {
                "code": "INVALID_VARIABLE",
                "value": null,
                "problems": [{"path": [], "explanation": "Expected value to not be null"}],
            },
        }]})
    );
    let wrong_type = h
        .gql(
            "query Q($n: Int!) { orders(first: $n) { nodes { id } } }",
            json!({"n": "ten"}),
        )
        .await;
    assert_eq!(
        wrong_type["errors"][0]["extensions"]["problems"][0]["explanation"],
        "Could not coerce value \"ten\" to Int"
    );
    let undeclared = h
        .gql("query Q { orders(first: $n) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        undeclared["errors"][0]["extensions"]["code"],
        "variableNotDefined"
    );
    for body in [
        &parse,
        &undefined,
        &mismatch,
        &missing,
        &null_literal,
        &variable,
        &undeclared,
    ] {
        assert!(
            body.get("data").is_none() && body.get("extensions").is_none(),
            "{body}"
        );
    }
    assert_eq!(
        h.sandbox.stats().requests,
        0,
        "static errors never reach the cost check"
    );
}

#[tokio::test]
async fn first_and_last_are_checked_at_execution() {
    let h = start(1, 2000.0, 100.0).await;
    for (arguments, message) in [
        ("", "you must provide one of first or last"),
        (
            "(first: 1, last: 1)",
            "providing both first and last is not supported",
        ),
        (
            "(first: 251)",
            "Argument 'first' on Field 'orders' has an invalid value (251). Expected a page size from 0 to 250.",
        ),
    ] {
        let body = h
            .gql(
                &format!("{{ orders{arguments} {{ nodes {{ id }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(body["data"], Value::Null, "{body}");
        assert_eq!(body["errors"][0]["message"], message);
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
        assert_eq!(body["errors"][0]["path"], json!(["orders"]));
        assert!(body["extensions"]["cost"].is_object());
    }
    // A nested connection without a size nulls its nullable parent only.
    let id = h.order_gid(0);
    let body = h
        .gql(
            "query Q($id: ID!) { order(id: $id) { name lineItems { nodes { id } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(body["data"], json!({"order": null}));
    assert_eq!(body["errors"][0]["path"], json!(["order", "lineItems"]));
}

#[tokio::test]
async fn requested_and_actual_costs_follow_shopifys_rules() {
    let h = start(3, 2000.0, 100.0).await;
    let body = h
        .gql("{ orders(first: 250) { nodes { id } } }", json!({}))
        .await;
    // Three orders really returned: 1 + 3 × 1.
    assert_eq!(cost(&body), (13, Some(4)));
    let body = h
        .gql(
            "{ orders(first: 1) { nodes { id name createdAt tags } pageInfo { hasNextPage endCursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(cost(&body).0, 3);
    let body = h
        .gql(TAG, json!({"id": h.order_gid(0), "tags": ["synced"]}))
        .await;
    assert_eq!(cost(&body), (10, Some(10)));
    let nested = "{ orders(first: 50) { nodes { id lineItems(first: 10) { nodes { id } } } } }";
    let before = h.sandbox.stats().points_charged;
    let body = h.gql(nested, json!({})).await;
    // Requested 2 + m(50)=7 × (1 + 2 + m(10)=4 × 1); actual 1 + 3 × (1 + 1 + 2).
    assert_eq!(cost(&body), (51, Some(13)));
    assert_eq!(h.sandbox.stats().points_charged - before, 13);
    let status = &body["extensions"]["cost"]["throttleStatus"];
    assert_eq!(status["maximumAvailable"], json!(2000.0));
    assert_eq!(status["restoreRate"], json!(100.0));
    let available = status["currentlyAvailable"].as_f64().unwrap_or(-1.0);
    assert!(
        (1900.0..=1987.0).contains(&available),
        "available {available}"
    );
    // The reference orders query: 2 + m(first) × 109 per order.
    let body = h.gql(ORDERS_SINCE, json!({"first": 50})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(cost(&body).0, 765);
    let body = h.gql(ORDERS_SINCE, json!({"first": 100})).await;
    assert_eq!(cost(&body).0, 983);
    let body = h.gql(ORDERS_SINCE, json!({"first": 250})).await;
    assert_eq!(
        body,
        json!({"errors": [{
            "message": "Query cost is 1201, which exceeds the single query max cost limit (1000).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": 1201, "maxCost": 1000, "documentation": "https://shopify.dev/api/usage/limits#rate-limits"},
        }]})
    );
    let body = h
        .gql("{ ordersCount { count precision } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["ordersCount"],
        json!({"count": 3, "precision": "EXACT"})
    );
    assert_eq!(cost(&body), (10, Some(10)));
}

#[tokio::test]
async fn a_burst_over_the_bucket_is_throttled_and_recovers_at_the_restore_rate() {
    let h = start(1, 25.0, 2.0).await;
    let query = "{ ordersCount { count } }";
    for _ in 0..2 {
        let body = h.gql(query, json!({})).await;
        assert_eq!(body["data"]["ordersCount"]["count"], 1);
    }
    let throttled = h.gql(query, json!({})).await;
    assert!(throttled.get("data").is_none(), "{throttled}");
    assert_eq!(
        throttled["errors"],
        json!([{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}])
    );
    let cost = &throttled["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 10);
    assert_eq!(cost["actualQueryCost"], Value::Null);
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], json!(25.0));
    assert_eq!(cost["throttleStatus"]["restoreRate"], json!(2.0));
    let available = cost["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap_or(-1.0);
    assert!((5.0..10.0).contains(&available), "available {available}");
    assert_eq!(h.sandbox.stats().throttled, 1);
    // Waiting (requested − available) / restoreRate is enough.
    let wait = (10.0 - available) / 2.0 + 0.3;
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    let body = h.gql(query, json!({})).await;
    assert_eq!(body["data"]["ordersCount"]["count"], 1, "{body}");
    let left = body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap_or(-1.0);
    // Charged: what came back since, minus 10 (slack for a slow machine).
    assert!((0.0..15.0).contains(&left), "left {left}");
    assert_eq!(h.sandbox.stats().requests, 4);
}

#[tokio::test]
async fn orders_page_forward_and_backward_with_documented_cursors() {
    let h = start(5, 2000.0, 100.0).await;
    let page = "query P($first: Int, $last: Int, $after: String, $before: String) {
        orders(first: $first, last: $last, after: $after, before: $before, sortKey: ID) {
          edges { cursor node { id } }
          nodes { id }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let all: Vec<String> = (0..5).map(|i| h.order_gid(i)).collect();
    let first = h.data(page, json!({"first": 2})).await["orders"].clone();
    assert_eq!(ids_of(&first), all[0..2]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true, "{first}");
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(
        decode_cursor(&first["pageInfo"]["endCursor"]),
        json!({"last_id": h.shop.orders[1], "last_value": h.shop.orders[1]})
    );
    assert_eq!(first["edges"][1]["cursor"], first["pageInfo"]["endCursor"]);
    let second = h
        .data(
            page,
            json!({"first": 2, "after": first["pageInfo"]["endCursor"]}),
        )
        .await["orders"]
        .clone();
    assert_eq!(ids_of(&second), all[2..4]);
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(second["pageInfo"]["hasNextPage"], true);
    let third = h
        .data(
            page,
            json!({"first": 2, "after": second["pageInfo"]["endCursor"]}),
        )
        .await["orders"]
        .clone();
    assert_eq!(ids_of(&third), all[4..5]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);
    let empty = h
        .data(
            page,
            json!({"first": 2, "after": third["pageInfo"]["endCursor"]}),
        )
        .await["orders"]
        .clone();
    assert_eq!(ids_of(&empty), Vec::<String>::new());
    assert_eq!(empty["pageInfo"]["startCursor"], Value::Null);
    assert_eq!(empty["pageInfo"]["endCursor"], Value::Null);
    // Backward from the third page.
    let back = h
        .data(
            page,
            json!({"last": 3, "before": third["pageInfo"]["startCursor"]}),
        )
        .await["orders"]
        .clone();
    assert_eq!(ids_of(&back), all[1..4]);
    assert_eq!(back["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(back["pageInfo"]["hasNextPage"], true);
    let last = h.data(page, json!({"last": 2})).await["orders"].clone();
    assert_eq!(ids_of(&last), all[3..5]);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    // The default sort is PROCESSED_AT, with epoch milliseconds in the cursor.
    let default = h
        .data(
            "{ orders(first: 1) { pageInfo { endCursor } nodes { id processedAt } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids_of(&default["orders"]), all[0..1]);
    assert_eq!(
        decode_cursor(&default["orders"]["pageInfo"]["endCursor"]),
        json!({"last_id": h.shop.orders[0], "last_value": at(0).timestamp_millis()})
    );
}

#[tokio::test]
async fn updated_at_sort_with_reverse_and_the_search_index() {
    let h = start(4, 2000.0, 100.0).await;
    // updatedAt runs opposite to processedAt: order 3 is the oldest update.
    let query = "query Q($reverse: Boolean) { orders(first: 10, sortKey: UPDATED_AT, reverse: $reverse, query: \"status:open\") {
        nodes { id updatedAt } pageInfo { endCursor } } }";
    let ascending = h.data(query, json!({"reverse": false})).await["orders"].clone();
    let expected: Vec<String> = (0..4).rev().map(|i| h.order_gid(i)).collect();
    assert_eq!(ids_of(&ascending), expected);
    assert_eq!(
        decode_cursor(&ascending["pageInfo"]["endCursor"])["last_value"],
        json!(at(100).timestamp_millis())
    );
    let descending = h.data(query, json!({"reverse": true})).await["orders"].clone();
    let reversed: Vec<String> = expected.into_iter().rev().collect();
    assert_eq!(ids_of(&descending), reversed);
    // A change moves `updatedAt` to now: the order sorts last.
    h.data(
        NOTE,
        json!({"input": {"id": h.order_gid(2), "note": "packed"}}),
    )
    .await;
    let after = h.data(query, json!({"reverse": false})).await["orders"].clone();
    assert_eq!(ids_of(&after).last(), Some(&h.order_gid(2)));
}

#[tokio::test]
async fn output_formats_follow_shopify() {
    let h = start(1, 2000.0, 100.0).await;
    let data = h
        .data(
            "query Q($id: ID!) { order(id: $id) {
               id legacyResourceId createdAt tags displayFinancialStatus cancelledAt
               totalPriceSet { shopMoney { amount currencyCode } }
               subtotalPriceSet { presentmentMoney { amount } }
               totalShippingPriceSet { shopMoney { amount } }
               lineItems(first: 5) { nodes { originalUnitPriceSet { shopMoney { amount } } variant { price legacyResourceId } } }
               customer { displayName defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } } } }",
            json!({"id": h.order_gid(0)}),
        )
        .await;
    let order = &data["order"];
    assert_eq!(order["id"], h.order_gid(0));
    assert_eq!(order["legacyResourceId"], h.shop.orders[0].to_string());
    assert_eq!(order["createdAt"], "2025-11-01T08:00:00Z");
    assert_eq!(order["tags"], json!(["b2c", "web"]));
    assert_eq!(order["displayFinancialStatus"], "PAID");
    assert_eq!(order["cancelledAt"], Value::Null);
    // 2 × 25.00 + 12.50 + 5.00 shipping.
    assert_eq!(
        order["totalPriceSet"],
        json!({"shopMoney": {"amount": "67.5", "currencyCode": "EUR"}})
    );
    assert_eq!(
        order["subtotalPriceSet"]["presentmentMoney"]["amount"],
        "62.5"
    );
    assert_eq!(order["totalShippingPriceSet"]["shopMoney"]["amount"], "5.0");
    let lines = &order["lineItems"]["nodes"];
    assert_eq!(
        lines[0]["originalUnitPriceSet"]["shopMoney"]["amount"],
        "25.0"
    );
    assert_eq!(
        lines[1]["originalUnitPriceSet"]["shopMoney"]["amount"],
        "12.5"
    );
    assert_eq!(lines[0]["variant"]["price"], "25.00");
    assert!(lines[0]["variant"]["legacyResourceId"].is_string());
    assert_eq!(
        order["customer"],
        json!({"displayName": "Ana García", "defaultEmailAddress": {"emailAddress": "ana0@example.com"}, "defaultPhoneNumber": {"phoneNumber": "+34600000000"}})
    );
    let variant = h
        .data(
            "{ productVariants(first: 1, query: \"sku:SKU-3\") { nodes { sku price } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        variant["productVariants"]["nodes"],
        json!([{"sku": "SKU-3", "price": "949.95"}])
    );
}

#[tokio::test]
async fn the_reference_orders_query_executes_in_full() {
    let h = start(2, 2000.0, 100.0).await;
    let body = h
        .gql(
            ORDERS_SINCE,
            json!({"first": 1, "query": "updated_at:>='2025-11-01T00:00:00Z'"}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let orders = &body["data"]["orders"];
    assert_eq!(orders["pageInfo"]["hasNextPage"], true);
    let order = &orders["nodes"][0];
    // Sorted by UPDATED_AT: the second order was updated first.
    assert_eq!(order["id"], h.order_gid(1));
    assert_eq!(order["closed"], false);
    assert_eq!(order["displayFulfillmentStatus"], "UNFULFILLED");
    assert_eq!(order["shippingAddress"]["name"], "Ana García");
    assert_eq!(order["shippingAddress"]["countryCodeV2"], "ES");
    assert_eq!(order["shippingLines"]["nodes"][0]["title"], "Standard");
    assert_eq!(order["lineItems"]["nodes"][0]["variant"]["sku"], "SKU-1");
    let fo = &order["fulfillmentOrders"]["nodes"][0];
    assert_eq!(fo["status"], "OPEN");
    assert_eq!(fo["requestStatus"], "UNSUBMITTED");
    assert_eq!(
        fo["assignedLocation"],
        json!({"name": "Madrid", "location": {"id": format!("gid://shopify/Location/{}", h.shop.madrid)}})
    );
    assert_eq!(fo["lineItems"]["nodes"][0]["remainingQuantity"], 2);
    assert_eq!(
        fo["lineItems"]["nodes"][0]["lineItem"]["id"],
        order["lineItems"]["nodes"][0]["id"]
    );
    let next = h
        .gql(
            ORDERS_SINCE,
            json!({"first": 1, "after": orders["pageInfo"]["endCursor"]}),
        )
        .await;
    assert_eq!(next["data"]["orders"]["nodes"][0]["id"], h.order_gid(0));
}

#[tokio::test]
async fn aliases_fragments_typename_and_operation_names() {
    let h = start(2, 2000.0, 100.0).await;
    let query = r#"
        fragment Money on MoneyBag { shopMoney { amount } }
        query One($id: ID!) {
          a: order(id: $id) { __typename name total: totalPriceSet { ...Money } ... on Order { number } }
          n: node(id: $id) { __typename id ... on Order { name } }
          locations(first: 5) { nodes { name isPrimary } }
          location { name }
        }
        query Two { orders(first: 1) { nodes { name } } }"#;
    let body = h
        .client
        .post(h.sandbox.graphql_url(VERSION))
        .header("X-Shopify-Access-Token", TOKEN)
        .json(&json!({"query": query, "variables": {"id": h.order_gid(1)}, "operationName": "One"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json::<Value>()
        .await
        .unwrap_or_default();
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(
        body["data"]["a"],
        json!({"__typename": "Order", "name": "#1002", "total": {"shopMoney": {"amount": "67.5"}}, "number": 1002})
    );
    assert_eq!(
        body["data"]["n"],
        json!({"__typename": "Order", "id": h.order_gid(1), "name": "#1002"})
    );
    assert_eq!(
        body["data"]["locations"]["nodes"],
        json!([{"name": "Barcelona", "isPrimary": false}, {"name": "Madrid", "isPrimary": true}])
    );
    assert_eq!(body["data"]["location"]["name"], "Madrid");
    let ambiguous = h.gql(query, json!({"id": h.order_gid(1)})).await;
    assert_eq!(
        ambiguous["errors"][0]["message"],
        "An operation name is required"
    );
}

#[tokio::test]
async fn variants_inventory_items_and_levels_with_search_warnings() {
    let h = start(0, 2000.0, 100.0).await;
    let (_, item, _) = h.shop.variants[1].clone();
    let body = h
        .gql(
            "query Q($loc: ID!) { productVariants(first: 5, query: \"sku:sku-2 color:red\") {
               nodes { sku inventoryQuantity inventoryItem { id tracked inventoryLevel(locationId: $loc) {
                 location { name } quantities(names: [\"available\", \"on_hand\", \"committed\"]) { name quantity } } } } } }",
            json!({"loc": format!("gid://shopify/Location/{}", h.shop.madrid)}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let nodes = &body["data"]["productVariants"]["nodes"];
    assert_eq!(nodes.as_array().map(Vec::len), Some(1));
    assert_eq!(nodes[0]["sku"], "SKU-2");
    assert_eq!(nodes[0]["inventoryQuantity"], 10);
    assert_eq!(
        nodes[0]["inventoryItem"]["id"],
        format!("gid://shopify/InventoryItem/{item}")
    );
    assert_eq!(
        nodes[0]["inventoryItem"]["inventoryLevel"]["quantities"],
        json!([{"name": "available", "quantity": 10}, {"name": "on_hand", "quantity": 12}, {"name": "committed", "quantity": 2}])
    );
    assert_eq!(
        body["extensions"]["search"],
        json!([{
            "path": ["productVariants"],
            "query": "sku:sku-2 color:red",
            "parsed": {"and": [{"field": "sku", "match_all": "sku-2"}, {"field": "color", "match_all": "red"}]},
            "warnings": [{"field": "color", "message": "Invalid search field for this query.", "code": "invalid_field"}],
        }])
    );
    let items = h
        .data(
            "{ inventoryItems(first: 5, query: \"sku:SKU-3\") { nodes { sku } }
               other: inventoryItem(id: \"gid://shopify/InventoryItem/1\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(items["inventoryItems"]["nodes"], json!([{"sku": "SKU-3"}]));
    assert_eq!(items["other"], Value::Null);
    let barcelona = h
        .data(
            "query Q($id: ID!, $loc: ID!) { inventoryItem(id: $id) { inventoryLevel(locationId: $loc) { id } } }",
            json!({"id": format!("gid://shopify/InventoryItem/{item}"), "loc": format!("gid://shopify/Location/{}", h.shop.barcelona)}),
        )
        .await;
    assert_eq!(barcelona["inventoryItem"]["inventoryLevel"], Value::Null);
}

fn set_input(item: u64, location: u64, quantity: i64, change_from: Value) -> Value {
    json!({
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "gid://tentacle/StockRun/1",
        "quantities": [{
            "inventoryItemId": format!("gid://shopify/InventoryItem/{item}"),
            "locationId": format!("gid://shopify/Location/{location}"),
            "quantity": quantity,
            "changeFromQuantity": change_from,
        }],
    })
}

#[tokio::test]
async fn inventory_set_quantities_follows_the_2026_04_contract() {
    let h = start(0, 2000.0, 100.0).await;
    let (_, item, _) = h.shop.variants[0].clone();
    let madrid = h.shop.madrid;
    let level = |h: &Harness| {
        h.sandbox
            .state
            .shop()
            .inventory
            .get(&(item, madrid))
            .copied()
    };
    let body = h
        .gql(
            SET_AVAILABLE,
            json!({"input": set_input(item, madrid, 15, json!(10)), "key": "k-1"}),
        )
        .await;
    assert_eq!(cost(&body).0, 13);
    let payload = &body["data"]["inventorySetQuantities"];
    assert_eq!(payload["userErrors"], json!([]));
    let group = &payload["inventoryAdjustmentGroup"];
    assert_eq!(group["reason"], "correction");
    assert_eq!(group["referenceDocumentUri"], "gid://tentacle/StockRun/1");
    let item_gid = format!("gid://shopify/InventoryItem/{item}");
    let location_gid = format!("gid://shopify/Location/{madrid}");
    assert_eq!(
        group["changes"],
        json!([
            {"name": "available", "delta": 5, "quantityAfterChange": null, "item": {"id": item_gid}, "location": {"id": location_gid}},
            {"name": "on_hand", "delta": 5, "quantityAfterChange": null, "item": {"id": item_gid}, "location": {"id": location_gid}},
        ])
    );
    assert_eq!(
        level(&h),
        Some(InventoryQuantities {
            available: 15,
            on_hand: 17
        })
    );
    // The same key with the same input answers the same, without applying again (its
    // changeFromQuantity would be stale now).
    let replay = h
        .gql(
            SET_AVAILABLE,
            json!({"input": set_input(item, madrid, 15, json!(10)), "key": "k-1"}),
        )
        .await;
    assert_eq!(replay["data"], body["data"]);
    assert_eq!(
        level(&h),
        Some(InventoryQuantities {
            available: 15,
            on_hand: 17
        })
    );
    let mismatch = h
        .gql(
            SET_AVAILABLE,
            json!({"input": set_input(item, madrid, 16, json!(15)), "key": "k-1"}),
        )
        .await;
    assert_eq!(
        mismatch["data"]["inventorySetQuantities"]["userErrors"][0]["code"],
        "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    );
    let stale = h
        .gql(
            SET_AVAILABLE,
            json!({"input": set_input(item, madrid, 3, json!(10)), "key": "k-2"}),
        )
        .await;
    let errors = &stale["data"]["inventorySetQuantities"]["userErrors"];
    assert_eq!(errors[0]["code"], "CHANGE_FROM_QUANTITY_STALE");
    assert_eq!(
        errors[0]["field"],
        json!(["input", "quantities", "0", "changeFromQuantity"])
    );
    assert_eq!(
        stale["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"],
        Value::Null
    );
    // An explicit null skips the compare-and-swap.
    let blind = h
        .gql(
            SET_AVAILABLE,
            json!({"input": set_input(item, madrid, 3, Value::Null), "key": "k-3"}),
        )
        .await;
    assert_eq!(
        blind["data"]["inventorySetQuantities"]["userErrors"],
        json!([])
    );
    assert_eq!(
        level(&h),
        Some(InventoryQuantities {
            available: 3,
            on_hand: 5
        })
    );
    let unknown = h
        .gql(
            SET_AVAILABLE,
            json!({"input": set_input(7, 8, 1, Value::Null), "key": "k-4"}),
        )
        .await;
    assert_eq!(
        unknown["data"]["inventorySetQuantities"],
        json!({"inventoryAdjustmentGroup": null, "userErrors": [
            {"field": ["input", "quantities", "0", "inventoryItemId"], "message": "The specified inventory item could not be found.", "code": "INVALID_INVENTORY_ITEM"},
            {"field": ["input", "quantities", "0", "locationId"], "message": "The specified location could not be found.", "code": "INVALID_LOCATION"},
        ]})
    );
    let no_directive = h
        .gql(
            "mutation M($input: InventorySetQuantitiesInput!) {\n  inventorySetQuantities(input: $input) { userErrors { code } } }",
            json!({"input": set_input(item, madrid, 1, Value::Null)}),
        )
        .await;
    assert_eq!(
        no_directive["errors"],
        json!([{
            "message": "The @idempotent directive is required for this mutation but was not provided.",
            "locations": [{"line": 2, "column": 3}],
            "extensions": {"code": "BAD_REQUEST"},
            "path": ["inventorySetQuantities"],
        }])
    );
    assert_eq!(
        no_directive["data"],
        json!({"inventorySetQuantities": null})
    );
    assert_eq!(cost(&no_directive).1, Some(10));
    let mut without_change_from = set_input(item, madrid, 1, Value::Null);
    if let Some(q) = without_change_from["quantities"][0].as_object_mut() {
        q.remove("changeFromQuantity");
    }
    let missing = h
        .gql(
            SET_AVAILABLE,
            json!({"input": without_change_from, "key": "k-5"}),
        )
        .await;
    assert_eq!(
        missing["errors"][0]["message"],
        "InventoryQuantityInput must include the following argument: changeFromQuantity."
    );
    assert_eq!(
        missing["errors"][0]["extensions"]["code"],
        "INVALID_FIELD_ARGUMENTS"
    );
    assert_eq!(
        missing["errors"][0]["locations"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(missing["data"], json!({"inventorySetQuantities": null}));
    let mut legacy = set_input(item, madrid, 1, Value::Null);
    legacy["ignoreCompareQuantity"] = json!(true);
    let legacy_body = h
        .gql(
            SET_AVAILABLE,
            json!({"input": legacy.clone(), "key": "k-6"}),
        )
        .await;
    assert_eq!(
        legacy_body,
        json!({"errors": [{
            "message": "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for ignoreCompareQuantity (Field is not defined on InventorySetQuantitiesInput)",
            "locations": [{"line": 2, "column": 23}],
            "extensions": {
                "code": "INVALID_VARIABLE",
                "value": legacy,
                "problems": [{"path": ["ignoreCompareQuantity"], "explanation": "Field is not defined on InventorySetQuantitiesInput"}],
            },
        }]})
    );
    // Before 2026-04 neither the directive nor changeFromQuantity is required.
    let mut old_input = set_input(item, madrid, 8, Value::Null);
    if let Some(q) = old_input["quantities"][0].as_object_mut() {
        q.remove("changeFromQuantity");
    }
    let old = h
        .gql_version(
            "2026-01",
            "mutation M($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { code } } }",
            json!({"input": old_input}),
        )
        .await;
    assert_eq!(
        old["data"]["inventorySetQuantities"]["userErrors"],
        json!([]),
        "{old}"
    );
    assert_eq!(
        level(&h),
        Some(InventoryQuantities {
            available: 8,
            on_hand: 10
        })
    );
    // …and the legacy compare-and-swap fields still work there.
    let mut legacy_input = set_input(item, madrid, 9, Value::Null);
    if let Some(q) = legacy_input["quantities"][0].as_object_mut() {
        q.remove("changeFromQuantity");
        q.insert("compareQuantity".into(), json!(7));
    }
    let stale_legacy = h
        .gql_version(
            "2026-01",
            "mutation M($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { field code } } }",
            json!({"input": legacy_input.clone()}),
        )
        .await;
    assert_eq!(
        stale_legacy["data"]["inventorySetQuantities"]["userErrors"],
        json!([{"field": ["input", "quantities", "0", "compareQuantity"], "code": "COMPARE_QUANTITY_STALE"}])
    );
    legacy_input["ignoreCompareQuantity"] = json!(true);
    let ignored = h
        .gql_version(
            "2026-01",
            "mutation M($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { userErrors { code } } }",
            json!({"input": legacy_input}),
        )
        .await;
    assert_eq!(
        ignored["data"]["inventorySetQuantities"]["userErrors"],
        json!([]),
        "{ignored}"
    );
    assert_eq!(
        level(&h),
        Some(InventoryQuantities {
            available: 9,
            on_hand: 11
        })
    );
}

#[tokio::test]
async fn fulfillment_create_moves_the_fulfillment_order_along() {
    let h = start(2, 2000.0, 100.0).await;
    let order = h.order(0);
    let fo = &order.fulfillment_orders[0];
    let fo_gid = h.fulfillment_order_gid(0);
    let line = |i: usize| {
        format!(
            "gid://shopify/FulfillmentOrderLineItem/{}",
            fo.line_items[i].id
        )
    };
    let partial = h
        .gql(
            FULFILL,
            json!({"fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_gid, "fulfillmentOrderLineItems": [{"id": line(0), "quantity": 1}]}],
                "trackingInfo": {"company": "SEUR", "number": "TRK1", "url": "https://track.example/TRK1"},
            }}),
        )
        .await;
    let payload = &partial["data"]["fulfillmentCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{partial}");
    assert_eq!(payload["fulfillment"]["status"], "SUCCESS");
    assert_eq!(payload["fulfillment"]["displayStatus"], "FULFILLED");
    assert_eq!(
        payload["fulfillment"]["trackingInfo"],
        json!([{"company": "SEUR", "number": "TRK1", "url": "https://track.example/TRK1"}])
    );
    let after = h.order(0);
    assert_eq!(
        after.fulfillment_orders[0].status,
        FulfillmentOrderStatus::InProgress
    );
    assert_eq!(
        after.fulfillment_orders[0].line_items[0].remaining_quantity,
        1
    );
    assert_eq!(
        after.fulfillment_status,
        FulfillmentStatus::PartiallyFulfilled
    );
    assert!(after.updated_at > order.updated_at);
    // Omitted lines: everything that remains.
    let rest = h
        .gql(FULFILL, json!({"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_gid}]}}))
        .await;
    assert_eq!(rest["data"]["fulfillmentCreate"]["userErrors"], json!([]));
    let done = h.order(0);
    assert_eq!(
        done.fulfillment_orders[0].status,
        FulfillmentOrderStatus::Closed
    );
    assert!(
        done.fulfillment_orders[0]
            .line_items
            .iter()
            .all(|l| l.remaining_quantity == 0)
    );
    assert_eq!(done.fulfillment_status, FulfillmentStatus::Fulfilled);
    assert_eq!(done.fulfillments.len(), 2);
    let read = h
        .data(
            "query Q($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillments { name totalQuantity fulfillmentLineItems(first: 5) { nodes { quantity } } } } }",
            json!({"id": h.order_gid(0)}),
        )
        .await;
    assert_eq!(read["order"]["displayFulfillmentStatus"], "FULFILLED");
    assert_eq!(read["order"]["fulfillments"][1]["name"], "#1001.2");
    assert_eq!(read["order"]["fulfillments"][1]["totalQuantity"], 2);
    let error = |body: &Value| body["data"]["fulfillmentCreate"].clone();
    let closed = h
        .gql(FULFILL, json!({"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_gid}]}}))
        .await;
    assert_eq!(
        error(&closed),
        json!({"fulfillment": null, "userErrors": [{"field": ["fulfillment"], "message": format!("Fulfillment order {} has an unfulfillable status= closed.", fo.id)}]})
    );
    assert_eq!(cost(&closed).1, Some(10));
    let other_fo = h.fulfillment_order_gid(1);
    let other_line = format!(
        "gid://shopify/FulfillmentOrderLineItem/{}",
        h.order(1).fulfillment_orders[0].line_items[0].id
    );
    let zero = h
        .gql(FULFILL, json!({"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": other_fo, "fulfillmentOrderLineItems": [{"id": other_line, "quantity": 0}]}]}}))
        .await;
    assert_eq!(
        error(&zero)["userErrors"],
        json!([{"field": ["fulfillment", "lineItemsByFulfillmentOrder", "0", "fulfillmentOrderLineItems", "0", "quantity"], "message": "Quantity must be greater than 0"}])
    );
    let over = h
        .gql(FULFILL, json!({"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": other_fo, "fulfillmentOrderLineItems": [{"id": other_line, "quantity": 3}]}]}}))
        .await;
    assert_eq!(
        error(&over)["userErrors"],
        json!([{"field": ["fulfillment"], "message": "Invalid fulfillment order line item quantity requested."}])
    );
    let unknown = h
        .gql(FULFILL, json!({"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1"}]}}))
        .await;
    assert_eq!(
        error(&unknown)["userErrors"],
        json!([{"field": ["fulfillment"], "message": "Fulfillment order does not exist."}])
    );
    let two_orders = h
        .gql(FULFILL, json!({"fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": other_fo}, {"fulfillmentOrderId": fo_gid}]}}))
        .await;
    assert_eq!(error(&two_orders)["fulfillment"], Value::Null);
    assert_eq!(
        h.order(1).fulfillment_orders[0].line_items[0].remaining_quantity,
        2,
        "refused calls change nothing"
    );
}

#[tokio::test]
async fn tags_add_and_order_update() {
    let h = start(1, 2000.0, 100.0).await;
    let id = h.order_gid(0);
    let body = h
        .gql(TAG, json!({"id": id, "tags": "pulpo, web, a-first"}))
        .await;
    assert_eq!(
        body["data"]["tagsAdd"],
        json!({"node": {"id": id}, "userErrors": []})
    );
    let tags = h
        .data(
            "query Q($id: ID!) { order(id: $id) { tags } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        tags["order"]["tags"],
        json!(["a-first", "b2c", "pulpo", "web"])
    );
    for (gid, message) in [
        ("gid://shopify/Order/1", "Order does not exist"),
        ("gid://shopify/Product/1", "Product does not exist"),
    ] {
        let body = h.gql(TAG, json!({"id": gid, "tags": ["x"]})).await;
        assert_eq!(
            body["data"]["tagsAdd"],
            json!({"node": null, "userErrors": [{"field": ["id"], "message": message}]})
        );
    }
    let body = h
        .gql(
            NOTE,
            json!({"input": {"id": id, "note": "Lot L-7 shipped", "tags": ["only"]}}),
        )
        .await;
    assert_eq!(
        body["data"]["orderUpdate"],
        json!({"order": {"id": id, "note": "Lot L-7 shipped"}, "userErrors": []})
    );
    assert_eq!(cost(&body), (10, Some(10)), "the payload's order is free");
    assert_eq!(h.order(0).tags, BTreeSet::from(["only".to_string()]));
    let missing = h
        .gql(
            NOTE,
            json!({"input": {"id": "gid://shopify/Order/1", "note": "x"}}),
        )
        .await;
    assert_eq!(
        missing["data"]["orderUpdate"],
        json!({"order": null, "userErrors": [{"field": ["id"], "message": "Order does not exist"}]})
    );
}

#[tokio::test]
async fn order_cancel_answers_with_a_job_and_cancels_shortly_after() {
    let h = start(1, 2000.0, 100.0).await;
    let id = h.order_gid(0);
    let body = h.gql(CANCEL, json!({"orderId": id})).await;
    assert_eq!(cost(&body), (10, Some(10)));
    let payload = &body["data"]["orderCancel"];
    assert_eq!(payload["orderCancelUserErrors"], json!([]));
    assert_eq!(payload["job"]["done"], false);
    let job = payload["job"]["id"].as_str().unwrap_or_default();
    let uuid = job.strip_prefix("gid://shopify/Job/").unwrap_or_default();
    assert_eq!(
        uuid.split('-').map(str::len).collect::<Vec<_>>(),
        vec![8, 4, 4, 4, 12]
    );
    let mut cancelled = None;
    for _ in 0..100 {
        let read = h
            .data(
                "query Q($id: ID!) { order(id: $id) { cancelledAt cancelReason closed fulfillmentOrders(first: 5) { nodes { status } } } }",
                json!({"id": id}),
            )
            .await;
        if !read["order"]["cancelledAt"].is_null() {
            cancelled = Some(read);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let read = cancelled.unwrap_or_else(|| panic!("the cancellation job never ran"));
    assert_eq!(read["order"]["cancelReason"], "CUSTOMER");
    assert_eq!(read["order"]["closed"], false, "a paid order stays open");
    assert_eq!(
        read["order"]["fulfillmentOrders"]["nodes"],
        json!([{"status": "CLOSED"}])
    );
    let again = h.gql(CANCEL, json!({"orderId": id})).await;
    assert_eq!(
        again["data"]["orderCancel"],
        json!({"job": null, "orderCancelUserErrors": [{"field": ["orderId"], "message": "Cannot cancel an order that has already been canceled", "code": "INVALID"}]})
    );
    let long_note = "x".repeat(256);
    let too_long = h
        .gql(
            "mutation C($id: ID!, $note: String) { orderCancel(orderId: $id, reason: OTHER, restock: false, staffNote: $note) { orderCancelUserErrors { field message } } }",
            json!({"id": id, "note": long_note}),
        )
        .await;
    assert_eq!(
        too_long["data"]["orderCancel"]["orderCancelUserErrors"],
        json!([{"field": ["staffNote"], "message": "Staff note is too long. Maximum length is 255 characters."}])
    );
}

/// A selection of every served field of `type_name`, `depth` levels deep, with the arguments
/// the sandbox needs to answer each.
fn every_field(type_name: &str, depth: usize, h: &Harness) -> String {
    use tentacle_sandbox::shopify::graphql::schema::{Kind, Schema};
    let schema = Schema::get();
    let Some(def) = schema.type_def(type_name) else {
        return "__typename".into();
    };
    let (_, item, _) = h.shop.variants[0].clone();
    let mut parts = vec!["__typename".to_string()];
    for field in &def.fields {
        let target = field.ty.name();
        let args = match (type_name, field.name.as_str()) {
            ("InventoryItem", "inventoryLevel") => {
                format!("(locationId: \"gid://shopify/Location/{}\")", h.shop.madrid)
            }
            ("Location", "inventoryLevel") => {
                format!("(inventoryItemId: \"gid://shopify/InventoryItem/{item}\")")
            }
            ("InventoryLevel", "quantities") => "(names: [\"available\", \"on_hand\"])".into(),
            _ if target.ends_with("Connection") => "(first: 2)".into(),
            _ => String::new(),
        };
        match schema.kind(target) {
            Some(Kind::Object | Kind::Interface) if depth == 0 => {}
            Some(Kind::Object | Kind::Interface) => parts.push(format!(
                "{}{args} {{ {} }}",
                field.name,
                every_field(target, depth - 1, h)
            )),
            _ => parts.push(format!("{}{args}", field.name)),
        }
    }
    parts.join(" ")
}

#[tokio::test]
async fn every_served_field_resolves() {
    let h = start(2, 100_000.0, 10_000.0).await;
    // One fulfillment with tracking, so `Fulfillment` fields have something to show.
    let fulfilled = h
        .gql(
            FULFILL,
            json!({"fulfillment": {
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": h.fulfillment_order_gid(0)}],
                "trackingInfo": {"company": "SEUR", "number": "1"},
            }}),
        )
        .await;
    assert_eq!(
        fulfilled["data"]["fulfillmentCreate"]["userErrors"],
        json!([])
    );
    let (variant, item, _) = h.shop.variants[0].clone();
    let fulfillment = fulfilled["data"]["fulfillmentCreate"]["fulfillment"]["id"].clone();
    let roots = [
        ("orders(first: 2)", "OrderConnection"),
        (&*format!("fulfillment(id: {fulfillment})"), "Fulfillment"),
        (&*format!("order(id: \"{}\")", h.order_gid(0)), "Order"),
        (
            &*format!("fulfillmentOrder(id: \"{}\")", h.fulfillment_order_gid(1)),
            "FulfillmentOrder",
        ),
        ("locations(first: 2)", "LocationConnection"),
        ("location", "Location"),
        ("productVariants(first: 2)", "ProductVariantConnection"),
        (
            &*format!("productVariant(id: \"gid://shopify/ProductVariant/{variant}\")"),
            "ProductVariant",
        ),
        ("inventoryItems(first: 2)", "InventoryItemConnection"),
        ("fulfillmentOrders(first: 2)", "FulfillmentOrderConnection"),
        (
            &*format!("inventoryItem(id: \"gid://shopify/InventoryItem/{item}\")"),
            "InventoryItem",
        ),
        (&*format!("node(id: \"{}\")", h.order_gid(1)), "Node"),
        ("ordersCount", "Count"),
    ]
    .map(|(field, ty)| (field.to_string(), ty));
    for (field, type_name) in roots {
        let query = format!("{{ {field} {{ {} }} }}", every_field(type_name, 4, &h));
        let body = h.gql(&query, json!({})).await;
        assert!(
            body.get("errors").is_none(),
            "{field}: {:#}",
            body["errors"]
        );
        assert!(
            !body["data"]
                .as_object()
                .is_none_or(|d| d.values().any(Value::is_null))
        );
    }
}
