//! Credentials: validation, write-only secrets, and connection checks against the sandboxes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PULPO_PASSWORD, SHOPIFY_TOKEN, spawn_app};

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_string())
        .collect()
}

#[tokio::test]
async fn secrets_are_never_returned_and_an_update_without_them_keeps_them() {
    let app = spawn_app().await;
    let (shop, wms, _) = app.provision().await;
    let listed = app.get("/api/credentials").await.json();
    let shop_view = listed
        .as_array()
        .expect("JSON shape")
        .iter()
        .find(|c| c["id"] == shop)
        .expect("JSON shape")
        .clone();
    assert_eq!(
        shop_view["secrets_set"],
        json!(["access_token", "webhook_secret"])
    );
    assert_eq!(
        shop_view["config"]["api_version"], "2026-10",
        "default filled in"
    );
    assert!(shop_view.get("secrets").is_none());

    // Rename without sending secrets: the stored ones stay and still work.
    let renamed = app
        .put(
            &format!("/api/credentials/{shop}"),
            json!({"name": "main shop", "type": "shopify",
                   "config": {"shop_url": app.shopify.shop_url(), "api_version": "2026-10"}}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.json()["name"], "main shop");
    assert_eq!(
        renamed.json()["secrets_set"],
        json!(["access_token", "webhook_secret"])
    );
    let check = app
        .call(
            Method::POST,
            &format!("/api/credentials/{shop}/check"),
            None,
        )
        .await;
    assert_eq!(check.json()["verdict"], "ok", "{}", check.text);

    // `null` removes an optional secret; a required one cannot be removed.
    let cleared = app
        .put(
            &format!("/api/credentials/{shop}"),
            json!({"name": "main shop", "type": "shopify",
                   "config": {"shop_url": app.shopify.shop_url()},
                   "secrets": {"webhook_secret": null}}),
        )
        .await;
    assert_eq!(
        cleared.json()["secrets_set"],
        json!(["access_token"]),
        "{}",
        cleared.text
    );
    let refused = app
        .put(
            &format!("/api/credentials/{wms}"),
            json!({"name": "wms", "type": "pulpo",
                   "config": {"base_url": app.pulpo.base_url(), "username": "sandbox_admin"},
                   "secrets": {"password": null}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.get(&format!("/api/credentials/{wms}")).await;
    app.call(Method::POST, &format!("/api/credentials/{wms}/check"), None)
        .await;

    let bodies = app.bodies.lock().expect("bodies lock");
    assert!(bodies.len() > 8);
    for body in bodies.iter() {
        for secret in [SHOPIFY_TOKEN, PULPO_PASSWORD, "whsec_test_value_1"] {
            assert!(!body.contains(secret), "{secret:?} leaked in {body}");
        }
    }
}

#[tokio::test]
async fn a_bad_credential_names_every_bad_field_and_saves_nothing() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/api/credentials",
            json!({"name": " ", "type": "shopify", "colour": "red",
                   "config": {"shop_url": "ftp://shop", "api_version": "latest", "region": "eu"},
                   "secrets": {"password": "x"}}),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    let mut got = fields(&answer.json());
    got.sort();
    assert_eq!(
        got,
        [
            "colour",
            "config.api_version",
            "config.region",
            "config.shop_url",
            "name",
            "secrets.access_token",
            "secrets.password"
        ]
    );
    let unknown_type = app
        .post("/api/credentials", json!({"name": "x", "type": "sap"}))
        .await;
    assert_eq!(fields(&unknown_type.json()), ["type"]);
    let not_json = app.call(Method::POST, "/api/credentials", None).await;
    assert_eq!(
        not_json.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_json.text
    );
    assert_eq!(app.get("/api/credentials").await.json(), json!([]));
}

#[tokio::test]
async fn connection_checks_give_a_clear_verdict() {
    let app = spawn_app().await;
    let good_shop = app
        .create_credential(app.shopify_body("shop", SHOPIFY_TOKEN))
        .await;
    let bad_token = app
        .create_credential(app.shopify_body("shop with a wrong token", "shpat_wrong"))
        .await;
    let good_wms = app
        .create_credential(app.pulpo_body("wms", PULPO_PASSWORD))
        .await;
    let bad_password = app
        .create_credential(app.pulpo_body("wms with a wrong password", "wrong"))
        .await;
    // Nothing listens on port 9 of localhost.
    let unreachable = app
        .create_credential(json!({"name": "down", "type": "pulpo",
            "config": {"base_url": "http://127.0.0.1:9/api/v1", "username": "sandbox_admin"},
            "secrets": {"password": "x"}}))
        .await;
    for (id, verdict, ok) in [
        (good_shop, "ok", true),
        (bad_token, "bad_token", false),
        (good_wms, "ok", true),
        (bad_password, "login_refused", false),
        (unreachable, "unreachable", false),
    ] {
        let answer = app
            .call(Method::POST, &format!("/api/credentials/{id}/check"), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let body = answer.json();
        assert_eq!(
            (body["verdict"].as_str(), body["ok"].as_bool()),
            (Some(verdict), Some(ok)),
            "{body}"
        );
        assert!(!body["message"].as_str().expect("JSON shape").is_empty());
        if ok {
            assert!(
                !body["places"].as_array().expect("JSON shape").is_empty(),
                "{body}"
            );
        }
    }
    let missing = app
        .call(Method::POST, "/api/credentials/999/check", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_credential_in_use_cannot_be_deleted() {
    let app = spawn_app().await;
    let (shop, _, integration) = app.provision().await;
    let refused = app
        .call(Method::DELETE, &format!("/api/credentials/{shop}"), None)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.json()["error"]
            .as_str()
            .expect("JSON shape")
            .contains("Sales orders")
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/integrations/{integration}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let deleted = app
        .call(Method::DELETE, &format!("/api/credentials/{shop}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/api/credentials/{shop}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_shopify_api_version_past_its_support_is_noted_on_the_credential_everywhere() {
    use reqwest::header::COOKIE;

    use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, log_in};

    let app = spawn_app().await;
    let current = app
        .create_credential(app.shopify_body("current", SHOPIFY_TOKEN))
        .await;
    let mut old = app.shopify_body("old", SHOPIFY_TOKEN);
    old["config"]["api_version"] = json!("2025-10");
    let old = app.create_credential(old).await;

    let view = app.get(&format!("/api/credentials/{current}")).await.json();
    assert_eq!(view["api_version_note"], Value::Null, "{view}");
    let view = app.get(&format!("/api/credentials/{old}")).await.json();
    let note = view["api_version_note"]
        .as_str()
        .expect("a note")
        .to_string();
    assert!(
        note.contains("2025-10")
            && note.contains("since 2026-10-01")
            && note.contains("Pick a newer api_version"),
        "{note}"
    );

    // The check still passes (the sandbox answers any version), and says it.
    let check = app
        .call(Method::POST, &format!("/api/credentials/{old}/check"), None)
        .await
        .json();
    assert_eq!(check["verdict"], "ok", "{check}");
    assert_eq!(check["api_version_note"], note.as_str());
    assert!(
        check["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(&note)),
        "{check}"
    );
    let check = app
        .call(
            Method::POST,
            &format!("/api/credentials/{current}/check"),
            None,
        )
        .await
        .json();
    assert_eq!(check["api_version_note"], Value::Null, "{check}");

    // The UI's list and the credential's form.
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let login = log_in(&app.base, &http, ADMIN_PASSWORD).await;
    let session = cookie_of(&login, "tentacle_session").expect("session");
    for path in [
        "/credentials".to_string(),
        format!("/credentials/{old}/edit"),
    ] {
        let page = http
            .get(format!("{}{path}", app.base))
            .header(COOKIE, &session)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body");
        assert!(
            page.contains("Shopify API version 2025-10 is no longer supported since 2026-10-01"),
            "{path}: {page}"
        );
    }
    let form = http
        .get(format!("{}/credentials/{current}/edit", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(!form.contains("no longer supported"), "{form}");
}
