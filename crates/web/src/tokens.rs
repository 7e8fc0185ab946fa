//! `/api/tokens`: the API tokens, listed with their scope, expiry and last use (never the token
//! or its hash), made (the token shown once) and revoked. `admin` scope only.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tentacle_store::{ApiToken, TokenScope};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{TokenError, issue_scoped_token};
use crate::error::{ApiError, ErrorBody, FieldProblem, Result, json_body};

/// Longest expiry a token may be given, in days.
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// A token as listed: what it may do and when it was used, never the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub name: String,
    /// `metrics`, `read` or `admin`.
    #[schema(example = "metrics")]
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiToken> for TokenView {
    fn from(token: &ApiToken) -> Self {
        TokenView {
            name: token.name.clone(),
            scope: token.scope.as_str().to_string(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
        }
    }
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// Who or what uses it.
    pub name: String,
    /// `metrics`, `read` or `admin` (the default).
    #[serde(default)]
    #[schema(example = "read")]
    pub scope: Option<String>,
    /// Refused after this many days; none: it does not expire.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}

/// The new token: `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub name: String,
    #[schema(example = "metrics")]
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Send it as `Authorization: Bearer <token>`; only its hash is stored.
    pub token: String,
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn list_tokens(State(state): State<AppState>) -> Result<Json<Vec<TokenView>>> {
    let tokens = state.store.api_tokens().await?;
    Ok(Json(tokens.iter().map(TokenView::from).collect()))
}

#[utoipa::path(post, path = "/api/tokens", tag = "tokens",
    security(("bearer" = [])),
    request_body = TokenInput,
    responses((status = 201, body = IssuedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    body: std::result::Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>)> {
    let input: TokenInput = serde_json::from_value(json_body(body)?)
        .map_err(|e| ApiError::BadRequest(format!("not a token: {e}")))?;
    let scope = match input.scope.as_deref() {
        None => TokenScope::Admin,
        Some(text) => TokenScope::parse(text).ok_or_else(|| {
            ApiError::Invalid(vec![FieldProblem {
                field: "scope".into(),
                message: format!("must be one of metrics, read, admin; got {text:?}"),
            }])
        })?,
    };
    let expires_at = match input.expires_in_days {
        None => None,
        Some(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
            Some(Utc::now() + TimeDelta::days(days))
        }
        Some(days) => {
            return Err(ApiError::Invalid(vec![FieldProblem {
                field: "expires_in_days".into(),
                message: format!("must be from 1 to {MAX_EXPIRY_DAYS} days; got {days}"),
            }]));
        }
    };
    let token = issue_scoped_token(state.store.as_ref(), &input.name, scope, expires_at)
        .await
        .map_err(|error| match error {
            TokenError::Store(error) => ApiError::Store(error),
            other => ApiError::Invalid(vec![FieldProblem {
                field: "name".into(),
                message: other.to_string(),
            }]),
        })?;
    let stored = state
        .store
        .api_tokens()
        .await?
        .into_iter()
        .find(|t| t.name == input.name.trim())
        .ok_or_else(|| ApiError::NotFound(format!("token {:?}", input.name)))?;
    tracing::info!(token = ?stored.name, scope = %stored.scope, "API token created.");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            name: stored.name,
            scope: stored.scope.as_str().to_string(),
            created_at: stored.created_at,
            expires_at: stored.expires_at,
            last_used_at: stored.last_used_at,
            token,
        }),
    ))
}

/// Revokes the token: requests with it are refused from now on.
#[utoipa::path(delete, path = "/api/tokens/{name}", tag = "tokens",
    security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    if state.store.revoke_api_token(&name).await? {
        tracing::info!(token = ?name, "API token revoked.");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("token {name:?}")))
    }
}
