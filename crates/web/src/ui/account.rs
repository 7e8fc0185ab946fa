//! The logged-in user's own account: a password change (which ends every session of the
//! account) and "log out everywhere".

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::{Ui, UiResult, html};
use crate::AppState;
use crate::logins::Refusal;
use crate::users::{MIN_PASSWORD_CHARS, change_password};

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage {
    ui: Ui,
    tab: &'static str,
    min_chars: usize,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn page(ui: Ui, notice: Option<&'static str>, error: Option<String>) -> UiResult {
    html(&AccountPage {
        ui,
        tab: "account",
        min_chars: MIN_PASSWORD_CHARS,
        notice,
        error,
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct AccountQuery {
    done: Option<String>,
}

pub(crate) async fn show(ui: Ui, Query(query): Query<AccountQuery>) -> UiResult {
    let notice = match query.done.as_deref() {
        Some("password") => Some("Password changed."),
        _ => None,
    };
    page(ui, notice, None)
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// The session cookie cleared, and the login page: every session of the account just ended.
fn to_login() -> UiResult {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        super::session::cleared_session_cookie()
            .parse()
            .map_err(super::internal)?,
    );
    Ok(response)
}

pub(crate) async fn change(
    State(state): State<AppState>,
    ui: Ui,
    axum::Form(form): axum::Form<PasswordForm>,
) -> UiResult {
    let refuse = |ui: Ui, status: StatusCode, message: String| -> UiResult {
        let mut response = page(ui, None, Some(message))?;
        *response.status_mut() = status;
        Ok(response)
    };
    // The current password proves it is the account's owner at the keyboard, not someone at
    // an unlocked screen; it counts against the login limits like a login.
    if let Err(refusal) = state.logins.admit(&ui.user, None) {
        let message = match refusal {
            Refusal::Wait(wait) => format!(
                "Too many wrong passwords: try again in {} s.",
                wait.as_secs().max(1)
            ),
            Refusal::Busy => "tentacle is checking too many passwords: try again shortly.".into(),
        };
        return refuse(ui, StatusCode::TOO_MANY_REQUESTS, message);
    }
    let stored = state
        .store
        .user_by_name(&ui.user)
        .await
        .map_err(super::internal)?
        .map(|u| u.password_hash);
    let verified = state
        .logins
        .verify(&form.current, stored)
        .await
        .unwrap_or(false);
    if !verified {
        state.logins.failed(&ui.user, None);
        return refuse(
            ui,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The current password is wrong: nothing was changed.".into(),
        );
    }
    if form.new != form.repeat {
        return refuse(
            ui,
            StatusCode::UNPROCESSABLE_ENTITY,
            "The new password and its repetition differ: nothing was changed.".into(),
        );
    }
    match change_password(state.store.as_ref(), &ui.user, &form.new).await {
        Ok(true) => {
            tracing::info!(user = ?ui.user, "Password changed; every session of the account ended.");
            to_login()
        }
        Ok(false) => to_login(),
        Err(crate::users::UserError::ShortPassword) => refuse(
            ui,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "The new password must have at least {MIN_PASSWORD_CHARS} characters: nothing was changed."
            ),
        ),
        Err(error) => Err(super::internal(error)),
    }
}

pub(crate) async fn logout_everywhere(State(state): State<AppState>, ui: Ui) -> UiResult {
    let user = state
        .store
        .user_by_name(&ui.user)
        .await
        .map_err(super::internal)?;
    if let Some(user) = user {
        let ended = state
            .store
            .delete_user_sessions(user.id)
            .await
            .map_err(super::internal)?;
        tracing::info!(user = ?ui.user, sessions = ended, "Logged out everywhere.");
    }
    to_login()
}
