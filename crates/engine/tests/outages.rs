//! Database outages in the middle of a run, made to happen exactly where a test needs them: a
//! store that answers like a database that cannot be reached (a transient error) on a chosen
//! call, in front of a real SQLite store, with both sandboxes over real HTTP. (A real server
//! restart is in `crates/tentacle/tests/pg_restart.rs`, but when it hits a statement is chance.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tentacle_domain::run::{ApiUsage, RunCounters, RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::prelude::*;
use tentacle_store::{
    AlertChannel, AlertClaim, AlertDelivery, AlertFilter, AlertRecord, ApiToken, ApiVersionDue,
    Attention, AttentionKey, Cipher, Claim, Credential, DailyRunTotals, Enqueued, HeldWrite,
    Integration, Lease, LinkScope, LogFilter, NewAlertChannel, NewApiToken, NewCredential,
    NewIntegration, NewLogEntry, NewSession, OrderLink, ProductLink, Pruned, Reap, Reaped, Result,
    Retention, ReturnLink, Run, RunFilter, RunRequest, RunTotals, SchedulerLease, Session,
    ShipmentLink, SqliteStore, StatusMark, StoreError, StoredLogEntry, SystemPair, User, WakeUps,
};

/// A store whose `method` fails, once, on its `nth` call, as if the database could not be
/// reached; everything else goes to the real store.
struct OutageStore {
    inner: SqliteStore,
    /// Method name → calls left before it fails once.
    outages: Mutex<HashMap<&'static str, usize>>,
    /// Outages that happened, in order.
    happened: Mutex<Vec<&'static str>>,
}

impl OutageStore {
    fn fail_on(&self, method: &'static str, nth: usize) {
        self.outages
            .lock()
            .expect("lock")
            .insert(method, nth.saturating_sub(1));
    }

    fn trip(&self, method: &'static str) -> Result<()> {
        let mut outages = self.outages.lock().expect("lock");
        match outages.get_mut(method) {
            Some(0) => {
                outages.remove(method);
                self.happened.lock().expect("lock").push(method);
                Err(StoreError::Database(sqlx::Error::PoolTimedOut))
            }
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

#[async_trait]
impl CredentialStore for OutageStore {
    async fn save_credential(&self, credential: NewCredential) -> Result<Credential> {
        self.trip("save_credential")?;
        self.inner.save_credential(credential).await
    }

    async fn create_credential(&self, credential: NewCredential) -> Result<Credential> {
        self.trip("create_credential")?;
        self.inner.create_credential(credential).await
    }

    async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        self.trip("credential")?;
        self.inner.credential(id).await
    }

    async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>> {
        self.trip("credential_by_name")?;
        self.inner.credential_by_name(name).await
    }

    async fn credentials(&self) -> Result<Vec<Credential>> {
        self.trip("credentials")?;
        self.inner.credentials().await
    }

    async fn update_credential(&self, id: i64, credential: NewCredential) -> Result<Credential> {
        self.trip("update_credential")?;
        self.inner.update_credential(id, credential).await
    }

    async fn delete_credential(&self, id: i64) -> Result<bool> {
        self.trip("delete_credential")?;
        self.inner.delete_credential(id).await
    }
}

#[async_trait]
impl IntegrationStore for OutageStore {
    async fn save_integration(&self, integration: NewIntegration) -> Result<Integration> {
        self.trip("save_integration")?;
        self.inner.save_integration(integration).await
    }

    async fn create_integration(&self, integration: NewIntegration) -> Result<Integration> {
        self.trip("create_integration")?;
        self.inner.create_integration(integration).await
    }

    async fn integration(&self, id: i64) -> Result<Option<Integration>> {
        self.trip("integration")?;
        self.inner.integration(id).await
    }

    async fn integration_by_name(&self, name: &str) -> Result<Option<Integration>> {
        self.trip("integration_by_name")?;
        self.inner.integration_by_name(name).await
    }

    async fn integrations(&self) -> Result<Vec<Integration>> {
        self.trip("integrations")?;
        self.inner.integrations().await
    }

    async fn set_integration_active(&self, id: i64, active: bool) -> Result<Option<Integration>> {
        self.trip("set_integration_active")?;
        self.inner.set_integration_active(id, active).await
    }

    async fn update_integration(
        &self,
        id: i64,
        integration: NewIntegration,
    ) -> Result<Integration> {
        self.trip("update_integration")?;
        self.inner.update_integration(id, integration).await
    }

    async fn delete_integration(&self, id: i64) -> Result<bool> {
        self.trip("delete_integration")?;
        self.inner.delete_integration(id).await
    }

    async fn cursor(&self, integration_id: i64) -> Result<Option<DateTime<Utc>>> {
        self.trip("cursor")?;
        self.inner.cursor(integration_id).await
    }

    async fn set_cursor(&self, integration_id: i64, updated_at: DateTime<Utc>) -> Result<()> {
        self.trip("set_cursor")?;
        self.inner.set_cursor(integration_id, updated_at).await
    }
}

#[async_trait]
impl RunStore for OutageStore {
    async fn enqueue_run(&self, request: &RunRequest) -> Result<Enqueued> {
        self.trip("enqueue_run")?;
        self.inner.enqueue_run(request).await
    }

    async fn queued_unstarted_due(&self) -> Result<HashMap<i64, DateTime<Utc>>> {
        self.trip("queued_unstarted_due")?;
        self.inner.queued_unstarted_due().await
    }

    async fn claim_run(&self, claim: &Claim) -> Result<Option<Run>> {
        self.trip("claim_run")?;
        self.inner.claim_run(claim).await
    }

    async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<bool> {
        self.trip("renew_lease")?;
        self.inner.renew_lease(lease, until).await
    }

    async fn release_run(&self, lease: &Lease, entry: &NewLogEntry) -> Result<bool> {
        self.trip("release_run")?;
        self.inner.release_run(lease, entry).await
    }

    async fn reap_expired_runs(&self, reap: &Reap) -> Result<Reaped> {
        self.trip("reap_expired_runs")?;
        self.inner.reap_expired_runs(reap).await
    }

    fn wake_ups(&self) -> WakeUps {
        self.inner.wake_ups()
    }

    async fn add_run_usage(&self, lease: &Lease, usage: &ApiUsage) -> Result<()> {
        self.trip("add_run_usage")?;
        self.inner.add_run_usage(lease, usage).await
    }

    async fn update_run_counters(&self, lease: &Lease, counters: &RunCounters) -> Result<()> {
        self.trip("update_run_counters")?;
        self.inner.update_run_counters(lease, counters).await
    }

    async fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        counters: &RunCounters,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        self.trip("finish_run")?;
        self.inner
            .finish_run(lease, status, counters, error, now)
            .await
    }

    async fn run(&self, id: i64) -> Result<Option<Run>> {
        self.trip("run")?;
        self.inner.run(id).await
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        self.trip("runs")?;
        self.inner.runs(filter).await
    }
    async fn prune_runs(&self, retention: &Retention) -> Result<Pruned> {
        self.trip("prune_runs")?;
        self.inner.prune_runs(retention).await
    }

    async fn write_held(&self, lease: &Lease, writes: &[HeldWrite]) -> Result<()> {
        self.trip("write_held")?;
        self.inner.write_held(lease, writes).await
    }
}

#[async_trait]
impl LogStore for OutageStore {
    async fn append_logs(&self, lease: &Lease, entries: &[NewLogEntry]) -> Result<()> {
        self.trip("append_logs")?;
        self.inner.append_logs(lease, entries).await
    }

    async fn logs(&self, run_id: i64, filter: &LogFilter) -> Result<Vec<StoredLogEntry>> {
        self.trip("logs")?;
        self.inner.logs(run_id, filter).await
    }

    async fn run_totals(&self) -> Result<Vec<RunTotals>> {
        self.trip("run_totals")?;
        self.inner.run_totals().await
    }
    async fn daily_run_totals(&self, since: DateTime<Utc>) -> Result<Vec<DailyRunTotals>> {
        self.trip("daily_run_totals")?;
        self.inner.daily_run_totals(since).await
    }
}

#[async_trait]
impl AccountStore for OutageStore {
    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken> {
        self.trip("create_api_token")?;
        self.inner.create_api_token(token).await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        self.trip("api_tokens")?;
        self.inner.api_tokens().await
    }

    async fn revoke_api_token(&self, name: &str) -> Result<bool> {
        self.trip("revoke_api_token")?;
        self.inner.revoke_api_token(name).await
    }

    async fn api_token_used(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        self.trip("api_token_used")?;
        self.inner.api_token_used(id, at).await
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        self.trip("api_token_by_hash")?;
        self.inner.api_token_by_hash(token_hash).await
    }

    async fn create_user(&self, name: &str, password_hash: &str) -> Result<User> {
        self.trip("create_user")?;
        self.inner.create_user(name, password_hash).await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        self.trip("user_by_name")?;
        self.inner.user_by_name(name).await
    }

    async fn create_session(&self, session: &NewSession) -> Result<Session> {
        self.trip("create_session")?;
        self.inner.create_session(session).await
    }

    async fn session_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>> {
        self.trip("session_by_hash")?;
        self.inner.session_by_hash(token_hash, now).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        self.trip("delete_session")?;
        self.inner.delete_session(token_hash).await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64> {
        self.trip("delete_user_sessions")?;
        self.inner.delete_user_sessions(user_id).await
    }

    async fn set_user_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        self.trip("set_user_password")?;
        self.inner.set_user_password(name, password_hash).await
    }

    async fn delete_user(&self, name: &str) -> Result<bool> {
        self.trip("delete_user")?;
        self.inner.delete_user(name).await
    }
}

#[async_trait]
impl AttentionStore for OutageStore {
    async fn flag(&self, attention: &Attention) -> Result<()> {
        self.trip("flag")?;
        self.inner.flag(attention).await
    }

    async fn clear_flag(&self, key: &AttentionKey) -> Result<()> {
        self.trip("clear_flag")?;
        self.inner.clear_flag(key).await
    }

    async fn flags(&self, integration_id: Option<i64>) -> Result<Vec<Attention>> {
        self.trip("flags")?;
        self.inner.flags(integration_id).await
    }
}

#[async_trait]
impl SalesOrderStore for OutageStore {
    async fn order_links(
        &self,
        scope: LinkScope,
        shopify_order_id: &str,
    ) -> Result<Vec<OrderLink>> {
        self.trip("order_links")?;
        self.inner.order_links(scope, shopify_order_id).await
    }

    async fn order_link(
        &self,
        scope: LinkScope,
        fulfillment_order_id: &str,
    ) -> Result<Option<OrderLink>> {
        self.trip("order_link")?;
        self.inner.order_link(scope, fulfillment_order_id).await
    }

    async fn save_order_link(&self, link: &OrderLink) -> Result<()> {
        self.trip("save_order_link")?;
        self.inner.save_order_link(link).await
    }

    async fn count_order_links(&self, scope: LinkScope) -> Result<i64> {
        self.trip("count_order_links")?;
        self.inner.count_order_links(scope).await
    }

    async fn order_links_of_pulpo_orders(
        &self,
        scope: LinkScope,
        pulpo_order_ids: &[i64],
    ) -> Result<Vec<OrderLink>> {
        self.trip("order_links_of_pulpo_orders")?;
        self.inner
            .order_links_of_pulpo_orders(scope, pulpo_order_ids)
            .await
    }

    async fn confirmed_order_links_since(
        &self,
        scope: LinkScope,
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: i64,
    ) -> Result<Vec<OrderLink>> {
        self.trip("confirmed_order_links_since")?;
        self.inner
            .confirmed_order_links_since(scope, since, after, limit)
            .await
    }
}

#[async_trait]
impl ShipmentStore for OutageStore {
    async fn shipment_link(&self, scope: SystemPair, box_id: i64) -> Result<Option<ShipmentLink>> {
        self.trip("shipment_link")?;
        self.inner.shipment_link(scope, box_id).await
    }

    async fn shipment_links_of_order(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Vec<ShipmentLink>> {
        self.trip("shipment_links_of_order")?;
        self.inner
            .shipment_links_of_order(scope, shopify_order_id)
            .await
    }

    async fn save_shipment_link(&self, link: &ShipmentLink) -> Result<()> {
        self.trip("save_shipment_link")?;
        self.inner.save_shipment_link(link).await
    }

    async fn count_shipment_links(&self, scope: SystemPair) -> Result<i64> {
        self.trip("count_shipment_links")?;
        self.inner.count_shipment_links(scope).await
    }
}

#[async_trait]
impl ReturnStore for OutageStore {
    async fn return_link(
        &self,
        scope: SystemPair,
        incoming_good_id: i64,
    ) -> Result<Option<ReturnLink>> {
        self.trip("return_link")?;
        self.inner.return_link(scope, incoming_good_id).await
    }

    async fn return_links_of_order(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Vec<ReturnLink>> {
        self.trip("return_links_of_order")?;
        self.inner
            .return_links_of_order(scope, shopify_order_id)
            .await
    }

    async fn save_return_link(&self, link: &ReturnLink) -> Result<()> {
        self.trip("save_return_link")?;
        self.inner.save_return_link(link).await
    }

    async fn count_return_links(&self, scope: SystemPair) -> Result<i64> {
        self.trip("count_return_links")?;
        self.inner.count_return_links(scope).await
    }
}

#[async_trait]
impl StatusUpdateStore for OutageStore {
    async fn status_mark(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Option<StatusMark>> {
        self.trip("status_mark")?;
        self.inner.status_mark(scope, shopify_order_id).await
    }

    async fn status_marks(
        &self,
        scope: SystemPair,
        shopify_order_ids: &[String],
    ) -> Result<Vec<StatusMark>> {
        self.trip("status_marks")?;
        self.inner.status_marks(scope, shopify_order_ids).await
    }

    async fn save_status_mark(&self, mark: &StatusMark) -> Result<()> {
        self.trip("save_status_mark")?;
        self.inner.save_status_mark(mark).await
    }
}

#[async_trait]
impl ProductStore for OutageStore {
    async fn product_links(
        &self,
        scope: SystemPair,
        variant_ids: &[String],
    ) -> Result<Vec<ProductLink>> {
        self.trip("product_links")?;
        self.inner.product_links(scope, variant_ids).await
    }

    async fn product_links_of_products(
        &self,
        scope: SystemPair,
        pulpo_product_ids: &[i64],
    ) -> Result<Vec<ProductLink>> {
        self.trip("product_links_of_products")?;
        self.inner
            .product_links_of_products(scope, pulpo_product_ids)
            .await
    }

    async fn save_product_link(&self, link: &ProductLink) -> Result<()> {
        self.trip("save_product_link")?;
        self.inner.save_product_link(link).await
    }

    async fn count_product_links(&self, scope: SystemPair) -> Result<i64> {
        self.trip("count_product_links")?;
        self.inner.count_product_links(scope).await
    }
}

#[async_trait]
impl SchedulerStore for OutageStore {
    async fn hold_scheduler(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        self.trip("hold_scheduler")?;
        self.inner.hold_scheduler(owner, now, until).await
    }

    async fn release_scheduler(&self, owner: &str) -> Result<()> {
        self.trip("release_scheduler")?;
        self.inner.release_scheduler(owner).await
    }

    async fn scheduler(&self) -> Result<Option<SchedulerLease>> {
        self.trip("scheduler")?;
        self.inner.scheduler().await
    }
}

#[async_trait]
impl AlertStore for OutageStore {
    async fn save_alert_channel(&self, channel: NewAlertChannel) -> Result<AlertChannel> {
        self.trip("save_alert_channel")?;
        self.inner.save_alert_channel(channel).await
    }

    async fn create_alert_channel(&self, channel: NewAlertChannel) -> Result<AlertChannel> {
        self.trip("create_alert_channel")?;
        self.inner.create_alert_channel(channel).await
    }

    async fn update_alert_channel(
        &self,
        id: i64,
        channel: NewAlertChannel,
    ) -> Result<AlertChannel> {
        self.trip("update_alert_channel")?;
        self.inner.update_alert_channel(id, channel).await
    }

    async fn alert_channel(&self, id: i64) -> Result<Option<AlertChannel>> {
        self.trip("alert_channel")?;
        self.inner.alert_channel(id).await
    }

    async fn alert_channel_by_name(&self, name: &str) -> Result<Option<AlertChannel>> {
        self.trip("alert_channel_by_name")?;
        self.inner.alert_channel_by_name(name).await
    }

    async fn alert_channels(&self) -> Result<Vec<AlertChannel>> {
        self.trip("alert_channels")?;
        self.inner.alert_channels().await
    }

    async fn delete_alert_channel(&self, id: i64) -> Result<bool> {
        self.trip("delete_alert_channel")?;
        self.inner.delete_alert_channel(id).await
    }

    async fn open_stale_incidents(&self, now: DateTime<Utc>) -> Result<usize> {
        self.trip("open_stale_incidents")?;
        self.inner.open_stale_incidents(now).await
    }

    async fn sync_api_version_incidents(
        &self,
        now: DateTime<Utc>,
        due: &[ApiVersionDue],
    ) -> Result<usize> {
        self.trip("sync_api_version_incidents")?;
        self.inner.sync_api_version_incidents(now, due).await
    }

    async fn claim_alerts(&self, claim: &AlertClaim) -> Result<Vec<AlertDelivery>> {
        self.trip("claim_alerts")?;
        self.inner.claim_alerts(claim).await
    }

    async fn alert_delivered(&self, id: i64, owner: &str, now: DateTime<Utc>) -> Result<bool> {
        self.trip("alert_delivered")?;
        self.inner.alert_delivered(id, owner, now).await
    }

    async fn alert_failed(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<bool> {
        self.trip("alert_failed")?;
        self.inner.alert_failed(id, owner, error, retry_at).await
    }

    async fn alert_records(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        self.trip("alert_records")?;
        self.inner.alert_records(filter).await
    }
}

#[async_trait]
impl Store for OutageStore {
    async fn ping(&self) -> Result<()> {
        self.trip("ping")?;
        self.inner.ping().await
    }

    async fn schema_version(&self) -> Result<i64> {
        self.trip("schema_version")?;
        self.inner.schema_version().await
    }
}

struct TestApp {
    _shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
    store: Arc<OutageStore>,
    integration: Integration,
}

/// Both sandboxes (a generated shop of `orders`), the outage store, one configuration.
async fn spawn_app(orders: usize) -> TestApp {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders,
        seed: 11,
        bucket: 20_000.0,
        restore_rate: 10_000.0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("Shopify sandbox");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        seed: 11,
        unknown_share: 0.0,
        ..PulpoConfig::default()
    })
    .await
    .expect("PULPO sandbox");
    let store = Arc::new(OutageStore {
        inner: SqliteStore::open("sqlite::memory:", Cipher::ephemeral())
            .await
            .expect("store"),
        outages: Mutex::new(HashMap::new()),
        happened: Mutex::new(Vec::new()),
    });
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
    let integration = store
        .save_integration(NewIntegration {
            name: "Sales orders".into(),
            kind: "sales_orders".into(),
            origin_credential_id: shop.id,
            destination_credential_id: wms.id,
            settings: serde_json::to_value(SalesOrderSettings {
                fallback_customer_id: Some(1),
                initial_import_days: 30,
                ..SalesOrderSettings::default()
            })
            .expect("settings"),
        })
        .await
        .expect("integration");
    TestApp {
        _shopify: shopify,
        pulpo,
        store,
        integration,
    }
}

impl TestApp {
    async fn run(&self) -> Run {
        run_integration(
            self.store.clone(),
            &self.integration,
            Trigger::Manual,
            RunOptions {
                page_size: 10,
                ..RunOptions::default()
            },
            None,
        )
        .await
        .expect("run")
    }

    async fn messages(&self, run: &Run) -> Vec<String> {
        self.store
            .logs(run.id, &LogFilter::default())
            .await
            .expect("logs")
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    /// PULPO holds each order once, and exactly the orders tentacle linked.
    async fn assert_each_order_once(&self) -> usize {
        let numbers: Vec<String> = self
            .pulpo
            .state
            .sales_orders()
            .into_iter()
            .map(|o| o.order_num)
            .collect();
        let unique: std::collections::BTreeSet<&String> = numbers.iter().collect();
        assert_eq!(unique.len(), numbers.len(), "an order was created twice");
        let links = self
            .store
            .count_order_links(LinkScope {
                origin_credential_id: self.integration.origin_credential_id,
                destination_credential_id: self.integration.destination_credential_id,
            })
            .await
            .expect("links");
        assert_eq!(
            links as usize,
            numbers.len(),
            "PULPO orders and links differ"
        );
        numbers.len()
    }
}

#[tokio::test]
async fn a_run_that_loses_the_database_mid_run_resumes_instead_of_failing() {
    let app = spawn_app(60).await;
    // The 15th held write (links, flags, the cursor): well inside the run, after some orders
    // went to PULPO.
    app.store.fail_on("write_held", 15);
    let run = app.run().await;

    assert_eq!(*app.store.happened.lock().expect("lock"), ["write_held"]);
    assert_eq!(run.status, RunStatus::Finished, "{run:?}");
    assert_eq!(run.attempts, 2, "stopped once, then resumed: {run:?}");
    let messages = app.messages(&run).await;
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("Database unreachable during the run")),
        "{messages:#?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("database failed")),
        "a moment without the database is not a failure: {messages:#?}"
    );
    let imported = app.assert_each_order_once().await;
    assert!(imported >= 15, "{imported}");

    // Nothing was left behind: the next run creates nothing.
    let again = app.run().await;
    assert_eq!(again.status, RunStatus::Finished);
    assert_eq!(again.counters.created, 0, "{again:?}");
    assert_eq!(app.assert_each_order_once().await, imported);
}

#[tokio::test]
async fn the_end_of_a_run_is_recorded_once_the_database_answers_again() {
    let app = spawn_app(20).await;
    app.store.fail_on("finish_run", 1);
    let run = app.run().await;

    assert_eq!(*app.store.happened.lock().expect("lock"), ["finish_run"]);
    assert_eq!(run.status, RunStatus::Finished, "{run:?}");
    assert_eq!(run.attempts, 1, "the work was not redone: {run:?}");
    assert!(run.counters.created > 0, "{run:?}");
    let messages = app.messages(&run).await;
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.starts_with("Run FINISHED"))
            .count(),
        1,
        "one final entry: {messages:#?}"
    );
    app.assert_each_order_once().await;
}
