//! Alerts as an operator gets them: the real binary provisioned with `[[alerts]]`, runs that
//! fail against the PULPO sandbox (a wrong password), a real SMTP server (`aiosmtpd`) and a
//! local webhook receiver. `tentacle run` delivers its run's alert before it exits; a `tentacle
//! worker` delivers what its runs queued and reports a stale configuration; a configuration
//! failing run after run sends one alert and one recovered notice.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::Row;
use tentacle_sandbox::alert_receivers::{SmtpReceiver, WebhookReceiver};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tentacle");
/// Distinctive, so a search of every output finds it only where it leaked.
const SMTP_PASSWORD: &str = "smtp-secret-Mk3v";

async fn tentacle(db: &str, args: &[&str], pulpo_password: &str) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("PULPO_PASSWORD", pulpo_password)
        .env("SMTP_PASSWORD", SMTP_PASSWORD)
        .output()
        .await
        .expect("tentacle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn sandboxes() -> (ShopifySandbox, PulpoSandbox) {
    let local = "127.0.0.1:0".parse().expect("address");
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        orders: 3,
        seed: 3,
        ..ShopifyConfig::default()
    })
    .await
    .expect("shopify");
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        seed: 3,
        unknown_share: 0.0,
        ..PulpoConfig::default()
    })
    .await
    .expect("pulpo");
    (shopify, pulpo)
}

fn config(shopify: &ShopifySandbox, pulpo: &PulpoSandbox, alerts: &str) -> String {
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
password = "${{PULPO_PASSWORD}}"

[[integrations]]
name = "Sales orders"
type = "sales_orders"
origin = "shop"
destination = "wms"
[integrations.settings]
frequency_minutes = 1
fallback_customer_id = 1
initial_import_days = 30
{alerts}"#,
        shopify.shop_url(),
        pulpo.base_url()
    )
}

fn email_alert(smtp: &SmtpReceiver) -> String {
    format!(
        r#"
[[alerts]]
name = "Ops mail"
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {}
starttls = false
username = "tentacle"
password = "${{SMTP_PASSWORD}}"
from = "tentacle@example.com"
to = ["ops@example.com"]
integrations = ["Sales orders"]
"#,
        smtp.port()
    )
}

fn webhook_alert(hook: &WebhookReceiver, stale_after_hours: u32) -> String {
    format!(
        r#"
[[alerts]]
name = "Chat"
type = "webhook"
url = "{}"
stale_after_hours = {stale_after_hours}
"#,
        hook.url()
    )
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write file");
    path.display().to_string()
}

#[tokio::test]
async fn tentacle_run_delivers_one_alert_per_incident_before_it_exits_and_the_recovered_notice() {
    let Some(smtp) = SmtpReceiver::start("tentacle run alerts", "tentacle", SMTP_PASSWORD).await
    else {
        return;
    };
    let hook = WebhookReceiver::start().await.expect("webhook receiver");
    let (shopify, pulpo) = sandboxes().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let file = write(
        dir.path(),
        "tentacle.toml",
        &config(
            &shopify,
            &pulpo,
            &(email_alert(&smtp) + &webhook_alert(&hook, 24)),
        ),
    );
    let mut outputs = Vec::new();
    let applied = tentacle(&db, &["apply", "-f", &file], "wrong-password").await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(text(&applied.stdout).contains("alert \"Ops mail\" (email): created"));
    outputs.push(applied);

    // The first failure: both channels have it when the process has exited.
    let failed = tentacle(&db, &["run", "Sales orders"], "wrong-password").await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    let mail = smtp.received();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].subject, "tentacle: Sales orders FAILED");
    assert_eq!(mail[0].to, ["ops@example.com"]);
    assert_eq!(mail[0].login.as_deref(), Some("tentacle"));
    assert!(
        mail[0].body.contains("PULPO rejected the credentials"),
        "{}",
        mail[0].body
    );
    assert!(mail[0].body.contains("tentacle logs"), "{}", mail[0].body);
    assert!(
        mail[0].message_id.starts_with("<tentacle-alert-"),
        "{}",
        mail[0].message_id
    );
    let posted = hook.received();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0]["incident"], "failed");
    assert_eq!(posted[0]["event"], "opened");
    assert_eq!(posted[0]["integration"], "Sales orders");
    assert!(
        posted[0]["text"]
            .as_str()
            .expect("text")
            .starts_with("tentacle: Sales orders FAILED")
    );
    let run_id = posted[0]["run_id"].as_i64().expect("run id");
    outputs.push(failed);

    // Failing again and again: the incident is open, nobody is told twice.
    for _ in 0..3 {
        let again = tentacle(&db, &["run", "Sales orders"], "wrong-password").await;
        assert_eq!(again.status.code(), Some(1));
        outputs.push(again);
    }
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(hook.received().len(), 1);

    // The password is fixed: the next run finishes and both channels hear it recovered.
    let fixed = tentacle(&db, &["apply", "-f", &file], "sandbox").await;
    assert!(fixed.status.success(), "{}", text(&fixed.stderr));
    let recovered = tentacle(&db, &["run", "Sales orders"], "sandbox").await;
    assert_eq!(
        recovered.status.code(),
        Some(0),
        "{}",
        text(&recovered.stderr)
    );
    let mail = smtp.received();
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert_eq!(mail[1].subject, "tentacle: Sales orders recovered");
    assert!(mail[1].body.contains("ended FINISHED"), "{}", mail[1].body);
    let posted = hook.received();
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[1]["event"], "recovered");
    assert!(posted[1]["run_id"].as_i64().expect("run id") > run_id);
    outputs.extend([fixed, recovered]);

    for output in &outputs {
        let all = text(&output.stdout) + &text(&output.stderr);
        assert!(
            !all.contains(SMTP_PASSWORD),
            "the SMTP password leaked: {all}"
        );
    }
}

async fn sqlite(db: &str) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(db).await.expect("raw pool")
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_worker_delivers_one_alert_for_many_failing_runs_and_reports_a_stale_configuration() {
    let hook = WebhookReceiver::start().await.expect("webhook receiver");
    let (shopify, pulpo) = sandboxes().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let file = write(
        dir.path(),
        "tentacle.toml",
        &config(&shopify, &pulpo, &webhook_alert(&hook, 1)),
    );
    let applied = tentacle(&db, &["apply", "-f", &file], "wrong-password").await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    // The configuration was set up two hours ago and never ran successfully since.
    let pool = sqlite(&db).await;
    sqlx::query("UPDATE integrations SET updated_at = ?1")
        .bind(chrono::Utc::now() - chrono::TimeDelta::hours(2))
        .execute(&pool)
        .await
        .expect("age the configuration");

    let _worker = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .arg("worker")
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tentacle worker starts");
    // Run after run fails, queued as an operator's "run now" (the minute schedule adds its own).
    let failed = async || -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM runs WHERE status = 'FAILED'")
            .fetch_one(&pool)
            .await
            .and_then(|r| r.try_get("n"))
            .expect("count")
    };
    for _ in 0..5 {
        let before = failed().await;
        let queued = tentacle(&db, &["run", "Sales orders", "--queue"], "wrong-password").await;
        assert!(queued.status.success(), "{}", text(&queued.stderr));
        wait_for("the queued run to fail", async || failed().await > before).await;
    }
    let failed_runs = failed().await;
    assert!(failed_runs >= 5, "{failed_runs} runs failed");
    // Everything the runs' ends and the stale check queued is delivered by the worker, once.
    wait_for("the outbox to be delivered", async || {
        sqlx::query("SELECT COUNT(*) AS n FROM alert_outbox WHERE delivered_at IS NULL")
            .fetch_one(&pool)
            .await
            .and_then(|r| r.try_get::<i64, _>("n"))
            .is_ok_and(|n| n == 0)
            && hook.received().len() >= 2
    })
    .await;
    let mut posted: Vec<(String, String)> = hook
        .received()
        .iter()
        .map(|p| {
            (
                p["incident"].as_str().unwrap_or_default().to_string(),
                p["event"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    posted.sort();
    assert_eq!(
        posted,
        [
            ("failed".to_string(), "opened".to_string()),
            ("stale".to_string(), "opened".to_string())
        ],
        "{:?}",
        hook.received()
    );
    let stale = hook
        .received()
        .into_iter()
        .find(|p| p["incident"] == "stale")
        .expect("stale");
    assert!(
        stale["text"]
            .as_str()
            .expect("text")
            .contains("has not run successfully for 1 hours"),
        "{stale}"
    );
}
