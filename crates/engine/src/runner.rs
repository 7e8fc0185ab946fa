//! Running one integration: record the run, execute its type's logic, log every outcome, set
//! the final status.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tentacle_domain::messages;
use tentacle_domain::run::{LogEntry, RunEnd, RunStatus, Trigger};
use tentacle_store::{Integration, Run, Store, StoreError};

use crate::integrations::{self, Abort};
use crate::log::{Observer, RunLog};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("integration type {0:?} is not supported")]
    UnknownType(String),
}

/// How a run works; the defaults suit production.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// PULPO requests in flight at once: set it to the concurrency the PULPO instance serves
    /// (beyond it PULPO answers 429). Also how many orders are decided at once.
    pub pulpo_concurrency: usize,
    /// Shopify orders per page.
    pub page_size: u32,
    /// The run's notion of "now" (injected so tests and the scheduler control time).
    pub now: DateTime<Utc>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            pulpo_concurrency: 8,
            page_size: 50,
            now: Utc::now(),
        }
    }
}

/// Runs `integration` once and returns the finished run. Errors only when the store itself
/// fails; everything else ends up in the run's status and log.
pub async fn run_integration(
    store: Arc<dyn Store>,
    integration: &Integration,
    trigger: Trigger,
    options: RunOptions,
    observer: Option<Observer>,
) -> Result<Run, EngineError> {
    let run = store
        .start_run(integration.id, trigger, options.now)
        .await?;
    let log = RunLog::new(run.id, store.clone(), observer);
    tracing::info!(run_id = run.id, integration = %integration.name, %trigger, "Run started.");
    let outcome = match integration.kind.as_str() {
        integrations::sales_orders::TYPE => {
            integrations::sales_orders::run(store.as_ref(), integration, &log, &options).await
        }
        other => Err(Abort::Entry(LogEntry::error(
            None,
            format!("integration type {other:?} is not supported by this tentacle"),
        ))),
    };
    let (end, error) = match outcome {
        Ok(()) => (RunEnd::Completed, None),
        Err(Abort::Entry(entry)) => {
            let message = entry.message.clone();
            log.record(entry);
            (RunEnd::Aborted, Some(message))
        }
        Err(Abort::Store(error)) => {
            // The run's own bookkeeping failed: record what we can, then report.
            let message = format!("tentacle's database failed during the run: {error}");
            log.record(LogEntry::error(None, message.clone()));
            (RunEnd::Aborted, Some(message))
        }
    };
    let counters = log.counters();
    let status = RunStatus::conclude(&counters, end);
    log.record(messages::run_finished(status, &counters));
    log.flush().await?;
    let finished = store
        .finish_run(run.id, status, &counters, error.as_deref(), Utc::now())
        .await?;
    tracing::info!(run_id = run.id, integration = %integration.name, %status, "Run finished.");
    Ok(finished)
}
