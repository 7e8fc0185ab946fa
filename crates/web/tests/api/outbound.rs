//! What tentacle reads from Shopify and PULPO, attacked through "Check connection": an endpoint
//! that answers 400 MB (generated on the fly, so this test holds none of it) must cost a bounded
//! amount of memory and fail in tentacle's words; an endpoint that redirects must not send the
//! token or password on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{PULPO_PASSWORD, SHOPIFY_TOKEN, TestApp, spawn_app};

/// What the flood sends: far more than any cap.
const FLOOD_BYTES: usize = 400 * 1024 * 1024;

/// Reads one request's head (and whatever body came with it).
async fn read_request(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// An HTTP server answering every request with `200` and 400 MB of JSON-looking bytes. Without
/// `declared` there is no `Content-Length` (the end is the connection's close), so only reading
/// can tell the size; with it, the length is announced up front.
async fn flood_server(declared: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                read_request(&mut stream).await;
                let length = if declared {
                    format!("Content-Length: {FLOOD_BYTES}\r\n")
                } else {
                    String::new()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n{{\"data\":{{\"locations\":{{\"nodes\":["
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = "{\"name\":\"flood\"},".repeat(4096);
                let mut sent = 0;
                while sent < FLOOD_BYTES {
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
        }
    });
    format!("http://{address}")
}

/// A server that counts the connections it gets: the redirect's target.
async fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            read_request(&mut stream).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .await;
        }
    });
    (format!("http://{address}"), count)
}

/// A server that answers every request with a 307 to `target` (which keeps method and body:
/// a client following it would resend the token or the password).
async fn redirect_server(target: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            read_request(&mut stream).await;
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}/steal\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    format!("http://{address}")
}

fn shopify(name: &str, url: &str) -> Value {
    json!({"name": name, "type": "shopify", "config": {"shop_url": url},
           "secrets": {"access_token": SHOPIFY_TOKEN, "webhook_secret": "whsec_test_value_1"}})
}

fn pulpo(name: &str, url: &str) -> Value {
    json!({"name": name, "type": "pulpo",
           "config": {"base_url": format!("{url}/api/v1"), "username": "sandbox_admin"},
           "secrets": {"password": PULPO_PASSWORD}})
}

async fn check(app: &TestApp, id: i64) -> Value {
    let answer = app
        .call(Method::POST, &format!("/api/credentials/{id}/check"), None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

/// The process's peak resident memory so far, in MiB (`VmHWM`).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("VmHWM")
        / 1024
}

#[tokio::test]
async fn a_400_mb_answer_to_a_connection_check_is_cut_at_the_cap() {
    let app = spawn_app().await;
    let endless = flood_server(false).await;
    let announced = flood_server(true).await;
    let mut ids = Vec::new();
    for (name, flood) in [("endless", &endless), ("announced", &announced)] {
        ids.push(
            app.create_credential(shopify(&format!("{name} shop"), flood))
                .await,
        );
        ids.push(
            app.create_credential(pulpo(&format!("{name} wms"), flood))
                .await,
        );
    }
    let before = peak_rss_mib();
    for id in ids {
        let verdict = check(&app, id).await;
        assert_eq!(verdict["ok"], false, "{verdict}");
        let message = verdict["message"].as_str().expect("JSON shape");
        assert!(
            message.contains("larger than 16 MiB") && message.contains("stopped reading"),
            "{message}"
        );
        assert!(!message.contains("flood"), "the answer leaked: {message}");
    }
    let grown = peak_rss_mib().saturating_sub(before);
    // Four checks against 400 MB each; the cap holds each to 16 MiB (and a vector's doubling).
    assert!(grown < 100, "peak memory grew by {grown} MiB");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_its_target_never_sees_the_secrets() {
    let app = spawn_app().await;
    let (target, reached) = counting_server().await;
    let redirecting = redirect_server(target).await;
    let shop = app
        .create_credential(shopify("redirected shop", &redirecting))
        .await;
    let wms = app
        .create_credential(pulpo("redirected wms", &redirecting))
        .await;
    for id in [shop, wms] {
        let verdict = check(&app, id).await;
        assert_eq!(verdict["ok"], false, "{verdict}");
        let message = verdict["message"].as_str().expect("JSON shape");
        assert!(
            message.contains("307") && message.contains("follows no redirects"),
            "{message}"
        );
    }
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "the redirect's target was contacted"
    );
}
