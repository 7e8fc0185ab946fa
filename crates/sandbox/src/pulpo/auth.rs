//! PULPO's OAuth2 password grant (`POST /auth`, reference §B.2) and the bearer-token check on
//! every other API route.
//!
//! Tokens are JWT-shaped (header.payload.signature) but opaque to the sandbox: it only keeps
//! when each one expires. Their lifetime can change at runtime and every issued token can be
//! expired at once (`POST /sandbox/tokens/expire`), so tests can make a client's token go stale
//! mid-run without sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::PulpoState;
use super::error::{ApiError, parse_json};
use crate::rng::Rng;

/// `AccessTokenRequest`. `scope` is required by the spec but clients send `"default"`,
/// `"general"` or `""`, so any value (or none) is accepted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccessTokenRequest {
    pub username: Option<String>,
    pub password: Option<String>,
    pub scope: Option<String>,
    pub grant_type: Option<String>,
}

/// `AccessTokenResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct AccessTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub scope: &'static str,
    pub expires_in: u64,
}

/// Issued tokens and when they expire.
#[derive(Debug)]
pub struct Tokens {
    expiry: HashMap<String, Instant>,
    rng: Rng,
    issued: u64,
}

impl Tokens {
    pub fn new(seed: u64) -> Tokens {
        Tokens {
            expiry: HashMap::new(),
            rng: Rng::new(seed).fork(0x70C3),
            issued: 0,
        }
    }

    pub fn issue(&mut self, username: &str, lifetime: Duration) -> String {
        self.issued += 1;
        let now = Instant::now();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            serde_json::json!({
                "sub": username,
                "jti": self.issued,
                "exp_in": lifetime.as_secs(),
            })
            .to_string(),
        );
        let signature = URL_SAFE_NO_PAD.encode(
            [self.rng.next_u64(), self.rng.next_u64()]
                .iter()
                .flat_map(|n| n.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        let token = format!("{header}.{payload}.{signature}");
        self.expiry.insert(token.clone(), now + lifetime);
        // Forget long-dead tokens so a long benchmark does not grow the map without bound;
        // they answer 401 like unknown ones.
        if self.issued.is_multiple_of(1024) {
            self.expiry.retain(|_, expires| *expires > now);
        }
        token
    }

    pub fn is_valid(&self, token: &str) -> bool {
        self.expiry
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Expires every issued token now; returns how many were still valid.
    pub fn expire_all(&mut self) -> usize {
        let now = Instant::now();
        let mut expired = 0;
        for expires in self.expiry.values_mut() {
            if *expires > now {
                expired += 1;
                *expires = now;
            }
        }
        expired
    }
}

/// `POST /auth`: JSON or `application/x-www-form-urlencoded` body.
pub async fn request_token(
    State(state): State<PulpoState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<AccessTokenResponse>, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let request: AccessTokenRequest = if is_form {
        parse_form(&body)?
    } else {
        parse_json(&body)?
    };
    if request
        .grant_type
        .as_deref()
        .is_some_and(|grant| grant != "password")
    {
        return Err(ApiError::bad_request("grant_type", "is invalid"));
    }
    let (Some(username), Some(password)) = (request.username, request.password) else {
        return Err(ApiError::bad_request(
            "username",
            "username and password are required",
        ));
    };
    if username != state.config.username || password != state.config.password {
        return Err(ApiError::Unauthorized);
    }
    let lifetime = state.governor.limits().token_lifetime();
    let access_token = state.tokens().issue(&username, lifetime);
    Ok(Json(AccessTokenResponse {
        access_token,
        token_type: "bearer",
        scope: "general",
        expires_in: lifetime.as_secs(),
    }))
}

/// A form body has the query-string encoding, so axum's query decoder reads it.
fn parse_form(body: &[u8]) -> Result<AccessTokenRequest, ApiError> {
    let invalid = || ApiError::bad_request("body", "is not a valid form body");
    let body = std::str::from_utf8(body).map_err(|_| invalid())?;
    let uri: Uri = format!("/?{body}").parse().map_err(|_| invalid())?;
    Query::try_from_uri(&uri)
        .map(|Query(request)| request)
        .map_err(|_| invalid())
}

/// Middleware on every authenticated route: a valid `Authorization: Bearer <token>` or 401.
pub async fn require_token(
    State(state): State<PulpoState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if state.tokens().is_valid(token) => Ok(next.run(request).await),
        _ => Err(ApiError::Unauthorized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_by_lifetime_or_all_at_once() {
        let mut tokens = Tokens::new(1);
        let long = tokens.issue("sandbox_admin", Duration::from_secs(3600));
        let dead = tokens.issue("sandbox_admin", Duration::ZERO);
        assert_ne!(long, dead);
        assert_eq!(long.split('.').count(), 3, "JWT-shaped");
        assert!(tokens.is_valid(&long));
        assert!(!tokens.is_valid(&dead));
        assert!(!tokens.is_valid("unknown"));
        assert_eq!(tokens.expire_all(), 1);
        assert!(!tokens.is_valid(&long));
    }

    #[test]
    fn form_bodies_decode() {
        let request = parse_form(b"username=a%5Fb&password=p+w&scope=").unwrap();
        assert_eq!(request.username.as_deref(), Some("a_b"));
        assert_eq!(request.password.as_deref(), Some("p w"));
        assert_eq!(request.scope.as_deref(), Some(""));
    }
}
