//! The monitoring files in `deploy/` against what `/metrics` really exports: a dashboard panel
//! or an alert rule on a metric tentacle does not export would stay empty or silent forever.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{Duration, Utc};
use serde_json::Value;
use tentacle_domain::run::{RunCounters, RunStatus, Trigger};

use crate::helpers::{running_run, spawn_app};

fn deploy_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every `tentacle_…` metric name a text mentions.
fn tentacle_metrics_named(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("tentacle_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn the_dashboard_and_the_alert_rules_use_only_metrics_tentacle_exports() {
    let app = spawn_app().await;
    let (_, _, integration) = app.provision().await;
    // One run of every final status, so every metric family and label shows up.
    let start = Utc::now() - Duration::hours(3);
    for (i, status) in [
        RunStatus::Finished,
        RunStatus::FinishedPartially,
        RunStatus::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        let at = start + Duration::minutes(10 * i as i64);
        let (_, lease) = running_run(&app.store, integration, Trigger::Schedule, at).await;
        let counters = RunCounters {
            fetched: 3,
            created: 1,
            failed: 1,
            ..RunCounters::default()
        };
        app.store
            .finish_run(&lease, status, &counters, None, at + Duration::seconds(20))
            .await
            .expect("store call");
    }
    let metrics = app.get("/metrics").await.text;
    let exported: BTreeSet<String> = metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    assert!(
        exported.contains("tentacle_runs_total"),
        "no runs counter in:\n{metrics}"
    );

    let dashboard: Value =
        serde_json::from_str(&deploy_file("grafana/tentacle-dashboard.json")).expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    for panel in panels {
        let targets = panel["targets"].as_array().expect("targets");
        assert!(
            targets.iter().all(|t| t["expr"]
                .as_str()
                .is_some_and(|e| !tentacle_metrics_named(e).is_empty())),
            "panel {:?} has a query on no tentacle metric",
            panel["title"]
        );
    }
    for (file, text) in [
        (
            "grafana/tentacle-dashboard.json",
            deploy_file("grafana/tentacle-dashboard.json"),
        ),
        (
            "prometheus/tentacle-rules.yml",
            deploy_file("prometheus/tentacle-rules.yml"),
        ),
    ] {
        let named = tentacle_metrics_named(&text);
        assert!(!named.is_empty(), "{file} names no tentacle metric");
        let unknown: Vec<_> = named.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics /metrics does not export: {unknown:?}\nexported: {exported:?}"
        );
    }
}
