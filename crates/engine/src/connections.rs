//! Clients for the systems a credential connects to.

use secrecy::SecretString;
use tentacle_pulpo::{ClientOptions as PulpoOptions, PulpoClient, PulpoCredentials};
use tentacle_shopify::{ClientOptions as ShopifyOptions, ShopifyClient, ShopifyCredentials};
use tentacle_store::{Credential, CredentialKind};

/// Why a credential cannot make a client; words an operator can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("credential {credential}: {problem}")]
pub struct ConnectionError {
    pub credential: String,
    pub problem: String,
}

fn config_text(credential: &Credential, field: &str) -> Result<String, ConnectionError> {
    credential.config[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ConnectionError {
            credential: credential.name.clone(),
            problem: format!("{field} is missing"),
        })
}

fn secret(credential: &Credential, field: &str) -> Result<SecretString, ConnectionError> {
    credential
        .secrets
        .get(field)
        .cloned()
        .ok_or_else(|| ConnectionError {
            credential: credential.name.clone(),
            problem: format!("{field} is missing"),
        })
}

fn expect_kind(credential: &Credential, kind: CredentialKind) -> Result<(), ConnectionError> {
    if credential.kind == kind {
        Ok(())
    } else {
        Err(ConnectionError {
            credential: credential.name.clone(),
            problem: format!(
                "is a {} credential where a {} credential is needed",
                credential.kind.as_str(),
                kind.as_str()
            ),
        })
    }
}

pub fn shopify_client(credential: &Credential) -> Result<ShopifyClient, ConnectionError> {
    shopify_client_with(credential, ShopifyOptions::default())
}

/// Like [`shopify_client`], with other timeouts and retries (a connection check gives up
/// sooner than a run).
pub fn shopify_client_with(
    credential: &Credential,
    options: ShopifyOptions,
) -> Result<ShopifyClient, ConnectionError> {
    expect_kind(credential, CredentialKind::Shopify)?;
    let credentials = ShopifyCredentials {
        shop_url: config_text(credential, "shop_url")?,
        access_token: secret(credential, "access_token")?,
        api_version: config_text(credential, "api_version").unwrap_or_else(|_| "2026-10".into()),
    };
    ShopifyClient::new(credentials, options).map_err(|e| ConnectionError {
        credential: credential.name.clone(),
        problem: e.to_string(),
    })
}

/// A PULPO client that keeps at most `max_in_flight` requests in flight.
pub fn pulpo_client(
    credential: &Credential,
    max_in_flight: usize,
) -> Result<PulpoClient, ConnectionError> {
    let options = PulpoOptions {
        max_in_flight: Some(max_in_flight.max(1)),
        ..PulpoOptions::default()
    };
    pulpo_client_with(credential, options)
}

/// Like [`pulpo_client`], with other timeouts and retries (a connection check gives up sooner
/// than a run).
pub fn pulpo_client_with(
    credential: &Credential,
    options: PulpoOptions,
) -> Result<PulpoClient, ConnectionError> {
    expect_kind(credential, CredentialKind::Pulpo)?;
    let credentials = PulpoCredentials {
        base_url: config_text(credential, "base_url")?,
        username: config_text(credential, "username")?,
        password: secret(credential, "password")?,
    };
    PulpoClient::new(credentials, options).map_err(|e| ConnectionError {
        credential: credential.name.clone(),
        problem: e.to_string(),
    })
}
