//! Running one integration: record the run, execute its type's logic, log every outcome, set
//! the final status.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tentacle_domain::messages;
use tentacle_domain::run::{LogEntry, RecordRef, RunEnd, RunStatus, Trigger};
use tentacle_store::{Claim, Integration, Lease, NewLogEntry, Run, RunRequest, Store, StoreError};
use tokio::sync::watch;

use crate::clock::{Clock, SystemClock};
use crate::error::EngineError;
use crate::integrations::{self, Abort};
use crate::log::{Observer, RunLog};
use crate::options::RunOptions;

/// How long a worker's hold on a run lasts without a heartbeat; renewed every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Runs `integration` once, in this process, and returns the finished run: queues a run due at
/// `options.now` and works on it as soon as the configuration has no other run in progress
/// (never alongside one). Errors only when the store itself fails; everything else ends up in
/// the run's status and log.
pub async fn run_integration(
    store: Arc<dyn Store>,
    integration: &Integration,
    trigger: Trigger,
    options: RunOptions,
    observer: Option<Observer>,
) -> Result<Run, EngineError> {
    let queued = store
        .enqueue_run(&RunRequest {
            integration_id: integration.id,
            trigger,
            due_at: options.now,
            exclusion: crate::scheduler::exclusion_of(integration),
        })
        .await?
        .run;
    let owner = worker_id("run");
    let (_keep_running, release) = watch::channel(false);
    loop {
        let now = Utc::now().max(options.now);
        let claim = Claim {
            owner: owner.clone(),
            now,
            lease_until: now + lease_delta(DEFAULT_LEASE),
            run_id: Some(queued.id),
        };
        if let Some(run) = store.claim_run(&claim).await? {
            let executed = execute(
                store.clone(),
                integration,
                run,
                &owner,
                &Leasing {
                    clock: Arc::new(SystemClock),
                    lease: DEFAULT_LEASE,
                },
                options.clone(),
                observer.clone(),
                release.clone(),
            )
            .await?;
            if let Executed::Finished(run) = executed {
                return Ok(run);
            }
        }
        // Another worker holds the run, or one of the same configuration runs: wait for it.
        match store.run(queued.id).await? {
            Some(run) if run.status.is_final() => return Ok(run),
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            None => {
                return Err(EngineError::Store(StoreError::NotFound {
                    what: format!("run {}", queued.id),
                }));
            }
        }
    }
}

/// A process-unique worker identity, e.g. `serve-4711-3f2a9c1b`.
pub fn worker_id(role: &str) -> String {
    format!("{role}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// Where a worker's time comes from and how long its leases last.
#[derive(Clone)]
pub struct Leasing {
    pub clock: Arc<dyn Clock>,
    pub lease: Duration,
}

pub(crate) fn lease_delta(lease: Duration) -> TimeDelta {
    TimeDelta::from_std(lease).unwrap_or(TimeDelta::seconds(30))
}

/// How the execution of a claimed run ended.
#[derive(Debug)]
pub enum Executed {
    /// The run ended with its final status.
    Finished(Run),
    /// The lease was lost (the worker was presumed dead): the run stopped writing; another
    /// worker resumes it.
    LeaseLost,
    /// `release` fired: the run stopped and went back to `QUEUED` to resume later.
    Released,
}

/// Executes a run claimed by `owner`: renews the lease while it works, stops at once when the
/// lease is lost, and when `release` turns true stops and puts the run back to `QUEUED`.
/// Stopping mid-run is safe: the sales orders run commits an intent before every PULPO write and
/// its cursor only past committed work, so resuming never duplicates an order.
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    store: Arc<dyn Store>,
    integration: &Integration,
    run: Run,
    owner: &str,
    leasing: &Leasing,
    mut options: RunOptions,
    observer: Option<Observer>,
    mut release: watch::Receiver<bool>,
) -> Result<Executed, EngineError> {
    let lease = Lease {
        run_id: run.id,
        owner: owner.to_string(),
    };
    options.now = leasing.clock.now().max(options.now);
    let log = RunLog::new(lease.clone(), run.counters, store.clone(), observer);
    tracing::info!(run_id = run.id, integration = %integration.name, trigger = %run.trigger, attempt = run.attempts, "Run started.");
    let work = work(store.as_ref(), integration, &run, &log, &options);
    let heartbeat = heartbeat(store.as_ref(), &lease, leasing);
    let released = async {
        while !*release.borrow_and_update() {
            if release.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    // Whichever ends first wins; dropping `work` stops the run at its next await point, as a
    // crash would, which its exactly-once design makes safe.
    let outcome = tokio::select! {
        outcome = work => outcome,
        () = heartbeat => {
            tracing::warn!(run_id = run.id, integration = %integration.name, "Lease lost; the run stops.");
            return Ok(Executed::LeaseLost);
        }
        () = released => {
            let entry = to_new_entry(messages::run_interrupted_by_shutdown());
            // Entries recorded before the stop are kept; the lease may already be lost.
            match log.flush().await {
                Ok(()) | Err(StoreError::LeaseLost { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            store.release_run(&lease, &entry).await?;
            tracing::info!(run_id = run.id, integration = %integration.name, "Run released.");
            return Ok(Executed::Released);
        }
    };
    let (end, error) = match outcome {
        Ok(ended) => ended,
        Err(error) => {
            tracing::warn!(run_id = run.id, integration = %integration.name, %error, "Database unreachable; the run stops to resume.");
            return release_after_outage(store.as_ref(), &log, &lease, leasing).await;
        }
    };
    let counters = log.counters();
    let status = RunStatus::conclude(&counters, end);
    log.record(messages::run_finished(status, &counters));
    // The end is written even across a database restart: a finished run's work is done, so
    // it waits for the database (as long as its lease lasts) rather than being redone.
    let deadline = tokio::time::Instant::now() + leasing.lease;
    let finished = loop {
        let written = match log.flush().await {
            Ok(()) => {
                store
                    .finish_run(
                        &lease,
                        status,
                        &counters,
                        error.as_deref(),
                        leasing.clock.now(),
                    )
                    .await
            }
            Err(error) => Err(error),
        };
        match written {
            Err(error) if error.is_transient() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(run_id = lease.run_id, %error, "Cannot record the end of the run yet; retrying.");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => break other,
        }
    };
    match finished {
        Ok(run) => {
            tracing::info!(run_id = run.id, integration = %integration.name, %status, "Run finished.");
            Ok(Executed::Finished(run))
        }
        Err(StoreError::LeaseLost { .. }) => Ok(Executed::LeaseLost),
        Err(error) => Err(error.into()),
    }
}

/// A run that lost the database for a moment (a restart, a dropped connection) stops and goes
/// back to the queue to resume, rather than failing: its committed work is safe, and the rest is
/// done when the database answers again. Tries for as long as the lease lasts; after that the
/// reaper of some process puts the run back once the database is up.
async fn release_after_outage(
    store: &dyn Store,
    log: &RunLog,
    lease: &Lease,
    leasing: &Leasing,
) -> Result<Executed, EngineError> {
    let entry = to_new_entry(messages::database_unreachable_resumed());
    let deadline = tokio::time::Instant::now() + leasing.lease;
    loop {
        let flushed = match log.flush().await {
            Ok(()) => Ok(()),
            Err(StoreError::LeaseLost { .. }) => return Ok(Executed::LeaseLost),
            Err(error) => Err(error),
        };
        let released = match flushed {
            Ok(()) => store.release_run(lease, &entry).await,
            Err(error) => Err(error),
        };
        match released {
            Ok(true) => {
                tracing::info!(
                    run_id = lease.run_id,
                    "Run released after the database came back."
                );
                return Ok(Executed::Released);
            }
            Ok(false) => return Ok(Executed::LeaseLost),
            Err(error) if error.is_transient() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The run's own work and how it ended; `Err` when the database was unreachable for a moment
/// (the run should resume rather than fail).
async fn work(
    store: &dyn Store,
    integration: &Integration,
    run: &Run,
    log: &RunLog,
    options: &RunOptions,
) -> Result<(RunEnd, Option<String>), StoreError> {
    let outcome = match integrations::find(&integration.kind) {
        Some(kind) => kind.execute(store, integration, run, log, options).await,
        None => Err(Abort::Entry(LogEntry::error(
            None,
            format!(
                "integration type {:?} is not supported by this tentacle",
                integration.kind
            ),
        ))),
    };
    match outcome {
        Ok(()) => Ok((RunEnd::Completed, None)),
        Err(Abort::Entry(entry)) => {
            let message = entry.message.clone();
            log.record(entry);
            Ok((RunEnd::Aborted, Some(message)))
        }
        Err(Abort::Store(error)) if error.is_transient() => Err(error),
        Err(Abort::Store(error)) => {
            // The run's own bookkeeping failed: record what we can, then report.
            let message = format!("tentacle's database failed during the run: {error}");
            log.record(LogEntry::error(None, message.clone()));
            Ok((RunEnd::Aborted, Some(message)))
        }
    }
}

/// Renews the lease every third of its length; returns when it is lost.
async fn heartbeat(store: &dyn Store, lease: &Lease, leasing: &Leasing) {
    loop {
        tokio::time::sleep(leasing.lease / 3).await;
        let until = leasing.clock.now() + lease_delta(leasing.lease);
        match store.renew_lease(lease, until).await {
            Ok(true) => {}
            Ok(false) => return,
            // A busy database is not a lost lease; the next beat tries again.
            Err(error) => {
                tracing::warn!(run_id = lease.run_id, %error, "Lease renewal failed.");
            }
        }
    }
}

pub(crate) fn to_new_entry(entry: LogEntry) -> NewLogEntry {
    let (record_kind, record) = match &entry.record {
        Some(RecordRef::Order(name)) => (Some("order".to_string()), Some(name.clone())),
        Some(RecordRef::Sku(sku)) => (Some("sku".to_string()), Some(sku.clone())),
        None => (None, None),
    };
    NewLogEntry {
        at: Utc::now(),
        level: entry.level,
        record_kind,
        record,
        message: entry.message,
    }
}
