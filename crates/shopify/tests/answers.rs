//! How much of an answer the Shopify client waits for: a server that sends its headers and then
//! one byte now and then, never finishing, is given up on at the client's time limit (the
//! answer's reading included), not waited on for ever.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use tentacle_shopify::{ClientOptions, ShopifyClient, ShopifyCredentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request `200` with a body promised 1 MB long and sent a byte every 100 ms.
async fn dribbling_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn an_answer_that_never_ends_is_given_up_at_the_time_limit() {
    let client = ShopifyClient::new(
        ShopifyCredentials {
            shop_url: dribbling_server().await,
            access_token: SecretString::from("shpat_test".to_string()),
            api_version: "2026-10".into(),
        },
        ClientOptions {
            timeout: Duration::from_secs(1),
            max_attempts: 1,
            ..ClientOptions::default()
        },
    )
    .expect("client");
    let start = Instant::now();
    let error = client
        .locations()
        .await
        .expect_err("an endless answer cannot succeed");
    let waited = start.elapsed();
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "gave up after {waited:?}; the limit is 1 s"
    );
}
