//! The web UI (the "Integrations" menu of SPEC §5): server-rendered askama pages for the
//! overview (the landing page), credentials, integration configurations, integration controls,
//! runs, the orders that need attention and the alert channels. No build step: one stylesheet
//! and one small script (`static/live.js`) that
//! refreshes the live parts of a page.
//!
//! Everything but the login page and the two static files needs a session, and every form
//! post its CSRF token ([`session::require_session`]). Validation and the connection check are
//! the JSON API's own, so both surfaces accept and refuse the same things.

mod account;
mod alerts;
mod attention;
mod controls;
mod credentials;
mod integrations;
mod overview;
mod runs;
mod session;

use std::collections::BTreeMap;
use std::fmt::Display;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use tentacle_domain::run::RunStatus;
use tentacle_store::Session;

use crate::AppState;
use crate::error::{ApiError, FieldProblem};

/// Who is logged in, and the CSRF token every form of the page carries.
#[derive(Debug, Clone)]
pub(crate) struct Ui {
    pub user: String,
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ui {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ui, Response> {
        parts
            .extensions
            .get::<Session>()
            .map(session::from_session)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// A page that could not be shown: the response that says why (boxed, it is large).
pub(crate) struct UiError(Box<Response>);

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for UiError {
    fn from(response: Response) -> UiError {
        UiError(Box::new(response))
    }
}

/// A page, or the error page in its place.
pub(crate) type UiResult<T = Response> = Result<T, UiError>;

/// Renders a template as an HTML page.
pub(crate) fn html<T: askama::Template>(template: &T) -> UiResult {
    template
        .render()
        .map(|body| Html(body).into_response())
        .map_err(internal)
}

/// Logs an internal error and shows a page that says where to look.
pub(crate) fn internal(error: impl Display) -> UiError {
    tracing::error!(error = %error, "UI request failed.");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong inside tentacle; the server log has the details.",
    )
        .into_response()
        .into()
}

/// A JSON API error as the UI shows it: missing things are a 404 page, the rest a message.
pub(crate) fn api_error(error: ApiError) -> UiError {
    match error {
        ApiError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found"))
            .into_response()
            .into(),
        ApiError::Conflict(what)
        | ApiError::Store(tentacle_store::StoreError::Conflict { what }) => {
            (StatusCode::CONFLICT, what).into_response().into()
        }
        ApiError::Store(error) => internal(error),
        other => (StatusCode::BAD_REQUEST, other.to_string())
            .into_response()
            .into(),
    }
}

/// An engine error as the UI shows it: an integration that does not exist (a stale page, a
/// hand-made post) is a 404 page naming it, not an internal error in the log.
pub(crate) fn engine_error(error: tentacle_engine::EngineError) -> UiError {
    api_error(crate::controls::engine_error(error))
}

/// The messages of a form's bad fields, by field name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Errors(BTreeMap<String, String>);

impl Errors {
    pub(crate) fn from_problems(problems: Vec<FieldProblem>) -> Errors {
        let mut errors = BTreeMap::new();
        for problem in problems {
            errors
                .entry(problem.field)
                .and_modify(|m: &mut String| {
                    m.push_str("; ");
                    m.push_str(&problem.message);
                })
                .or_insert(problem.message);
        }
        Errors(errors)
    }

    pub(crate) fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.insert(field.to_string(), message.into());
    }

    /// The message for `field`, if it is bad.
    pub(crate) fn msg(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Messages of fields the form has no place for, e.g. `settings`.
    pub(crate) fn others(&self, shown: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(field, _)| !shown.contains(&field.as_str()))
            .map(|(field, message)| format!("{field}: {message}"))
            .collect()
    }
}

/// How a run status is shown: a colour, an icon and the words, so colour is never the only
/// signal.
#[derive(Debug, Clone)]
pub(crate) struct Badge {
    pub class: &'static str,
    pub icon: &'static str,
    pub label: String,
    pub spinning: bool,
}

impl Badge {
    pub(crate) fn of(status: RunStatus) -> Badge {
        let (class, icon) = match status {
            RunStatus::Finished => ("ok", "✓"),
            RunStatus::FinishedPartially => ("warn", "!"),
            RunStatus::Failed => ("bad", "✕"),
            RunStatus::Running => ("running", ""),
            RunStatus::Queued => ("queued", "…"),
        };
        Badge {
            class,
            icon,
            label: status.as_str().replace('_', " "),
            spinning: status == RunStatus::Running,
        }
    }
}

/// A time as the pages show it (UTC, to the second).
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn when_opt(at: Option<DateTime<Utc>>) -> String {
    at.map(when).unwrap_or_else(|| "—".into())
}

/// A short confirmation after a redirect, chosen from fixed words (never echoed from the URL).
pub(crate) fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Saved.",
        "updated" => "Changes saved.",
        "deleted" => "Deleted.",
        "started" => "Started: runs follow its schedule.",
        "stopped" => "Stopped: no new runs are queued.",
        "queued" => "Run queued: it starts as soon as a worker is free.",
        "resolved" => "Marked resolved.",
        _ => return None,
    })
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct DoneQuery {
    pub done: Option<String>,
}

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/live.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Pages may not be framed, run foreign scripts or be cached.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The UI's routes; merged beside the JSON API (which lives under `/api/`).
pub(crate) fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(overview::page))
        .route("/overview/tiles", get(overview::tiles))
        .route("/logout", post(session::logout))
        .route("/account", get(account::show))
        .route("/account/password", post(account::change))
        .route(
            "/account/logout-everywhere",
            post(account::logout_everywhere),
        )
        .route(
            "/credentials",
            get(credentials::list).post(credentials::create),
        )
        .route("/credentials/new", get(credentials::new_form))
        .route("/credentials/{id}", post(credentials::update))
        .route("/credentials/{id}/edit", get(credentials::edit_form))
        .route("/credentials/{id}/delete", post(credentials::delete))
        .route("/credentials/{id}/check", post(credentials::check))
        .route("/alerts", get(alerts::list).post(alerts::create))
        .route("/alerts/new", get(alerts::new_form))
        .route("/alerts/{id}", post(alerts::update))
        .route("/alerts/{id}/edit", get(alerts::edit_form))
        .route("/alerts/{id}/delete", post(alerts::delete))
        .route("/alerts/{id}/test", post(alerts::test))
        .route(
            "/integrations",
            get(integrations::list).post(integrations::create),
        )
        .route("/integrations/new", get(integrations::new_form))
        .route("/integrations/{id}", post(integrations::update))
        .route("/integrations/{id}/edit", get(integrations::edit_form))
        .route("/integrations/{id}/delete", post(integrations::delete))
        .route("/controls", get(controls::page))
        .route("/controls/rows", get(controls::rows))
        .route("/controls/{id}/start", post(controls::start))
        .route("/controls/{id}/stop", post(controls::stop))
        .route("/controls/{id}/run", post(controls::run_now))
        .route("/runs/{id}", get(runs::page))
        .route("/runs/{id}/live", get(runs::live_part))
        .route("/attention", get(attention::page))
        .route("/attention/retry", post(attention::retry))
        .route("/attention/resolve", post(attention::resolve))
        .route_layer(from_fn_with_state(state.clone(), session::require_session));
    let public = Router::new()
        .route("/login", get(session::login_form).post(session::login))
        .route(
            "/static/app.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/live.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        );
    protected
        .merge(public)
        .layer(from_fn(security_headers))
        .with_state(state)
}
