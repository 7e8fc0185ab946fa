//! `tentacle demo`: the whole product on one machine with nothing to set up. Both sandboxes run
//! in-process with generated data, a fresh SQLite database lives in a temporary directory,
//! credentials and one configuration of every integration type are provisioned, and each runs
//! once: the sales orders run imports the orders, then, after a few stock changes on both
//! sides, the stock run sets Shopify's quantities from PULPO's, and after the warehouse ships a
//! few of the imported orders, the shipments run makes their boxes Shopify fulfillments; the
//! status updates run tags the imported orders; after the customers send some of those goods
//! back, the returns run registers them as Shopify returns; and the products run makes the SKUs
//! PULPO did not know (the ones the sales orders run refused) PULPO products. Then (unless
//! `--no-serve`) the web UI and the workers serve until Ctrl-C, with a generated admin login
//! printed once.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use serde_json::{Value, json};
use tentacle_domain::run::RunCounters;
use tentacle_engine::Kind;
use tentacle_engine::integrations::{
    generate_shipments, products, returns, sales_orders, status_updates, stock,
};
use tentacle_sandbox::catalog::SHARED_WAREHOUSES;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};
use tentacle_store::{CredentialKind, NewCredential, NewIntegration};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Generated Shopify orders.
    #[arg(long, default_value_t = 200)]
    orders: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after the runs instead of serving the sandboxes, the web UI and the workers
    /// until Ctrl-C.
    #[arg(long)]
    no_serve: bool,
    /// Where the web UI (and the JSON API) listen; port 0 picks a free one. An address other
    /// machines reach needs --behind-proxy, as with `serve`.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// A TLS-terminating proxy is in front (see `serve --behind-proxy`).
    #[arg(long)]
    behind_proxy: bool,
}

/// The demo's configuration of one integration type. Every registered type has one (a test
/// checks); its credentials follow the kinds the type declares, so a new type needs only this.
struct DemoConfiguration {
    key: &'static str,
    name: &'static str,
    /// The settings that differ from the type's defaults.
    settings: fn() -> Value,
    /// What a run's counters mean, for the sentence after it.
    outcome: fn(&RunCounters) -> String,
}

const CONFIGURATIONS: &[DemoConfiguration] = &[
    DemoConfiguration {
        key: sales_orders::TYPE,
        name: "Sales orders",
        // The generated customers are not in PULPO, and the orders reach back two weeks.
        settings: || json!({"fallback_customer_id": 1, "initial_import_days": 14}),
        outcome: |c| {
            let unknown = if c.failed > 0 {
                " (they name SKUs the PULPO sandbox does not know: 2% of the catalog, on purpose)"
            } else {
                ""
            };
            format!(
                "{} orders fetched, {} PULPO sales orders created, {} skipped by the filters, {} failed{unknown}",
                c.fetched, c.created, c.skipped, c.failed
            )
        },
    },
    DemoConfiguration {
        key: stock::TYPE,
        name: "Stock",
        // The PULPO sandbox seeds its stock in Madrid only, while the Shopify sandbox shows the
        // catalog's stock in Barcelona too: covering Barcelona would set nearly every SKU
        // there to 0, which is the sandboxes' seeding, not a story worth telling.
        settings: || json!({"locations": [SHARED_WAREHOUSES[0]]}),
        outcome: |c| {
            format!(
                "{} SKUs compared at the covered locations, {} Shopify quantities set, {} items activated, {} skipped, {} failed",
                c.fetched, c.updated, c.created, c.skipped, c.failed
            )
        },
    },
    DemoConfiguration {
        key: generate_shipments::TYPE,
        name: "Shipments",
        settings: || json!({"carrier_names": ["seur=SEUR", "ups_es=UPS"]}),
        outcome: |c| {
            format!(
                "{} shipped boxes read, {} Shopify fulfillments created, {} trackings updated, {} waiting for a label, {} in conflict, {} failed",
                c.fetched, c.created, c.updated, c.skipped, c.conflicts, c.failed
            )
        },
    },
    DemoConfiguration {
        key: status_updates::TYPE,
        name: "Status updates",
        // The defaults: imported orders tagged PULPO, shipped lots in the note.
        settings: || json!({}),
        outcome: |c| {
            format!(
                "{} imported orders looked at, {} tagged or given their lot numbers, {} failed",
                c.fetched, c.updated, c.failed
            )
        },
    },
    DemoConfiguration {
        key: products::TYPE,
        name: "Products",
        // The defaults: the variant's price, physical products only, no tags.
        settings: || json!({}),
        outcome: |c| {
            format!(
                "{} Shopify variants read, {} new PULPO products (the SKUs the sales orders run could not find: run it again and they go through), {} linked to the product PULPO already had or updated, {} left out (gift cards, services), {} in conflict, {} failed",
                c.fetched, c.created, c.updated, c.skipped, c.conflicts, c.failed
            )
        },
    },
    DemoConfiguration {
        key: returns::TYPE,
        name: "Returns",
        // The PULPO sandbox's reason codes, as Shopify calls them.
        settings: || {
            json!({"reason_codes": ["DAMAGED=DEFECTIVE", "DEFECTIVE=DEFECTIVE", "WRONG_ITEM=WRONG_ITEM",
                                   "TOO_SMALL=SIZE_TOO_SMALL", "TOO_LARGE=SIZE_TOO_LARGE", "NOT_WANTED=UNWANTED"]})
        },
        outcome: |c| {
            format!(
                "{} PULPO returns read, {} Shopify returns created (open, not restocked), {} of orders not imported, {} in conflict, {} failed",
                c.fetched, c.created, c.skipped, c.conflicts, c.failed
            )
        },
    },
];

/// Orders the demo's warehouse ships before the shipments run.
const DEMO_SHIPMENTS: usize = 3;

impl DemoConfiguration {
    /// The settings with the type's defaults filled in, checked as the type checks any.
    fn read_settings(&self, kind: &dyn Kind) -> anyhow::Result<Value> {
        let Value::Object(settings) = (self.settings)() else {
            anyhow::bail!("the demo settings of {:?} are not a table", self.key);
        };
        kind.read_settings(&settings).map_err(|errors| {
            anyhow::anyhow!(
                "the demo settings of {:?} are refused: {errors:?}",
                self.key
            )
        })
    }
}

/// Each registered type with its demo configuration, in the registry's order.
fn configurations() -> anyhow::Result<Vec<(&'static dyn Kind, &'static DemoConfiguration)>> {
    tentacle_engine::registry()
        .into_iter()
        .map(|kind| {
            let demo = CONFIGURATIONS
                .iter()
                .find(|c| c.key == kind.key())
                .with_context(|| {
                    format!(
                        "the demo has no configuration for the type {:?}",
                        kind.key()
                    )
                })?;
            Ok((kind, demo))
        })
        .collect()
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    // Refused before anything is started or written.
    if !args.no_serve {
        let listen = args.listen;
        tentacle_web::check_listen(listen, args.behind_proxy)
            .map_err(|refusal| anyhow::anyhow!("cannot listen on {listen}: {refusal}"))?;
    }
    let configurations = configurations()?;
    let local = "127.0.0.1:0".parse()?;
    // The Shopify Plus plan's rate limit (1000 points/s, bucket 20000), so a first import of a
    // few hundred orders takes seconds, as it would for a Plus merchant.
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        seed: args.seed,
        orders: args.orders,
        bucket: 20_000.0,
        restore_rate: 1_000.0,
        ..ShopifyConfig::default()
    })
    .await?;
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        seed: args.seed,
        ..PulpoConfig::default()
    })
    .await?;
    let directory = fresh_directory()?;
    let db = format!("sqlite://{}/tentacle.db", directory.display());
    let store = super::db::open(&db).await?;
    // What the operator types to reach this database: `cargo run` leaves the binary off the
    // PATH, so it is named by its path.
    let tentacle = format!("{} --db {}", this_binary(), shell_word(&db));

    println!("tentacle demo");
    println!(
        "  Shopify sandbox  {}  ({} generated orders, seed {}, Plus plan rate limit)",
        shopify.shop_url(),
        args.orders,
        args.seed
    );
    println!("  PULPO sandbox    {}", pulpo.base_url());
    println!("  database         {db}");
    println!();

    let credentials = [
        store
            .save_credential(NewCredential::shopify(
                "Shopify sandbox",
                &shopify.shop_url(),
                "2026-10",
                SecretString::from(shopify.state.config.access_token.clone()),
            ))
            .await?,
        store
            .save_credential(NewCredential::pulpo(
                "PULPO sandbox",
                &pulpo.base_url(),
                "sandbox_admin",
                SecretString::from("sandbox".to_string()),
            ))
            .await?,
    ];
    let credential_id = |kind: CredentialKind| {
        credentials
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.id)
            .with_context(|| format!("the demo has no {} credential", kind.as_str()))
    };
    for (kind, demo) in &configurations {
        let settings = demo.read_settings(*kind)?;
        store
            .save_integration(NewIntegration {
                name: demo.name.into(),
                kind: demo.key.into(),
                origin_credential_id: credential_id(kind.origin())?,
                destination_credential_id: credential_id(kind.destination())?,
                settings,
            })
            .await?;
    }
    let names: Vec<String> = configurations
        .iter()
        .map(|(_, demo)| format!("{:?}", demo.name))
        .collect();
    println!(
        "Provisioned credentials \"Shopify sandbox\" and \"PULPO sandbox\" and the configurations {}.",
        names.join(" and ")
    );

    let http = reqwest::Client::new();
    let mut runs = Vec::new();
    for (_, demo) in &configurations {
        if demo.key == stock::TYPE {
            // Changes staged on both sides, so the run is seen following PULPO and correcting
            // a count changed by hand in Shopify.
            println!();
            println!("Meanwhile, in the warehouse and in the shop:");
            stage_stock_changes(&http, &shopify, &pulpo).await?;
        }
        if demo.key == generate_shipments::TYPE {
            println!();
            println!("Meanwhile, in the warehouse:");
            stage_shipments(&http, &pulpo).await?;
        }
        if demo.key == returns::TYPE {
            println!();
            println!("Meanwhile, customers send goods back:");
            stage_returns(&http, &shopify, &pulpo).await?;
        }
        println!();
        println!("Run of \"{}\":", demo.name);
        println!();
        let finished = super::run::run_now(store.clone(), demo.name).await?;
        println!();
        println!("{}", super::run::summary(&finished, demo.name));
        println!();
        println!(
            "Run {} ended {}: {}.",
            finished.id,
            finished.status,
            (demo.outcome)(&finished.counters)
        );
        if finished.counters.failed > 0 {
            println!("  {tentacle} logs {} --level ERROR", finished.id);
        }
        runs.push(finished.id);
    }
    println!();
    println!("Next (from this directory):");
    println!("  {tentacle} runs                        every run with its counters");
    for ((_, demo), run_id) in configurations.iter().zip(&runs) {
        println!(
            "  {tentacle} logs {run_id}                     what the \"{}\" run did, record by record",
            demo.name
        );
    }
    // Running again needs the sandboxes, which only live while the demo serves.
    if !args.no_serve {
        for (_, demo) in &configurations {
            println!(
                "  {tentacle} run {}    run again (while the demo serves): nothing is written twice",
                shell_word(demo.name)
            );
        }
        let pulpo_control = format!("{}/sales/orders", pulpo.control_url());
        println!("  curl -s {pulpo_control} | head     the orders PULPO received");
    }

    if !args.no_serve {
        serve(store, args.listen, args.behind_proxy).await?;
    }
    shopify.stop().await;
    pulpo.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// A SKU both sandboxes know, stocked and tracked at a connected location.
struct StockedSku {
    sku: String,
    location: String,
    location_id: u64,
    inventory_item_id: u64,
    shopify_available: i64,
    product_id: i64,
    warehouse_id: i64,
    pulpo_available: i64,
}

/// Changes a few levels in Madrid through the sandboxes' control APIs, as the warehouse and the
/// merchant would: PULPO receives stock for two SKUs and sells out a third, and someone types a
/// count by hand into Shopify for a fourth. Prints each change.
async fn stage_stock_changes(
    http: &reqwest::Client,
    shopify: &ShopifySandbox,
    pulpo: &PulpoSandbox,
) -> anyhow::Result<()> {
    let skus = stocked_skus(shopify, pulpo, SHARED_WAREHOUSES[0], 4);
    let [received, restocked, sold_out, by_hand] = skus.as_slice() else {
        anyhow::bail!("the sandboxes share too few stocked SKUs to change");
    };
    for (level, available) in [
        (received, received.pulpo_available + 25),
        (restocked, restocked.pulpo_available + 10),
        (sold_out, 0),
    ] {
        http.put(format!(
            "{}/inventory/products/{}/stock",
            pulpo.control_url(),
            level.product_id
        ))
        .json(&json!({"warehouse_id": level.warehouse_id, "available_quantity": available}))
        .send()
        .await?
        .error_for_status()?;
        println!(
            "  PULPO    SKU {} at {}: available {} → {available}",
            level.sku, level.location, level.pulpo_available
        );
    }
    let typed = by_hand.shopify_available + 40;
    http.put(format!(
        "{}/sandbox/inventory_levels/{}/{}",
        shopify.shop_url(),
        by_hand.inventory_item_id,
        by_hand.location_id
    ))
    .json(&json!({"available": typed}))
    .send()
    .await?
    .error_for_status()?;
    println!(
        "  Shopify  SKU {} at {}: available {} → {typed} by hand (PULPO has {})",
        by_hand.sku, by_hand.location, by_hand.shopify_available, by_hand.pulpo_available
    );
    Ok(())
}

/// Ships the newest open PULPO orders (the ones the sales orders run just imported) through
/// the PULPO sandbox's control API, one box each with a SEUR label, as the warehouse would.
/// Prints each shipment.
async fn stage_shipments(http: &reqwest::Client, pulpo: &PulpoSandbox) -> anyhow::Result<()> {
    let mut open: Vec<(i64, String)> = pulpo
        .state
        .sales_orders()
        .into_iter()
        .filter(|o| o.state.is_open())
        .map(|o| (o.id, o.order_num))
        .collect();
    open.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    for (n, (id, order_num)) in open.into_iter().take(DEMO_SHIPMENTS).enumerate() {
        let tracking = format!("SEUR{:08}", n + 1);
        http.post(format!("{}/sales/orders/{id}/ship", pulpo.control_url()))
            .json(&json!({"carrier_code": "seur", "tracking_code": tracking,
                          "tracking_url": format!("https://www.seur.com/track/{tracking}")}))
            .send()
            .await?
            .error_for_status()?;
        println!("  PULPO    sales order {order_num} shipped in one box, SEUR tracking {tracking}");
    }
    Ok(())
}

/// Reason codes of the demo's returns, one per shipped order, from the PULPO sandbox's.
const DEMO_RETURN_REASONS: [&str; 2] = ["DAMAGED", "TOO_SMALL"];

/// Receives a return of one unit of the first line of the first shipped orders that Shopify
/// shows fulfilled (a box the shipments run could not send is a conflict of its own) through
/// the PULPO sandbox's control API, as the warehouse's reception would. Prints each return.
async fn stage_returns(
    http: &reqwest::Client,
    shopify: &ShopifySandbox,
    pulpo: &PulpoSandbox,
) -> anyhow::Result<()> {
    // The demo imports without an order number prefix: PULPO's `1001` is Shopify's `#1001`.
    let fulfilled: Vec<String> = shopify
        .state
        .shop()
        .orders
        .values()
        .filter(|o| !o.fulfillments.is_empty())
        .map(|o| o.name.trim_start_matches('#').to_string())
        .collect();
    let mut shipped: Vec<(i64, String, String)> = pulpo
        .state
        .sales_orders()
        .into_iter()
        .filter(|o| o.items.first().is_some_and(|i| i.fulfilled_quantity > 0))
        .filter(|o| fulfilled.contains(&o.order_num))
        .filter_map(|o| Some((o.id, o.order_num, o.items.first()?.line_order_id.clone()?)))
        .collect();
    shipped.sort_by_key(|(id, _, _)| *id);
    for ((id, order_num, line), reason) in shipped.into_iter().zip(DEMO_RETURN_REASONS) {
        http.post(format!("{}/reception/returns", pulpo.control_url()))
            .json(&json!({"sales_order_id": id, "items": [
                {"line_order_id": line, "quantity": 1, "reason_code": reason}]}))
            .send()
            .await?
            .error_for_status()?;
        println!("  PULPO    one unit of sales order {order_num} came back, reason {reason}");
    }
    Ok(())
}

/// The first `count` SKUs (in SKU order) on one tracked Shopify item with an active level at
/// `location` and one active PULPO product, with both sides' available there.
fn stocked_skus(
    shopify: &ShopifySandbox,
    pulpo: &PulpoSandbox,
    location: &str,
    count: usize,
) -> Vec<StockedSku> {
    let shop = shopify.state.shop();
    let store = pulpo.state.store();
    let (Some(location), Some(warehouse)) = (
        shop.locations.iter().find(|l| l.name == location),
        store.warehouses.iter().find(|w| w.name == location),
    ) else {
        return Vec::new();
    };
    let mut skus: Vec<StockedSku> = shop
        .variants
        .iter()
        .filter(|v| v.tracked && shop.is_active_level(v.inventory_item_id, location.id))
        .filter_map(|variant| {
            let sku = variant.sku.as_deref()?;
            // A SKU on two Shopify items is skipped by the run; not a change to show.
            let once = shop
                .variants
                .iter()
                .filter(|v| v.sku.as_deref() == Some(sku))
                .count()
                == 1;
            let product = store.product_by_sku(sku).filter(|p| p.active && once)?;
            let quantities = shop
                .inventory
                .get(&(variant.inventory_item_id, location.id))?;
            let pulpo_available = store
                .availability(Some(&[product.id]), |_| true, |w| w == warehouse.id)
                .first()
                .map_or(0, |a| a.available_quantity);
            Some(StockedSku {
                sku: sku.to_string(),
                location: location.name.clone(),
                location_id: location.id,
                inventory_item_id: variant.inventory_item_id,
                shopify_available: quantities.available,
                product_id: product.id,
                warehouse_id: warehouse.id,
                pulpo_available,
            })
        })
        .collect();
    skus.sort_by(|a, b| a.sku.cmp(&b.sku));
    skus.truncate(count);
    skus
}

/// The web UI with a generated admin account, and the workers that carry out "Run now" and the
/// schedule, until Ctrl-C.
async fn serve(
    store: std::sync::Arc<dyn tentacle_store::Store>,
    listen: std::net::SocketAddr,
    behind_proxy: bool,
) -> anyhow::Result<()> {
    const ADMIN: &str = "admin";
    let password = tentacle_web::users::generate_password()?;
    tentacle_web::users::create_user(store.as_ref(), ADMIN, &password).await?;
    let app = tentacle_web::build(tentacle_web::Config {
        listen,
        store: store.clone(),
        behind_proxy,
        limits: tentacle_web::Limits::default(),
    })
    .await?;
    println!();
    println!("Web UI     http://{}/", app.address());
    println!("  user     {ADMIN}");
    println!("  password {password}   (generated for this demo)");
    println!("The sandboxes, the web UI and the workers keep serving until Ctrl-C.");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let web = tokio::spawn(app.serve(wait(stopped.clone())));
    let workers = tokio::spawn(tentacle_engine::worker::serve(
        store,
        std::sync::Arc::new(tentacle_engine::clock::SystemClock),
        tentacle_engine::worker::WorkerConfig::default(),
        wait(stopped),
    ));
    tokio::signal::ctrl_c().await?;
    let _ = stop.send(true);
    workers.await??;
    web.await??;
    Ok(())
}

/// A fresh directory for the demo's database; kept after exit so its runs can be read.
/// This binary as a shell command: relative to the current directory when below it (what
/// `cargo run --release -- demo` from a clone gives: `./target/release/tentacle`), else its
/// absolute path.
fn this_binary() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "tentacle".to_string();
    };
    let relative = std::env::current_dir().ok().and_then(|cwd| {
        exe.strip_prefix(cwd)
            .ok()
            .map(|p| format!("./{}", p.display()))
    });
    shell_word(&relative.unwrap_or_else(|| exe.display().to_string()))
}

/// `word` as one shell word: as it is when it holds only characters no shell treats
/// specially, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+@%,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn fresh_directory() -> anyhow::Result<std::path::PathBuf> {
    let directory = std::env::temp_dir().join(format!(
        "tentacle-demo-{}-{}",
        std::process::id(),
        unix_seconds()
    ));
    std::fs::create_dir_all(&directory)?;
    Ok(directory)
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_type_has_a_demo_configuration_whose_settings_are_accepted() {
        let configurations = configurations().unwrap();
        assert_eq!(configurations.len(), tentacle_engine::registry().len());
        for (kind, demo) in configurations {
            demo.read_settings(kind).unwrap();
        }
    }
}
