//! The overview page over plain HTTP, on a seeded history: the tiles (problems first, the last
//! run and its age, failed and conflicting records, orders imported today) and the numbers
//! behind each day of the charts; and `/metrics`, whose counters retention must not lower.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use reqwest::header::COOKIE;
use serde_json::json;
use tentacle_domain::retention::RetentionSettings;
use tentacle_domain::run::RunStatus;
use tentacle_engine::clock::Clock;
use tentacle_engine::retention;
use tentacle_store::{Attention, AttentionKey, AttentionKind, RecordKind};

use crate::helpers::{PastRun, TestApp, seed_runs, spawn_app};
use crate::ui::{ADMIN, ADMIN_PASSWORD, client, cookie_of, log_in};

fn past(days_ago: i64, status: RunStatus, created: u64, failed: u64, seconds: i64) -> PastRun {
    PastRun {
        days_ago,
        status,
        created,
        failed,
        seconds,
    }
}

async fn stock_configuration(app: &TestApp, shop: i64, wms: i64) -> i64 {
    let answer = app
        .post(
            "/api/integrations",
            json!({"name": "Stock", "type": "stock", "origin_credential_id": wms,
                   "destination_credential_id": shop, "settings": {}}),
        )
        .await;
    assert!(answer.status.is_success(), "{}", answer.text);
    answer.json()["id"].as_i64().expect("id")
}

fn flag(integration_id: i64, record: &str, kind: AttentionKind) -> Attention {
    Attention {
        key: AttentionKey {
            integration_id,
            record_kind: RecordKind::Order,
            record_id: format!("gid://shopify/Order/{record}"),
        },
        record_label: format!("#{record}"),
        kind,
        reason: "PULPO answered 500".into(),
        attempts: 1,
        run_id: None,
        updated_at: Utc::now(),
    }
}

/// The HTML of the element that starts with `start` (up to the next element of `end`).
fn part<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {page}"));
    let rest = &page[from..];
    let to = rest[start.len()..]
        .find(end)
        .map_or(rest.len(), |n| n + start.len());
    &rest[..to]
}

#[tokio::test]
async fn the_overview_shows_each_configuration_with_its_numbers_problems_first() {
    let app = spawn_app().await;
    tentacle_web::users::create_user(app.store.as_ref(), ADMIN, ADMIN_PASSWORD)
        .await
        .expect("user");
    let (shop, wms, sales) = app.provision().await;
    let stock = stock_configuration(&app, shop, wms).await;
    let today = Utc::now().date_naive();
    let day = |ago: i64| (today - TimeDelta::days(ago)).to_string();
    // Sales orders: two runs 3 days ago, one 40 days ago (outside the charts), two today
    // (the last one FINISHED), and two records to look at.
    seed_runs(
        &app.store,
        sales,
        &[
            past(40, RunStatus::Finished, 50, 0, 10),
            past(3, RunStatus::Finished, 10, 0, 60),
            past(3, RunStatus::FinishedPartially, 2, 3, 120),
            past(0, RunStatus::FinishedPartially, 4, 1, 20),
            past(0, RunStatus::Finished, 3, 0, 10),
        ],
    )
    .await;
    app.store
        .flag(&flag(sales, "1001", AttentionKind::Failed))
        .await
        .expect("flag");
    app.store
        .flag(&flag(sales, "1002", AttentionKind::Conflict))
        .await
        .expect("flag");
    // Stock: fine yesterday, FAILED today.
    seed_runs(
        &app.store,
        stock,
        &[
            past(1, RunStatus::Finished, 7, 0, 30),
            past(0, RunStatus::Failed, 0, 0, 5),
        ],
    )
    .await;

    let http = client();
    let session = cookie_of(
        &log_in(&app.base, &http, ADMIN_PASSWORD).await,
        "tentacle_session",
    )
    .expect("session cookie");
    let page = http
        .get(format!("{}/", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("overview")
        .text()
        .await
        .expect("body");
    // Whitespace between tags is layout only.
    let page = page
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("> <", "><");
    assert!(
        page.contains(r#"<a href="/" aria-current="page">Overview</a>"#),
        "{page}"
    );
    assert!(page.contains("2 need attention"), "{page}");
    // The CSP allows no inline style: the SVG is styled by classes only.
    assert!(!page.contains("style="), "{page}");

    // Tiles: the FAILED one first, then the one with records to look at.
    let stock_tile = page
        .find(&format!(r#"id="tile-{stock}""#))
        .expect("stock tile");
    let sales_tile = page
        .find(&format!(r#"id="tile-{sales}""#))
        .expect("sales tile");
    assert!(stock_tile < sales_tile, "problems first, the worst first");
    let tile = part(
        &page,
        &format!(r#"<li class="tile bad" id="tile-{stock}""#),
        "</li>",
    );
    assert!(
        tile.contains("Last run FAILED") && tile.contains("✕</span> FAILED"),
        "{tile}"
    );
    assert!(
        tile.contains(r#"data-today="0""#),
        "yesterday's 7 are not today's: {tile}"
    );
    assert!(tile.contains("Records handled today"), "{tile}");
    let tile = part(
        &page,
        &format!(r#"<li class="tile warn" id="tile-{sales}""#),
        "</li>",
    );
    assert!(
        tile.contains(r#"data-failed="1" data-conflicts="1" data-today="7""#),
        "3 + 4 orders imported today: {tile}"
    );
    assert!(
        tile.contains("Orders imported today") && tile.contains("2 records to look at"),
        "{tile}"
    );
    assert!(tile.contains("✓</span> FINISHED"), "{tile}");
    assert!(
        tile.contains(" ago</span>") || tile.contains("just now</span>"),
        "{tile}"
    );
    assert!(tile.contains("Active"), "{tile}");

    // Charts: per day, handled and failed records, and the average run duration.
    let records = part(
        &page,
        &format!(r#"aria-labelledby="chart-{sales}-records""#),
        "</figure>",
    );
    assert_eq!(records.matches(r#"<g class="day""#).count(), 30, "30 days");
    assert!(
        records.contains(&format!(
            r#"data-day="{}" data-low="12" data-high="3"><title>{}: 12 handled, 3 failed, 2 runs</title>"#,
            day(3),
            day(3)
        )),
        "{records}"
    );
    assert!(
        records.contains(&format!(
            r#"data-day="{}" data-low="7" data-high="1">"#,
            day(0)
        )),
        "{records}"
    );
    assert!(
        records.contains(&format!(
            r#"data-day="{}" data-low="0" data-high="0"><title>{}: no run ended</title>"#,
            day(1),
            day(1)
        )),
        "{records}"
    );
    assert!(!records.contains(&day(40)), "40 days ago is not charted");
    assert!(
        records.contains("handled</span>") && records.contains("failed</span>"),
        "legend"
    );
    let duration = part(
        &page,
        &format!(r#"aria-labelledby="chart-{sales}-duration""#),
        "</figure>",
    );
    assert!(
        duration.contains(&format!(
            r#"data-day="{}" data-low="90" data-high="0"><title>{}: 2 runs, average 1 min 30 s, longest 2 min, 0 FAILED</title>"#,
            day(3),
            day(3)
        )),
        "{duration}"
    );
    let stock_duration = part(
        &page,
        &format!(r#"aria-labelledby="chart-{stock}-duration""#),
        "</figure>",
    );
    assert!(
        stock_duration.contains(r#"class="bar-failed""#),
        "a day with a FAILED run is red: {stock_duration}"
    );
    assert!(
        page.contains("4 runs (0 FAILED), 19 records handled, 4 failed"),
        "{page}"
    );

    // The tiles refresh alone.
    let tiles = http
        .get(format!("{}/overview/tiles", app.base))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("tiles")
        .text()
        .await
        .expect("body");
    assert!(
        tiles.starts_with(r#"<div id="overview-tiles" data-live="/overview/tiles">"#),
        "{tiles}"
    );
    assert!(tiles.contains(&format!(r#"id="tile-{sales}""#)), "{tiles}");
}

/// A clock at a fixed time.
struct At(chrono::DateTime<Utc>);

impl Clock for At {
    fn now(&self) -> chrono::DateTime<Utc> {
        self.0
    }
}

#[tokio::test]
async fn metrics_counters_stay_when_retention_deletes_runs() {
    let app = spawn_app().await;
    let (_, _, sales) = app.provision().await;
    seed_runs(
        &app.store,
        sales,
        &[
            past(200, RunStatus::Finished, 5, 0, 60),
            past(120, RunStatus::FinishedPartially, 2, 1, 30),
            past(100, RunStatus::Failed, 0, 0, 5),
            past(2, RunStatus::Finished, 4, 0, 20),
        ],
    )
    .await;
    let before = app.get("/metrics").await.text;
    assert!(
        before.contains(r#"tentacle_runs_total{integration="Sales orders",status="FINISHED"} 2"#),
        "{before}"
    );
    assert!(
        before
            .contains(r#"tentacle_records_total{integration="Sales orders",outcome="created"} 11"#),
        "{before}"
    );

    let (_stop, mut stopped) = tokio::sync::watch::channel(false);
    let pruned = retention::prune(
        app.store.as_ref(),
        &At(Utc::now()),
        RetentionSettings::default(),
        1,
        Duration::from_millis(1),
        &mut stopped,
    )
    .await
    .expect("retention");
    assert_eq!(
        pruned.runs, 2,
        "the FINISHED and the FINISHED PARTIALLY runs older than 90 days"
    );
    let left = app.get("/api/runs").await.json();
    assert_eq!(left["runs"].as_array().expect("runs").len(), 2, "{left}");
    let after = app.get("/metrics").await.text;
    // Series come out in any order.
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&after), sorted(&before), "counters never go down");
}
