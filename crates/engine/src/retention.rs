//! The retention job: deletes ended runs and their log entries once they are older than the
//! retention settings ([`RetentionSettings`]), in small batches with a pause between, so runs
//! writing meanwhile never wait for it. Every `serve` and `worker` process runs it at start and
//! then every [`RETENTION_INTERVAL`]; several at once share the work (each batch is one short
//! transaction, and PostgreSQL's skip the rows another one holds).

use std::time::Duration;

use chrono::TimeDelta;
use tentacle_domain::retention::RetentionSettings;
use tentacle_store::{Pruned, Retention, Store};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::error::EngineError;

/// How often the job looks for expired runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Log entries (and runs) deleted per transaction.
pub const RETENTION_BATCH: u32 = 500;
/// The pause between two batches, which lets runs' writes in between.
pub const RETENTION_PAUSE: Duration = Duration::from_millis(200);

/// What the job deletes now: runs that ended more than the settings' days ago.
pub fn retention_at(clock: &dyn Clock, settings: RetentionSettings, batch: u32) -> Retention {
    let now = clock.now();
    Retention {
        ended_before: now - TimeDelta::days(i64::from(settings.retention_days)),
        failed_ended_before: now - TimeDelta::days(i64::from(settings.retention_failed_days)),
        batch,
    }
}

/// Deletes every expired run, batch after batch with `pause` between, until none is left or
/// `stop` turns true; the total deleted.
pub async fn prune(
    store: &dyn Store,
    clock: &dyn Clock,
    settings: RetentionSettings,
    batch: u32,
    pause: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Pruned, EngineError> {
    let mut total = Pruned::default();
    // The limits are fixed for one pass: a pass that takes long does not chase runs that
    // expire while it works (the next pass takes them).
    let retention = retention_at(clock, settings, batch);
    loop {
        let pruned = store.prune_runs(&retention).await?;
        total.runs += pruned.runs;
        total.log_entries += pruned.log_entries;
        if pruned == Pruned::default() || *stop.borrow() {
            break;
        }
        if tokio::time::timeout(pause, stop.changed()).await.is_ok() {
            break;
        }
    }
    if total != Pruned::default() {
        tracing::info!(
            runs = total.runs,
            log_entries = total.log_entries,
            retention_days = settings.retention_days,
            retention_failed_days = settings.retention_failed_days,
            "Retention: old runs deleted."
        );
    }
    Ok(total)
}
