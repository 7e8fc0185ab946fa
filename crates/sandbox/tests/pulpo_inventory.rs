//! PULPO sandbox: warehouses, products, third parties and stock availability.

mod pulpo_support;

use pulpo_support::{Harness, config, id_of, order_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tentacle_sandbox::catalog::{Catalog, PULPO_ONLY_WAREHOUSE, SHARED_WAREHOUSES};
use tentacle_sandbox::pulpo::PulpoConfig;
use tentacle_sandbox::pulpo::limits::MAX_REQUEST_LINE;

fn list<'a>(body: &'a Value, key: &str) -> &'a Vec<Value> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("a {key} list: {body}"))
}

#[tokio::test]
async fn warehouses_are_the_shared_ones_plus_pulpos_own() {
    let harness = Harness::start().await;
    // PULPO's path has a trailing slash; its router also answers without one.
    for path in ["/warehouses/", "/warehouses"] {
        let (status, body) = harness.get(path).await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = list(&body, "warehouses")
            .iter()
            .map(|w| w["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            names,
            [
                SHARED_WAREHOUSES[0],
                SHARED_WAREHOUSES[1],
                PULPO_ONLY_WAREHOUSE
            ]
        );
        assert_eq!(body["total_results"], 3);
    }
    let (_, body) = harness
        .get(&format!("/warehouses/?name={}", "Lisboa%20Overflow"))
        .await;
    assert_eq!(list(&body, "warehouses")[0]["id"], 3);
}

#[tokio::test]
async fn products_are_found_by_sku_and_barcode_unless_unknown_to_pulpo() {
    let seed = 7;
    let unknown_share = 0.2;
    let harness = Harness::start_with(PulpoConfig {
        seed,
        unknown_share,
        ..config()
    })
    .await;
    let catalog = Catalog::generate(seed, unknown_share);
    let known = catalog
        .products
        .iter()
        .find(|p| p.known_to_pulpo)
        .expect("a known product");
    let unknown = catalog
        .products
        .iter()
        .find(|p| p.requires_shipping && !p.known_to_pulpo)
        .expect("an unknown product at this share");

    let (status, body) = harness
        .get(&format!("/inventory/products?sku={}", known.sku))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_results"], 1);
    let product = &list(&body, "products")[0];
    assert_eq!(product["sku"], known.sku.as_str());
    assert_eq!(product["barcodes"], json!([known.barcode]));
    assert_eq!(product["id"], known.index);
    assert!(
        product["name"]
            .as_str()
            .expect("name")
            .starts_with(&known.title)
    );
    let (_, body) = harness
        .get(&format!("/inventory/products?barcode={}", known.barcode))
        .await;
    assert_eq!(list(&body, "products")[0]["sku"], known.sku.as_str());

    let (status, body) = harness
        .get(&format!("/inventory/products?sku={}", unknown.sku))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"products": [], "total_results": 0}));
    assert!(harness.sandbox.state.product_by_sku(&unknown.sku).is_none());

    let (_, body) = harness
        .get(&format!(
            "/inventory/products?sku=to_list:{},{}",
            known.sku, unknown.sku
        ))
        .await;
    assert_eq!(body["total_results"], 1);

    let known_count = catalog.products.iter().filter(|p| p.known_to_pulpo).count();
    let (_, body) = harness.get("/inventory/products").await;
    assert_eq!(list(&body, "products").len(), 10, "default page size");
    assert_eq!(body["total_results"], known_count);
    let (_, body) = harness
        .get(&format!(
            "/inventory/products?limit=100&offset={}",
            known_count - 3
        ))
        .await;
    assert_eq!(list(&body, "products").len(), 3);
}

#[tokio::test]
async fn products_can_be_created_with_a_unique_sku() {
    let harness = Harness::start().await;
    let body = json!({"sku": "NEW-1", "name": "Nuevo", "barcodes": ["8400000000001"]});
    let (status, created) = harness.post("/inventory/products", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(id_of(&created) > 200, "after the catalog's ids");
    let (_, found) = harness.get("/inventory/products?sku=NEW-1").await;
    assert_eq!(list(&found, "products")[0], created);

    let (status, body) = harness.post("/inventory/products", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, json!({"errors": [{"sku": "has already been taken"}]}));
    let (_, body) = harness
        .post("/inventory/products", &json!({"sku": "NEW-2"}))
        .await;
    assert_eq!(body, json!({"errors": [{"name": "can't be blank"}]}));
}

#[tokio::test]
async fn a_product_update_changes_what_it_gives_and_keeps_the_rest() {
    let harness = Harness::start().await;
    let body =
        json!({"sku": "UPD-1", "name": "Nuevo", "barcodes": ["8400000000001"], "weight": 0.3});
    let (_, created) = harness.post("/inventory/products", &body).await;
    let path = format!("/inventory/products/{}", id_of(&created));
    let (status, updated) = harness
        .put(
            &path,
            &json!({"name": "Renovado", "cost_price": 4.5, "third_party_id": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (&updated["name"], &updated["weight"], &updated["cost_price"]),
        (&json!("Renovado"), &json!(0.3), &json!(4.5))
    );
    assert_eq!(updated["barcodes"], json!(["8400000000001"]));
    assert!(updated["updated_at"].as_str() > created["updated_at"].as_str());
    // A customer is no supplier; a SKU another product has is taken; the product is unchanged.
    let (status, refused) = harness.put(&path, &json!({"third_party_id": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused,
        json!({"errors": [{"third_party_id": "is not a supplier"}]})
    );
    let (_, other) = harness
        .post(
            "/inventory/products",
            &json!({"sku": "UPD-2", "name": "Otro"}),
        )
        .await;
    let (status, _) = harness.put(&path, &json!({"sku": "UPD-2"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, found) = harness
        .get(&format!("/inventory/products?id={}", id_of(&created)))
        .await;
    assert_eq!(list(&found, "products")[0], updated);
    let (status, _) = harness
        .put(
            &format!("/inventory/products/{}", id_of(&other) + 1000),
            &json!({"name": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_bulk_create_continues_past_refused_products() {
    let harness = Harness::start().await;
    let (status, _) = harness
        .control_post(
            "/inventory/products/refusals",
            &json!({"sku": "BULK-3", "message": "is not a valid EAN-13 code"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let products: Vec<Value> = ["BULK-1", "BULK-2", "BULK-1", "BULK-3"]
        .iter()
        .map(|sku| json!({"sku": sku, "name": format!("Producto {sku}")}))
        .collect();
    let (status, answer) = harness
        .post("/inventory/bulk/products", &Value::Array(products))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let created = answer["created"][0]["created"]
        .as_array()
        .expect("the created products");
    let skus: Vec<&str> = created.iter().filter_map(|p| p["sku"].as_str()).collect();
    assert_eq!(skus, ["BULK-1", "BULK-2"]);
    assert_eq!(
        answer["errors"],
        json!([
            {"errors": [{"sku": "has already been taken"}]},
            {"errors": [{"sku": "is not a valid EAN-13 code"}]},
        ])
    );
    // The refusal was used up: BULK-3 goes through alone, with a 201 and the flat list.
    let (status, answer) = harness
        .post(
            "/inventory/bulk/products",
            &json!([{"sku": "BULK-3", "name": "Producto BULK-3"}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["created"][0]["sku"], "BULK-3");
    assert!(harness.sandbox.state.product_by_sku("BULK-3").is_some());
}

#[tokio::test]
async fn third_parties_include_the_fallback_customer() {
    let harness = Harness::start().await;
    let (status, body) = harness
        .get("/iam/third_parties?third_type=C&name=Fallback%20customer")
        .await;
    assert_eq!(status, StatusCode::OK);
    let fallback = &list(&body, "third_parties")[0];
    assert_eq!(
        (fallback["id"].as_i64(), &fallback["third_type"]),
        (Some(1), &json!("C"))
    );

    let customer = json!({
        "name": "Ana García", "third_type": "C",
        "identifier_type": "email", "identifier_number": "ana@example.com",
        "email": "ana@example.com",
    });
    let (status, created) = harness.post("/iam/third_parties", &customer).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["tenant_id"], 1);
    let (_, body) = harness
        .get("/iam/third_parties?identifier_number=ana@example.com")
        .await;
    assert_eq!(list(&body, "third_parties")[0]["id"], created["id"]);
    let (_, body) = harness.get("/iam/third_parties?third_type=S").await;
    let suppliers = list(&body, "third_parties");
    assert_eq!(
        (suppliers.len(), &suppliers[0]["name"]),
        (1, &json!("Textiles del Norte S.L.")),
        "only the seeded supplier"
    );

    let (status, body) = harness.post("/iam/third_parties", &customer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": [{"identifier_number": "has already been taken"}]})
    );
    let (_, body) = harness
        .post(
            "/iam/third_parties",
            &json!({"name": "X", "third_type": "Z"}),
        )
        .await;
    assert_eq!(
        body,
        json!({"errors": [
            {"identifier_type": "can't be blank"},
            {"identifier_number": "can't be blank"},
            {"third_type": "is invalid"},
        ]})
    );

    // A sales order may name the new customer.
    let product = harness.product_ids(1)[0];
    let mut order = order_body("T1", product, 1);
    order["third_party_id"] = created["id"].clone();
    harness.create_order(&order).await;
}

#[tokio::test]
async fn availability_is_stock_minus_what_open_orders_hold() {
    let harness = Harness::start().await;
    let [product, other] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    for (warehouse, quantity) in [(1, 10), (2, 5)] {
        let (status, body) = harness
            .control_put(
                &format!("/inventory/products/{product}/stock"),
                &json!({"warehouse_id": warehouse, "quantity": quantity}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    harness
        .control_put(
            &format!("/inventory/products/{other}/stock"),
            &json!({"warehouse_id": 1, "quantity": 3}),
        )
        .await;
    let available = |query: String| {
        let harness = &harness;
        async move {
            let (status, body) = harness
                .get(&format!("/inventory/stocks/availability?{query}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body.as_array()
                .expect("a bare array")
                .iter()
                .map(|a| {
                    assert_eq!(a["reception_quantity"], 0);
                    assert_eq!(a["return_quantity"], 0);
                    (
                        a["product_id"].as_i64().expect("product_id"),
                        a["available_quantity"]
                            .as_i64()
                            .expect("available_quantity"),
                    )
                })
                .collect::<Vec<_>>()
        }
    };

    assert_eq!(available(format!("id={product}")).await, [(product, 15)]);
    assert_eq!(
        available(format!("id={product}&warehouse_id=1")).await,
        [(product, 10)]
    );
    assert_eq!(
        available(format!("id[]={product}&id[]={other}&warehouse_id=1,2")).await,
        [(product, 15), (other, 3)]
    );

    let order = harness.create_order(&order_body("R1", product, 4)).await;
    let id = id_of(&order);
    assert_eq!(available(format!("id={product}")).await, [(product, 11)]);
    assert_eq!(
        available(format!("id={product}&warehouse_id=2")).await,
        [(product, 5)],
        "the order reserves in its own warehouse"
    );
    harness.advance(id).await;
    harness.advance(id).await;
    assert_eq!(
        available(format!("id={product}")).await,
        [(product, 11)],
        "packing still holds the goods"
    );
    harness.advance(id).await;
    assert_eq!(available(format!("id={product}")).await, [(product, 11)]);
    assert_eq!(
        harness.sandbox.state.stock(product, 1),
        6,
        "shipped goods left"
    );

    let big = harness.create_order(&order_body("R2", other, 5)).await;
    assert_eq!(
        available(format!("id={other}")).await,
        [(other, -2)],
        "oversold: PULPO keeps the sign"
    );
    let (status, _) = harness
        .post(
            &format!("/sales/orders/{}/cancel", id_of(&big)),
            &Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(available(format!("id={other}")).await, [(other, 3)]);

    let (status, body) = harness
        .control_put(
            "/inventory/products/999999/stock",
            &json!({"warehouse_id": 1, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = harness
        .control_put(
            &format!("/inventory/products/{product}/stock"),
            &json!({"warehouse_id": 9, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// `(product_id, available_quantity)` pairs of an availability answer.
fn availability_pairs(body: &Value) -> Vec<(i64, i64)> {
    body.as_array()
        .unwrap_or_else(|| panic!("a bare array: {body}"))
        .iter()
        .map(|a| {
            (
                a["product_id"].as_i64().expect("product_id"),
                a["available_quantity"]
                    .as_i64()
                    .expect("available_quantity"),
            )
        })
        .collect()
}

#[tokio::test]
async fn products_are_made_in_bulk_and_availability_is_set_directly() {
    let harness = Harness::start().await;
    let (status, made) = harness
        .control_post(
            "/inventory/products",
            &json!({"count": 3000, "sku_prefix": "BENCH-", "warehouse_id": 1, "available_quantity": 4}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["created"], 3000);
    let first = made["first_id"].as_i64().expect("first_id");
    let last = made["last_id"].as_i64().expect("last_id");
    assert_eq!(last - first, 2999);
    let (_, found) = harness.get("/inventory/products?sku=BENCH-003000").await;
    assert_eq!(list(&found, "products")[0]["id"], last);
    let (status, body) = harness
        .control_post(
            "/inventory/products",
            &json!({"count": 2, "sku_prefix": "BENCH-"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "SKUs taken: {body}"
    );

    // Setting availability keeps what open orders hold held.
    let order = harness.create_order(&order_body("S1", first, 2)).await;
    let (_, body) = harness
        .get(&format!(
            "/inventory/stocks/availability?id={first}&warehouse_id=1"
        ))
        .await;
    assert_eq!(availability_pairs(&body), [(first, 2)]);
    let (status, level) = harness
        .control_put(
            &format!("/inventory/products/{first}/stock"),
            &json!({"warehouse_id": 1, "available_quantity": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{level}");
    assert_eq!(
        level,
        json!({"product_id": first, "warehouse_id": 1, "quantity": 7, "available_quantity": 5})
    );
    let (_, level) = harness
        .control_put(
            &format!("/inventory/products/{first}/stock"),
            &json!({"warehouse_id": 1, "available_quantity": -3}),
        )
        .await;
    assert_eq!(
        (
            level["quantity"].as_i64(),
            level["available_quantity"].as_i64()
        ),
        (Some(-1), Some(-3))
    );
    assert!(harness.sandbox.state.sales_order(id_of(&order)).is_some());
    let (status, _) = harness
        .control_put(
            &format!("/inventory/products/{first}/stock"),
            &json!({"warehouse_id": 1, "quantity": 1, "available_quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "one of the two");

    // Many levels at once, all or none.
    let (status, body) = harness
        .control_put(
            "/inventory/stocks",
            &json!([
                {"product_id": first + 1, "warehouse_id": 1, "available_quantity": 11},
                {"product_id": first + 2, "warehouse_id": 2, "quantity": 12},
            ]),
        )
        .await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"updated": 2})));
    let (status, _) = harness
        .control_put(
            "/inventory/stocks",
            &json!([
                {"product_id": first + 1, "warehouse_id": 1, "available_quantity": 99},
                {"product_id": 999_999_999, "warehouse_id": 1, "available_quantity": 1},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = harness
        .get(&format!(
            "/inventory/stocks/availability?warehouse_id=1,2&id=to_list:{},{},{}",
            first + 2,
            first + 1,
            999_999_999
        ))
        .await;
    assert_eq!(
        availability_pairs(&body),
        [(first + 1, 11), (first + 2, 16)],
        "by id; unknown ids are left out; nothing of the refused batch was written"
    );

    // A product without stock anywhere is answered with 0, not left out.
    let (_, created) = harness
        .post(
            "/inventory/products",
            &json!({"sku": "EMPTY-1", "name": "Empty"}),
        )
        .await;
    let empty = id_of(&created);
    let (_, body) = harness
        .get(&format!(
            "/inventory/stocks/availability?id={empty}&warehouse_id=1"
        ))
        .await;
    assert_eq!(availability_pairs(&body), [(empty, 0)]);
}

#[tokio::test]
async fn deleted_products_are_listed_only_when_asked_for_and_inactive_ones_filter_out() {
    let harness = Harness::start().await;
    let [deleted, inactive] = harness.product_ids(2)[..] else {
        panic!("two products");
    };
    let total = |body: &Value| body["total_results"].as_u64().expect("total_results");
    let (_, all) = harness.get("/inventory/products").await;
    let before = total(&all);
    let (status, product) = harness
        .send(
            harness
                .http
                .patch(harness.control_url(&format!("/inventory/products/{deleted}")))
                .json(&json!({"deleted": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{product}");
    assert_eq!(product["deleted"], true);
    harness
        .send(
            harness
                .http
                .patch(harness.control_url(&format!("/inventory/products/{inactive}")))
                .json(&json!({"active": false})),
        )
        .await;

    let (_, body) = harness.get("/inventory/products").await;
    assert_eq!(
        total(&body),
        before - 1,
        "deleted ones are left out by default"
    );
    let (_, body) = harness
        .get(&format!(
            "/inventory/products?id={deleted}&show_deleted=true"
        ))
        .await;
    assert_eq!(list(&body, "products")[0]["deleted"], true);
    let (_, body) = harness
        .get("/inventory/products?active=true&show_deleted=false&limit=100000")
        .await;
    assert_eq!(total(&body), before - 2);
    assert!(
        list(&body, "products")
            .iter()
            .all(|p| p["id"] != deleted && p["id"] != inactive)
    );
    let (status, _) = harness
        .send(
            harness
                .http
                .patch(harness.control_url("/inventory/products/999999"))
                .json(&json!({"active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_thousand_ids_fit_one_request_line_and_a_longer_line_is_refused() {
    let harness = Harness::start().await;
    let (_, made) = harness
        .control_post(
            "/inventory/products",
            &json!({"count": 2500, "sku_prefix": "LINE-", "warehouse_id": 1, "available_quantity": 1}),
        )
        .await;
    let first = made["first_id"].as_i64().expect("first_id");
    let ids = |n: i64| {
        (first..first + n)
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let (status, body) = harness
        .get(&format!(
            "/inventory/stocks/availability?warehouse_id=1&id=to_list:{}",
            ids(1000)
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(availability_pairs(&body).len(), 1000);

    let path = format!(
        "/inventory/stocks/availability?warehouse_id=1&id=to_list:{}",
        ids(2500)
    );
    assert!(path.len() > MAX_REQUEST_LINE);
    let before = harness.sandbox.stats().requests;
    let (status, body) = harness.get(&path).await;
    assert_eq!((status, body), (StatusCode::URI_TOO_LONG, Value::Null));
    assert_eq!(
        harness.sandbox.stats().requests,
        before,
        "refused before it is served"
    );
}
