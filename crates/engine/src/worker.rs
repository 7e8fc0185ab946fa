//! The service loop behind `tentacle serve` and `tentacle worker`: the scheduler tick (in the
//! one process elected to schedule), the reaper of runs whose worker was lost, the retention job
//! ([`crate::retention`]), the alert loop (delivery from the outbox and the stale check, see
//! [`crate::alerts`]), and N claim loops that each work on one run at a time.
//!
//! Shutdown: stop claiming, let running runs finish within the grace period, then release the
//! ones still working back to `QUEUED` so the next start resumes them (without duplicates: the
//! sales orders run is exactly-once across interruptions).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tentacle_domain::messages;
use tentacle_domain::retention::RetentionSettings;
use tentacle_store::{Claim, Reap, Reaped, Run, Store};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::alerts;
use crate::clock::Clock;
use crate::error::EngineError;
use crate::options::RunOptions;
use crate::retention;
use crate::runner::{self, Executed, Leasing, lease_delta, to_new_entry};
use crate::scheduler;

/// How a worker process works.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Claim loops, i.e. runs worked on at once (of different configurations).
    pub workers: usize,
    /// How long a lease lasts without a heartbeat; a worker silent for longer is presumed lost.
    pub lease: Duration,
    /// How often idle loops look for due runs, and the scheduler and reaper tick.
    pub poll: Duration,
    /// How long running runs may go on after shutdown is asked before they are released.
    pub grace: Duration,
    /// How often a run's worker may be lost before the reaper fails the run instead of
    /// resuming it again.
    pub max_losses: i64,
    /// How long ended runs are kept before the retention job deletes them.
    pub retention: RetentionSettings,
}

/// The default retry limit of runs whose worker is lost: the third loss fails the run.
pub const DEFAULT_MAX_LOSSES: i64 = 3;

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            workers: 2,
            lease: runner::DEFAULT_LEASE,
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(30),
            max_losses: DEFAULT_MAX_LOSSES,
            retention: RetentionSettings::default(),
        }
    }
}

/// Schedules, reaps and works on runs until `shutdown` completes, then shuts down as described
/// in the module documentation.
pub async fn serve(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), EngineError> {
    let (stop_tx, stop) = watch::channel(false);
    let (release_tx, release) = watch::channel(false);
    let process = runner::worker_id("serve");
    let leasing = Leasing {
        clock: clock.clone(),
        lease: config.lease,
    };
    let mut loops = JoinSet::new();
    loops.spawn(scheduling(
        store.clone(),
        clock.clone(),
        process.clone(),
        config.clone(),
        stop.clone(),
    ));
    loops.spawn(reaping(
        store.clone(),
        clock.clone(),
        config.clone(),
        stop.clone(),
    ));
    loops.spawn(retaining(
        store.clone(),
        clock.clone(),
        config.retention,
        stop.clone(),
    ));
    loops.spawn(alerts::alerting(
        store.clone(),
        clock.clone(),
        format!("{process}-alerts"),
        config.poll,
        stop.clone(),
        release.clone(),
    ));
    for n in 0..config.workers.max(1) {
        loops.spawn(claim_loop(
            store.clone(),
            leasing.clone(),
            format!("{process}-{n}"),
            config.poll,
            stop.clone(),
            release.clone(),
        ));
    }
    tracing::info!(worker = %process, workers = config.workers, "Worker started.");
    shutdown.await;
    tracing::info!(worker = %process, grace = ?config.grace, "Shutting down: no new runs.");
    let _ = stop_tx.send(true);
    let mut result = Ok(());
    let drained = tokio::time::timeout(config.grace, async {
        while let Some(joined) = loops.join_next().await {
            record(&mut result, joined);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(worker = %process, "Grace period over: releasing running runs.");
        let _ = release_tx.send(true);
        while let Some(joined) = loops.join_next().await {
            record(&mut result, joined);
        }
    }
    result
}

fn record(
    result: &mut Result<(), EngineError>,
    joined: Result<Result<(), EngineError>, tokio::task::JoinError>,
) {
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(%error, "Worker loop failed.");
            *result = Err(error);
        }
        Err(error) => tracing::error!(%error, "Worker loop panicked."),
    }
}

/// The scheduler tick, every `poll`, until stopped, while this process holds the scheduler's
/// role (see [`tentacle_store::SchedulerStore`]): every process offers at each poll, one at a
/// time schedules, and another takes over within a lease (PostgreSQL: at its next poll) when
/// the holder dies. A clean stop gives the role up at once.
async fn scheduling(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    process: String,
    config: WorkerConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let mut scheduling = false;
    while !*stop.borrow() {
        let now = clock.now();
        match store
            .hold_scheduler(&process, now, now + lease_delta(config.lease))
            .await
        {
            Ok(true) => {
                if !scheduling {
                    tracing::info!(scheduler = %process, "This process schedules the runs now.");
                    scheduling = true;
                }
                if let Err(error) = scheduler::tick(store.as_ref(), clock.as_ref()).await {
                    tracing::warn!(%error, "Scheduler tick failed.");
                }
            }
            Ok(false) => {
                if scheduling {
                    tracing::warn!(scheduler = %process, "Another process schedules the runs now.");
                    scheduling = false;
                }
            }
            Err(error) => {
                if scheduling {
                    tracing::warn!(scheduler = %process, %error, "Lost the scheduler's role.");
                    scheduling = false;
                } else {
                    tracing::debug!(%error, "Cannot offer to schedule.");
                }
            }
        }
        let _ = tokio::time::timeout(config.poll, stop.changed()).await;
    }
    if let Err(error) = store.release_scheduler(&process).await {
        tracing::warn!(%error, "Cannot give the scheduler's role up; another process takes over when its lease ends.");
    }
    Ok(())
}

/// The reaper, every `poll`, until stopped; a loop of its own, so a long scheduler tick (the
/// first one after thousands of stores fall due) never delays taking over a dead worker's runs.
/// Unlike the scheduler it runs in every process: it is one indexed query that finds nothing
/// most of the time, each expired run is reaped by exactly one process (the store's guarantee),
/// and a process that is cut off from the elected scheduler still frees the runs of workers
/// that died, so taking over a run never waits for an election.
async fn reaping(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    while !*stop.borrow() {
        if let Err(error) = reap(store.as_ref(), clock.as_ref(), config.max_losses).await {
            tracing::warn!(%error, "Reaper failed.");
        }
        let _ = tokio::time::timeout(config.poll, stop.changed()).await;
    }
    Ok(())
}

/// The retention job, at start and then every [`retention::RETENTION_INTERVAL`], until
/// stopped; a loop of its own, so a long first pass never delays the scheduler or the reaper.
async fn retaining(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: RetentionSettings,
    mut stop: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    while !*stop.borrow() {
        if let Err(error) = retention::prune(
            store.as_ref(),
            clock.as_ref(),
            settings,
            retention::RETENTION_BATCH,
            retention::RETENTION_PAUSE,
            &mut stop,
        )
        .await
        {
            tracing::warn!(%error, "Retention failed; it tries again at its next pass.");
        }
        let _ = tokio::time::timeout(retention::RETENTION_INTERVAL, stop.changed()).await;
    }
    Ok(())
}

/// Puts runs whose worker was lost (lease expired) back to `QUEUED`, logged "worker lost;
/// resumed", or, when their worker has now been lost `max_losses` times, fails them with a log
/// entry saying so.
pub async fn reap(
    store: &dyn Store,
    clock: &dyn Clock,
    max_losses: i64,
) -> Result<Reaped, EngineError> {
    let reaped = store
        .reap_expired_runs(&Reap {
            now: clock.now(),
            max_losses,
            resumed: to_new_entry(messages::worker_lost_resumed()),
            failed: to_new_entry(messages::worker_lost_gave_up(max_losses)),
        })
        .await?;
    for id in &reaped.requeued {
        tracing::warn!(run_id = id, "Worker lost; run queued to resume.");
    }
    for id in &reaped.failed {
        tracing::error!(
            run_id = id,
            max_losses,
            "Worker lost too often; run failed."
        );
    }
    Ok(reaped)
}

/// Claims and executes runs one at a time until stopped. Idle, it waits for a wake-up (a run
/// queued or freed anywhere, see [`tentacle_store::WakeUps`]) or `poll`, whichever comes first:
/// runs that become due with time are found by polling. A wake-up that comes while the loop
/// works is kept for the next idle loop.
async fn claim_loop(
    store: Arc<dyn Store>,
    leasing: Leasing,
    owner: String,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
    release: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let mut wake_ups = store.wake_ups();
    while !*stop.borrow() {
        match claim_next(store.as_ref(), &leasing, &owner).await {
            Ok(Some(run)) => {
                // More runs may have become claimable at once: the next idle loop looks too.
                wake_ups.pass_on();
                if let Err(error) =
                    execute_claimed(store.clone(), &leasing, &owner, run, release.clone()).await
                {
                    tracing::warn!(worker = %owner, %error, "Running a run failed.");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(worker = %owner, %error, "Claiming a run failed.")
            }
        }
        tokio::select! {
            _ = wake_ups.wait(poll) => {}
            _ = stop.changed() => {}
        }
    }
    Ok(())
}

/// Claims the oldest due run that may start and executes it; `None` when there was none.
pub async fn work_once(
    store: Arc<dyn Store>,
    leasing: &Leasing,
    owner: &str,
    release: watch::Receiver<bool>,
) -> Result<Option<Executed>, EngineError> {
    let Some(run) = claim_next(store.as_ref(), leasing, owner).await? else {
        return Ok(None);
    };
    execute_claimed(store, leasing, owner, run, release)
        .await
        .map(Some)
}

/// Claims the oldest due run that may start, under a lease for `owner`.
async fn claim_next(
    store: &dyn Store,
    leasing: &Leasing,
    owner: &str,
) -> Result<Option<Run>, EngineError> {
    let now = leasing.clock.now();
    let claim = Claim {
        owner: owner.to_string(),
        now,
        lease_until: now + lease_delta(leasing.lease),
        run_id: None,
    };
    Ok(store.claim_run(&claim).await?)
}

/// Executes a run `owner` claimed.
async fn execute_claimed(
    store: Arc<dyn Store>,
    leasing: &Leasing,
    owner: &str,
    run: Run,
    release: watch::Receiver<bool>,
) -> Result<Executed, EngineError> {
    let now = leasing.clock.now();
    let integration = store
        .integration(run.integration_id)
        .await?
        .ok_or(EngineError::IntegrationNotFound(run.integration_id))?;
    let options = RunOptions {
        now,
        ..RunOptions::default()
    };
    runner::execute(
        store,
        &integration,
        run,
        owner,
        leasing,
        options,
        None,
        release,
    )
    .await
}
