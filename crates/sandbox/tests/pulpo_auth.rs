//! PULPO sandbox: the password grant, bearer tokens and their expiry.

mod pulpo_support;

use std::time::Duration;

use pulpo_support::{Harness, config};
use reqwest::StatusCode;
use serde_json::json;
use tentacle_sandbox::pulpo::PulpoConfig;

fn unauthorized() -> serde_json::Value {
    json!({"errors": {"message": "unauthorized"}})
}

#[tokio::test]
async fn bad_credentials_are_refused_in_pulpos_shape() {
    let harness = Harness::start().await;
    for (username, password) in [("sandbox_admin", "wrong"), ("someone_else", "sandbox")] {
        let (status, body) = harness
            .send(harness.http.post(harness.url("/auth")).json(&json!({
                "username": username, "password": password, "scope": "default"
            })))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, unauthorized());
    }
    let (status, body) = harness
        .send(
            harness
                .http
                .post(harness.url("/auth"))
                .json(&json!({"scope": "default"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["errors"][0]["username"].is_string(), "{body}");
}

#[tokio::test]
async fn json_and_form_logins_issue_bearer_tokens() {
    let harness = Harness::start().await;
    let (status, body) = harness
        .send(harness.http.post(harness.url("/auth")).json(&json!({
            "username": "sandbox_admin", "password": "sandbox", "scope": "general"
        })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "general");
    assert_eq!(body["expires_in"], 3600);
    let json_token = body["access_token"].as_str().expect("a token").to_string();

    let (status, body) = harness
        .send(
            harness
                .http
                .post(harness.url("/auth"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                // What an HTML form or n8n sends: `_` percent-encoded, no JSON anywhere.
                .body(
                    "username=sandbox%5Fadmin&password=sandbox&scope=default&grant_type=password",
                ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let form_token = body["access_token"].as_str().expect("a token").to_string();
    assert_ne!(json_token, form_token);

    for token in [&json_token, &form_token] {
        let (status, body) = harness
            .send(
                harness
                    .http
                    .get(harness.url("/warehouses/"))
                    .bearer_auth(token),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total_results"], 3);
    }
}

#[tokio::test]
async fn every_api_route_but_health_and_auth_needs_a_valid_token() {
    let harness = Harness::start().await;
    let (status, body) = harness
        .send(harness.http.get(harness.url("/sales/orders")))
        .await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    let (status, body) = harness
        .send(
            harness
                .http
                .post(harness.url("/sales/bulk/orders"))
                .bearer_auth("not-a-token")
                .json(&json!([])),
        )
        .await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));
    let (status, body) = harness
        .send(
            harness
                .http
                .get(harness.url("/inventory/stocks/availability"))
                .header("Authorization", format!("Basic {}", harness.token)),
        )
        .await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, unauthorized()));

    for path in ["/", ""] {
        let response = harness
            .http
            .get(harness.url(path))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "GET {path:?}");
    }
}

#[tokio::test]
async fn expired_tokens_are_refused_and_logging_in_again_works() {
    let mut harness = Harness::start().await;
    assert_eq!(harness.get("/warehouses/").await.0, StatusCode::OK);
    let (status, body) = harness
        .control_post("/tokens/expire", &serde_json::Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expired"], 1);
    assert_eq!(
        harness.get("/warehouses/").await,
        (StatusCode::UNAUTHORIZED, unauthorized())
    );
    harness.token = harness.login().await;
    assert_eq!(harness.get("/warehouses/").await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_lifetime_is_configurable_at_start_and_at_runtime() {
    let mut harness = Harness::start_with(PulpoConfig {
        token_lifetime: Duration::from_secs(120),
        ..config()
    })
    .await;
    let (_, body) = harness
        .send(harness.http.post(harness.url("/auth")).json(&json!({
            "username": "sandbox_admin", "password": "sandbox", "scope": "default"
        })))
        .await;
    assert_eq!(body["expires_in"], 120);

    // A lifetime of 0 issues tokens that are already expired: a deterministic mid-run expiry.
    let (status, limits) = harness
        .control_put("/limits", &json!({"token_lifetime_s": 0}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(limits["token_lifetime_s"], 0);
    harness.token = harness.login().await;
    assert_eq!(
        harness.get("/warehouses/").await.0,
        StatusCode::UNAUTHORIZED
    );

    harness
        .control_put("/limits", &json!({"token_lifetime_s": 60}))
        .await;
    harness.token = harness.login().await;
    assert_eq!(harness.get("/warehouses/").await.0, StatusCode::OK);
}
