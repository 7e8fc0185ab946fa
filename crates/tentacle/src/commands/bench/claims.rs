//! `tentacle bench claims --db postgres://…`: how many runs per second workers sharing one
//! PostgreSQL database claim, with 1, 2, 4… workers, on empty runs (claimed, then finished at
//! once: the queue's own cost per run, without any integration work).
//!
//! Each worker has its own connection pool, as a worker process on another machine would. The
//! benchmark works in a schema of its own, dropped at the end, so it can point at any database.
//! It also times one scheduler tick over all the configurations, the other per-store cost that
//! grows with the number of stores.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Args;
use secrecy::SecretString;
use serde_json::json;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tentacle_domain::run::{RunCounters, RunStatus, Trigger};
use tentacle_domain::sales_order::SalesOrderSettings;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::scheduler;
use tentacle_store::{
    Cipher, Claim, Lease, NewCredential, NewIntegration, PgOptions, PgStore, RunRequest, Store,
};

#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// The PostgreSQL database to measure on (a schema of the benchmark's own is created and
    /// dropped in it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    db: String,
    /// Configurations, each with one queued run per round.
    #[arg(long, default_value_t = 2000)]
    configurations: usize,
    /// Worker counts to measure, one round each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    workers: Vec<usize>,
}

pub async fn run(args: ClaimsArgs) -> anyhow::Result<()> {
    let schema = format!("tentacle_bench_claims_{}", std::process::id());
    let server: PgConnectOptions = args
        .db
        .parse()
        .map_err(|_| anyhow::anyhow!("--db must be a postgres:// URL"))?;
    let mut admin = server
        .connect()
        .await
        .context("cannot connect to the benchmark database")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await?;
    let separator = if args.db.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options=-c%20search_path%3D{schema}", args.db);
    let result = measure(&url, &args).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await?;
    result
}

async fn analyze_runs(url: &str) -> anyhow::Result<()> {
    let mut connection = url.parse::<PgConnectOptions>()?.connect().await?;
    sqlx::query("ANALYZE runs").execute(&mut connection).await?;
    Ok(())
}

/// Empties the queue between rounds, and vacuums it so every round starts from the same table.
async fn clear_runs(url: &str) -> anyhow::Result<()> {
    let mut connection = url.parse::<PgConnectOptions>()?.connect().await?;
    sqlx::query("DELETE FROM runs")
        .execute(&mut connection)
        .await?;
    sqlx::query("VACUUM ANALYZE runs")
        .execute(&mut connection)
        .await?;
    Ok(())
}

async fn open(url: &str, connections: u32) -> anyhow::Result<Arc<dyn Store>> {
    let store = PgStore::open_with(
        url,
        Cipher::ephemeral(),
        PgOptions {
            max_connections: connections,
        },
    )
    .await?;
    Ok(Arc::new(store))
}

async fn measure(url: &str, args: &ClaimsArgs) -> anyhow::Result<()> {
    let store = open(url, 8).await?;
    let shop = store
        .save_credential(NewCredential::shopify(
            "bench-shop",
            "http://127.0.0.1:9",
            "2026-10",
            SecretString::from("unused".to_string()),
        ))
        .await?;
    let wms = store
        .save_credential(NewCredential::pulpo(
            "bench-wms",
            "http://127.0.0.1:9",
            "unused",
            SecretString::from("unused".to_string()),
        ))
        .await?;
    let settings = serde_json::to_value(SalesOrderSettings {
        frequency_minutes: 10,
        ..SalesOrderSettings::default()
    })?;
    let mut integrations = Vec::with_capacity(args.configurations);
    for n in 0..args.configurations {
        integrations.push(
            store
                .save_integration(NewIntegration {
                    name: format!("bench-{n:05}"),
                    kind: "sales_orders".into(),
                    origin_credential_id: shop.id,
                    destination_credential_id: wms.id,
                    settings: settings.clone(),
                })
                .await?,
        );
    }

    // Scheduler ticks over every configuration: the first queues a run for each, the next
    // finds them queued (what every process does every poll in the steady state).
    for tick in ["first", "steady"] {
        let ticked = Instant::now();
        let queued = scheduler::tick(store.as_ref(), &SystemClock).await?;
        let seconds = ticked.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "bench": "scheduler_tick",
                "tick": tick,
                "configurations": args.configurations,
                "queued": queued,
                "seconds": round(seconds),
                "configurations_per_second": round(args.configurations as f64 / seconds),
            })
        );
    }
    clear_runs(url).await?;

    for &workers in &args.workers {
        // One queued run per configuration, due now.
        let now = Utc::now();
        for integration in &integrations {
            store
                .enqueue_run(&RunRequest {
                    integration_id: integration.id,
                    trigger: Trigger::Manual,
                    due_at: now,
                    exclusion: None,
                })
                .await?;
        }
        // Statistics as a long-lived queue has them (autovacuum keeps them current), not those of
        // the empty table the previous round left.
        analyze_runs(url).await?;
        let mut pools = Vec::with_capacity(workers);
        for _ in 0..workers {
            pools.push(open(url, 2).await?);
        }
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (n, worker) in pools.into_iter().enumerate() {
            tasks.spawn(async move {
                let owner = format!("bench-{n}");
                let mut claimed = 0u64;
                loop {
                    let now = Utc::now();
                    let claim = Claim {
                        owner: owner.clone(),
                        now,
                        lease_until: now + TimeDelta::seconds(30),
                        run_id: None,
                    };
                    let Some(run) = worker.claim_run(&claim).await? else {
                        return anyhow::Ok(claimed);
                    };
                    let lease = Lease {
                        run_id: run.id,
                        owner: owner.clone(),
                    };
                    worker
                        .finish_run(
                            &lease,
                            RunStatus::Finished,
                            &RunCounters::default(),
                            None,
                            Utc::now(),
                        )
                        .await?;
                    claimed += 1;
                }
            });
        }
        let mut per_worker = Vec::new();
        while let Some(done) = tasks.join_next().await {
            per_worker.push(done??);
        }
        let seconds = started.elapsed().as_secs_f64();
        let claimed: u64 = per_worker.iter().sum();
        anyhow::ensure!(
            claimed == args.configurations as u64,
            "{claimed} runs claimed, {} queued",
            args.configurations
        );
        println!(
            "{}",
            json!({
                "bench": "claims",
                "workers": workers,
                "configurations": args.configurations,
                "claimed": claimed,
                "per_worker": per_worker,
                "seconds": round(seconds),
                "claims_per_second": round(claimed as f64 / seconds),
                "ms_per_claim_and_finish": round(seconds * 1000.0 * workers as f64 / claimed as f64),
            })
        );
        clear_runs(url).await?;
    }
    Ok(())
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
