//! Operations routes: `/healthz`, `/metrics`, `/api/openapi.json`, and the JSON 404.
//!
//! Metrics are read from the store at scrape time, so they are exactly what the runs recorded
//! and survive restarts: runs per integration and status, records per outcome, run durations.
//! Ended runs come from totals the store keeps as each run ends, not from the runs table, so
//! the counters never go down when retention deletes old runs, and a scrape reads a few rows. The Shopify and PULPO clients' request counters are not persisted by runs, so
//! they are not exposed here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, Result};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The process that schedules runs (one of every `serve` and `worker` sharing the
    /// database is elected), when one does.
    pub scheduler: Option<HealthScheduler>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthScheduler {
    /// The process, as its workers are named (`worker-4711-3f2a9c1b`: role, pid, suffix).
    pub owner: String,
    /// When it took the role over.
    pub since: chrono::DateTime<chrono::Utc>,
    /// Until when it holds the role without renewing it.
    pub lease_until: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The store answers", body = Health),
        (status = 503, description = "The store does not answer", body = ErrorBody)))]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Health>> {
    state.store.ping().await.map_err(|error| {
        tracing::error!(%error, "Health check: the store does not answer.");
        ApiError::Unavailable("the database does not answer".into())
    })?;
    // Who schedules is information, not health: a database that answers is healthy even while
    // no process schedules (e.g. only the web server runs).
    let scheduler = match state.store.scheduler().await {
        Ok(lease) => lease.map(|lease| HealthScheduler {
            owner: lease.owner,
            since: lease.since,
            lease_until: lease.lease_until,
        }),
        Err(error) => {
            tracing::warn!(%error, "Health check: cannot read who schedules.");
            None
        }
    };
    Ok(Json(Health {
        status: "ok".into(),
        scheduler,
    }))
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi_json(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(document.as_ref().clone())
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response> {
    let names: HashMap<i64, String> = state
        .store
        .integrations()
        .await?
        .into_iter()
        .map(|i| (i.id, i.name))
        .collect();
    let totals = state.store.run_totals().await?;
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for total in &totals {
            let integration = names
                .get(&total.integration_id)
                .cloned()
                .unwrap_or_else(|| total.integration_id.to_string());
            let status = total.status.as_str();
            metrics::describe_counter!(
                "tentacle_runs_total",
                "Runs recorded, by integration and status."
            );
            metrics::counter!("tentacle_runs_total", "integration" => integration.clone(), "status" => status)
                .absolute(total.runs);
            let c = &total.counters;
            metrics::describe_counter!(
                "tentacle_records_total",
                "Records handled by runs, by integration and outcome (fetched counts source records)."
            );
            for (outcome, value) in [
                ("fetched", c.fetched),
                ("created", c.created),
                ("updated", c.updated),
                ("cancelled", c.cancelled),
                ("skipped", c.skipped),
                ("failed", c.failed),
                ("conflict", c.conflicts),
            ] {
                metrics::counter!("tentacle_records_total", "integration" => integration.clone(), "outcome" => outcome)
                    .increment(value);
            }
            let usage = &total.usage;
            metrics::describe_counter!(
                "tentacle_api_usage_total",
                "What runs spent of the external APIs, by integration and kind: Shopify requests, points (actualQueryCost) and throttled answers, PULPO requests and retried answers."
            );
            for (kind, value) in [
                ("shopify_requests", usage.shopify_requests),
                ("shopify_points", usage.shopify_points),
                ("shopify_throttled", usage.shopify_throttled),
                ("pulpo_requests", usage.pulpo_requests),
                ("pulpo_retries", usage.pulpo_retries),
            ] {
                metrics::counter!("tentacle_api_usage_total", "integration" => integration.clone(), "kind" => kind)
                    .increment(value);
            }
            if total.status.is_final() {
                metrics::describe_gauge!(
                    "tentacle_run_duration_seconds_sum",
                    "Total duration of finished runs, by integration and status."
                );
                metrics::gauge!("tentacle_run_duration_seconds_sum", "integration" => integration.clone(), "status" => status)
                    .set(total.finished_seconds);
                metrics::counter!("tentacle_run_duration_seconds_count", "integration" => integration, "status" => status)
                    .absolute(total.runs);
            }
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

/// Unknown routes answer in the API's error shape.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}
