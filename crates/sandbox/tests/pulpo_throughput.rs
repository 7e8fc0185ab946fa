//! PULPO sandbox: it must serve at least 2,000 simple requests per second on a 2-core machine,
//! or benchmarks would measure the sandbox instead of tentacle.
//!
//! The load comes from plain keep-alive HTTP/1.1 connections rather than reqwest, so the
//! client's own cost (same process, same cores) does not hide the server's. The best of three
//! rounds counts, so a passing burst of load from elsewhere does not fail the test.

mod pulpo_support;

use std::net::SocketAddr;
use std::time::Instant;

use pulpo_support::{Harness, order_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUIRED_PER_SECOND: f64 = 2_000.0;
const CONNECTIONS: usize = 16;
const REQUESTS_PER_CONNECTION: usize = 125;

/// Sends `request` `count` times on one connection, reading each full response.
async fn hammer(address: SocketAddr, request: String, count: usize) {
    let mut stream = TcpStream::connect(address).await.expect("a connection");
    let mut buffer = vec![0u8; 1 << 16];
    for _ in 0..count {
        stream
            .write_all(request.as_bytes())
            .await
            .expect("the request is sent");
        let mut filled = 0;
        loop {
            if filled == buffer.len() {
                buffer.resize(buffer.len() * 2, 0);
            }
            let read = stream
                .read(&mut buffer[filled..])
                .await
                .expect("the response is read");
            assert!(read > 0, "the server closed the connection");
            filled += read;
            let Some(head_end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse().expect("a content length"))
                .expect("a content-length header");
            if filled >= head_end + 4 + length {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_at_least_2000_simple_requests_per_second() {
    let harness = Harness::start().await;
    let product = harness.product_ids(1)[0];
    for n in 0..500 {
        harness
            .create_order(&order_body(&format!("T{n}"), product, 1))
            .await;
    }
    let address = harness.sandbox.address();
    for path in [
        "/warehouses/",
        "/sales/orders?order_num=T250",
        &format!("/inventory/stocks/availability?id={product}"),
    ] {
        let request = format!(
            "GET /api/v1{path} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {}\r\n\r\n",
            harness.token
        );
        let mut best = 0.0f64;
        for _ in 0..3 {
            let started = Instant::now();
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|_| tokio::spawn(hammer(address, request.clone(), REQUESTS_PER_CONNECTION)))
                .collect();
            for client in clients {
                client.await.expect("the client finishes");
            }
            let rate =
                (CONNECTIONS * REQUESTS_PER_CONNECTION) as f64 / started.elapsed().as_secs_f64();
            best = best.max(rate);
        }
        println!("GET {path}: {best:.0} requests/s");
        assert!(
            best >= REQUIRED_PER_SECOND,
            "GET {path}: {best:.0} requests/s, below {REQUIRED_PER_SECOND}"
        );
    }
}
