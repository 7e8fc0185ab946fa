//! The Integration configuration tab: the list, the orange "+" to create, and one form per type
//! with every sales orders setting of SPEC §3.1 (defaults filled in). The posted form becomes
//! the JSON API's body and goes through the same checks; each message shows beside its field.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tentacle_domain::order::{FinancialStatus, FulfillmentStatus};
use tentacle_domain::settings::SalesOrderSettings;
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
            kind: i.kind.replace('_', " "),
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

/// Every field of the form as text, as shown (from the stored settings) or as posted.
struct Fields {
    name: String,
    origin: Vec<Choice>,
    destination: Vec<Choice>,
    automatic_transfer: bool,
    frequency_minutes: String,
    import_financial_statuses: Vec<Choice>,
    import_fulfillment_statuses: Vec<Choice>,
    cancel_financial_statuses: Vec<Choice>,
    cancel_fulfillment_statuses: Vec<Choice>,
    required_tags: String,
    only_physical_products: bool,
    fallback_customer_id: String,
    order_number_prefix: String,
    initial_import_days: String,
    transfer_once_a_day: bool,
    transmission_time: String,
    time_zone: String,
    timeframe_days: String,
    time_difference_seconds: String,
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

const SHOWN: &[&str] = &[
    "name",
    "origin_credential_id",
    "destination_credential_id",
    "settings.automatic_transfer",
    "settings.frequency_minutes",
    "settings.import_financial_statuses",
    "settings.import_fulfillment_statuses",
    "settings.cancel_financial_statuses",
    "settings.cancel_fulfillment_statuses",
    "settings.required_tags",
    "settings.only_physical_products",
    "settings.fallback_customer_id",
    "settings.order_number_prefix",
    "settings.initial_import_days",
    "settings.transfer_once_a_day",
    "settings.transmission_time",
    "settings.time_zone",
    "settings.timeframe_days",
    "settings.time_difference_seconds",
];

fn choices<'a>(all: impl Iterator<Item = &'a str>, selected: &[String]) -> Vec<Choice> {
    all.map(|value| Choice {
        value: value.to_string(),
        label: value.replace('_', " ").to_lowercase(),
        selected: selected.iter().any(|s| s == value),
    })
    .collect()
}

fn financial(selected: &[String]) -> Vec<Choice> {
    choices(FinancialStatus::ALL.iter().map(|s| s.as_str()), selected)
}

fn fulfillment(selected: &[String]) -> Vec<Choice> {
    choices(FulfillmentStatus::ALL.iter().map(|s| s.as_str()), selected)
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

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The form's fields for stored (or default) settings.
async fn fields_of(
    state: &AppState,
    name: &str,
    origin: &str,
    destination: &str,
    settings: &SalesOrderSettings,
) -> UiResult<Fields> {
    let s = serde_json::to_value(settings).map_err(internal)?;
    Ok(Fields {
        name: name.to_string(),
        origin: credential_choices(state, CredentialKind::Shopify, origin).await?,
        destination: credential_choices(state, CredentialKind::Pulpo, destination).await?,
        automatic_transfer: settings.automatic_transfer,
        frequency_minutes: settings.frequency_minutes.to_string(),
        import_financial_statuses: financial(&strings(&s["import_financial_statuses"])),
        import_fulfillment_statuses: fulfillment(&strings(&s["import_fulfillment_statuses"])),
        cancel_financial_statuses: financial(&strings(&s["cancel_financial_statuses"])),
        cancel_fulfillment_statuses: fulfillment(&strings(&s["cancel_fulfillment_statuses"])),
        required_tags: settings.required_tags.join(", "),
        only_physical_products: settings.only_physical_products,
        fallback_customer_id: settings
            .fallback_customer_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        order_number_prefix: settings.order_number_prefix.clone(),
        initial_import_days: settings.initial_import_days.to_string(),
        transfer_once_a_day: settings.transfer_once_a_day,
        transmission_time: settings.transmission_time.clone(),
        time_zone: settings.time_zone.clone(),
        timeframe_days: settings.timeframe_days.to_string(),
        time_difference_seconds: settings.time_difference_seconds.to_string(),
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

    async fn fields(&self, state: &AppState) -> UiResult<Fields> {
        Ok(Fields {
            name: self.one("name"),
            origin: credential_choices(
                state,
                CredentialKind::Shopify,
                &self.one("origin_credential_id"),
            )
            .await?,
            destination: credential_choices(
                state,
                CredentialKind::Pulpo,
                &self.one("destination_credential_id"),
            )
            .await?,
            automatic_transfer: self.on("settings.automatic_transfer"),
            frequency_minutes: self.one("settings.frequency_minutes"),
            import_financial_statuses: financial(&self.all("settings.import_financial_statuses")),
            import_fulfillment_statuses: fulfillment(
                &self.all("settings.import_fulfillment_statuses"),
            ),
            cancel_financial_statuses: financial(&self.all("settings.cancel_financial_statuses")),
            cancel_fulfillment_statuses: fulfillment(
                &self.all("settings.cancel_fulfillment_statuses"),
            ),
            required_tags: self.one("settings.required_tags"),
            only_physical_products: self.on("settings.only_physical_products"),
            fallback_customer_id: self.one("settings.fallback_customer_id"),
            order_number_prefix: self.one("settings.order_number_prefix"),
            initial_import_days: self.one("settings.initial_import_days"),
            transfer_once_a_day: self.on("settings.transfer_once_a_day"),
            transmission_time: self.one("settings.transmission_time"),
            time_zone: self.one("settings.time_zone"),
            timeframe_days: self.one("settings.timeframe_days"),
            time_difference_seconds: self.one("settings.time_difference_seconds"),
        })
    }

    /// The JSON API body the form stands for; numbers that are not numbers are reported here,
    /// the rest by the API's checks.
    fn body(&self, errors: &mut Errors) -> Value {
        let mut settings = Map::new();
        for key in [
            "automatic_transfer",
            "only_physical_products",
            "transfer_once_a_day",
        ] {
            settings.insert(key.into(), json!(self.on(&format!("settings.{key}"))));
        }
        for key in [
            "frequency_minutes",
            "initial_import_days",
            "timeframe_days",
            "time_difference_seconds",
            "fallback_customer_id",
        ] {
            let field = format!("settings.{key}");
            let text = self.one(&field);
            if text.is_empty() {
                if key != "fallback_customer_id" {
                    errors.add(&field, "is required: enter a whole number");
                }
                continue;
            }
            match text.parse::<i64>() {
                Ok(n) => {
                    settings.insert(key.into(), json!(n));
                }
                Err(_) => errors.add(&field, format!("{text:?} is not a whole number")),
            }
        }
        for key in [
            "import_financial_statuses",
            "import_fulfillment_statuses",
            "cancel_financial_statuses",
            "cancel_fulfillment_statuses",
        ] {
            settings.insert(key.into(), json!(self.all(&format!("settings.{key}"))));
        }
        let tags: Vec<String> = self
            .one("settings.required_tags")
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        settings.insert("required_tags".into(), json!(tags));
        for key in ["order_number_prefix", "transmission_time", "time_zone"] {
            settings.insert(key.into(), json!(self.one(&format!("settings.{key}"))));
        }
        let id = |key: &str| {
            let text = self.one(key);
            text.parse::<i64>().map_or(Value::Null, |n| json!(n))
        };
        json!({
            "name": self.one("name"),
            "type": "sales_orders",
            "origin_credential_id": id("origin_credential_id"),
            "destination_credential_id": id("destination_credential_id"),
            "settings": settings,
        })
    }
}

fn form_page(ui: Ui, id: Option<i64>, f: Fields, errors: Errors) -> UiResult {
    let no_credentials = f.origin.is_empty() || f.destination.is_empty();
    let other_errors = errors.others(SHOWN);
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

pub(crate) async fn new_form(State(state): State<AppState>, ui: Ui) -> UiResult {
    let f = fields_of(&state, "", "", "", &SalesOrderSettings::default()).await?;
    form_page(ui, None, f, Errors::default())
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
    let settings: SalesOrderSettings =
        serde_json::from_value(integration.settings.clone()).map_err(internal)?;
    let f = fields_of(
        &state,
        &integration.name,
        &integration.origin_credential_id.to_string(),
        &integration.destination_credential_id.to_string(),
        &settings,
    )
    .await?;
    form_page(ui, Some(id), f, Errors::default())
}

/// Saves a posted form (create when `id` is `None`), or shows it again with its messages.
async fn save(state: &AppState, ui: Ui, id: Option<i64>, form: Posted) -> UiResult {
    let mut errors = Errors::default();
    let body = form.body(&mut errors);
    let checked = read_input(state.store.as_ref(), &body, id).await;
    let input = match checked {
        Ok(input) if errors.is_empty() => input,
        Ok(_) => return form_page(ui, id, form.fields(state).await?, errors),
        Err(ApiError::Invalid(problems)) => {
            let mut all = Errors::from_problems(problems);
            // A number the form could not read is reported once, with the form's words.
            for field in SHOWN {
                if let Some(message) = errors.msg(field) {
                    all.add(field, message);
                }
            }
            return form_page(ui, id, form.fields(state).await?, all);
        }
        Err(other) => return Err(api_error(other)),
    };
    let saved = match id {
        Some(id) => state.store.update_integration(id, input).await,
        None => state.store.save_integration(input).await,
    }
    .map_err(internal)?;
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
    existing(&state, id).await?;
    save(&state, ui, Some(id), Posted(form)).await
}

pub(crate) async fn delete(State(state): State<AppState>, ui: Ui, Path(id): Path<i64>) -> UiResult {
    if !state.store.delete_integration(id).await.map_err(internal)? {
        return Err(api_error(ApiError::NotFound(format!("integration {id}"))));
    }
    tracing::info!(integration_id = id, user = %ui.user, "Integration deleted.");
    Ok(Redirect::to("/integrations?done=deleted").into_response())
}
