//! Alert channels: validation naming every bad field, the write-only SMTP password, and "send a
//! test alert" against a real SMTP server (`aiosmtpd`) and a local webhook receiver.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tentacle_sandbox::alert_receivers::{SmtpReceiver, WebhookReceiver};

use crate::helpers::spawn_app;

/// Distinctive, so a search of response bodies finds it only where it leaked.
const SMTP_PASSWORD: &str = "smtp-secret-Qz4w";

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_string())
        .collect()
}

#[tokio::test]
async fn bad_alert_settings_are_refused_naming_every_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let bad_email = app
        .post(
            "/api/alerts",
            json!({"name": "", "type": "email", "smtp_host": "smtp example", "smtp_port": 70000,
                   "from": "tentacle", "to": ["ops@example.com", "oncall"],
                   "password": SMTP_PASSWORD, "stale_after_hours": 0,
                   "integration_ids": [999]}),
        )
        .await;
    assert_eq!(
        bad_email.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_email.text
    );
    let mut found = fields(&bad_email.json());
    found.sort();
    assert_eq!(
        found,
        [
            "from",
            "integration_ids[0]",
            "name",
            "smtp_host",
            "smtp_port",
            "stale_after_hours",
            "to[1]",
            "username"
        ],
        "{}",
        bad_email.text
    );
    for url in [
        "hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https:///x",
    ] {
        let answer = app
            .post(
                "/api/alerts",
                json!({"name": "Hook", "type": "webhook", "url": url}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(fields(&answer.json()), ["url"], "{url}: {}", answer.text);
    }
    let unknown = app
        .post(
            "/api/alerts",
            json!({"name": "Pager", "type": "pager", "colour": "red"}),
        )
        .await;
    assert_eq!(fields(&unknown.json()), ["colour", "type"]);
    assert_eq!(
        app.get("/api/alerts").await.json(),
        json!([]),
        "nothing saved"
    );
    let bodies = app.bodies.lock().expect("lock").join("\n");
    assert!(!bodies.contains(SMTP_PASSWORD));
}

#[tokio::test]
async fn a_test_alert_reaches_a_real_smtp_server_and_the_password_is_never_shown() {
    let Some(smtp) = SmtpReceiver::start("test alert by email", "tentacle", SMTP_PASSWORD).await
    else {
        return;
    };
    let app = spawn_app().await;
    let (_, _, orders) = app.provision().await;
    let created = app
        .post(
            "/api/alerts",
            json!({"name": "Ops mail", "type": "email", "smtp_host": "127.0.0.1",
                   "smtp_port": smtp.port(), "starttls": false, "username": "tentacle",
                   "password": SMTP_PASSWORD, "from": "tentacle@example.com",
                   "to": ["ops@example.com"], "integration_ids": [orders]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let view = created.json();
    assert_eq!(view["password_set"], true);
    assert_eq!(view["integration_ids"], json!([orders]));
    assert_eq!(view["stale_after_hours"], 24, "the default");
    let id = view["id"].as_i64().expect("id");

    // Renamed without the password: the stored one is kept, and the server accepts it.
    let renamed = app
        .put(
            &format!("/api/alerts/{id}"),
            json!({"name": "Operations", "type": "email", "smtp_host": "127.0.0.1",
                   "smtp_port": smtp.port(), "starttls": false, "username": "tentacle",
                   "from": "tentacle@example.com", "to": ["ops@example.com"]}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.json()["password_set"], true);
    assert_eq!(
        renamed.json()["integration_ids"],
        Value::Null,
        "every configuration"
    );

    let test = app
        .call(Method::POST, &format!("/api/alerts/{id}/test"), None)
        .await;
    assert_eq!(test.json()["ok"], true, "{}", test.text);
    assert!(
        test.json()["message"]
            .as_str()
            .expect("message")
            .contains("ops@example.com")
    );
    let mail = smtp.received();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].subject, "tentacle: test alert");
    assert_eq!(mail[0].to, ["ops@example.com"]);
    assert_eq!(
        mail[0].login.as_deref(),
        Some("tentacle"),
        "logged in with the stored password"
    );
    assert!(mail[0].body.contains("\"Operations\""), "{}", mail[0].body);

    // A wrong password: the answer says the server refused, in words, without the password.
    let wrong = app
        .put(
            &format!("/api/alerts/{id}"),
            json!({"name": "Operations", "type": "email", "smtp_host": "127.0.0.1",
                   "smtp_port": smtp.port(), "starttls": false, "username": "tentacle",
                   "password": "not-the-password", "from": "tentacle@example.com",
                   "to": ["ops@example.com"]}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    let refused = app
        .call(Method::POST, &format!("/api/alerts/{id}/test"), None)
        .await
        .json();
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("not delivered"),
        "{refused}"
    );
    assert_eq!(smtp.received().len(), 1);

    // STARTTLS on (the default) and a server that cannot: refused, never sent in the clear.
    let plain = app
        .post(
            "/api/alerts",
            json!({"name": "No TLS", "type": "email", "smtp_host": "127.0.0.1",
                   "smtp_port": smtp.port(), "username": "tentacle",
                   "password": SMTP_PASSWORD, "from": "tentacle@example.com",
                   "to": ["ops@example.com"]}),
        )
        .await;
    assert_eq!(plain.json()["starttls"], true, "{}", plain.text);
    let plain_id = plain.json()["id"].as_i64().expect("id");
    let no_tls = app
        .call(Method::POST, &format!("/api/alerts/{plain_id}/test"), None)
        .await
        .json();
    assert_eq!(no_tls["ok"], false, "{no_tls}");
    assert_eq!(smtp.received().len(), 1, "nothing sent without TLS");

    let bodies = app.bodies.lock().expect("lock").join("\n");
    assert!(
        !bodies.contains(SMTP_PASSWORD),
        "the password leaked: {bodies}"
    );
    assert!(!bodies.contains("not-the-password"));
    let deleted = app
        .call(Method::DELETE, &format!("/api/alerts/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/alerts/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_test_alert_posts_json_with_text_and_a_refusal_is_reported() {
    let hook = WebhookReceiver::start().await.expect("receiver");
    let app = spawn_app().await;
    let created = app
        .post(
            "/api/alerts",
            json!({"name": "Slack", "type": "webhook", "url": hook.url(), "stale_after_hours": 6}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json()["id"].as_i64().expect("id");
    let test = app
        .call(Method::POST, &format!("/api/alerts/{id}/test"), None)
        .await
        .json();
    assert_eq!(test["ok"], true, "{test}");
    let received = hook.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]["text"]
            .as_str()
            .expect("text")
            .starts_with("tentacle: test alert")
    );
    assert_eq!(received[0]["event"], "test");

    hook.answer_next(&[500]);
    let refused = app
        .call(Method::POST, &format!("/api/alerts/{id}/test"), None)
        .await
        .json();
    assert_eq!(refused["ok"], false);
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("HTTP 500"),
        "{refused}"
    );
    // A redirect is not followed: an alert goes where the operator said.
    hook.answer_next(&[302]);
    let redirected = app
        .call(Method::POST, &format!("/api/alerts/{id}/test"), None)
        .await
        .json();
    assert_eq!(redirected["ok"], false);
    assert!(
        redirected["message"]
            .as_str()
            .expect("message")
            .contains("does not follow them"),
        "{redirected}"
    );
    assert_eq!(hook.received().len(), 1);
    let listed = app.get("/api/alerts").await.json();
    assert_eq!(listed[0]["url"], hook.url());
    assert_eq!(listed[0]["stale_after_hours"], 6);
}

#[tokio::test]
async fn the_alert_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let document = app.get("/api/openapi.json").await.json();
    for (path, methods) in [
        ("/api/alerts", &["get", "post"][..]),
        ("/api/alerts/{id}", &["get", "put", "delete"][..]),
        ("/api/alerts/{id}/test", &["post"][..]),
    ] {
        for method in methods {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is documented"
            );
        }
    }
}
