//! `/api/alerts`: the channels alerts go through (a webhook, an email over SMTP), and "send a
//! test alert". The SMTP password is write-only: answers say `password_set`, never the value,
//! and an update without `password` keeps the stored one.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};
use tentacle_domain::alerts::{
    ChannelKind, ChannelTarget, DEFAULT_SMTP_PORT, DEFAULT_STALE_AFTER_HOURS, channel_name,
    stale_after_hours,
};
use tentacle_domain::messages;
use tentacle_store::{AlertChannel, AlertFilter, NewAlertChannel, Store};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, FieldProblem, Result, json_body};

/// An alert channel as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    pub name: String,
    /// `webhook` or `email`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Webhook: where the JSON is posted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<String>>,
    /// Whether an SMTP password is stored (never the password).
    pub password_set: bool,
    /// The configurations covered; `null`: every one.
    pub integration_ids: Option<Vec<i64>>,
    pub stale_after_hours: u32,
    /// Messages waiting to be delivered (retried with a growing delay).
    pub pending: usize,
    /// Why the last delivery attempt of a waiting message failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AlertView {
    pub(crate) async fn of(store: &dyn Store, channel: &AlertChannel) -> Result<AlertView> {
        let pending = store
            .alert_records(&AlertFilter {
                channel_id: Some(channel.id),
                pending: true,
                limit: Some(1000),
                ..AlertFilter::default()
            })
            .await?;
        let mut view = AlertView {
            id: channel.id,
            name: channel.name.clone(),
            kind: channel.target.kind().to_string(),
            url: None,
            smtp_host: None,
            smtp_port: None,
            starttls: None,
            username: None,
            from: None,
            to: None,
            password_set: channel.password.is_some(),
            integration_ids: channel.integration_ids.clone(),
            stale_after_hours: channel.stale_after_hours,
            pending: pending.len(),
            last_error: pending.iter().find_map(|r| r.last_error.clone()),
            created_at: channel.created_at,
            updated_at: channel.updated_at,
        };
        match &channel.target {
            ChannelTarget::Webhook { url } => view.url = Some(url.clone()),
            ChannelTarget::Email {
                smtp_host,
                smtp_port,
                starttls,
                username,
                from,
                to,
            } => {
                view.smtp_host = Some(smtp_host.clone());
                view.smtp_port = Some(*smtp_port);
                view.starttls = Some(*starttls);
                view.username = username.clone();
                view.from = Some(from.clone());
                view.to = Some(to.clone());
            }
        }
        Ok(view)
    }
}

/// The body of a create or update.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body; handlers read it field by field to report every problem.
pub struct AlertInput {
    /// Unique, at most 100 characters.
    name: String,
    /// `webhook` or `email`.
    #[schema(rename = "type")]
    kind: String,
    /// Webhook: an `http://` or `https://` URL (a Slack or Teams incoming webhook, or anything
    /// that takes a JSON POST with `text`).
    url: Option<String>,
    /// Email: the SMTP server.
    smtp_host: Option<String>,
    /// Email: default 587.
    smtp_port: Option<u16>,
    /// Email: upgrade with STARTTLS before logging in; default `true`.
    starttls: Option<bool>,
    username: Option<String>,
    /// Email: write-only; on update a missing field keeps the stored one, `null` removes it.
    password: Option<String>,
    /// Email: the sender address.
    from: Option<String>,
    /// Email: one or more recipient addresses.
    to: Option<Vec<String>>,
    /// The configurations covered (ids); missing or `null`: every one, present and future.
    integration_ids: Option<Vec<i64>>,
    /// Hours without a FINISHED or FINISHED PARTIALLY run before a configuration is stale
    /// (1-720, default 24).
    stale_after_hours: Option<u32>,
}

/// What "send a test alert" found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// `true` when the webhook or the SMTP server accepted the message.
    pub ok: bool,
    /// What happened, or what to fix.
    pub message: String,
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("alert channel {id}"))
}

#[utoipa::path(get, path = "/api/alerts", tag = "alerts",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<AlertView>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_alerts(State(state): State<AppState>) -> Result<Json<Vec<AlertView>>> {
    let mut views = Vec::new();
    for channel in state.store.alert_channels().await? {
        views.push(AlertView::of(state.store.as_ref(), &channel).await?);
    }
    Ok(Json(views))
}

#[utoipa::path(get, path = "/api/alerts/{id}", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_alert(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<AlertView>> {
    let channel = state
        .store
        .alert_channel(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(AlertView::of(state.store.as_ref(), &channel).await?))
}

#[utoipa::path(post, path = "/api/alerts", tag = "alerts",
    security(("bearer" = [])),
    request_body = AlertInput,
    responses((status = 201, body = AlertView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_alert(
    State(state): State<AppState>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<AlertView>)> {
    let body = json_body(body)?;
    // A name that exists is a 409, also when a create racing this one took it meanwhile
    // (the checks then find it taken); the insert below decides a race they both passed.
    let taken = || async {
        match crate::error::posted_name(&body) {
            Some(name) if state.store.alert_channel_by_name(&name).await?.is_some() => {
                Ok::<_, ApiError>(Some(ApiError::Conflict(format!(
                    "an alert channel named {name:?} exists already: change it with PUT /api/alerts/{{id}}"
                ))))
            }
            _ => Ok(None),
        }
    };
    if let Some(conflict) = taken().await? {
        return Err(conflict);
    }
    let input = match validated(state.store.as_ref(), &body, None).await {
        Ok(input) => input,
        Err(invalid @ ApiError::Invalid(_)) => return Err(taken().await?.unwrap_or(invalid)),
        Err(other) => return Err(other),
    };
    // An insert, not the upsert `apply` uses: of two creates of one name at once, one is a 409.
    let saved = state.store.create_alert_channel(input).await?;
    tracing::info!(alert = %saved.name, "Alert channel created.");
    let view = AlertView::of(state.store.as_ref(), &saved).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(put, path = "/api/alerts/{id}", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = AlertInput,
    responses((status = 200, body = AlertView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update_alert(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<Json<AlertView>> {
    let body = json_body(body)?;
    let existing = state
        .store
        .alert_channel(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let input = validated(state.store.as_ref(), &body, Some(&existing)).await?;
    let saved = state.store.update_alert_channel(id, input).await?;
    tracing::info!(alert = %saved.name, "Alert channel updated.");
    Ok(Json(AlertView::of(state.store.as_ref(), &saved).await?))
}

#[utoipa::path(delete, path = "/api/alerts/{id}", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_alert(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    if state.store.delete_alert_channel(id).await? {
        tracing::info!(alert_id = id, "Alert channel deleted.");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

#[utoipa::path(post, path = "/api/alerts/{id}/test", tag = "alerts",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "Whether the test alert was delivered", body = TestResult),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn test_alert(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<TestResult>> {
    let channel = state
        .store
        .alert_channel(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(test(&channel).await))
}

/// Sends a test alert through the channel and says how it went, in words.
pub(crate) async fn test(channel: &AlertChannel) -> TestResult {
    match tentacle_engine::alerts::send_test(channel).await {
        Ok(()) => TestResult {
            ok: true,
            message: match &channel.target {
                ChannelTarget::Webhook { .. } => messages::test_alert_posted(),
                ChannelTarget::Email { to, .. } => messages::test_alert_mailed(to),
            },
        },
        Err(error) => TestResult {
            ok: false,
            message: messages::test_alert_refused(&error),
        },
    }
}

/// Checks a create (`existing` = `None`) or update body, with the name's uniqueness and the
/// configurations it names: the channel to save, or every problem.
pub(crate) async fn validated(
    store: &dyn Store,
    body: &Value,
    existing: Option<&AlertChannel>,
) -> Result<NewAlertChannel> {
    let mut problems = Vec::new();
    let input = read_input(body, existing, &mut problems);
    if let Some(input) = &input
        && let Some(other) = store.alert_channel_by_name(&input.name).await?
        && Some(other.id) != existing.map(|e| e.id)
    {
        problems.push(FieldProblem::new(
            "name",
            format!("another alert channel is named {:?}", input.name),
        ));
    }
    // Checked whatever else is wrong, so one answer names every problem.
    let ids = body["integration_ids"].as_array().into_iter().flatten();
    for (index, id) in ids.enumerate() {
        if let Some(id) = id.as_i64()
            && store.integration(id).await?.is_none()
        {
            problems.push(FieldProblem::new(
                format!("integration_ids[{index}]"),
                format!("no integration configuration has id {id}"),
            ));
        }
    }
    match input {
        Some(input) if problems.is_empty() => Ok(input),
        _ => Err(ApiError::Invalid(problems)),
    }
}

const FIELDS: &[&str] = &[
    "name",
    "type",
    "url",
    "smtp_host",
    "smtp_port",
    "starttls",
    "username",
    "password",
    "from",
    "to",
    "integration_ids",
    "stale_after_hours",
];
const EMAIL_ONLY: &[&str] = &[
    "smtp_host",
    "smtp_port",
    "starttls",
    "username",
    "password",
    "from",
    "to",
];

fn text(top: &Map<String, Value>, field: &str, problems: &mut Vec<FieldProblem>) -> Option<String> {
    match top.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            problems.push(FieldProblem::new(field, "must be a string"));
            None
        }
    }
}

/// Reads and checks a body, pushing every problem; the password is never part of a message.
fn read_input(
    body: &Value,
    existing: Option<&AlertChannel>,
    problems: &mut Vec<FieldProblem>,
) -> Option<NewAlertChannel> {
    let Some(top) = body.as_object() else {
        problems.push(FieldProblem::new("body", "must be a JSON object"));
        return None;
    };
    for key in top.keys() {
        if !FIELDS.contains(&key.as_str()) {
            problems.push(FieldProblem::new(
                key.clone(),
                "is not a field of an alert channel",
            ));
        }
    }
    let name = match text(top, "name", problems) {
        Some(name) => channel_name(&name).unwrap_or_else(|problem| {
            problems.push(FieldProblem::new("name", problem));
            String::new()
        }),
        None => {
            problems.push(FieldProblem::new("name", "is required"));
            String::new()
        }
    };
    let kind = match text(top, "type", problems) {
        Some(kind) => match kind.parse::<ChannelKind>() {
            Ok(kind) => Some(kind),
            Err(_) => {
                problems.push(FieldProblem::new(
                    "type",
                    format!("unknown alert type {kind:?}: use \"webhook\" or \"email\""),
                ));
                None
            }
        },
        None => {
            problems.push(FieldProblem::new(
                "type",
                "is required: \"webhook\" or \"email\"",
            ));
            None
        }
    };
    let stale_after_hours = match top.get("stale_after_hours") {
        None | Some(Value::Null) => DEFAULT_STALE_AFTER_HOURS,
        Some(value) => match value.as_i64().map(stale_after_hours) {
            Some(Ok(hours)) => hours,
            Some(Err(problem)) => {
                problems.push(FieldProblem::new("stale_after_hours", problem));
                DEFAULT_STALE_AFTER_HOURS
            }
            None => {
                problems.push(FieldProblem::new(
                    "stale_after_hours",
                    "must be a whole number of hours",
                ));
                DEFAULT_STALE_AFTER_HOURS
            }
        },
    };
    let integration_ids = match top.get("integration_ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ids)) if !ids.is_empty() => {
            let read: Option<Vec<i64>> = ids.iter().map(Value::as_i64).collect();
            if read.is_none() {
                problems.push(FieldProblem::new(
                    "integration_ids",
                    "must be a list of configuration ids",
                ));
            }
            read
        }
        Some(_) => {
            problems.push(FieldProblem::new(
                "integration_ids",
                "must be a non-empty list of configuration ids, or null for every configuration",
            ));
            None
        }
    };
    let kind = kind?;
    if let Some(existing) = existing
        && existing.target.kind() != kind
    {
        problems.push(FieldProblem::new(
            "type",
            format!(
                "cannot change from {} to {}: create a new alert channel instead",
                existing.target.kind(),
                kind
            ),
        ));
    }
    let target = match kind {
        ChannelKind::Webhook => {
            for field in EMAIL_ONLY {
                if top.get(*field).is_some_and(|v| !v.is_null()) {
                    problems.push(FieldProblem::new(
                        *field,
                        "is not a setting of webhook alerts",
                    ));
                }
            }
            let url = text(top, "url", problems).unwrap_or_else(|| {
                problems.push(FieldProblem::new("url", "is required"));
                String::new()
            });
            ChannelTarget::Webhook { url }
        }
        ChannelKind::Email => {
            if top.get("url").is_some_and(|v| !v.is_null()) {
                problems.push(FieldProblem::new("url", "is not a setting of email alerts"));
            }
            let smtp_host = text(top, "smtp_host", problems).unwrap_or_default();
            let smtp_port = match top.get("smtp_port") {
                None | Some(Value::Null) => DEFAULT_SMTP_PORT,
                Some(value) => value
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(0),
            };
            let starttls = match top.get("starttls") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(on)) => *on,
                Some(_) => {
                    problems.push(FieldProblem::new("starttls", "must be true or false"));
                    true
                }
            };
            let from = text(top, "from", problems).unwrap_or_default();
            let to = match top.get("to") {
                Some(Value::Array(to)) => to
                    .iter()
                    .map(|a| a.as_str().unwrap_or_default().to_string())
                    .collect(),
                Some(Value::String(one)) => vec![one.clone()],
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    problems.push(FieldProblem::new("to", "must be a list of addresses"));
                    Vec::new()
                }
            };
            ChannelTarget::Email {
                smtp_host,
                smtp_port,
                starttls,
                username: text(top, "username", problems),
                from,
                to,
            }
        }
    };
    if let ChannelTarget::Email { username, .. } = &target
        && username.as_deref().is_none_or(|u| u.trim().is_empty())
        && top.get("password").is_some_and(Value::is_string)
    {
        problems.push(FieldProblem::new("username", "is required with a password"));
    }
    let target = match target.validated() {
        Ok(target) => Some(target),
        Err(found) => {
            problems.extend(
                found
                    .into_iter()
                    .map(|p| FieldProblem::new(p.field, p.message)),
            );
            None
        }
    };
    // Start from the stored password: an update without the field keeps it.
    let mut password = existing.and_then(|e| e.password.clone());
    match top.get("password") {
        None => {}
        Some(Value::Null) => password = None,
        Some(Value::String(text)) if !text.is_empty() => {
            password = Some(SecretString::from(text.clone()));
        }
        Some(_) => problems.push(FieldProblem::new(
            "password",
            "must be a non-empty string, or null to remove it",
        )),
    }
    let target = target?;
    if let ChannelTarget::Email { username: None, .. } = &target
        && password.is_some()
        && !top.get("password").is_some_and(Value::is_string)
    {
        problems.push(FieldProblem::new(
            "username",
            "is required while a password is stored (send \"password\": null to remove it)",
        ));
    }
    if matches!(target, ChannelTarget::Webhook { .. }) {
        password = None;
    }
    Some(NewAlertChannel {
        name,
        target,
        password,
        integration_ids,
        stale_after_hours,
    })
}
