//! `tentacle serve`: the scheduler, the reaper and the run workers until SIGTERM or Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tentacle_engine::clock::SystemClock;
use tentacle_engine::worker::{self, WorkerConfig};

#[derive(Debug, Args)]
pub struct ServeArgs {
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
    eprintln!(
        "tentacle serve: {} workers; SIGTERM or Ctrl-C stops (grace {} s)",
        config.workers, args.grace_seconds
    );
    worker::serve(store, Arc::new(SystemClock), config, shutdown_signal()).await?;
    eprintln!("tentacle serve: stopped");
    Ok(ExitCode::SUCCESS)
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
