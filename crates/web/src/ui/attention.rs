//! The attention list: orders that failed or are in conflict, newest first, with the reason.
//! "Retry" queues a run of the order's integration (every run re-fetches its flagged orders
//! first); "Mark resolved" clears a conflict the operator settled by hand.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls;
use tentacle_store::AttentionKind;

use super::{DoneQuery, Ui, UiResult, html, internal, notice, when};
use crate::AppState;

struct Item {
    integration_id: i64,
    integration: String,
    shopify_order_id: String,
    order_name: String,
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
    let flagged = state.store.flagged_orders(None).await.map_err(internal)?;
    let items = flagged
        .into_iter()
        .map(|a| Item {
            integration: names
                .get(&a.integration_id)
                .cloned()
                .unwrap_or_else(|| format!("integration {}", a.integration_id)),
            integration_id: a.integration_id,
            shopify_order_id: a.shopify_order_id,
            order_name: a.order_name,
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

/// Queues a run now; it re-fetches the flagged order by id. The browser follows the run.
pub(crate) async fn retry(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<RetryForm>,
) -> UiResult {
    let run = controls::run_now(state.store.as_ref(), form.integration_id, &SystemClock)
        .await
        .map_err(internal)?;
    tracing::info!(integration_id = form.integration_id, run_id = run.id, user = %ui.user, "Retry queued.");
    Ok(Redirect::to(&format!("/runs/{}", run.id)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ResolveForm {
    integration_id: i64,
    shopify_order_id: String,
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<ResolveForm>,
) -> UiResult {
    state
        .store
        .clear_order_flag(form.integration_id, &form.shopify_order_id)
        .await
        .map_err(internal)?;
    tracing::info!(integration_id = form.integration_id, order = %form.shopify_order_id, user = %ui.user, "Conflict marked resolved.");
    Ok(Redirect::to("/attention?done=resolved").into_response())
}
