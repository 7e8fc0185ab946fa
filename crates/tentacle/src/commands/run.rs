//! `tentacle run NAME`, `tentacle runs [NAME]`, `tentacle logs RUN_ID`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use tentacle_domain::run::{LogEntry, LogLevel, RunStatus, Trigger};
use tentacle_domain::text::printable;
use tentacle_engine::{RunOptions, run_integration};
use tentacle_store::{LogFilter, Run, RunFilter, Store};

/// How long `tentacle run` waits for its run's alerts before it exits.
const ALERT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The integration configuration's name.
    name: String,
    /// Queue the run ("run now") for `tentacle serve` instead of running it here; prints
    /// `{"run_id": …, "status": "QUEUED"}`.
    #[arg(long)]
    queue: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only runs of this integration configuration.
    name: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    run_id: i64,
    /// Only entries at this level or more severe: INFO, WARNING or ERROR.
    #[arg(long)]
    level: Option<LogLevel>,
    /// Only entries about this order name or SKU.
    #[arg(long)]
    record: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// The one-line summary `tentacle run` ends with.
pub fn summary(run: &Run, integration: &str) -> serde_json::Value {
    let duration_ms = run
        .finished_at
        .map(|end| (end - run.started_at).num_milliseconds());
    json!({
        "run_id": run.id,
        "integration": integration,
        "status": run.status.as_str(),
        "fetched": run.counters.fetched,
        "created": run.counters.created,
        "updated": run.counters.updated,
        "cancelled": run.counters.cancelled,
        "skipped": run.counters.skipped,
        "failed": run.counters.failed,
        "conflicts": run.counters.conflicts,
        "duration_ms": duration_ms,
    })
}

/// 0 FINISHED, 2 FINISHED_PARTIALLY, 1 FAILED.
pub fn exit_code(status: RunStatus) -> ExitCode {
    match status {
        RunStatus::Finished => ExitCode::SUCCESS,
        RunStatus::FinishedPartially => ExitCode::from(2),
        RunStatus::Failed | RunStatus::Queued | RunStatus::Running => ExitCode::FAILURE,
    }
}

pub fn print_entry(entry: &LogEntry) {
    let record = entry
        .record
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    // Order names and messages come from Shopify and PULPO: never raw to the terminal.
    println!(
        "{:<7} {:<16} {}",
        entry.level.as_str(),
        printable(&record),
        printable(&entry.message)
    );
}

pub async fn run_now(store: Arc<dyn Store>, name: &str) -> anyhow::Result<Run> {
    let integration = store.integration_by_name(name).await?.with_context(|| {
        format!("no integration configuration named {name:?} (see `tentacle apply`)")
    })?;
    let observer: tentacle_engine::log::Observer = Arc::new(print_entry);
    Ok(run_integration(
        store,
        &integration,
        Trigger::Manual,
        RunOptions::default(),
        Some(observer),
    )
    .await?)
}

pub async fn run(db: &str, args: RunArgs) -> anyhow::Result<ExitCode> {
    let store = super::db::open(db).await?;
    if args.queue {
        let integration = store
            .integration_by_name(&args.name)
            .await?
            .with_context(|| {
                format!(
                    "no integration configuration named {:?} (see `tentacle apply`)",
                    args.name
                )
            })?;
        let queued = tentacle_engine::controls::run_now(
            store.as_ref(),
            integration.id,
            &tentacle_engine::clock::SystemClock,
        )
        .await?;
        println!(
            "{}",
            json!({"run_id": queued.id, "integration": args.name, "status": queued.status.as_str()})
        );
        return Ok(ExitCode::SUCCESS);
    }
    let finished = run_now(store.clone(), &args.name).await?;
    println!("{}", summary(&finished, &args.name));
    // The alerts this run's end queued are sent before the process exits; what cannot be sent
    // in time stays in the outbox for a running `serve` or `worker`.
    let delivered = tentacle_engine::alerts::deliver_run(
        store.as_ref(),
        &tentacle_engine::clock::SystemClock,
        finished.id,
        ALERT_WAIT,
    )
    .await;
    if delivered.sent + delivered.failed > 0 {
        tracing::info!(
            run_id = finished.id,
            sent = delivered.sent,
            failed = delivered.failed,
            "Alerts of the run delivered."
        );
    }
    Ok(exit_code(finished.status))
}

pub async fn runs(db: &str, args: RunsArgs) -> anyhow::Result<ExitCode> {
    let store = super::db::open(db).await?;
    let integrations = store.integrations().await?;
    let integration_id = match &args.name {
        Some(name) => Some(
            integrations
                .iter()
                .find(|i| &i.name == name)
                .with_context(|| format!("no integration configuration named {name:?}"))?
                .id,
        ),
        None => None,
    };
    let runs = store
        .runs(&RunFilter {
            integration_id,
            limit: Some(args.limit),
            ..RunFilter::default()
        })
        .await?;
    println!(
        "{:>6}  {:<24} {:<8} {:<19} {:<20} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>9}",
        "RUN",
        "INTEGRATION",
        "TRIGGER",
        "STATUS",
        "STARTED",
        "FETCHED",
        "CREATED",
        "UPDATED",
        "CANCEL",
        "SKIPPED",
        "FAILED",
        "CONFLICTS"
    );
    for run in runs {
        let name = integrations
            .iter()
            .find(|i| i.id == run.integration_id)
            .map_or("?", |i| i.name.as_str());
        let name = printable(name);
        println!(
            "{:>6}  {:<24} {:<8} {:<19} {:<20} {:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>9}",
            run.id,
            name,
            run.trigger.as_str(),
            run.status.to_string(),
            run.started_at.format("%Y-%m-%d %H:%M:%S"),
            run.counters.fetched,
            run.counters.created,
            run.counters.updated,
            run.counters.cancelled,
            run.counters.skipped,
            run.counters.failed,
            run.counters.conflicts
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn logs(db: &str, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = super::db::open(db).await?;
    if store.run(args.run_id).await?.is_none() {
        anyhow::bail!("no run {}", args.run_id);
    }
    let mut after_id = None;
    loop {
        let filter = LogFilter {
            min_level: args.level,
            record: args.record.clone(),
            after_id,
            limit: Some(1000),
        };
        let entries = store.logs(args.run_id, &filter).await?;
        for entry in &entries {
            if args.json {
                println!(
                    "{}",
                    json!({"id": entry.id, "at": entry.at, "level": entry.level.as_str(), "record_kind": entry.record_kind, "record": entry.record, "message": entry.message})
                );
            } else {
                println!(
                    "{} {:<7} {:<10} {}",
                    entry.at.format("%H:%M:%S"),
                    entry.level.as_str(),
                    printable(entry.record.as_deref().unwrap_or("")),
                    printable(&entry.message)
                );
            }
        }
        match entries.last() {
            Some(last) if entries.len() == 1000 => after_id = Some(last.id),
            _ => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
