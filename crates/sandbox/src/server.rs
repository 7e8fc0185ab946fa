//! Binding and serving a sandbox: bind first (port 0 in tests) and hand back the address, then
//! serve until stopped.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A sandbox HTTP server running on a tokio task.
#[derive(Debug)]
pub struct RunningServer {
    address: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Binds `listen` and serves `router` on a background task.
    pub async fn start(listen: SocketAddr, router: Router) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "sandbox server stopped with an error");
            }
        });
        Ok(RunningServer {
            address,
            stop,
            task,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind the sandbox listener: {0}")]
    Bind(#[from] std::io::Error),
    #[error("cannot seed the sandbox: {0}")]
    Seed(String),
}
