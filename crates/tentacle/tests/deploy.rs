//! What an operator deploys besides the binary: `--version`, the health check the container
//! image runs, and the files in `deploy/`, checked by the tools that will read them (systemd,
//! Prometheus). The tools are Debian's `systemd` and `prometheus` packages, which `.ci/run`
//! installs; elsewhere a missing tool prints `SKIPPED: …`, and under `CI` it fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tentacle");

fn clone_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `program` when it is installed; `None` (after saying so) when it is not and this is
/// not CI.
fn tool(program: &str, args: &[&str], dir: &Path) -> Option<Output> {
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(output) => Some(output),
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: {program} is not installed ({error}); .ci/run installs it");
            None
        }
        Err(error) => panic!("{program} is required in CI: {error}"),
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let version = Command::new(BIN).arg("--version").output().expect("runs");
    let printed = text(&version.stdout);
    assert!(version.status.success(), "{printed}");
    assert!(
        printed.starts_with(&format!("tentacle {} ", env!("CARGO_PKG_VERSION"))),
        "{printed}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(clone_dir())
        .output();
    match head {
        Ok(head) if head.status.success() => {
            let commit = text(&head.stdout).trim().to_string();
            assert!(
                printed.contains(&format!("(commit {commit})")),
                "{printed:?} does not name HEAD {commit}"
            );
        }
        _ => assert!(printed.contains("(commit "), "{printed}"),
    }
}

#[tokio::test]
async fn healthcheck_says_whether_serve_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}/tentacle.db", dir.path().display());
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("address").port()
    };
    let url = format!("http://127.0.0.1:{port}/healthz");
    let healthcheck = |url: String| {
        tokio::process::Command::new(BIN)
            .args(["healthcheck", "--url", &url, "--timeout-seconds", "2"])
            .output()
    };
    let down = healthcheck(url.clone()).await.expect("runs");
    assert_eq!(down.status.code(), Some(1), "{}", text(&down.stdout));
    assert!(
        text(&down.stderr).contains("does not answer"),
        "{}",
        text(&down.stderr)
    );

    let mut serve = tokio::process::Command::new(BIN)
        .args([
            "--db",
            &db,
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env_remove("TENTACLE_MASTER_KEY")
        .env_remove("TENTACLE_DATABASE_URL")
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let up = healthcheck(url.clone()).await.expect("runs");
        if up.status.success() {
            assert!(text(&up.stdout).contains("200"), "{}", text(&up.stdout));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve never became healthy: {}",
            text(&up.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    serve.kill().await.expect("stops");
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    // `verify` checks that ExecStart's binary exists: point a copy at the one just built.
    let unit = std::fs::read_to_string(clone_dir().join("deploy/systemd/tentacle.service"))
        .expect("the unit");
    assert!(
        unit.contains("ExecStart=/usr/local/bin/tentacle "),
        "{unit}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("tentacle.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/tentacle", BIN)).expect("write");
    let path = copy.to_str().expect("utf-8 path");
    let Some(verified) = tool("systemd-analyze", &["verify", path], dir.path()) else {
        return;
    };
    // systemd only warns about a misspelt or invalid directive: any output is a defect.
    assert!(
        verified.status.success() && verified.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    // systemd's own exposure score, 0 (locked down) to 10 (unprotected): at most 2.
    let security = tool(
        "systemd-analyze",
        &["security", "--offline=yes", "--threshold=20", path],
        dir.path(),
    )
    .expect("installed, as verify ran");
    assert!(
        security.status.success(),
        "exposure above 2.0:\n{}",
        text(&security.stdout)
    );
}

#[test]
fn the_prometheus_rules_load_and_fire_as_their_tests_say() {
    let dir = clone_dir().join("deploy/prometheus");
    let Some(checked) = tool("promtool", &["check", "rules", "tentacle-rules.yml"], &dir) else {
        return;
    };
    assert!(
        checked.status.success(),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    let tested = tool(
        "promtool",
        &["test", "rules", "tentacle-rules.test.yml"],
        &dir,
    )
    .expect("installed, as check ran");
    assert!(
        tested.status.success(),
        "{}{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );
}

#[test]
fn every_dashboard_query_is_valid_promql() {
    // promtool parses PromQL in rule files only: the dashboard's queries become recording
    // rules, with Grafana's variables given plain values.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(clone_dir().join("deploy/grafana/tentacle-dashboard.json"))
            .expect("the dashboard"),
    )
    .expect("JSON");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let mut count = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"]
                .as_str()
                .expect("a query")
                .replace("$__rate_interval", "5m")
                .replace("$integration", ".*");
            count += 1;
            rules.push_str(&format!(
                "      - record: dashboard:query{count}\n        expr: {}\n",
                serde_json::to_string(&expr).expect("a YAML string")
            ));
        }
    }
    assert!(count > 0);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dashboard.yml"), rules).expect("write");
    let Some(checked) = tool("promtool", &["check", "rules", "dashboard.yml"], dir.path()) else {
        return;
    };
    assert!(
        checked.status.success(),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
}
