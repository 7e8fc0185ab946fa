//! The `tentacle` command as an operator uses it: the real binary, both sandboxes over real
//! HTTP, a SQLite file.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tentacle");

async fn tentacle(db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.expect("tentacle runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn config(shop_url: &str, pulpo_url: &str, extra: &str) -> String {
    format!(
        r#"
[[credentials]]
name = "shop"
type = "shopify"
shop_url = "{shop_url}"
access_token = "${{SHOPIFY_TOKEN}}"

[[credentials]]
name = "wms"
type = "pulpo"
base_url = "{pulpo_url}"
username = "sandbox_admin"
password = "sandbox"

[[integrations]]
name = "Sales orders"
type = "sales_orders"
origin = "shop"
destination = "wms"
[integrations.settings]
fallback_customer_id = 1
initial_import_days = 30
{extra}"#
    )
}

struct Sandboxes {
    shopify: ShopifySandbox,
    pulpo: PulpoSandbox,
}

async fn sandboxes(orders: usize) -> Sandboxes {
    sandboxes_with(orders, 0).await
}

/// Sandboxes whose PULPO answers every request after `latency_ms`, so runs last.
async fn sandboxes_with(orders: usize, latency_ms: u64) -> Sandboxes {
    let local = "127.0.0.1:0".parse().expect("address");
    Sandboxes {
        shopify: ShopifySandbox::start(ShopifyConfig {
            listen: local,
            orders,
            seed: 3,
            ..ShopifyConfig::default()
        })
        .await
        .expect("shopify"),
        pulpo: PulpoSandbox::start(PulpoConfig {
            listen: local,
            seed: 3,
            unknown_share: 0.1,
            latency_ms,
            ..PulpoConfig::default()
        })
        .await
        .expect("pulpo"),
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write file");
    path.display().to_string()
}

#[tokio::test]
async fn apply_is_idempotent_and_a_bad_file_changes_nothing() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let good = write(
        dir.path(),
        "tentacle.toml",
        &config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), ""),
    );
    let env = [("SHOPIFY_TOKEN", "shpat_sandbox")];

    let first = tentacle(&db, &["apply", "-f", &good], &env).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    assert!(
        out.contains("credential \"shop\" (shopify): created")
            && out.contains("integration \"Sales orders\" (sales_orders): created"),
        "{out}"
    );
    let again = tentacle(&db, &["apply", "-f", &good], &env).await;
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("integration \"Sales orders\" (sales_orders): updated"));
    assert!(
        !text(&first.stdout).contains("shpat_sandbox")
            && !text(&first.stderr).contains("shpat_sandbox"),
        "secrets are never printed"
    );
    let key_file = dir.path().join("tentacle.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file)
                .expect("key file beside the database")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let database = std::fs::read(dir.path().join("tentacle.db")).expect("database file");
    assert!(
        !database.windows(13).any(|w| w == b"shpat_sandbox"),
        "the token is encrypted at rest"
    );

    // One bad setting, one missing variable, and a new integration: the file is refused whole.
    let bad_config = config(
        &boxes.shopify.shop_url(),
        &boxes.pulpo.base_url(),
        "frequency_minutes = 0\n",
    ) + "\n[[integrations]]\nname = \"Second\"\ntype = \"sales_orders\"\norigin = \"shop\"\ndestination = \"wms\"\n";
    let bad = write(dir.path(), "bad.toml", &bad_config);
    let refused = tentacle(&db, &["apply", "-f", &bad], &[]).await;
    assert_eq!(refused.status.code(), Some(1));
    let errors = text(&refused.stderr);
    assert!(errors.contains("nothing was saved"), "{errors}");
    assert!(
        errors.contains(
            "line 6: credentials[0].access_token: environment variable SHOPIFY_TOKEN is not set"
        ),
        "{errors}"
    );
    assert!(
        errors.contains(
            "integrations[0].settings.frequency_minutes: frequency must be between 1 and 60 minutes"
        ),
        "{errors}"
    );
    let missing = tentacle(&db, &["run", "Second"], &[]).await;
    assert!(
        text(&missing.stderr).contains("no integration configuration named \"Second\""),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn run_prints_the_log_and_a_summary_and_exits_by_status() {
    let boxes = sandboxes(40).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let file = write(
        dir.path(),
        "tentacle.toml",
        &config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), ""),
    );
    assert!(
        tentacle(
            &db,
            &["apply", "-f", &file],
            &[("SHOPIFY_TOKEN", "shpat_sandbox")]
        )
        .await
        .status
        .success()
    );

    let run = tentacle(&db, &["run", "Sales orders"], &[]).await;
    let out = text(&run.stdout);
    let summary: Value = serde_json::from_str(out.lines().last().expect("a summary line"))
        .expect("the last line is JSON");
    for field in [
        "run_id",
        "integration",
        "status",
        "fetched",
        "created",
        "updated",
        "cancelled",
        "skipped",
        "failed",
        "conflicts",
        "duration_ms",
    ] {
        assert!(
            summary.get(field).is_some(),
            "summary lacks {field}: {summary}"
        );
    }
    assert_eq!(summary["fetched"], 40);
    let expected_code = match summary["status"].as_str() {
        Some("FINISHED") => 0,
        Some("FINISHED_PARTIALLY") => 2,
        other => panic!("unexpected status {other:?}: {out}"),
    };
    assert_eq!(run.status.code(), Some(expected_code), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("INFO") && l.contains("imported into PULPO as")),
        "entries are printed as they happen:\n{out}"
    );
    assert_eq!(
        summary["created"].as_u64(),
        Some(boxes.pulpo.state.sales_orders().len() as u64)
    );

    let run_id = summary["run_id"].to_string();
    let runs = text(&tentacle(&db, &["runs", "Sales orders"], &[]).await.stdout);
    assert!(
        runs.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with(&run_id) && l.contains("manual")),
        "{runs}"
    );
    let logs = tentacle(&db, &["logs", &run_id, "--level", "WARNING", "--json"], &[]).await;
    assert!(logs.status.success());
    for line in text(&logs.stdout).lines() {
        let entry: Value = serde_json::from_str(line).expect("JSON lines");
        assert!(
            matches!(entry["level"].as_str(), Some("WARNING" | "ERROR")),
            "{entry}"
        );
    }

    let again = tentacle(&db, &["run", "Sales orders"], &[]).await;
    let second: Value =
        serde_json::from_str(text(&again.stdout).lines().last().expect("summary")).expect("JSON");
    assert_eq!(second["created"], 0, "nothing is imported twice");

    // PULPO gone: the run fails, says why, and exits 1.
    boxes.pulpo.stop().await;
    let failed = tentacle(&db, &["run", "Sales orders"], &[]).await;
    let out = text(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{out}");
    assert!(out.contains("\"status\":\"FAILED\""), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ERROR") && l.contains("PULPO")),
        "{out}"
    );
}

/// A products configuration sending the `shop` catalog to `wms`, after [`config`]'s.
const PRODUCTS: &str = r#"
[[integrations]]
name = "Products"
type = "products"
origin = "shop"
destination = "wms"
[integrations.settings]
price_source = "inventory_item"
default_supplier = 2
"#;

#[tokio::test]
async fn apply_and_run_a_products_configuration_and_refuse_a_bad_price_source() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let env = [("SHOPIFY_TOKEN", "shpat_sandbox")];
    let good = write(
        dir.path(),
        "tentacle.toml",
        &(config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "") + PRODUCTS),
    );
    let applied = tentacle(&db, &["apply", "-f", &good], &env).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(
        text(&applied.stdout).contains("integration \"Products\" (products): created"),
        "{}",
        text(&applied.stdout)
    );
    let run = tentacle(&db, &["run", "Products"], &[]).await;
    let out = text(&run.stdout);
    assert!(run.status.success(), "{out}\n{}", text(&run.stderr));
    let summary: Value = serde_json::from_str(out.lines().last().expect("summary")).expect("JSON");
    assert_eq!(summary["status"], "FINISHED", "{out}");
    // Every shippable catalog variant is one PULPO product with the supplier and the
    // variant's cost per item as its price.
    let (variants, shippable): (usize, Vec<_>) = {
        let shop = boxes.shopify.state.shop();
        let shippable = shop
            .variants
            .iter()
            .filter(|v| v.requires_shipping && !v.is_gift_card)
            .map(|v| (v.sku.clone().expect("catalog SKU"), v.unit_cost))
            .collect();
        (shop.variants.len(), shippable)
    };
    assert_eq!(summary["fetched"].as_u64(), Some(variants as u64));
    for (sku, unit_cost) in &shippable {
        let product = boxes.pulpo.state.product_by_sku(sku).expect("in PULPO");
        let cost = unit_cost.map(|c| c.to_string().parse::<f64>().expect("cost"));
        assert_eq!(
            (product.cost_price, product.third_party_id),
            (cost, Some(2)),
            "{sku}"
        );
    }

    let bad_text = config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "")
        + &PRODUCTS
            .replace("name = \"Products\"", "name = \"Products 2\"")
            .replace("\"inventory_item\"", "\"retail\"");
    let bad = write(dir.path(), "bad.toml", &bad_text);
    let refused = tentacle(&db, &["apply", "-f", &bad], &env).await;
    assert_eq!(refused.status.code(), Some(1));
    let errors = text(&refused.stderr);
    assert!(
        errors.contains("price_source") && errors.contains("inventory_item"),
        "{errors}"
    );
    let listed = text(&tentacle(&db, &["runs", "Products 2"], &[]).await.stderr);
    assert!(!listed.is_empty(), "the bad configuration was not saved");
}

/// A stock configuration reading the `wms` credential into the `shop` one, after [`config`]'s.
const STOCK: &str = r#"
[[integrations]]
name = "Stock"
type = "stock"
origin = "wms"
destination = "shop"
[integrations.settings]
locations = ["Madrid Central"]
"#;

#[tokio::test]
async fn apply_saves_a_stock_configuration_and_refuses_a_bad_one_naming_every_problem() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let env = [("SHOPIFY_TOKEN", "shpat_sandbox")];
    let good = write(
        dir.path(),
        "tentacle.toml",
        &(config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "") + STOCK),
    );
    let applied = tentacle(&db, &["apply", "-f", &good], &env).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(
        text(&applied.stdout).contains("integration \"Stock\" (stock): created"),
        "{}",
        text(&applied.stdout)
    );

    // A Shopify credential as the origin, a safety stock below 0 and an unknown key, all in
    // one configuration: each is named.
    let negative = STOCK
        .replace("name = \"Stock\"", "name = \"Stock 2\"")
        .replace("origin = \"wms\"", "origin = \"shop\"")
        .replace(
            "locations = [\"Madrid Central\"]",
            "safety_stock = -1\nsafty_stock = 2",
        );
    let bad_text = config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "") + &negative;
    let bad = write(dir.path(), "bad.toml", &bad_text);
    let refused = tentacle(&db, &["apply", "-f", &bad], &env).await;
    assert_eq!(refused.status.code(), Some(1));
    let errors = text(&refused.stderr);
    // The line of the first `needle` after the configuration named `name`.
    let line_of = |name: &str, needle: &str| {
        let lines: Vec<&str> = bad_text.lines().collect();
        let from = lines
            .iter()
            .position(|l| *l == format!("name = \"{name}\""))
            .expect(name);
        from + 1
            + lines[from..]
                .iter()
                .position(|l| l.starts_with(needle))
                .expect(needle)
    };
    for expected in [
        format!(
            "line {}: integrations[1].origin: credential \"shop\" is shopify, the origin must be a pulpo credential",
            line_of("Stock 2", "origin")
        ),
        format!(
            "line {}: integrations[1].settings.safety_stock: safety stock must be between 0 and 1000000 units",
            line_of("Stock 2", "safety_stock")
        ),
        format!(
            "line {}: integrations[1].settings.safty_stock: is not a stock setting",
            line_of("Stock 2", "safty_stock")
        ),
    ] {
        assert!(
            errors.contains(&expected),
            "missing {expected:?} in\n{errors}"
        );
    }
    let runs = tentacle(&db, &["run", "Stock 2"], &[]).await;
    assert!(
        text(&runs.stderr).contains("no integration configuration named \"Stock 2\""),
        "nothing was saved: {}",
        text(&runs.stderr)
    );
}

#[tokio::test]
async fn a_stock_run_sets_shopify_to_pulpos_available_stock() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let file = write(
        dir.path(),
        "tentacle.toml",
        &(config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "") + STOCK),
    );
    let applied = tentacle(
        &db,
        &["apply", "-f", &file],
        &[("SHOPIFY_TOKEN", "shpat_sandbox")],
    )
    .await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));

    // A SKU PULPO has 17 of in Madrid that Shopify shows 3 of there, and a catalog SKU
    // whose Shopify count someone changed by hand.
    let madrid = "Madrid Central";
    let location = boxes
        .shopify
        .state
        .shop()
        .locations
        .iter()
        .find(|l| l.name == madrid)
        .map(|l| l.id)
        .expect("Madrid location");
    let warehouse = boxes
        .pulpo
        .state
        .store()
        .warehouses
        .iter()
        .find(|w| w.name == madrid)
        .map(|w| w.id)
        .expect("Madrid warehouse");
    let http = reqwest::Client::new();
    let send = async |request: reqwest::RequestBuilder| -> Value {
        let answer = request.send().await.expect("control call");
        assert!(answer.status().is_success(), "{}", answer.status());
        answer.json().await.unwrap_or(Value::Null)
    };
    let product = send(
        http.post(format!("{}/inventory/products", boxes.pulpo.control_url()))
            .json(&serde_json::json!({"count": 1, "sku_prefix": "CLI-",
                                      "warehouse_id": warehouse, "available_quantity": 5})),
    )
    .await["first_id"]
        .as_i64()
        .expect("product id");
    send(
        http.put(format!(
            "{}/inventory/products/{product}/stock",
            boxes.pulpo.control_url()
        ))
        .json(&serde_json::json!({"warehouse_id": warehouse, "available_quantity": 17})),
    )
    .await;
    let item = send(
        http.post(format!(
            "{}/sandbox/inventory_items",
            boxes.shopify.shop_url()
        ))
        .json(&serde_json::json!({"sku": "CLI-000001",
                                  "levels": [{"location_id": location, "available": 3}]})),
    )
    .await["inventory_item_id"]
        .as_u64()
        .expect("item id");
    let (catalog_item, catalog_sku) = {
        let shop = boxes.shopify.state.shop();
        shop.variants
            .iter()
            .find(|v| {
                v.tracked
                    && shop.is_active_level(v.inventory_item_id, location)
                    && v.sku
                        .as_deref()
                        .is_some_and(|sku| boxes.pulpo.state.product_by_sku(sku).is_some())
            })
            .map(|v| (v.inventory_item_id, v.sku.clone().expect("a SKU")))
            .expect("a catalog item in both sandboxes")
    };
    send(
        http.put(format!(
            "{}/sandbox/inventory_levels/{catalog_item}/{location}",
            boxes.shopify.shop_url()
        ))
        .json(&serde_json::json!({"available": 999})),
    )
    .await;

    let run = tentacle(&db, &["run", "Stock"], &[]).await;
    let out = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{out}\n{}", text(&run.stderr));
    let summary: Value = serde_json::from_str(out.lines().last().expect("a summary line"))
        .expect("the last line is JSON");
    assert_eq!(summary["status"], "FINISHED", "{out}");
    assert_eq!(summary["integration"], "Stock", "{out}");

    // The sandboxes' own records, not what tentacle printed.
    let shopify_available = |item: u64| {
        boxes
            .shopify
            .state
            .shop()
            .inventory
            .get(&(item, location))
            .map(|q| q.available)
    };
    let pulpo_available = |sku: &str| {
        let store = boxes.pulpo.state.store();
        let product = store.product_by_sku(sku).expect("a PULPO product").id;
        store
            .availability(Some(&[product]), |_| true, |w| w == warehouse)
            .first()
            .map_or(0, |a| a.available_quantity)
    };
    assert_eq!(pulpo_available("CLI-000001"), 17);
    assert_eq!(shopify_available(item), Some(17), "{out}");
    assert_eq!(
        shopify_available(catalog_item),
        Some(pulpo_available(&catalog_sku).max(0)),
        "{out}"
    );

    let run_id = summary["run_id"].to_string();
    let runs = text(&tentacle(&db, &["runs", "Stock"], &[]).await.stdout);
    assert!(
        runs.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with(&run_id)
                && l.contains("Stock")
                && l.contains("manual")
                && l.contains("FINISHED")),
        "{runs}"
    );
}

#[tokio::test]
async fn demo_runs_the_product_end_to_end() {
    // From the clone's top directory, where `cargo run --release -- demo` is typed.
    let clone = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let demo = Command::new(BIN)
        .args(["demo", "--no-serve", "--orders", "40"])
        .current_dir(&clone)
        .output()
        .await
        .expect("demo runs");
    let out = text(&demo.stdout);
    assert!(demo.status.success(), "{out}\n{}", text(&demo.stderr));
    let summaries: Vec<Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let summary = |name: &str| {
        summaries
            .iter()
            .find(|s| s["integration"] == name)
            .unwrap_or_else(|| panic!("no JSON summary of {name:?}:\n{out}"))
    };
    let orders = summary("Sales orders");
    assert_eq!(orders["fetched"], 40);
    assert!(
        orders["created"].as_u64().is_some_and(|n| n > 0),
        "{orders}"
    );
    // The stock run comes after the sales orders run, and sets what the demo changed.
    let stock = summary("Stock");
    assert_eq!(stock["status"], "FINISHED", "{out}");
    assert!(stock["updated"].as_u64().is_some_and(|n| n > 0), "{stock}");
    assert!(
        stock["run_id"].as_i64() > orders["run_id"].as_i64(),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("INFO") && l.contains("set from")),
        "the stock run's entries are printed:\n{out}"
    );
    // The products run links the catalog to PULPO and makes the SKUs PULPO lacked.
    let products = summary("Products");
    assert_eq!(products["status"], "FINISHED", "{out}");
    assert_eq!(products["fetched"], 200, "the whole catalog: {products}");
    assert!(
        products["created"].as_u64().is_some_and(|n| n > 0),
        "{products}"
    );
    // Every command the demo suggests works as printed, from the same directory, in a shell
    // without tentacle on its PATH.
    let next: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Next"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().split("   ").next().unwrap_or_default())
        .collect();
    assert!(
        next.iter().any(|c| c.ends_with(" runs")) && next.iter().any(|c| c.contains(" logs ")),
        "{out}"
    );
    for command in next {
        let ran = Command::new("sh")
            .args(["-c", command])
            .current_dir(&clone)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .await
            .expect("sh runs");
        assert!(
            ran.status.success() && !ran.stdout.is_empty(),
            "{command:?} as the demo printed it: {}\n{}",
            text(&ran.stdout),
            text(&ran.stderr)
        );
    }
}

#[tokio::test]
async fn sandbox_command_prints_its_urls_and_serves_until_stopped() {
    let mut child = Command::new(BIN)
        .args([
            "sandbox",
            "--shopify-listen",
            "127.0.0.1:0",
            "--pulpo-listen",
            "127.0.0.1:0",
            "--orders",
            "5",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("sandbox starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("prints in time")
    {
        let done = line.starts_with("Serving");
        printed.push(line);
        if done {
            break;
        }
    }
    let url_after = |label: &str| {
        printed
            .iter()
            .find(|l| l.starts_with(label))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
            .expect(label)
    };
    let graphql = url_after("  GraphQL");
    let pulpo = url_after("PULPO sandbox");
    assert!(
        printed.iter().any(|l| l.contains("shpat_sandbox"))
            && printed.iter().any(|l| l.contains("sandbox_admin")),
        "{printed:?}"
    );
    let http = reqwest::Client::new();
    let answer: Value = http
        .post(&graphql)
        .header("X-Shopify-Access-Token", "shpat_sandbox")
        .json(&serde_json::json!({"query": "{ orders(first: 10) { nodes { name } } }"}))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["data"]["orders"]["nodes"].as_array().map(Vec::len),
        Some(5),
        "{answer}"
    );
    let auth = http
        .post(format!("{pulpo}/auth"))
        .json(&serde_json::json!({"username": "sandbox_admin", "password": "sandbox", "scope": "default"}))
        .send()
        .await
        .expect("auth");
    assert!(auth.status().is_success());
    child.kill().await.expect("stopped");
}

/// Both processes and the test share one SQLite file and its key.
const SERVE_KEY: &str = "0303030303030303030303030303030303030303030303030303030303030303";

fn serve(db: &str, extra: &[&str]) -> tokio::process::Child {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(["serve", "--poll-ms", "50", "--lease-seconds", "2"])
        .args(extra)
        .env("TENTACLE_MASTER_KEY", SERVE_KEY)
        .env_remove("TENTACLE_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tentacle serve starts")
}

/// Provisions "Sales orders" without a schedule (runs start by `run --queue` only) and opens the
/// store the serve processes use.
async fn provision(
    boxes: &Sandboxes,
    dir: &Path,
) -> (String, std::sync::Arc<dyn tentacle_store::Store>) {
    let db = format!("sqlite://{}/tentacle.db", dir.display());
    let file = write(
        dir,
        "tentacle.toml",
        &config(
            &boxes.shopify.shop_url(),
            &boxes.pulpo.base_url(),
            "automatic_transfer = false",
        ),
    );
    let applied = tentacle(
        &db,
        &["apply", "-f", &file],
        &[
            ("SHOPIFY_TOKEN", "shpat_sandbox"),
            ("TENTACLE_MASTER_KEY", SERVE_KEY),
        ],
    )
    .await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let store = tentacle_store::SqliteStore::open(
        &db,
        tentacle_store::Cipher::from_hex(SERVE_KEY).expect("key"),
    )
    .await
    .expect("store");
    (db, std::sync::Arc::new(store))
}

async fn queue_run(db: &str) -> i64 {
    let queued = tentacle(
        db,
        &["run", "Sales orders", "--queue"],
        &[("TENTACLE_MASTER_KEY", SERVE_KEY)],
    )
    .await;
    assert!(queued.status.success(), "{}", text(&queued.stderr));
    let answer: Value = serde_json::from_str(text(&queued.stdout).trim()).expect("JSON");
    assert_eq!(answer["status"], "QUEUED");
    answer["run_id"].as_i64().expect("run id")
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..1200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every Shopify order that PULPO has is there once, and each is the one our links point to.
fn assert_pulpo_has_each_order_once(boxes: &Sandboxes, links: i64) {
    let orders = boxes.pulpo.state.sales_orders();
    let mut nums: Vec<&str> = orders.iter().map(|o| o.order_num.as_str()).collect();
    nums.sort_unstable();
    let before = nums.len();
    nums.dedup();
    assert_eq!(
        nums.len(),
        before,
        "a sales order was created twice in PULPO"
    );
    assert_eq!(
        before as i64, links,
        "PULPO orders and tentacle's links differ"
    );
    assert!(before > 0);
}

#[tokio::test]
async fn two_serve_processes_on_one_database_never_run_a_configuration_twice() {
    let boxes = sandboxes_with(30, 5).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, store) = provision(&boxes, dir.path()).await;
    let integration = store
        .integration_by_name("Sales orders")
        .await
        .expect("read")
        .expect("integration");
    let mut first = serve(&db, &["--workers", "2"]);
    let mut second = serve(&db, &["--workers", "2"]);

    let mut queued = Vec::new();
    for _ in 0..4 {
        queued.push(queue_run(&db).await);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let runs = wait_for("every queued run to end", async || {
        let runs = store
            .runs(&tentacle_store::RunFilter {
                integration_id: Some(integration.id),
                ..Default::default()
            })
            .await
            .expect("runs");
        let ended = queued
            .iter()
            .all(|id| runs.iter().any(|r| r.id == *id && r.status.is_final()));
        ended.then_some(runs)
    })
    .await;
    first.start_kill().expect("stop first");
    second.start_kill().expect("stop second");

    let mut spans: Vec<_> = runs
        .iter()
        .map(|r| (r.started_at, r.finished_at.expect("ended")))
        .collect();
    spans.sort();
    // Each process reads its clock before it waits for SQLite's write lock, so a claim can be
    // stamped a moment before the previous run's finish was committed; the database itself
    // allows one running run per configuration. Real overlap would be a whole run's length.
    for pair in spans.windows(2) {
        let overlap_ms = (pair[0].1 - pair[1].0).num_milliseconds();
        assert!(
            overlap_ms <= 250,
            "two runs overlapped by {overlap_ms} ms: {pair:?}"
        );
    }
    let links = store
        .count_order_links(tentacle_store::LinkScope {
            origin_credential_id: integration.origin_credential_id,
            destination_credential_id: integration.destination_credential_id,
        })
        .await
        .expect("links");
    assert_pulpo_has_each_order_once(&boxes, links);
}

#[tokio::test]
async fn a_killed_serve_process_leaves_its_run_to_the_next_one_without_duplicates() {
    let boxes = sandboxes_with(60, 60).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, store) = provision(&boxes, dir.path()).await;
    let integration = store
        .integration_by_name("Sales orders")
        .await
        .expect("read")
        .expect("integration");

    let mut doomed = serve(&db, &[]);
    let run_id = queue_run(&db).await;
    wait_for("the run to import a few orders", async || {
        (boxes.pulpo.state.sales_orders().len() >= 3).then_some(())
    })
    .await;
    doomed.start_kill().expect("kill -9");
    doomed.wait().await.expect("killed");
    let run = store.run(run_id).await.expect("run").expect("exists");
    assert_eq!(run.status.as_str(), "RUNNING", "killed mid-run");

    let mut successor = serve(&db, &[]);
    let run = wait_for("the resumed run to end", async || {
        let run = store.run(run_id).await.expect("run").expect("exists");
        run.status.is_final().then_some(run)
    })
    .await;
    successor.start_kill().expect("stop");
    assert_eq!(run.attempts, 2, "{run:?}");
    assert_ne!(run.status.as_str(), "FAILED", "{run:?}");
    let logs = store
        .logs(run_id, &tentacle_store::LogFilter::default())
        .await
        .expect("logs");
    assert!(
        logs.iter()
            .any(|e| e.message.starts_with("Worker lost; resumed")),
        "{logs:?}"
    );
    let links = store
        .count_order_links(tentacle_store::LinkScope {
            origin_credential_id: integration.origin_credential_id,
            destination_credential_id: integration.destination_credential_id,
        })
        .await
        .expect("links");
    assert_pulpo_has_each_order_once(&boxes, links);
    // Every eligible order made it: a second run finds nothing left to create.
    let mut last = serve(&db, &[]);
    let again = queue_run(&db).await;
    let again = wait_for("a second run", async || {
        let run = store.run(again).await.expect("run").expect("exists");
        run.status.is_final().then_some(run)
    })
    .await;
    last.start_kill().expect("stop");
    assert_eq!(again.counters.created, 0, "{again:?}");
    assert_eq!(boxes.pulpo.state.sales_orders().len() as i64, links);
}

#[tokio::test]
async fn sigterm_releases_a_running_run_that_the_next_start_resumes() {
    // Pages of bulk creates are quick: enough orders and latency that the run is still at work
    // when the signal comes.
    let boxes = sandboxes_with(300, 150).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, store) = provision(&boxes, dir.path()).await;

    let stopping = serve(&db, &["--grace-seconds", "0"]);
    let run_id = queue_run(&db).await;
    wait_for("the run to import a few orders", async || {
        (boxes.pulpo.state.sales_orders().len() >= 2).then_some(())
    })
    .await;
    let pid = stopping.id().expect("pid");
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .expect("kill");
    assert!(term.success());
    let output = stopping.wait_with_output().await.expect("stopped");
    assert!(output.status.success());
    let run = store.run(run_id).await.expect("run").expect("exists");
    assert_eq!(run.status.as_str(), "QUEUED", "released for the next start");

    let mut next = serve(&db, &[]);
    let run = wait_for("the resumed run to end", async || {
        let run = store.run(run_id).await.expect("run").expect("exists");
        run.status.is_final().then_some(run)
    })
    .await;
    next.start_kill().expect("stop");
    assert_eq!(run.attempts, 2);
    let orders = boxes.pulpo.state.sales_orders();
    let mut nums: Vec<&str> = orders.iter().map(|o| o.order_num.as_str()).collect();
    let before = nums.len();
    nums.sort_unstable();
    nums.dedup();
    assert_eq!(nums.len(), before, "no order twice");
}

#[tokio::test]
async fn token_create_prints_a_token_that_serve_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let created = tentacle(&db, &["token", "create", "ci"], &[]).await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_string();
    assert!(token.starts_with("tnt_") && token.len() > 60, "{token}");
    let again = tentacle(&db, &["token", "create", "ci"], &[]).await;
    assert!(!again.status.success(), "names are unique");

    let mut child = Command::new(BIN)
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        .env_remove("TENTACLE_MASTER_KEY")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("reads stderr") {
            if line.contains("listening on") {
                return line;
            }
        }
        panic!("serve ended without saying where it listens");
    })
    .await
    .expect("prints in time");
    let base = line.split_whitespace().last().expect("the URL").to_string();
    let http = reqwest::Client::new();
    let refused = http
        .get(format!("{base}/api/credentials"))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 401);
    let listed = http
        .get(format!("{base}/api/credentials"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(listed.status().as_u16(), 200);
    // /healthz (no token) says which process schedules: this one, the only one.
    let scheduler = wait_for("/healthz to name the scheduler", async || {
        let health: Value = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert_eq!(health["status"], "ok", "{health}");
        health["scheduler"]["owner"].as_str().map(str::to_string)
    })
    .await;
    assert_eq!(child.id(), Some(pid_of(&scheduler)), "{scheduler}");
    child.kill().await.expect("stopped");
}

/// A returns configuration reading the `wms` credential into the `shop` one, after [`config`]'s.
const RETURNS: &str = r#"
[[integrations]]
name = "Returns"
type = "returns"
origin = "wms"
destination = "shop"
[integrations.settings]
reason_codes = ["DAMAGED=DEFECTIVE"]
"#;

#[tokio::test]
async fn apply_saves_a_returns_configuration_that_runs_and_refuses_an_unknown_reason() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let env = [("SHOPIFY_TOKEN", "shpat_sandbox")];
    let good = write(
        dir.path(),
        "tentacle.toml",
        &(config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "") + RETURNS),
    );
    let applied = tentacle(&db, &["apply", "-f", &good], &env).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(
        text(&applied.stdout).contains("integration \"Returns\" (returns): created"),
        "{}",
        text(&applied.stdout)
    );
    let run = tentacle(&db, &["run", "Returns"], &[]).await;
    let out = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{out}");
    assert!(out.contains("\"status\":\"FINISHED\""), "{out}");

    let bad = write(
        dir.path(),
        "bad.toml",
        &(config(&boxes.shopify.shop_url(), &boxes.pulpo.base_url(), "")
            + &RETURNS.replace("DAMAGED=DEFECTIVE", "DAMAGED=BROKEN")),
    );
    let refused = tentacle(&db, &["apply", "-f", &bad], &env).await;
    assert_eq!(refused.status.code(), Some(1));
    let errors = text(&refused.stderr);
    assert!(
        errors.contains("reason_codes")
            && errors.contains("\"BROKEN\" is not a Shopify return reason"),
        "{errors}"
    );
}

#[tokio::test]
async fn serve_refuses_bad_retention_settings_and_deletes_old_runs_at_start() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let key = [("TENTACLE_MASTER_KEY", SERVE_KEY)];
    let refused = tentacle(&db, &["worker", "--retention-days", "0"], &key).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--retention-days: must be between 1 and 3650 days, not 0"),
        "{}",
        text(&refused.stderr)
    );
    let refused = tentacle(
        &db,
        &["serve"],
        &[key[0], ("TENTACLE_RETENTION_FAILED_DAYS", "30")],
    )
    .await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("--retention-failed-days:") && said.contains("--retention-days (90)"),
        "{said}"
    );
    assert!(
        !dir.path().join("tentacle.db").exists(),
        "refused before the database was touched"
    );

    let (db, store) = provision(&boxes, dir.path()).await;
    let integration = store
        .integration_by_name("Sales orders")
        .await
        .expect("store")
        .expect("provisioned");
    let now = chrono::Utc::now();
    let mut runs = Vec::new();
    for days_ago in [40, 10] {
        let start = now - chrono::Duration::days(days_ago);
        let queued = store
            .enqueue_run(&tentacle_store::RunRequest {
                integration_id: integration.id,
                trigger: tentacle_domain::run::Trigger::Manual,
                due_at: start,
                exclusion: None,
            })
            .await
            .expect("enqueue")
            .run;
        let lease = tentacle_store::Lease {
            run_id: queued.id,
            owner: "seed".into(),
        };
        store
            .claim_run(&tentacle_store::Claim {
                owner: lease.owner.clone(),
                now: start,
                lease_until: start + chrono::Duration::minutes(1),
                run_id: Some(queued.id),
            })
            .await
            .expect("claim")
            .expect("claimed");
        store
            .finish_run(
                &lease,
                tentacle_domain::run::RunStatus::Finished,
                &tentacle_domain::run::RunCounters::default(),
                None,
                start + chrono::Duration::seconds(30),
            )
            .await
            .expect("finish");
        runs.push(queued.id);
    }
    let _serve = serve(&db, &["--retention-days", "30"]);
    wait_for("the 40-day-old run to be deleted", async || {
        store
            .run(runs[0])
            .await
            .expect("store")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        store.run(runs[1]).await.expect("store").is_some(),
        "the 10-day-old run stays"
    );
}

#[tokio::test]
async fn tokens_are_listed_scoped_and_revoked_and_accounts_changed_and_deleted() {
    use tentacle_store::AccountStore;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let created = tentacle(
        &db,
        &[
            "token",
            "create",
            "prometheus",
            "--scope",
            "metrics",
            "--expires-days",
            "30",
        ],
        &[],
    )
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_string();
    assert!(
        text(&created.stderr).contains("scope metrics, expires"),
        "{}",
        text(&created.stderr)
    );
    let bad = tentacle(&db, &["token", "create", "x", "--scope", "root"], &[]).await;
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("metrics, read, admin"),
        "{}",
        text(&bad.stderr)
    );

    let listed = text(&tentacle(&db, &["token", "list"], &[]).await.stdout);
    let line = listed
        .lines()
        .find(|l| l.starts_with("prometheus"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.contains(" metrics ") && line.contains("never"),
        "{line}"
    );
    assert!(!listed.contains(&token), "the list never shows a token");
    assert!(
        tentacle(&db, &["token", "revoke", "prometheus"], &[])
            .await
            .status
            .success()
    );
    let listed = text(&tentacle(&db, &["token", "list"], &[]).await.stdout);
    assert!(!listed.contains("prometheus"), "{listed}");
    let again = tentacle(&db, &["token", "revoke", "prometheus"], &[]).await;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("no API token named"),
        "{}",
        text(&again.stderr)
    );

    let with_password = |args: Vec<&'static str>, password: &'static str| {
        let db = db.clone();
        async move {
            let mut child = Command::new(BIN)
                .arg("--db")
                .arg(&db)
                .args(args)
                .env_remove("TENTACLE_MASTER_KEY")
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("tentacle runs");
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(password.as_bytes()).await.expect("write");
            drop(stdin);
            child.wait_with_output().await.expect("ends")
        }
    };
    let store = || async {
        tentacle_store::SqliteStore::open(
            &db,
            tentacle_store::Cipher::load(None, &dir.path().join("tentacle.key")).expect("key"),
        )
        .await
        .expect("store")
    };
    assert!(
        with_password(
            vec!["user", "create", "ops", "--password-stdin"],
            "first-password-1\n"
        )
        .await
        .status
        .success()
    );
    let before = store()
        .await
        .user_by_name("ops")
        .await
        .expect("read")
        .expect("user");
    let changed = with_password(
        vec!["user", "password", "ops", "--password-stdin"],
        "second-password-2\n",
    )
    .await;
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    let after = store()
        .await
        .user_by_name("ops")
        .await
        .expect("read")
        .expect("user");
    assert_ne!(before.password_hash, after.password_hash);
    assert!(tentacle_web::users::verify_password(
        "second-password-2",
        &after.password_hash
    ));
    let short = with_password(
        vec!["user", "password", "ops", "--password-stdin"],
        "short\n",
    )
    .await;
    assert!(!short.status.success());
    assert!(
        tentacle(&db, &["user", "logout", "ops"], &[])
            .await
            .status
            .success()
    );
    assert!(
        tentacle(&db, &["user", "delete", "ops"], &[])
            .await
            .status
            .success()
    );
    assert_eq!(store().await.user_by_name("ops").await.expect("read"), None);
    let gone = tentacle(&db, &["user", "delete", "ops"], &[]).await;
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains("no user named"),
        "{}",
        text(&gone.stderr)
    );
}

/// `tentacle run "Sales orders"` in a process of its own, printing its log as it goes.
fn run_in_background(db: &str) -> tokio::process::Child {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(["run", "Sales orders"])
        .env("TENTACLE_MASTER_KEY", SERVE_KEY)
        .env_remove("TENTACLE_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tentacle run starts")
}

#[tokio::test]
async fn a_backup_taken_during_a_run_restores_to_a_database_that_runs() {
    use tentacle_store::prelude::*;
    // PULPO answers after 30 ms, so the run is still writing when the backup is taken.
    let boxes = sandboxes_with(60, 30).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, store) = provision(&boxes, dir.path()).await;
    let key = [("TENTACLE_MASTER_KEY", SERVE_KEY)];
    let backup = dir.path().join("backup.db");
    let backup_arg = backup.display().to_string();

    let mut running = run_in_background(&db);
    wait_for("the run to import a few orders", async || {
        (boxes.pulpo.state.sales_orders().len() >= 3).then_some(())
    })
    .await;
    let copied = tentacle(&db, &["backup", &backup_arg], &key).await;
    assert!(copied.status.success(), "{}", text(&copied.stderr));
    assert!(
        running.try_wait().expect("run process").is_none(),
        "the run was still working while the backup was taken"
    );
    let said = text(&copied.stderr);
    assert!(
        said.contains("TENTACLE_MASTER_KEY") && said.contains("separately"),
        "{said}"
    );
    let answer: Value = serde_json::from_str(text(&copied.stdout).trim()).expect("JSON");
    assert_eq!(answer["backup"], backup_arg.as_str());
    assert_eq!(answer["key"], "TENTACLE_MASTER_KEY");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup)
            .expect("backup")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the copy is as private as the database");
    }
    let ended = running.wait().await.expect("the run ends");
    assert!(
        matches!(ended.code(), Some(0 | 2)),
        "the run was not disturbed: {ended:?}"
    );

    // An existing file is kept unless --force.
    let again = tentacle(&db, &["backup", &backup_arg], &key).await;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    // Restored into a database of its own, with the key it was made with: it runs.
    let restored_dir = dir.path().join("restored");
    std::fs::create_dir(&restored_dir).expect("dir");
    let restored_db = format!("sqlite://{}/tentacle.db", restored_dir.display());
    let restored = tentacle(&restored_db, &["restore", &backup_arg], &key).await;
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert!(
        text(&restored.stderr).contains("the key opens the secrets of all 2 credentials"),
        "{}",
        text(&restored.stderr)
    );
    let rerun = tentacle(&restored_db, &["run", "Sales orders"], &key).await;
    let out = text(&rerun.stdout);
    let summary: Value =
        serde_json::from_str(out.lines().last().expect("a summary")).expect("JSON summary");
    assert!(
        matches!(
            summary["status"].as_str(),
            Some("FINISHED" | "FINISHED_PARTIALLY")
        ),
        "{out}"
    );
    let restored_store = tentacle_store::SqliteStore::open(
        &restored_db,
        tentacle_store::Cipher::from_hex(SERVE_KEY).expect("key"),
    )
    .await
    .expect("restored store");
    let credentials = restored_store.credentials().await.expect("credentials");
    assert_eq!(credentials.len(), 2, "the secrets open with the same key");
    // Orders imported after the backup are not in it: PULPO refuses their taken order_num and
    // the run adopts PULPO's order, never making a second one.
    let integration = restored_store
        .integration_by_name("Sales orders")
        .await
        .expect("read")
        .expect("integration");
    let links = restored_store
        .count_order_links(tentacle_store::LinkScope {
            origin_credential_id: integration.origin_credential_id,
            destination_credential_id: integration.destination_credential_id,
        })
        .await
        .expect("links");
    assert_pulpo_has_each_order_once(&boxes, links);
    // The run the backup caught working went back to the queue, saying why.
    let caught = restored_store
        .runs(&tentacle_store::RunFilter::default())
        .await
        .expect("runs")
        .into_iter()
        .min_by_key(|r| r.id)
        .expect("the backed-up run");
    assert_eq!(caught.status, tentacle_domain::run::RunStatus::Queued);
    let logs = restored_store
        .logs(caught.id, &tentacle_store::LogFilter::default())
        .await
        .expect("logs");
    assert!(
        logs.iter().any(|e| e
            .message
            .starts_with("The database was restored from a backup")),
        "{logs:?}"
    );
    drop(store);

    // Another key: refused, naming where the key came from and what to do; nothing written.
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).expect("dir");
    let other_db = format!("sqlite://{}/tentacle.db", other_dir.display());
    let wrong = tentacle(
        &other_db,
        &["restore", &backup_arg],
        &[("TENTACLE_MASTER_KEY", &"ab".repeat(32))],
    )
    .await;
    assert!(!wrong.status.success());
    let said = text(&wrong.stderr);
    assert!(
        said.contains("cannot be decrypted with TENTACLE_MASTER_KEY")
            && said.contains("the key that was backed up with it"),
        "{said}"
    );
    assert!(
        std::fs::read_dir(&other_dir).expect("dir").next().is_none(),
        "nothing left behind"
    );
    // No key at all: refused rather than a fresh key made.
    let no_key = tentacle(&other_db, &["restore", &backup_arg], &[]).await;
    assert!(!no_key.status.success());
    assert!(
        text(&no_key.stderr).contains("no key for the stored secrets"),
        "{}",
        text(&no_key.stderr)
    );
    assert!(!other_dir.join("tentacle.key").exists());

    // Not a database, another SQLite database, a newer schema: refused.
    let junk = write(dir.path(), "junk.db", "not a database at all, just text\n");
    let refused = tentacle(&other_db, &["restore", &junk], &key).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is not a SQLite database file"),
        "{}",
        text(&refused.stderr)
    );
    let foreign = dir.path().join("foreign.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", foreign.display()))
        .await
        .expect("foreign database");
    sqlx::query("CREATE TABLE notes (text TEXT)")
        .execute(&pool)
        .await
        .expect("table");
    pool.close().await;
    let refused = tentacle(
        &other_db,
        &["restore", &foreign.display().to_string()],
        &key,
    )
    .await;
    assert!(
        text(&refused.stderr).contains("not a tentacle one"),
        "{}",
        text(&refused.stderr)
    );
    let newer = dir.path().join("newer.db");
    std::fs::copy(&backup, &newer).expect("copy");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", newer.display()))
        .await
        .expect("newer database");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', CURRENT_TIMESTAMP, TRUE, X'00', 0)",
    )
    .execute(&pool)
    .await
    .expect("a newer migration");
    pool.close().await;
    let refused = tentacle(&other_db, &["restore", &newer.display().to_string()], &key).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("schema version 99990101000000")
            && said.contains(&format!(
                "up to {}",
                tentacle_store::SqliteStore::known_schema_version()
            )),
        "{said}"
    );
    assert!(std::fs::read_dir(&other_dir).expect("dir").next().is_none());
}

#[tokio::test]
async fn restore_migrates_an_older_backup_and_refuses_a_held_database_backup_refuses_postgres() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, _store) = provision(&boxes, dir.path()).await;
    let key = [("TENTACLE_MASTER_KEY", SERVE_KEY)];
    let backup = dir.path().join("backup.db").display().to_string();
    let copied = tentacle(&db, &["backup", &backup], &key).await;
    assert!(copied.status.success(), "{}", text(&copied.stderr));

    // A backup made before the scheduler's migration (0015): restored, it gets it.
    let older = dir.path().join("older.db");
    std::fs::copy(&backup, &older).expect("copy");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", older.display()))
        .await
        .expect("older database");
    sqlx::query("DROP TABLE scheduler_lease")
        .execute(&pool)
        .await
        .expect("as before the scheduler's migration");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 15")
        .execute(&pool)
        .await
        .expect("older schema");
    pool.close().await;
    let fresh_dir = dir.path().join("fresh");
    std::fs::create_dir(&fresh_dir).expect("dir");
    let fresh_db = format!("sqlite://{}/tentacle.db", fresh_dir.display());
    let restored = tentacle(&fresh_db, &["restore", &older.display().to_string()], &key).await;
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert!(
        text(&restored.stderr).contains("1 pending migration applied"),
        "{}",
        text(&restored.stderr)
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}/tentacle.db", fresh_dir.display()))
        .await
        .expect("restored database");
    let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scheduler_lease")
        .fetch_one(&pool)
        .await
        .expect("the scheduler's table is back");
    assert_eq!(holders, 0);
    pool.close().await;

    let mut service = serve(&db, &[]);
    let path = dir.path().join("tentacle.db");
    wait_for("the service to take the scheduler's lease", async || {
        tentacle_store::SqliteStore::in_use(&path, chrono::Utc::now())
            .await
            .expect("read")
    })
    .await;
    let refused = tentacle(&db, &["restore", &backup], &key).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("is in use") && said.contains("Stop every tentacle serve and worker"),
        "{said}"
    );
    service.kill().await.expect("stopped");

    let postgres = tentacle(
        "postgres://tentacle@127.0.0.1:1/tentacle",
        &["backup", &backup],
        &key,
    )
    .await;
    assert_eq!(postgres.status.code(), Some(1));
    assert!(
        text(&postgres.stderr).contains("pg_dump"),
        "{}",
        text(&postgres.stderr)
    );
}

/// The process id in a worker's name (`serve-4711-3f2a9c1b`).
fn pid_of(worker: &str) -> u32 {
    worker
        .split('-')
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in worker name {worker:?}"))
}

#[tokio::test]
async fn on_sqlite_one_serve_process_schedules_and_the_other_takes_over_its_lease_when_killed() {
    let boxes = sandboxes(0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, store) = provision(&boxes, dir.path()).await;
    let mut processes = [serve(&db, &[]), serve(&db, &[])];
    let holder = wait_for("a scheduler", async || {
        store.scheduler().await.expect("read")
    })
    .await;
    let doomed = processes
        .iter()
        .position(|p| p.id() == Some(pid_of(&holder.owner)))
        .expect("one of ours schedules");
    // Many polls later it still holds the lease, renewed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let renewed = store.scheduler().await.expect("read").expect("held");
    assert_eq!(renewed.owner, holder.owner);
    assert!(renewed.lease_until > holder.lease_until);

    let killed_at = std::time::Instant::now();
    processes[doomed].start_kill().expect("kill -9");
    processes[doomed].wait().await.expect("killed");
    let successor = wait_for("the other process to take over", async || {
        store
            .scheduler()
            .await
            .expect("read")
            .filter(|s| s.owner != holder.owner)
    })
    .await;
    let takeover = killed_at.elapsed();
    assert_eq!(
        processes[1 - doomed].id(),
        Some(pid_of(&successor.owner)),
        "{successor:?}"
    );
    // Not before the killed one's lease (2 s, renewed every 50 ms) ran out; within a poll of it.
    assert!(
        successor.since >= renewed.lease_until,
        "{successor:?} {renewed:?}"
    );
    assert!(
        takeover <= Duration::from_secs(2) + Duration::from_millis(1000),
        "taken over after {takeover:?}"
    );
    processes[1 - doomed].kill().await.expect("stopped");
}

#[tokio::test]
async fn apply_warns_about_a_shopify_api_version_past_its_support() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let credential = |version: &str| {
        format!(
            "[[credentials]]\nname = \"shop\"\ntype = \"shopify\"\nshop_url = \"https://example.myshopify.com\"\naccess_token = \"shpat_x\"\napi_version = \"{version}\"\n"
        )
    };
    let old = write(dir.path(), "old.toml", &credential("2025-10"));
    let applied = tentacle(&db, &["apply", "-f", &old], &[]).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let said = text(&applied.stderr);
    assert!(
        said.contains("credential \"shop\": Shopify API version 2025-10 is no longer supported since 2026-10-01")
            && said.contains("Pick a newer api_version"),
        "{said}"
    );
    let current = write(dir.path(), "current.toml", &credential("2026-10"));
    let applied = tentacle(&db, &["apply", "-f", &current], &[]).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(
        !text(&applied.stderr).contains("Shopify API version"),
        "{}",
        text(&applied.stderr)
    );
}

#[tokio::test]
async fn serve_refuses_an_open_address_without_a_tls_proxy_and_touches_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let refused = tokio::time::timeout(
        Duration::from_secs(20),
        tentacle(&db, &["serve", "--listen", "0.0.0.0:0"], &[]),
    )
    .await
    .expect("serve stops at once");
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    for part in [
        "cannot listen on 0.0.0.0:0",
        "TLS-terminating proxy",
        "--behind-proxy",
        "TENTACLE_BEHIND_PROXY=true",
        "127.0.0.1",
    ] {
        assert!(message.contains(part), "{part} missing: {message}");
    }
    // Refused before the database was opened.
    assert!(!dir.path().join("tentacle.db").exists());

    // Declared behind a proxy (here by the variable the container image sets), it serves.
    let mut child = Command::new(BIN)
        .args(["--db", &db, "serve", "--listen", "0.0.0.0:0"])
        .env_remove("TENTACLE_MASTER_KEY")
        .env("TENTACLE_BEHIND_PROXY", "true")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.expect("reads stderr") {
            if line.contains("listening on") {
                return;
            }
        }
        panic!("serve ended without saying where it listens");
    })
    .await
    .expect("prints in time");
}

/// Issue 14: a TOML type error printed the value back (`password = 12345678`) and hid the
/// file's other problems; names had no length limit.
#[tokio::test]
async fn apply_names_a_type_error_without_its_value_and_every_other_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let long_name = "n".repeat(101);
    let file = write(
        dir.path(),
        "bad.toml",
        &format!(
            r#"
[[credentials]]
name = "wms"
type = "pulpo"
base_url = "http://127.0.0.1:8202/api/v1"
username = "sandbox_admin"
password = 12345678

[[credentials]]
name = "{long_name}"
type = "shopify"
shop_url = "https://x.myshopify.com/\"><script>"
access_token = "shpat_x"
"#
        ),
    );
    let refused = tentacle(&db, &["apply", "-f", &file], &[]).await;
    assert_eq!(refused.status.code(), Some(1));
    let errors = text(&refused.stderr);
    assert!(
        errors.contains(
            "line 7: credentials[0].password: must be a string (in quotes), not an integer"
        ),
        "{errors}"
    );
    assert!(
        errors.contains("line 10: credentials[1].name: must be at most 100 characters"),
        "{errors}"
    );
    assert!(
        errors.contains("line 12: credentials[1].shop_url: must not contain quotes"),
        "{errors}"
    );
    let printed = errors + &text(&refused.stdout);
    assert!(
        !printed.contains("12345678"),
        "the value is never printed: {printed}"
    );
    assert!(!printed.contains(&long_name), "{printed}");
    assert!(!printed.contains("<script>"), "{printed}");
}
