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
//! The daily/regular exclusion is enforced at claim time by the store from each run's
//! [`RunExclusion`]: the daily run of a Shopify store is the `daily` role, regular sales orders
//! runs of that store the `regular` role.

use chrono::{DateTime, Utc};
use tentacle_domain::messages;
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_domain::schedule::Schedule;
use tentacle_domain::settings::SalesOrderSettings;
use tentacle_store::{ExclusionRole, Integration, Run, RunExclusion, RunFilter, RunRequest, Store};

use crate::clock::Clock;
use crate::integrations::sales_orders;
use crate::log::RunLog;
use crate::runner::EngineError;

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
    let settings = sales_order_settings(integration)?;
    let schedule = Schedule::of_sales_orders(&settings).ok()??;
    let trigger = match schedule {
        Schedule::Every { .. } => Trigger::Schedule,
        Schedule::Daily { .. } => Trigger::Daily,
    };
    Some((schedule, trigger))
}

fn sales_order_settings(integration: &Integration) -> Option<SalesOrderSettings> {
    if integration.kind != sales_orders::TYPE {
        return None;
    }
    serde_json::from_value(integration.settings.clone()).ok()
}

/// Whether the configuration is a daily re-fetch.
pub fn is_daily(integration: &Integration) -> bool {
    sales_order_settings(integration).is_some_and(|s| s.transfer_once_a_day)
}

/// The exclusion of a sales orders configuration's runs: keyed by its Shopify store (origin
/// credential), daily or regular. `None` for other types.
pub fn exclusion_of(integration: &Integration) -> Option<RunExclusion> {
    let settings = sales_order_settings(integration)?;
    Some(RunExclusion {
        key: format!("shopify:{}", integration.origin_credential_id),
        role: if settings.transfer_once_a_day {
            ExclusionRole::Daily
        } else {
            ExclusionRole::Regular
        },
        gap_seconds: settings.time_difference_seconds,
    })
}

/// Logs [`messages::daily_run_postponed`] on a daily run's first start when a regular run of the
/// same store ended after the daily run was due (the daily run waited for it).
pub(crate) async fn log_postponement(
    store: &dyn Store,
    daily: &Integration,
    run: &Run,
    log: &RunLog,
) -> Result<(), EngineError> {
    let (Some(due), Some(settings)) = (run.due_at, sales_order_settings(daily)) else {
        return Ok(());
    };
    if run.attempts > 1 {
        return Ok(());
    }
    let regulars = store.integrations().await?.into_iter().filter(|i| {
        i.id != daily.id
            && i.origin_credential_id == daily.origin_credential_id
            && sales_order_settings(i).is_some_and(|s| !s.transfer_once_a_day)
    });
    for regular in regulars {
        let recent = store
            .runs(&RunFilter {
                integration_id: Some(regular.id),
                status: None,
                limit: Some(5),
                ..RunFilter::default()
            })
            .await?;
        if recent
            .iter()
            .any(|r| r.finished_at.is_some_and(|end| end >= due))
        {
            log.record(messages::daily_run_postponed(
                &regular.name,
                settings.time_difference_seconds,
            ));
            return Ok(());
        }
    }
    Ok(())
}
