//! The web UI in a real headless Chromium, driven over WebDriver by a few lines of HTTP (no
//! WebDriver crate): the whole operator story from login to a retried order, with a
//! screenshot of each tab under `target/ui-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test prints `SKIPPED: …`, except in CI (`CI` set), where it fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tentacle_domain::run::RunStatus;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::worker::{self, WorkerConfig};
use tentacle_sandbox::catalog::{Catalog, SHARED_WAREHOUSES};
use tentacle_sandbox::pulpo::PulpoConfig;
use tokio::process::{Child, Command};

use crate::helpers::{PULPO_PASSWORD, PastRun, SHOPIFY_TOKEN, TestApp, seed_runs, spawn_app};
use crate::ui::{ADMIN, ADMIN_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(60);

/// One WebDriver session on a chromedriver this test started.
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` when they are not installed.
    async fn start() -> Option<Browser> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !std::path::Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "{} missing (apt-get install chromium chromium-driver)",
                missing.join(" and ")
            );
            assert!(
                std::env::var_os("CI").is_none(),
                "the browser test is mandatory in CI: {why}"
            );
            println!("SKIPPED: web UI browser test: {why}");
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]},
        }}});
        let mut session = None;
        for _ in 0..100 {
            if let Ok(response) = http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                let body: Value = response.json().await.expect("session JSON");
                session = Some(
                    body["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no session: {body}"))
                        .to_string(),
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let session = format!("{base}/session/{}", session.expect("chromedriver answers"));
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        let browser = Browser {
            http,
            session,
            _driver: driver,
            _profile: profile,
            shots,
        };
        // Finding an element waits for it, so a page still loading after a submit is no race.
        browser
            .call(
                reqwest::Method::POST,
                "/timeouts",
                Some(json!({"implicit": 10_000})),
            )
            .await;
        Some(browser)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("WebDriver answers")
            .json()
            .await
            .expect("WebDriver JSON");
        assert!(
            answer["value"].get("error").is_none(),
            "{method} {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the browser is at a URL ending with `suffix` (a submit went through).
    async fn wait_url(&self, suffix: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if url.ends_with(suffix) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached {suffix}; at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().expect("element id").to_string()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Replaces the text of an input.
    async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn select(&self, css: &str, label: &str) {
        let id = self.find(css).await;
        let option = self
            .call(
                reqwest::Method::POST,
                &format!("/element/{id}/element"),
                Some(json!({"using": "xpath", "value": format!("./option[normalize-space(.)='{label}']")})),
            )
            .await;
        let option = option[ELEMENT].as_str().expect("option id").to_string();
        self.call(
            reqwest::Method::POST,
            &format!("/element/{option}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The text of the element, or empty when there is none (yet).
    async fn text_or_empty(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';";
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": [css]})),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until the element's text satisfies `done`, as the page updates itself.
    async fn wait_text(&self, css: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.text_or_empty(css).await;
            if done(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never showed {what}; last: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    async fn screenshot(&self, name: &str) {
        let shot = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().expect("base64"))
            .expect("PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("screenshot saved");
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// A paid Shopify order at the warehouse both systems know, with these SKUs: its name.
async fn create_order(app: &TestApp, skus: &[&str]) -> String {
    let http = reqwest::Client::new();
    let control = format!("{}/sandbox", app.shopify.shop_url());
    let locations: Value = http
        .get(format!("{control}/locations"))
        .send()
        .await
        .expect("locations")
        .json()
        .await
        .expect("JSON");
    let location = locations["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["name"] == SHARED_WAREHOUSES[0])
        .and_then(|l| l["id"].as_u64())
        .unwrap_or_else(|| panic!("location {}: {locations}", SHARED_WAREHOUSES[0]));
    let lines: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"sku": sku, "title": sku, "quantity": 1, "price": "10.00", "requires_shipping": true, "gift_card": false}))
        .collect();
    let order: Value = http
        .post(format!("{control}/orders"))
        .json(&json!({
            "financial_status": "paid", "currency": "EUR", "email": "lucia@example.es",
            "customer": {"id": 9_000_001, "first_name": "Lucía", "last_name": "Fernández", "email": "lucia@example.es"},
            "shipping_address": {"first_name": "Lucía", "last_name": "Fernández", "address1": "Calle Sierpes 12", "city": "Sevilla", "zip": "41001", "country": "Spain", "country_code": "ES"},
            "line_items": lines, "location_id": location,
        }))
        .send()
        .await
        .expect("create order")
        .json()
        .await
        .expect("JSON");
    order["name"]
        .as_str()
        .unwrap_or_else(|| panic!("order name: {order}"))
        .to_string()
}

/// What an operator does in PULPO: create the product the order was waiting for.
async fn create_pulpo_product(app: &TestApp, sku: &str) {
    let http = reqwest::Client::new();
    let base = app.pulpo.base_url();
    let token: Value = http
        .post(format!("{base}/auth"))
        .json(&json!({"username": "sandbox_admin", "password": PULPO_PASSWORD, "scope": "default"}))
        .send()
        .await
        .expect("auth")
        .json()
        .await
        .expect("JSON");
    let created = http
        .post(format!("{base}/inventory/products"))
        .bearer_auth(token["access_token"].as_str().expect("token"))
        .json(&json!({"sku": sku, "name": "Now known"}))
        .send()
        .await
        .expect("create product");
    assert!(created.status().is_success());
}

#[tokio::test]
async fn an_operator_connects_configures_runs_and_retries_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let (stop_workers, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = tokio::spawn(worker::serve(
        app.store.clone(),
        Arc::new(SystemClock),
        WorkerConfig {
            poll: Duration::from_millis(100),
            ..WorkerConfig::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let defaults = PulpoConfig::default();
    let catalog = Catalog::generate(defaults.seed, defaults.unknown_share);
    let known: Vec<&str> = catalog
        .products
        .iter()
        .filter(|p| p.requires_shipping && p.known_to_pulpo)
        .map(|p| p.sku.as_str())
        .take(2)
        .collect();
    let unknown = catalog
        .products
        .iter()
        .find(|p| p.requires_shipping && !p.known_to_pulpo)
        .map(|p| p.sku.clone())
        .expect("an unknown SKU");
    create_order(&app, &[known[0]]).await;
    let broken = create_order(&app, &[known[1], &unknown]).await;
    let base = &app.base;

    // Log in; every other page sends the browser here first.
    browser.goto(&format!("{base}/credentials")).await;
    browser.wait_url("/login").await;
    browser.screenshot("0-login").await;
    browser.fill("#name", ADMIN).await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("button[type=submit]").await;
    // The overview is the landing page.
    browser.wait_url(&format!("{base}/")).await;

    // Both credentials, pointing at the sandboxes, and their connection checks.
    browser
        .goto(&format!("{base}/credentials/new?type=shopify"))
        .await;
    browser.fill("#name", "Shop").await;
    browser.fill("#shop_url", &app.shopify.shop_url()).await;
    browser.fill("#access_token", SHOPIFY_TOKEN).await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_url("/credentials?done=created").await;
    browser
        .goto(&format!("{base}/credentials/new?type=pulpo"))
        .await;
    browser.fill("#name", "Warehouse").await;
    browser.fill("#base_url", &app.pulpo.base_url()).await;
    browser.fill("#username", "sandbox_admin").await;
    browser.fill("#password", PULPO_PASSWORD).await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_url("/credentials?done=created").await;
    for credential in app.store.credentials().await.expect("credentials") {
        browser
            .click(&format!(
                "#credential-{} form[action$='/check'] button",
                credential.id
            ))
            .await;
        let verdict = browser.text(&format!("#verdict-{}", credential.id)).await;
        assert!(
            verdict.contains("Connection OK"),
            "{}: {verdict}",
            credential.name
        );
    }
    browser.screenshot("1-credentials").await;
    let page = browser.text("main").await;
    assert!(!page.contains(SHOPIFY_TOKEN) && !page.contains(PULPO_PASSWORD));

    // A sales orders configuration with a bad frequency: the message sits beside the field.
    browser.goto(&format!("{base}/integrations")).await;
    browser.click("a.button.plus").await;
    browser.fill("#name", "Sales orders").await;
    browser.select("#origin", "Shop").await;
    browser.select("#destination", "Warehouse").await;
    browser.fill("#frequency_minutes", "0").await;
    browser.click("form.form button[type=submit]").await;
    let message = browser.text("#frequency_minutes-error").await;
    assert!(
        message.contains("frequency must be between 1 and 60 minutes"),
        "{message}"
    );
    browser.screenshot("2-integration-form-error").await;
    browser.fill("#frequency_minutes", "5").await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_url("/integrations?done=created").await;
    browser.screenshot("2-integrations").await;
    let integration = app
        .store
        .integration_by_name("Sales orders")
        .await
        .expect("store")
        .expect("saved");

    // A stock configuration: choosing the type brings its own form, generated from its
    // declared settings, with the credential kinds the other way round.
    browser.click("a.button.plus").await;
    browser.select("#type", "Stock (PULPO → Shopify)").await;
    browser.wait_url("type=stock").await;
    let form = browser.text("form.form").await;
    assert!(form.contains("Safety stock (units)"), "{form}");
    browser.fill("#name", "Stock").await;
    browser.select("#origin", "Warehouse").await;
    browser.select("#destination", "Shop").await;
    browser.fill("#safety_stock", "2").await;
    browser.screenshot("2-stock-form").await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_url("/integrations?done=created").await;
    let stock = app
        .store
        .integration_by_name("Stock")
        .await
        .expect("store")
        .expect("saved");
    assert_eq!(stock.kind, "stock");
    assert_eq!(stock.settings["safety_stock"], 2);

    // Run it; the controls row follows the run to FINISHED PARTIALLY.
    browser.goto(&format!("{base}/controls")).await;
    browser.click(&format!("#run-{}", integration.id)).await;
    let row = format!("#controls-{} .last-status", integration.id);
    browser
        .wait_text(&row, "FINISHED PARTIALLY", |t| {
            t.contains("FINISHED PARTIALLY")
        })
        .await;
    browser.screenshot("3-controls").await;

    // The run page names the unknown SKU.
    browser.click(&format!("{row} a")).await;
    browser.fill("#q", &unknown).await;
    browser.click("form.filters button[type=submit]").await;
    browser.wait_url(&format!("&q={unknown}")).await;
    let log = browser.text("table.log").await;
    assert!(
        log.contains(&format!("SKU {unknown} not found in PULPO")),
        "{log}"
    );
    browser.screenshot("4-run").await;

    // The order waits in the attention list; after the product exists in PULPO, a retry
    // imports it.
    browser.goto(&format!("{base}/attention")).await;
    let listed = browser.text("table.attention").await;
    assert!(
        listed.contains(&broken) && listed.contains(&unknown),
        "{listed}"
    );
    browser.screenshot("5-attention").await;
    create_pulpo_product(&app, &unknown).await;
    browser
        .click(&format!(
            "tr[data-record-kind='order'][data-record='{broken}'] form[action='/attention/retry'] button"
        ))
        .await;
    let status = browser
        .wait_text("#run-status", "a final status", |t| {
            t.contains("FINISHED") || t.contains("FAILED")
        })
        .await;
    assert!(
        status.contains("FINISHED") && !status.contains("PARTIALLY"),
        "{status}"
    );
    browser.screenshot("6-retry-run").await;
    browser.goto(&format!("{base}/attention")).await;
    assert!(
        browser
            .text("main")
            .await
            .contains("Nothing needs attention")
    );

    // An alert channel: a bad URL is refused beside its field, then a webhook that works, and
    // "Send a test alert" says in words that it arrived.
    let hook = tentacle_sandbox::alert_receivers::WebhookReceiver::start()
        .await
        .expect("webhook receiver");
    browser
        .goto(&format!("{base}/alerts/new?type=webhook"))
        .await;
    browser.fill("#name", "Team chat").await;
    browser.fill("#url", "hooks.example.com/x").await;
    browser.click("form.form button[type=submit]").await;
    let refused = browser.text("#url-error").await;
    assert!(refused.contains("http:// or https://"), "{refused}");
    browser.fill("#url", &hook.url()).await;
    browser.click("form.form button[type=submit]").await;
    browser.wait_url("/alerts?done=created").await;
    let channel = app
        .store
        .alert_channel_by_name("Team chat")
        .await
        .expect("channel")
        .expect("saved");
    browser
        .click(&format!(
            "#alert-{} form[action$='/test'] button",
            channel.id
        ))
        .await;
    let verdict = browser.text(&format!("#verdict-{}", channel.id)).await;
    assert!(verdict.contains("Test alert sent"), "{verdict}");
    assert_eq!(hook.received().len(), 1, "the receiver got the test alert");
    browser.screenshot("8-alerts").await;
    browser.goto(&format!("{base}/alerts/new?type=email")).await;
    browser.screenshot("8-alert-email-form").await;
    browser.goto(&format!("{base}/alerts")).await;
    browser
        .click(&format!(
            "#alert-{} form[action$='/delete'] button",
            channel.id
        ))
        .await;
    browser.wait_url("/alerts?done=deleted").await;
    assert!(browser.text("main").await.contains("No alert channels yet"));

    // Phone width: the controls stay usable.
    browser.resize(390, 844).await;
    browser.goto(&format!("{base}/controls")).await;
    browser.screenshot("7-controls-phone").await;

    // The overview, with 30 days of history behind both configurations (seeded once the
    // workers are stopped, so no scheduled run starts in between).
    let _ = stop_workers.send(());
    workers
        .await
        .expect("workers")
        .expect("workers stop cleanly");
    let history = |shape: fn(i64) -> (RunStatus, u64, u64, i64)| -> Vec<PastRun> {
        (1..30)
            .rev()
            .map(|days_ago| {
                let (status, created, failed, seconds) = shape(days_ago);
                PastRun {
                    days_ago,
                    status,
                    created,
                    failed,
                    seconds,
                }
            })
            .collect()
    };
    seed_runs(
        &app.store,
        integration.id,
        &history(|d| {
            let created = 20 + ((d * 37) % 23) as u64;
            match d {
                4 | 11 => (
                    RunStatus::FinishedPartially,
                    created,
                    3 + (d % 4) as u64,
                    95,
                ),
                _ => (RunStatus::Finished, created, 0, 40 + (d * 13) % 50),
            }
        }),
    )
    .await;
    seed_runs(
        &app.store,
        stock.id,
        &history(|d| match d {
            2 | 9 => (RunStatus::Failed, 0, 0, 8),
            _ => (
                RunStatus::Finished,
                5 + ((d * 11) % 17) as u64,
                0,
                20 + (d * 7) % 15,
            ),
        }),
    )
    .await;
    // Today: a sales orders run that imported two orders, and Stock's last run FAILED: its
    // tile comes first, in red.
    seed_runs(
        &app.store,
        integration.id,
        &[PastRun {
            days_ago: 0,
            status: RunStatus::Finished,
            created: 2,
            failed: 0,
            seconds: 45,
        }],
    )
    .await;
    seed_runs(
        &app.store,
        stock.id,
        &[PastRun {
            days_ago: 0,
            status: RunStatus::Failed,
            created: 0,
            failed: 0,
            seconds: 6,
        }],
    )
    .await;
    browser.resize(1280, 1400).await;
    browser.goto(&format!("{base}/")).await;
    let first = browser.text(".tiles .tile").await;
    assert!(
        first.contains("Stock") && first.contains("Last run FAILED"),
        "{first}"
    );
    let charts = browser
        .find(&format!("#charts-{} svg", integration.id))
        .await;
    assert!(!charts.is_empty());
    browser.screenshot("8-overview").await;
    browser.resize(390, 844).await;
    browser.goto(&format!("{base}/")).await;
    browser.screenshot("9-overview-phone").await;

    browser.quit().await;
}
