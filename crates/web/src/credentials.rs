//! `/api/credentials`: named connections to Shopify or PULPO. Secrets are write-only: answers
//! say which secret fields are set (`secrets_set`), never their values, and an update without a
//! secret field keeps the stored one.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};
use tentacle_engine::connections::{api_version_note, pulpo_client_with, shopify_client_with};
use tentacle_pulpo::PulpoError;
use tentacle_shopify::ShopifyError;
use tentacle_store::{Credential, CredentialKind, NewCredential, Store};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, FieldProblem, Result, json_body};

/// A credential as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub id: i64,
    pub name: String,
    /// `shopify` or `pulpo`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Non-secret fields: `shop_url` and `api_version` (Shopify), `base_url` and `username`
    /// (PULPO).
    #[schema(value_type = Object)]
    pub config: Value,
    /// Which secret fields are stored (`access_token`, `webhook_secret`, `password`).
    pub secrets_set: Vec<String>,
    /// Shopify: set from 60 days before the credential's `api_version` reaches its end of
    /// support (and after): when, and what to do.
    pub api_version_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Credential> for CredentialView {
    fn from(credential: &Credential) -> Self {
        CredentialView {
            id: credential.id,
            name: credential.name.clone(),
            kind: credential.kind.as_str().to_string(),
            config: credential.config.clone(),
            secrets_set: credential.secrets.names().map(str::to_string).collect(),
            api_version_note: api_version_note(credential, Utc::now().date_naive()),
            created_at: credential.created_at,
            updated_at: credential.updated_at,
        }
    }
}

/// The body of a create or update.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body; handlers read it field by field to report every problem.
pub struct CredentialInput {
    name: String,
    /// `shopify` or `pulpo`; cannot change on update.
    #[schema(rename = "type")]
    kind: String,
    /// Shopify: `shop_url` (required), `api_version` (default `2026-10`). PULPO: `base_url`,
    /// `username` (both required).
    #[schema(value_type = Object)]
    config: Value,
    /// Shopify: `access_token` (required on create), `webhook_secret`. PULPO: `password`
    /// (required on create). On update, a missing field keeps the stored value and `null`
    /// removes an optional one.
    #[schema(value_type = Object)]
    secrets: Value,
}

/// What the connection check found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// `true` when the system accepted the credential.
    pub ok: bool,
    /// `ok`, `bad_token`, `unknown_shop`, `missing_scope`, `login_refused`, `unauthorized`,
    /// `unreachable`, `invalid_config` or `error`.
    pub verdict: String,
    /// What was found, or what to fix.
    pub message: String,
    /// Shopify location names or PULPO warehouse names seen (when ok).
    pub places: Vec<String>,
    /// Shopify: the credential's `api_version` ends within 60 days or ended (also at the end
    /// of `message` when the check passed).
    pub api_version_note: Option<String>,
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("credential {id}"))
}

#[utoipa::path(get, path = "/api/credentials", tag = "credentials",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<CredentialView>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_credentials(
    State(state): State<AppState>,
) -> Result<Json<Vec<CredentialView>>> {
    let credentials = state.store.credentials().await?;
    Ok(Json(credentials.iter().map(CredentialView::from).collect()))
}

#[utoipa::path(get, path = "/api/credentials/{id}", tag = "credentials",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = CredentialView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_credential(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CredentialView>> {
    let credential = state
        .store
        .credential(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(CredentialView::from(&credential)))
}

#[utoipa::path(post, path = "/api/credentials", tag = "credentials",
    security(("bearer" = [])),
    request_body = CredentialInput,
    responses((status = 201, body = CredentialView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_credential(
    State(state): State<AppState>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<CredentialView>)> {
    let body = json_body(body)?;
    // A name that exists is a 409, also when a create racing this one took it meanwhile
    // (the checks then find it taken); the insert below decides a race they both passed.
    let taken = || async {
        match crate::error::posted_name(&body) {
            Some(name) if state.store.credential_by_name(&name).await?.is_some() => {
                Ok::<_, ApiError>(Some(ApiError::Conflict(format!(
                    "a credential named {name:?} exists already: change it with PUT /api/credentials/{{id}}"
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
    let saved = state.store.create_credential(input).await?;
    tracing::info!(credential = %saved.name, "Credential created.");
    Ok((StatusCode::CREATED, Json(CredentialView::from(&saved))))
}

#[utoipa::path(put, path = "/api/credentials/{id}", tag = "credentials",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = CredentialInput,
    responses((status = 200, body = CredentialView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update_credential(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<Json<CredentialView>> {
    let body = json_body(body)?;
    let existing = state
        .store
        .credential(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let input = validated(state.store.as_ref(), &body, Some(&existing)).await?;
    let saved = state.store.update_credential(id, input).await?;
    tracing::info!(credential = %saved.name, "Credential updated.");
    Ok(Json(CredentialView::from(&saved)))
}

#[utoipa::path(delete, path = "/api/credentials/{id}", tag = "credentials",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn delete_credential(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    remove(state.store.as_ref(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/credentials/{id}/check", tag = "credentials",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The verdict, good or bad", body = CheckResult),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn check_credential(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<CheckResult>> {
    let credential = state
        .store
        .credential(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let result = check(&credential).await;
    tracing::info!(credential = %credential.name, verdict = %result.verdict, "Connection checked.");
    Ok(Json(result))
}

/// Checks a create (`existing` = `None`) or update body, with the name's uniqueness: the
/// credential to save, or every problem.
pub(crate) async fn validated(
    store: &dyn Store,
    body: &Value,
    existing: Option<&Credential>,
) -> Result<NewCredential> {
    let mut problems = Vec::new();
    let input = read_input(body, existing, &mut problems);
    if let Some(input) = &input
        && let Some(other) = store.credential_by_name(&input.name).await?
        && Some(other.id) != existing.map(|e| e.id)
    {
        problems.push(FieldProblem::new(
            "name",
            format!("another credential is named {:?}", input.name),
        ));
    }
    match input {
        Some(input) if problems.is_empty() => Ok(input),
        _ => Err(ApiError::Invalid(problems)),
    }
}

/// Deletes a credential no integration uses.
pub(crate) async fn remove(store: &dyn Store, id: i64) -> Result<()> {
    let users: Vec<String> = store
        .integrations()
        .await?
        .into_iter()
        .filter(|i| i.origin_credential_id == id || i.destination_credential_id == id)
        .map(|i| i.name)
        .collect();
    if !users.is_empty() {
        return Err(ApiError::Conflict(format!(
            "credential {id} is used by the integrations {users:?}: delete or change them first"
        )));
    }
    if store.delete_credential(id).await? {
        tracing::info!(credential_id = id, "Credential deleted.");
        Ok(())
    } else {
        Err(not_found(id))
    }
}

fn verdict(verdict: &str, message: impl ToString) -> CheckResult {
    CheckResult {
        ok: false,
        verdict: verdict.to_string(),
        message: message.to_string(),
        places: Vec::new(),
        api_version_note: None,
    }
}

/// Builds the client and asks for locations (Shopify) or warehouses (PULPO), with few retries
/// so an unreachable system is reported in seconds; says so when the Shopify API version's
/// support ends soon or ended.
pub(crate) async fn check(credential: &Credential) -> CheckResult {
    let mut result = check_connection(credential).await;
    result.api_version_note = api_version_note(credential, Utc::now().date_naive());
    if result.ok
        && let Some(note) = &result.api_version_note
    {
        result.message = format!("{}. {note}", result.message);
    }
    result
}

async fn check_connection(credential: &Credential) -> CheckResult {
    const TIMEOUT: Duration = Duration::from_secs(10);
    const ATTEMPTS: u32 = 2;
    let places = match credential.kind {
        CredentialKind::Shopify => {
            let options = tentacle_shopify::ClientOptions {
                timeout: TIMEOUT,
                max_attempts: ATTEMPTS,
                ..Default::default()
            };
            let client = match shopify_client_with(credential, options) {
                Ok(client) => client,
                Err(error) => return verdict("invalid_config", error.problem),
            };
            match client.locations().await {
                Ok(locations) => locations.into_iter().map(|l| l.name).collect::<Vec<_>>(),
                Err(error) => {
                    let kind = match &error {
                        ShopifyError::InvalidToken => "bad_token",
                        ShopifyError::UnknownShop { .. } => "unknown_shop",
                        ShopifyError::MissingScope { .. } => "missing_scope",
                        ShopifyError::Unavailable { .. } => "unreachable",
                        ShopifyError::BadShopUrl(_) => "invalid_config",
                        _ => "error",
                    };
                    return verdict(kind, error);
                }
            }
        }
        CredentialKind::Pulpo => {
            let options = tentacle_pulpo::ClientOptions {
                timeout: TIMEOUT,
                max_attempts: ATTEMPTS,
                ..Default::default()
            };
            let client = match pulpo_client_with(credential, options) {
                Ok(client) => client,
                Err(error) => return verdict("invalid_config", error.problem),
            };
            match client.check().await {
                Ok(warehouses) => warehouses.into_iter().map(|w| w.name).collect::<Vec<_>>(),
                Err(error) => {
                    let kind = match &error {
                        PulpoError::LoginRefused { .. } => "login_refused",
                        PulpoError::Unauthorized => "unauthorized",
                        PulpoError::Unavailable { .. } => "unreachable",
                        PulpoError::BadBaseUrl(_) => "invalid_config",
                        _ => "error",
                    };
                    return verdict(kind, error);
                }
            }
        }
    };
    let what = match credential.kind {
        CredentialKind::Shopify => "Shopify accepted the access token; locations",
        CredentialKind::Pulpo => "PULPO accepted the login; warehouses",
    };
    CheckResult {
        ok: true,
        verdict: "ok".into(),
        message: format!("{what}: {}", places.join(", ")),
        places,
        api_version_note: None,
    }
}

/// Field rules of one credential type.
struct Fields {
    config_required: &'static [&'static str],
    config_optional: &'static [&'static str],
    secrets_required: &'static [&'static str],
    secrets_optional: &'static [&'static str],
}

fn fields(kind: CredentialKind) -> Fields {
    match kind {
        CredentialKind::Shopify => Fields {
            config_required: &["shop_url"],
            config_optional: &["api_version"],
            secrets_required: &["access_token"],
            secrets_optional: &["webhook_secret"],
        },
        CredentialKind::Pulpo => Fields {
            config_required: &["base_url", "username"],
            config_optional: &[],
            secrets_required: &["password"],
            secrets_optional: &[],
        },
    }
}

fn object<'a>(
    body: &'a Value,
    field: &str,
    problems: &mut Vec<FieldProblem>,
) -> Option<&'a Map<String, Value>> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            problems.push(FieldProblem::new(field, "must be an object"));
            None
        }
    }
}

fn is_api_version(value: &str) -> bool {
    let bytes = value.as_bytes();
    value == "unstable"
        || bytes.len() == 7
            && bytes[4] == b'-'
            && value[..4].bytes().all(|b| b.is_ascii_digit())
            && value[5..].bytes().all(|b| b.is_ascii_digit())
}

/// Reads and checks a create (`existing` = `None`) or update body, pushing every problem.
fn read_input(
    body: &Value,
    existing: Option<&Credential>,
    problems: &mut Vec<FieldProblem>,
) -> Option<NewCredential> {
    let Some(top) = body.as_object() else {
        problems.push(FieldProblem::new("body", "must be a JSON object"));
        return None;
    };
    for key in top.keys() {
        if !["name", "type", "config", "secrets"].contains(&key.as_str()) {
            problems.push(FieldProblem::new(
                key.clone(),
                "is not a field of a credential",
            ));
        }
    }
    let name = match top.get("name") {
        Some(Value::String(name)) => match tentacle_domain::limits::name(name) {
            Ok(name) => name,
            Err(problem) => {
                problems.push(FieldProblem::new("name", problem));
                String::new()
            }
        },
        None | Some(Value::Null) => {
            problems.push(FieldProblem::new("name", "is required"));
            String::new()
        }
        Some(_) => {
            problems.push(FieldProblem::new("name", "must be a string"));
            String::new()
        }
    };
    let kind = match top.get("type") {
        Some(Value::String(text)) => match CredentialKind::parse(text) {
            Some(kind) => Some(kind),
            None => {
                problems.push(FieldProblem::new(
                    "type",
                    format!("unknown credential type {text:?}: use \"shopify\" or \"pulpo\""),
                ));
                None
            }
        },
        None | Some(Value::Null) => {
            problems.push(FieldProblem::new(
                "type",
                "is required: \"shopify\" or \"pulpo\"",
            ));
            None
        }
        Some(_) => {
            problems.push(FieldProblem::new(
                "type",
                "must be \"shopify\" or \"pulpo\"",
            ));
            None
        }
    };
    if let (Some(kind), Some(existing)) = (kind, existing)
        && kind != existing.kind
    {
        problems.push(FieldProblem::new(
            "type",
            format!(
                "cannot change from {} to {}: create a new credential instead",
                existing.kind.as_str(),
                kind.as_str()
            ),
        ));
    }
    let config = object(body, "config", problems);
    let secrets_in = object(body, "secrets", problems);
    let kind = kind?;
    let rules = fields(kind);

    let mut config_out = Map::new();
    let empty = Map::new();
    let config = config.unwrap_or(&empty);
    for key in config.keys() {
        if !rules.config_required.contains(&key.as_str())
            && !rules.config_optional.contains(&key.as_str())
        {
            problems.push(FieldProblem::new(
                format!("config.{key}"),
                format!("is not a setting of {} credentials", kind.as_str()),
            ));
        }
    }
    for &key in rules.config_required.iter().chain(rules.config_optional) {
        let field = format!("config.{key}");
        let value = match config.get(key) {
            Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_string(),
            None | Some(Value::Null) if rules.config_optional.contains(&key) => continue,
            None | Some(Value::Null) => {
                problems.push(FieldProblem::new(field, "is required"));
                continue;
            }
            Some(Value::String(_)) => {
                problems.push(FieldProblem::new(field, "must not be empty"));
                continue;
            }
            Some(_) => {
                problems.push(FieldProblem::new(field, "must be a string"));
                continue;
            }
        };
        // URLs follow the endpoint policy every outbound address does (alert webhooks too).
        let value = if key.ends_with("_url") {
            match tentacle_domain::endpoint::endpoint_url(&value) {
                Ok(url) => url,
                Err(problem) => {
                    problems.push(FieldProblem::new(field, problem));
                    continue;
                }
            }
        } else {
            value
        };
        if key == "username"
            && let Err(problem) = tentacle_domain::limits::at_most(
                &value,
                tentacle_domain::limits::MAX_USERNAME_CHARS,
            )
        {
            problems.push(FieldProblem::new(field, problem));
            continue;
        }
        if key == "api_version" && !is_api_version(&value) {
            problems.push(FieldProblem::new(
                field,
                format!("{value:?} is not a Shopify API version like 2026-10"),
            ));
            continue;
        }
        config_out.insert(key.to_string(), Value::String(value));
    }
    if kind == CredentialKind::Shopify && !config_out.contains_key("api_version") {
        config_out.insert("api_version".into(), Value::String("2026-10".into()));
    }

    // Start from the stored secrets: an update without a secret field keeps it.
    let mut secrets = existing.map(|c| c.secrets.clone()).unwrap_or_default();
    let secrets_in = secrets_in.unwrap_or(&empty);
    for (key, value) in secrets_in {
        let field = format!("secrets.{key}");
        let known = rules.secrets_required.contains(&key.as_str())
            || rules.secrets_optional.contains(&key.as_str());
        if !known {
            problems.push(FieldProblem::new(
                field,
                format!("is not a secret of {} credentials", kind.as_str()),
            ));
            continue;
        }
        match value {
            Value::String(text)
                if text.chars().count() > tentacle_domain::limits::MAX_SECRET_CHARS =>
            {
                problems.push(FieldProblem::new(
                    field,
                    format!(
                        "must be at most {} characters",
                        tentacle_domain::limits::MAX_SECRET_CHARS
                    ),
                ));
            }
            Value::String(text) if !text.is_empty() => {
                secrets = secrets.with(key, SecretString::from(text.clone()));
            }
            Value::Null if rules.secrets_optional.contains(&key.as_str()) => {
                secrets = secrets.without(key);
            }
            Value::Null => problems.push(FieldProblem::new(
                field,
                "is required and cannot be removed",
            )),
            _ => problems.push(FieldProblem::new(field, "must be a non-empty string")),
        }
    }
    for &key in rules.secrets_required {
        if secrets.get(key).is_none() && !secrets_in.contains_key(key) {
            problems.push(FieldProblem::new(format!("secrets.{key}"), "is required"));
        }
    }
    Some(NewCredential {
        name,
        kind,
        config: Value::Object(config_out),
        secrets,
    })
}
