//! Issue 14's small things: unknown ids answer 404 (not 500 with an ERROR line), names and
//! URLs have limits, a create of a name that exists is a 409 even when two race.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::COOKIE;

use crate::helpers::spawn_app;
use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, csrf_of, log_in};

/// Every log line the server writes on this test's thread (a current-thread runtime runs the
/// server there too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn unknown_ids_on_the_ui_forms_are_404_pages_without_an_error_in_the_log() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let session = cookie_of(
        &log_in(&app.base, &http, ADMIN_PASSWORD).await,
        "tentacle_session",
    )
    .expect("session");
    let page = http
        .get(format!("{}/controls", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("page");
    let csrf = csrf_of(&page.text().await.expect("body"));

    for (form, what) in [
        ("/controls/987/run", "integration 987"),
        ("/controls/987/start", "integration 987"),
        ("/controls/987/stop", "integration 987"),
        ("/attention/retry", "integration 987"),
        ("/integrations/987/delete", "integration 987"),
        ("/credentials/987/delete", "credential 987"),
        ("/credentials/987/check", "credential 987"),
        ("/alerts/987/delete", "alert channel 987"),
        ("/alerts/987/test", "alert channel 987"),
    ] {
        let answer = http
            .post(format!("{}{form}", app.base))
            .header(COOKIE, &session)
            .form(&[("csrf", csrf.as_str()), ("integration_id", "987")])
            .send()
            .await
            .expect("post");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "POST {form}");
        let body = answer.text().await.expect("body");
        assert!(
            body.contains(&format!("{what} not found")),
            "POST {form}: {body}"
        );
    }
    let written = logs.text();
    assert!(
        written.contains("Logged in"),
        "the capture works: {written}"
    );
    assert!(!written.contains("ERROR"), "{written}");
}

/// The `field: message` pairs of a 422 answer.
fn problems(answer: &crate::helpers::Answer) -> Vec<(String, String)> {
    answer.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().expect("field").to_string(),
                e["message"].as_str().expect("message").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn names_urls_user_names_and_secrets_have_limits_through_the_api_and_the_ui() {
    let app = spawn_app().await;
    let mut body = app.pulpo_body(&"n".repeat(101), "pw");
    body["config"]["username"] = "u".repeat(255).into();
    body["secrets"]["password"] = "p".repeat(4097).into();
    let answer = app.post("/api/credentials", body).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(
        problems(&answer),
        [
            (
                "name".to_string(),
                "must be at most 100 characters".to_string()
            ),
            (
                "config.username".to_string(),
                "must be at most 254 characters".to_string()
            ),
            (
                "secrets.password".to_string(),
                "must be at most 4096 characters".to_string()
            ),
        ]
    );
    assert!(!answer.text.contains("nnnnnnnnnn") && !answer.text.contains("pppppppppp"));

    let forged = app
        .post(
            "/api/credentials",
            app.pulpo_body("wms\nLogged in. user=admin", "pw"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        forged.text.contains("control characters"),
        "{}",
        forged.text
    );

    let mut script = app.shopify_body("shop", "shpat_x");
    script["config"]["shop_url"] = "https://x.myshopify.com/\"><script>alert(1)</script>".into();
    let answer = app.post("/api/credentials", script).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert_eq!(problems(&answer)[0].0, "config.shop_url");
    assert!(problems(&answer)[0].1.contains("quotes"), "{}", answer.text);

    let hook = app
        .post(
            "/api/alerts",
            serde_json::json!({"name": "ops", "type": "webhook",
                               "url": "https://hooks.example.com/<script>"}),
        )
        .await;
    assert_eq!(
        hook.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        hook.text
    );
    assert_eq!(problems(&hook)[0].0, "url");
    let named = app
        .post(
            "/api/alerts",
            serde_json::json!({"name": "o".repeat(101), "type": "webhook",
                               "url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(
        named.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        named.text
    );
    assert_eq!(
        problems(&named)[0],
        (
            "name".to_string(),
            "must be at most 100 characters".to_string()
        )
    );

    let (shop, wms, _) = app.provision().await;
    let integration = app
        .post(
            "/api/integrations",
            serde_json::json!({"name": "i".repeat(101), "type": "sales_orders",
                               "origin_credential_id": shop, "destination_credential_id": wms,
                               "settings": {"frequency_minutes": 5,
                                            "required_tags": ["t".repeat(256)]}}),
        )
        .await;
    assert_eq!(
        integration.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        integration.text
    );
    let found = problems(&integration);
    assert_eq!(
        found[0],
        (
            "name".to_string(),
            "must be at most 100 characters".to_string()
        )
    );
    assert!(
        found
            .iter()
            .any(|(field, _)| field == "settings.required_tags"),
        "{found:?}"
    );

    // The UI's form goes through the same checks.
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let session = cookie_of(
        &log_in(&app.base, &http, ADMIN_PASSWORD).await,
        "tentacle_session",
    )
    .expect("session");
    let page = http
        .get(format!("{}/credentials/new?type=pulpo", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("form");
    let csrf = csrf_of(&page.text().await.expect("body"));
    let long_name = "n".repeat(1_000);
    let answer = http
        .post(format!("{}/credentials", app.base))
        .header(COOKIE, &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("type", "pulpo"),
            ("name", long_name.as_str()),
            ("config.base_url", "http://127.0.0.1:9/api/v1"),
            ("config.username", "sandbox_admin"),
            ("secrets.password", "pw"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .text()
            .await
            .expect("body")
            .contains("must be at most 100 characters")
    );
    let names: Vec<String> = app
        .store
        .credentials()
        .await
        .expect("credentials")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        ["shop", "wms"],
        "only the provisioned ones were stored"
    );
}

#[tokio::test]
async fn two_creates_of_one_name_at_once_give_one_201_and_one_409() {
    let app = spawn_app().await;
    let (first, second) = tokio::join!(
        app.post("/api/credentials", app.pulpo_body("wms", "first-password")),
        app.post("/api/credentials", app.pulpo_body("wms", "second-password")),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        first.text,
        second.text
    );
    let (won, lost) = if first.status == StatusCode::CREATED {
        (first, second)
    } else {
        (second, first)
    };
    assert!(
        lost.json()["error"]
            .as_str()
            .expect("error")
            .contains("\"wms\""),
        "{}",
        lost.text
    );
    let stored = app.store.credentials().await.expect("credentials");
    assert_eq!(stored.len(), 1);
    assert_eq!(Some(stored[0].id), won.json()["id"].as_i64());

    // Later, one at a time: still a 409 naming the name, and the stored one is unchanged.
    let again = app
        .post("/api/credentials", app.pulpo_body("wms", "third-password"))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    assert!(
        again.json()["error"]
            .as_str()
            .expect("error")
            .contains("\"wms\""),
        "{}",
        again.text
    );

    let (shop, wms, _) = {
        let shop = app
            .create_credential(app.shopify_body("shop", crate::helpers::SHOPIFY_TOKEN))
            .await;
        (shop, stored[0].id, ())
    };
    let integration = serde_json::json!({"name": "Orders", "type": "sales_orders",
        "origin_credential_id": shop, "destination_credential_id": wms,
        "settings": {"frequency_minutes": 5}});
    let (first, second) = tokio::join!(
        app.post("/api/integrations", integration.clone()),
        app.post("/api/integrations", integration.clone()),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        first.text,
        second.text
    );
    assert_eq!(
        app.store.integrations().await.expect("integrations").len(),
        1
    );

    let channel = serde_json::json!({"name": "ops", "type": "webhook",
                                     "url": "https://hooks.example.com/x"});
    let (first, second) = tokio::join!(
        app.post("/api/alerts", channel.clone()),
        app.post("/api/alerts", channel.clone()),
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        first.text,
        second.text
    );
    assert_eq!(app.store.alert_channels().await.expect("channels").len(), 1);
}
