//! Injection into logs and terminals, as an attacker would try it: a Shopify order named with
//! ANSI and OSC escapes, a login name with a newline that forges a "Logged in." line, a
//! credential name with an escape. None may reach the terminal or the server log raw.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tentacle");
/// Retitles the terminal (OSC 0), rings the bell, clears the screen (CSI 2J).
const HOSTILE: &str = "#9\u{1b}]0;owned\u{7}\u{1b}[2J";

fn tentacle(db: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(db)
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_raw_controls(what: &str, output: &str) {
    let raw: Vec<char> = output
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n'))
        .collect();
    assert!(raw.is_empty(), "{what} prints {raw:?} raw:\n{output:?}");
}

#[tokio::test]
async fn a_hostile_order_name_reaches_run_and_logs_output_escaped() {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders: 0,
        ..ShopifyConfig::default()
    })
    .await
    .expect("shopify");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        ..PulpoConfig::default()
    })
    .await
    .expect("pulpo");
    let sku = tentacle_sandbox::catalog::Catalog::generate(
        ShopifyConfig::default().seed,
        tentacle_sandbox::catalog::DEFAULT_UNKNOWN_SHARE,
    )
    .products
    .into_iter()
    .find(|p| p.requires_shipping && !p.is_gift_card)
    .expect("a shippable product")
    .sku;
    let created = reqwest::Client::new()
        .post(format!("{}/sandbox/orders", shopify.shop_url()))
        .json(
            &json!({"order": {"name": HOSTILE, "financial_status": "paid",
                                "line_items": [{"sku": sku, "quantity": 1}]}}),
        )
        .send()
        .await
        .expect("order created");
    assert!(created.status().is_success(), "{}", created.status());
    // A run reads up to the second before it starts (`updated_at:<'…'`, whole seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let file = dir.path().join("tentacle.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[credentials]]
name = "shop"
type = "shopify"
shop_url = "{}"
access_token = "shpat_sandbox"

[[credentials]]
name = "wms"
type = "pulpo"
base_url = "{}"
username = "sandbox_admin"
password = "sandbox"

[[integrations]]
name = "Sales orders"
type = "sales_orders"
origin = "shop"
destination = "wms"
[integrations.settings]
fallback_customer_id = 1
"#,
            shopify.shop_url(),
            pulpo.base_url()
        ),
    )
    .expect("write");
    let applied = tentacle(&db)
        .args(["apply", "-f", file.to_str().expect("path")])
        .output()
        .await
        .expect("apply");
    assert!(applied.status.success(), "{}", text(&applied.stderr));

    let run = tentacle(&db)
        .args(["run", "Sales orders"])
        .output()
        .await
        .expect("run");
    let printed = text(&run.stdout);
    assert!(
        printed.contains("#9\\u{1b}]0;owned\\u{7}\\u{1b}[2J"),
        "{printed}"
    );
    assert_no_raw_controls("tentacle run", &printed);
    assert_no_raw_controls("tentacle run's stderr", &text(&run.stderr));
    let summary: Value = printed
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("a JSON summary");

    let logs = tentacle(&db)
        .args(["logs", &summary["run_id"].to_string()])
        .output()
        .await
        .expect("logs");
    let listed = text(&logs.stdout);
    assert!(listed.contains("\\u{1b}]0;owned"), "{listed}");
    assert_no_raw_controls("tentacle logs", &listed);
    // JSON output keeps the name exactly, as JSON escapes.
    let json_logs = tentacle(&db)
        .args(["logs", &summary["run_id"].to_string(), "--json"])
        .output()
        .await
        .expect("logs --json");
    let entries: Vec<Value> = text(&json_logs.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(
        entries.iter().any(|e| e["record"] == HOSTILE),
        "{entries:?}"
    );
    assert_no_raw_controls("tentacle logs --json", &text(&json_logs.stdout));
}

#[tokio::test]
async fn a_login_name_cannot_forge_a_server_log_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let mut user = tentacle(&db)
        .args(["user", "create", "admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("user create");
    user.stdin
        .take()
        .expect("stdin")
        .write_all(b"correct-horse-battery\n")
        .await
        .expect("password");
    assert!(user.wait().await.expect("user create").success());
    let token = tentacle(&db)
        .args(["token", "create", "attacker"])
        .output()
        .await
        .expect("token");
    let token = text(&token.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("tnt_"))
        .expect("a token")
        .to_string();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("address")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut serve = tentacle(&db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = loop {
        match http.get(format!("{base}/login")).send().await {
            Ok(answer) => break answer,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .find(|c| c.starts_with("tentacle_login_csrf="))
        .expect("login cookie");
    let csrf = cookie
        .trim_start_matches("tentacle_login_csrf=")
        .to_string();
    let forged =
        "x\n2026-12-04T01:00:00.000000Z  INFO tentacle_web::ui::session: Logged in. user=\"admin\"";
    let refused = http
        .post(format!("{base}/login"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", forged),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let credential = http
        .post(format!("{base}/api/credentials"))
        .bearer_auth(&token)
        .json(&json!({"name": "shop\u{1b}[2J", "type": "shopify",
                      "config": {"shop_url": "https://example.myshopify.com"},
                      "secrets": {"access_token": "shpat_x"}}))
        .send()
        .await
        .expect("credential");
    // Names refuse control characters outright now (issue 14, item 8): the escape never
    // reaches the database, nor the log.
    assert_eq!(
        credential.status(),
        reqwest::StatusCode::UNPROCESSABLE_ENTITY
    );
    assert!(
        credential
            .text()
            .await
            .expect("body")
            .contains("must not contain control characters")
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    serve.start_kill().expect("stop");
    let output = serve.wait_with_output().await.expect("serve ends");
    let log = text(&output.stderr);
    assert!(log.contains("Login refused"), "{log}");
    for line in log.lines().filter(|l| l.contains("Logged in.")) {
        assert!(
            line.contains("Login refused"),
            "a forged line in the server log: {line:?}\n{log}"
        );
    }
    assert_no_raw_controls("the server log", &log);
}
