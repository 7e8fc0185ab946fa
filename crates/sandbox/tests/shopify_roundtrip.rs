//! An order given to the Shopify sandbox in Shopify's REST / webhook JSON shape reads back
//! through the Admin GraphQL API with the same lines, SKUs, quantities, address, tags and
//! statuses: the two faces of the sandbox describe one order.

use serde_json::{Value, json};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

const ORDER_QUERY: &str = r#"
query OneOrder($id: ID!) {
  order(id: $id) {
    id legacyResourceId name displayFinancialStatus displayFulfillmentStatus cancelledAt tags email
    customer { firstName lastName defaultEmailAddress { emailAddress } }
    shippingAddress { firstName lastName address1 address2 city zip countryCodeV2 phone }
    lineItems(first: 10) { nodes { id sku quantity requiresShipping isGiftCard originalUnitPriceSet { shopMoney { amount currencyCode } } } }
    fulfillmentOrders(first: 5) {
      nodes { status assignedLocation { name } lineItems(first: 10) { nodes { remainingQuantity totalQuantity lineItem { sku } } } }
    }
  }
}"#;

async fn graphql(sandbox: &ShopifySandbox, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(sandbox.graphql_url("2026-10"))
        .header("X-Shopify-Access-Token", "shpat_sandbox")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("GraphQL request")
        .json()
        .await
        .expect("GraphQL JSON")
}

#[tokio::test]
async fn webhook_shaped_order_reads_back_through_graphql() {
    let sandbox = ShopifySandbox::start(ShopifyConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        orders: 0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("sandbox starts");
    let control = format!("{}/sandbox", sandbox.shop_url());
    let client = reqwest::Client::new();

    let locations: Value = client
        .get(format!("{control}/locations"))
        .send()
        .await
        .expect("locations")
        .json()
        .await
        .expect("json");
    let barcelona = locations["locations"]
        .as_array()
        .expect("a list of locations")
        .iter()
        .find(|l| l["name"] == SHARED_WAREHOUSES[1])
        .expect("the second PULPO warehouse is a Shopify location");
    let variants: Value = client
        .get(format!("{control}/variants"))
        .send()
        .await
        .expect("variants")
        .json()
        .await
        .expect("json");
    let physical: Vec<&Value> = variants["variants"]
        .as_array()
        .expect("a list of variants")
        .iter()
        .filter(|v| v["requires_shipping"] == true)
        .take(2)
        .collect();
    let sku_a = physical[0]["sku"].as_str().expect("sku").to_string();
    let sku_b = physical[1]["sku"].as_str().expect("sku").to_string();

    let body = json!({
        "email": "zoë.müller@example.de",
        "financial_status": "paid",
        "fulfillment_status": null,
        "currency": "EUR",
        "tags": "vip, wholesale",
        "location_id": barcelona["id"],
        "customer": {"first_name": "Zoë", "last_name": "Müller", "email": "zoë.müller@example.de"},
        "shipping_address": {
            "first_name": "Zoë", "last_name": "Müller", "address1": "Straße des 17. Juni 135",
            "address2": "3. OG", "city": "Berlin", "zip": "10623", "country": "Germany",
            "country_code": "DE", "phone": "+49 30 1234567"
        },
        "line_items": [
            {"sku": sku_a, "title": "A", "quantity": 2, "price": "19.95", "requires_shipping": true, "gift_card": false},
            {"sku": sku_b, "title": "B", "quantity": 1, "price": "5.00", "requires_shipping": true, "gift_card": false},
            {"sku": "GIFT-25", "title": "Tarjeta regalo", "quantity": 1, "price": "25.00", "requires_shipping": false, "gift_card": true}
        ]
    });
    let created: Value = client
        .post(format!("{control}/orders"))
        .json(&body)
        .send()
        .await
        .expect("create")
        .error_for_status()
        .expect("created")
        .json()
        .await
        .expect("json");
    let gid = created["admin_graphql_api_id"]
        .as_str()
        .expect("gid")
        .to_string();

    let answer = graphql(&sandbox, ORDER_QUERY, json!({"id": gid})).await;
    let order = &answer["data"]["order"];
    assert_eq!(order["id"], gid, "{answer}");
    assert_eq!(
        order["legacyResourceId"],
        created["id"].to_string(),
        "UnsignedInt64 is a string"
    );
    assert_eq!(order["displayFinancialStatus"], "PAID");
    assert_eq!(order["displayFulfillmentStatus"], "UNFULFILLED");
    assert_eq!(order["cancelledAt"], Value::Null);
    assert_eq!(order["tags"], json!(["vip", "wholesale"]));
    assert_eq!(order["customer"]["firstName"], "Zoë");
    assert_eq!(
        order["customer"]["defaultEmailAddress"]["emailAddress"],
        "zoë.müller@example.de"
    );
    let address = &order["shippingAddress"];
    assert_eq!(address["address1"], "Straße des 17. Juni 135");
    assert_eq!(address["address2"], "3. OG");
    assert_eq!(address["city"], "Berlin");
    assert_eq!(address["zip"], "10623");
    assert_eq!(address["countryCodeV2"], "DE");

    let lines = order["lineItems"]["nodes"].as_array().expect("lines");
    let summary: Vec<(String, i64, bool)> = lines
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().expect("sku").to_string(),
                l["quantity"].as_i64().expect("qty"),
                l["requiresShipping"].as_bool().expect("bool"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (sku_a.clone(), 2, true),
            (sku_b.clone(), 1, true),
            ("GIFT-25".to_string(), 1, false)
        ]
    );
    assert_eq!(
        lines[0]["originalUnitPriceSet"]["shopMoney"]["amount"],
        "19.95"
    );
    assert_eq!(
        lines[1]["originalUnitPriceSet"]["shopMoney"]["amount"], "5.0",
        "Decimal without zero padding"
    );
    assert_eq!(lines[2]["isGiftCard"], true);

    let fulfillment_orders = order["fulfillmentOrders"]["nodes"]
        .as_array()
        .expect("fulfillment orders");
    assert_eq!(fulfillment_orders.len(), 1, "{answer}");
    assert_eq!(fulfillment_orders[0]["status"], "OPEN");
    assert_eq!(
        fulfillment_orders[0]["assignedLocation"]["name"], SHARED_WAREHOUSES[1],
        "location_id picks the location"
    );
    let fo_lines: Vec<(String, i64)> = fulfillment_orders[0]["lineItems"]["nodes"]
        .as_array()
        .expect("fo lines")
        .iter()
        .map(|l| {
            (
                l["lineItem"]["sku"].as_str().expect("sku").to_string(),
                l["remainingQuantity"].as_i64().expect("qty"),
            )
        })
        .collect();
    assert_eq!(
        fo_lines,
        vec![(sku_a, 2), (sku_b, 1)],
        "the gift card needs no fulfillment"
    );

    sandbox.stop().await;
}
