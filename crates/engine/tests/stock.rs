//! The stock integration end to end: tentacle's engine against both sandboxes over real HTTP,
//! on SQLite and on PostgreSQL. What Shopify shows is checked against the sandboxes' own
//! records: PULPO's available stock and Shopify's levels, never against what tentacle says.

mod support;

use support::{Backend, Systems};

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_domain::stock::StockSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::faults::FaultSettings;
use tentacle_sandbox::pulpo::PulpoSandbox;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{Integration, LogFilter, NewCredential, NewIntegration, Run, Store};

/// The location (and warehouse) the tests reconcile.
const MADRID: &str = SHARED_WAREHOUSES[0];

struct App {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<dyn Store>,
    stock: Integration,
    shop_id: i64,
    wms_id: i64,
    http: reqwest::Client,
    /// Shopify's numeric id of the location, and PULPO's of the warehouse.
    location: u64,
    warehouse: i64,
    _schema: Option<TestSchema>,
    _dir: tempfile::TempDir,
}

/// Both sandboxes, a store on `backend` with both credentials, and a stock configuration for
/// Madrid with `settings`; `None` when PostgreSQL is asked for but missing outside CI.
async fn spawn(backend: Backend, settings: StockSettings, shopify: ShopifyConfig) -> Option<App> {
    let Systems {
        shopify,
        pulpo,
        store,
        shop,
        wms,
        schema,
        dir,
    } = support::systems(backend, shopify, "engine_stock").await?;
    let settings = StockSettings {
        locations: vec![MADRID.into()],
        ..settings
    };
    let stock = store
        .save_integration(NewIntegration {
            name: "Stock".into(),
            kind: "stock".into(),
            origin_credential_id: wms.id,
            destination_credential_id: shop.id,
            settings: serde_json::to_value(&settings).expect("settings"),
        })
        .await
        .expect("integration");
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
        stock,
        shop_id: shop.id,
        wms_id: wms.id,
        http: reqwest::Client::new(),
        location,
        warehouse,
        _schema: schema,
        _dir: dir,
    })
}

async fn both(settings: StockSettings, test: impl AsyncFn(App)) {
    for backend in support::BACKENDS {
        match spawn(backend, settings.clone(), ShopifyConfig::default()).await {
            Some(app) => test(app).await,
            None => eprintln!("SKIPPED on PostgreSQL: no server at the test URL"),
        }
    }
}

impl App {
    async fn run(&self) -> Run {
        self.run_of(&self.stock).await
    }

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

    /// A Shopify item with `sku`, stocked in Madrid with `available` (`None`: not stocked).
    async fn shopify_item(&self, sku: &str, available: Option<i64>, tracked: bool) -> u64 {
        let levels = match available {
            Some(available) => json!([{"location_id": self.location, "available": available}]),
            None => json!([]),
        };
        let answer = self
            .send(
                self.http
                    .post(format!(
                        "{}/sandbox/inventory_items",
                        self.shopify.shop_url()
                    ))
                    .json(&json!({"sku": sku, "tracked": tracked, "levels": levels})),
            )
            .await;
        answer["inventory_item_id"].as_u64().expect("item id")
    }

    /// A PULPO product with `sku` and `available` in Madrid.
    async fn pulpo_product(&self, sku_prefix: &str, available: i64) -> i64 {
        let answer = self
            .send(
                self.http
                    .post(format!("{}/inventory/products", self.pulpo.control_url()))
                    .json(&json!({"count": 1, "sku_prefix": sku_prefix,
                                  "warehouse_id": self.warehouse, "available_quantity": available})),
            )
            .await;
        answer["first_id"].as_i64().expect("product id")
    }

    async fn set_pulpo(&self, product: i64, available: i64) {
        self.send(
            self.http
                .put(format!(
                    "{}/inventory/products/{product}/stock",
                    self.pulpo.control_url()
                ))
                .json(&json!({"warehouse_id": self.warehouse, "available_quantity": available})),
        )
        .await;
    }

    /// "Another app" (or a person) sets the item's available in Madrid.
    async fn set_shopify(&self, item: u64, available: i64) {
        self.send(
            self.http
                .put(format!(
                    "{}/sandbox/inventory_levels/{item}/{}",
                    self.shopify.shop_url(),
                    self.location
                ))
                .json(&json!({"available": available})),
        )
        .await;
    }

    /// Shopify's own record of the item in Madrid: (active, available); `None` not stocked.
    fn shopify_level(&self, item: u64) -> Option<(bool, i64)> {
        let shop = self.shopify.state.shop();
        let quantities = shop.inventory.get(&(item, self.location))?;
        Some((
            shop.is_active_level(item, self.location),
            quantities.available,
        ))
    }

    fn pulpo_available(&self, product: i64) -> i64 {
        let store = self.pulpo.state.store();
        store
            .availability(Some(&[product]), |_| true, |w| w == self.warehouse)
            .first()
            .map_or(0, |a| a.available_quantity)
    }

    /// Another app sets the item to `available` right before each of the next `times` sets.
    async fn other_app(&self, item: u64, available: i64, times: u32) {
        let answer = self
            .http
            .post(format!(
                "{}/sandbox/inventory_levels/{item}/{}/other_app",
                self.shopify.shop_url(),
                self.location
            ))
            .json(&json!({"available": available, "times": times}))
            .send()
            .await
            .expect("control call");
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    fn mutations(&self) -> u64 {
        self.shopify.stats().mutations
    }

    /// Every SKU on one tracked Shopify item stocked in Madrid and one active PULPO product
    /// whose Shopify available differs from max(0, PULPO's available): the reference check
    /// of a reconcile, computed from the two sandboxes alone.
    fn mismatches(&self) -> Vec<String> {
        let shop = self.shopify.state.shop();
        let store = self.pulpo.state.store();
        let mut per_sku: HashMap<&str, usize> = HashMap::new();
        for variant in &shop.variants {
            if let Some(sku) = variant.sku.as_deref() {
                *per_sku.entry(sku).or_default() += 1;
            }
        }
        let mut wrong = Vec::new();
        for variant in &shop.variants {
            let Some(sku) = variant.sku.as_deref() else {
                continue;
            };
            let item = variant.inventory_item_id;
            let Some(level) = shop.inventory.get(&(item, self.location)) else {
                continue;
            };
            if per_sku[sku] > 1 || !variant.tracked || !shop.is_active_level(item, self.location) {
                continue;
            }
            let Some(product) = store.product_by_sku(sku).filter(|p| p.active) else {
                continue;
            };
            let available = store
                .availability(Some(&[product.id]), |_| true, |w| w == self.warehouse)
                .first()
                .map_or(0, |a| a.available_quantity);
            if level.available != available.max(0) {
                wrong.push(format!(
                    "{sku}: Shopify {} PULPO {available}",
                    level.available
                ));
            }
        }
        wrong
    }
}

#[tokio::test]
async fn the_first_run_sets_every_sku_and_a_second_run_sends_no_mutation() {
    both(StockSettings::default(), async |app: App| {
        app.pulpo_product("FIRST-", 12).await;
        let item = app.shopify_item("FIRST-000001", Some(3), true).await;
        // A catalog item changed by hand in Shopify differs too.
        let catalog_item = {
            let shop = app.shopify.state.shop();
            shop.variants
                .iter()
                .find(|v| {
                    v.tracked
                        && shop.is_active_level(v.inventory_item_id, app.location)
                        && v.sku.as_deref().is_some_and(|sku| {
                            sku != "FIRST-000001" && app.pulpo.state.product_by_sku(sku).is_some()
                        })
                })
                .map(|v| v.inventory_item_id)
                .expect("a catalog item in both systems")
        };
        app.set_shopify(catalog_item, 999).await;
        let before = app.mismatches();
        assert_eq!(before.len(), 2, "{before:?}");

        let first = app.run().await;
        assert_eq!(
            first.status,
            RunStatus::Finished,
            "{:?}",
            app.log(&first).await
        );
        assert_eq!(app.mismatches(), Vec::<String>::new());
        assert_eq!(app.shopify_level(item), Some((true, 12)));
        assert!(
            first.counters.updated >= before.len() as u64,
            "{:?}",
            first.counters
        );
        let log = app.log(&first).await;
        assert!(
            log.iter().any(|l| l
                == &format!(
                    "INFO Stock of SKU FIRST-000001 at {MADRID} set from 3 to 12 in Shopify"
                )),
            "{log:?}"
        );

        let mutations = app.mutations();
        let second = app.run().await;
        assert_eq!(second.status, RunStatus::Finished);
        assert_eq!(
            app.mutations(),
            mutations,
            "nothing changed, nothing written"
        );
        assert_eq!(second.counters.updated, 0);
        assert_eq!(second.counters.fetched, first.counters.fetched);

        // A value changed by hand in Shopify, and PULPO -3: both follow PULPO on the next run.
        app.set_shopify(item, 40).await;
        let other = app.pulpo_product("NEG-", 5).await;
        let negative = app.shopify_item("NEG-000001", Some(5), true).await;
        app.set_pulpo(other, -3).await;
        assert_eq!(app.pulpo_available(other), -3);
        let third = app.run().await;
        assert_eq!(third.status, RunStatus::Finished);
        assert_eq!(app.shopify_level(item), Some((true, 12)));
        assert_eq!(app.shopify_level(negative), Some((true, 0)));
        assert_eq!(third.counters.updated, 2);
    })
    .await;
}

#[tokio::test]
async fn an_order_paid_in_shopify_but_not_yet_in_pulpo_is_not_sold_twice() {
    both(StockSettings::default(), async |app: App| {
        app.pulpo_product("WIN-", 10).await;
        let item = app.shopify_item("WIN-000001", Some(10), true).await;
        app.run().await;
        assert_eq!(app.shopify_level(item), Some((true, 10)));

        // An order for 2 is paid in Shopify: Shopify commits them (available 8), PULPO does
        // not know the order yet (available still 10).
        let order = json!({
            "financial_status": "paid", "currency": "EUR", "email": "ana@example.es",
            "customer": {"id": 9_000_101, "first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.es"},
            "shipping_address": {"first_name": "Ana", "last_name": "Ruiz", "address1": "Gran Vía 1",
                                 "city": "Madrid", "zip": "28013", "country": "Spain", "country_code": "ES"},
            "line_items": [{"sku": "WIN-000001", "title": "Window", "quantity": 2, "price": "10.00",
                            "requires_shipping": true, "gift_card": false}],
            "location_id": app.location,
        });
        app.send(app.http.post(format!("{}/sandbox/orders", app.shopify.shop_url())).json(&order))
            .await;
        assert_eq!(app.shopify_level(item), Some((true, 8)));

        let before_import = app.run().await;
        assert_eq!(before_import.status, RunStatus::Finished);
        assert_eq!(app.shopify_level(item), Some((true, 8)), "PULPO's 10 is not pushed back");
        let log = app.log(&before_import).await;
        assert!(log.iter().any(|l| l.contains("2 units held back for open Shopify orders that PULPO does not hold yet")), "{log:?}");

        // The sales orders integration imports it: PULPO reserves 2 (available 8).
        let sales = app
            .store
            .save_integration(NewIntegration {
                name: "Sales orders".into(),
                kind: "sales_orders".into(),
                origin_credential_id: app.shop_id,
                destination_credential_id: app.wms_id,
                settings: serde_json::to_value(SalesOrderSettings::default()).expect("settings"),
            })
            .await
            .expect("sales orders");
        let imported = app.run_of(&sales).await;
        assert!(imported.counters.created >= 1, "{:?}", app.log(&imported).await);
        let product = app.pulpo.state.product_by_sku("WIN-000001").expect("product");
        assert_eq!(app.pulpo_available(product.id), 8);

        let after_import = app.run().await;
        assert_eq!(after_import.status, RunStatus::Finished);
        assert_eq!(app.shopify_level(item), Some((true, 8)));
    })
    .await;
}

#[tokio::test]
async fn a_change_by_another_app_during_the_push_is_read_again_never_overwritten() {
    both(StockSettings::default(), async |app: App| {
        let product = app.pulpo_product("CAS-", 20).await;
        let item = app.shopify_item("CAS-000001", Some(1), true).await;
        app.run().await;
        app.set_pulpo(product, 25).await;
        // Between tentacle's read and its write, another app moves the quantity to 7: the first
        // set comes back CHANGE_FROM_QUANTITY_STALE; tentacle reads 7 and sets from there.
        app.other_app(item, 7, 1).await;
        let run = app.run().await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(app.shopify_level(item), Some((true, 25)));
        assert!(
            log.iter().any(|l| l.contains("set from 7 to 25")),
            "{log:?}"
        );

        // An app that keeps moving it: three retries, then a warning and the value it set is
        // left alone (never overwritten blindly); the SKU waits in Attention.
        app.set_pulpo(product, 30).await;
        app.other_app(item, 11, 10).await;
        let run = app.run().await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::FinishedPartially, "{log:?}");
        assert_eq!(
            app.shopify_level(item),
            Some((true, 14)),
            "the other app's last value"
        );
        assert!(
            log.iter()
                .any(|l| l.starts_with("WARNING Stock of SKU CAS-000001")
                    && l.contains("4 times in a row")),
            "{log:?}"
        );
        let flags = app.store.flags(Some(app.stock.id)).await.expect("flags");
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].record_label, format!("SKU CAS-000001 at {MADRID}"));

        // Once it stops, the next run sets it and clears the flag.
        app.send(
            app.http
                .put(format!(
                    "{}/sandbox/inventory_levels/{item}/{}",
                    app.shopify.shop_url(),
                    app.location
                ))
                .json(&json!({"available": 14})),
        )
        .await;
        app.shopify.state.shop().other_app_changes.clear();
        let run = app.run().await;
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(app.shopify_level(item), Some((true, 30)));
        assert!(
            app.store
                .flags(Some(app.stock.id))
                .await
                .expect("flags")
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn not_stocked_duplicate_and_untracked_skus_are_reported_and_never_pushed() {
    both(StockSettings::default(), async |app: App| {
        app.pulpo_product("MISS-", 4).await;
        let missing = app.shopify_item("MISS-000001", None, true).await;
        app.pulpo_product("DUP-", 6).await;
        let first = app.shopify_item("DUP-000001", Some(0), true).await;
        let second = app.shopify_item("DUP-000001", Some(0), true).await;
        app.pulpo_product("UNT-", 9).await;
        let untracked = app.shopify_item("UNT-000001", Some(1), false).await;
        app.pulpo_product("ONLYP-", 2).await;

        let run = app.run().await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(app.shopify_level(missing), None);
        assert_eq!(app.shopify_level(first), Some((true, 0)));
        assert_eq!(app.shopify_level(second), Some((true, 0)));
        assert_eq!(app.shopify_level(untracked), Some((true, 1)));
        let has = |needle: &str| log.iter().any(|l| l.contains(needle));
        assert!(has(&format!("WARNING SKU MISS-000001 is in PULPO but its Shopify product is not stocked at the location {MADRID}")), "{log:?}");
        assert!(has("WARNING SKU DUP-000001 is on 2 Shopify variants"), "{log:?}");
        assert!(has("INFO SKU UNT-000001 is skipped: Shopify does not track its quantity"), "{log:?}");
        assert!(has("INFO At Madrid Central: 1 SKU only in PULPO (ONLYP-000001)"), "{log:?}");
    })
    .await;
}

#[tokio::test]
async fn an_item_not_stocked_is_activated_when_the_setting_says_so() {
    let settings = StockSettings {
        activate_missing_items: true,
        ..StockSettings::default()
    };
    both(settings, async |app: App| {
        app.pulpo_product("ACT-", 4).await;
        let item = app.shopify_item("ACT-000001", None, true).await;
        let run = app.run().await;
        assert_eq!(run.status, RunStatus::Finished, "{:?}", app.log(&run).await);
        assert_eq!(app.shopify_level(item), Some((true, 4)));
        assert!(run.counters.created >= 1);
    })
    .await;
}

#[tokio::test]
async fn six_hundred_changed_items_take_three_mutations() {
    both(StockSettings::default(), async |app: App| {
        // Settle the catalog first, so only the new items differ.
        app.run().await;
        app.send(
            app.http
                .post(format!("{}/inventory/products", app.pulpo.control_url()))
                .json(&json!({"count": 600, "sku_prefix": "BULK-", "warehouse_id": app.warehouse, "available_quantity": 3})),
        )
        .await;
        app.send(
            app.http
                .post(format!("{}/sandbox/inventory_items/seed", app.shopify.shop_url()))
                .json(&json!({"count": 600, "location_id": app.location, "sku_prefix": "BULK-", "available": 0})),
        )
        .await;
        let mutations = app.mutations();
        let run = app.run().await;
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.counters.updated, 600);
        assert_eq!(app.mutations() - mutations, 3);
        assert_eq!(app.mismatches(), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn throttling_and_server_errors_slow_the_run_down_without_failing_it() {
    let shopify = ShopifyConfig {
        bucket: 100.0,
        restore_rate: 100.0,
        faults: FaultSettings {
            error_share: 0.2,
            ..FaultSettings::default()
        },
        ..ShopifyConfig::default()
    };
    let Some(app) = spawn(Backend::Sqlite, StockSettings::default(), shopify).await else {
        return;
    };
    app.send(
        app.http
            .post(format!("{}/inventory/products", app.pulpo.control_url()))
            .json(&json!({"count": 800, "sku_prefix": "SLOW-", "warehouse_id": app.warehouse, "available_quantity": 2})),
    )
    .await;
    app.send(
        app.http
            .post(format!("{}/sandbox/inventory_items/seed", app.shopify.shop_url()))
            .json(&json!({"count": 800, "location_id": app.location, "sku_prefix": "SLOW-", "available": 0})),
    )
    .await;
    // Another process of the same app drains the store's bucket just before the run starts.
    let drain = json!({"query": "{ inventoryItems(first: 250) { nodes { id } } }"});
    for _ in 0..12 {
        app.http
            .post(app.shopify.graphql_url("2026-10"))
            .header("X-Shopify-Access-Token", "shpat_sandbox")
            .json(&drain)
            .send()
            .await
            .expect("drain");
    }
    let run = app.run().await;
    let log = app.log(&run).await;
    assert_eq!(run.status, RunStatus::Finished, "{log:?}");
    assert_eq!(app.mismatches(), Vec::<String>::new());
    let stats = app.shopify.stats();
    assert!(
        stats.throttled > 0,
        "the drained bucket throttled: {stats:?}"
    );
}

#[tokio::test]
async fn a_worker_killed_mid_push_leaves_a_run_that_converges_when_resumed() {
    both(StockSettings::default(), async |app: App| {
        app.run().await;
        app.send(
            app.http
                .post(format!("{}/inventory/products", app.pulpo.control_url()))
                .json(&json!({"count": 600, "sku_prefix": "KILL-", "warehouse_id": app.warehouse, "available_quantity": 5})),
        )
        .await;
        app.send(
            app.http
                .post(format!("{}/sandbox/inventory_items/seed", app.shopify.shop_url()))
                .json(&json!({"count": 600, "location_id": app.location, "sku_prefix": "KILL-", "available": 1})),
        )
        .await;
        // Slow answers, so the push is still going when the worker dies.
        app.send(
            app.http
                .put(format!("{}/sandbox/faults", app.shopify.shop_url()))
                .json(&json!({"latency_ms": 150})),
        )
        .await;
        let mutations = app.mutations();
        let store = app.store.clone();
        let stock = app.stock.clone();
        let mut worker = tokio::spawn(async move {
            run_integration(store, &stock, Trigger::Manual, RunOptions::default(), None).await
        });
        support::wait_for_worker(&mut worker, "sent no mutation", || app.mutations() != mutations).await;
        // Killed after its first set reached Shopify: nothing of the run's end is written.
        worker.abort();
        let _ = worker.await;
        app.send(
            app.http
                .put(format!("{}/sandbox/faults", app.shopify.shop_url()))
                .json(&json!({})),
        )
        .await;
        assert!(!app.mismatches().is_empty(), "the push was cut short");

        // Its lease runs out; the reaper queues it again and another worker resumes it.
        let run = support::resume_lost_run(&app.store).await;
        assert_eq!(run.status, RunStatus::Finished, "{:?}", app.log(&run).await);
        assert_eq!(app.mismatches(), Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn api_2026_07_is_reconciled_the_same_and_never_sets_an_unstocked_item() {
    both(StockSettings::default(), async |app: App| {
        let shop = app
            .store
            .credential(app.shop_id)
            .await
            .expect("store")
            .expect("shop");
        app.store
            .update_credential(
                shop.id,
                NewCredential::shopify(
                    "shop",
                    &app.shopify.shop_url(),
                    "2026-07",
                    SecretString::from("shpat_sandbox".to_string()),
                ),
            )
            .await
            .expect("2026-07");
        app.pulpo_product("OLD-", 6).await;
        let item = app.shopify_item("OLD-000001", Some(2), true).await;
        app.pulpo_product("GONE-", 3).await;
        let missing = app.shopify_item("GONE-000001", None, true).await;
        let run = app.run().await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert_eq!(app.shopify_level(item), Some((true, 6)));
        assert_eq!(
            app.shopify_level(missing),
            None,
            "no level is made where none was"
        );
        assert!(
            log.iter().any(|l| l
                .contains("SKU GONE-000001 is in PULPO but its Shopify product is not stocked")),
            "{log:?}"
        );
        assert_eq!(app.mismatches(), Vec::<String>::new());
    })
    .await;
}
