//! `tentacle serve`: the always-on service. The scheduler, the reaper and the run workers run
//! until SIGTERM or Ctrl-C; with `--listen ADDR` the web UI (at `/`), the JSON API (under
//! `/api/`, with `/healthz` and `/metrics`) serve alongside them and stop with them.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::worker::{self, WorkerConfig};
use tentacle_store::Store;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the web UI, the JSON API, /healthz and /metrics here.
    #[arg(long, env = "TENTACLE_LISTEN")]
    pub listen: Option<SocketAddr>,
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
}

pub async fn run(db: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = super::db::open(db).await?;
    let config = WorkerConfig {
        workers: args.workers.max(1),
        lease: Duration::from_secs(args.lease_seconds.max(1)),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        grace: Duration::from_secs(args.grace_seconds),
    };
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
    let api = args
        .listen
        .map(|listen| tokio::spawn(api(store.clone(), listen, wait(stopped.clone()))));
    eprintln!(
        "tentacle serve: {} workers; SIGTERM or Ctrl-C stops (grace {} s)",
        config.workers, args.grace_seconds
    );
    worker::serve(store, Arc::new(SystemClock), config, wait(stopped)).await?;
    if let Some(api) = api {
        api.await.context("the API task failed")??;
    }
    eprintln!("tentacle serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Serves the web UI and the JSON API on `listen` until `shutdown` resolves.
pub async fn api(
    store: Arc<dyn Store>,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = tentacle_web::build(tentacle_web::Config { listen, store })
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
