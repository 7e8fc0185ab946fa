//! Several `tentacle worker` processes sharing one PostgreSQL database, as a warehouse operator
//! with hundreds of stores runs them: the real binary, both sandboxes over real HTTP, a schema of
//! its own per test (PostgreSQL at 127.0.0.1:5432; mandatory under CI=true, skipped with a
//! message elsewhere when it cannot be reached).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Value, json};
use tentacle_domain::run::{RunStatus, Trigger};
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls;
use tentacle_sandbox::pulpo::PulpoSandbox;
use tentacle_sandbox::shopify::ShopifySandbox;
use tentacle_store::testing::TestSchema;
use tentacle_store::{LinkScope, LogFilter, PgStore, Run, RunFilter, Store};
use tokio::process::{Child, Command};

mod support;

use support::*;

/// Runs a `tentacle` command to its end (at most 30 s: a command that should have been refused
/// must not hang the test).
async fn tentacle(db: &str, args: &[&str]) -> std::process::Output {
    let output = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env("TENTACLE_MASTER_KEY", KEY)
        .env_remove("TENTACLE_DATABASE_URL")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .unwrap_or_else(|_| panic!("tentacle {args:?} did not end"))
        .expect("tentacle runs")
}

/// PULPO's order numbers by configuration prefix (`S07-#1001` → `S07-`: `#1001`); panics on a
/// number PULPO holds twice.
fn pulpo_orders_by_prefix(pulpo: &PulpoSandbox) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_prefix: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for order in pulpo.state.sales_orders() {
        let (prefix, number) = order
            .order_num
            .split_once('-')
            .map(|(p, n)| (format!("{p}-"), n.to_string()))
            .unwrap_or((String::new(), order.order_num.clone()));
        assert!(
            by_prefix.entry(prefix).or_default().insert(number),
            "PULPO holds {} twice",
            order.order_num
        );
    }
    by_prefix
}

/// Paid orders added to the Shopify sandbox while the workers run, so later runs have new
/// work.
async fn add_paid_orders(shopify: &ShopifySandbox, count: usize) {
    let client = reqwest::Client::new();
    let base = shopify.shop_url();
    let variants: Value = client
        .get(format!("{base}/sandbox/variants"))
        .send()
        .await
        .expect("variants")
        .json()
        .await
        .expect("JSON");
    let skus: Vec<String> = variants["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .filter(|v| v["requires_shipping"] != false)
        .filter_map(|v| v["sku"].as_str().map(str::to_string))
        .take(5)
        .collect();
    assert!(!skus.is_empty(), "{variants}");
    for n in 0..count {
        let created = client
            .post(format!("{base}/sandbox/orders"))
            .json(&json!({"order": {
                "financial_status": "paid",
                "email": format!("buyer{n}@example.com"),
                "shipping_address": {
                    "first_name": "Ana", "last_name": format!("Buyer {n}"),
                    "address1": "Calle Mayor 1", "city": "Madrid", "zip": "28013",
                    "country": "Spain", "country_code": "ES",
                },
                "line_items": [{"sku": skus[n % skus.len()], "quantity": 1 + n % 3}],
            }}))
            .send()
            .await
            .expect("create order");
        assert!(created.status().is_success(), "{:?}", created.text().await);
    }
}

/// Writes the time every `--fake-clock-file` process reads (renamed over, so never half
/// written).
fn set_clock(path: &Path, at: DateTime<Utc>) {
    let next = path.with_extension("next");
    std::fs::write(&next, at.to_rfc3339()).expect("write clock");
    std::fs::rename(&next, path).expect("move clock");
}

async fn runs_of(store: &dyn Store, integration_id: i64) -> Vec<Run> {
    store
        .runs(&RunFilter {
            integration_id: Some(integration_id),
            limit: Some(1000),
            ..RunFilter::default()
        })
        .await
        .expect("runs")
}

/// The real-time span a run worked in, from its first to its last log entry.
async fn log_span(store: &dyn Store, run_id: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let logs = store
        .logs(run_id, &LogFilter::default())
        .await
        .expect("logs");
    let first = logs.first().expect("a run logs").at;
    let last = logs.last().expect("a run logs").at;
    (first, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_sixty_configurations_every_minute_of_a_fake_clock() {
    let Some(schema) = TestSchema::create("workers_sixty").await else {
        return;
    };
    let db = schema.url.clone();
    let migrated = tentacle(&db, &["migrate"]).await;
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    let version: Value = serde_json::from_str(text(&migrated.stdout).trim()).expect("JSON");
    assert_eq!(version["schema_version"], PgStore::known_schema_version());

    let (shopify, pulpo) = sandboxes(40, 0).await;
    let store = open(&db).await;
    let wms = pulpo_credential(store.as_ref(), &pulpo).await;
    let mut configurations = Vec::new();
    for n in 1..=60 {
        let name = format!("S{n:02}");
        configurations.push(
            configuration(
                store.as_ref(),
                &shopify,
                wms,
                &name,
                settings(&format!("{name}-"), 1, true),
            )
            .await,
        );
    }

    // The fake clock runs ahead of the sandboxes' real one, so every order is in the past.
    let dir = tempfile::tempdir().expect("temp dir");
    let clock: PathBuf = dir.path().join("clock");
    let start = Utc::now()
        .duration_trunc(TimeDelta::minutes(1))
        .expect("minute")
        + TimeDelta::minutes(2);
    set_clock(&clock, start + TimeDelta::seconds(30));
    let clock_arg = clock.display().to_string();
    let mut workers: Vec<Child> = (0..3)
        .map(|_| {
            worker(
                &db,
                &[
                    "--workers",
                    "3",
                    "--poll-ms",
                    "100",
                    "--lease-seconds",
                    "30",
                    "--fake-clock-file",
                    &clock_arg,
                ],
            )
        })
        .collect();

    const MINUTES: i64 = 5;
    let mut manual_runs = Vec::new();
    for minute in 1..=MINUTES {
        let due = start + TimeDelta::minutes(minute);
        // Every configuration has its run for this minute queued (by some process's scheduler)
        // before the clock gets there.
        wait_for(
            "the next minute's runs to be queued",
            Duration::from_secs(30),
            async || {
                for configuration in &configurations {
                    let runs = runs_of(store.as_ref(), configuration.id).await;
                    if !runs.iter().any(|r| r.due_at == Some(due)) {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await;
        set_clock(&clock, due);
        // "Run now" on a few configurations while their scheduled run works: queued behind
        // it, never beside it.
        for configuration in configurations.iter().skip(minute as usize).step_by(7) {
            let run = controls::run_now(store.as_ref(), configuration.id, &SystemClock)
                .await
                .expect("run now");
            manual_runs.push((configuration.id, run.id));
        }
        if minute == 2 {
            add_paid_orders(&shopify, 6).await;
        }
        wait_for(
            "every run of this minute to end",
            Duration::from_secs(120),
            async || {
                for configuration in &configurations {
                    let runs = runs_of(store.as_ref(), configuration.id).await;
                    let ended = runs
                        .iter()
                        .filter(|r| r.due_at <= Some(due))
                        .all(|r| r.status.is_final());
                    if !ended || !runs.iter().any(|r| r.due_at == Some(due)) {
                        return None;
                    }
                }
                Some(())
            },
        )
        .await;
    }
    for worker in &mut workers {
        worker.start_kill().expect("stop worker");
    }

    let expected = reference_order_numbers(&shopify).await;
    let in_pulpo = pulpo_orders_by_prefix(&pulpo);
    assert_eq!(in_pulpo.len(), 60, "{:?}", in_pulpo.keys());
    for configuration in &configurations {
        let runs = runs_of(store.as_ref(), configuration.id).await;
        // No due run lost, none made twice: one scheduled run per minute, each worked once.
        let scheduled: Vec<&Run> = runs
            .iter()
            .filter(|r| {
                r.trigger == Trigger::Schedule
                    && r.due_at <= Some(start + TimeDelta::minutes(MINUTES))
            })
            .collect();
        let dues: BTreeSet<_> = scheduled.iter().filter_map(|r| r.due_at).collect();
        let every_minute: BTreeSet<_> = (1..=MINUTES)
            .map(|m| start + TimeDelta::minutes(m))
            .collect();
        assert_eq!(dues, every_minute, "{}: {runs:?}", configuration.name);
        assert_eq!(scheduled.len(), MINUTES as usize, "{}", configuration.name);
        for run in runs.iter().filter(|r| r.status.is_final()) {
            assert_eq!(run.status, RunStatus::Finished, "{run:?}");
            assert_eq!(run.attempts, 1, "claimed once: {run:?}");
        }
        // Never twice at once: the runs of one configuration worked one after the other.
        let mut spans = Vec::new();
        for run in runs.iter().filter(|r| r.status.is_final()) {
            spans.push(log_span(store.as_ref(), run.id).await);
        }
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{}: two runs overlapped: {pair:?}",
                configuration.name
            );
        }
        // PULPO has exactly the orders one clean run imports, once each.
        let prefix = format!("{}-", configuration.name);
        assert_eq!(
            in_pulpo.get(&prefix),
            Some(&expected),
            "{}",
            configuration.name
        );
        let links = store
            .count_order_links(LinkScope {
                origin_credential_id: configuration.origin_credential_id,
                destination_credential_id: configuration.destination_credential_id,
            })
            .await
            .expect("links");
        assert_eq!(links as usize, expected.len(), "{}", configuration.name);
    }
    // The manual runs waited for the scheduled ones and ran too.
    for (integration_id, run_id) in manual_runs {
        let run = store.run(run_id).await.expect("run").expect("exists");
        assert_eq!(run.integration_id, integration_id);
        assert_eq!(run.status, RunStatus::Finished, "{run:?}");
    }
}

/// The process id in a worker's name (`serve-4711-3f2a9c1b-0`).
fn pid_of(worker: &str) -> u32 {
    worker
        .split('-')
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in worker name {worker:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_taken_over_within_the_lease_without_duplicates() {
    let Some(schema) = TestSchema::create("workers_kill").await else {
        return;
    };
    let db = schema.url.clone();
    let (shopify, pulpo) = sandboxes(300, 25).await;
    let store = open(&db).await;
    let wms = pulpo_credential(store.as_ref(), &pulpo).await;
    let sales = configuration(
        store.as_ref(),
        &shopify,
        wms,
        "Store",
        settings("", 10, false),
    )
    .await;
    const LEASE_SECONDS: u64 = 3;
    let lease = ["--lease-seconds", "3", "--poll-ms", "200"];
    let mut workers = vec![worker(&db, &lease), worker(&db, &lease)];

    let run = controls::run_now(store.as_ref(), sales.id, &SystemClock)
        .await
        .expect("run now");
    let holder = wait_for(
        "a worker to import a few orders",
        Duration::from_secs(30),
        async || {
            let current = store.run(run.id).await.expect("run").expect("exists");
            (pulpo.state.sales_orders().len() >= 5).then_some(current.worker?)
        },
    )
    .await;
    let doomed = workers
        .iter_mut()
        .position(|w| w.id() == Some(pid_of(&holder)))
        .expect("the holder is one of our workers");
    let killed_at = Instant::now();
    workers[doomed].start_kill().expect("kill -9");
    workers[doomed].wait().await.expect("killed");

    let successor = wait_for(
        "another worker to take the run over",
        Duration::from_secs(30),
        async || {
            let current = store.run(run.id).await.expect("run").expect("exists");
            current.worker.filter(|w| *w != holder)
        },
    )
    .await;
    let takeover = killed_at.elapsed();
    assert_ne!(pid_of(&successor), pid_of(&holder));
    // The lease, plus a reaper tick and a claim poll.
    assert!(
        takeover <= Duration::from_secs(LEASE_SECONDS) + Duration::from_millis(1500),
        "taken over after {takeover:?}"
    );
    let ended = wait_for("the run to end", Duration::from_secs(120), async || {
        let current = store.run(run.id).await.expect("run").expect("exists");
        current.status.is_final().then_some(current)
    })
    .await;
    for worker in &mut workers {
        let _ = worker.start_kill();
    }
    assert_eq!(ended.status, RunStatus::Finished, "{ended:?}");
    assert_eq!(ended.attempts, 2, "{ended:?}");
    let logs = store
        .logs(run.id, &LogFilter::default())
        .await
        .expect("logs");
    assert!(
        logs.iter()
            .any(|e| e.message.starts_with("Worker lost; resumed")),
        "{logs:?}"
    );
    let expected = reference_order_numbers(&shopify).await;
    let in_pulpo = pulpo_orders_by_prefix(&pulpo);
    assert_eq!(in_pulpo.get(""), Some(&expected));
    eprintln!("kill -9 taken over after {takeover:?} (lease {LEASE_SECONDS} s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_starts_within_a_second_on_a_worker_of_another_process() {
    let Some(schema) = TestSchema::create("workers_wake").await else {
        return;
    };
    let db = schema.url.clone();
    let (shopify, pulpo) = sandboxes(5, 0).await;
    let store = open(&db).await;
    let wms = pulpo_credential(store.as_ref(), &pulpo).await;
    let sales = configuration(
        store.as_ref(),
        &shopify,
        wms,
        "Store",
        settings("", 10, false),
    )
    .await;
    // Polling every 60 s: only a notification explains a start within a second.
    let mut worker = worker(&db, &["--poll-ms", "60000"]);
    wait_for(
        "the worker to LISTEN",
        Duration::from_secs(30),
        async || listening(&db).await.then_some(()),
    )
    .await;
    // Its first poll happens at start; from here on only a wake-up makes it look again.
    tokio::time::sleep(Duration::from_millis(500)).await;

    for _ in 0..3 {
        let asked = Instant::now();
        let run = controls::run_now(store.as_ref(), sales.id, &SystemClock)
            .await
            .expect("run now");
        let started = wait_for("the run to start", Duration::from_secs(10), async || {
            let current = store.run(run.id).await.expect("run").expect("exists");
            (current.status != RunStatus::Queued).then(|| asked.elapsed())
        })
        .await;
        assert!(
            started < Duration::from_secs(1),
            "started after {started:?}"
        );
        wait_for("the run to end", Duration::from_secs(30), async || {
            let current = store.run(run.id).await.expect("run").expect("exists");
            current.status.is_final().then_some(())
        })
        .await;
        eprintln!("run now → RUNNING in {started:?}");
    }
    worker.start_kill().expect("stop");
}

/// Whether some tentacle connection LISTENs on this schema's database.
async fn listening(db: &str) -> bool {
    use sqlx::Row;
    let Ok(pool) = sqlx::PgPool::connect(db).await else {
        return false;
    };
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = 'tentacle' AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&pool)
    .await;
    pool.close().await;
    row.ok()
        .and_then(|r| r.try_get::<i64, _>("n").ok())
        .is_some_and(|n| n > 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_a_newer_tentacle_is_refused() {
    let Some(schema) = TestSchema::create("workers_newer").await else {
        return;
    };
    let db = schema.url.clone();
    let migrated = tentacle(&db, &["migrate"]).await;
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    let pool = sqlx::PgPool::connect(&db).await.expect("connect");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', TRUE, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .expect("a newer migration");
    pool.close().await;
    for command in [&["migrate"][..], &["worker"][..], &["runs"][..]] {
        let refused = tentacle(&db, command).await;
        assert!(!refused.status.success(), "{command:?} started");
        let stderr = text(&refused.stderr);
        assert!(
            stderr.contains("the database schema is newer than this tentacle")
                && stderr.contains("99990101000000"),
            "{command:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn postgresql_without_a_master_key_is_refused_with_what_to_do() {
    let Some(schema) = TestSchema::create("workers_key").await else {
        return;
    };
    let output = Command::new(BIN)
        .arg("--db")
        .arg(&schema.url)
        .arg("migrate")
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL")
        .output()
        .await
        .expect("tentacle runs");
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("TENTACLE_MASTER_KEY is not set")
            && stderr.contains("every tentacle process must be given the same"),
        "{stderr}"
    );
}

/// A `tentacle worker` whose log (INFO and up) goes to the file `log`.
fn logged_worker(db: &str, extra: &[&str], log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("log file");
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .arg("worker")
        .args(extra)
        .env("TENTACLE_MASTER_KEY", KEY)
        .env("RUST_LOG", "tentacle_engine=info")
        .env("NO_COLOR", "1")
        .env_remove("TENTACLE_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .expect("tentacle worker starts")
}

const SCHEDULES: &str = "This process schedules the runs now.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_schedules_and_another_takes_over_within_a_lease_when_it_is_killed() {
    let Some(schema) = TestSchema::create("workers_scheduler").await else {
        return;
    };
    let db = schema.url.clone();
    let (shopify, pulpo) = sandboxes(5, 0).await;
    let store = open(&db).await;
    let wms = pulpo_credential(store.as_ref(), &pulpo).await;
    let every_minute = configuration(
        store.as_ref(),
        &shopify,
        wms,
        "Every minute",
        settings("", 1, true),
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let clock: PathBuf = dir.path().join("clock");
    let start = Utc::now()
        .duration_trunc(TimeDelta::minutes(1))
        .expect("minute")
        + TimeDelta::minutes(2);
    set_clock(&clock, start + TimeDelta::seconds(30));
    let clock_arg = clock.display().to_string();
    const LEASE_SECONDS: u64 = 3;
    let args = [
        "--lease-seconds",
        "3",
        "--poll-ms",
        "200",
        "--fake-clock-file",
        &clock_arg,
    ];
    let logs: Vec<PathBuf> = (0..3)
        .map(|n| dir.path().join(format!("worker-{n}.log")))
        .collect();
    let mut workers: Vec<Child> = logs
        .iter()
        .map(|log| logged_worker(&db, &args, log))
        .collect();
    let says_it_schedules = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(SCHEDULES)
    };

    let holder = wait_for("a scheduler", Duration::from_secs(30), async || {
        store.scheduler().await.expect("read")
    })
    .await;
    let first_due = start + TimeDelta::minutes(1);
    wait_for("the first due run", Duration::from_secs(30), async || {
        let runs = runs_of(store.as_ref(), every_minute.id).await;
        runs.iter()
            .any(|r| r.due_at == Some(first_due))
            .then_some(())
    })
    .await;
    // Several polls of every process later, still the same one, and only it says it schedules.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = store.scheduler().await.expect("read").expect("a holder");
    assert_eq!(
        (still.owner.as_str(), still.since),
        (holder.owner.as_str(), holder.since)
    );
    let scheduling: Vec<usize> = (0..3).filter(|n| says_it_schedules(&logs[*n])).collect();
    assert_eq!(scheduling.len(), 1, "exactly one process schedules");
    let leader = scheduling[0];
    assert_eq!(workers[leader].id(), Some(pid_of(&holder.owner)));

    let killed_at = Instant::now();
    workers[leader].start_kill().expect("kill -9");
    workers[leader].wait().await.expect("killed");
    let successor = wait_for("another scheduler", Duration::from_secs(30), async || {
        store
            .scheduler()
            .await
            .expect("read")
            .filter(|s| s.owner != holder.owner)
    })
    .await;
    let takeover = killed_at.elapsed();
    assert!(
        takeover <= Duration::from_secs(LEASE_SECONDS) + Duration::from_millis(1500),
        "taken over after {takeover:?}"
    );
    let next = (0..3)
        .find(|n| workers[*n].id() == Some(pid_of(&successor.owner)))
        .expect("the successor is one of ours");
    assert_ne!(next, leader);
    wait_for(
        "the successor's log line",
        Duration::from_secs(10),
        async || says_it_schedules(&logs[next]).then_some(()),
    )
    .await;
    let others: Vec<usize> = (0..3).filter(|n| *n != leader && *n != next).collect();
    assert!(
        others.iter().all(|n| !says_it_schedules(&logs[*n])),
        "the third process never scheduled"
    );
    eprintln!("scheduler killed, taken over after {takeover:?} (lease {LEASE_SECONDS} s)");

    // The runs go on being queued by the new scheduler, once per due time.
    const MINUTES: i64 = 3;
    for minute in 1..=MINUTES {
        let due = start + TimeDelta::minutes(minute);
        set_clock(&clock, due);
        let next_due = due + TimeDelta::minutes(1);
        wait_for("the next due run", Duration::from_secs(60), async || {
            let runs = runs_of(store.as_ref(), every_minute.id).await;
            runs.iter()
                .any(|r| r.due_at == Some(next_due))
                .then_some(())
        })
        .await;
    }
    for worker in &mut workers {
        let _ = worker.start_kill();
    }
    let runs = runs_of(store.as_ref(), every_minute.id).await;
    for minute in 1..=MINUTES + 1 {
        let due = start + TimeDelta::minutes(minute);
        let queued = runs
            .iter()
            .filter(|r| r.trigger == Trigger::Schedule && r.due_at == Some(due))
            .count();
        assert_eq!(queued, 1, "one run due at {due}: {runs:?}");
    }
}
