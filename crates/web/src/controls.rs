//! `/api/integrations/{id}/start|stop|run|state`: the integration controls (SPEC §1). They go
//! through the engine's controls, so the API, the CLI and every `tentacle serve` process see
//! one state: the store's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tentacle_engine::EngineError;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls::{self, ControlState};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, Result};
use crate::runs::RunView;

/// What the integration controls panel shows for one configuration.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlsView {
    pub integration_id: i64,
    /// Whether the schedule queues its runs.
    pub active: bool,
    /// `active` or `stopped`.
    pub state: String,
    /// The run in progress, if any.
    pub current_run: Option<RunView>,
    /// The most recent run that ended, with its status.
    pub last_run: Option<RunView>,
    /// When it runs next: its earliest queued run, else its next due time when active.
    pub next_run_at: Option<DateTime<Utc>>,
}

impl ControlsView {
    fn new(integration_id: i64, state: &ControlState) -> ControlsView {
        ControlsView {
            integration_id,
            active: state.active,
            state: if state.active { "active" } else { "stopped" }.to_string(),
            current_run: state.current_run.as_ref().map(RunView::from),
            last_run: state.last_run.as_ref().map(RunView::from),
            next_run_at: state.next_run_at,
        }
    }
}

pub(crate) fn engine_error(error: EngineError) -> ApiError {
    match error {
        EngineError::IntegrationNotFound(id) => ApiError::NotFound(format!("integration {id}")),
        EngineError::Store(error) => ApiError::Store(error),
    }
}

async fn view(state: &AppState, id: i64) -> Result<Json<ControlsView>> {
    let current = controls::state(state.store.as_ref(), id, &SystemClock)
        .await
        .map_err(engine_error)?;
    Ok(Json(ControlsView::new(id, &current)))
}

#[utoipa::path(get, path = "/api/integrations/{id}/state", tag = "controls",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ControlsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_state(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ControlsView>> {
    view(&state, id).await
}

/// Starts the configuration: its schedule queues runs from its next due time on.
#[utoipa::path(post, path = "/api/integrations/{id}/start", tag = "controls",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ControlsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn start(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ControlsView>> {
    controls::start(state.store.as_ref(), id)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = id, "Integration started.");
    view(&state, id).await
}

/// Stops the configuration: no new runs; a running run finishes.
#[utoipa::path(post, path = "/api/integrations/{id}/stop", tag = "controls",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ControlsView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn stop(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<ControlsView>> {
    controls::stop(state.store.as_ref(), id)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = id, "Integration stopped.");
    view(&state, id).await
}

/// "Run now": queues a manual run at once; it starts when no run of the configuration is in
/// progress, never alongside one.
#[utoipa::path(post, path = "/api/integrations/{id}/run", tag = "controls",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 202, body = RunView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn run_now(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<RunView>)> {
    let run = controls::run_now(state.store.as_ref(), id, &SystemClock)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = id, run_id = run.id, "Run queued by hand.");
    Ok((StatusCode::ACCEPTED, Json(RunView::from(&run))))
}
