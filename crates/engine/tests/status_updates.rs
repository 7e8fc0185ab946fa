//! The status_updates integration end to end: orders imported by the sales orders integration,
//! shipped in PULPO with lots and serial numbers through its control API, and tentacle's engine
//! tagging them and writing the numbers into their notes, over real HTTP against both
//! sandboxes, on SQLite and on PostgreSQL. What Shopify shows is checked against the Shopify
//! sandbox's own record of the order.

mod support;

use support::{Backend, Systems};

use std::sync::Arc;

use serde_json::{Value, json};
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_domain::status_updates::{NOTE_HEADING, StatusSettings};
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::pulpo::PulpoSandbox;
use tentacle_sandbox::shopify::model::Order;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{Integration, LogFilter, NewIntegration, Run, Store};

const MADRID: &str = SHARED_WAREHOUSES[0];

struct App {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<dyn Store>,
    sales: Integration,
    status: Integration,
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

async fn spawn(backend: Backend) -> Option<App> {
    let Systems {
        shopify,
        pulpo,
        store,
        shop,
        wms,
        schema,
        dir,
    } = support::systems(backend, ShopifyConfig::default(), "engine_status_updates").await?;
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
    let status = store
        .save_integration(NewIntegration {
            name: "Status updates".into(),
            kind: "status_updates".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: serde_json::to_value(StatusSettings::default()).expect("settings"),
        })
        .await
        .expect("status updates");
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
        status,
        http: reqwest::Client::new(),
        location,
        warehouse,
        _schema: schema,
        _dir: dir,
    })
}

async fn both(test: impl AsyncFn(App)) {
    for backend in support::BACKENDS {
        match spawn(backend).await {
            Some(app) => test(app).await,
            None => eprintln!("SKIPPED on PostgreSQL: no server at the test URL"),
        }
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

    /// The run's log, a line per entry with its level.
    async fn log(&self, run: &Run) -> Vec<String> {
        self.store
            .logs(run.id, &LogFilter::default())
            .await
            .expect("logs")
            .into_iter()
            .map(|l| format!("{} {}", l.level, l.message))
            .collect()
    }

    /// A status updates run, which must finish cleanly.
    async fn status_run(&self) -> (Run, Vec<String>) {
        let run = self.run_of(&self.status).await;
        let log = self.log(&run).await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(run.counters.failed, 0, "{log:?}");
        (run, log)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Value {
        let answer = request.send().await.expect("control call");
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    /// A PULPO product `{prefix}000001` with stock in Madrid, managed by `management_type`.
    async fn product(&self, prefix: &str, management_type: &str) {
        let made = self
            .send(
                self.http
                    .post(format!("{}/inventory/products", self.pulpo.control_url()))
                    .json(&json!({"count": 1, "sku_prefix": prefix,
                                  "warehouse_id": self.warehouse, "available_quantity": 50})),
            )
            .await;
        let id = made["first_id"].as_i64().expect("product id");
        if management_type != "none" {
            self.send(
                self.http
                    .patch(format!(
                        "{}/inventory/products/{id}",
                        self.pulpo.control_url()
                    ))
                    .json(&json!({"management_type": management_type})),
            )
            .await;
        }
    }

    /// A paid Shopify order at Madrid with `lines` (SKU, quantity), each SKU a PULPO product,
    /// imported into PULPO by the sales orders integration.
    async fn imported_order(&self, lines: &[(&str, i64)]) -> ShopOrder {
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
        let lines = self.shopify.state.shop().orders[&id]
            .line_items
            .iter()
            .map(|l| l.id)
            .collect();
        let imported = self.run_of(&self.sales).await;
        assert!(imported.counters.created >= 1, "{:?}", imported.counters);
        ShopOrder { id, lines }
    }

    /// The warehouse ships the order as `shipment` says.
    async fn ship(&self, order: &ShopOrder, shipment: Value) {
        let links = self
            .store
            .order_links(
                tentacle_store::LinkScope {
                    origin_credential_id: self.sales.origin_credential_id,
                    destination_credential_id: self.sales.destination_credential_id,
                },
                &format!("gid://shopify/Order/{}", order.id),
            )
            .await
            .expect("links");
        let pulpo_order = links[0].pulpo_order_id.expect("imported");
        self.send(
            self.http
                .post(format!(
                    "{}/sales/orders/{pulpo_order}/ship",
                    self.pulpo.control_url()
                ))
                .json(&shipment),
        )
        .await;
    }

    /// Shopify's own record of the order.
    fn shopify_order(&self, order: &ShopOrder) -> Order {
        self.shopify.state.shop().orders[&order.id].clone()
    }
}

#[tokio::test]
async fn an_imported_order_is_tagged_once_and_an_untagged_one_stays_untagged() {
    both(async |app: App| {
        app.product("TAG-", "none").await;
        let order = app.imported_order(&[("TAG-000001", 1)]).await;

        let (run, log) = app.status_run().await;
        assert_eq!(
            (run.counters.fetched, run.counters.updated),
            (1, 1),
            "{log:?}"
        );
        assert!(app.shopify_order(&order).tags.contains("PULPO"));
        assert!(
            log.iter()
                .any(|l| l.contains("is in PULPO: tagged PULPO in Shopify")),
            "{log:?}"
        );

        // The same link read again (the cursor's overlap): nothing to do.
        let (run, _) = app.status_run().await;
        assert_eq!(run.counters.updated, 0);

        // The merchant removes the tag: tentacle leaves it removed.
        app.send(app.http.delete(format!(
            "{}/sandbox/orders/{}/tags/PULPO",
            app.shopify.shop_url(),
            order.id
        )))
        .await;
        let (run, _) = app.status_run().await;
        assert_eq!(run.counters.updated, 0);
        assert!(!app.shopify_order(&order).tags.contains("PULPO"));
    })
    .await;
}

#[tokio::test]
async fn lots_and_serial_numbers_of_both_boxes_go_below_the_merchants_note_once() {
    both(async |app: App| {
        app.product("LOT-", "lot").await;
        app.product("SER-", "serial").await;
        app.product("PLN-", "none").await;
        let order = app
            .imported_order(&[("LOT-000001", 3), ("SER-000001", 2), ("PLN-000001", 1)])
            .await;
        app.send(
            app.http
                .patch(format!("{}/sandbox/orders/{}", app.shopify.shop_url(), order.id))
                .json(&json!({"note": "Gift wrap, please"})),
        )
        .await;
        let (lot, serial, plain) = (
            order.lines[0].to_string(),
            order.lines[1].to_string(),
            order.lines[2].to_string(),
        );
        app.ship(
            &order,
            json!({"boxes": [
                {"carrier_code": "seur", "tracking_code": "B1", "items": [
                    {"line_order_id": lot, "quantity": 2, "batches": [{"number": "L-1", "quantity": 2}]},
                    {"line_order_id": serial, "quantity": 1, "batches": [{"number": "S-1", "quantity": 1}]},
                    {"line_order_id": plain, "quantity": 1}]},
                {"carrier_code": "seur", "tracking_code": "B2", "items": [
                    {"line_order_id": lot, "quantity": 1, "batches": [{"number": "L-2", "quantity": 1}]},
                    {"line_order_id": serial, "quantity": 1, "batches": [{"number": "S-2", "quantity": 1}]}]}
            ]}),
        )
        .await;

        let expected = format!(
            "Gift wrap, please\n\n{NOTE_HEADING}\nLOT-000001: LOT L-1 ×2, LOT L-2 ×1\nSER-000001: SN S-1 ×1, SN S-2 ×1"
        );
        let (run, log) = app.status_run().await;
        assert_eq!((run.counters.fetched, run.counters.updated), (1, 1), "{log:?}");
        assert_eq!(app.shopify_order(&order).note.as_deref(), Some(expected.as_str()));
        assert!(app.shopify_order(&order).tags.contains("PULPO"));

        // Reruns read the same packing change (the cursor's overlap) and add nothing.
        for _ in 0..2 {
            let (run, log) = app.status_run().await;
            assert_eq!(run.counters.updated, 0, "{log:?}");
        }
        let note = app.shopify_order(&order).note.expect("note");
        assert_eq!(note, expected);
        assert_eq!(note.matches("L-1").count(), 1);
    })
    .await;
}

#[tokio::test]
async fn updates_shopify_refuses_are_errors_flagged_and_done_on_a_later_run() {
    both(async |app: App| {
        app.product("RFA-", "none").await;
        app.product("RFB-", "lot").await;
        app.product("RFC-", "none").await;
        // Handled in the order of their ids: A's tag is refused, B's note is, C goes through.
        let a = app.imported_order(&[("RFA-000001", 1)]).await;
        let b = app.imported_order(&[("RFB-000001", 1)]).await;
        let c = app.imported_order(&[("RFC-000001", 1)]).await;
        app.ship(
            &b,
            json!({"carrier_code": "seur", "tracking_code": "RB1", "items": [
                {"line_order_id": b.lines[0].to_string(), "quantity": 1,
                 "batches": [{"number": "L-9", "quantity": 1}]}]}),
        )
        .await;
        for (mutation, message) in [
            ("tagsAdd", "Order is being edited."),
            ("orderUpdate", "Order is being edited."),
        ] {
            app.send(
                app.http
                    .post(format!("{}/sandbox/refusals", app.shopify.shop_url()))
                    .json(&json!({"mutation": mutation, "message": message})),
            )
            .await;
        }

        let run = app.run_of(&app.status).await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::FinishedPartially, "{log:?}");
        assert_eq!(
            (run.counters.failed, run.counters.updated),
            (2, 1),
            "{log:?}"
        );
        assert_eq!(
            log.iter()
                .filter(|l| l.starts_with("ERROR") && l.contains("Order is being edited."))
                .count(),
            2,
            "{log:?}"
        );
        assert!(!app.shopify_order(&a).tags.contains("PULPO"));
        assert!(app.shopify_order(&b).tags.contains("PULPO"), "B's tag went");
        assert_eq!(app.shopify_order(&b).note, None, "B's note did not");
        assert!(app.shopify_order(&c).tags.contains("PULPO"));
        let flags = app.store.flags(Some(app.status.id)).await.expect("flags");
        assert_eq!(flags.len(), 2, "{flags:?}");

        // An hour later, past the cursor's overlap: the flagged orders are read again.
        let later = RunOptions {
            now: chrono::Utc::now() + chrono::TimeDelta::hours(1),
            ..RunOptions::default()
        };
        let run = run_integration(app.store.clone(), &app.status, Trigger::Manual, later, None)
            .await
            .expect("run");
        let log = app.log(&run).await;
        assert_eq!(
            (run.status, run.counters.fetched, run.counters.updated),
            (RunStatus::Finished, 2, 2),
            "{log:?}"
        );
        assert!(app.shopify_order(&a).tags.contains("PULPO"));
        assert!(
            !log.iter()
                .any(|l| l.contains(&app.shopify_order(&b).name) && l.contains("tagged")),
            "B is not tagged twice: {log:?}"
        );
        let note = app.shopify_order(&b).note.expect("B's note");
        assert!(note.ends_with("RFB-000001: LOT L-9 ×1"), "{note}");
        assert!(
            app.store
                .flags(Some(app.status.id))
                .await
                .expect("flags")
                .is_empty()
        );
    })
    .await;
}
