//! The run page: status, trigger, timings, counters and the log entries, filtered by level and
//! searched by order name or SKU. While the run is queued or running, the page refreshes its
//! live part (`/runs/{id}/live`).

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tentacle_domain::run::{LogLevel, RunStatus};
use tentacle_store::{LogFilter, Run};

use super::{Badge, Ui, UiResult, api_error, html, internal, when, when_opt};
use crate::AppState;
use crate::error::ApiError;

/// Entries shown at once; a search narrows a longer log.
const MAX_ENTRIES: u32 = 1000;

#[derive(Deserialize, Default)]
pub(crate) struct LogQuery {
    #[serde(default)]
    level: String,
    #[serde(default)]
    q: String,
}

struct Entry {
    at: String,
    level: &'static str,
    level_class: &'static str,
    record: String,
    message: String,
}

struct Live {
    id: i64,
    /// Whether the page keeps refreshing.
    live: bool,
    live_url: String,
    badge: Badge,
    trigger: String,
    started: String,
    finished: String,
    duration: String,
    /// Which worker process holds the run while it runs, and how often it started.
    worker: Option<String>,
    attempts: i64,
    counters: Vec<(&'static str, u64)>,
    error: Option<String>,
    entries: Vec<Entry>,
    truncated: bool,
}

#[derive(askama::Template)]
#[template(path = "run.html")]
struct Page {
    ui: Ui,
    tab: &'static str,
    integration: String,
    integration_id: i64,
    level: String,
    q: String,
    run: Live,
}

#[derive(askama::Template)]
#[template(path = "run_live.html")]
struct LivePart {
    run: Live,
}

fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

async fn live(state: &AppState, run: &Run, query: &LogQuery) -> UiResult<Live> {
    let level = query.level.parse::<LogLevel>().ok();
    let mut entries = state
        .store
        .logs(
            run.id,
            &LogFilter {
                min_level: level,
                record: Some(query.q.trim().to_string()).filter(|q| !q.is_empty()),
                after_id: None,
                limit: Some(MAX_ENTRIES + 1),
            },
        )
        .await
        .map_err(internal)?;
    let truncated = entries.len() > MAX_ENTRIES as usize;
    entries.truncate(MAX_ENTRIES as usize);
    let c = &run.counters;
    let running = matches!(run.status, RunStatus::Queued | RunStatus::Running);
    Ok(Live {
        id: run.id,
        live: running,
        live_url: format!(
            "/runs/{}/live?level={}&q={}",
            run.id,
            encode(&query.level),
            encode(&query.q)
        ),
        badge: Badge::of(run.status),
        trigger: run.trigger.as_str().to_string(),
        started: if run.status == RunStatus::Queued && run.attempts == 0 {
            format!("not yet (due {})", when(run.started_at))
        } else {
            when(run.started_at)
        },
        finished: when_opt(run.finished_at),
        worker: run.worker.clone(),
        attempts: run.attempts,
        duration: run
            .finished_at
            .map(|end| {
                let ms = (end - run.started_at).num_milliseconds();
                format!("{}.{:03} s", ms / 1000, ms % 1000)
            })
            .unwrap_or_else(|| "—".into()),
        counters: vec![
            ("Fetched", c.fetched),
            ("Created", c.created),
            ("Updated", c.updated),
            ("Cancelled", c.cancelled),
            ("Skipped", c.skipped),
            ("Failed", c.failed),
            ("Conflicts", c.conflicts),
        ],
        error: run.error.clone(),
        entries: entries
            .iter()
            .map(|e| Entry {
                at: e.at.format("%H:%M:%S%.3f").to_string(),
                level: e.level.as_str(),
                level_class: match e.level {
                    LogLevel::Info => "info",
                    LogLevel::Warning => "warn",
                    LogLevel::Error => "bad",
                },
                record: e.record.clone().unwrap_or_default(),
                message: e.message.clone(),
            })
            .collect(),
        truncated,
    })
}

async fn find(state: &AppState, id: i64) -> UiResult<Run> {
    state
        .store
        .run(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| api_error(ApiError::NotFound(format!("run {id}"))))
}

pub(crate) async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Query(query): Query<LogQuery>,
) -> UiResult {
    let run = find(&state, id).await?;
    let integration = state
        .store
        .integration(run.integration_id)
        .await
        .map_err(internal)?
        .map(|i| i.name)
        .unwrap_or_else(|| format!("integration {}", run.integration_id));
    html(&Page {
        ui,
        tab: "controls",
        integration,
        integration_id: run.integration_id,
        level: query.level.clone(),
        q: query.q.clone(),
        run: live(&state, &run, &query).await?,
    })
}

/// The status, counters and entries alone, for the live refresh.
pub(crate) async fn live_part(
    State(state): State<AppState>,
    _ui: Ui,
    Path(id): Path<i64>,
    Query(query): Query<LogQuery>,
) -> UiResult {
    let run = find(&state, id).await?;
    html(&LivePart {
        run: live(&state, &run, &query).await?,
    })
}
