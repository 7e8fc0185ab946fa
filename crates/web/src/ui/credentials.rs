//! The Credentials tab: list, create, edit, delete and "Check connection". Secrets are
//! write-only here as in the API: the form shows which are stored, never their values, and an
//! empty secret field keeps the stored one.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tentacle_engine::connections::api_version_note;
use tentacle_store::{Credential, CredentialKind};

use super::{DoneQuery, Errors, Ui, UiResult, api_error, html, internal, notice};
use crate::AppState;
use crate::credentials::{CheckResult, check as check_connection, remove, validated};
use crate::error::ApiError;

/// One row of the list.
struct Row {
    id: i64,
    name: String,
    kind: &'static str,
    address: String,
    detail: String,
    /// The Shopify API version's end of support is near or past.
    note: Option<String>,
    secrets: String,
}

/// The verdict of "Check connection", shown under its row.
struct Verdict {
    id: i64,
    ok: bool,
    message: String,
}

#[derive(askama::Template)]
#[template(path = "credentials.html")]
struct ListPage {
    ui: Ui,
    tab: &'static str,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    error: Option<String>,
    verdict: Option<Verdict>,
}

fn kind_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Shopify => "Shopify",
        CredentialKind::Pulpo => "PULPO",
    }
}

fn text(config: &Value, key: &str) -> String {
    config
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn row(credential: &Credential) -> Row {
    let (address, detail) = match credential.kind {
        CredentialKind::Shopify => (
            text(&credential.config, "shop_url"),
            format!("API version {}", text(&credential.config, "api_version")),
        ),
        CredentialKind::Pulpo => (
            text(&credential.config, "base_url"),
            format!("user {}", text(&credential.config, "username")),
        ),
    };
    let secrets: Vec<&str> = credential.secrets.names().collect();
    Row {
        id: credential.id,
        name: credential.name.clone(),
        kind: kind_label(credential.kind),
        address,
        detail,
        note: api_version_note(credential, Utc::now().date_naive()),
        secrets: if secrets.is_empty() {
            "none".into()
        } else {
            secrets.join(", ").replace('_', " ")
        },
    }
}

async fn list_page(
    state: &AppState,
    ui: Ui,
    notice: Option<&'static str>,
    error: Option<String>,
    verdict: Option<Verdict>,
) -> UiResult {
    let credentials = state.store.credentials().await.map_err(internal)?;
    html(&ListPage {
        ui,
        tab: "credentials",
        rows: credentials.iter().map(row).collect(),
        notice,
        error,
        verdict,
    })
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<DoneQuery>,
) -> UiResult {
    list_page(&state, ui, notice(query.done.as_deref()), None, None).await
}

#[derive(askama::Template)]
#[template(path = "credential_form.html")]
struct FormPage {
    ui: Ui,
    tab: &'static str,
    /// `None` while creating.
    id: Option<i64>,
    /// `shopify` or `pulpo`.
    kind: String,
    kind_label: &'static str,
    name: String,
    shop_url: String,
    api_version: String,
    /// The stored API version's end of support is near or past.
    api_version_note: Option<String>,
    base_url: String,
    username: String,
    /// Secret fields that are stored (shown as "stored", never their values).
    stored: Vec<String>,
    errors: Errors,
    other_errors: Vec<String>,
}

impl FormPage {
    fn is_stored(&self, secret: &str) -> bool {
        self.stored.iter().any(|s| s == secret)
    }
}

const SHOWN: &[&str] = &[
    "name",
    "type",
    "config.shop_url",
    "config.api_version",
    "config.base_url",
    "config.username",
    "secrets.access_token",
    "secrets.webhook_secret",
    "secrets.password",
];

fn form_page(
    ui: Ui,
    id: Option<i64>,
    kind: CredentialKind,
    fields: &Map<String, Value>,
    stored: Vec<String>,
    errors: Errors,
    stored_note: Option<String>,
) -> UiResult {
    let get = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let other_errors = errors.others(SHOWN);
    let mut response = html(&FormPage {
        ui,
        tab: "credentials",
        id,
        kind: kind.as_str().to_string(),
        kind_label: kind_label(kind),
        name: get("name"),
        shop_url: get("shop_url"),
        api_version: get("api_version"),
        api_version_note: stored_note,
        base_url: get("base_url"),
        username: get("username"),
        stored,
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

pub(crate) async fn new_form(ui: Ui, Query(query): Query<NewQuery>) -> UiResult {
    let kind = query
        .kind
        .as_deref()
        .and_then(CredentialKind::parse)
        .unwrap_or(CredentialKind::Shopify);
    let mut fields = Map::new();
    if kind == CredentialKind::Shopify {
        fields.insert("api_version".into(), json!("2026-10"));
    }
    form_page(ui, None, kind, &fields, Vec::new(), Errors::default(), None)
}

async fn existing(state: &AppState, id: i64) -> UiResult<Credential> {
    state
        .store
        .credential(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| api_error(ApiError::NotFound(format!("credential {id}"))))
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
) -> UiResult {
    let credential = existing(&state, id).await?;
    let mut fields = credential.config.as_object().cloned().unwrap_or_default();
    fields.insert("name".into(), json!(credential.name));
    let stored = credential.secrets.names().map(str::to_string).collect();
    form_page(
        ui,
        Some(id),
        credential.kind,
        &fields,
        stored,
        Errors::default(),
        api_version_note(&credential, Utc::now().date_naive()),
    )
}

/// The API body a posted form stands for: empty fields are left out, so an empty secret keeps
/// the stored one and an empty required field is reported as required.
fn body(kind: CredentialKind, form: &[(String, String)]) -> (Value, Map<String, Value>) {
    let value = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (config_keys, secret_keys): (&[&str], &[&str]) = match kind {
        CredentialKind::Shopify => (
            &["shop_url", "api_version"],
            &["access_token", "webhook_secret"],
        ),
        CredentialKind::Pulpo => (&["base_url", "username"], &["password"]),
    };
    let mut config = Map::new();
    for key in config_keys {
        if let Some(v) = value(&format!("config.{key}")) {
            config.insert((*key).to_string(), json!(v));
        }
    }
    let mut secrets = Map::new();
    for key in secret_keys {
        if let Some(v) = value(&format!("secrets.{key}")) {
            secrets.insert((*key).to_string(), json!(v));
        }
    }
    // What the form shows again when it has errors: never the secrets.
    let mut shown = config.clone();
    shown.insert("name".into(), json!(value("name").unwrap_or_default()));
    let body = json!({
        "name": value("name").unwrap_or_default(),
        "type": kind.as_str(),
        "config": config,
        "secrets": secrets,
    });
    (body, shown)
}

fn posted_kind(form: &[(String, String)]) -> CredentialKind {
    form.iter()
        .find(|(k, _)| k == "type")
        .and_then(|(_, v)| CredentialKind::parse(v))
        .unwrap_or(CredentialKind::Shopify)
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
            // An insert: a create that lost a race for the name is a 409 page, not an overwrite.
            let saved = state
                .store
                .create_credential(input)
                .await
                .map_err(|e| api_error(ApiError::Store(e)))?;
            tracing::info!(credential = %saved.name, user = %ui.user, "Credential created.");
            Ok(Redirect::to("/credentials?done=created").into_response())
        }
        Err(ApiError::Invalid(problems)) => form_page(
            ui,
            None,
            kind,
            &shown,
            Vec::new(),
            Errors::from_problems(problems),
            None,
        ),
        Err(other) => Err(api_error(other)),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let credential = existing(&state, id).await?;
    let (body, shown) = body(credential.kind, &form);
    match validated(state.store.as_ref(), &body, Some(&credential)).await {
        Ok(input) => {
            let saved = state
                .store
                .update_credential(id, input)
                .await
                .map_err(|e| api_error(ApiError::Store(e)))?;
            tracing::info!(credential = %saved.name, user = %ui.user, "Credential updated.");
            Ok(Redirect::to("/credentials?done=updated").into_response())
        }
        Err(ApiError::Invalid(problems)) => form_page(
            ui,
            Some(id),
            credential.kind,
            &shown,
            credential.secrets.names().map(str::to_string).collect(),
            Errors::from_problems(problems),
            api_version_note(&credential, Utc::now().date_naive()),
        ),
        Err(other) => Err(api_error(other)),
    }
}

pub(crate) async fn delete(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    match remove(state.store.as_ref(), id).await {
        Ok(()) => Ok(Redirect::to("/credentials?done=deleted").into_response()),
        Err(ApiError::Conflict(message)) => {
            let mut page = list_page(&state, ui, None, Some(message), None).await?;
            *page.status_mut() = StatusCode::CONFLICT;
            Ok(page)
        }
        Err(other) => Err(api_error(other)),
    }
}

pub(crate) async fn check(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    let credential = existing(&state, id).await?;
    let CheckResult {
        ok,
        verdict,
        message,
        ..
    } = check_connection(&credential).await;
    tracing::info!(credential = %credential.name, verdict = %verdict, "Connection checked.");
    let message = if ok {
        format!("Connection OK. {message}")
    } else {
        format!(
            "Connection failed ({}). {message}",
            verdict.replace('_', " ")
        )
    };
    list_page(&state, ui, None, None, Some(Verdict { id, ok, message })).await
}
