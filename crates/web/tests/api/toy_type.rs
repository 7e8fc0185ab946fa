//! A type nobody wrote the runner, the scheduler, the API or the UI for: registered at run time,
//! it is validated, saved, listed, scheduled, run and edited in the UI through the registry
//! alone (the seam of issue "integration types as registered types").

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tentacle_domain::run::{LogEntry, RunStatus, Trigger};
use tentacle_domain::settings::{Field, FieldError, Input, TypeSettings};
use tentacle_engine::clock::TestClock;
use tentacle_engine::integrations::{Abort, RunContext, shopify_abort};
use tentacle_engine::{IntegrationType, RunOptions, run_integration, scheduler};
use tentacle_store::{CredentialKind, LogFilter, RunFilter};

use crate::helpers::{PULPO_PASSWORD, SHOPIFY_TOKEN, spawn_app};
use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, csrf_of, log_in};

/// Counts the Shopify store's locations and greets each, `repeat` times.
struct Echo;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EchoSettings {
    automatic_transfer: bool,
    frequency_minutes: i64,
    greeting: String,
    repeat: i64,
}

impl Default for EchoSettings {
    fn default() -> Self {
        EchoSettings {
            automatic_transfer: true,
            frequency_minutes: 15,
            greeting: "hello".into(),
            repeat: 2,
        }
    }
}

impl TypeSettings for EchoSettings {
    const FIELDS: &'static [Field] = &[
        Field {
            key: "greeting",
            label: "Greeting",
            name: "greeting",
            help: "Said to every location.",
            input: Input::Text,
            group: "Echo",
            shown_by: None,
        },
        Field {
            key: "repeat",
            label: "Repeat (times)",
            name: "repeat",
            help: "How often.",
            input: Input::Integer {
                min: 1,
                max: 5,
                unit: "times",
            },
            group: "Echo",
            shown_by: None,
        },
    ];

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        if self.greeting.trim().is_empty() {
            errors.push(FieldError::new("greeting", "greeting must not be empty"));
        }
    }
}

#[async_trait::async_trait]
impl IntegrationType for Echo {
    const KEY: &'static str = "echo";
    const LABEL: &'static str = "Echo";
    const SUMMARY: &'static str = "Greets every Shopify location.";
    const ORIGIN: CredentialKind = CredentialKind::Pulpo;
    const DESTINATION: CredentialKind = CredentialKind::Shopify;
    const ORIGIN_HELP: &'static str = "Any PULPO.";
    const DESTINATION_HELP: &'static str = "The store to greet.";

    type Settings = EchoSettings;

    async fn run(&self, run: &RunContext<'_>, settings: &EchoSettings) -> Result<(), Abort> {
        let locations = run
            .shopify()
            .locations()
            .await
            .map_err(|e| shopify_abort(&e, &run.destination.name))?;
        for _ in 0..settings.repeat {
            for location in &locations {
                run.log.count(|c| c.fetched += 1);
                run.log.record(LogEntry::info(
                    None,
                    format!("{} {}", settings.greeting, location.name),
                ));
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_registered_type_is_validated_saved_scheduled_run_listed_and_edited() {
    tentacle_engine::register(Echo);
    let app = spawn_app().await;
    let shop = app
        .create_credential(app.shopify_body("shop", SHOPIFY_TOKEN))
        .await;
    let wms = app
        .create_credential(app.pulpo_body("wms", PULPO_PASSWORD))
        .await;

    // Listed with its declared settings and defaults.
    let types = app.get("/api/integration-types").await.json();
    let echo = types
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["key"] == "echo")
        .expect("the registered type is listed");
    assert_eq!(
        (echo["origin"].as_str(), echo["destination"].as_str()),
        (Some("pulpo"), Some("shopify"))
    );
    let keys: Vec<_> = echo["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .map(|s| s["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        [
            "automatic_transfer",
            "frequency_minutes",
            "greeting",
            "repeat"
        ]
    );
    assert_eq!(echo["settings"][3]["max"], 5);

    // Validated: every bad field, the credential kinds the type declares, nothing saved.
    let refused = app
        .post(
            "/api/integrations",
            json!({"name": "Echo", "type": "echo", "origin_credential_id": shop,
                   "destination_credential_id": wms,
                   "settings": {"repeat": 9, "greeting": " ", "volume": 11}}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    let body = refused.json();
    let fields: Vec<_> = body["errors"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["field"].as_str().expect("field").to_string())
        .collect();
    for expected in [
        "origin_credential_id",
        "destination_credential_id",
        "settings.volume",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} in {fields:?}"
        );
    }
    let refused = app
        .post(
            "/api/integrations",
            json!({"name": "Echo", "type": "echo", "origin_credential_id": wms,
                   "destination_credential_id": shop, "settings": {"repeat": 9, "greeting": " "}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text
            .contains("repeat must be between 1 and 5 times"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("greeting must not be empty"),
        "{}",
        refused.text
    );
    assert!(app.store.integrations().await.expect("store").is_empty());

    // Saved with its defaults filled in, listed by the API.
    let saved = app
        .post(
            "/api/integrations",
            json!({"name": "Echo", "type": "echo", "origin_credential_id": wms,
                   "destination_credential_id": shop, "settings": {"repeat": 3}}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text);
    let id = saved.json()["id"].as_i64().expect("id");
    assert_eq!(saved.json()["settings"]["greeting"], "hello");
    let listed = app.get("/api/integrations").await.json();
    assert_eq!(listed[0]["type"], "echo");

    // Scheduled by its frequency: the next multiple of 15 minutes.
    let clock = TestClock::at(Utc.with_ymd_and_hms(2026, 12, 2, 10, 7, 0).unwrap());
    app.post(&format!("/api/integrations/{id}/start"), json!({}))
        .await;
    scheduler::tick(app.store.as_ref(), &clock)
        .await
        .expect("tick");
    let queued = app
        .store
        .runs(&RunFilter {
            integration_id: Some(id),
            status: Some(RunStatus::Queued),
            ..RunFilter::default()
        })
        .await
        .expect("runs");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].trigger, Trigger::Schedule);
    assert_eq!(
        queued[0].due_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 2, 10, 15, 0).unwrap())
    );
    app.post(&format!("/api/integrations/{id}/stop"), json!({}))
        .await;

    // Run: its own work against the Shopify sandbox, through the common runner.
    let integration = app
        .store
        .integration(id)
        .await
        .expect("store")
        .expect("saved");
    let run = run_integration(
        app.store.clone(),
        &integration,
        Trigger::Manual,
        RunOptions::default(),
        None,
    )
    .await
    .expect("run");
    let locations = app.shopify.state.shop().locations.len() as u64;
    assert_eq!(run.status, RunStatus::Finished, "{run:?}");
    assert_eq!(run.counters.fetched, 3 * locations);
    let logs = app
        .store
        .logs(run.id, &LogFilter::default())
        .await
        .expect("logs");
    let first = app.shopify.state.shop().locations[0].name.clone();
    assert!(
        logs.iter().any(|l| l.message == format!("hello {first}")),
        "{logs:?}"
    );

    // Edited in the UI: the form comes from the declaration, messages beside the fields.
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let http = client();
    let login = log_in(&app.base, &http, ADMIN_PASSWORD).await;
    let session = cookie_of(&login, "tentacle_session").expect("session");
    let page = |path: String| {
        let http = http.clone();
        let session = session.clone();
        async move {
            let answer = http
                .get(path)
                .header(COOKIE, session)
                .send()
                .await
                .expect("page");
            assert_eq!(answer.status(), StatusCode::OK);
            answer.text().await.expect("body")
        }
    };
    let new_form = page(format!("{}/integrations/new?type=echo", app.base)).await;
    assert!(new_form.contains("New echo configuration"), "{new_form}");
    assert!(new_form.contains("Origin: PULPO credentials"));
    assert!(new_form.contains(r#"id="repeat" name="settings.repeat" type="number" value="2""#));
    let edit = page(format!("{}/integrations/{id}/edit", app.base)).await;
    assert!(
        edit.contains(r#"name="settings.repeat" type="number" value="3""#),
        "{edit}"
    );
    let post = |repeat: &'static str| {
        let http = http.clone();
        let session = session.clone();
        let csrf = csrf_of(&edit);
        let url = format!("{}/integrations/{id}", app.base);
        async move {
            http.post(url)
                .header(COOKIE, session)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("name", "Echo"),
                    ("origin_credential_id", &wms.to_string()),
                    ("destination_credential_id", &shop.to_string()),
                    ("settings.automatic_transfer", "on"),
                    ("settings.frequency_minutes", "15"),
                    ("settings.greeting", "hi"),
                    ("settings.repeat", repeat),
                ])
                .send()
                .await
                .expect("post")
        }
    };
    let bad = post("0").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = bad.text().await.expect("body");
    assert!(
        text.contains(
            r#"<p class="error" id="repeat-error">✕ repeat must be between 1 and 5 times</p>"#
        ),
        "{text}"
    );
    let good = post("4").await;
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    assert_eq!(good.headers()[LOCATION], "/integrations?done=updated");
    let edited = app
        .store
        .integration(id)
        .await
        .expect("store")
        .expect("kept");
    assert_eq!(edited.kind, "echo");
    assert_eq!(edited.settings["repeat"], 4);
    assert_eq!(edited.settings["greeting"], "hi");
}
