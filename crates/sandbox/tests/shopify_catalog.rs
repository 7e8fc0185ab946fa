//! The Shopify sandbox's catalog as a merchant edits it and as the Admin GraphQL API shows it:
//! a variant added and edited through the control API reads back with its product's title and
//! tags, its inventory item's cost and weight, and an `updatedAt` the `updated_at` search of
//! `productVariants` follows; a bad edit names its field and changes nothing.

use serde_json::{Value, json};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

const VARIANTS: &str = r#"
query Variants($query: String) {
  productVariants(first: 250, query: $query) {
    nodes {
      id sku barcode title price updatedAt
      product { title tags isGiftCard }
      inventoryItem { requiresShipping unitCost { amount currencyCode } measurement { weight { unit value } } }
    }
  }
}"#;

async fn sandbox() -> ShopifySandbox {
    ShopifySandbox::start(ShopifyConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        orders: 0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("sandbox starts")
}

async fn graphql(sandbox: &ShopifySandbox, variables: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(sandbox.graphql_url("2026-10"))
        .header("X-Shopify-Access-Token", "shpat_sandbox")
        .json(&json!({"query": VARIANTS, "variables": variables}))
        .send()
        .await
        .expect("GraphQL request")
        .json()
        .await
        .expect("GraphQL JSON");
    assert!(answer.get("errors").is_none(), "{answer}");
    answer
}

fn nodes(answer: &Value) -> &Vec<Value> {
    answer["data"]["productVariants"]["nodes"]
        .as_array()
        .expect("nodes")
}

async fn control(method: reqwest::Method, url: String, body: Value) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .request(method, url)
        .json(&body)
        .send()
        .await
        .expect("control call");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_variant_added_and_edited_reads_back_through_graphql() {
    let sandbox = sandbox().await;
    let variants = format!("{}/sandbox/variants", sandbox.shop_url());
    let (status, made) = control(
        reqwest::Method::POST,
        variants.clone(),
        json!({"sku": "CAT-1", "product_title": "Vela", "title": "Grande", "barcode": "8400000000777",
               "price": "12.50", "unit_cost": "4.10", "tags": ["Hogar"],
               "weight": {"value": 1.2, "unit": "KILOGRAMS"}}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_u64().expect("variant id");
    let gid = format!("gid://shopify/ProductVariant/{id}");

    let all = graphql(&sandbox, json!({"query": null})).await;
    let node = nodes(&all)
        .iter()
        .find(|n| n["id"] == gid.as_str())
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(
        (
            &node["sku"],
            &node["title"],
            &node["price"],
            &node["product"]["title"],
            &node["product"]["tags"]
        ),
        (
            &json!("CAT-1"),
            &json!("Grande"),
            &json!("12.50"),
            &json!("Vela"),
            &json!(["Hogar"])
        )
    );
    assert_eq!(
        node["inventoryItem"]["unitCost"],
        json!({"amount": "4.1", "currencyCode": "EUR"})
    );
    assert_eq!(
        node["inventoryItem"]["measurement"]["weight"],
        json!({"unit": "KILOGRAMS", "value": 1.2})
    );
    let created_at = node["updatedAt"].as_str().expect("updatedAt").to_string();

    // Nothing of the seeded catalog (entered on 2026-01-01) was updated since the new variant.
    let since = json!({"query": format!("updated_at:>='{created_at}'")});
    let recent: Vec<String> = nodes(&graphql(&sandbox, since.clone()).await)
        .iter()
        .map(|n| n["sku"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(recent, ["CAT-1"]);
    let before: Vec<Value> = nodes(
        &graphql(
            &sandbox,
            json!({"query": "updated_at:<'2026-01-02T00:00:00Z'"}),
        )
        .await,
    )
    .clone();
    assert!(before.len() >= 200, "the seeded catalog: {}", before.len());
    assert!(before.iter().all(|n| n["sku"] != "CAT-1"));

    // An edit changes what it names and moves updatedAt; a bad one names its field and changes
    // nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, edited) = control(
        reqwest::Method::PATCH,
        format!("{variants}/{id}"),
        json!({"price": "13.00", "barcode": null, "weight": null}),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    let after = graphql(&sandbox, json!({"query": "sku:CAT-1"})).await;
    let node = &nodes(&after)[0];
    assert_eq!(
        (
            &node["price"],
            &node["barcode"],
            &node["inventoryItem"]["measurement"]["weight"]
        ),
        (&json!("13.00"), &Value::Null, &Value::Null)
    );
    assert!(
        node["updatedAt"].as_str() > Some(created_at.as_str()),
        "{node}"
    );
    let (status, refused) = control(
        reqwest::Method::PATCH,
        format!("{variants}/{id}"),
        json!({"price": "14.00", "weight": {"value": 1, "unit": "STONES"}}),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("weight.unit")),
        "{refused}"
    );
    let unchanged = graphql(&sandbox, json!({"query": "sku:CAT-1"})).await;
    assert_eq!(nodes(&unchanged)[0]["price"], "13.00");
    let (status, _) = control(
        reqwest::Method::PATCH,
        format!("{variants}/999"),
        json!({"price": "1.00"}),
    )
    .await;
    assert_eq!(status, 404);
}
