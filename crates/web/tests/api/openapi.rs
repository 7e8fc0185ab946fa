//! The OpenAPI document against the running app: every documented operation answers with a
//! documented status and a body whose top-level properties match the documented schema; every
//! protected operation refuses a missing token; no undocumented method or route is served.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PULPO_PASSWORD, SHOPIFY_TOKEN, TestApp, running_run, spawn_app};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Follows a `$ref` into `components`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Top-level check: the body's type, required properties present, no undocumented property.
fn conforms(document: &Value, schema: &Value, body: &Value, context: &str) {
    let schema = resolve(document, schema);
    let kind = schema["type"].as_str().or_else(|| {
        schema["type"].as_array().and_then(|types| {
            types
                .iter()
                .find_map(|t| t.as_str().filter(|t| *t != "null"))
        })
    });
    match kind {
        Some("object") => {
            let object = body
                .as_object()
                .unwrap_or_else(|| panic!("{context}: not an object: {body}"));
            if let Some(properties) = schema["properties"].as_object() {
                for key in object.keys() {
                    assert!(
                        properties.contains_key(key),
                        "{context}: undocumented property {key:?}"
                    );
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    let required = required.as_str().expect("JSON shape");
                    assert!(
                        object.contains_key(required),
                        "{context}: missing {required:?} in {body}"
                    );
                }
            }
        }
        Some("array") => {
            let items = body
                .as_array()
                .unwrap_or_else(|| panic!("{context}: not an array: {body}"));
            for item in items {
                conforms(document, &schema["items"], item, context);
            }
        }
        Some("string") => assert!(body.is_string(), "{context}: not a string"),
        Some("integer") => assert!(body.is_i64() || body.is_u64(), "{context}: not an integer"),
        other => panic!("{context}: schema type {other:?} not checked: {schema}"),
    }
}

/// The request the test makes for each documented operation: (method, documented path,
/// concrete path, body). A new documented operation fails the test until it is added here.
fn requests(
    app: &TestApp,
    shop: i64,
    wms: i64,
    spare: i64,
    integration: i64,
    run: i64,
    alerts: (i64, i64),
) -> Vec<(&'static str, &'static str, String, Option<Value>)> {
    let (alert, spare_alert) = alerts;
    let hook =
        |name: &str| json!({"name": name, "type": "webhook", "url": "http://127.0.0.1:9/hook"});
    vec![
        ("get", "/api/alerts", "/api/alerts".into(), None),
        (
            "post",
            "/api/alerts",
            "/api/alerts".into(),
            Some(hook("created")),
        ),
        (
            "get",
            "/api/alerts/{id}",
            format!("/api/alerts/{alert}"),
            None,
        ),
        (
            "put",
            "/api/alerts/{id}",
            format!("/api/alerts/{alert}"),
            Some(hook("renamed")),
        ),
        (
            "delete",
            "/api/alerts/{id}",
            format!("/api/alerts/{spare_alert}"),
            None,
        ),
        // Nothing listens on port 9: the answer says the test alert was not delivered.
        (
            "post",
            "/api/alerts/{id}/test",
            format!("/api/alerts/{alert}/test"),
            None,
        ),
        ("get", "/api/credentials", "/api/credentials".into(), None),
        (
            "post",
            "/api/credentials",
            "/api/credentials".into(),
            Some(app.pulpo_body("created", PULPO_PASSWORD)),
        ),
        (
            "get",
            "/api/credentials/{id}",
            format!("/api/credentials/{shop}"),
            None,
        ),
        (
            "put",
            "/api/credentials/{id}",
            format!("/api/credentials/{shop}"),
            Some(app.shopify_body("shop", SHOPIFY_TOKEN)),
        ),
        (
            "delete",
            "/api/credentials/{id}",
            format!("/api/credentials/{spare}"),
            None,
        ),
        (
            "post",
            "/api/credentials/{id}/check",
            format!("/api/credentials/{wms}/check"),
            None,
        ),
        ("get", "/api/integrations", "/api/integrations".into(), None),
        (
            "get",
            "/api/integration-types",
            "/api/integration-types".into(),
            None,
        ),
        (
            "post",
            "/api/integrations",
            "/api/integrations".into(),
            Some(
                json!({"name": "second", "type": "sales_orders", "origin_credential_id": shop, "destination_credential_id": wms}),
            ),
        ),
        (
            "get",
            "/api/integrations/{id}",
            format!("/api/integrations/{integration}"),
            None,
        ),
        (
            "put",
            "/api/integrations/{id}",
            format!("/api/integrations/{integration}"),
            Some(
                json!({"name": "renamed", "type": "sales_orders", "origin_credential_id": shop, "destination_credential_id": wms}),
            ),
        ),
        (
            "get",
            "/api/integrations/{id}/state",
            format!("/api/integrations/{integration}/state"),
            None,
        ),
        (
            "post",
            "/api/integrations/{id}/stop",
            format!("/api/integrations/{integration}/stop"),
            None,
        ),
        (
            "post",
            "/api/integrations/{id}/start",
            format!("/api/integrations/{integration}/start"),
            None,
        ),
        (
            "post",
            "/api/integrations/{id}/run",
            format!("/api/integrations/{integration}/run"),
            None,
        ),
        ("get", "/api/runs", "/api/runs?limit=1".into(), None),
        ("get", "/api/runs/{id}", format!("/api/runs/{run}"), None),
        (
            "get",
            "/api/runs/{id}/logs",
            format!("/api/runs/{run}/logs"),
            None,
        ),
        ("get", "/metrics", "/metrics".into(), None),
        ("get", "/api/tokens", "/api/tokens".into(), None),
        (
            "post",
            "/api/tokens",
            "/api/tokens".into(),
            Some(json!({"name": "dashboard", "scope": "read", "expires_in_days": 30})),
        ),
        (
            "delete",
            "/api/tokens/{name}",
            "/api/tokens/dashboard".into(),
            None,
        ),
        ("get", "/healthz", "/healthz".into(), None),
        ("get", "/api/openapi.json", "/api/openapi.json".into(), None),
        // Last: it removes the integration the others use.
        (
            "delete",
            "/api/integrations/{id}",
            format!("/api/integrations/{integration}"),
            None,
        ),
    ]
}

#[tokio::test]
async fn every_documented_route_answers_as_documented() {
    let app = spawn_app().await;
    let (shop, wms, integration) = app.provision().await;
    let spare = app
        .create_credential(app.pulpo_body("spare", PULPO_PASSWORD))
        .await;
    let run = running_run(
        &app.store,
        integration,
        tentacle_domain::run::Trigger::Manual,
        chrono::Utc::now(),
    )
    .await
    .0
    .id;
    let document = app.get("/api/openapi.json").await.json();
    assert!(
        document["openapi"]
            .as_str()
            .expect("JSON shape")
            .starts_with("3.")
    );

    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in document["paths"].as_object().expect("JSON shape") {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.push((method.to_string(), path.clone()));
            }
        }
    }
    let mut alerts = Vec::new();
    for name in ["alert", "spare alert"] {
        let created = app
            .post(
                "/api/alerts",
                json!({"name": name, "type": "webhook", "url": "http://127.0.0.1:9/hook"}),
            )
            .await;
        alerts.push(created.json()["id"].as_i64().expect("alert id"));
    }
    let plan = requests(
        &app,
        shop,
        wms,
        spare,
        integration,
        run,
        (alerts[0], alerts[1]),
    );
    let mut planned: Vec<(String, String)> = plan
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    planned.sort();
    assert_eq!(
        documented, planned,
        "every documented operation is exercised"
    );

    for (method, template, path, body) in plan {
        let operation = &document["paths"][template][method];
        let context = format!("{} {path}", method.to_uppercase());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("JSON shape");
        let secured = operation.get("security").is_some();
        if secured {
            let refused = app.call_as(None, method.clone(), &path, body.clone()).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{context}");
            assert!(
                operation["responses"].get("401").is_some(),
                "{context}: 401 undocumented"
            );
        }
        let answer = app.call(method, &path, body).await;
        let status = answer.status.as_u16().to_string();
        let response = operation["responses"].get(&status).unwrap_or_else(|| {
            panic!(
                "{context}: status {status} is not documented: {}",
                answer.text
            )
        });
        assert!(
            answer.status.is_success(),
            "{context}: {status} {}",
            answer.text
        );
        if let Some(content) = response.get("content").and_then(Value::as_object) {
            let (content_type, media) = content.iter().next().expect("JSON shape");
            assert!(
                answer.content_type.starts_with(content_type.as_str()),
                "{context}: {} is not {content_type}",
                answer.content_type
            );
            if content_type == "application/json" {
                conforms(&document, &media["schema"], &answer.json(), &context);
            }
        } else {
            assert!(
                answer.text.is_empty(),
                "{context}: undocumented body {}",
                answer.text
            );
        }
    }
}

#[tokio::test]
async fn nothing_undocumented_is_served() {
    let app = spawn_app().await;
    let document = app.get("/api/openapi.json").await.json();
    for (path, item) in document["paths"].as_object().expect("JSON shape") {
        let concrete = path.replace("{id}", "1");
        for method in METHODS {
            if item.get(method).is_none() {
                let answer = app
                    .call(
                        Method::from_bytes(method.to_uppercase().as_bytes()).expect("JSON shape"),
                        &concrete,
                        None,
                    )
                    .await;
                assert_eq!(
                    answer.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
            }
        }
    }
    for path in ["/api", "/api/users", "/api/credentials/1/secrets", "/admin"] {
        assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The settings schemas of the document hold the types to their word: each integer's
/// documented bounds are the ones a save enforces, and each documented default is what a save
/// without the key stores.
#[tokio::test]
async fn every_types_settings_are_documented_as_a_save_checks_them() {
    let app = spawn_app().await;
    let (shop, wms, _) = app.provision().await;
    let document = app.get("/api/openapi.json").await.json();
    let types = app.get("/api/integration-types").await.json();
    let keys: Vec<&str> = types
        .as_array()
        .expect("JSON shape")
        .iter()
        .map(|t| t["key"].as_str().expect("key"))
        .collect();
    for built_in in [
        "sales_orders",
        "stock",
        "generate_shipments",
        "status_updates",
        "returns",
        "products",
    ] {
        assert!(keys.contains(&built_in), "{built_in}: {keys:?}");
    }
    let input = &document["components"]["schemas"]["IntegrationInput"];
    assert_eq!(input["properties"]["type"]["enum"], serde_json::json!(keys));
    for kind in types.as_array().expect("JSON shape") {
        let key = kind["key"].as_str().expect("key");
        let name: String = key
            .split('_')
            .map(|p| p[..1].to_uppercase() + &p[1..])
            .collect::<String>()
            + "Settings";
        let schema = &document["components"]["schemas"][&name];
        let properties = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} documented"));
        let declared: Vec<&str> = kind["settings"]
            .as_array()
            .expect("settings")
            .iter()
            .map(|s| s["key"].as_str().expect("key"))
            .collect();
        assert_eq!(
            properties.keys().map(String::as_str).collect::<Vec<_>>(),
            declared
        );
        let (origin, destination) = if kind["origin"] == "shopify" {
            (shop, wms)
        } else {
            (wms, shop)
        };
        let app = &app;
        let save = move |settings: serde_json::Value| {
            let body = serde_json::json!({"name": format!("{key} check"), "type": key,
                "origin_credential_id": origin, "destination_credential_id": destination,
                "settings": settings});
            async move { app.post("/api/integrations", body).await }
        };
        let saved = save(serde_json::json!({})).await;
        assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text);
        let saved = saved.json();
        for (field, property) in properties {
            assert_eq!(
                saved["settings"][field], property["default"],
                "{name}.{field} default"
            );
        }
        app.call(
            Method::DELETE,
            &format!("/api/integrations/{}", saved["id"]),
            None,
        )
        .await;
        for (field, property) in properties {
            let Some(max) = property["maximum"].as_i64() else {
                continue;
            };
            let over = save(serde_json::json!({field: max + 1})).await;
            assert_eq!(
                over.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}.{field} above its maximum"
            );
            assert!(
                over.text.contains(&format!("settings.{field}")),
                "{}",
                over.text
            );
            let min = property["minimum"]
                .as_i64()
                .expect("an integer has both bounds");
            let under = save(serde_json::json!({field: min - 1})).await;
            assert_eq!(
                under.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name}.{field} below its minimum"
            );
            let at = save(serde_json::json!({field: max})).await;
            assert_eq!(
                at.status,
                StatusCode::CREATED,
                "{name}.{field} at its maximum: {}",
                at.text
            );
            app.call(
                Method::DELETE,
                &format!("/api/integrations/{}", at.json()["id"]),
                None,
            )
            .await;
        }
    }
}
