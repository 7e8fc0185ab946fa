//! The products integration end to end: tentacle's engine against both sandboxes over real
//! HTTP, on SQLite and on PostgreSQL. What PULPO holds is checked against the sandboxes' own
//! records (the Shopify catalog and PULPO's products), never against what tentacle says.

mod support;

use support::{Backend, Systems};

use std::sync::Arc;

use serde_json::{Value, json};
use tentacle_domain::products::{PriceSource, ProductSettings};
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::faults::FaultSettings;
use tentacle_sandbox::pulpo::PulpoSandbox;
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::testing::TestSchema;
use tentacle_store::{Integration, LogFilter, NewIntegration, Run, Store, SystemPair};

struct App {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<dyn Store>,
    products: Integration,
    pair: SystemPair,
    shop_id: i64,
    wms_id: i64,
    http: reqwest::Client,
    _schema: Option<TestSchema>,
    _dir: tempfile::TempDir,
}

async fn spawn(backend: Backend, settings: &ProductSettings) -> Option<App> {
    let Systems {
        shopify,
        pulpo,
        store,
        shop,
        wms,
        schema,
        dir,
    } = support::systems(backend, ShopifyConfig::default(), "engine_products").await?;
    let products = store
        .save_integration(NewIntegration {
            name: "Products".into(),
            kind: "products".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(settings).expect("settings"),
        })
        .await
        .expect("integration");
    Some(App {
        shopify,
        pulpo,
        store,
        products,
        pair: SystemPair {
            shopify_credential_id: shop.id,
            pulpo_credential_id: wms.id,
        },
        shop_id: shop.id,
        wms_id: wms.id,
        http: reqwest::Client::new(),
        _schema: schema,
        _dir: dir,
    })
}

async fn both(settings: ProductSettings, test: impl AsyncFn(App)) {
    for backend in support::BACKENDS {
        match spawn(backend, &settings).await {
            Some(app) => test(app).await,
            None => eprintln!("SKIPPED on PostgreSQL: no server at the test URL"),
        }
    }
}

/// A Shopify variant as PULPO should hold it: (name, barcodes, weight kg, price).
type Expected = (String, Vec<String>, Option<f64>, Option<f64>);

impl App {
    async fn run(&self) -> Run {
        self.run_of(&self.products).await
    }

    async fn run_of(&self, integration: &Integration) -> Run {
        // Shopify's search works on whole seconds: a change made this second is found by a run
        // whose "now" is a little later.
        self.run_at(
            integration,
            chrono::Utc::now() + chrono::TimeDelta::seconds(2),
        )
        .await
    }

    /// A run whose clock says `now`.
    async fn run_at(&self, integration: &Integration, now: chrono::DateTime<chrono::Utc>) -> Run {
        let options = RunOptions {
            now,
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

    /// A new Shopify product with one variant, as a merchant adds it; its variant id.
    async fn add_variant(&self, fields: Value) -> u64 {
        let answer = self
            .send(
                self.http
                    .post(format!("{}/sandbox/variants", self.shopify.shop_url()))
                    .json(&fields),
            )
            .await;
        answer["id"].as_u64().expect("variant id")
    }

    async fn edit_variant(&self, id: u64, fields: Value) {
        self.send(
            self.http
                .patch(format!("{}/sandbox/variants/{id}", self.shopify.shop_url()))
                .json(&fields),
        )
        .await;
    }

    /// PULPO refuses the next `count` creates or updates of `sku` with `message`.
    async fn refuse(&self, sku: &str, message: &str, count: u32) {
        self.send(
            self.http
                .post(format!(
                    "{}/inventory/products/refusals",
                    self.pulpo.control_url()
                ))
                .json(&json!({"sku": sku, "message": message, "count": count})),
        )
        .await;
    }

    async fn pulpo_faults(&self, faults: &FaultSettings) {
        self.send(
            self.http
                .put(format!("{}/faults", self.pulpo.control_url()))
                .json(faults),
        )
        .await;
    }

    /// Every shippable Shopify variant with a SKU, as PULPO should hold it, by SKU.
    fn expected(&self, price: PriceSource) -> std::collections::BTreeMap<String, Expected> {
        let shop = self.shopify.state.shop();
        shop.variants
            .iter()
            .filter(|v| v.requires_shipping && !v.is_gift_card)
            .filter_map(|v| {
                let sku = v.sku.clone()?;
                let name = if v.title == "Default Title" {
                    v.product_title.clone()
                } else {
                    format!("{} - {}", v.product_title, v.title)
                };
                let kg = v.weight.map(|w| {
                    let grams = match w.unit {
                        tentacle_sandbox::shopify::model::WeightUnit::Grams => w.value,
                        tentacle_sandbox::shopify::model::WeightUnit::Kilograms => w.value * 1000.0,
                        other => panic!("the catalog has no {other:?}"),
                    };
                    grams.round() / 1000.0
                });
                let amount = match price {
                    PriceSource::Variant => Some(v.price),
                    PriceSource::InventoryItem => v.unit_cost,
                };
                let amount = amount.map(|a| a.to_string().parse::<f64>().expect("a price"));
                Some((sku, (name, v.barcode.iter().cloned().collect(), kg, amount)))
            })
            .collect()
    }

    /// What PULPO holds for each of `skus`, and how many products have each.
    fn in_pulpo(
        &self,
        skus: impl Iterator<Item = String>,
    ) -> Vec<(String, usize, Option<Expected>)> {
        let store = self.pulpo.state.store();
        skus.map(|sku| {
            let all: Vec<_> = store
                .products
                .values()
                .filter(|p| p.sku == sku && !p.deleted)
                .collect();
            let held = all
                .first()
                .map(|p| (p.name.clone(), p.barcodes.clone(), p.weight, p.cost_price));
            (sku, all.len(), held)
        })
        .collect()
    }

    fn pulpo_writes(&self) -> u64 {
        self.pulpo.stats().writes
    }

    async fn links(&self) -> i64 {
        self.store
            .count_product_links(self.pair)
            .await
            .expect("links")
    }
}

/// PULPO holds every shippable Shopify SKU once, as Shopify has it.
fn assert_mirrors(app: &App, price: PriceSource) {
    let expected = app.expected(price);
    let held = app.in_pulpo(expected.keys().cloned());
    let wrong: Vec<String> = held
        .into_iter()
        .filter(|(sku, count, product)| *count != 1 || product.as_ref() != expected.get(sku))
        .map(|(sku, count, product)| format!("{sku}: {count} × {product:?} ≠ {:?}", expected[&sku]))
        .collect();
    assert!(
        wrong.is_empty(),
        "PULPO differs from Shopify:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_first_run_imports_the_catalog_and_a_second_run_sends_nothing() {
    both(ProductSettings::default(), async |app: App| {
        // PULPO knows most catalog SKUs already (under its own names); two are new to it.
        let new = [
            app.add_variant(
                json!({"sku": "NEW-1", "product_title": "Gorro Lana", "title": "Gris",
                                   "barcode": "8400000000901", "price": "15.50",
                                   "weight": {"value": 120, "unit": "GRAMS"}}),
            )
            .await,
            app.add_variant(json!({"sku": "NEW-2", "product_title": "Bolsa", "price": "3.00"}))
                .await,
        ];
        let known_before = app.pulpo.state.store().products.len();
        let first = app.run().await;
        let log = app.log(&first).await;
        assert_eq!(first.status, RunStatus::Finished, "{log:?}");
        assert_mirrors(&app, PriceSource::Variant);
        let shippable = app
            .shopify
            .state
            .shop()
            .variants
            .iter()
            .filter(|v| v.requires_shipping && !v.is_gift_card)
            .count() as i64;
        assert_eq!(app.links().await, shippable);
        // Nothing was made twice: PULPO's new products are the SKUs it did not know.
        let catalog_unknown = tentacle_sandbox::catalog::Catalog::generate(1, 0.02)
            .products
            .iter()
            .filter(|p| p.requires_shipping && !p.known_to_pulpo)
            .count();
        assert_eq!(
            app.pulpo.state.store().products.len() - known_before,
            catalog_unknown + new.len()
        );
        assert_eq!(first.counters.created as usize, catalog_unknown + new.len());
        // The gift card and the engraving service are never shipped: left out, not in PULPO.
        assert_eq!(first.counters.skipped, 2, "{:?}", first.counters);
        assert!(app.pulpo.state.product_by_sku("GIFT-25").is_none());
        assert!(
            log.iter()
                .any(|l| l.starts_with("INFO SKU NEW-1 (Gorro Lana - Gris) is new in PULPO")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l.contains("was already in PULPO as product")),
            "{log:?}"
        );

        let writes = app.pulpo_writes();
        let second = app.run().await;
        assert_eq!(
            second.status,
            RunStatus::Finished,
            "{:?}",
            app.log(&second).await
        );
        assert_eq!(
            app.pulpo_writes(),
            writes,
            "nothing changed, nothing written"
        );
        assert_eq!((second.counters.created, second.counters.updated), (0, 0));
    })
    .await;
}

#[tokio::test]
async fn a_price_or_title_change_is_one_update_of_that_field() {
    both(ProductSettings::default(), async |app: App| {
        let id = app
            .add_variant(json!({"sku": "EDIT-1", "product_title": "Taza", "price": "8.00"}))
            .await;
        app.run().await;
        let before = app.pulpo.state.product_by_sku("EDIT-1").expect("created");
        let writes = app.pulpo_writes();

        app.edit_variant(id, json!({"price": "9.50"})).await;
        let repriced = app.run().await;
        assert_eq!(
            repriced.counters.updated,
            1,
            "{:?}",
            app.log(&repriced).await
        );
        assert_eq!(app.pulpo_writes(), writes + 1, "one update");
        let log = app.log(&repriced).await;
        assert!(
            log.iter().any(|l| l
                == &format!(
                    "INFO SKU EDIT-1 changed in Shopify: PULPO product {} updated (price)",
                    before.id
                )),
            "{log:?}"
        );

        app.edit_variant(id, json!({"product_title": "Taza Grande"}))
            .await;
        let renamed = app.run().await;
        assert_eq!(renamed.counters.updated, 1);
        assert_eq!(app.pulpo_writes(), writes + 2);
        let after = app.pulpo.state.product_by_sku("EDIT-1").expect("kept");
        assert_eq!(
            (after.id, after.name.as_str(), after.cost_price),
            (before.id, "Taza Grande", Some(9.5))
        );
        assert_mirrors(&app, PriceSource::Variant);
    })
    .await;
}

#[tokio::test]
async fn a_change_shopify_keeps_to_the_product_arrives_with_the_days_first_run() {
    both(ProductSettings::default(), async |app: App| {
        let id = app
            .add_variant(json!({"sku": "DAY-1", "product_title": "Vela"}))
            .await;
        app.run().await;
        // Renamed the way Shopify may record it: the product changes, its variant's
        // `updatedAt` (an hour old, like any variant not edited lately) does not, so the
        // variants updated since the cursor leave it out.
        {
            let mut shop = app.shopify.state.shop();
            let variant = shop
                .variants
                .iter_mut()
                .find(|v| v.id == id)
                .expect("the variant");
            variant.product_title = "Vela Aromática".into();
            variant.updated_at = chrono::Utc::now() - chrono::TimeDelta::hours(1);
        }
        let same_day = app.run().await;
        assert_eq!(
            same_day.counters.fetched,
            0,
            "{:?}",
            app.log(&same_day).await
        );
        let name = |app: &App| app.pulpo.state.product_by_sku("DAY-1").expect("made").name;
        assert_eq!(name(&app), "Vela");

        let tomorrow = chrono::Utc::now() + chrono::TimeDelta::days(1);
        let next_day = app.run_at(&app.products, tomorrow).await;
        let log = app.log(&next_day).await;
        assert!(
            log.iter()
                .any(|l| l.starts_with("INFO The day's first run reads the whole Shopify catalog")),
            "{log:?}"
        );
        assert_eq!(name(&app), "Vela Aromática");
        assert_eq!(next_day.counters.updated, 1, "{log:?}");
        assert_mirrors(&app, PriceSource::Variant);
    })
    .await;
}

#[tokio::test]
async fn variants_without_sku_or_sharing_one_are_warned_about_and_never_sent() {
    both(ProductSettings::default(), async |app: App| {
        let blank = app
            .add_variant(json!({"sku": null, "product_title": "Muestra"}))
            .await;
        let a = app
            .add_variant(json!({"sku": "TWIN-1", "product_title": "Gemelo A"}))
            .await;
        let b = app
            .add_variant(json!({"sku": "TWIN-1", "product_title": "Gemelo B"}))
            .await;
        let run = app.run().await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::Finished, "{log:?}");
        assert!(
            log.iter()
                .any(|l| l.starts_with("WARNING Variant \"Muestra\"")
                    && l.contains(&blank.to_string())
                    && l.contains("has no SKU")),
            "{log:?}"
        );
        let twin = log
            .iter()
            .find(|l| l.starts_with("WARNING SKU TWIN-1 is on 2 Shopify variants"))
            .unwrap_or_else(|| panic!("{log:?}"));
        assert!(twin.contains(&a.to_string()) && twin.contains(&b.to_string()));
        assert!(app.pulpo.state.product_by_sku("TWIN-1").is_none());
        assert_eq!(run.counters.conflicts, 1);
        let flags = app.store.flags(Some(app.products.id)).await.expect("flags");
        assert!(
            flags.iter().any(|f| f.record_label == "TWIN-1"),
            "{flags:?}"
        );

        // The merchant gives B its own SKU: both go through, and the flag goes.
        app.edit_variant(b, json!({"sku": "TWIN-2"})).await;
        let fixed = app.run().await;
        assert_eq!(
            fixed.status,
            RunStatus::Finished,
            "{:?}",
            app.log(&fixed).await
        );
        assert!(app.pulpo.state.product_by_sku("TWIN-1").is_some());
        assert!(app.pulpo.state.product_by_sku("TWIN-2").is_some());
        let flags = app.store.flags(Some(app.products.id)).await.expect("flags");
        assert!(
            flags.iter().all(|f| f.record_label != "TWIN-1"),
            "{flags:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_product_pulpo_refuses_fails_alone_and_goes_through_on_the_next_run() {
    both(ProductSettings::default(), async |app: App| {
        for n in 1..=4 {
            app.add_variant(
                json!({"sku": format!("REF-{n}"), "product_title": format!("Producto {n}")}),
            )
            .await;
        }
        app.refuse("REF-3", "is not a valid article number for this tenant", 1)
            .await;
        let run = app.run().await;
        let log = app.log(&run).await;
        assert_eq!(run.status, RunStatus::FinishedPartially, "{log:?}");
        assert_eq!(run.counters.failed, 1);
        assert!(
            log.iter().any(|l| l
                == "ERROR PULPO refused SKU REF-3: sku: is not a valid article number for this \
                    tenant. Correct it in Shopify (or in PULPO); the next run tries again"),
            "{log:?}"
        );
        for sku in ["REF-1", "REF-2", "REF-4"] {
            assert!(app.pulpo.state.product_by_sku(sku).is_some(), "{sku}");
        }
        assert!(app.pulpo.state.product_by_sku("REF-3").is_none());

        // REF-3 did not change in Shopify; the next run tries it again all the same.
        let retried = app.run().await;
        assert_eq!(
            retried.status,
            RunStatus::Finished,
            "{:?}",
            app.log(&retried).await
        );
        assert_eq!(retried.counters.created, 1);
        assert!(app.pulpo.state.product_by_sku("REF-3").is_some());
        let flags = app.store.flags(Some(app.products.id)).await.expect("flags");
        assert!(flags.is_empty(), "{flags:?}");
        assert_mirrors(&app, PriceSource::Variant);
    })
    .await;
}

#[tokio::test]
async fn lost_answers_never_make_a_product_twice() {
    both(ProductSettings::default(), async |app: App| {
        for n in 1..=120 {
            app.add_variant(
                json!({"sku": format!("LOST-{n:03}"), "product_title": format!("Perdido {n}")}),
            )
            .await;
        }
        // A third of PULPO's answers are cut after it did the work.
        app.pulpo_faults(&FaultSettings {
            drop_after_share: 0.35,
            ..FaultSettings::default()
        })
        .await;
        let mut runs = 0;
        loop {
            runs += 1;
            let run = app.run().await;
            if run.status == RunStatus::Finished {
                break;
            }
            assert!(runs < 8, "{:?}", app.log(&run).await);
        }
        app.pulpo_faults(&FaultSettings::default()).await;
        let held = app.in_pulpo((1..=120).map(|n| format!("LOST-{n:03}")));
        let wrong: Vec<_> = held.iter().filter(|(_, count, _)| *count != 1).collect();
        assert!(wrong.is_empty(), "{wrong:?}");
        assert_mirrors(&app, PriceSource::Variant);
    })
    .await;
}

#[tokio::test]
async fn the_settings_choose_the_price_the_supplier_and_the_tags() {
    let settings = ProductSettings {
        price_source: PriceSource::InventoryItem,
        default_supplier: Some(tentacle_sandbox::pulpo::store::SUPPLIER_ID),
        import_tags: true,
        ..ProductSettings::default()
    };
    both(settings, async |app: App| {
        app.add_variant(
            json!({"sku": "LOT-1", "product_title": "Crema", "price": "20.00",
                               "unit_cost": "7.25", "tags": ["Cosmética", "lot"]}),
        )
        .await;
        let run = app.run().await;
        assert_eq!(run.status, RunStatus::Finished, "{:?}", app.log(&run).await);
        assert_mirrors(&app, PriceSource::InventoryItem);
        let product = app.pulpo.state.product_by_sku("LOT-1").expect("created");
        assert_eq!(product.cost_price, Some(7.25));
        assert_eq!(
            product.third_party_id,
            Some(tentacle_sandbox::pulpo::store::SUPPLIER_ID)
        );
        assert_eq!(product.management_type, "lot");
        let attributes: Value = serde_json::from_str(
            product
                .attributes
                .as_ref()
                .and_then(Value::as_str)
                .expect("attributes text"),
        )
        .expect("JSON");
        assert_eq!(attributes, json!({"shopify_tags": ["Cosmética"]}));
    })
    .await;

    // A supplier id that is a customer stops the run before anything is sent.
    let customer = ProductSettings {
        default_supplier: Some(1),
        ..ProductSettings::default()
    };
    both(customer, async |app: App| {
        let writes = app.pulpo_writes();
        let run = app.run().await;
        assert_eq!(run.status, RunStatus::Failed);
        let log = app.log(&run).await;
        assert!(
            log.iter().any(|l| l.starts_with(
                "ERROR The default supplier 1 cannot be used: that third party is of type C"
            )),
            "{log:?}"
        );
        assert_eq!(app.pulpo_writes(), writes);
    })
    .await;
}

#[tokio::test]
async fn an_order_refused_for_an_unknown_sku_imports_once_the_products_run_made_it() {
    both(ProductSettings::default(), async |app: App| {
        app.add_variant(json!({"sku": "FRESH-1", "product_title": "Novedad", "price": "12.00"}))
            .await;
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
        let location = app
            .shopify
            .state
            .shop()
            .locations
            .iter()
            .find(|l| l.name == SHARED_WAREHOUSES[0])
            .map(|l| l.id)
            .expect("Madrid");
        let order = json!({
            "financial_status": "paid", "currency": "EUR", "email": "ana@example.es",
            "customer": {"id": 9_000_101, "first_name": "Ana", "last_name": "Ruiz", "email": "ana@example.es"},
            "shipping_address": {"first_name": "Ana", "last_name": "Ruiz", "address1": "Gran Vía 1",
                                 "city": "Madrid", "zip": "28013", "country": "Spain", "country_code": "ES"},
            "line_items": [{"sku": "FRESH-1", "quantity": 2, "price": "12.00"}],
            "location_id": location,
        });
        let placed = app
            .send(app.http.post(format!("{}/sandbox/orders", app.shopify.shop_url())).json(&order))
            .await;
        let name = placed["name"].as_str().expect("order name").to_string();
        let refused = app.run_of(&sales).await;
        assert_eq!(refused.counters.failed, 1, "{:?}", app.log(&refused).await);
        assert!(
            app.log(&refused)
                .await
                .iter()
                .any(|l| l.contains("FRESH-1") && l.contains("not found in PULPO")),
            "{:?}",
            app.log(&refused).await
        );

        app.run().await;
        let imported = app.run_of(&sales).await;
        assert_eq!(imported.status, RunStatus::Finished, "{:?}", app.log(&imported).await);
        let pulpo_order = app
            .pulpo
            .state
            .sales_orders()
            .into_iter()
            .find(|o| o.order_num.contains(name.trim_start_matches('#')))
            .unwrap_or_else(|| panic!("{name} is in PULPO"));
        let product = app.pulpo.state.product_by_sku("FRESH-1").expect("made");
        assert_eq!(
            pulpo_order
                .items
                .iter()
                .map(|i| (i.product_id, i.quantity))
                .collect::<Vec<_>>(),
            [(product.id, 2)]
        );
    })
    .await;
}

#[tokio::test]
async fn a_worker_killed_mid_import_leaves_a_run_that_converges_when_resumed() {
    both(ProductSettings::default(), async |app: App| {
        let location = app.shopify.state.shop().locations[0].id;
        app.send(
            app.http
                .post(format!(
                    "{}/sandbox/inventory_items/seed",
                    app.shopify.shop_url()
                ))
                .json(&json!({"count": 600, "location_id": location,
                              "sku_prefix": "KILL-", "available": 1})),
        )
        .await;
        // Slow answers, so the import is still going when the worker dies.
        app.send(
            app.http
                .put(format!("{}/limits", app.pulpo.control_url()))
                .json(&json!({"latency_ms": 60})),
        )
        .await;
        let writes = app.pulpo_writes();
        let store = app.store.clone();
        let products = app.products.clone();
        let mut worker = tokio::spawn(async move {
            run_integration(
                store,
                &products,
                Trigger::Manual,
                RunOptions::default(),
                None,
            )
            .await
        });
        support::wait_for_worker(&mut worker, "sent no three PULPO writes", || {
            app.pulpo_writes() >= writes + 3
        })
        .await;
        worker.abort();
        let _ = worker.await;
        app.send(
            app.http
                .put(format!("{}/limits", app.pulpo.control_url()))
                .json(&json!({"latency_ms": 0})),
        )
        .await;
        assert!(
            app.pulpo.state.product_by_sku("KILL-000600").is_none(),
            "the import was cut short"
        );

        let run = support::resume_lost_run(&app.store).await;
        assert_eq!(run.status, RunStatus::Finished, "{:?}", app.log(&run).await);
        assert_mirrors(&app, PriceSource::Variant);
    })
    .await;
}
