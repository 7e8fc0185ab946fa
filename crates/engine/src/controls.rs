//! Integration controls (SPEC §1): start and stop a configuration, "run now", and the state the
//! controls panel shows. Used by the JSON API and the CLI; all writes go through the store, so
//! any number of processes see the same state.

use chrono::{DateTime, Utc};
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_store::{Integration, Run, RunFilter, RunRequest, Store};

use crate::clock::Clock;
use crate::error::EngineError;
use crate::scheduler;

/// What the controls panel shows for one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlState {
    /// Whether scheduled runs are queued for it.
    pub active: bool,
    /// The run in progress, if any.
    pub current_run: Option<Run>,
    /// The most recent run that ended.
    pub last_run: Option<Run>,
    /// When it runs next: its earliest queued run (a manual one included), else its next due
    /// time when active.
    pub next_run_at: Option<DateTime<Utc>>,
}

async fn integration(store: &dyn Store, integration_id: i64) -> Result<Integration, EngineError> {
    store
        .integration(integration_id)
        .await?
        .ok_or(EngineError::IntegrationNotFound(integration_id))
}

/// Activates the configuration: the scheduler queues its runs from its next due time on.
pub async fn start(store: &dyn Store, integration_id: i64) -> Result<Integration, EngineError> {
    store
        .set_integration_active(integration_id, true)
        .await?
        .ok_or(EngineError::IntegrationNotFound(integration_id))
}

/// Stops the configuration: no new runs, its queued runs that never started are dropped; a
/// running run finishes (and one interrupted by a shutdown still resumes).
pub async fn stop(store: &dyn Store, integration_id: i64) -> Result<Integration, EngineError> {
    store
        .set_integration_active(integration_id, false)
        .await?
        .ok_or(EngineError::IntegrationNotFound(integration_id))
}

/// Queues a manual run due now and returns it (`QUEUED`); a worker starts it as soon as the
/// configuration has no run in progress, never alongside one. When a run that never started is
/// already queued and due, that run is returned instead of a second one.
pub async fn run_now(
    store: &dyn Store,
    integration_id: i64,
    clock: &dyn Clock,
) -> Result<Run, EngineError> {
    let integration = integration(store, integration_id).await?;
    let enqueued = store
        .enqueue_run(&RunRequest {
            integration_id,
            trigger: Trigger::Manual,
            due_at: clock.now(),
            exclusion: scheduler::exclusion_of(&integration),
        })
        .await?;
    Ok(enqueued.run)
}

/// The configuration's controls state.
pub async fn state(
    store: &dyn Store,
    integration_id: i64,
    clock: &dyn Clock,
) -> Result<ControlState, EngineError> {
    let integration = integration(store, integration_id).await?;
    let current_run = store
        .runs(&RunFilter {
            integration_id: Some(integration_id),
            status: Some(RunStatus::Running),
            limit: Some(1),
            ..RunFilter::default()
        })
        .await?
        .into_iter()
        .next();
    // Newest first; queued runs are skipped, so look a little further back than one.
    let last_run = store
        .runs(&RunFilter {
            integration_id: Some(integration_id),
            status: None,
            limit: Some(50),
            ..RunFilter::default()
        })
        .await?
        .into_iter()
        .find(|r| r.status.is_final());
    let next_run_at = scheduler::next_run_at(store, &integration, clock.now()).await?;
    Ok(ControlState {
        active: integration.active,
        current_run,
        last_run,
        next_run_at,
    })
}
