//! Runs and their logs: filters and keyset pagination.

use chrono::{Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use tentacle_domain::run::{LogLevel, RunCounters, RunStatus, Trigger};
use tentacle_store::NewLogEntry;

use crate::helpers::{running_run, spawn_app};

fn ids(page: &Value, list: &str) -> Vec<i64> {
    page[list]
        .as_array()
        .expect("JSON shape")
        .iter()
        .map(|r| r["id"].as_i64().expect("JSON shape"))
        .collect()
}

#[tokio::test]
async fn runs_page_newest_first_and_filter_by_integration_status_and_time() {
    let app = spawn_app().await;
    let (_, _, integration) = app.provision().await;
    let day = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("a valid date");
    let mut all = Vec::new();
    for i in 0..7i64 {
        let start = day + Duration::hours(i);
        let (run, lease) = running_run(&app.store, integration, Trigger::Schedule, start).await;
        let status = if i % 2 == 0 {
            RunStatus::Finished
        } else {
            RunStatus::Failed
        };
        let counters = RunCounters {
            fetched: i as u64,
            created: 1,
            ..RunCounters::default()
        };
        app.store
            .finish_run(
                &lease,
                status,
                &counters,
                None,
                start + Duration::seconds(30),
            )
            .await
            .expect("store call");
        all.push(run.id);
    }
    all.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/runs?limit=3".to_string();
    loop {
        let page = app.get(&path).await.json();
        seen.extend(ids(&page, "runs"));
        match page["next_before_id"].as_i64() {
            Some(next) => path = format!("/api/runs?limit=3&before_id={next}"),
            None => break,
        }
    }
    assert_eq!(seen, all);

    let failed = app
        .get(&format!(
            "/api/runs?status=FAILED&integration_id={integration}"
        ))
        .await
        .json();
    assert_eq!(ids(&failed, "runs").len(), 3);
    let window = app
        .get("/api/runs?from=2026-11-01T02:00:00Z&until=2026-11-01T04:00:00Z")
        .await
        .json();
    assert_eq!(ids(&window, "runs"), vec![all[3], all[4]]);
    let other = app.get("/api/runs?integration_id=999").await.json();
    assert!(ids(&other, "runs").is_empty());

    let run = app.get(&format!("/api/runs/{}", all[0])).await.json();
    assert_eq!(run["counters"]["fetched"], 6);
    assert_eq!(run["duration_ms"], 30_000);
    assert_eq!(run["status"], "FINISHED");
    let bad = app.get("/api/runs?status=DONE").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    let bad = app.get("/api/runs?limit=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/runs/999").await.status, StatusCode::NOT_FOUND);

    let metrics = app.get("/metrics").await;
    assert!(metrics.content_type.starts_with("text/plain"));
    assert!(
        metrics
            .text
            .contains(r#"tentacle_runs_total{integration="Sales orders",status="FAILED"} 3"#),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains(r#"tentacle_records_total{integration="Sales orders",outcome="fetched"} 21"#),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains(
            r#"tentacle_run_duration_seconds_count{integration="Sales orders",status="FINISHED"} 4"#
        ),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn logs_page_oldest_first_and_filter_by_level_and_record() {
    let app = spawn_app().await;
    let (_, _, integration) = app.provision().await;
    let (run, lease) = running_run(&app.store, integration, Trigger::Manual, Utc::now()).await;
    let running = app.get(&format!("/api/runs/{}", run.id)).await.json();
    assert_eq!(
        (running["status"].as_str(), running["worker"].as_str()),
        (Some("RUNNING"), Some("api-test-worker")),
        "a running run names the worker holding it: {running}"
    );
    assert_eq!(running["attempts"], 1);
    let entries: Vec<NewLogEntry> = (1..=10)
        .map(|i| NewLogEntry {
            at: Utc::now(),
            level: if i % 3 == 0 {
                LogLevel::Error
            } else {
                LogLevel::Info
            },
            record_kind: Some("order".into()),
            record: Some(format!("#{}", 1000 + i)),
            message: format!("Order #{} handled.", 1000 + i),
        })
        .collect();
    app.store
        .append_logs(&lease, &entries)
        .await
        .expect("store call");

    let mut messages = Vec::new();
    let mut path = format!("/api/runs/{}/logs?limit=4", run.id);
    let mut pages = 0;
    loop {
        let page = app.get(&path).await.json();
        pages += 1;
        messages.extend(
            page["entries"]
                .as_array()
                .expect("JSON shape")
                .iter()
                .map(|e| e["record"].as_str().expect("JSON shape").to_string()),
        );
        match page["next_after_id"].as_i64() {
            Some(next) => path = format!("/api/runs/{}/logs?limit=4&after_id={next}", run.id),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        messages,
        (1..=10)
            .map(|i| format!("#{}", 1000 + i))
            .collect::<Vec<_>>()
    );

    let errors = app
        .get(&format!("/api/runs/{}/logs?level=ERROR", run.id))
        .await
        .json();
    let levels: Vec<&str> = errors["entries"]
        .as_array()
        .expect("JSON shape")
        .iter()
        .map(|e| e["level"].as_str().expect("JSON shape"))
        .collect();
    assert_eq!(levels, ["ERROR"; 3]);
    let one = app
        .get(&format!("/api/runs/{}/logs?record=%231007", run.id))
        .await
        .json();
    assert_eq!(
        one["entries"].as_array().expect("JSON shape").len(),
        1,
        "{one}"
    );
    assert_eq!(one["entries"][0]["record"], "#1007");
    assert_eq!(
        app.get("/api/runs/999/logs").await.status,
        StatusCode::NOT_FOUND
    );
}
