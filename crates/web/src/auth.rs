//! API tokens: made once with `tentacle token create NAME`, stored as their SHA-256, sent as
//! `Authorization: Bearer <token>`.
//!
//! A token is 32 random bytes, so a plain SHA-256 (no salt, no slow hash) cannot be reversed
//! and lets the store look it up directly.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use tentacle_store::Store;

use crate::AppState;
use crate::error::ApiError;

/// The OpenAPI security scheme name.
pub const SCHEME: &str = "bearer";
const PREFIX: &str = "tnt_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token name must not be empty")]
    EmptyName,
    #[error("the system gave no random bytes: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] tentacle_store::StoreError),
}

/// The hex SHA-256 under which a token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a new token named `name`, stores its hash and returns the token: the only time it
/// exists in clear.
pub async fn issue_token(store: &dyn Store, name: &str) -> Result<String, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!("{PREFIX}{}", hex::encode(bytes));
    store.create_api_token(name, &token_hash(&token)).await?;
    Ok(token)
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
    match state.store.api_token_by_hash(&token_hash(token)).await? {
        Some(found) => {
            tracing::debug!(token = %found.name, path = %request.uri().path(), "API request.");
            Ok(next.run(request).await)
        }
        None => Err(ApiError::Unauthorized),
    }
}
