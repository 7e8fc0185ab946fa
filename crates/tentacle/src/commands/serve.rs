//! `tentacle serve`: the service. [`api`] starts the JSON API until Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tentacle_store::Store;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the JSON API, /healthz and /metrics listen.
    #[arg(long, env = "TENTACLE_LISTEN", default_value = "127.0.0.1:8200")]
    pub listen: SocketAddr,
}

pub async fn run(db: &str, args: ServeArgs) -> anyhow::Result<()> {
    let store = super::db::open(db).await?;
    api(store, args.listen, shutdown_signal()).await
}

/// Serves the JSON API on `listen` until `shutdown` resolves.
pub async fn api(
    store: Arc<dyn Store>,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = tentacle_web::build(tentacle_web::Config { listen, store })
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!("tentacle API listening on http://{}", app.address());
    app.serve(shutdown).await.context("the API server failed")
}

async fn shutdown_signal() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::error!(%error, "Cannot wait for Ctrl-C; stopping.");
    }
}
