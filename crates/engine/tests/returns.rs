//! The returns integration end to end: orders imported by the sales orders integration, shipped
//! in PULPO and fulfilled in Shopify by the shipments integration, goods sent back and received
//! in PULPO through its control API, and tentacle's engine registering each PULPO return as a
//! Shopify return, over real HTTP against both sandboxes, on SQLite and on PostgreSQL. What
//! Shopify holds is checked against the Shopify sandbox's own record of the order.

mod support;

use support::{Backend, Systems};

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tentacle_domain::returns::ReturnSettings;
use tentacle_domain::run::{RecordKind, RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_domain::shipments::ShipmentSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::pulpo::PulpoSandbox;
use tentacle_sandbox::shopify::model::{FinancialStatus, InventoryQuantities, Order, ReturnStatus};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{
    AttentionKind, Integration, LinkScope, LogFilter, NewIntegration, ReturnLink, Run, Store,
    SystemPair,
};

const MADRID: &str = SHARED_WAREHOUSES[0];

struct App {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<dyn Store>,
    sales: Integration,
    shipments: Integration,
    returns: Integration,
    scope: LinkScope,
    http: reqwest::Client,
    location: u64,
    warehouse: i64,
    _schema: Option<TestSchema>,
    _dir: tempfile::TempDir,
}

/// A Shopify order as the tests name it: its numeric id and its line item ids.
struct ShopOrder {
    id: u64,
    lines: Vec<u64>,
}

async fn spawn(backend: Backend, settings: ReturnSettings) -> Option<App> {
    let Systems {
        shopify,
        pulpo,
        store,
        shop,
        wms,
        schema,
        dir,
    } = support::systems(backend, ShopifyConfig::default(), "engine_returns").await?;
    let integration = |name: &str, kind: &str, origin: i64, destination: i64, settings: Value| {
        let store = store.clone();
        let (name, kind) = (name.to_string(), kind.to_string());
        async move {
            store
                .save_integration(NewIntegration {
                    name,
                    kind,
                    origin_credential_id: origin,
                    destination_credential_id: destination,
                    settings,
                })
                .await
                .expect("integration")
        }
    };
    let sales = integration(
        "Sales orders",
        "sales_orders",
        shop.id,
        wms.id,
        serde_json::to_value(SalesOrderSettings::default()).expect("settings"),
    )
    .await;
    let shipments = integration(
        "Shipments",
        "generate_shipments",
        wms.id,
        shop.id,
        serde_json::to_value(ShipmentSettings::default()).expect("settings"),
    )
    .await;
    let returns = integration(
        "Returns",
        "returns",
        wms.id,
        shop.id,
        serde_json::to_value(&settings).expect("settings"),
    )
    .await;
    let location = shopify
        .state
        .shop()
        .locations
        .iter()
        .find(|l| l.name == MADRID)
        .map(|l| l.id)
        .expect("Madrid location");
    let warehouse = pulpo
        .state
        .store()
        .warehouses
        .iter()
        .find(|w| w.name == MADRID)
        .map(|w| w.id)
        .expect("Madrid warehouse");
    Some(App {
        shopify,
        pulpo,
        store,
        sales,
        shipments,
        returns,
        scope: LinkScope {
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
        },
        http: reqwest::Client::new(),
        location,
        warehouse,
        _schema: schema,
        _dir: dir,
    })
}

async fn both(settings: ReturnSettings, test: impl AsyncFn(App)) {
    for backend in support::BACKENDS {
        match spawn(backend, settings.clone()).await {
            Some(app) => test(app).await,
            None => eprintln!("SKIPPED on PostgreSQL: no server at the test URL"),
        }
    }
}

/// [`mapped`], the returned products and the shipping refunded.
fn refunding() -> ReturnSettings {
    ReturnSettings {
        refund_products: true,
        refund_shipping: true,
        ..mapped()
    }
}

/// PULPO's `DAMAGED` is Shopify's `DEFECTIVE`; Shopify tells the customer.
fn mapped() -> ReturnSettings {
    ReturnSettings {
        notify_customer: true,
        reason_codes: vec!["DAMAGED=DEFECTIVE".into()],
        ..ReturnSettings::default()
    }
}

impl App {
    async fn run_of(&self, integration: &Integration) -> Run {
        self.run_at(integration, chrono::TimeDelta::seconds(2))
            .await
    }

    /// A run whose "now" is `ahead` of the clock (Shopify's order search works on whole
    /// seconds: an order created this second is found by a run a little later).
    async fn run_at(&self, integration: &Integration, ahead: chrono::TimeDelta) -> Run {
        let options = RunOptions {
            now: chrono::Utc::now() + ahead,
            ..RunOptions::default()
        };
        run_integration(
            self.store.clone(),
            integration,
            Trigger::Manual,
            options,
            None,
        )
        .await
        .expect("run")
    }

    /// A returns run, which must not fail.
    async fn return_run(&self) -> (Run, Vec<String>) {
        let run = self.run_of(&self.returns).await;
        let log = self.log(&run).await;
        assert_ne!(run.status, RunStatus::Failed, "{log:?}");
        (run, log)
    }

    async fn log(&self, run: &Run) -> Vec<String> {
        self.store
            .logs(run.id, &LogFilter::default())
            .await
            .expect("logs")
            .into_iter()
            .map(|l| format!("{} {}", l.level, l.message))
            .collect()
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let answer = request.send().await.expect("control call");
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    /// Paid Shopify orders at Madrid, one per entry of `orders` (its lines: SKU, quantity),
    /// imported into PULPO, shipped whole by the warehouse and fulfilled in Shopify by the
    /// shipments integration.
    async fn fulfilled_orders(&self, orders: &[&[(&str, i64)]]) -> Vec<ShopOrder> {
        let mut made = Vec::new();
        for lines in orders {
            made.push(self.shop_order(lines).await);
        }
        let imported = self.run_of(&self.sales).await;
        assert_eq!(
            imported.counters.created,
            orders.len() as u64,
            "{:?}",
            self.log(&imported).await
        );
        for (i, order) in made.iter().enumerate() {
            let pulpo_order = self.pulpo_order(order).await;
            self.send(
                self.http
                    .post(format!(
                        "{}/sales/orders/{pulpo_order}/ship",
                        self.pulpo.control_url()
                    ))
                    .json(&json!({"carrier_code": "seur", "tracking_code": format!("T{i}")})),
            )
            .await;
        }
        let shipped = self.run_of(&self.shipments).await;
        assert_eq!(
            shipped.counters.created,
            orders.len() as u64,
            "{:?}",
            self.log(&shipped).await
        );
        made
    }

    async fn fulfilled_order(&self, lines: &[(&str, i64)]) -> ShopOrder {
        self.fulfilled_orders(&[lines])
            .await
            .pop()
            .expect("an order")
    }

    /// A paid Shopify order at Madrid with `lines`, each SKU a PULPO product with stock.
    async fn shop_order(&self, lines: &[(&str, i64)]) -> ShopOrder {
        for (sku, _) in lines {
            self.send(
                self.http
                    .post(format!("{}/inventory/products", self.pulpo.control_url()))
                    .json(
                        &json!({"count": 1, "sku_prefix": sku.trim_end_matches("000001"),
                                  "warehouse_id": self.warehouse, "available_quantity": 50}),
                    ),
            )
            .await;
            self.send(
                self.http
                    .post(format!(
                        "{}/sandbox/inventory_items",
                        self.shopify.shop_url()
                    ))
                    .json(&json!({"sku": sku, "tracked": true,
                                  "levels": [{"location_id": self.location, "available": 20}]})),
            )
            .await;
        }
        let line_items: Vec<Value> = lines
            .iter()
            .map(|(sku, quantity)| {
                json!({"sku": sku, "title": sku, "quantity": quantity, "price": "10.00",
                       "requires_shipping": true, "gift_card": false})
            })
            .collect();
        let order = json!({
            "financial_status": "paid", "currency": "EUR", "email": "ana@example.es",
            "customer": {"id": 9_000_101, "first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.es"},
            "shipping_address": {"first_name": "Ana", "last_name": "Ruiz", "address1": "Gran Vía 1",
                                 "city": "Madrid", "zip": "28013", "country": "Spain", "country_code": "ES"},
            "line_items": line_items,
            "shipping_lines": [{"title": "Standard", "price": "4.95"}],
            "location_id": self.location,
        });
        let answer = self
            .send(
                self.http
                    .post(format!("{}/sandbox/orders", self.shopify.shop_url()))
                    .json(&order),
            )
            .await;
        let id = answer["id"].as_u64().expect("order id");
        let shop = self.shopify.state.shop();
        ShopOrder {
            id,
            lines: shop.orders[&id].line_items.iter().map(|l| l.id).collect(),
        }
    }

    fn pair(&self) -> SystemPair {
        SystemPair {
            shopify_credential_id: self.scope.origin_credential_id,
            pulpo_credential_id: self.scope.destination_credential_id,
        }
    }

    /// PULPO's id of the imported order.
    async fn pulpo_order(&self, order: &ShopOrder) -> i64 {
        self.store
            .order_links(self.scope, &gid(order))
            .await
            .expect("links")[0]
            .pulpo_order_id
            .expect("imported")
    }

    /// The warehouse receives a return of `items` (line index, quantity, reason code) of the
    /// order; the incoming good's id.
    async fn receive(&self, order: &ShopOrder, items: &[(usize, i64, &str)]) -> i64 {
        let pulpo_order = self.pulpo_order(order).await;
        self.receive_on(pulpo_order, order, items).await
    }

    async fn receive_on(
        &self,
        pulpo_order: i64,
        order: &ShopOrder,
        items: &[(usize, i64, &str)],
    ) -> i64 {
        let items: Vec<Value> = items
            .iter()
            .map(|(line, quantity, reason)| {
                json!({"line_order_id": order.lines[*line].to_string(), "quantity": quantity,
                       "reason_code": reason})
            })
            .collect();
        let good = self
            .send(
                self.http
                    .post(format!("{}/reception/returns", self.pulpo.control_url()))
                    .json(&json!({"sales_order_id": pulpo_order, "items": items})),
            )
            .await;
        good["id"].as_i64().expect("incoming good id")
    }

    /// PUT `/sandbox/faults` of the Shopify sandbox.
    async fn shopify_faults(&self, faults: Value) {
        self.send(
            self.http
                .put(format!("{}/sandbox/faults", self.shopify.shop_url()))
                .json(&faults),
        )
        .await;
    }

    /// A GraphQL call to the Shopify sandbox, as the merchant's other apps make them.
    async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.send(
            self.http
                .post(self.shopify.graphql_url("2026-10"))
                .header("X-Shopify-Access-Token", "shpat_sandbox")
                .json(&json!({"query": query, "variables": variables})),
        )
        .await
    }

    /// Shopify's own record of the order.
    fn shopify_order(&self, order: &ShopOrder) -> Order {
        self.shopify.state.shop().orders[&order.id].clone()
    }

    /// Every return Shopify holds, of every order.
    fn all_returns(&self) -> usize {
        self.shopify
            .state
            .shop()
            .orders
            .values()
            .map(|o| o.returns.len())
            .sum()
    }

    /// Shopify's quantities of each SKU's item at Madrid.
    fn levels(&self, skus: &[&str]) -> Vec<InventoryQuantities> {
        let shop = self.shopify.state.shop();
        skus.iter()
            .map(|sku| {
                let item = shop.variant_by_sku(sku).expect("variant").inventory_item_id;
                shop.inventory[&(item, self.location)]
            })
            .collect()
    }
}

fn gid(order: &ShopOrder) -> String {
    format!("gid://shopify/Order/{}", order.id)
}

/// (line item id, quantity, reason) of each line of each of the order's returns.
fn returned_lines(order: &Order) -> Vec<Vec<(u64, i64, String)>> {
    order
        .returns
        .iter()
        .map(|r| {
            r.lines
                .iter()
                .map(|l| (l.line_item_id, l.quantity, l.reason.clone()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn a_returned_line_of_a_two_line_order_is_one_open_return_not_restocked() {
    both(mapped(), async |app: App| {
        let skus = ["RTA-000001", "RTB-000001"];
        let order = app.fulfilled_order(&[(skus[0], 2), (skus[1], 1)]).await;
        let before = app.levels(&skus);
        let good = app.receive(&order, &[(0, 1, "DAMAGED")]).await;

        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(
            (run.counters.fetched, run.counters.created),
            (1, 1),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(
            returned_lines(&shopify),
            [[(order.lines[0], 1, "DEFECTIVE".to_string())]],
            "one return, of the returned line only, with its mapped reason"
        );
        let made = &shopify.returns[0];
        assert_eq!(made.status, ReturnStatus::Open, "left in progress");
        assert!(made.notify_customer, "as the setting says");
        assert_eq!(shopify.return_status(), "IN_PROGRESS");
        assert_eq!(app.levels(&skus), before, "nothing restocked in Shopify");
        assert!(
            log.iter().any(|l| l.starts_with("INFO")
                && l.contains(&format!("is Shopify return {}", made.name))
                && l.contains("nothing was restocked")),
            "{log:?}"
        );
        let link = app
            .store
            .return_link(app.pair(), good)
            .await
            .expect("link")
            .expect("linked");
        assert_eq!(
            link.return_id,
            Some(format!("gid://shopify/Return/{}", made.id))
        );

        // The same PULPO return read by the next run (the cursor's overlap): one return.
        let (run, log) = app.return_run().await;
        assert_eq!(
            (run.counters.fetched, run.counters.created),
            (1, 0),
            "{log:?}"
        );
        assert_eq!(app.shopify_order(&order).returns.len(), 1);

        // A second PULPO return of the other line is a second Shopify return.
        app.receive(&order, &[(1, 1, "NOT_WANTED")]).await;
        let (run, _) = app.return_run().await;
        assert_eq!(run.counters.created, 1);
        assert_eq!(
            returned_lines(&app.shopify_order(&order))[1],
            [(order.lines[1], 1, "OTHER".to_string())],
            "an unmapped reason code is OTHER"
        );
    })
    .await;
}

#[tokio::test]
async fn shopify_deprecation_notices_and_an_aging_api_version_are_warned_once_per_run() {
    both(mapped(), async |app: App| {
        let orders = app
            .fulfilled_orders(&[&[("RTA-000001", 2)], &[("RTB-000001", 1)]])
            .await;
        for order in &orders {
            app.receive(order, &[(0, 1, "DAMAGED")]).await;
        }
        // Two returnCreate requests, each with the input fields 2026-10 deprecates: Shopify
        // (the sandbox) names them in X-Shopify-API-Deprecated-Reason every time, the run says
        // so once per field.
        let (run, log) = app.return_run().await;
        assert_eq!(run.counters.created, 2, "{log:?}");
        for field in [
            "ReturnInput.notifyCustomer",
            "ReturnLineItemInput.returnReason",
        ] {
            let warned: Vec<&String> = log
                .iter()
                .filter(|l| l.starts_with("WARNING") && l.contains(field))
                .collect();
            assert_eq!(warned.len(), 1, "{field}: {log:?}");
            assert!(warned[0].contains("deprecated"), "{warned:?}");
        }
        assert!(
            !log.iter().any(|l| l.contains("Shopify API version")),
            "2026-10 is far from its end: {log:?}"
        );

        // Pinned to 2025-10, whose support ended on 2026-10-01: one WARNING saying what to do.
        let shop = app
            .store
            .credential(app.scope.origin_credential_id)
            .await
            .expect("read")
            .expect("shop");
        let mut pinned = shop.config.clone();
        pinned["api_version"] = json!("2025-10");
        app.store
            .update_credential(
                shop.id,
                tentacle_store::NewCredential {
                    name: shop.name.clone(),
                    kind: shop.kind,
                    config: pinned,
                    secrets: shop.secrets.clone(),
                },
            )
            .await
            .expect("pin an old version");
        app.receive(&orders[0], &[(0, 1, "DAMAGED")]).await;
        let (run, log) = app.return_run().await;
        assert_eq!(run.counters.created, 1, "{log:?}");
        let aged: Vec<&String> = log
            .iter()
            .filter(|l| l.contains("Shopify API version"))
            .collect();
        assert_eq!(aged.len(), 1, "once per run: {log:?}");
        assert!(
            aged[0].starts_with("WARNING")
                && aged[0].contains("2025-10")
                && aged[0].contains("since 2026-10-01")
                && aged[0].contains("Pick a newer api_version"),
            "{aged:?}"
        );

        // 2026-10 seen from 30 days before its end (the run's clock): warned as ending.
        app.store
            .update_credential(
                shop.id,
                tentacle_store::NewCredential {
                    name: shop.name.clone(),
                    kind: shop.kind,
                    config: shop.config.clone(),
                    secrets: shop.secrets.clone(),
                },
            )
            .await
            .expect("back to 2026-10");
        let late = chrono::DateTime::parse_from_rfc3339("2027-09-01T12:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let run = app.run_at(&app.returns, late - chrono::Utc::now()).await;
        let log = app.log(&run).await;
        let aged: Vec<&String> = log
            .iter()
            .filter(|l| l.contains("Shopify API version"))
            .collect();
        assert_eq!(aged.len(), 1, "{log:?}");
        assert!(
            aged[0].starts_with("WARNING")
                && aged[0]
                    .contains("2026-10 reaches its end of support on 2027-10-01 (in 30 days)"),
            "{aged:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_return_whose_answer_was_lost_is_adopted_not_created_twice() {
    both(mapped(), async |app: App| {
        let order = app.fulfilled_order(&[("LOST-000001", 2)]).await;
        let good = app.receive(&order, &[(0, 2, "DAMAGED")]).await;
        // An earlier run wrote its intent and sent the create; Shopify made the return but the
        // run stopped before it heard back.
        app.store
            .save_return_link(&ReturnLink {
                scope: app.pair(),
                incoming_good_id: good,
                sales_order_id: app.pulpo_order(&order).await,
                shopify_order_id: gid(&order),
                return_id: None,
                refund_id: None,
                updated_at: chrono::Utc::now(),
            })
            .await
            .expect("intent");
        let fulfilled = app.shopify_order(&order).fulfillments[0].lines[0].id;
        let made = app
            .graphql(
                "mutation R($input: ReturnInput!) { returnCreate(returnInput: $input) { return { id } userErrors { message } } }",
                json!({"input": {"orderId": gid(&order), "returnLineItems": [
                    {"fulfillmentLineItemId": format!("gid://shopify/FulfillmentLineItem/{fulfilled}"),
                     "quantity": 2, "returnReason": "DEFECTIVE"}]}}),
            )
            .await;
        assert_eq!(made["data"]["returnCreate"]["userErrors"], json!([]), "{made}");

        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(run.counters.conflicts, 0, "{log:?}");
        assert!(
            log.iter().any(|l| l.contains("already had its Shopify return")),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(shopify.returns.len(), 1, "not created twice");
        let link = app
            .store
            .return_link(app.pair(), good)
            .await
            .expect("link")
            .expect("linked");
        assert_eq!(
            link.return_id,
            Some(format!("gid://shopify/Return/{}", shopify.returns[0].id))
        );
    })
    .await;
}

#[tokio::test]
async fn creates_whose_connection_is_cut_after_shopify_made_them_are_never_made_twice() {
    both(mapped(), async |app: App| {
        // Four orders of two units, each returned in two PULPO returns of one unit: after a
        // first return, Shopify would take a resent one as the second.
        let orders = app
            .fulfilled_orders(&[
                &[("CUT0-000001", 2)],
                &[("CUT1-000001", 2)],
                &[("CUT2-000001", 2)],
                &[("CUT3-000001", 2)],
            ])
            .await;
        for order in &orders {
            app.receive(order, &[(0, 1, "DAMAGED")]).await;
            app.receive(order, &[(0, 1, "DAMAGED")]).await;
        }
        // A third of the connections are cut after Shopify did the work; runs go on until
        // every return is linked.
        app.shopify_faults(json!({"drop_after_share": 0.35})).await;
        let mut lost = 0;
        for _ in 0..4 {
            let run = app.run_of(&app.returns).await;
            let log = app.log(&run).await;
            lost += log.iter().filter(|l| l.contains("was lost")).count();
            if run.status == RunStatus::Finished {
                break;
            }
        }
        app.shopify_faults(json!({})).await;
        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert!(lost > 0, "some creates lost their answer");
        for order in &orders {
            let shopify = app.shopify_order(order);
            assert_eq!(
                returned_lines(&shopify),
                [
                    [(order.lines[0], 1, "DEFECTIVE".to_string())],
                    [(order.lines[0], 1, "DEFECTIVE".to_string())]
                ],
                "one Shopify return per PULPO return"
            );
            let links = app
                .store
                .return_links_of_order(app.pair(), &gid(order))
                .await
                .expect("links");
            assert_eq!(links.len(), 2);
            assert!(links.iter().all(|l| l.return_id.is_some()), "{links:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn more_back_than_shopify_has_left_to_return_and_a_refunded_order_are_conflicts() {
    both(mapped(), async |app: App| {
        let orders = app
            .fulfilled_orders(&[&[("OVR-000001", 2)], &[("REF-000001", 1)]])
            .await;
        let (over, refunded) = (&orders[0], &orders[1]);
        // The merchant registered one unit's return in Shopify by hand; PULPO receives both.
        let fulfilled = app.shopify_order(over).fulfillments[0].lines[0].id;
        app.graphql(
            "mutation R($input: ReturnInput!) { returnCreate(returnInput: $input) { userErrors { message } } }",
            json!({"input": {"orderId": gid(over), "returnLineItems": [
                {"fulfillmentLineItemId": format!("gid://shopify/FulfillmentLineItem/{fulfilled}"), "quantity": 1}]}}),
        )
        .await;
        let too_many = app.receive(over, &[(0, 2, "DAMAGED")]).await;
        // The other order was refunded in full in Shopify before its goods came back.
        app.send(
            app.http
                .patch(format!("{}/sandbox/orders/{}", app.shopify.shop_url(), refunded.id))
                .json(&json!({"financial_status": "refunded"})),
        )
        .await;
        let late = app.receive(refunded, &[(0, 1, "DAMAGED")]).await;

        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(
            (run.counters.conflicts, run.counters.created),
            (2, 0),
            "{log:?}"
        );
        assert_eq!(app.shopify_order(over).returns.len(), 1, "only the merchant's");
        assert!(app.shopify_order(refunded).returns.is_empty());
        assert!(
            log.iter().any(|l| l.starts_with("WARNING")
                && l.contains("2 units of line")
                && l.contains("only 1 unit fulfilled and not returned yet")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.starts_with("WARNING") && l.contains("refunded in full")),
            "{log:?}"
        );
        let mut flags: Vec<(RecordKind, AttentionKind, String)> = app
            .store
            .flags(Some(app.returns.id))
            .await
            .expect("flags")
            .into_iter()
            .map(|f| (f.key.record_kind, f.kind, f.key.record_id))
            .collect();
        flags.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(
            flags,
            [
                (RecordKind::Return, AttentionKind::Conflict, too_many.to_string()),
                (RecordKind::Return, AttentionKind::Conflict, late.to_string()),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn returns_of_orders_tentacle_did_not_import_are_left_alone() {
    both(mapped(), async |app: App| {
        let order = app.fulfilled_order(&[("OWN-000001", 1)]).await;
        // A PULPO order of another channel, shipped and sent back.
        let product = app
            .pulpo
            .state
            .product_by_sku("OWN-000001")
            .expect("product")
            .id;
        let foreign = {
            let body = serde_json::from_value(json!({
                "order_num": "OTHER-1", "warehouse_id": app.warehouse,
                "ship_to": {"name": "Eva", "address": {"street": "Calle 1", "city": "Madrid", "zip": "28001", "country_code": "ES"}},
                "items": [{"product_id": product, "quantity": 1, "line_order_id": "L-1"}],
            }))
            .expect("body");
            app.pulpo
                .state
                .store()
                .create_sales_order(body)
                .expect("order")
                .id
        };
        app.send(
            app.http
                .post(format!("{}/sales/orders/{foreign}/ship", app.pulpo.control_url()))
                .json(&json!({})),
        )
        .await;
        app.send(
            app.http
                .post(format!("{}/reception/returns", app.pulpo.control_url()))
                .json(&json!({"sales_order_id": foreign, "items": [{"line_order_id": "L-1", "quantity": 1}]})),
        )
        .await;

        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(
            (run.counters.fetched, run.counters.skipped, run.counters.created),
            (1, 1, 0),
            "{log:?}"
        );
        assert!(
            log.iter().any(|l| l.starts_with("INFO")
                && l.contains(&format!("PULPO sales order {foreign}, which tentacle did not import"))),
            "{log:?}"
        );
        assert_eq!(app.all_returns(), 0);
        assert!(app.shopify_order(&order).returns.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_return_shopify_refuses_is_an_error_flagged_and_sent_on_a_later_run() {
    both(mapped(), async |app: App| {
        let order = app.fulfilled_order(&[("REFU-000001", 1)]).await;
        let good = app.receive(&order, &[(0, 1, "DAMAGED")]).await;
        app.send(
            app.http
                .post(format!("{}/sandbox/refusals", app.shopify.shop_url()))
                .json(&json!({"mutation": "returnCreate", "message": "The order is being edited.", "count": 1})),
        )
        .await;

        // Its one return failed, so the run did (SPEC: FAILED when nothing was handled).
        let run = app.run_of(&app.returns).await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Failed, "{log:?}");
        assert_eq!((run.counters.failed, run.counters.created), (1, 0));
        assert!(
            log.iter().any(|l| l.starts_with("ERROR")
                && l.contains("being edited")
                && l.contains("retried on the next run")),
            "{log:?}"
        );
        let flags = app.store.flags(Some(app.returns.id)).await.expect("flags");
        assert_eq!(
            flags
                .iter()
                .map(|f| (f.kind, f.key.record_id.clone()))
                .collect::<Vec<_>>(),
            [(AttentionKind::Failed, good.to_string())]
        );

        // An hour later, past the cursor's overlap: the failed return is read again.
        let run = app.run_at(&app.returns, chrono::TimeDelta::hours(1)).await;
        assert_eq!(
            (run.status, run.counters.created),
            (RunStatus::Finished, 1),
            "{:?}",
            app.log(&run).await
        );
        assert_eq!(app.shopify_order(&order).returns.len(), 1);
        assert!(
            app.store
                .flags(Some(app.returns.id))
                .await
                .expect("flags")
                .is_empty(),
            "the flag is cleared"
        );
    })
    .await;
}

#[tokio::test]
async fn a_worker_killed_mid_run_leaves_exactly_one_return_per_pulpo_return() {
    both(mapped(), async |app: App| {
        let skus: Vec<String> = (0..6).map(|i| format!("KIL{i}-000001")).collect();
        let lines: Vec<[(&str, i64); 1]> = skus.iter().map(|s| [(s.as_str(), 1)]).collect();
        let wanted: Vec<&[(&str, i64)]> = lines.iter().map(|l| &l[..]).collect();
        let orders = app.fulfilled_orders(&wanted).await;
        for order in &orders {
            app.receive(order, &[(0, 1, "DAMAGED")]).await;
        }
        // Slow answers, so the run is still going when its worker dies.
        app.shopify_faults(json!({"latency_ms": 150})).await;
        let store = app.store.clone();
        let returns = app.returns.clone();
        let mut worker = tokio::spawn(async move {
            run_integration(
                store,
                &returns,
                Trigger::Manual,
                RunOptions::default(),
                None,
            )
            .await
        });
        support::wait_for_worker(&mut worker, "made no two returns", || {
            app.all_returns() >= 2
        })
        .await;
        // Killed just after Shopify made a return: its answer, the completed link and the
        // run's end are never written.
        worker.abort();
        let _ = worker.await;
        app.shopify_faults(json!({})).await;
        assert!(app.all_returns() < orders.len(), "the run was cut short");

        let run = support::resume_lost_run(&app.store).await;
        assert_eq!(run.status, RunStatus::Finished, "{:?}", app.log(&run).await);
        for (i, order) in orders.iter().enumerate() {
            assert_eq!(
                returned_lines(&app.shopify_order(order)),
                [[(order.lines[0], 1, "DEFECTIVE".to_string())]],
                "exactly one return for the PULPO return of order {i}"
            );
        }
        let (again, _) = app.return_run().await;
        assert_eq!(again.counters.created, 0);
        assert_eq!(app.all_returns(), orders.len());
    })
    .await;
}

/// (line item id, units, restock type) of one refund line.
type RefundedLine = (u64, i64, String);

/// The lines of each of the order's refunds, and the money each gave back.
fn refunds(order: &Order) -> Vec<(Vec<RefundedLine>, Decimal)> {
    order
        .refunds
        .iter()
        .map(|r| {
            (
                r.lines
                    .iter()
                    .map(|l| (l.line_item_id, l.quantity, l.restock_type.clone()))
                    .collect(),
                r.amount,
            )
        })
        .collect()
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

#[tokio::test]
async fn with_refunds_on_the_returned_units_and_shipping_are_refunded_never_more_than_was_paid() {
    both(refunding(), async |app: App| {
        // 2 × 10.00 and 1 × 10.00, with 4.95 shipping: 34.95 paid.
        let skus = ["RFA-000001", "RFB-000001"];
        let order = app.fulfilled_order(&[(skus[0], 2), (skus[1], 1)]).await;
        assert_eq!(app.shopify_order(&order).received(), money(3495));
        let before = app.levels(&skus);
        app.receive(&order, &[(0, 1, "DAMAGED")]).await;

        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(
            (run.counters.created, run.counters.updated),
            (1, 1),
            "a return and its refund: {log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(shopify.returns.len(), 1);
        assert_eq!(
            refunds(&shopify),
            [(
                vec![(order.lines[0], 1, "NO_RESTOCK".to_string())],
                money(1495)
            )],
            "the unit at what it cost, and the shipping"
        );
        assert_eq!(shopify.refunds[0].shipping, money(495));
        assert_eq!(
            shopify.financial_status,
            Some(FinancialStatus::PartiallyRefunded)
        );
        assert_eq!(app.levels(&skus), before, "nothing restocked in Shopify");
        assert!(
            log.iter()
                .any(|l| l.contains("was refunded in Shopify: 14.95 EUR for 1 unit, shipping 4.95 EUR included")),
            "{log:?}"
        );

        // Read again by the next run: no second refund.
        let (run, _) = app.return_run().await;
        assert_eq!((run.counters.created, run.counters.updated), (0, 0));
        assert_eq!(app.shopify_order(&order).refunds.len(), 1);

        // The merchant refunds 15.00 by hand; the rest comes back (20.00 of goods): only the
        // 5.00 left of what was paid is refunded.
        let sale = format!("gid://shopify/OrderTransaction/{}", order.id);
        let by_hand = app
            .graphql(
                "mutation R($input: RefundInput!, $key: String!) { refundCreate(input: $input) @idempotent(key: $key) { refund { id } userErrors { message } } }",
                json!({"key": "by-hand", "input": {"orderId": gid(&order), "transactions": [
                    {"orderId": gid(&order), "parentId": sale, "gateway": "manual", "kind": "REFUND", "amount": "15.00"}]}}),
            )
            .await;
        assert_eq!(by_hand["data"]["refundCreate"]["userErrors"], json!([]), "{by_hand}");
        app.receive(&order, &[(0, 1, "DAMAGED"), (1, 1, "DAMAGED")]).await;
        let (run, log) = app.return_run().await;
        assert_eq!(
            (run.counters.created, run.counters.updated),
            (1, 1),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(
            refunds(&shopify)[2],
            (
                vec![
                    (order.lines[0], 1, "NO_RESTOCK".to_string()),
                    (order.lines[1], 1, "NO_RESTOCK".to_string())
                ],
                money(500)
            )
        );
        assert_eq!(shopify.refunded(), shopify.received(), "never more than was paid");
        assert_eq!(shopify.financial_status, Some(FinancialStatus::Refunded));
        assert_eq!(app.levels(&skus), before, "still nothing restocked");
    })
    .await;
}

#[tokio::test]
async fn refunds_whose_answers_are_lost_or_never_recorded_are_made_once() {
    both(refunding(), async |app: App| {
        let orders = app
            .fulfilled_orders(&[
                &[("RLA-000001", 1)],
                &[("RLB-000001", 1)],
                &[("RLC-000001", 1)],
                &[("RLD-000001", 1)],
            ])
            .await;
        for order in &orders[..3] {
            app.receive(order, &[(0, 1, "DAMAGED")]).await;
        }
        // The fourth was returned and refunded by an earlier run that stopped before it wrote
        // down the refund.
        let last = &orders[3];
        let good = app.receive(last, &[(0, 1, "DAMAGED")]).await;
        let run = app.run_of(&app.returns).await;
        assert_eq!(run.counters.updated, 4, "{:?}", app.log(&run).await);
        let link = app
            .store
            .return_link(app.pair(), good)
            .await
            .expect("link")
            .expect("linked");
        app.store
            .save_return_link(&ReturnLink {
                refund_id: None,
                ..link
            })
            .await
            .expect("the refund forgotten");
        let run = app.run_of(&app.returns).await;
        let log = app.log(&run).await;
        assert_eq!(run.counters.updated, 1, "{log:?}");
        assert!(
            log.iter()
                .any(|l| l.contains("already had its Shopify refund")),
            "{log:?}"
        );
        assert_eq!(
            app.shopify_order(last).refunds.len(),
            1,
            "found, not made twice"
        );

        // Connections cut after Shopify did the work: the same key makes no second refund.
        let more = app
            .fulfilled_orders(&[
                &[("RLE-000001", 1)],
                &[("RLF-000001", 1)],
                &[("RLG-000001", 1)],
            ])
            .await;
        for order in &more {
            app.receive(order, &[(0, 1, "DAMAGED")]).await;
        }
        app.shopify_faults(json!({"drop_after_share": 0.35})).await;
        for _ in 0..4 {
            let run = app.run_of(&app.returns).await;
            if run.status == RunStatus::Finished {
                break;
            }
        }
        app.shopify_faults(json!({})).await;
        let (run, log) = app.return_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        for order in orders.iter().chain(&more) {
            let shopify = app.shopify_order(order);
            assert_eq!(
                (shopify.returns.len(), refunds(&shopify)),
                (
                    1,
                    vec![(
                        vec![(order.lines[0], 1, "NO_RESTOCK".to_string())],
                        money(1495)
                    )]
                ),
                "one return and one refund for order {}",
                shopify.name
            );
        }
    })
    .await;
}

#[tokio::test]
async fn with_the_return_not_registered_the_goods_are_only_refunded() {
    let refund_only = ReturnSettings {
        register_return: false,
        refund_products: true,
        ..mapped()
    };
    both(refund_only, async |app: App| {
        let order = app.fulfilled_order(&[("ONLY-000001", 2)]).await;
        app.receive(&order, &[(0, 2, "DAMAGED")]).await;
        let (run, log) = app.return_run().await;
        assert_eq!(
            (run.status, run.counters.created, run.counters.updated),
            (RunStatus::Finished, 0, 1),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert!(shopify.returns.is_empty(), "no Shopify return");
        assert_eq!(
            refunds(&shopify),
            [(
                vec![(order.lines[0], 2, "NO_RESTOCK".to_string())],
                money(2000)
            )],
            "the units, not the shipping"
        );
        let (run, _) = app.return_run().await;
        assert_eq!(run.counters.updated, 0);
        assert_eq!(app.shopify_order(&order).refunds.len(), 1);
    })
    .await;
}
