//! `spawn_app()`: tentacle's API and both sandboxes on random ports, a fresh SQLite file, an
//! API token, and typed request helpers that keep every response body for later searches.

use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::{Cipher, SqliteStore, Store};
use tokio::sync::oneshot;

/// Distinctive, so a search of response bodies finds them only where they leaked.
pub const SHOPIFY_TOKEN: &str = "shpat_secret_Tk7q";
pub const PULPO_PASSWORD: &str = "pulpo-secret-Pw9x";

pub struct TestApp {
    pub base: String,
    pub token: String,
    pub store: Arc<dyn Store>,
    pub shopify: ShopifySandbox,
    pub pulpo: PulpoSandbox,
    http: reqwest::Client,
    /// Every response body seen, to search for secrets.
    pub bodies: Mutex<Vec<String>>,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(false, tentacle_web::Limits::default()).await
}

/// [`spawn_app`] behind a declared TLS proxy or not, with other connection limits.
pub async fn spawn_app_with(behind_proxy: bool, limits: tentacle_web::Limits) -> TestApp {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders: 0,
        access_token: SHOPIFY_TOKEN.into(),
        ..ShopifyConfig::default()
    })
    .await
    .expect("Shopify sandbox");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        password: PULPO_PASSWORD.into(),
        ..PulpoConfig::default()
    })
    .await
    .expect("PULPO sandbox");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&url, Cipher::ephemeral())
            .await
            .expect("store"),
    );
    let token = tentacle_web::auth::issue_token(store.as_ref(), "tests")
        .await
        .expect("token");
    let app = tentacle_web::build(tentacle_web::Config {
        listen: local,
        store: store.clone(),
        behind_proxy,
        limits,
    })
    .await
    .expect("bind");
    let base = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        token,
        store,
        shopify,
        pulpo,
        http: reqwest::Client::new(),
        bodies: Mutex::new(Vec::new()),
        _stop: stop,
        _dir: dir,
    }
}

impl TestApp {
    /// A request with this app's token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_as(Some(&self.token.clone()), method, path, body)
            .await
    }

    /// A request with `token` (none: no Authorization header).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.expect("body");
        self.bodies.lock().expect("lock").push(text.clone());
        Answer {
            status,
            content_type,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub fn shopify_body(&self, name: &str, token: &str) -> Value {
        json!({
            "name": name,
            "type": "shopify",
            "config": {"shop_url": self.shopify.shop_url()},
            "secrets": {"access_token": token, "webhook_secret": "whsec_test_value_1"},
        })
    }

    pub fn pulpo_body(&self, name: &str, password: &str) -> Value {
        json!({
            "name": name,
            "type": "pulpo",
            "config": {"base_url": self.pulpo.base_url(), "username": "sandbox_admin"},
            "secrets": {"password": password},
        })
    }

    /// Creates a credential through the API; its id.
    pub async fn create_credential(&self, body: Value) -> i64 {
        let answer = self.post("/api/credentials", body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()["id"].as_i64().expect("id")
    }

    /// A Shopify and a PULPO credential with the sandboxes' credentials, and a sales orders
    /// integration between them: (shop, wms, integration) ids.
    pub async fn provision(&self) -> (i64, i64, i64) {
        let shop = self
            .create_credential(self.shopify_body("shop", SHOPIFY_TOKEN))
            .await;
        let wms = self
            .create_credential(self.pulpo_body("wms", PULPO_PASSWORD))
            .await;
        let answer = self
            .post(
                "/api/integrations",
                json!({"name": "Sales orders", "type": "sales_orders",
                       "origin_credential_id": shop, "destination_credential_id": wms,
                       "settings": {"frequency_minutes": 5}}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        (shop, wms, answer.json()["id"].as_i64().expect("id"))
    }
}

/// A `RUNNING` run of `integration` that started at `at`, and the lease to write it with, as a
/// worker would hold it.
pub async fn running_run(
    store: &std::sync::Arc<dyn tentacle_store::Store>,
    integration: i64,
    trigger: tentacle_domain::run::Trigger,
    at: chrono::DateTime<chrono::Utc>,
) -> (tentacle_store::Run, tentacle_store::Lease) {
    let queued = store
        .enqueue_run(&tentacle_store::RunRequest {
            integration_id: integration,
            trigger,
            due_at: at,
            exclusion: None,
        })
        .await
        .expect("enqueue")
        .run;
    let owner = "api-test-worker".to_string();
    let claim = tentacle_store::Claim {
        owner: owner.clone(),
        now: at,
        lease_until: at + chrono::Duration::hours(1),
        run_id: Some(queued.id),
    };
    let run = store
        .claim_run(&claim)
        .await
        .expect("claim")
        .expect("the run is claimed");
    let lease = tentacle_store::Lease {
        run_id: run.id,
        owner,
    };
    (run, lease)
}

/// One past run to seed: how many days before today (UTC) it ended, its status, its records
/// created and failed, and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct PastRun {
    pub days_ago: i64,
    pub status: tentacle_domain::run::RunStatus,
    pub created: u64,
    pub failed: u64,
    pub seconds: i64,
}

/// Seeds ended runs of `integration` through the store, as workers would have left them: each
/// starts around noon UTC of its day (or, today, between midnight and now) and ends `seconds`
/// later (today: by now at the latest).
pub async fn seed_runs(
    store: &std::sync::Arc<dyn tentacle_store::Store>,
    integration: i64,
    runs: &[PastRun],
) -> Vec<tentacle_store::Run> {
    let now = chrono::Utc::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let mut seeded = Vec::new();
    for (n, run) in runs.iter().enumerate() {
        // Distinct starts: scheduled runs are one per due time.
        let offset = chrono::Duration::seconds(n as i64);
        let start = if run.days_ago == 0 {
            // Today, and ended by now, whatever the time of day.
            midnight + (now - midnight) / 2 - chrono::Duration::seconds(run.seconds / 2)
        } else {
            midnight - chrono::Duration::days(run.days_ago) + chrono::Duration::hours(12)
        } + offset;
        let start = if run.days_ago == 0 {
            start.max(midnight)
        } else {
            start
        };
        let (_, lease) = running_run(
            store,
            integration,
            tentacle_domain::run::Trigger::Schedule,
            start,
        )
        .await;
        let counters = tentacle_domain::run::RunCounters {
            fetched: run.created + run.failed,
            created: run.created,
            failed: run.failed,
            ..tentacle_domain::run::RunCounters::default()
        };
        let end = (start + chrono::Duration::seconds(run.seconds)).min(now.max(start));
        seeded.push(
            store
                .finish_run(&lease, run.status, &counters, None, end)
                .await
                .expect("finish the seeded run"),
        );
    }
    seeded
}
