//! `tentacle bench sandboxes`: simple requests per second each sandbox serves (it must never be
//! what limits a benchmark).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};
use tentacle_sandbox::shopify::{ShopifyConfig, ShopifySandbox};

#[derive(Debug, Args)]
pub struct SandboxesArgs {
    /// Requests sent to each sandbox.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
}

pub async fn run(args: SandboxesArgs) -> anyhow::Result<()> {
    let local = "127.0.0.1:0".parse()?;
    // Limits out of the way: this measures the sandboxes' own speed, not the limits they emulate.
    let shopify = ShopifySandbox::start(ShopifyConfig {
        listen: local,
        bucket: 1e12,
        restore_rate: 1e12,
        ..ShopifyConfig::default()
    })
    .await?;
    let pulpo = PulpoSandbox::start(PulpoConfig {
        listen: local,
        ..PulpoConfig::default()
    })
    .await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let graphql_url = shopify.graphql_url("2026-10");
    let token = shopify.state.config.access_token.clone();
    let shopify_client = client.clone();
    let shopify_result = load(args.requests, args.concurrency, move || {
        shopify_client
            .post(&graphql_url)
            .header("X-Shopify-Access-Token", &token)
            .json(&json!({"query": "{ locations(first: 3) { nodes { id name } } }"}))
    })
    .await;
    print_result(
        "shopify",
        "POST graphql.json locations(first: 3)",
        &args,
        shopify_result,
    );

    let auth: serde_json::Value = client
        .post(format!("{}/auth", pulpo.base_url()))
        .json(&json!({"username": "sandbox_admin", "password": "sandbox", "scope": "default", "grant_type": "password"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let bearer = auth["access_token"]
        .as_str()
        .context("PULPO sandbox returned no access_token")?
        .to_string();
    let warehouses_url = format!("{}/warehouses/", pulpo.base_url());
    let pulpo_result = load(args.requests, args.concurrency, move || {
        client.get(&warehouses_url).bearer_auth(&bearer)
    })
    .await;
    print_result("pulpo", "GET /warehouses/", &args, pulpo_result);

    shopify.stop().await;
    pulpo.stop().await;
    Ok(())
}

struct LoadResult {
    wall: Duration,
    ok: u64,
    failed: u64,
}

/// Sends `requests` requests built by `request`, `concurrency` at a time.
async fn load<F>(requests: u64, concurrency: u64, request: F) -> LoadResult
where
    F: Fn() -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (request, next, ok, failed) =
                (request.clone(), next.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let answered = match request().send().await {
                        Ok(response) => {
                            response.status().is_success() && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    if answered { &ok } else { &failed }.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    LoadResult {
        wall: started.elapsed(),
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
    }
}

fn print_result(sandbox: &str, request: &str, args: &SandboxesArgs, result: LoadResult) {
    let wall_s = result.wall.as_secs_f64();
    println!(
        "{}",
        json!({
            "sandbox": sandbox,
            "request": request,
            "requests": result.ok + result.failed,
            "failed": result.failed,
            "concurrency": args.concurrency,
            "wall_s": (wall_s * 1000.0).round() / 1000.0,
            "requests_per_s": (result.ok as f64 / wall_s).round(),
        })
    );
}
