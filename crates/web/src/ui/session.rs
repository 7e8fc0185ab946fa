//! Login, logout, the session gate and CSRF.
//!
//! A session is a random cookie value (`HttpOnly`, `SameSite=Strict`), stored by its SHA-256
//! with an absolute expiry. Every state-changing request must also carry the session's CSRF
//! token as the form field `csrf`; the login form, which has no session yet, uses a
//! double-submit cookie instead.

use axum::body::{Body, to_bytes};
use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use tentacle_store::{NewSession, Session};

use super::{Ui, UiResult, html};
use crate::AppState;
use crate::logins::Refusal;

const SESSION_COOKIE: &str = "tentacle_session";
const LOGIN_CSRF_COOKIE: &str = "tentacle_login_csrf";
/// An operator logs in once per working day.
const SESSION_HOURS: i64 = 12;
/// Forms are small; anything bigger is not ours.
const MAX_FORM_BYTES: usize = 256 * 1024;

fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn set_cookie(name: &str, value: &str, max_age_seconds: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}")
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    crate::users::same_bytes(a.as_bytes(), b.as_bytes())
}

/// The value of `field` in an urlencoded body.
fn form_field(body: &[u8], field: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == field)
        .map(|(_, value)| value)
}

/// Lets a request through only with a live session; state-changing ones also need its CSRF
/// token. Pages send the browser to the login page; other requests get a 401.
pub(crate) async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let session = match cookie(request.headers(), SESSION_COOKIE) {
        Some(token) => match state.store.session_by_hash(&hash(&token), Utc::now()).await {
            Ok(session) => session,
            Err(error) => return super::internal(error).into_response(),
        },
        None => None,
    };
    let Some(session) = session else {
        return if matches!(*request.method(), Method::GET | Method::HEAD) {
            Redirect::to("/login").into_response()
        } else {
            (StatusCode::UNAUTHORIZED, "Log in first: /login").into_response()
        };
    };
    let (mut parts, body) = request.into_parts();
    let body = if matches!(parts.method, Method::GET | Method::HEAD) {
        body
    } else {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
        };
        let sent = form_field(&bytes, "csrf").unwrap_or_default();
        if !same(&sent, &session.csrf_token) {
            tracing::warn!(user = %session.user_name, path = %parts.uri.path(), "Form refused: CSRF token missing or wrong.");
            return (
                StatusCode::FORBIDDEN,
                "This form is out of date or did not come from tentacle: reload the page and try again.",
            )
                .into_response();
        }
        Body::from(bytes)
    };
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, body)).await
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    name: String,
    error: Option<String>,
}

fn login_page(csrf: String, name: String, error: Option<String>) -> UiResult {
    html(&LoginPage { csrf, name, error })
}

pub(crate) async fn login_form(headers: HeaderMap) -> UiResult {
    let csrf = match cookie(&headers, LOGIN_CSRF_COOKIE) {
        Some(csrf) if csrf.len() == 64 => csrf,
        _ => random_token().map_err(super::internal)?,
    };
    let mut response = login_page(csrf.clone(), String::new(), None)?;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600)
            .parse()
            .map_err(super::internal)?,
    );
    Ok(response)
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> UiResult {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&form.csrf, &expected) {
        return Ok((
            StatusCode::FORBIDDEN,
            "This login form is out of date: reload the page and try again.",
        )
            .into_response());
    }
    let name = form.name.trim();
    let address = peer.map(|Extension(ConnectInfo(peer))| peer.ip());
    let refused =
        |status: StatusCode, message: String, retry_after: Option<std::time::Duration>| {
            let mut response = login_page(expected.clone(), name.to_string(), Some(message))?;
            *response.status_mut() = status;
            if let Some(wait) = retry_after {
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.into());
            }
            Ok(response)
        };
    if let Err(refusal) = state.logins.admit(name, address) {
        // Name and address as Debug: escaped, so a crafted name cannot forge a log line.
        tracing::warn!(user = ?name, address = ?address, "Login refused without checking: too many failures.");
        return refusal_page(refusal, refused);
    }
    let user = state
        .store
        .user_by_name(name)
        .await
        .map_err(super::internal)?;
    let verified = match state
        .logins
        .verify(
            &form.password,
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await
    {
        Ok(verified) => verified,
        Err(refusal) => return refusal_page(refusal, refused),
    };
    let Some(user) = user.filter(|_| verified) else {
        state.logins.failed(name, address);
        tracing::warn!(user = ?name, address = ?address, "Login refused.");
        return refused(
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.".into(),
            None,
        );
    };
    state.logins.succeeded(name, address);
    let token = random_token().map_err(super::internal)?;
    let csrf = random_token().map_err(super::internal)?;
    state
        .store
        .create_session(&NewSession {
            token_hash: hash(&token),
            user_id: user.id,
            csrf_token: csrf,
            expires_at: Utc::now() + Duration::hours(SESSION_HOURS),
        })
        .await
        .map_err(super::internal)?;
    tracing::info!(user = ?user.name, "Logged in.");
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    for value in [
        set_cookie(SESSION_COOKIE, &token, SESSION_HOURS * 3600),
        set_cookie(LOGIN_CSRF_COOKIE, "", 0),
    ] {
        headers.append(header::SET_COOKIE, value.parse().map_err(super::internal)?);
    }
    Ok(response)
}

/// The login page for an attempt that was not checked: 429 with `Retry-After` when the
/// account or the address must wait, 503 when every verification slot stayed busy.
fn refusal_page(
    refusal: Refusal,
    refused: impl Fn(StatusCode, String, Option<std::time::Duration>) -> UiResult,
) -> UiResult {
    match refusal {
        Refusal::Wait(wait) => {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            refused(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed logins for this user name or from this address: try again in {seconds} s. Each further failure doubles the wait (at most 15 minutes)."
                ),
                Some(wait),
            )
        }
        Refusal::Busy => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "tentacle is checking too many logins at once: try again in a few seconds.".into(),
            Some(std::time::Duration::from_secs(5)),
        ),
    }
}

pub(crate) async fn logout(State(state): State<AppState>, ui: Ui, headers: HeaderMap) -> UiResult {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state
            .store
            .delete_session(&hash(&token))
            .await
            .map_err(super::internal)?;
    }
    tracing::info!(user = %ui.user, "Logged out.");
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0)
            .parse()
            .map_err(super::internal)?,
    );
    Ok(response)
}

/// The `Set-Cookie` value that removes the session cookie from the browser.
pub(crate) fn cleared_session_cookie() -> String {
    set_cookie(SESSION_COOKIE, "", 0)
}

/// The session of a request that passed [`require_session`].
pub(crate) fn from_session(session: &Session) -> Ui {
    Ui {
        user: session.user_name.clone(),
        csrf: session.csrf_token.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_form_fields_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; tentacle_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert_eq!(
            form_field(b"x=1&csrf=t%20k", "csrf").as_deref(),
            Some("t k")
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
