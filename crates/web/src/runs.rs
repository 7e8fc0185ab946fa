//! `/api/runs`: runs with their counters, and their log entries. Both lists page by id
//! (keyset): pass the `next_…` value of one page to get the next.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tentacle_domain::run::{LogLevel, RunStatus};
use tentacle_store::{LogFilter, Run, RunFilter, StoredLogEntry};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody, Result, query};

const MAX_PAGE: u32 = 500;
const DEFAULT_RUNS: u32 = 50;
const DEFAULT_LOGS: u32 = 200;

/// What a run counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountersView {
    pub fetched: u64,
    pub created: u64,
    pub updated: u64,
    pub cancelled: u64,
    pub skipped: u64,
    pub failed: u64,
    pub conflicts: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: i64,
    pub integration_id: i64,
    /// `schedule`, `daily`, `manual` or `webhook`.
    pub trigger: String,
    /// `QUEUED`, `RUNNING`, `FINISHED`, `FINISHED_PARTIALLY` or `FAILED`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    /// How often a worker started the run: more than 1 when it resumed after a shutdown, a lost
    /// worker or a database outage.
    pub attempts: i64,
    /// The worker holding the run while it is `RUNNING`, as `role-pid-suffix` (e.g.
    /// `serve-4711-3f2a9c1b-0`), so an operator can tell which process on which machine works
    /// on it.
    pub worker: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub counters: CountersView,
    /// Why the run failed, when it did.
    pub error: Option<String>,
}

impl From<&Run> for RunView {
    fn from(run: &Run) -> Self {
        let c = &run.counters;
        RunView {
            id: run.id,
            integration_id: run.integration_id,
            trigger: run.trigger.as_str().to_string(),
            status: run.status.as_str().to_string(),
            started_at: run.started_at,
            attempts: run.attempts,
            worker: run.worker.clone(),
            finished_at: run.finished_at,
            duration_ms: run
                .finished_at
                .map(|end| (end - run.started_at).num_milliseconds()),
            counters: CountersView {
                fetched: c.fetched,
                created: c.created,
                updated: c.updated,
                cancelled: c.cancelled,
                skipped: c.skipped,
                failed: c.failed,
                conflicts: c.conflicts,
            },
            error: run.error.clone(),
        }
    }
}

/// One page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunView>,
    /// Pass as `before_id` for the next page; absent on the last page.
    pub next_before_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Only runs of this integration.
    integration_id: Option<i64>,
    /// `RUNNING`, `FINISHED`, `FINISHED_PARTIALLY` or `FAILED`.
    #[param(value_type = Option<String>)]
    status: Option<RunStatus>,
    /// Only runs started at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only runs started before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Only runs older than this id (the next page).
    before_id: Option<i64>,
    /// Page size, 1–500 (default 50).
    limit: Option<u32>,
}

fn page_size(limit: Option<u32>, default: u32) -> Result<u32> {
    match limit.unwrap_or(default) {
        n @ 1..=MAX_PAGE => Ok(n),
        n => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}, not {n}"
        ))),
    }
}

#[utoipa::path(get, path = "/api/runs", tag = "runs",
    security(("bearer" = [])),
    params(RunsQuery),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    params: std::result::Result<Query<RunsQuery>, QueryRejection>,
) -> Result<Json<RunPage>> {
    let params = query(params)?;
    let limit = page_size(params.limit, DEFAULT_RUNS)?;
    // One more than asked tells whether there is a next page.
    let mut runs = state
        .store
        .runs(&RunFilter {
            integration_id: params.integration_id,
            status: params.status,
            started_from: params.from,
            started_until: params.until,
            before_id: params.before_id,
            limit: Some(limit + 1),
        })
        .await?;
    let more = runs.len() > limit as usize;
    runs.truncate(limit as usize);
    Ok(Json(RunPage {
        next_before_id: if more {
            runs.last().map(|r| r.id)
        } else {
            None
        },
        runs: runs.iter().map(RunView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RunView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<RunView>> {
    let run = state
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run {id}")))?;
    Ok(Json(RunView::from(&run)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogEntryView {
    pub id: i64,
    pub run_id: i64,
    pub at: DateTime<Utc>,
    /// `INFO`, `WARNING` or `ERROR`.
    pub level: String,
    /// What kind of record the entry concerns (`order`, `sku`).
    pub record_kind: Option<String>,
    /// Which record (`#1001`, `ABC-1`).
    pub record: Option<String>,
    pub message: String,
}

impl From<&StoredLogEntry> for LogEntryView {
    fn from(entry: &StoredLogEntry) -> Self {
        LogEntryView {
            id: entry.id,
            run_id: entry.run_id,
            at: entry.at,
            level: entry.level.as_str().to_string(),
            record_kind: entry.record_kind.clone(),
            record: entry.record.clone(),
            message: entry.message.clone(),
        }
    }
}

/// One page of a run's log, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    pub entries: Vec<LogEntryView>,
    /// Pass as `after_id` for the next page; absent on the last page.
    pub next_after_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Only entries at this level or more severe: `INFO`, `WARNING` or `ERROR`.
    #[param(value_type = Option<String>)]
    level: Option<LogLevel>,
    /// Only entries about this record (order name such as `#1001`, or SKU).
    record: Option<String>,
    /// Only entries after this id (the next page).
    after_id: Option<i64>,
    /// Page size, 1–500 (default 200).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/runs/{id}/logs", tag = "runs",
    security(("bearer" = [])),
    params(("id" = i64, Path), LogsQuery),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_logs(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    params: std::result::Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Json<LogPage>> {
    let params = query(params)?;
    let limit = page_size(params.limit, DEFAULT_LOGS)?;
    if state.store.run(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("run {id}")));
    }
    let mut entries = state
        .store
        .logs(
            id,
            &LogFilter {
                min_level: params.level,
                record: params.record.filter(|r| !r.trim().is_empty()),
                after_id: params.after_id,
                limit: Some(limit + 1),
            },
        )
        .await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    Ok(Json(LogPage {
        next_after_id: if more {
            entries.last().map(|e| e.id)
        } else {
            None
        },
        entries: entries.iter().map(LogEntryView::from).collect(),
    }))
}
