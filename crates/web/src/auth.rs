//! API tokens: made once with `tentacle token create NAME [--scope S] [--expires-days N]` (or
//! `POST /api/tokens`), stored as their SHA-256, sent as `Authorization: Bearer <token>`.
//!
//! A token is 32 random bytes, so a plain SHA-256 (no salt, no slow hash) cannot be reversed
//! and lets the store look it up directly.
//!
//! Each token has a scope: `metrics` may read `/metrics` only (what Prometheus needs, and all
//! a stolen scrape configuration gives away), `read` every `GET` but the token list, `admin`
//! everything. A token past its expiry or revoked is refused.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tentacle_store::{NewApiToken, Store, TokenScope};

use crate::AppState;
use crate::error::ApiError;

/// The OpenAPI security scheme name.
pub const SCHEME: &str = "bearer";
const PREFIX: &str = "tnt_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token name must not be empty")]
    EmptyName,
    #[error(
        "the token name must have at most {MAX_NAME_CHARS} characters and no control characters"
    )]
    BadName,
    #[error("the expiry must be in the future")]
    ExpiryPast,
    #[error("the system gave no random bytes: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] tentacle_store::StoreError),
}

/// The hex SHA-256 under which a token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Longest token name.
pub const MAX_NAME_CHARS: usize = 100;

/// Makes a new `admin` token named `name` that does not expire (see [`issue_scoped_token`]).
pub async fn issue_token(store: &dyn Store, name: &str) -> Result<String, TokenError> {
    issue_scoped_token(store, name, TokenScope::Admin, None).await
}

/// Makes a new token named `name` with `scope`, refused after `expires_at` when given, stores
/// its hash and returns the token: the only time it exists in clear.
pub async fn issue_scoped_token(
    store: &dyn Store,
    name: &str,
    scope: TokenScope,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(TokenError::BadName);
    }
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(TokenError::ExpiryPast);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    store
        .create_api_token(&NewApiToken {
            name: name.to_string(),
            token_hash: token_hash(&token),
            scope,
            expires_at,
        })
        .await?;
    Ok(token)
}

/// Whether a token of `scope` may make this request.
pub fn allows(scope: TokenScope, method: &Method, path: &str) -> bool {
    let reads = matches!(*method, Method::GET | Method::HEAD);
    match scope {
        TokenScope::Admin => true,
        // The token list names every token and its scope: an administrator's business.
        TokenScope::Read => reads && !path.starts_with("/api/tokens"),
        TokenScope::Metrics => reads && path == "/metrics",
    }
}

/// The scope a request needs at least, for the refusal's message.
fn needed(method: &Method, path: &str) -> TokenScope {
    TokenScope::ALL
        .into_iter()
        .find(|scope| allows(*scope, method, path))
        .unwrap_or(TokenScope::Admin)
}

/// Lets the request through only with a known bearer token.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let found = state
        .store
        .api_token_by_hash(&token_hash(token))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let now = Utc::now();
    if let Some(expired) = found.expires_at.filter(|at| *at <= now) {
        return Err(ApiError::TokenExpired(expired.to_rfc3339()));
    }
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    if !allows(found.scope, &method, &path) {
        tracing::warn!(token = ?found.name, scope = %found.scope, %method, path = ?path, "API request refused: outside the token's scope.");
        return Err(ApiError::Forbidden(format!(
            "this token's scope is {}, which does not allow {method} {path}; that needs a token with scope {}",
            found.scope,
            needed(&method, &path)
        )));
    }
    // Last use is a convenience for the token list, kept to the minute: written only when the
    // stored one is older (not a write per request, which on SQLite takes the write lock), and
    // a busy database must not fail the request.
    let stale = found
        .last_used_at
        .is_none_or(|at| now - at >= chrono::TimeDelta::minutes(1));
    if stale && let Err(error) = state.store.api_token_used(found.id, now).await {
        tracing::warn!(%error, "Cannot record the API token's last use.");
    }
    tracing::debug!(token = ?found.name, path = ?path, "API request.");
    Ok(next.run(request).await)
}
