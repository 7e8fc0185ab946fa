//! Turns each active configuration's schedule into queued runs, exactly once per due time.
//!
//! Every tick queues, for each active configuration with automatic transfer, its **next** due
//! time (strictly after now; see [`tentacle_domain::schedule`] for the regular and daily rules).
//! The run sits `QUEUED` until it is due, so the next run is visible ahead (the controls' "next
//! run") and the daily run can see a regular run "due within the time difference" (SPEC §3.4).
//! The store makes this idempotent: one run per (configuration, due time) whatever the number
//! of schedulers, and no new run while one that never started is still queued (a run that
//! overruns its period is followed by one catch-up run, not a pile). A configuration that
//! becomes active waits for its first due time; after downtime, the due time queued before
//! runs once, late.
//!
//! Exclusions between configurations (the sales orders daily re-fetch and the regular runs of one
//! store) are enforced at claim time by the store from each run's [`RunExclusion`], which the
//! configuration's type declares.

use chrono::{DateTime, Utc};
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_domain::schedule::Schedule;
use tentacle_store::{Integration, RunExclusion, RunFilter, RunRequest, Store};

use crate::clock::Clock;
use crate::error::EngineError;
use crate::integrations;

/// Queues the next due run of every active configuration; returns how many runs it created.
pub async fn tick(store: &dyn Store, clock: &dyn Clock) -> Result<usize, EngineError> {
    let now = clock.now();
    let integrations = store.integrations().await?;
    // One query instead of one transaction per configuration: with thousands of stores and
    // every process ticking every second, the per-configuration enqueue would be most of the
    // database's work. The store still decides; this only skips what it would refuse.
    let queued = store.queued_unstarted_due().await?;
    let mut created = 0;
    for integration in integrations.iter().filter(|i| i.active) {
        let Some((schedule, trigger)) = schedule_of(integration) else {
            continue;
        };
        let due_at = schedule.next_after(now);
        if queued
            .get(&integration.id)
            .is_some_and(|due| *due <= due_at)
        {
            continue;
        }
        let enqueued = store
            .enqueue_run(&RunRequest {
                integration_id: integration.id,
                trigger,
                due_at,
                exclusion: exclusion_of(integration),
            })
            .await?;
        if enqueued.created {
            created += 1;
            tracing::debug!(integration = %integration.name, run_id = enqueued.run.id, %due_at, "Run queued.");
        }
    }
    Ok(created)
}

/// When the configuration runs next: its earliest queued run, else (when active) its next due
/// time.
pub async fn next_run_at(
    store: &dyn Store,
    integration: &Integration,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, EngineError> {
    let queued = store
        .runs(&RunFilter {
            integration_id: Some(integration.id),
            status: Some(RunStatus::Queued),
            limit: Some(100),
            ..RunFilter::default()
        })
        .await?;
    if let Some(due) = queued.iter().filter_map(|r| r.due_at).min() {
        return Ok(Some(due));
    }
    if !integration.active {
        return Ok(None);
    }
    Ok(schedule_of(integration).map(|(schedule, _)| schedule.next_after(now)))
}

/// The schedule and trigger of a configuration's automatic runs; `None` when it has none (or
/// its settings cannot be read: its runs say why when run by hand).
fn schedule_of(integration: &Integration) -> Option<(Schedule, Trigger)> {
    let schedule = integrations::find(&integration.kind)?.schedule(integration)?;
    let trigger = match schedule {
        Schedule::Every { .. } => Trigger::Schedule,
        Schedule::Daily { .. } => Trigger::Daily,
    };
    Some((schedule, trigger))
}

/// The exclusion of a configuration's runs, as its type declares it (see
/// [`crate::integrations::IntegrationType::exclusion`]).
pub fn exclusion_of(integration: &Integration) -> Option<RunExclusion> {
    integrations::find(&integration.kind)?.exclusion(integration)
}
