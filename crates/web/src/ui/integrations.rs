//! The Integration configuration tab: the list, the orange "+" to create, and the form of a
//! configuration, generated from its type's declared settings (defaults filled in): a new type
//! needs no template of its own. The posted form becomes the JSON API's body and goes through
//! the same checks; each message shows beside its field.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tentacle_domain::settings::{Field, Input};
use tentacle_engine::Kind;
use tentacle_store::{CredentialKind, Integration};

use super::{DoneQuery, Errors, Ui, UiResult, api_error, html, internal, notice};
use crate::AppState;
use crate::error::ApiError;
use crate::integrations::read_input;

struct Row {
    id: i64,
    name: String,
    kind: String,
    origin: String,
    destination: String,
    active: bool,
}

#[derive(askama::Template)]
#[template(path = "integrations.html")]
struct ListPage {
    ui: Ui,
    tab: &'static str,
    rows: Vec<Row>,
    notice: Option<&'static str>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<DoneQuery>,
) -> UiResult {
    let credentials = state.store.credentials().await.map_err(internal)?;
    let name = |id: i64| {
        credentials
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| format!("credential {id}"), |c| c.name.clone())
    };
    let rows = state
        .store
        .integrations()
        .await
        .map_err(internal)?
        .into_iter()
        .map(|i| Row {
            id: i.id,
            origin: name(i.origin_credential_id),
            destination: name(i.destination_credential_id),
            name: i.name,
            kind: tentacle_engine::find(&i.kind)
                .map_or_else(|| i.kind.replace('_', " "), |k| k.label().to_string()),
            active: i.active,
        })
        .collect();
    html(&ListPage {
        ui,
        tab: "integrations",
        rows,
        notice: notice(query.done.as_deref()),
    })
}

/// One choice of a select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One setting as the form shows it, from its declaration and its value (stored, default or
/// as posted).
struct FieldView {
    /// The settings key, also the input's id.
    key: &'static str,
    label: &'static str,
    help: &'static str,
    /// `toggle`, `number`, `text`, `time` or `multi`.
    input: &'static str,
    /// The text of a number, text or time input.
    text: String,
    /// A toggle's state.
    on: bool,
    /// A multi-select's choices.
    choices: Vec<Choice>,
    min: Option<i64>,
    max: Option<i64>,
    /// The error shown beside the field.
    error: Option<String>,
    /// The toggle this field depends on.
    shown_by: Option<&'static str>,
}

/// A fieldset of the form.
struct Group {
    legend: &'static str,
    fields: Vec<FieldView>,
}

/// Every part of the form, as shown (from the stored settings) or as posted.
struct Fields {
    /// The type's key and how it is called.
    kind: &'static str,
    kind_label: &'static str,
    summary: &'static str,
    /// Every type, for the type select of a new configuration.
    kinds: Vec<Choice>,
    name: String,
    origin_label: &'static str,
    origin_help: &'static str,
    origin: Vec<Choice>,
    destination_label: &'static str,
    destination_help: &'static str,
    destination: Vec<Choice>,
    groups: Vec<Group>,
}

#[derive(askama::Template)]
#[template(path = "integration_form.html")]
struct FormPage {
    ui: Ui,
    tab: &'static str,
    id: Option<i64>,
    f: Fields,
    errors: Errors,
    other_errors: Vec<String>,
    no_credentials: bool,
}

/// The form names of every field of `kind`, for messages the form can place.
fn shown(kind: &dyn Kind) -> Vec<String> {
    [
        "name",
        "type",
        "origin_credential_id",
        "destination_credential_id",
    ]
    .into_iter()
    .map(str::to_string)
    .chain(kind.fields().iter().map(|f| format!("settings.{}", f.key)))
    .collect()
}

async fn credential_choices(
    state: &AppState,
    kind: CredentialKind,
    selected: &str,
) -> UiResult<Vec<Choice>> {
    Ok(state
        .store
        .credentials()
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|c| c.kind == kind)
        .map(|c| Choice {
            selected: c.id.to_string() == selected,
            value: c.id.to_string(),
            label: c.name,
        })
        .collect())
}

fn credential_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Shopify => "Shopify",
        CredentialKind::Pulpo => "PULPO",
    }
}

/// How a stored setting is shown in its input.
fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Where a field's value comes from: stored (or default) settings, or a posted form.
enum Source<'a> {
    Settings(&'a Value),
    Posted(&'a Posted),
}

impl Source<'_> {
    fn view(&self, field: &'static Field, errors: &Errors) -> FieldView {
        let name = format!("settings.{}", field.key);
        let (text, on, selected) = match self {
            Source::Settings(settings) => {
                let value = &settings[field.key];
                let selected = value
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                (as_text(value), value.as_bool().unwrap_or(false), selected)
            }
            Source::Posted(form) => (form.one(&name), form.on(&name), form.all(&name)),
        };
        let (input, min, max, choices) = match field.input {
            Input::Toggle => ("toggle", None, None, Vec::new()),
            Input::Integer { min, max, .. } => ("number", Some(min), Some(max), Vec::new()),
            Input::OptionalInteger => ("number", None, None, Vec::new()),
            Input::Text | Input::TextList => ("text", None, None, Vec::new()),
            Input::Time => ("time", None, None, Vec::new()),
            Input::Choice(values) => {
                let choices = values()
                    .into_iter()
                    .map(|value| Choice {
                        value: value.to_string(),
                        label: value.replace('_', " "),
                        selected: text == value,
                    })
                    .collect();
                ("choice", None, None, choices)
            }
            Input::MultiSelect(values) => {
                let choices = values()
                    .into_iter()
                    .map(|value| Choice {
                        value: value.to_string(),
                        label: value.replace('_', " ").to_lowercase(),
                        selected: selected.iter().any(|s| s == value),
                    })
                    .collect();
                ("multi", None, None, choices)
            }
        };
        FieldView {
            key: field.key,
            label: field.label,
            help: field.help,
            input,
            text,
            on,
            choices,
            min,
            max,
            error: errors.msg(&name).map(str::to_string),
            shown_by: field.shown_by,
        }
    }
}

/// The form of `kind` with its values from `source`.
async fn fields_of(
    state: &AppState,
    kind: &'static dyn Kind,
    name: &str,
    origin: &str,
    destination: &str,
    source: Source<'_>,
    errors: &Errors,
) -> UiResult<Fields> {
    let mut groups: Vec<Group> = Vec::new();
    for field in kind.fields() {
        let view = source.view(field, errors);
        match groups.iter_mut().find(|g| g.legend == field.group) {
            Some(group) => group.fields.push(view),
            None => groups.push(Group {
                legend: field.group,
                fields: vec![view],
            }),
        }
    }
    Ok(Fields {
        kind: kind.key(),
        kind_label: kind.label(),
        summary: kind.summary(),
        kinds: tentacle_engine::registry()
            .into_iter()
            .map(|k| Choice {
                value: k.key().to_string(),
                label: format!(
                    "{} ({} → {})",
                    k.label(),
                    credential_label(k.origin()),
                    credential_label(k.destination())
                ),
                selected: k.key() == kind.key(),
            })
            .collect(),
        name: name.to_string(),
        origin_label: credential_label(kind.origin()),
        origin_help: kind.origin_help(),
        origin: credential_choices(state, kind.origin(), origin).await?,
        destination_label: credential_label(kind.destination()),
        destination_help: kind.destination_help(),
        destination: credential_choices(state, kind.destination(), destination).await?,
        groups,
    })
}

/// A posted form: its values by name (repeated for multi-selects).
struct Posted(Vec<(String, String)>);

impl Posted {
    fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn on(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// The type the form is for: posted, or the first one.
    fn kind(&self) -> &'static dyn Kind {
        kind_or_first(Some(&self.one("type")))
    }

    /// The JSON API body the form stands for; numbers that are not numbers are reported here,
    /// the rest by the API's checks.
    fn body(&self, kind: &dyn Kind, errors: &mut Errors) -> Value {
        let mut settings = Map::new();
        for field in kind.fields() {
            let name = format!("settings.{}", field.key);
            let value = match field.input {
                Input::Toggle => json!(self.on(&name)),
                Input::Integer { .. } | Input::OptionalInteger => {
                    let text = self.one(&name);
                    if text.is_empty() {
                        if matches!(field.input, Input::Integer { .. }) {
                            errors.add(&name, "is required: enter a whole number");
                        }
                        continue;
                    }
                    match text.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => {
                            errors.add(&name, format!("{text:?} is not a whole number"));
                            continue;
                        }
                    }
                }
                Input::Text | Input::Time | Input::Choice(_) => json!(self.one(&name)),
                Input::MultiSelect(_) => json!(self.all(&name)),
                Input::TextList => json!(
                    self.one(&name)
                        .split(',')
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect::<Vec<_>>()
                ),
            };
            settings.insert(field.key.to_string(), value);
        }
        let id = |key: &str| {
            let text = self.one(key);
            text.parse::<i64>().map_or(Value::Null, |n| json!(n))
        };
        json!({
            "name": self.one("name"),
            "type": kind.key(),
            "origin_credential_id": id("origin_credential_id"),
            "destination_credential_id": id("destination_credential_id"),
            "settings": settings,
        })
    }
}

/// The type with this key, or the first one of the registry.
fn kind_or_first(key: Option<&str>) -> &'static dyn Kind {
    key.and_then(tentacle_engine::find)
        .unwrap_or_else(|| tentacle_engine::registry()[0])
}

fn form_page(ui: Ui, id: Option<i64>, f: Fields, errors: Errors) -> UiResult {
    let no_credentials = f.origin.is_empty() || f.destination.is_empty();
    let shown = shown(kind_or_first(Some(f.kind)));
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    let other_errors = errors.others(&shown);
    let invalid = !errors.is_empty();
    let mut response = html(&FormPage {
        ui,
        tab: "integrations",
        id,
        f,
        errors,
        other_errors,
        no_credentials,
    })?;
    if invalid {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

#[derive(serde::Deserialize)]
pub(crate) struct NewQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub(crate) async fn new_form(
    State(state): State<AppState>,
    ui: Ui,
    Query(query): Query<NewQuery>,
) -> UiResult {
    let kind = kind_or_first(query.kind.as_deref());
    let defaults = kind.defaults();
    let errors = Errors::default();
    let f = fields_of(
        &state,
        kind,
        "",
        "",
        "",
        Source::Settings(&defaults),
        &errors,
    )
    .await?;
    form_page(ui, None, f, errors)
}

async fn existing(state: &AppState, id: i64) -> UiResult<Integration> {
    state
        .store
        .integration(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| api_error(ApiError::NotFound(format!("integration {id}"))))
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
) -> UiResult {
    let integration = existing(&state, id).await?;
    let kind = tentacle_engine::find(&integration.kind).ok_or_else(|| {
        api_error(ApiError::NotFound(format!(
            "integration type {:?} (not supported by this tentacle)",
            integration.kind
        )))
    })?;
    let errors = Errors::default();
    let f = fields_of(
        &state,
        kind,
        &integration.name,
        &integration.origin_credential_id.to_string(),
        &integration.destination_credential_id.to_string(),
        Source::Settings(&integration.settings),
        &errors,
    )
    .await?;
    form_page(ui, Some(id), f, errors)
}

/// The form as posted, shown again with `errors`.
async fn posted_again(state: &AppState, form: &Posted, errors: &Errors) -> UiResult<Fields> {
    fields_of(
        state,
        form.kind(),
        &form.one("name"),
        &form.one("origin_credential_id"),
        &form.one("destination_credential_id"),
        Source::Posted(form),
        errors,
    )
    .await
}

/// Saves a posted form (create when `id` is `None`), or shows it again with its messages.
async fn save(state: &AppState, ui: Ui, id: Option<i64>, form: Posted) -> UiResult {
    let kind = form.kind();
    let mut errors = Errors::default();
    let body = form.body(kind, &mut errors);
    let checked = read_input(state.store.as_ref(), &body, id).await;
    let input = match checked {
        Ok(input) if errors.is_empty() => input,
        Ok(_) => {
            let f = posted_again(state, &form, &errors).await?;
            return form_page(ui, id, f, errors);
        }
        Err(ApiError::Invalid(problems)) => {
            let mut all = Errors::from_problems(problems);
            // A number the form could not read is reported once, with the form's words.
            for field in shown(kind) {
                if let Some(message) = errors.msg(&field) {
                    all.add(&field, message);
                }
            }
            let f = posted_again(state, &form, &all).await?;
            return form_page(ui, id, f, all);
        }
        Err(other) => return Err(api_error(other)),
    };
    let saved = match id {
        Some(id) => state.store.update_integration(id, input).await,
        // An insert: a create that lost a race for the name is a 409 page, not an overwrite.
        None => state.store.create_integration(input).await,
    }
    .map_err(|e| api_error(ApiError::Store(e)))?;
    tracing::info!(integration = %saved.name, user = %ui.user, "Integration saved.");
    let done = if id.is_some() { "updated" } else { "created" };
    Ok(Redirect::to(&format!("/integrations?done={done}")).into_response())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ui: Ui,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    save(&state, ui, None, Posted(form)).await
}

pub(crate) async fn update(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> UiResult {
    let integration = existing(&state, id).await?;
    // The type of a configuration is fixed once saved, whatever the form says.
    let mut fields = form;
    fields.retain(|(k, _)| k != "type");
    fields.push(("type".into(), integration.kind));
    save(&state, ui, Some(id), Posted(fields)).await
}

pub(crate) async fn delete(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    if !state.store.delete_integration(id).await.map_err(internal)? {
        return Err(api_error(ApiError::NotFound(format!("integration {id}"))));
    }
    tracing::info!(integration_id = id, user = %ui.user, "Integration deleted.");
    Ok(Redirect::to("/integrations?done=deleted").into_response())
}
