//! The Integration controls tab: one row per configuration with its state, last and next run,
//! start/stop and "Run now". The rows refresh themselves (`/controls/rows`) while runs progress.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls;

use super::{Badge, DoneQuery, Ui, UiResult, engine_error, html, internal, notice, when, when_opt};
use crate::AppState;

struct Row {
    id: i64,
    name: String,
    kind: String,
    active: bool,
    /// What it is doing now, in words.
    state: String,
    /// The run in progress, else the last one that ended.
    run_id: Option<i64>,
    badge: Option<Badge>,
    last_time: String,
    next_time: String,
}

#[derive(askama::Template)]
#[template(path = "controls.html")]
struct Page {
    ui: Ui,
    tab: &'static str,
    rows: Vec<Row>,
    notice: Option<&'static str>,
}

#[derive(askama::Template)]
#[template(path = "controls_rows.html")]
struct Rows {
    ui: Ui,
    rows: Vec<Row>,
}

async fn rows_of(state: &AppState) -> UiResult<Vec<Row>> {
    let integrations = state.store.integrations().await.map_err(internal)?;
    let mut rows = Vec::with_capacity(integrations.len());
    for integration in integrations {
        let current = controls::state(state.store.as_ref(), integration.id, &SystemClock)
            .await
            .map_err(internal)?;
        let shown = current.current_run.as_ref().or(current.last_run.as_ref());
        let state_text = match &current.current_run {
            Some(run) => format!("Running since {}", when(run.started_at)),
            None if !current.active => "Stopped".to_string(),
            None => "Idle, waiting for its next run".to_string(),
        };
        rows.push(Row {
            id: integration.id,
            name: integration.name,
            kind: integration.kind.replace('_', " "),
            active: current.active,
            state: state_text,
            run_id: shown.map(|r| r.id),
            badge: shown.map(|r| Badge::of(r.status)),
            last_time: when_opt(shown.map(|r| r.finished_at.unwrap_or(r.started_at))),
            next_time: when_opt(current.next_run_at),
        });
    }
    Ok(rows)
}

pub(crate) async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<DoneQuery>,
) -> UiResult {
    html(&Page {
        ui,
        tab: "controls",
        rows: rows_of(&state).await?,
        notice: notice(query.done.as_deref()),
    })
}

/// The table body alone, for the live refresh.
pub(crate) async fn rows(State(state): State<AppState>, ui: Ui) -> UiResult {
    html(&Rows {
        ui,
        rows: rows_of(&state).await?,
    })
}

pub(crate) async fn start(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    controls::start(state.store.as_ref(), id)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = id, user = %ui.user, "Integration started.");
    Ok(Redirect::to("/controls?done=started").into_response())
}

pub(crate) async fn stop(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    controls::stop(state.store.as_ref(), id)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = id, user = %ui.user, "Integration stopped.");
    Ok(Redirect::to("/controls?done=stopped").into_response())
}

pub(crate) async fn run_now(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
) -> UiResult {
    let run = controls::run_now(state.store.as_ref(), id, &SystemClock)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = id, run_id = run.id, user = %ui.user, "Run queued by hand.");
    Ok(Redirect::to("/controls?done=queued").into_response())
}
