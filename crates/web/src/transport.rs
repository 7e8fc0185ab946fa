//! How `serve` takes connections, and what it trusts about them.
//!
//! The accept loop is ours rather than `axum::serve`, which has no time limits: a client that
//! never finished its headers kept its connection (and a task) forever, so a few thousand such
//! clients would exhaust the process. Here every connection has:
//! - a **header-read timeout** ([`Limits::header_read`]): the request line and headers must
//!   arrive within it. hyper runs the same timer while a kept-alive connection waits for its
//!   next request, so it is also the **idle keep-alive timeout**;
//! - a **request timeout** ([`Limits::request`]) from the end of the headers to the answer,
//!   the body's upload included;
//! - at most [`MAX_BUFFER_BYTES`] of request buffered (headers larger than that are refused
//!   with 431);
//! - a place among at most [`Limits::max_connections`]: beyond them the next connection waits
//!   in the kernel's accept queue until one closes, so memory stays bounded (1024 × 64 KiB
//!   of buffers by default).
//!
//! [`forwarded_https`] is the other half: behind a TLS-terminating proxy (`--behind-proxy`),
//! a request the proxy marks `X-Forwarded-Proto: https` gets `Secure` cookies and HSTS.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower_service::Service;

/// A connection's read buffer, at most: a request line and headers must fit (a browser's are a
/// few KB, cookies included). hyper's default would let each connection buffer 400 KB.
pub const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// The connection limits of [`crate::App::serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From the connection's start (or the end of its previous answer) to the end of the next
    /// request's headers.
    pub header_read: Duration,
    /// From the end of the headers to the answer, the body's upload included.
    pub request: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s for headers: a browser or `curl` sends them at once, even over a slow line.
    /// 60 s per request: the slowest handler, "check connection", gives up after 2 × 10 s.
    /// 1024 connections: far above what an operator's browsers and a Prometheus scrape need,
    /// and at most 64 MiB of buffers in all.
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves; then takes no new
/// connection, lets in-flight requests finish and closes idle connections.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let places = limits.max_connections.clamp(1, u32::MAX as usize);
    let open = Arc::new(Semaphore::new(places));
    let (stop, stopping) = watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_header_size(MAX_BUFFER_BYTES)
        .max_buf_size(MAX_BUFFER_BYTES);
    tokio::pin!(shutdown);
    loop {
        // A place first: at the cap, connections wait in the kernel's queue, not in memory.
        let place = tokio::select! {
            place = open.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %error, "Accepting a connection failed; retrying in a second.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                // The client's address: login failures are counted per address too.
                request.extensions_mut().insert(ConnectInfo(peer));
                let mut router = router.clone();
                let limit = limits.request;
                async move {
                    match tokio::time::timeout(limit, router.call(request.map(Body::new))).await {
                        Ok(answer) => answer,
                        Err(_) => Ok::<_, Infallible>(too_slow(limit)),
                    }
                }
            });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(place);
        });
    }
    let _ = stop.send(true);
    // Every connection holds a place until it ends: all places back means all ended.
    let _ = open.acquire_many(places as u32).await;
    Ok(())
}

/// The answer to a request that outlasted [`Limits::request`].
fn too_slow(limit: Duration) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "The request took longer than {} s; tentacle stopped it.",
            limit.as_secs()
        ),
    )
        .into_response()
}

/// HSTS for a year: once a browser reached tentacle over TLS, it goes on using TLS.
const HSTS: &str = "max-age=31536000";

/// Behind a TLS-terminating proxy: a request the proxy says came over https (`X-Forwarded-Proto`,
/// its first value, as proxies append theirs) gets `Secure` on every cookie, so the browser
/// never sends the session over plain HTTP, and `Strict-Transport-Security`.
pub(crate) async fn forwarded_https(request: Request, next: Next) -> Response {
    let https = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    let mut response = next.run(request).await;
    if https {
        let headers = response.headers_mut();
        let cookies: Vec<HeaderValue> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(secure)
            .collect();
        headers.remove(header::SET_COOKIE);
        for cookie in cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// The `Set-Cookie` value with `Secure` added (once).
fn secure(cookie: &HeaderValue) -> HeaderValue {
    let Ok(text) = cookie.to_str() else {
        return cookie.clone();
    };
    if text
        .split(';')
        .any(|part| part.trim().eq_ignore_ascii_case("secure"))
    {
        return cookie.clone();
    }
    HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| cookie.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_is_added_once() {
        let plain = HeaderValue::from_static("a=1; Path=/; HttpOnly");
        assert_eq!(secure(&plain), "a=1; Path=/; HttpOnly; Secure");
        let already = HeaderValue::from_static("a=1; Secure; Path=/");
        assert_eq!(secure(&already), "a=1; Secure; Path=/");
    }
}
