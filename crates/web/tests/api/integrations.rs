//! Integrations: every bad field named at once, nothing saved; updates keep the id.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PULPO_PASSWORD, SHOPIFY_TOKEN, spawn_app};

#[tokio::test]
async fn a_bad_integration_names_every_bad_field_and_saves_nothing() {
    let app = spawn_app().await;
    let shop = app
        .create_credential(app.shopify_body("shop", SHOPIFY_TOKEN))
        .await;
    let wms = app
        .create_credential(app.pulpo_body("wms", PULPO_PASSWORD))
        .await;
    let answer = app
        .post(
            "/api/integrations",
            json!({
                "name": "",
                "type": "sales_orders",
                // Swapped: the origin is the PULPO credential.
                "origin_credential_id": wms,
                "destination_credential_id": 999,
                "settings": {
                    "frequency_minutes": "ten",
                    "initial_import_days": 0,
                    "colour": "red",
                },
            }),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    let body = answer.json();
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("JSON shape")
        .iter()
        .map(|e| e["field"].as_str().expect("JSON shape"))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "destination_credential_id",
            "name",
            "origin_credential_id",
            "settings.colour",
            "settings.frequency_minutes",
            // The keys that parse are checked beside the ones that do not.
            "settings.initial_import_days",
        ],
        "{body}"
    );
    // Once the values parse, the domain's range checks name theirs too.
    let answer = app
        .post(
            "/api/integrations",
            json!({"name": "Sales orders", "type": "sales_orders",
                   "origin_credential_id": shop, "destination_credential_id": wms,
                   "settings": {"frequency_minutes": 0, "initial_import_days": 0, "time_zone": "Mars/Base"}}),
        )
        .await;
    let body = answer.json();
    let messages: Vec<(String, String)> = body["errors"]
        .as_array()
        .expect("JSON shape")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().expect("JSON shape").into(),
                e["message"].as_str().expect("JSON shape").into(),
            )
        })
        .collect();
    assert_eq!(messages.len(), 3, "{body}");
    assert!(
        messages.contains(&(
            "settings.frequency_minutes".into(),
            "frequency must be between 1 and 60 minutes".into()
        )),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|(f, _)| f == "settings.initial_import_days")
    );
    assert!(messages.iter().any(|(f, _)| f == "settings.time_zone"));
    assert_eq!(app.get("/api/integrations").await.json(), json!([]));
}

#[tokio::test]
async fn create_update_and_delete_an_integration() {
    let app = spawn_app().await;
    let (shop, wms, id) = app.provision().await;
    let shown = app.get(&format!("/api/integrations/{id}")).await.json();
    assert_eq!(shown["settings"]["frequency_minutes"], 5);
    assert_eq!(
        shown["settings"]["initial_import_days"], 7,
        "defaults filled in"
    );
    assert_eq!(shown["active"], true);
    let duplicate = app
        .post(
            "/api/integrations",
            json!({"name": "Sales orders", "type": "sales_orders",
                   "origin_credential_id": shop, "destination_credential_id": wms}),
        )
        .await;
    // A create of a name that exists is a conflict, never an overwrite.
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.text);
    assert!(
        duplicate.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("\"Sales orders\"")),
        "{}",
        duplicate.text
    );
    let updated = app
        .put(
            &format!("/api/integrations/{id}"),
            json!({"name": "Sales orders EU", "type": "sales_orders",
                   "origin_credential_id": shop, "destination_credential_id": wms,
                   "settings": {"required_tags": ["b2c"]}}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    let updated = updated.json();
    assert_eq!(
        (updated["id"].as_i64(), updated["name"].as_str()),
        (Some(id), Some("Sales orders EU"))
    );
    assert_eq!(updated["settings"]["required_tags"], json!(["b2c"]));
    assert_eq!(
        updated["settings"]["frequency_minutes"], 10,
        "an update replaces the settings"
    );
    let missing = app.put("/api/integrations/999", json!({"name": "x"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn controls_start_stop_and_queue_a_run_that_never_runs_alongside_another() {
    let app = crate::helpers::spawn_app().await;
    let (_, _, integration) = app.provision().await;
    let state = app
        .post(
            &format!("/api/integrations/{integration}/stop"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(state.status, reqwest::StatusCode::OK);
    let body = state.json();
    assert_eq!(
        (body["active"].as_bool(), body["state"].as_str()),
        (Some(false), Some("stopped"))
    );
    assert!(
        body["next_run_at"].is_null(),
        "a stopped configuration has nothing due: {body}"
    );

    let started = app
        .post(
            &format!("/api/integrations/{integration}/start"),
            serde_json::json!({}),
        )
        .await
        .json();
    assert_eq!(started["state"], "active");
    assert!(
        started["next_run_at"].is_string(),
        "an active configuration shows its next run: {started}"
    );

    let first = app
        .post(
            &format!("/api/integrations/{integration}/run"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(first.status, reqwest::StatusCode::ACCEPTED);
    let first = first.json();
    assert_eq!(
        (first["status"].as_str(), first["trigger"].as_str()),
        (Some("QUEUED"), Some("manual"))
    );
    let second = app
        .post(
            &format!("/api/integrations/{integration}/run"),
            serde_json::json!({}),
        )
        .await
        .json();
    assert_eq!(
        second["id"], first["id"],
        "run now twice queues one run, not two"
    );
    let missing = app
        .post("/api/integrations/999999/run", serde_json::json!({}))
        .await;
    assert_eq!(missing.status, reqwest::StatusCode::NOT_FOUND);
}
