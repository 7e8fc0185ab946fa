//! The Overview tab, the landing page: a tile per configuration (its state, its last run and
//! how long ago it ended, the records failed and in conflict, what it did today) with the ones
//! that need someone first, and per configuration two charts of its last 30 days (records per
//! day, run duration per day) drawn on the server as SVG. The tiles refresh themselves
//! (`/overview/tiles`); the charts come from one aggregate query over the runs that ended
//! ([`tentacle_store::LogStore::daily_run_totals`]), never from loading runs.
//!
//! Days are UTC days (the storage's time zone, the same for every configuration).

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tentacle_domain::run::RunStatus;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls;
use tentacle_store::{AttentionKind, DailyRunTotals, Integration};

use super::{Badge, Ui, UiResult, html, internal, when};
use crate::AppState;

/// Days the charts show, today included.
const CHART_DAYS: i64 = 30;

/// How much a tile needs someone, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Bad,
    Warn,
    Fine,
    Stopped,
}

impl Severity {
    fn class(self) -> &'static str {
        match self {
            Severity::Bad => "bad",
            Severity::Warn => "warn",
            Severity::Fine => "ok",
            Severity::Stopped => "stopped",
        }
    }
}

struct Tile {
    id: i64,
    name: String,
    kind: String,
    severity: Severity,
    /// Why the tile is highlighted, in words ("Last run FAILED"), when it is.
    reason: Option<String>,
    active: bool,
    running: bool,
    /// The run in progress, else the last one that ended.
    run_id: Option<i64>,
    badge: Option<Badge>,
    /// "4 min ago", and the exact time for the tooltip.
    age: String,
    at: String,
    failed_records: usize,
    conflicts: usize,
    /// What its runs that ended today did: for sales orders the orders imported.
    today_label: &'static str,
    today: u64,
}

/// One day of a chart: a stacked bar of two values.
struct Bar {
    day: String,
    x: f64,
    width: f64,
    /// The lower part (handled records, or the duration) and the upper part (failed records).
    low_y: f64,
    low_height: f64,
    high_y: f64,
    high_height: f64,
    /// The upper part's class, or the whole bar's when a FAILED run ended that day.
    low_class: &'static str,
    title: String,
    low: String,
    high: String,
}

struct Tick {
    y: f64,
    label: String,
}

struct XLabel {
    x: f64,
    label: String,
}

/// A bar chart of the last [`CHART_DAYS`] days, laid out for the SVG template.
struct Chart {
    /// What it shows, also the SVG's `<title>`.
    title: String,
    /// Which measure: `records` or `duration` (for tests and styling).
    measure: &'static str,
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
    days: Vec<XLabel>,
    /// The legend: a class and its words.
    legend: Vec<(&'static str, &'static str)>,
}

struct Charts {
    id: i64,
    name: String,
    kind: String,
    /// Records per day, then run duration per day.
    charts: Vec<Chart>,
    /// The 30 days' sums, said in words beside the charts.
    summary: String,
}

#[derive(askama::Template)]
#[template(path = "overview.html")]
struct Page {
    ui: Ui,
    tab: &'static str,
    tiles: Tiles,
    charts: Vec<Charts>,
}

#[derive(askama::Template)]
#[template(path = "overview_tiles.html")]
struct Tiles {
    tiles: Vec<Tile>,
    /// Configurations needing someone (bad or warn), fine, and stopped.
    attention: usize,
    fine: usize,
    stopped: usize,
}

/// The first day the charts show.
fn first_day(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive() - TimeDelta::days(CHART_DAYS - 1)
}

fn kind_label(integration: &Integration) -> String {
    tentacle_engine::find(&integration.kind).map_or_else(
        || integration.kind.replace('_', " "),
        |k| k.label().to_string(),
    )
}

/// "just now", "4 min ago", "3 h ago", "2 days ago".
fn age(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ if seconds < 2 * 86_400 => "1 day ago".to_string(),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

async fn tiles_of(state: &AppState, totals: &[DailyRunTotals]) -> UiResult<Tiles> {
    let now = Utc::now();
    let today = now.date_naive();
    let integrations = state.store.integrations().await.map_err(internal)?;
    // Per configuration: failed records, records in conflict.
    let mut flags: HashMap<i64, (usize, usize)> = HashMap::new();
    for flag in state.store.flags(None).await.map_err(internal)? {
        let counts = flags.entry(flag.key.integration_id).or_default();
        match flag.kind {
            AttentionKind::Failed => counts.0 += 1,
            AttentionKind::Conflict => counts.1 += 1,
        }
    }
    let mut tiles = Vec::with_capacity(integrations.len());
    for integration in integrations {
        let current = controls::state(state.store.as_ref(), integration.id, &SystemClock)
            .await
            .map_err(internal)?;
        let (failed_records, conflicts) = flags.get(&integration.id).copied().unwrap_or_default();
        let last_status = current.last_run.as_ref().map(|r| r.status);
        let (severity, reason) = if !current.active && current.current_run.is_none() {
            (Severity::Stopped, None)
        } else if last_status == Some(RunStatus::Failed) {
            (Severity::Bad, Some("Last run FAILED".to_string()))
        } else if last_status == Some(RunStatus::FinishedPartially) {
            (
                Severity::Warn,
                Some("Last run FINISHED PARTIALLY".to_string()),
            )
        } else if failed_records + conflicts > 0 {
            (
                Severity::Warn,
                Some(format!(
                    "{} record{} to look at",
                    failed_records + conflicts,
                    if failed_records + conflicts == 1 {
                        ""
                    } else {
                        "s"
                    }
                )),
            )
        } else {
            (Severity::Fine, None)
        };
        let shown = current.current_run.as_ref().or(current.last_run.as_ref());
        let shown_at = shown.map(|r| r.finished_at.unwrap_or(r.started_at));
        let done_today = totals
            .iter()
            .filter(|t| t.integration_id == integration.id && t.day == today)
            .map(|t| &t.counters);
        let (today_label, today) = if integration.kind == "sales_orders" {
            ("Orders imported today", done_today.map(|c| c.created).sum())
        } else {
            (
                "Records handled today",
                done_today
                    .map(|c| c.created + c.updated + c.cancelled)
                    .sum(),
            )
        };
        tiles.push(Tile {
            id: integration.id,
            kind: kind_label(&integration),
            name: integration.name,
            severity,
            reason,
            active: current.active,
            running: current.current_run.is_some(),
            run_id: shown.map(|r| r.id),
            badge: shown.map(|r| Badge::of(r.status)),
            age: match (&current.current_run, shown_at) {
                (Some(_), Some(at)) => format!("started {}", age(now, at)),
                (None, Some(at)) => age(now, at),
                (_, None) => String::new(),
            },
            at: shown_at.map(when).unwrap_or_default(),
            failed_records,
            conflicts,
            today_label,
            today,
        });
    }
    // Problems first, the worst first; then by name, so the order stays put between refreshes.
    tiles.sort_by(|a, b| (a.severity, &a.name).cmp(&(b.severity, &b.name)));
    let count = |wanted: &[Severity]| {
        tiles
            .iter()
            .filter(|t| wanted.contains(&t.severity))
            .count()
    };
    Ok(Tiles {
        attention: count(&[Severity::Bad, Severity::Warn]),
        fine: count(&[Severity::Fine]),
        stopped: count(&[Severity::Stopped]),
        tiles,
    })
}

/// Chart geometry, in SVG user units (the SVG scales to its box).
const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// The smallest of 1, 2, 5 × 10^k at or above `value` (at least 2, so the middle tick is a
/// whole number too): the top of a count axis.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 2.0 {
        return 2.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|top| *top >= value)
        .unwrap_or(10.0 * magnitude)
}

fn seconds_label(seconds: f64) -> String {
    let seconds = seconds.round() as i64;
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes, rest) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The smallest round duration at or above `seconds` whose half is round too: the top of a
/// duration axis.
fn nice_seconds_ceiling(seconds: f64) -> f64 {
    const TOPS: [f64; 14] = [
        10.0, 20.0, 30.0, 60.0, 120.0, 240.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14_400.0,
        28_800.0, 86_400.0,
    ];
    TOPS.into_iter()
        .find(|top| *top >= seconds)
        .unwrap_or_else(|| (seconds / 86_400.0).ceil() * 86_400.0)
}

/// The records a day's runs handled: those they created, updated or cancelled in the other system.
fn handled(t: &DailyRunTotals) -> u64 {
    t.counters.created + t.counters.updated + t.counters.cancelled
}

fn average_seconds(t: &DailyRunTotals) -> f64 {
    t.seconds / t.runs.max(1) as f64
}

/// What one chart shows of a day.
#[derive(Clone, Copy)]
struct Measure {
    /// `records` or `duration` (for tests and styling).
    key: &'static str,
    /// In words, after the configuration's name.
    what: &'static str,
    /// The lower part's class and words, then the upper part's.
    legend: [(&'static str, &'static str); 2],
    /// A day's lower and upper value, and the lower part's class.
    value: fn(&DailyRunTotals) -> (f64, f64, &'static str),
    /// The top of the y axis for the highest day.
    ceiling: fn(f64) -> f64,
    /// A y axis tick.
    label: fn(f64) -> String,
    /// A day's `<title>`.
    describe: fn(NaiveDate, &DailyRunTotals) -> String,
}

/// Records handled per day, the failed ones stacked on top.
const RECORDS: Measure = Measure {
    key: "records",
    what: "records per day",
    legend: [("bar-handled", "handled"), ("bar-failed", "failed")],
    value: |t| (handled(t) as f64, t.counters.failed as f64, "bar-handled"),
    ceiling: nice_ceiling,
    label: |v| format!("{v:.0}"),
    describe: |day, t| {
        format!(
            "{day}: {} handled, {} failed, {} runs",
            handled(t),
            t.counters.failed,
            t.runs
        )
    },
};

/// The average run duration per day, red on a day a run FAILED.
const DURATION: Measure = Measure {
    key: "duration",
    what: "run duration per day",
    legend: [
        ("bar-duration", "average run"),
        ("bar-failed", "a run FAILED that day"),
    ],
    value: |t| {
        let class = if t.failed_runs > 0 {
            "bar-failed"
        } else {
            "bar-duration"
        };
        (average_seconds(t).round(), 0.0, class)
    },
    ceiling: nice_seconds_ceiling,
    label: seconds_label,
    describe: |day, t| {
        format!(
            "{day}: {} runs, average {}, longest {}, {} FAILED",
            t.runs,
            seconds_label(average_seconds(t)),
            seconds_label(t.longest_seconds),
            t.failed_runs
        )
    },
};

/// Lays out one chart: per day a lower value and an upper value stacked on it.
fn chart(name: &str, measure: &Measure, days: &[(NaiveDate, Option<&DailyRunTotals>)]) -> Chart {
    let Measure {
        key,
        what,
        legend,
        value,
        ceiling,
        label,
        describe,
    } = *measure;
    let values: Vec<(f64, f64, &'static str)> = days
        .iter()
        .map(|(_, t)| t.map_or((0.0, 0.0, legend[0].0), value))
        .collect();
    let top = ceiling(
        values
            .iter()
            .map(|(low, high, _)| low + high)
            .fold(0.0, f64::max),
    );
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width / days.len() as f64;
    let scale = |v: f64| v / top * plot_height;
    // A tenth of a unit is finer than any screen shows, and keeps the markup short.
    let tenth = |v: f64| (v * 10.0).round() / 10.0;
    let bars = days
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(n, ((day, totals), (low, high, class)))| {
            let low_height = scale(*low);
            let high_height = scale(*high);
            let base = TOP + plot_height;
            Bar {
                day: day.to_string(),
                x: tenth(LEFT + n as f64 * slot + slot * 0.15),
                width: tenth(slot * 0.7),
                low_y: tenth(base - low_height),
                low_height: tenth(low_height),
                high_y: tenth(base - low_height - high_height),
                high_height: tenth(high_height),
                low_class: class,
                title: match totals {
                    Some(t) => describe(*day, t),
                    None => format!("{day}: no run ended"),
                },
                low: format!("{low}"),
                high: format!("{high}"),
            }
        })
        .collect();
    let ticks = [0.0, 0.5, 1.0]
        .into_iter()
        .map(|share| Tick {
            y: tenth(TOP + plot_height - share * plot_height),
            label: label(top * share),
        })
        .collect();
    // A label every week, ending on today.
    let day_labels = days
        .iter()
        .enumerate()
        .filter(|(n, _)| (days.len() - 1 - n).is_multiple_of(7))
        .map(|(n, (day, _))| XLabel {
            x: tenth(LEFT + (n as f64 + 0.5) * slot),
            label: day.format("%b %-d").to_string(),
        })
        .collect();
    Chart {
        title: format!("{name}: {what}, last 30 days (UTC)"),
        measure: key,
        bars,
        ticks,
        days: day_labels,
        legend: legend.to_vec(),
    }
}

fn charts_of(
    integrations: &[Integration],
    totals: &[DailyRunTotals],
    now: DateTime<Utc>,
) -> Vec<Charts> {
    let first = first_day(now);
    integrations
        .iter()
        .map(|integration| {
            let mine: HashMap<NaiveDate, &DailyRunTotals> = totals
                .iter()
                .filter(|t| t.integration_id == integration.id)
                .map(|t| (t.day, t))
                .collect();
            let days: Vec<(NaiveDate, Option<&DailyRunTotals>)> = (0..CHART_DAYS)
                .map(|n| {
                    let day = first + TimeDelta::days(n);
                    (day, mine.get(&day).copied())
                })
                .collect();
            let records = chart(&integration.name, &RECORDS, &days);
            let duration = chart(&integration.name, &DURATION, &days);
            let mut summary = String::new();
            let (runs, failed_runs, handled_sum, failed_sum) = mine.values().fold(
                (0, 0, 0, 0),
                |(runs, failed_runs, handled_sum, failed_sum), t| {
                    (
                        runs + t.runs,
                        failed_runs + t.failed_runs,
                        handled_sum + handled(t),
                        failed_sum + t.counters.failed,
                    )
                },
            );
            let _ = write!(
                summary,
                "{runs} runs ({failed_runs} FAILED), {handled_sum} records handled, {failed_sum} failed"
            );
            let kind = kind_label(integration);
            Charts {
                id: integration.id,
                name: integration.name.clone(),
                // Said once when the name already says it.
                kind: if kind == integration.name { String::new() } else { kind },
                charts: vec![records, duration],
                summary,
            }
        })
        .collect()
}

pub(crate) async fn page(State(state): State<AppState>, ui: Ui) -> UiResult {
    let now = Utc::now();
    let totals = daily_totals(&state, now).await?;
    let integrations = state.store.integrations().await.map_err(internal)?;
    html(&Page {
        ui,
        tab: "overview",
        tiles: tiles_of(&state, &totals).await?,
        charts: charts_of(&integrations, &totals, now),
    })
}

/// The tiles alone, for the live refresh.
pub(crate) async fn tiles(State(state): State<AppState>, _ui: Ui) -> UiResult {
    let totals = daily_totals(&state, Utc::now()).await?;
    html(&tiles_of(&state, &totals).await?)
}

async fn daily_totals(state: &AppState, now: DateTime<Utc>) -> UiResult<Vec<DailyRunTotals>> {
    let since = first_day(now)
        .and_hms_opt(0, 0, 0)
        .map(|midnight| midnight.and_utc())
        .unwrap_or(now);
    state.store.daily_run_totals(since).await.map_err(internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round_numbers() {
        assert_eq!(nice_ceiling(0.0), 2.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(50.0), 50.0);
        assert_eq!(nice_ceiling(501.0), 1000.0);
        assert_eq!(nice_seconds_ceiling(0.0), 10.0);
        assert_eq!(nice_seconds_ceiling(95.0), 120.0);
        assert_eq!(nice_seconds_ceiling(4000.0), 7200.0);
    }

    #[test]
    fn durations_read_in_the_largest_units() {
        assert_eq!(seconds_label(0.0), "0 s");
        assert_eq!(seconds_label(89.6), "1 min 30 s");
        assert_eq!(seconds_label(120.0), "2 min");
        assert_eq!(seconds_label(3600.0), "1 h");
        assert_eq!(seconds_label(5460.0), "1 h 31 min");
    }

    #[test]
    fn ages_read_like_people_say_them() {
        let now = DateTime::parse_from_rfc3339("2026-05-04T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(age(now, now - TimeDelta::seconds(20)), "just now");
        assert_eq!(age(now, now - TimeDelta::minutes(4)), "4 min ago");
        assert_eq!(age(now, now - TimeDelta::hours(3)), "3 h ago");
        assert_eq!(age(now, now - TimeDelta::hours(30)), "1 day ago");
        assert_eq!(age(now, now - TimeDelta::days(9)), "9 days ago");
    }
}
