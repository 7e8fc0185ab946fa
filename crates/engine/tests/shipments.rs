//! The generate_shipments integration end to end: orders imported by the sales orders
//! integration, shipped in PULPO through its control API, and tentacle's engine making each box
//! a Shopify fulfillment, over real HTTP against both sandboxes, on SQLite and on PostgreSQL.
//! What Shopify shows is checked against the Shopify sandbox's own record of the order.

mod support;

use support::{Backend, Systems};

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_domain::run::{RecordKind, RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_domain::shipments::ShipmentSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::pulpo::PulpoSandbox;
use tentacle_sandbox::shopify::model::{FulfillmentStatus, Order};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{
    AttentionKind, Integration, LinkScope, LogFilter, NewCredential, NewIntegration, Run,
    ShipmentLink, Store, SystemPair,
};

const MADRID: &str = SHARED_WAREHOUSES[0];

struct App {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<dyn Store>,
    sales: Integration,
    shipments: Integration,
    scope: LinkScope,
    http: reqwest::Client,
    location: u64,
    warehouse: i64,
    _schema: Option<TestSchema>,
    _dir: tempfile::TempDir,
}

/// A Shopify order as the tests name it: its numeric id, its line item ids and its
/// fulfillment order id.
struct ShopOrder {
    id: u64,
    lines: Vec<u64>,
    fulfillment_order: u64,
}

async fn spawn(backend: Backend, settings: ShipmentSettings) -> Option<App> {
    let Systems {
        shopify,
        pulpo,
        store,
        shop,
        wms,
        schema,
        dir,
    } = support::systems(backend, ShopifyConfig::default(), "engine_shipments").await?;
    let sales = store
        .save_integration(NewIntegration {
            name: "Sales orders".into(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(SalesOrderSettings::default()).expect("settings"),
        })
        .await
        .expect("sales orders");
    let shipments = store
        .save_integration(NewIntegration {
            name: "Shipments".into(),
            kind: "generate_shipments".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: serde_json::to_value(&settings).expect("settings"),
        })
        .await
        .expect("shipments");
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

async fn both(settings: ShipmentSettings, test: impl AsyncFn(App)) {
    for backend in support::BACKENDS {
        match spawn(backend, settings.clone()).await {
            Some(app) => test(app).await,
            None => eprintln!("SKIPPED on PostgreSQL: no server at the test URL"),
        }
    }
}

fn mapped() -> ShipmentSettings {
    ShipmentSettings {
        carrier_names: vec!["seur=SEUR".into()],
        ..ShipmentSettings::default()
    }
}

impl App {
    async fn run_of(&self, integration: &Integration) -> Run {
        // Shopify's order search works on whole seconds: an order created this second is
        // found by a run whose "now" is a little later.
        let options = RunOptions {
            now: chrono::Utc::now() + chrono::TimeDelta::seconds(2),
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

    /// A shipments run, which must not fail.
    async fn ship_run(&self) -> (Run, Vec<String>) {
        let run = self.run_of(&self.shipments).await;
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

    /// A paid Shopify order at Madrid with `lines` (SKU, quantity), each SKU a PULPO product
    /// with stock, imported into PULPO by the sales orders integration.
    async fn imported_order(&self, lines: &[(&str, i64)]) -> ShopOrder {
        let order = self.shop_order(lines).await;
        self.import().await;
        order
    }

    /// The sales orders integration imports what Shopify has.
    async fn import(&self) {
        let imported = self.run_of(&self.sales).await;
        assert!(
            imported.counters.created >= 1,
            "{:?}",
            self.log(&imported).await
        );
    }

    /// A paid Shopify order at Madrid with `lines` (SKU, quantity), each SKU a PULPO product
    /// with stock, not yet imported.
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
        let made = &shop.orders[&id];
        ShopOrder {
            id,
            lines: made.line_items.iter().map(|l| l.id).collect(),
            fulfillment_order: made.fulfillment_orders[0].id,
        }
    }

    /// Whose shipment links the tests read: this store and PULPO.
    fn pair(&self) -> SystemPair {
        SystemPair {
            shopify_credential_id: self.scope.origin_credential_id,
            pulpo_credential_id: self.scope.destination_credential_id,
        }
    }

    /// PULPO's id of the imported order.
    async fn pulpo_order(&self, order: &ShopOrder) -> i64 {
        self.pulpo_orders(order).await[0]
    }

    /// PULPO's ids of the imported order's parts, one per fulfillment order, in their order.
    async fn pulpo_orders(&self, order: &ShopOrder) -> Vec<i64> {
        let mut links = self
            .store
            .order_links(self.scope, &format!("gid://shopify/Order/{}", order.id))
            .await
            .expect("links");
        links.sort_by(|a, b| a.order_name.cmp(&b.order_name));
        links
            .iter()
            .map(|l| l.pulpo_order_id.expect("imported"))
            .collect()
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

    /// Shopify refuses the next `count` calls of `mutation` with `message`.
    async fn shopify_refuses(&self, mutation: &str, message: &str, count: u32) {
        self.send(
            self.http
                .post(format!("{}/sandbox/refusals", self.shopify.shop_url()))
                .json(&json!({"mutation": mutation, "message": message, "count": count})),
        )
        .await;
    }

    /// Shopify's fulfillments of all the orders.
    fn all_fulfillments(&self) -> usize {
        self.shopify
            .state
            .shop()
            .orders
            .values()
            .map(|o| o.fulfillments.len())
            .sum()
    }

    /// The warehouse ships the order's boxes; the ids of the boxes made.
    async fn ship(&self, order: &ShopOrder, shipment: Value) -> Vec<i64> {
        self.shipped(order, shipment).await["packing_boxes"]
            .as_array()
            .expect("boxes")
            .iter()
            .map(|b| b["id"].as_i64().expect("box id"))
            .collect()
    }

    /// The PULPO sandbox's answer to a shipment.
    async fn shipped(&self, order: &ShopOrder, shipment: Value) -> Value {
        let pulpo_order = self.pulpo_order(order).await;
        self.ship_part(pulpo_order, shipment).await
    }

    /// PULPO ships its order `pulpo_order`.
    async fn ship_part(&self, pulpo_order: i64, shipment: Value) -> Value {
        self.send(
            self.http
                .post(format!(
                    "{}/sales/orders/{pulpo_order}/ship",
                    self.pulpo.control_url()
                ))
                .json(&shipment),
        )
        .await
    }

    async fn set_tracking(&self, box_id: i64, carrier: &str, number: &str) {
        self.send(
            self.http
                .put(format!(
                    "{}/packing/boxes/{box_id}/shipment_tracking",
                    self.pulpo.control_url()
                ))
                .json(&json!({"carrier_code": carrier, "tracking_code": number,
                              "tracking_url": format!("https://track.example/{number}")})),
        )
        .await;
    }

    async fn fulfillment_order_action(&self, order: &ShopOrder, action: &str, body: Value) {
        self.send(
            self.http
                .post(format!(
                    "{}/sandbox/fulfillment_orders/{}/{action}",
                    self.shopify.shop_url(),
                    order.fulfillment_order
                ))
                .json(&body),
        )
        .await;
    }

    /// Shopify's own record of the order.
    fn shopify_order(&self, order: &ShopOrder) -> Order {
        self.shopify.state.shop().orders[&order.id].clone()
    }
}

fn numbers(order: &Order) -> Vec<String> {
    order
        .fulfillments
        .iter()
        .flat_map(|f| f.tracking.iter().filter_map(|t| t.number.clone()))
        .collect()
}

#[tokio::test]
async fn a_box_becomes_one_fulfillment_whose_tracking_follows_pulpo() {
    both(mapped(), async |app: App| {
        let order = app.imported_order(&[("ONE-000001", 2)]).await;
        let boxes = app
            .ship(
                &order,
                json!({"carrier_code": "seur", "tracking_code": "T1",
                       "tracking_url": "https://track.example/T1"}),
            )
            .await;

        let (run, log) = app.ship_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(
            (run.counters.fetched, run.counters.created),
            (1, 1),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(shopify.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert_eq!(shopify.fulfillments.len(), 1);
        let made = &shopify.fulfillments[0];
        assert_eq!(made.tracking[0].company.as_deref(), Some("SEUR"), "mapped");
        assert_eq!(made.tracking[0].number.as_deref(), Some("T1"));
        assert!(made.notify_customer, "the setting's default");
        assert!(
            log.iter().any(|l| l.contains(
                "is a Shopify fulfillment with SEUR tracking T1; the order is fulfilled"
            )),
            "{log:?}"
        );

        // The same packing change read again (the cursor's overlap): nothing shipped twice.
        let (run, _) = app.ship_run().await;
        assert_eq!(run.counters.created, 0);
        assert_eq!(app.shopify_order(&order).fulfillments.len(), 1);

        // The carrier relabels the box: the fulfillment follows, once.
        app.set_tracking(boxes[0], "seur", "T2").await;
        let (run, log) = app.ship_run().await;
        assert_eq!(
            (run.counters.updated, run.counters.created),
            (1, 0),
            "{log:?}"
        );
        assert_eq!(numbers(&app.shopify_order(&order)), ["T2"]);
        let (run, _) = app.ship_run().await;
        assert_eq!(run.counters.updated, 0);
    })
    .await;
}

#[tokio::test]
async fn two_boxes_fulfil_the_order_in_two_steps_without_notifying() {
    let settings = ShipmentSettings {
        notify_customer: false,
        ..mapped()
    };
    both(settings, async |app: App| {
        let order = app
            .imported_order(&[("TWO-000001", 1), ("TWA-000001", 1)])
            .await;
        // The first box has its label; the second waits for one.
        let boxes = app
            .ship(
                &order,
                json!({"boxes": [
                    {"carrier_code": "ups_es", "tracking_code": "U1",
                     "items": [{"line_order_id": order.lines[0].to_string(), "quantity": 1}]},
                    {"items": [{"line_order_id": order.lines[1].to_string(), "quantity": 1}]}
                ]}),
            )
            .await;
        assert_eq!(boxes.len(), 2);

        let (run, log) = app.ship_run().await;
        assert_eq!(
            (
                run.counters.fetched,
                run.counters.created,
                run.counters.skipped
            ),
            (2, 1, 1),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(
            shopify.fulfillment_status,
            FulfillmentStatus::PartiallyFulfilled
        );
        assert_eq!(
            shopify.fulfillments[0].tracking[0].company.as_deref(),
            Some("ups_es"),
            "an unmapped carrier code goes as it is"
        );
        assert!(!shopify.fulfillments[0].notify_customer);

        app.set_tracking(boxes[1], "seur", "S2").await;
        let (run, log) = app.ship_run().await;
        assert_eq!(run.counters.created, 1, "{log:?}");
        let shopify = app.shopify_order(&order);
        assert_eq!(shopify.fulfillment_status, FulfillmentStatus::Fulfilled);
        assert_eq!(numbers(&shopify), ["U1", "S2"]);
        assert!(shopify.fulfillments.iter().all(|f| !f.notify_customer));
    })
    .await;
}

#[tokio::test]
async fn a_box_shopify_cannot_take_is_a_conflict_flagged_per_box() {
    both(mapped(), async |app: App| {
        // Fulfilled by hand in Shopify before PULPO's box arrives.
        let by_hand = app.imported_order(&[("HAND-000001", 1)]).await;
        app.fulfillment_order_action(&by_hand, "fulfill", json!({}))
            .await;
        app.ship(
            &by_hand,
            json!({"carrier_code": "seur", "tracking_code": "H1"}),
        )
        .await;
        // Closed in Shopify with nothing fulfilled.
        let closed = app.imported_order(&[("SHUT-000001", 1)]).await;
        app.fulfillment_order_action(&closed, "close", json!({}))
            .await;
        app.ship(
            &closed,
            json!({"carrier_code": "seur", "tracking_code": "C1"}),
        )
        .await;

        let (run, log) = app.ship_run().await;
        assert_eq!(
            (run.counters.conflicts, run.counters.created),
            (2, 0),
            "{log:?}"
        );
        assert_eq!(
            app.shopify_order(&by_hand).fulfillments.len(),
            1,
            "only the hand's"
        );
        assert!(app.shopify_order(&closed).fulfillments.is_empty());
        assert!(
            log.iter()
                .any(|l| l.starts_with("WARNING") && l.contains("fulfilled by hand")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.starts_with("WARNING") && l.contains("fulfillment order is closed")),
            "{log:?}"
        );
        let flags = app
            .store
            .flags(Some(app.shipments.id))
            .await
            .expect("flags");
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert!(
            flags
                .iter()
                .all(|f| f.key.record_kind == RecordKind::Box && f.kind == AttentionKind::Conflict)
        );
    })
    .await;
}

#[tokio::test]
async fn a_fulfillment_whose_answer_was_lost_is_adopted_not_created_twice() {
    both(mapped(), async |app: App| {
        let order = app.imported_order(&[("LOST-000001", 2)]).await;
        let shipped = app
            .shipped(
                &order,
                json!({"carrier_code": "seur", "tracking_code": "L1"}),
            )
            .await;
        let box_id = shipped["packing_boxes"][0]["id"].as_i64().expect("box id");
        // An earlier run wrote its intent and sent the create; Shopify made the fulfillment but
        // the run stopped before it heard back.
        let fo_line = app.shopify_order(&order).fulfillment_orders[0].line_items[0].id;
        app.fulfillment_order_action(
            &order,
            "fulfill",
            json!({"line_items": [{"id": fo_line, "quantity": 2}],
                   "tracking": {"company": "SEUR", "number": "L1"}}),
        )
        .await;
        let pair = app.pair();
        app.store
            .save_shipment_link(&ShipmentLink {
                scope: pair,
                box_id,
                packing_order_id: shipped["packing_order"]["id"]
                    .as_i64()
                    .expect("packing order"),
                sales_order_id: app.pulpo_order(&order).await,
                fulfillment_order_id: format!(
                    "gid://shopify/FulfillmentOrder/{}",
                    order.fulfillment_order
                ),
                shopify_order_id: format!("gid://shopify/Order/{}", order.id),
                fulfillment_id: None,
                tracking: String::new(),
                updated_at: chrono::Utc::now(),
            })
            .await
            .expect("intent");

        let (run, log) = app.ship_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(run.counters.conflicts, 0, "{log:?}");
        assert!(
            log.iter()
                .any(|l| l.contains("already had its Shopify fulfillment")),
            "{log:?}"
        );
        let shopify = app.shopify_order(&order);
        assert_eq!(shopify.fulfillments.len(), 1, "not created twice");
        let link = app
            .store
            .shipment_link(pair, box_id)
            .await
            .expect("link")
            .expect("linked");
        assert_eq!(
            link.fulfillment_id,
            Some(format!(
                "gid://shopify/Fulfillment/{}",
                shopify.fulfillments[0].id
            ))
        );
    })
    .await;
}

#[tokio::test]
async fn boxes_of_orders_another_store_imported_are_left_alone() {
    both(mapped(), async |app: App| {
        let order = app.imported_order(&[("ELSE-000001", 1)]).await;
        app.ship(
            &order,
            json!({"carrier_code": "seur", "tracking_code": "E1"}),
        )
        .await;
        // The same PULPO with another store: none of its PULPO orders came from that store.
        let other_shop = app
            .store
            .save_credential(NewCredential::shopify(
                "other shop",
                &app.shopify.shop_url(),
                "2026-10",
                SecretString::from("shpat_sandbox".to_string()),
            ))
            .await
            .expect("other shop");
        let other = app
            .store
            .save_integration(NewIntegration {
                name: "Other shipments".into(),
                kind: "generate_shipments".into(),
                origin_credential_id: app.scope.destination_credential_id,
                destination_credential_id: other_shop.id,
                settings: serde_json::to_value(mapped()).expect("settings"),
            })
            .await
            .expect("other shipments");
        let run = app.run_of(&other).await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(
            (run.counters.fetched, run.counters.created),
            (0, 0),
            "{log:?}"
        );
        assert!(app.shopify_order(&order).fulfillments.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_split_order_is_fulfilled_at_each_location_by_its_own_warehouse() {
    both(mapped(), async |app: App| {
        let order = app
            .shop_order(&[("SPLA-000001", 1), ("SPLB-000001", 2)])
            .await;
        // The merchant sends the second line from Barcelona: two fulfillment orders, so two
        // PULPO orders (`…_1` at Madrid, `…_2` at Barcelona).
        let barcelona = app
            .shopify
            .state
            .shop()
            .locations
            .iter()
            .find(|l| l.name == SHARED_WAREHOUSES[1])
            .map(|l| l.id)
            .expect("Barcelona location");
        let fo_line = app.shopify_order(&order).fulfillment_orders[0].line_items[1].id;
        app.send(
            app.http
                .post(format!(
                    "{}/sandbox/fulfillment_orders/{}/move",
                    app.shopify.shop_url(),
                    order.fulfillment_order
                ))
                .json(&json!({"location_id": barcelona,
                              "line_items": [{"id": fo_line, "quantity": 2}]})),
        )
        .await;
        app.import().await;
        let parts = app.pulpo_orders(&order).await;
        assert_eq!(parts.len(), 2, "one PULPO order per fulfillment order");

        app.ship_part(
            parts[0],
            json!({"carrier_code": "seur", "tracking_code": "MAD1"}),
        )
        .await;
        let (run, log) = app.ship_run().await;
        assert_eq!(run.counters.created, 1, "{log:?}");
        assert!(
            log.iter()
                .any(|l| l.contains("MAD1; the order is partially fulfilled")),
            "Barcelona's part is still to come: {log:?}"
        );
        app.ship_part(
            parts[1],
            json!({"carrier_code": "seur", "tracking_code": "BCN1"}),
        )
        .await;
        let (run, log) = app.ship_run().await;
        assert_eq!(run.counters.created, 1, "{log:?}");

        let shopify = app.shopify_order(&order);
        assert_eq!(shopify.fulfillment_status, FulfillmentStatus::Fulfilled);
        let at = |number: &str| {
            shopify
                .fulfillments
                .iter()
                .find(|f| {
                    f.tracking
                        .iter()
                        .any(|t| t.number.as_deref() == Some(number))
                })
                .map(|f| (f.location_id, f.lines.len()))
        };
        assert_eq!(at("MAD1"), Some((app.location, 1)));
        assert_eq!(at("BCN1"), Some((barcelona, 1)));
        assert!(
            shopify
                .fulfillment_orders
                .iter()
                .all(|fo| fo.line_items.iter().all(|l| l.remaining_quantity == 0)),
            "each fulfillment order fulfilled whole: {:?}",
            shopify.fulfillment_orders
        );
    })
    .await;
}

#[tokio::test]
async fn creates_whose_connection_is_cut_after_shopify_made_them_are_never_made_twice() {
    both(mapped(), async |app: App| {
        // Four orders of two units, each shipped as two boxes of one unit: after a first box,
        // Shopify would take a resent one as the second.
        let mut orders = Vec::new();
        for i in 0..4 {
            let order = app.shop_order(&[(&format!("CUT{i}-000001"), 2)]).await;
            orders.push(order);
        }
        app.import().await;
        for (i, order) in orders.iter().enumerate() {
            let line = order.lines[0].to_string();
            app.ship(
                order,
                json!({"boxes": [
                    {"carrier_code": "seur", "tracking_code": format!("C{i}A"),
                     "items": [{"line_order_id": line, "quantity": 1}]},
                    {"carrier_code": "seur", "tracking_code": format!("C{i}B"),
                     "items": [{"line_order_id": line, "quantity": 1}]}
                ]}),
            )
            .await;
        }
        // A third of the connections are cut after Shopify did the work; runs go on until
        // every box is linked.
        app.shopify_faults(json!({"drop_after_share": 0.35})).await;
        let mut lost = 0;
        for _ in 0..4 {
            let run = app.run_of(&app.shipments).await;
            let log = app.log(&run).await;
            lost += log.iter().filter(|l| l.contains("was lost")).count();
            if run.status == RunStatus::Finished {
                break;
            }
        }
        app.shopify_faults(json!({})).await;
        let (run, log) = app.ship_run().await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert!(lost > 0, "some creates lost their answer");

        for (i, order) in orders.iter().enumerate() {
            let shopify = app.shopify_order(order);
            let mut numbers = numbers(&shopify);
            numbers.sort();
            assert_eq!(
                numbers,
                [format!("C{i}A"), format!("C{i}B")],
                "one fulfillment per box"
            );
            assert_eq!(shopify.fulfillment_status, FulfillmentStatus::Fulfilled);
        }
        let pair = app.pair();
        for order in &orders {
            let links = app
                .store
                .shipment_links_of_order(pair, &format!("gid://shopify/Order/{}", order.id))
                .await
                .expect("links");
            assert_eq!(links.len(), 2);
            assert!(
                links.iter().all(|l| l.fulfillment_id.is_some()),
                "{links:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_box_shopify_refuses_is_an_error_flagged_and_sent_on_a_later_run() {
    both(mapped(), async |app: App| {
        let order = app.imported_order(&[("REFU-000001", 1)]).await;
        let boxes = app
            .ship(
                &order,
                json!({"carrier_code": "seur", "tracking_code": "R1"}),
            )
            .await;
        app.shopify_refuses(
            "fulfillmentCreate",
            "The fulfillment order is locked by another app.",
            1,
        )
        .await;

        // Its one box failed, so the run did (SPEC: FAILED when nothing was handled).
        let run = app.run_of(&app.shipments).await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Failed, "{log:?}");
        assert_eq!((run.counters.failed, run.counters.created), (1, 0));
        assert!(
            log.iter().any(|l| l.starts_with("ERROR")
                && l.contains("locked by another app")
                && l.contains("retried on the next run")),
            "{log:?}"
        );
        let flags = app
            .store
            .flags(Some(app.shipments.id))
            .await
            .expect("flags");
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(
            (flags[0].kind, flags[0].key.record_id.clone()),
            (AttentionKind::Failed, boxes[0].to_string())
        );

        // Later than the cursor's overlap: the box is read again because it failed.
        let later = RunOptions {
            now: chrono::Utc::now() + chrono::TimeDelta::hours(1),
            ..RunOptions::default()
        };
        let run = run_integration(
            app.store.clone(),
            &app.shipments,
            Trigger::Manual,
            later,
            None,
        )
        .await
        .expect("run");
        assert_eq!(
            (run.status, run.counters.created),
            (RunStatus::Finished, 1),
            "{:?}",
            app.log(&run).await
        );
        assert_eq!(numbers(&app.shopify_order(&order)), ["R1"]);
        assert!(
            app.store
                .flags(Some(app.shipments.id))
                .await
                .expect("flags")
                .is_empty(),
            "the flag is cleared"
        );
    })
    .await;
}

#[tokio::test]
async fn a_worker_killed_mid_run_leaves_exactly_one_fulfillment_per_box() {
    both(mapped(), async |app: App| {
        let mut orders = Vec::new();
        for i in 0..6 {
            orders.push(app.shop_order(&[(&format!("KIL{i}-000001"), 1)]).await);
        }
        app.import().await;
        for (i, order) in orders.iter().enumerate() {
            app.ship(
                order,
                json!({"carrier_code": "seur", "tracking_code": format!("K{i}")}),
            )
            .await;
        }
        // Slow answers, so the run is still going when its worker dies.
        app.shopify_faults(json!({"latency_ms": 150})).await;
        let store = app.store.clone();
        let shipments = app.shipments.clone();
        let mut worker = tokio::spawn(async move {
            run_integration(
                store,
                &shipments,
                Trigger::Manual,
                RunOptions::default(),
                None,
            )
            .await
        });
        support::wait_for_worker(&mut worker, "made no two fulfillments", || {
            app.all_fulfillments() >= 2
        })
        .await;
        // Killed just after Shopify made a fulfillment: its answer, the completed link and the
        // run's end are never written.
        worker.abort();
        let _ = worker.await;
        app.shopify_faults(json!({})).await;
        assert!(
            app.all_fulfillments() < orders.len(),
            "the run was cut short"
        );

        let run = support::resume_lost_run(&app.store).await;
        assert_eq!(run.status, RunStatus::Finished, "{:?}", app.log(&run).await);
        for (i, order) in orders.iter().enumerate() {
            assert_eq!(
                numbers(&app.shopify_order(order)),
                [format!("K{i}")],
                "exactly one fulfillment for the box of order {i}"
            );
        }
        let (again, _) = app.ship_run().await;
        assert_eq!(again.counters.created, 0);
        assert_eq!(app.all_fulfillments(), orders.len());
    })
    .await;
}
