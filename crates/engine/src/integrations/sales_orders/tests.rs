//! The pipeline's stages driven by hand, for what the end-to-end tests cannot time: an order
//! that shows up on a second page planned before the first page was written.

use secrecy::SecretString;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tentacle_domain::run::Trigger;
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_sandbox::catalog::{Catalog, SHARED_WAREHOUSES};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::{Cipher, Integration, NewCredential, NewIntegration, SqliteStore, Store};

use super::{SalesOrders, SalesOrdersRun, Work};
use crate::integrations::RunContext;
use crate::log::RunLog;
use crate::options::RunOptions;

struct Systems {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<dyn Store>,
    integration: Integration,
    http: reqwest::Client,
}

async fn systems() -> Systems {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders: 0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("Shopify sandbox");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        unknown_share: 0.0,
        ..PulpoConfig::default()
    })
    .await
    .expect("PULPO sandbox");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open("sqlite::memory:", Cipher::ephemeral())
            .await
            .expect("store"),
    );
    let shop = store
        .save_credential(NewCredential::shopify(
            "shop",
            &shopify.shop_url(),
            "2026-10",
            SecretString::from("shpat_sandbox".to_string()),
        ))
        .await
        .expect("shop credential");
    let wms = store
        .save_credential(NewCredential::pulpo(
            "wms",
            &pulpo.base_url(),
            "sandbox_admin",
            SecretString::from("sandbox".to_string()),
        ))
        .await
        .expect("wms credential");
    let settings = SalesOrderSettings {
        fallback_customer_id: Some(1),
        ..SalesOrderSettings::default()
    };
    let integration = store
        .save_integration(NewIntegration {
            name: "Sales orders".into(),
            kind: super::TYPE.into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(&settings).expect("settings"),
        })
        .await
        .expect("integration");
    Systems {
        shopify,
        pulpo,
        store,
        integration,
        http: reqwest::Client::new(),
    }
}

impl Systems {
    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/sandbox/{path}", self.shopify.shop_url()))
            .json(&body)
            .send()
            .await
            .expect("control API");
        assert!(response.status().is_success());
        response.json().await.expect("json")
    }

    /// A paid order without a customer (the fallback customer takes it), shipped from the first
    /// PULPO warehouse; its GraphQL id.
    async fn paid_order(&self) -> String {
        let locations: Value = self
            .http
            .get(format!("{}/sandbox/locations", self.shopify.shop_url()))
            .send()
            .await
            .expect("locations")
            .json()
            .await
            .expect("json");
        let location = locations["locations"]
            .as_array()
            .and_then(|all| all.iter().find(|l| l["name"] == SHARED_WAREHOUSES[0]))
            .map(|l| l["id"].clone())
            .expect("location");
        let sku = Catalog::generate(1, 0.0)
            .products
            .into_iter()
            .find(|p| p.requires_shipping)
            .map(|p| p.sku)
            .expect("a physical product");
        let created = self
            .control(
                "orders",
                json!({
                    "financial_status": "paid",
                    "location_id": location,
                    "shipping_address": {"first_name": "Ana", "address1": "Calle Mayor 1", "city": "Madrid", "zip": "28013", "country_code": "ES"},
                    "line_items": [{"sku": sku, "title": sku, "quantity": 1, "price": "10.00", "requires_shipping": true}],
                }),
            )
            .await;
        format!(
            "gid://shopify/Order/{}",
            created["id"].as_u64().expect("id")
        )
    }
}

/// Plans `order_id` as two pages would (the second planned before the first is written), writes
/// the first, then re-plans the second as the write stage does and returns what it holds before
/// and after.
async fn twice(run: &SalesOrdersRun<'_>, order_id: &str) -> (bool, bool) {
    let order = run
        .shop
        .order(order_id)
        .await
        .expect("read")
        .expect("order");
    let first = run.plan(vec![order.clone()], None).await;
    let second = run.plan(vec![order.clone()], None).await;
    let stale_had_work = !matches!(second.orders[0].work, Work::Unchanged);
    run.write(first).await.expect("first page written");
    let recent: VecDeque<HashSet<String>> = VecDeque::from([HashSet::from([order.id.clone()])]);
    let second = run.replan_stale(second, &recent).await;
    let fresh_has_work = !matches!(second.orders[0].work, Work::Unchanged);
    run.write(second).await.expect("second page written");
    (stale_had_work, fresh_has_work)
}

#[tokio::test]
async fn an_order_on_two_pages_is_decided_again_once_the_first_is_written() {
    let systems = systems().await;
    let order_id = systems.paid_order().await;
    let options = RunOptions::default();
    // A run held the way a worker holds it: queued, then claimed under a lease.
    let queued = systems
        .store
        .enqueue_run(&tentacle_store::RunRequest {
            integration_id: systems.integration.id,
            trigger: Trigger::Manual,
            due_at: options.now,
            exclusion: None,
        })
        .await
        .expect("queued")
        .run;
    let claim = tentacle_store::Claim {
        owner: "unit-test".into(),
        now: options.now,
        lease_until: options.now + chrono::TimeDelta::hours(1),
        run_id: Some(queued.id),
    };
    let record = systems
        .store
        .claim_run(&claim)
        .await
        .expect("claim")
        .expect("claimed");
    let lease = tentacle_store::Lease {
        run_id: record.id,
        owner: claim.owner,
    };
    let log = RunLog::new(lease, record.counters, systems.store.clone(), None);
    let context = RunContext::connect::<SalesOrders>(
        systems.store.as_ref(),
        &systems.integration,
        &log,
        &options,
    )
    .await
    .unwrap_or_else(|_| panic!("the clients connect"));
    let settings = serde_json::from_value(systems.integration.settings.clone()).expect("settings");
    let run = SalesOrdersRun::start(&context, settings)
        .await
        .unwrap_or_else(|_| panic!("the run starts"));

    // Imported by the first page: the second, planned before, wanted to import it too.
    let (stale, fresh) = twice(&run, &order_id).await;
    assert!(stale && !fresh, "stale {stale}, fresh {fresh}");
    assert_eq!(systems.pulpo.state.sales_orders().len(), 1);

    // Cancelled by the first page: the second, planned before, wanted to cancel it again,
    // which PULPO refuses and would have been a conflict.
    let number = order_id.rsplit('/').next().expect("number");
    systems
        .control(
            &format!("orders/{number}/cancel"),
            json!({"reason": "customer"}),
        )
        .await;
    let (stale, fresh) = twice(&run, &order_id).await;
    assert!(stale && !fresh, "stale {stale}, fresh {fresh}");

    let counters = log.counters();
    assert_eq!(
        (
            counters.created,
            counters.cancelled,
            counters.conflicts,
            counters.failed
        ),
        (1, 1, 0, 0)
    );
    assert_eq!(
        systems.pulpo.state.sales_orders()[0].state.as_str(),
        "cancelled"
    );
}
