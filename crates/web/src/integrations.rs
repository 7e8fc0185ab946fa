//! `/api/integrations`: integration configurations. A save names every bad field at once
//! (settings are checked by the type's declaration; origin and destination must exist and be of
//! the kinds the type declares) and saves nothing when one is bad.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use tentacle_engine::Kind;
use tentacle_store::{CredentialKind, Integration, NewIntegration, Store};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody, FieldProblem, Result, json_body};

/// An integration configuration as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationView {
    pub id: i64,
    pub name: String,
    /// The integration type key, e.g. `sales_orders`.
    #[serde(rename = "type")]
    pub kind: String,
    pub origin_credential_id: i64,
    pub destination_credential_id: i64,
    /// The type's settings, every default filled in.
    #[schema(value_type = Object)]
    pub settings: Value,
    /// Whether the schedule runs it.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Integration> for IntegrationView {
    fn from(integration: &Integration) -> Self {
        IntegrationView {
            id: integration.id,
            name: integration.name.clone(),
            kind: integration.kind.clone(),
            origin_credential_id: integration.origin_credential_id,
            destination_credential_id: integration.destination_credential_id,
            settings: integration.settings.clone(),
            active: integration.active,
            created_at: integration.created_at,
            updated_at: integration.updated_at,
        }
    }
}

/// The body of a create or update.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body; handlers read it field by field to report every problem.
pub struct IntegrationInput {
    name: String,
    /// A type key of `/api/integration-types`, e.g. `sales_orders` or `stock`.
    #[schema(rename = "type")]
    kind: String,
    /// A credential of the type's origin kind (`sales_orders`: Shopify; `stock`: PULPO).
    origin_credential_id: i64,
    /// A credential of the type's destination kind.
    destination_credential_id: i64,
    /// The type's settings (see `/api/integration-types`); omitted keys take their defaults.
    #[schema(value_type = Object)]
    settings: Option<Value>,
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("integration {id}"))
}

#[utoipa::path(get, path = "/api/integrations", tag = "integrations",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<IntegrationView>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_integrations(
    State(state): State<AppState>,
) -> Result<Json<Vec<IntegrationView>>> {
    let integrations = state.store.integrations().await?;
    Ok(Json(
        integrations.iter().map(IntegrationView::from).collect(),
    ))
}

#[utoipa::path(get, path = "/api/integrations/{id}", tag = "integrations",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = IntegrationView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_integration(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<IntegrationView>> {
    let integration = state
        .store
        .integration(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(Json(IntegrationView::from(&integration)))
}

#[utoipa::path(post, path = "/api/integrations", tag = "integrations",
    security(("bearer" = [])),
    request_body = IntegrationInput,
    responses((status = 201, body = IntegrationView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_integration(
    State(state): State<AppState>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<IntegrationView>)> {
    let body = json_body(body)?;
    // A name that exists is a 409, also when a create racing this one took it meanwhile
    // (the checks then find it taken); the insert below decides a race they both passed.
    let taken = || async {
        match crate::error::posted_name(&body) {
            Some(name) if state.store.integration_by_name(&name).await?.is_some() => {
                Ok::<_, ApiError>(Some(ApiError::Conflict(format!(
                    "an integration named {name:?} exists already: change it with PUT /api/integrations/{{id}}"
                ))))
            }
            _ => Ok(None),
        }
    };
    if let Some(conflict) = taken().await? {
        return Err(conflict);
    }
    let input = match read_input(state.store.as_ref(), &body, None).await {
        Ok(input) => input,
        Err(invalid @ ApiError::Invalid(_)) => return Err(taken().await?.unwrap_or(invalid)),
        Err(other) => return Err(other),
    };
    // An insert, not the upsert `apply` uses: of two creates of one name at once, one is a 409.
    let saved = state.store.create_integration(input).await?;
    tracing::info!(integration = %saved.name, "Integration created.");
    Ok((StatusCode::CREATED, Json(IntegrationView::from(&saved))))
}

#[utoipa::path(put, path = "/api/integrations/{id}", tag = "integrations",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    request_body = IntegrationInput,
    responses((status = 200, body = IntegrationView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update_integration(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<Json<IntegrationView>> {
    let body = json_body(body)?;
    state
        .store
        .integration(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let input = read_input(state.store.as_ref(), &body, Some(id)).await?;
    let saved = state.store.update_integration(id, input).await?;
    tracing::info!(integration = %saved.name, "Integration updated.");
    Ok(Json(IntegrationView::from(&saved)))
}

#[utoipa::path(delete, path = "/api/integrations/{id}", tag = "integrations",
    security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted with its runs and logs"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_integration(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    if state.store.delete_integration(id).await? {
        tracing::info!(integration_id = id, "Integration deleted.");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

/// The settings with defaults filled in, or every bad key (as `settings.KEY`).
fn read_settings(
    kind: &dyn Kind,
    settings: &Map<String, Value>,
    problems: &mut Vec<FieldProblem>,
) -> Option<Value> {
    kind.read_settings(settings)
        .map_err(|errors| {
            problems.extend(
                errors
                    .into_iter()
                    .map(|e| FieldProblem::new(format!("settings.{}", e.field), e.message)),
            );
        })
        .ok()
}

/// A credential reference: it must exist and be of `expected` kind.
async fn credential_ref(
    store: &dyn Store,
    top: &Map<String, Value>,
    field: &str,
    expected: CredentialKind,
    problems: &mut Vec<FieldProblem>,
) -> Result<i64> {
    let Some(id) = top.get(field).and_then(Value::as_i64) else {
        let message = if top.get(field).is_none_or(Value::is_null) {
            "is required"
        } else {
            "must be a credential id (an integer)"
        };
        problems.push(FieldProblem::new(field, message));
        return Ok(0);
    };
    match store.credential(id).await? {
        None => problems.push(FieldProblem::new(
            field,
            format!("there is no credential {id}"),
        )),
        Some(found) if found.kind != expected => problems.push(FieldProblem::new(
            field,
            format!(
                "credential {:?} is {}, it must be a {} credential",
                found.name,
                found.kind.as_str(),
                expected.as_str()
            ),
        )),
        Some(_) => {}
    }
    Ok(id)
}

/// Checks a create (`id` = `None`) or update body: the configuration to save, or every
/// problem.
pub(crate) async fn read_input(
    store: &dyn Store,
    body: &Value,
    id: Option<i64>,
) -> Result<NewIntegration> {
    let mut problems = Vec::new();
    let Some(top) = body.as_object() else {
        return Err(ApiError::Invalid(vec![FieldProblem::new(
            "body",
            "must be a JSON object",
        )]));
    };
    for key in top.keys() {
        if ![
            "name",
            "type",
            "origin_credential_id",
            "destination_credential_id",
            "settings",
        ]
        .contains(&key.as_str())
        {
            problems.push(FieldProblem::new(
                key.clone(),
                "is not a field of an integration",
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
    if !name.is_empty()
        && let Some(other) = store.integration_by_name(&name).await?
        && Some(other.id) != id
    {
        problems.push(FieldProblem::new(
            "name",
            format!("another integration is named {name:?}"),
        ));
    }
    let keys = || {
        tentacle_engine::registry()
            .iter()
            .map(|k| format!("{:?}", k.key()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = match top.get("type").and_then(Value::as_str) {
        Some(key) => match tentacle_engine::find(key) {
            Some(kind) => Some(kind),
            None => {
                problems.push(FieldProblem::new(
                    "type",
                    format!("unknown integration type {key:?}: use one of {}", keys()),
                ));
                None
            }
        },
        None => {
            problems.push(FieldProblem::new(
                "type",
                format!("is required: one of {}", keys()),
            ));
            None
        }
    };
    // Without a known type the credential kinds and settings cannot be checked.
    let Some(kind) = kind else {
        return Err(ApiError::Invalid(problems));
    };
    let origin = credential_ref(
        store,
        top,
        "origin_credential_id",
        kind.origin(),
        &mut problems,
    )
    .await?;
    let destination = credential_ref(
        store,
        top,
        "destination_credential_id",
        kind.destination(),
        &mut problems,
    )
    .await?;
    let settings = match top.get("settings") {
        None | Some(Value::Null) => read_settings(kind, &Map::new(), &mut problems),
        Some(Value::Object(settings)) => read_settings(kind, settings, &mut problems),
        Some(_) => {
            problems.push(FieldProblem::new("settings", "must be an object"));
            None
        }
    };
    match settings {
        Some(settings) if problems.is_empty() => Ok(NewIntegration {
            name,
            kind: kind.key().to_string(),
            origin_credential_id: origin,
            destination_credential_id: destination,
            settings,
        }),
        _ => Err(ApiError::Invalid(problems)),
    }
}

/// One setting of an integration type, as declared.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingView {
    pub key: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    /// `toggle`, `integer`, `optional_integer`, `text`, `time`, `multi_select` or `text_list`.
    pub input: &'static str,
    /// Bounds of an `integer`.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The values a `multi_select` offers.
    pub choices: Vec<&'static str>,
    /// The value when the key is omitted.
    #[schema(value_type = Object)]
    pub default: Value,
    /// The form's section.
    pub group: &'static str,
    /// The toggle this setting depends on.
    pub shown_by: Option<&'static str>,
}

/// An integration type this tentacle runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationTypeView {
    /// The `type` of a configuration, e.g. `sales_orders`.
    pub key: &'static str,
    pub label: &'static str,
    pub summary: &'static str,
    /// The credential kind of `origin_credential_id`: `shopify` or `pulpo`.
    pub origin: &'static str,
    /// The credential kind of `destination_credential_id`.
    pub destination: &'static str,
    /// Every setting in form order, the shared schedule first.
    pub settings: Vec<SettingView>,
}

#[utoipa::path(get, path = "/api/integration-types", tag = "integrations",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<IntegrationTypeView>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list_integration_types() -> Json<Vec<IntegrationTypeView>> {
    use tentacle_domain::settings::Input;
    let types = tentacle_engine::registry()
        .into_iter()
        .map(|kind| {
            let defaults = kind.defaults();
            IntegrationTypeView {
                key: kind.key(),
                label: kind.label(),
                summary: kind.summary(),
                origin: kind.origin().as_str(),
                destination: kind.destination().as_str(),
                settings: kind
                    .fields()
                    .into_iter()
                    .map(|field| {
                        let (input, min, max, choices) = match field.input {
                            Input::Toggle => ("toggle", None, None, Vec::new()),
                            Input::Integer { min, max, .. } => {
                                ("integer", Some(min), Some(max), Vec::new())
                            }
                            Input::OptionalInteger => ("optional_integer", None, None, Vec::new()),
                            Input::Text => ("text", None, None, Vec::new()),
                            Input::Time => ("time", None, None, Vec::new()),
                            Input::MultiSelect(values) => ("multi_select", None, None, values()),
                            Input::Choice(values) => ("choice", None, None, values()),
                            Input::TextList => ("text_list", None, None, Vec::new()),
                        };
                        SettingView {
                            key: field.key,
                            label: field.label,
                            help: field.help,
                            input,
                            min,
                            max,
                            choices,
                            default: defaults[field.key].clone(),
                            group: field.group,
                            shown_by: field.shown_by,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    Json(types)
}

/// The OpenAPI document with every registered type's settings as a schema of their own
/// (`SalesOrdersSettings`, `StockSettings`, …: keys, types, bounds, defaults, help), and the
/// `type` of a configuration as the enumeration of the registered keys. The handlers' document
/// comes from the code; this part comes from the types' declarations, so both stay true.
pub(crate) fn document_types(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use tentacle_domain::settings::Input;
    let Ok(mut document) = serde_json::to_value(&api) else {
        return api;
    };
    let kinds = tentacle_engine::registry();
    let schema_name = |key: &str| {
        let mut name: String = key
            .split('_')
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            })
            .collect();
        name.push_str("Settings");
        name
    };
    let schemas = &mut document["components"]["schemas"];
    for kind in &kinds {
        let defaults = kind.defaults();
        let mut properties = Map::new();
        for field in kind.fields() {
            let mut property = match field.input {
                Input::Toggle => serde_json::json!({"type": "boolean"}),
                Input::Integer { min, max, .. } => {
                    serde_json::json!({"type": "integer", "minimum": min, "maximum": max})
                }
                Input::OptionalInteger => serde_json::json!({"type": ["integer", "null"]}),
                Input::Text => serde_json::json!({"type": "string"}),
                Input::Time => {
                    serde_json::json!({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"})
                }
                Input::MultiSelect(values) => {
                    serde_json::json!({"type": "array", "items": {"type": "string", "enum": values()}})
                }
                Input::Choice(values) => serde_json::json!({"type": "string", "enum": values()}),
                Input::TextList => {
                    serde_json::json!({"type": "array", "items": {"type": "string"}})
                }
            };
            property["title"] = Value::from(field.label);
            property["description"] = Value::from(field.help);
            property["default"] = defaults[field.key].clone();
            properties.insert(field.key.to_string(), property);
        }
        schemas[schema_name(kind.key())] = serde_json::json!({
            "type": "object",
            "description": format!("Settings of a `{}` configuration: {}", kind.key(), kind.summary()),
            "properties": properties,
            "additionalProperties": false,
        });
    }
    let keys: Vec<&str> = kinds.iter().map(|k| k.key()).collect();
    if let Some(input) = schemas.get_mut("IntegrationInput") {
        input["properties"]["type"]["enum"] = serde_json::json!(keys);
        input["properties"]["settings"] = serde_json::json!({
            "description": "The type's settings; omitted keys take their defaults.",
            "anyOf": kinds
                .iter()
                .map(|k| serde_json::json!({"$ref": format!("#/components/schemas/{}", schema_name(k.key()))}))
                .collect::<Vec<_>>(),
        });
    }
    serde_json::from_value(document).unwrap_or(api)
}
