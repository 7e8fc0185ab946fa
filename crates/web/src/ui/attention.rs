//! The attention list: records (orders, SKUs, …) that failed or are in conflict, newest first,
//! with the reason. "Retry" queues a run of the record's integration (every run handles its
//! flagged records again first); "Mark resolved" clears a conflict the operator settled by hand.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls;
use tentacle_store::{AttentionKey, AttentionKind, RecordKind};

use super::{DoneQuery, Ui, UiResult, engine_error, html, internal, notice, when};
use crate::AppState;

struct Item {
    integration_id: i64,
    integration: String,
    record_kind: RecordKind,
    record_id: String,
    record_label: String,
    conflict: bool,
    reason: String,
    attempts: i64,
    run_id: Option<i64>,
    updated: String,
}

#[derive(askama::Template)]
#[template(path = "attention.html")]
struct Page {
    ui: Ui,
    tab: &'static str,
    items: Vec<Item>,
    notice: Option<&'static str>,
}

pub(crate) async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<DoneQuery>,
) -> UiResult {
    let names: HashMap<i64, String> = state
        .store
        .integrations()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|i| (i.id, i.name))
        .collect();
    let flagged = state.store.flags(None).await.map_err(internal)?;
    let items = flagged
        .into_iter()
        .map(|a| Item {
            integration: names
                .get(&a.key.integration_id)
                .cloned()
                .unwrap_or_else(|| format!("integration {}", a.key.integration_id)),
            integration_id: a.key.integration_id,
            record_kind: a.key.record_kind,
            record_id: a.key.record_id,
            record_label: a.record_label,
            conflict: a.kind == AttentionKind::Conflict,
            reason: a.reason,
            attempts: a.attempts,
            run_id: a.run_id,
            updated: when(a.updated_at),
        })
        .collect();
    html(&Page {
        ui,
        tab: "attention",
        items,
        notice: notice(query.done.as_deref()),
    })
}

#[derive(Deserialize)]
pub(crate) struct RetryForm {
    integration_id: i64,
}

/// Queues a run now; it handles the flagged records again first. The browser follows the run.
pub(crate) async fn retry(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<RetryForm>,
) -> UiResult {
    let run = controls::run_now(state.store.as_ref(), form.integration_id, &SystemClock)
        .await
        .map_err(engine_error)?;
    tracing::info!(integration_id = form.integration_id, run_id = run.id, user = %ui.user, "Retry queued.");
    Ok(Redirect::to(&format!("/runs/{}", run.id)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResolveForm {
    integration_id: i64,
    record_kind: RecordKind,
    record_id: String,
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<ResolveForm>,
) -> UiResult {
    let key = AttentionKey {
        integration_id: form.integration_id,
        record_kind: form.record_kind,
        record_id: form.record_id,
    };
    state.store.clear_flag(&key).await.map_err(internal)?;
    tracing::info!(integration_id = key.integration_id, record_kind = key.record_kind.as_str(), record = %key.record_id, user = %ui.user, "Conflict marked resolved.");
    Ok(Redirect::to("/attention?done=resolved").into_response())
}
