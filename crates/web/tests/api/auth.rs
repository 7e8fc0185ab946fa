//! Nothing is readable without a token; `/healthz` and the OpenAPI document are public.

use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;

#[tokio::test]
async fn no_token_or_a_wrong_token_is_refused_and_the_right_one_is_let_in() {
    let app = spawn_app().await;
    for path in [
        "/api/credentials",
        "/api/integrations",
        "/api/runs",
        "/metrics",
    ] {
        let none = app.call_as(None, Method::GET, path, None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            none.json()["error"]
                .as_str()
                .expect("JSON shape")
                .contains("Bearer"),
            "{}",
            none.text
        );
        let wrong = app.call_as(Some("tnt_0000"), Method::GET, path, None).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
        let right = app.get(path).await;
        assert_eq!(right.status, StatusCode::OK, "{path}: {}", right.text);
    }
    let health = app.call_as(None, Method::GET, "/healthz", None).await;
    assert_eq!(
        (health.status, health.json()["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let document = app
        .call_as(None, Method::GET, "/api/openapi.json", None)
        .await;
    assert_eq!(document.status, StatusCode::OK);
    // An unknown route gives no hint without a token either.
    let unknown = app.call_as(None, Method::GET, "/api/nothing", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_is_stored_only_as_its_hash() {
    let app = spawn_app().await;
    let by_token = app
        .store
        .api_token_by_hash(&app.token)
        .await
        .expect("store call");
    assert!(by_token.is_none(), "the clear token is not a key");
    let by_hash = app
        .store
        .api_token_by_hash(&tentacle_web::auth::token_hash(&app.token))
        .await
        .expect("store call");
    assert_eq!(by_hash.map(|t| t.name), Some("tests".to_string()));
    let again = tentacle_web::auth::issue_token(app.store.as_ref(), "tests").await;
    assert!(again.is_err(), "token names are unique");
}
