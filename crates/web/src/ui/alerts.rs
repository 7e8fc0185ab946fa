//! The Alerts tab: list, create, edit, delete and "Send a test alert". The SMTP password is
//! write-only here as in the API: the form says whether one is stored, never its value, and an
//! empty password field keeps the stored one. Validation is the API's own.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tentacle_domain::alerts::{ChannelKind, ChannelTarget, DEFAULT_STALE_AFTER_HOURS};
use tentacle_store::AlertChannel;

use super::{DoneQuery, Errors, Ui, UiResult, api_error, html, internal, notice};
use crate::AppState;
use crate::alerts::{AlertView, test as send_test, validated};
use crate::error::ApiError;

/// One row of the list.
struct Row {
    id: i64,
    name: String,
    kind: &'static str,
    target: String,
    covers: String,
    stale_after_hours: u32,
    pending: String,
}

/// What "Send a test alert" found, shown under its row.
struct Verdict {
    id: i64,
    ok: bool,
    message: String,
}

#[derive(askama::Template)]
#[template(path = "alerts.html")]
struct ListPage {
    ui: Ui,
    tab: &'static str,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    verdict: Option<Verdict>,
}

fn kind_label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Webhook => "Webhook",
        ChannelKind::Email => "Email",
    }
}

async fn list_page(
    state: &AppState,
    ui: Ui,
    notice: Option<&'static str>,
    verdict: Option<Verdict>,
) -> UiResult {
    let channels = state.store.alert_channels().await.map_err(internal)?;
    let integrations = state.store.integrations().await.map_err(internal)?;
    let mut rows = Vec::with_capacity(channels.len());
    for channel in &channels {
        let view = AlertView::of(state.store.as_ref(), channel)
            .await
            .map_err(api_error)?;
        let target = match &channel.target {
            ChannelTarget::Webhook { url } => url.clone(),
            ChannelTarget::Email {
                smtp_host,
                smtp_port,
                to,
                ..
            } => format!("{} via {smtp_host}:{smtp_port}", to.join(", ")),
        };
        let covers = match &channel.integration_ids {
            None => "every configuration".to_string(),
            Some(ids) => integrations
                .iter()
                .filter(|i| ids.contains(&i.id))
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let pending = match (view.pending, view.last_error) {
            (0, _) => "none".to_string(),
            (n, Some(error)) => format!("{n} waiting; last attempt: {error}"),
            (n, None) => format!("{n} waiting"),
        };
        rows.push(Row {
            id: channel.id,
            name: channel.name.clone(),
            kind: kind_label(channel.target.kind()),
            target,
            covers,
            stale_after_hours: channel.stale_after_hours,
            pending,
        });
    }
    html(&ListPage {
        ui,
        tab: "alerts",
        rows,
        notice,
        verdict,
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<DoneQuery>,
) -> UiResult {
    list_page(&state, ui, notice(query.done.as_deref()), None).await
}

/// A configuration to tick in the form.
struct Choice {
    id: i64,
    name: String,
    checked: bool,
}

#[derive(askama::Template)]
#[template(path = "alert_form.html")]
struct FormPage {
    ui: Ui,
    tab: &'static str,
    /// `None` while creating.
    id: Option<i64>,
    /// `webhook` or `email`.
    kind: String,
    kind_label: &'static str,
    name: String,
    url: String,
    smtp_host: String,
    smtp_port: String,
    starttls: bool,
    username: String,
    from: String,
    to: String,
    stale_after_hours: String,
    password_stored: bool,
    choices: Vec<Choice>,
    errors: Errors,
    other_errors: Vec<String>,
}

const SHOWN: &[&str] = &[
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
    "stale_after_hours",
];

/// The values the form shows, as the API body names them.
async fn form_page(
    state: &AppState,
    ui: Ui,
    id: Option<i64>,
    kind: ChannelKind,
    fields: &Map<String, Value>,
    password_stored: bool,
    errors: Errors,
) -> UiResult {
    let get = |key: &str| match fields.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let selected: Vec<i64> = fields
        .get("integration_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let choices = state
        .store
        .integrations()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|i| Choice {
            checked: selected.contains(&i.id),
            id: i.id,
            name: i.name,
        })
        .collect();
    let mut other_errors = errors.others(SHOWN);
    other_errors.retain(|e| !e.starts_with("to["));
    let mut errors = errors;
    for field in errors.others(SHOWN) {
        if let Some((key, message)) = field.split_once(": ")
            && key.starts_with("to[")
        {
            errors.add("to", format!("{key}: {message}"));
        }
    }
    let mut response = html(&FormPage {
        ui,
        tab: "alerts",
        id,
        kind: kind.as_str().to_string(),
        kind_label: kind_label(kind),
        name: get("name"),
        url: get("url"),
        smtp_host: get("smtp_host"),
        smtp_port: get("smtp_port"),
        starttls: fields
            .get("starttls")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        username: get("username"),
        from: get("from"),
        to: get("to"),
        stale_after_hours: get("stale_after_hours"),
        password_stored,
        choices,
        other_errors,
        errors: errors.clone(),
    })?;
    if !errors.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct NewQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn new_form(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<NewQuery>,
) -> UiResult {
    let kind = query
        .kind
        .as_deref()
        .and_then(|k| k.parse().ok())
        .unwrap_or(ChannelKind::Webhook);
    let mut fields = Map::new();
    fields.insert("stale_after_hours".into(), json!(DEFAULT_STALE_AFTER_HOURS));
    if kind == ChannelKind::Email {
        fields.insert("smtp_port".into(), json!(587));
    }
    form_page(&state, ui, None, kind, &fields, false, Errors::default()).await
}

async fn existing(state: &AppState, id: i64) -> UiResult<AlertChannel> {
    state
        .store
        .alert_channel(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| api_error(ApiError::NotFound(format!("alert channel {id}"))))
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
) -> UiResult {
    let channel = existing(&state, id).await?;
    let view = AlertView::of(state.store.as_ref(), &channel)
        .await
        .map_err(api_error)?;
    let fields = serde_json::to_value(&view)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    form_page(
        &state,
        ui,
        Some(id),
        channel.target.kind(),
        &fields,
        channel.password.is_some(),
        Errors::default(),
    )
    .await
}

/// The API body a posted form stands for: empty fields are left out, so an empty password
/// keeps the stored one and an empty required field is reported as required; no configuration
/// ticked means every configuration. Also what the form shows again: never the password.
fn body(kind: ChannelKind, form: &[(String, String)]) -> (Value, Map<String, Value>) {
    let value = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut body = Map::new();
    body.insert("name".into(), json!(value("name").unwrap_or_default()));
    body.insert("type".into(), json!(kind.as_str()));
    let number = |text: String| {
        text.parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text))
    };
    if let Some(hours) = value("stale_after_hours") {
        body.insert("stale_after_hours".into(), number(hours));
    }
    let ids: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == "integration_ids")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if !ids.is_empty() {
        body.insert("integration_ids".into(), json!(ids));
    }
    match kind {
        ChannelKind::Webhook => {
            if let Some(url) = value("url") {
                body.insert("url".into(), json!(url));
            }
        }
        ChannelKind::Email => {
            for key in ["smtp_host", "username", "from"] {
                if let Some(text) = value(key) {
                    body.insert(key.into(), json!(text));
                }
            }
            if let Some(port) = value("smtp_port") {
                body.insert("smtp_port".into(), number(port));
            }
            body.insert("starttls".into(), json!(value("starttls").is_some()));
            let to: Vec<String> = value("to")
                .unwrap_or_default()
                .split([',', ';', '\n'])
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
            body.insert("to".into(), json!(to));
        }
    }
    let shown = body.clone();
    if let Some(password) = value("password") {
        body.insert("password".into(), json!(password));
    }
    (Value::Object(body), shown)
}

fn posted_kind(form: &[(String, String)]) -> ChannelKind {
    form.iter()
        .find(|(k, _)| k == "type")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(ChannelKind::Webhook)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let kind = posted_kind(&form);
    let (body, shown) = body(kind, &form);
    match validated(state.store.as_ref(), &body, None).await {
        Ok(input) => {
            let saved = state
                .store
                .create_alert_channel(input)
                .await
                .map_err(|e| api_error(ApiError::Store(e)))?;
            tracing::info!(alert = %saved.name, user = %ui.user, "Alert channel created.");
            Ok(Redirect::to("/alerts?done=created").into_response())
        }
        Err(ApiError::Invalid(problems)) => {
            form_page(
                &state,
                ui,
                None,
                kind,
                &shown,
                false,
                Errors::from_problems(problems),
            )
            .await
        }
        Err(other) => Err(api_error(other)),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let channel = existing(&state, id).await?;
    let kind = channel.target.kind();
    let (body, shown) = body(kind, &form);
    match validated(state.store.as_ref(), &body, Some(&channel)).await {
        Ok(input) => {
            let saved = state
                .store
                .update_alert_channel(id, input)
                .await
                .map_err(|e| api_error(ApiError::Store(e)))?;
            tracing::info!(alert = %saved.name, user = %ui.user, "Alert channel updated.");
            Ok(Redirect::to("/alerts?done=updated").into_response())
        }
        Err(ApiError::Invalid(problems)) => {
            form_page(
                &state,
                ui,
                Some(id),
                kind,
                &shown,
                channel.password.is_some(),
                Errors::from_problems(problems),
            )
            .await
        }
        Err(other) => Err(api_error(other)),
    }
}

pub(crate) async fn delete(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    if state
        .store
        .delete_alert_channel(id)
        .await
        .map_err(internal)?
    {
        tracing::info!(alert_id = id, user = %ui.user, "Alert channel deleted.");
        Ok(Redirect::to("/alerts?done=deleted").into_response())
    } else {
        Err(api_error(ApiError::NotFound(format!("alert channel {id}"))))
    }
}

pub(crate) async fn test(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    let channel = existing(&state, id).await?;
    let result = send_test(&channel).await;
    list_page(
        &state,
        ui,
        None,
        Some(Verdict {
            id,
            ok: result.ok,
            message: result.message,
        }),
    )
    .await
}
