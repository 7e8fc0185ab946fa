//! Helpers shared by the PULPO sandbox's integration tests: start a sandbox on a random port and
//! talk to it over real HTTP, as tentacle does.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};
use tentacle_sandbox::pulpo::{PulpoConfig, PulpoSandbox};

/// A running sandbox, an HTTP client and a valid token.
pub struct Harness {
    pub sandbox: PulpoSandbox,
    pub http: reqwest::Client,
    pub token: String,
}

/// The default configuration on a random local port.
pub fn config() -> PulpoConfig {
    PulpoConfig {
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        ..PulpoConfig::default()
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::start_with(config()).await
    }

    pub async fn start_with(config: PulpoConfig) -> Harness {
        let sandbox = PulpoSandbox::start(config)
            .await
            .expect("the PULPO sandbox starts");
        let http = reqwest::Client::new();
        let mut harness = Harness {
            sandbox,
            http,
            token: String::new(),
        };
        harness.token = harness.login().await;
        harness
    }

    /// `POST /auth` with the default credentials; returns the access token.
    pub async fn login(&self) -> String {
        let (status, body) = self
            .send(self.http.post(self.url("/auth")).json(&json!({
                "username": "sandbox_admin",
                "password": "sandbox",
                "scope": "default",
                "grant_type": "password",
            })))
            .await;
        assert_eq!(status, StatusCode::OK, "login failed: {body}");
        body["access_token"]
            .as_str()
            .expect("an access_token")
            .to_string()
    }

    /// A PULPO API URL: `path` relative to `/api/v1`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    /// A control API URL: `path` relative to `/sandbox`.
    pub fn control_url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.control_url())
    }

    /// Sends a request; returns the status and the JSON body (`Null` when empty).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let bytes = response.bytes().await.expect("a response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                panic!(
                    "{status}: body is not JSON ({error}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path)).bearer_auth(&self.token))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .put(self.url(path))
                .bearer_auth(&self.token)
                .json(body),
        )
        .await
    }

    pub async fn control_get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.control_url(path))).await
    }

    pub async fn control_post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.control_url(path)).json(body))
            .await
    }

    pub async fn control_put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.put(self.control_url(path)).json(body))
            .await
    }

    /// Creates a sales order, asserting 201; returns it.
    pub async fn create_order(&self, body: &Value) -> Value {
        let (status, order) = self.post("/sales/orders", body).await;
        assert_eq!(status, StatusCode::CREATED, "create failed: {order}");
        order
    }

    /// Moves an order one state further through the control API; returns it.
    pub async fn advance(&self, id: i64) -> Value {
        let (status, order) = self
            .control_post(&format!("/sales/orders/{id}/advance"), &Value::Null)
            .await;
        assert_eq!(status, StatusCode::OK, "advance failed: {order}");
        order
    }

    /// The first `n` product ids of the seeded catalog.
    pub fn product_ids(&self, n: usize) -> Vec<i64> {
        self.sandbox
            .state
            .store()
            .products
            .keys()
            .take(n)
            .copied()
            .collect()
    }
}

/// A minimal valid `SalesOrderBodyRequest`.
pub fn order_body(order_num: &str, product_id: i64, quantity: i64) -> Value {
    json!({
        "order_num": order_num,
        "warehouse_id": 1,
        "ship_to": {
            "name": "Lucía Pérez",
            "address": {
                "street": "Calle Mayor 1",
                "zip": "28013",
                "city": "Madrid",
                "country_code": "ES",
            },
        },
        "items": [
            {"product_id": product_id, "quantity": quantity, "line_order_id": format!("{order_num}-1")},
        ],
    })
}

/// The `id` of a JSON object.
pub fn id_of(value: &Value) -> i64 {
    value["id"].as_i64().expect("an integer id")
}
