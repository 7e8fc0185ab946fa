//! Clients for the systems a credential connects to.

use chrono::NaiveDate;
use secrecy::SecretString;
use tentacle_domain::messages;
use tentacle_domain::run::LogEntry;
use tentacle_pulpo::{ClientOptions as PulpoOptions, PulpoClient, PulpoCredentials};
use tentacle_shopify::{
    ClientOptions as ShopifyOptions, ShopifyClient, ShopifyCredentials, versions,
};
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
        api_version: api_version(credential),
    };
    ShopifyClient::new(credentials, options).map_err(|e| ConnectionError {
        credential: credential.name.clone(),
        problem: e.to_string(),
    })
}

/// The Shopify API version a Shopify credential is pinned to (`2026-10` when unset).
pub fn api_version(credential: &Credential) -> String {
    config_text(credential, "api_version").unwrap_or_else(|_| "2026-10".into())
}

/// The note on a Shopify credential whose API version's support ends within
/// [`versions::WARNING_DAYS`] of `today`, or ended; `None` for any other credential.
pub fn api_version_note(credential: &Credential, today: NaiveDate) -> Option<String> {
    if credential.kind != CredentialKind::Shopify {
        return None;
    }
    let version = api_version(credential);
    let age = versions::age(&version, today)?;
    messages::api_version_note(&version, age, versions::recommended(today))
}

/// The run's WARNING for a Shopify credential whose API version ends soon or ended.
pub fn api_version_warning(credential: &Credential, today: NaiveDate) -> Option<LogEntry> {
    let version = api_version(credential);
    let age = versions::age(&version, today)?;
    messages::api_version_ending(
        &credential.name,
        &version,
        age,
        versions::recommended(today),
    )
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
