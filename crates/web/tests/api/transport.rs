//! The listener's limits, attacked as a client would: a connection that never finishes its
//! headers, a kept-alive connection left idle, a body uploaded too slowly, a slowloris of many
//! such connections, more connections than the cap, an oversized API body. And what a TLS proxy
//! in front changes: `Secure` cookies and HSTS, only when the proxy says https; and the refusal
//! to listen openly without one.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app, spawn_app_with};

/// Short limits, so the tests wait seconds rather than the defaults' tens of seconds.
fn short(max_connections: usize) -> tentacle_web::Limits {
    tentacle_web::Limits {
        header_read: Duration::from_secs(2),
        request: Duration::from_secs(2),
        max_connections,
    }
}

fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `within` passes: then `None`); what it
/// sent, and when it closed.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<(String, Instant)> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| (String::from_utf8_lossy(&seen).into_owned(), Instant::now()))
}

/// Half a request line, then nothing.
async fn slow_client(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(b"GET /heal").await.expect("write");
    stream
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_within_the_limit() {
    let app = spawn_app_with(false, short(64)).await;
    let start = Instant::now();
    let mut stream = slow_client(&address(&app.base)).await;
    let (_, closed) = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server closed the connection");
    let open = closed - start;
    assert!(
        open >= Duration::from_millis(1500) && open < Duration::from_secs(6),
        "closed after {open:?}, the header-read limit is 2 s"
    );
}

#[tokio::test]
async fn the_default_limits_close_a_silent_connection_within_about_ten_seconds() {
    let app = spawn_app().await;
    let start = Instant::now();
    let mut stream = slow_client(&address(&app.base)).await;
    let (_, closed) = until_closed(&mut stream, Duration::from_secs(20))
        .await
        .expect("the server closed the connection");
    let open = closed - start;
    assert!(
        open >= Duration::from_secs(9) && open < Duration::from_secs(14),
        "closed after {open:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let app = spawn_app_with(false, short(64)).await;
    let mut stream = TcpStream::connect(address(&app.base))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tentacle\r\n\r\n")
        .await
        .expect("write");
    let answered = Instant::now();
    let (seen, closed) = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server closed the idle connection");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        closed - answered >= Duration::from_millis(1500),
        "closed after {:?}, before the idle limit",
        closed - answered
    );
}

#[tokio::test]
async fn a_body_uploaded_too_slowly_is_cut_off_by_the_request_limit() {
    let app = spawn_app_with(false, short(64)).await;
    let mut stream = TcpStream::connect(address(&app.base))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/credentials HTTP/1.1\r\nHost: tentacle\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\": \"sl",
        app.token
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let (seen, _) = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server answered and closed");
    assert!(seen.starts_with("HTTP/1.1 503"), "{seen}");
    assert!(seen.contains("longer than 2 s"), "{seen}");
    assert_eq!(app.get("/api/credentials").await.json(), json!([]));
}

#[tokio::test]
async fn headers_larger_than_the_buffer_are_refused_with_431() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(address(&app.base))
        .await
        .expect("connect");
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: tentacle\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    // The server may close before reading it all; what it answered is what counts.
    let _ = stream.write_all(head.as_bytes()).await;
    let (seen, _) = until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the server answered and closed");
    assert!(seen.starts_with("HTTP/1.1 431"), "{seen}");
}

#[tokio::test]
async fn a_slowloris_does_not_keep_a_normal_request_from_being_answered() {
    let app = spawn_app().await;
    let address = address(&app.base);
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(slow_client(&address).await);
    }
    let start = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(5), app.get("/healthz"))
        .await
        .expect("answered while 300 connections dribble");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(held);
}

#[tokio::test]
async fn beyond_the_connection_cap_a_new_connection_waits_for_a_free_place() {
    let app = spawn_app_with(false, short(4)).await;
    let address = address(&app.base);
    let start = Instant::now();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(slow_client(&address).await);
    }
    // The fifth waits in the accept queue until the header limit frees a place.
    let answer = tokio::time::timeout(Duration::from_secs(10), app.get("/healthz"))
        .await
        .expect("answered once a place was free");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "answered after {:?}, while every place was taken",
        start.elapsed()
    );
    drop(held);
}

#[tokio::test]
async fn an_oversized_api_body_is_refused_with_413_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut body = app.shopify_body("huge", crate::helpers::SHOPIFY_TOKEN);
    body["config"]["note"] = json!("x".repeat(tentacle_web::MAX_API_BODY_BYTES));
    let answer = app.post("/api/credentials", body).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text
    );
    assert!(answer.content_type.starts_with("application/json"));
    assert!(
        answer.json()["error"]
            .as_str()
            .expect("JSON shape")
            .contains("larger than 1024 KiB"),
        "{}",
        answer.text
    );
    assert_eq!(app.get("/api/credentials").await.json(), json!([]));
}

async fn login_page(base: &str, proto: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{base}/login"));
    if let Some(proto) = proto {
        request = request.header("X-Forwarded-Proto", proto);
    }
    request.send().await.expect("login page")
}

fn cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ASCII").to_string())
        .collect()
}

#[tokio::test]
async fn behind_a_proxy_https_requests_get_secure_cookies_and_hsts() {
    let app = spawn_app_with(true, tentacle_web::Limits::default()).await;
    let https = login_page(&app.base, Some("https")).await;
    let set = cookies(&https);
    assert!(!set.is_empty());
    assert!(set.iter().all(|c| c.ends_with("; Secure")), "{set:?}");
    assert_eq!(
        https.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // The proxy says the browser spoke plain HTTP: no Secure (the cookie would be lost), no HSTS.
    for proto in [Some("http"), None] {
        let plain = login_page(&app.base, proto).await;
        let set = cookies(&plain);
        assert!(!set.is_empty());
        assert!(set.iter().all(|c| !c.contains("Secure")), "{set:?}");
        assert!(plain.headers().get("strict-transport-security").is_none());
    }
}

#[tokio::test]
async fn without_a_declared_proxy_x_forwarded_proto_is_not_trusted() {
    let app = spawn_app().await;
    let answer = login_page(&app.base, Some("https")).await;
    let set = cookies(&answer);
    assert!(set.iter().all(|c| !c.contains("Secure")), "{set:?}");
    assert!(answer.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn an_address_other_machines_reach_is_refused_without_a_proxy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("tentacle.db").display());
    let store: std::sync::Arc<dyn tentacle_store::Store> = std::sync::Arc::new(
        tentacle_store::SqliteStore::open(&url, tentacle_store::Cipher::ephemeral())
            .await
            .expect("store"),
    );
    let open = |behind_proxy| tentacle_web::Config {
        listen: "0.0.0.0:0".parse().expect("address"),
        store: store.clone(),
        behind_proxy,
        limits: tentacle_web::Limits::default(),
    };
    let Err(refused) = tentacle_web::build(open(false)).await else {
        panic!("listening on 0.0.0.0 without a proxy was allowed");
    };
    let message = refused.to_string();
    for part in ["0.0.0.0:0", "TLS", "--behind-proxy", "127.0.0.1"] {
        assert!(message.contains(part), "{part} missing: {message}");
    }
    assert!(tentacle_web::build(open(true)).await.is_ok());
}
