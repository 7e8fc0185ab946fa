//! API tokens with scopes, expiry and revocation, tried as an attacker holding a token would:
//! the token Prometheus scrapes with must not change a credential's URL (and so send its
//! secrets elsewhere), an expired or revoked token must open nothing.

use chrono::{TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;
use tentacle_store::{NewApiToken, TokenScope};

use crate::helpers::{TestApp, spawn_app};

async fn issued(app: &TestApp, name: &str, scope: &str) -> String {
    let answer = app
        .post("/api/tokens", json!({"name": name, "scope": scope}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["scope"], scope);
    body["token"].as_str().expect("the token, once").to_string()
}

#[tokio::test]
async fn a_scoped_token_is_refused_outside_its_scope() {
    let app = spawn_app().await;
    let (shop, _, integration) = app.provision().await;
    let metrics = issued(&app, "prometheus", "metrics").await;
    let read = issued(&app, "dashboard", "read").await;
    let as_token = |token: &str, method: Method, path: String, body| {
        let token = token.to_string();
        let app = &app;
        async move { app.call_as(Some(&token), method, &path, body).await }
    };

    assert_eq!(
        as_token(&metrics, Method::GET, "/metrics".into(), None)
            .await
            .status,
        StatusCode::OK
    );
    // The exfiltration of issue 14, item 1, with the scrape token: refused before anything.
    let moved = as_token(
        &metrics,
        Method::PUT,
        format!("/api/credentials/{shop}"),
        Some(json!({"name": "shop", "type": "shopify",
                    "config": {"shop_url": "https://attacker.myshopify.com"}})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::FORBIDDEN, "{}", moved.text);
    assert!(
        moved.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("scope is metrics") && e.contains("scope admin")),
        "{}",
        moved.text
    );
    let stored = app.get(&format!("/api/credentials/{shop}")).await.json();
    assert_ne!(
        stored["config"]["shop_url"],
        "https://attacker.myshopify.com"
    );
    for path in ["/api/credentials".to_string(), "/api/runs".into()] {
        assert_eq!(
            as_token(&metrics, Method::GET, path.clone(), None)
                .await
                .status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // read: every GET but the tokens, no change.
    assert_eq!(
        as_token(&read, Method::GET, "/api/credentials".into(), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        as_token(&read, Method::GET, "/metrics".into(), None)
            .await
            .status,
        StatusCode::OK
    );
    for (method, path) in [
        (Method::POST, format!("/api/integrations/{integration}/run")),
        (Method::POST, format!("/api/credentials/{shop}/check")),
        (Method::DELETE, format!("/api/integrations/{integration}")),
        (Method::GET, "/api/tokens".into()),
        (Method::POST, "/api/tokens".into()),
    ] {
        let answer = as_token(&read, method.clone(), path.clone(), Some(json!({}))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    // The admin token still does everything.
    assert_eq!(app.get("/api/tokens").await.status, StatusCode::OK);
}

#[tokio::test]
async fn expired_and_revoked_tokens_open_nothing_and_the_list_shows_no_secret() {
    let app = spawn_app().await;
    // An expired token, as a token made with --expires-days 1 is a day later.
    let expired = "tnt_expired_for_the_test";
    app.store
        .create_api_token(&NewApiToken {
            name: "old".into(),
            token_hash: tentacle_web::auth::token_hash(expired),
            scope: TokenScope::Admin,
            expires_at: Some(Utc::now() - TimeDelta::minutes(1)),
        })
        .await
        .expect("token");
    let answer = app
        .call_as(Some(expired), Method::GET, "/api/credentials", None)
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.text.contains("expired"), "{}", answer.text);

    let ci = issued(&app, "ci", "admin").await;
    assert_eq!(
        app.call_as(Some(&ci), Method::GET, "/api/runs", None)
            .await
            .status,
        StatusCode::OK
    );
    let listed = app.get("/api/tokens").await;
    let tokens = listed.json();
    let entry = tokens
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["name"] == "ci")
        .expect("listed")
        .clone();
    assert_eq!(entry["scope"], "admin");
    assert!(entry["last_used_at"].is_string(), "{entry}");
    assert!(entry["expires_at"].is_null());
    assert!(
        !listed.text.contains(&ci) && !listed.text.contains(&tentacle_web::auth::token_hash(&ci)),
        "the list shows no token and no hash"
    );

    assert_eq!(
        app.call(Method::DELETE, "/api/tokens/ci", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call_as(Some(&ci), Method::GET, "/api/runs", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.call(Method::DELETE, "/api/tokens/ci", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_bad_token_request_names_its_field_and_makes_nothing() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"name": "x", "scope": "root"}), "scope"),
        (
            json!({"name": "x", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "expires_in_days": 99999}),
            "expires_in_days",
        ),
        (json!({"name": ""}), "name"),
        (json!({"name": "a".repeat(101)}), "name"),
        (json!({"name": "bad\nname"}), "name"),
    ] {
        let answer = app.post("/api/tokens", body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.text
        );
        assert_eq!(answer.json()["errors"][0]["field"], field, "{body}");
    }
    let unknown = app
        .post("/api/tokens", json!({"name": "x", "admin": true}))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    issued(&app, "twice", "read").await;
    let again = app.post("/api/tokens", json!({"name": "twice"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let names: Vec<String> = app
        .get("/api/tokens")
        .await
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(names, ["tests", "twice"]);
}
