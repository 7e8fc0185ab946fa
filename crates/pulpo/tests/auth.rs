//! The PULPO client's token handling against the PULPO sandbox over real HTTP: a revoked token
//! is renewed on the 401 and the call goes through; a server whose every token is dead on
//! arrival gets a bounded number of logins, then "credentials rejected", never an endless loop.

use std::sync::atomic::Ordering;
use std::time::Duration;

use secrecy::SecretString;
use tentacle_pulpo::{ClientOptions, PulpoClient, PulpoCredentials, PulpoError};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};

async fn sandbox(token_lifetime: Duration) -> PulpoSandbox {
    PulpoSandbox::start(PulpoConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        token_lifetime,
        ..PulpoConfig::default()
    })
    .await
    .expect("sandbox")
}

fn client(sandbox: &PulpoSandbox) -> PulpoClient {
    PulpoClient::new(
        PulpoCredentials {
            base_url: sandbox.base_url(),
            username: "sandbox_admin".into(),
            password: SecretString::from("sandbox".to_string()),
        },
        ClientOptions::default(),
    )
    .expect("client")
}

#[tokio::test]
async fn a_revoked_token_is_renewed_and_the_call_goes_through() {
    let sandbox = sandbox(Duration::from_secs(3600)).await;
    let client = client(&sandbox);
    client.warehouses().await.expect("first call");
    let logins = client.stats().logins.load(Ordering::Relaxed);
    reqwest::Client::new()
        .post(format!("{}/tokens/expire", sandbox.control_url()))
        .send()
        .await
        .expect("the control API answers")
        .error_for_status()
        .expect("tokens expired");
    client
        .warehouses()
        .await
        .expect("the call after the revocation");
    assert_eq!(
        client.stats().logins.load(Ordering::Relaxed),
        logins + 1,
        "one new login for the revoked token"
    );
}

#[tokio::test]
async fn tokens_dead_on_arrival_end_in_rejected_credentials_after_a_few_logins() {
    // Every token the sandbox issues has expired when it is first used: PULPO accepts the
    // password yet refuses every call, so retrying forever would hang the run.
    let sandbox = sandbox(Duration::ZERO).await;
    let client = client(&sandbox);
    let error = client
        .warehouses()
        .await
        .expect_err("every token is refused");
    assert!(
        matches!(error, PulpoError::Unauthorized),
        "unexpected error: {error}"
    );
    // The first login, then three renewals after 401s.
    assert_eq!(client.stats().logins.load(Ordering::Relaxed), 4);
}
