//! PostgreSQL restarted while workers run: they reconnect and carry on, and nothing is lost or
//! imported twice.
//!
//! The restart must not disturb the other tests, which share the machine's PostgreSQL, so this
//! test makes a PostgreSQL server of its own (initdb into a temporary directory, its own port)
//! and restarts that one with `pg_ctl restart -m fast`: the same server binaries and the same
//! disconnection of every client as `pg_ctlcluster 15 main restart`. Where the server binaries
//! are missing it says so and skips, except under CI=true.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tentacle_domain::run::RunStatus;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::controls;
use tentacle_store::{LogFilter, Run, Store};

mod support;

use support::*;

/// A PostgreSQL server of this test's own, stopped when dropped.
struct PrivateServer {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

impl PrivateServer {
    /// `None` (with a message) when PostgreSQL's server binaries are not installed, outside CI.
    fn start() -> Option<PrivateServer> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(|v| v.ok().map(|v| v.path().join("bin")))
                    .filter(|bin| bin.join("initdb").exists())
                    .max()
            });
        let Some(bin) = bin else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are required under CI=true"
                );
            }
            eprintln!("SKIPPED: PostgreSQL's server binaries are not installed here");
            return None;
        };
        // initdb refuses to run as root: the server then runs as the postgres user.
        let as_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let dir = tempfile::tempdir().expect("temp dir");
        if as_root {
            let status = std::process::Command::new("chown")
                .args(["postgres:postgres", &dir.path().display().to_string()])
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let data = dir.path().join("data");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("address").port()
        };
        let server = PrivateServer {
            _dir: dir,
            data,
            bin,
            port,
            as_root,
        };
        server.run(
            "initdb",
            &[
                "-D",
                &server.data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            server.socket_dir().display()
        );
        server.pg_ctl(&["-o", &options, "start"]);
        Some(server)
    }

    fn socket_dir(&self) -> &Path {
        self.data.parent().expect("data dir has a parent")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program).display().to_string();
        let mut command = if self.as_root {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            std::process::Command::new(&program)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("PostgreSQL tool runs");
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data.display().to_string();
        let log = self.socket_dir().join("server.log").display().to_string();
        let mut all = vec!["-D", &data, "-l", &log, "-w", "-m", "fast"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let program = self.bin.join("pg_ctl").display().to_string();
        let mut command = if self.as_root {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--", &program]);
            command
        } else {
            std::process::Command::new(&program)
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The run as stored, or `None` while the database does not answer.
async fn read_run(store: &dyn Store, id: i64) -> Option<Run> {
    store.run(id).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_carry_on_after_postgresql_restarts_during_a_run() {
    let Some(server) = PrivateServer::start() else {
        return;
    };
    let db = server.url();
    let store = open(&db).await;
    let (shopify, pulpo) = sandboxes(800, 30).await;
    let wms = pulpo_credential(store.as_ref(), &pulpo).await;
    let sales = configuration(
        store.as_ref(),
        &shopify,
        wms,
        "Store",
        settings("", 10, false),
    )
    .await;
    let lease = ["--lease-seconds", "5", "--poll-ms", "200"];
    let mut workers = vec![worker(&db, &lease), worker(&db, &lease)];

    let run = controls::run_now(store.as_ref(), sales.id, &SystemClock)
        .await
        .expect("run now");
    wait_for(
        "the run to import some orders",
        Duration::from_secs(60),
        async || {
            let current = read_run(store.as_ref(), run.id).await?;
            (current.status == RunStatus::Running && pulpo.state.sales_orders().len() >= 10)
                .then_some(())
        },
    )
    .await;
    let before = pulpo.state.sales_orders().len();
    let restart = Instant::now();
    server.pg_ctl(&["restart"]);
    eprintln!(
        "PostgreSQL restarted in {:?} with {before} orders in PULPO",
        restart.elapsed()
    );

    // Then a longer outage: stopped for 3 s (every in-flight statement is cut off), started
    // again.
    wait_for(
        "the run to import more orders",
        Duration::from_secs(60),
        async || (pulpo.state.sales_orders().len() >= before + 20).then_some(()),
    )
    .await;
    let options = format!(
        "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        server.port,
        server.socket_dir().display()
    );
    server.pg_ctl(&["stop"]);
    let stopped_with = pulpo.state.sales_orders().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.pg_ctl(&["-o", &options, "start"]);
    eprintln!("PostgreSQL stopped for 3 s with {stopped_with} orders in PULPO");

    let ended = wait_for("the run to end", Duration::from_secs(120), async || {
        let current = read_run(store.as_ref(), run.id).await?;
        current.status.is_final().then_some(current)
    })
    .await;
    assert_eq!(ended.status, RunStatus::Finished, "{ended:?}");
    assert!(
        pulpo.state.sales_orders().len() > stopped_with,
        "the run carried on after the outages"
    );
    let logs = store
        .logs(run.id, &LogFilter::default())
        .await
        .expect("logs");
    eprintln!(
        "run ended {} after {} attempt(s); log: {:?}",
        ended.status,
        ended.attempts,
        logs.iter()
            .filter(|e| e.level >= tentacle_domain::run::LogLevel::Warning)
            .map(|e| &e.message)
            .collect::<Vec<_>>()
    );

    // Nothing lost, nothing twice: PULPO holds exactly what one clean run imports, and a run
    // after it finds nothing left to create.
    let again = controls::run_now(store.as_ref(), sales.id, &SystemClock)
        .await
        .expect("run now");
    let again = wait_for("a second run", Duration::from_secs(60), async || {
        let current = read_run(store.as_ref(), again.id).await?;
        current.status.is_final().then_some(current)
    })
    .await;
    for worker in &mut workers {
        let _ = worker.start_kill();
    }
    assert_eq!(again.status, RunStatus::Finished, "{again:?}");
    assert_eq!(again.counters.created, 0, "{again:?}");
    let in_pulpo: Vec<String> = pulpo
        .state
        .sales_orders()
        .into_iter()
        .map(|o| o.order_num)
        .collect();
    let unique: BTreeSet<String> = in_pulpo.iter().cloned().collect();
    assert_eq!(unique.len(), in_pulpo.len(), "an order was created twice");
    assert_eq!(unique, reference_order_numbers(&shopify).await);
}
