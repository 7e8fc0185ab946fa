//! `tentacle serve` and `tentacle worker`: the always-on service. The scheduler, the reaper and
//! the run workers run until SIGTERM or Ctrl-C; `serve --listen ADDR` also serves the web UI
//! (at `/`) and the JSON API (under `/api/`, with `/healthz` and `/metrics`), which stop with
//! them. `worker` is the same without the web server, for the extra machines of a PostgreSQL
//! deployment.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

use tentacle_domain::retention::{self, RetentionSettings};
use tentacle_engine::clock::{Clock, FileClock, SystemClock};
use tentacle_engine::worker::{self, WorkerConfig};
use tentacle_store::Store;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the web UI, the JSON API, /healthz and /metrics here. An address other machines
    /// reach (0.0.0.0, a LAN address) needs --behind-proxy: tentacle speaks plain HTTP.
    #[arg(long, env = "TENTACLE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// A TLS-terminating proxy is in front: trust its X-Forwarded-Proto (https gets Secure
    /// cookies and HSTS), and allow --listen on an address other machines reach.
    #[arg(long, env = "TENTACLE_BEHIND_PROXY")]
    pub behind_proxy: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Runs worked on at once (of different configurations).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// On shutdown, how long running runs may go on before they are released to resume at the
    /// next start.
    #[arg(long, default_value_t = 30)]
    grace_seconds: u64,
    /// How long a worker's lease on a run lasts without a heartbeat (tests shorten it so a
    /// killed worker's run is taken over quickly).
    #[arg(long, default_value_t = 30, hide = true)]
    lease_seconds: u64,
    /// How often idle workers look for due runs and the scheduler ticks (tests shorten it).
    #[arg(long, default_value_t = 1000, hide = true)]
    poll_ms: u64,
    /// How often a run's worker may be lost (killed, cut off) before the run is failed instead
    /// of resumed again.
    #[arg(long, default_value_t = worker::DEFAULT_MAX_LOSSES)]
    max_losses: i64,
    /// Read the time from this file (RFC 3339) instead of the system clock, so tests can move
    /// the time of several processes at once.
    #[arg(long, hide = true)]
    fake_clock_file: Option<PathBuf>,
    /// Days ended runs and their log entries are kept; the retention job deletes older ones
    /// (1 to 3650).
    #[arg(long, env = "TENTACLE_RETENTION_DAYS", default_value_t = retention::DEFAULT_RETENTION_DAYS)]
    retention_days: u32,
    /// Days FAILED runs are kept (at least --retention-days, at most 3650). Runs an unresolved
    /// attention record points at are kept until it is resolved.
    #[arg(long, env = "TENTACLE_RETENTION_FAILED_DAYS", default_value_t = retention::DEFAULT_RETENTION_FAILED_DAYS)]
    retention_failed_days: u32,
}

impl WorkerArgs {
    /// The worker settings; an error naming the flag when the retention settings are bad.
    fn config(&self) -> anyhow::Result<WorkerConfig> {
        let retention = RetentionSettings::new(self.retention_days, self.retention_failed_days)
            .map_err(|problem| {
                anyhow::anyhow!(
                    "--{}: {}",
                    problem.field.replace('_', "-"),
                    problem
                        .message
                        .replace("retention_days", "--retention-days")
                )
            })?;
        Ok(WorkerConfig {
            workers: self.workers.max(1),
            lease: Duration::from_secs(self.lease_seconds.max(1)),
            poll: Duration::from_millis(self.poll_ms.max(10)),
            grace: Duration::from_secs(self.grace_seconds),
            max_losses: self.max_losses.max(1),
            retention,
        })
    }

    fn clock(&self) -> Arc<dyn Clock> {
        match &self.fake_clock_file {
            Some(path) => Arc::new(FileClock::new(path)),
            None => Arc::new(SystemClock),
        }
    }
}

/// `tentacle worker`: the scheduler, the reaper and the workers, without the web server.
pub async fn worker(db: &str, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    run(
        db,
        ServeArgs {
            listen: None,
            behind_proxy: false,
            worker: args,
        },
    )
    .await
}

pub async fn run(db: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // Bad settings are refused before the database is touched.
    let config = args.worker.config()?;
    if let Some(listen) = args.listen {
        tentacle_web::check_listen(listen, args.behind_proxy)
            .map_err(|refusal| anyhow::anyhow!("cannot listen on {listen}: {refusal}"))?;
    }
    let store = super::db::open(db).await?;
    let clock = args.worker.clock();
    // One signal stops everything: the API first refuses new requests, the workers stop
    // claiming and get their grace period.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let wait = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let api = args.listen.map(|listen| {
        tokio::spawn(api(
            store.clone(),
            listen,
            args.behind_proxy,
            wait(stopped.clone()),
        ))
    });
    let role = if args.listen.is_some() {
        "serve"
    } else {
        "worker"
    };
    eprintln!(
        "tentacle {role}: {} workers, pid {}; SIGTERM or Ctrl-C stops (grace {} s)",
        config.workers,
        std::process::id(),
        args.worker.grace_seconds
    );
    worker::serve(store, clock, config, wait(stopped)).await?;
    if let Some(api) = api {
        api.await.context("the API task failed")??;
    }
    eprintln!("tentacle {role}: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serves the web UI and the JSON API on `listen` until `shutdown` resolves.
pub async fn api(
    store: Arc<dyn Store>,
    listen: SocketAddr,
    behind_proxy: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = tentacle_web::build(tentacle_web::Config {
        listen,
        store,
        behind_proxy,
        limits: tentacle_web::Limits::default(),
    })
    .await
    .with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!(
        "tentacle web UI: log in with an account from `tentacle user create NAME`; JSON API under /api/"
    );
    eprintln!("tentacle listening on http://{}", app.address());
    app.serve(shutdown).await.context("the API server failed")
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
