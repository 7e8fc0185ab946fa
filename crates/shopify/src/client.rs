//! The HTTP side: auth header, cost-aware pacing, retries, error classification.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use tentacle_http::{
    Backoff, MAX_ANSWER_BYTES, ReadError, read_capped, retry_after, transport_detail,
};

use crate::error::{Result, ShopifyError};

/// What a Shopify credential holds.
#[derive(Clone)]
pub struct ShopifyCredentials {
    /// `https://{shop}.myshopify.com`, or any base URL (a local sandbox).
    pub shop_url: String,
    pub access_token: SecretString,
    /// `YYYY-MM`, default `2026-10`.
    pub api_version: String,
}

impl std::fmt::Debug for ShopifyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyCredentials")
            .field("shop_url", &self.shop_url)
            .field("access_token", &"[redacted]")
            .field("api_version", &self.api_version)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub timeout: Duration,
    /// Attempts per call for 5xx, 429, timeouts and dropped connections, the first included.
    pub max_attempts: u32,
    /// `THROTTLED` answers tolerated per call; each waits for the bucket, so this only guards
    /// against a bucket that never refills.
    pub max_throttled: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            max_attempts: 8,
            max_throttled: 50,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(15),
        }
    }
}

/// What the client spent, for run summaries, metrics and benchmarks.
#[derive(Debug, Default)]
pub struct CostStats {
    pub requests: AtomicU64,
    /// Sum of `actualQueryCost`.
    pub points: AtomicU64,
    pub throttled: AtomicU64,
    pub retries: AtomicU64,
}

/// The bucket as Shopify last described it, run forward at the restore rate.
#[derive(Debug, Clone)]
struct Bucket {
    maximum: f64,
    available: f64,
    restore_rate: f64,
    observed: Instant,
}

impl Bucket {
    fn available_now(&self) -> f64 {
        (self.available + self.restore_rate * self.observed.elapsed().as_secs_f64())
            .min(self.maximum)
    }

    /// How long until `cost` points are available.
    fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost - self.available_now();
        if missing <= 0.0 || self.restore_rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / self.restore_rate)
        }
    }
}

pub struct ShopifyClient {
    http: reqwest::Client,
    endpoint: String,
    shop_url: String,
    token: SecretString,
    options: ClientOptions,
    bucket: tokio::sync::Mutex<Option<Bucket>>,
    /// Last requested cost per document, to pace the next send of the same document.
    expected_cost: std::sync::Mutex<HashMap<usize, f64>>,
    stats: Arc<CostStats>,
    deprecations: Arc<Deprecations>,
}

/// What Shopify's `X-Shopify-API-Deprecated-Reason` header named during this client's life:
/// each reason once, in the order first seen, and those not collected yet.
#[derive(Debug, Default)]
pub struct Deprecations {
    inner: std::sync::Mutex<DeprecationsInner>,
}

#[derive(Debug, Default)]
struct DeprecationsInner {
    seen: std::collections::BTreeSet<String>,
    fresh: Vec<String>,
}

impl Deprecations {
    /// Records the reasons of one header value: since API 2025-04 a comma-separated list of
    /// what the request used (`ReturnInput.notifyCustomer, Shop.products`), before a URL.
    fn record(&self, header: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for reason in header.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            if inner.seen.insert(reason.to_string()) {
                inner.fresh.push(reason.to_string());
            }
        }
    }

    /// The reasons first seen since the last call, each once in the client's life.
    pub fn take_new(&self) -> Vec<String> {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()).fresh)
    }

    /// Every reason seen so far, sorted.
    pub fn seen(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.seen.iter().cloned().collect()
    }
}

/// The header Shopify names deprecated fields and arguments a request used in.
pub const DEPRECATED_REASON_HEADER: &str = "X-Shopify-API-Deprecated-Reason";

impl std::fmt::Debug for ShopifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopifyClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A failure worth another attempt.
struct RetryLater {
    reason: String,
    retry_after: Option<Duration>,
}

/// Of a refusal's body only the start is ever shown.
const ERROR_BODY_BYTES: usize = 64 * 1024;

enum AnswerBody {
    TooLarge { cap: usize },
    CutShort(String),
}

/// A 2xx answer's JSON, read up to [`MAX_ANSWER_BYTES`].
async fn read_answer_body(response: reqwest::Response) -> std::result::Result<Value, AnswerBody> {
    let body = read_capped(response, MAX_ANSWER_BYTES)
        .await
        .map_err(|error| match error {
            ReadError::TooLarge { cap } => AnswerBody::TooLarge { cap },
            ReadError::Transport(_) => AnswerBody::CutShort(error.to_string()),
        })?;
    serde_json::from_slice(&body)
        .map_err(|error| AnswerBody::CutShort(format!("answer cut short: {error}")))
}

impl ShopifyClient {
    pub fn new(credentials: ShopifyCredentials, options: ClientOptions) -> Result<ShopifyClient> {
        let shop_url = credentials.shop_url.trim_end_matches('/').to_string();
        if !(shop_url.starts_with("http://") || shop_url.starts_with("https://")) {
            return Err(ShopifyError::BadShopUrl(shop_url));
        }
        let http = tentacle_http::client(options.timeout)
            .map_err(|e| ShopifyError::Decode(e.to_string()))?;
        Ok(ShopifyClient {
            http,
            endpoint: format!(
                "{shop_url}/admin/api/{}/graphql.json",
                credentials.api_version
            ),
            shop_url,
            token: credentials.access_token,
            options,
            bucket: tokio::sync::Mutex::new(None),
            expected_cost: std::sync::Mutex::new(HashMap::new()),
            stats: Arc::new(CostStats::default()),
            deprecations: Arc::new(Deprecations::default()),
        })
    }

    pub fn stats(&self) -> Arc<CostStats> {
        self.stats.clone()
    }

    /// What Shopify reported deprecated in the requests of this client (a run's client: once
    /// per distinct reason per run).
    pub fn deprecations(&self) -> Arc<Deprecations> {
        self.deprecations.clone()
    }

    /// Runs `document` and decodes `data` into `T`. `variables(failures)` builds the variables
    /// for each attempt, given how many attempts failed on the server side so far, so a pager
    /// can ask for smaller pages after a 5xx on a big one.
    pub async fn query<T: DeserializeOwned>(
        &self,
        document: &'static str,
        variables: impl FnMut(u32) -> Value,
    ) -> Result<T> {
        self.send(document, variables, Resend::Always).await
    }

    /// Runs a mutation that is not idempotent (`fulfillmentCreate`, `returnCreate`): resent
    /// only when Shopify certainly did not run it (429, `THROTTLED`, a connection never made).
    /// Once the request may have reached Shopify without an answer coming back (a cut
    /// connection, a timeout, a 5xx, a body cut short) it fails with
    /// [`ShopifyError::AnswerLost`]: the work may be done, and only the caller can look.
    pub async fn mutate_once<T: DeserializeOwned>(
        &self,
        document: &'static str,
        variables: impl FnMut(u32) -> Value,
    ) -> Result<T> {
        self.send(document, variables, Resend::OnlyIfNotRun).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        document: &'static str,
        mut variables: impl FnMut(u32) -> Value,
        resend: Resend,
    ) -> Result<T> {
        let key = document.as_ptr() as usize;
        let mut failures = 0u32;
        let mut throttles = 0u32;
        loop {
            self.pace(key).await;
            let body = json!({"query": document, "variables": variables(failures)});
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .http
                .post(&self.endpoint)
                .header("X-Shopify-Access-Token", self.token.expose_secret())
                .json(&body)
                .send()
                .await;
            let lost = |detail: String| match resend {
                Resend::OnlyIfNotRun => Some(ShopifyError::AnswerLost { detail }),
                Resend::Always => None,
            };
            let failure = match sent {
                Err(error) => {
                    let reason = transport_detail(&error);
                    if !error.is_connect()
                        && let Some(lost) = lost(reason.clone())
                    {
                        return Err(lost);
                    }
                    RetryLater {
                        reason,
                        retry_after: None,
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    if let Some(reason) = response
                        .headers()
                        .get(DEPRECATED_REASON_HEADER)
                        .and_then(|v| v.to_str().ok())
                    {
                        self.deprecations.record(reason);
                    }
                    match status {
                        StatusCode::UNAUTHORIZED => return Err(ShopifyError::InvalidToken),
                        StatusCode::NOT_FOUND => {
                            return Err(ShopifyError::UnknownShop {
                                shop_url: self.shop_url.clone(),
                            });
                        }
                        StatusCode::TOO_MANY_REQUESTS => RetryLater {
                            reason: "429 Too Many Requests".into(),
                            retry_after,
                        },
                        s if s.is_server_error() => {
                            if let Some(lost) = lost(s.to_string()) {
                                return Err(lost);
                            }
                            RetryLater {
                                reason: s.to_string(),
                                retry_after,
                            }
                        }
                        // Redirects are not followed (they would carry the token elsewhere).
                        s if s.is_redirection() => {
                            return Err(ShopifyError::Redirected { status: s.as_u16() });
                        }
                        s if !s.is_success() => {
                            let detail = read_capped(response, ERROR_BODY_BYTES)
                                .await
                                .map(|body| String::from_utf8_lossy(&body).into_owned())
                                .unwrap_or_default();
                            return Err(ShopifyError::Refused {
                                status: s.as_u16(),
                                detail: detail.chars().take(300).collect(),
                            });
                        }
                        _ => match read_answer_body(response).await {
                            Err(AnswerBody::TooLarge { cap }) => {
                                // Asking again would only read the same flood again.
                                return Err(ShopifyError::TooLarge {
                                    cap_mib: cap / (1024 * 1024),
                                });
                            }
                            Err(AnswerBody::CutShort(reason)) => {
                                if let Some(lost) = lost(reason.clone()) {
                                    return Err(lost);
                                }
                                RetryLater {
                                    reason,
                                    retry_after: None,
                                }
                            }
                            Ok(answer) => match self.read_answer(key, answer).await {
                                Answer::Data(data) => {
                                    return serde_json::from_value(data)
                                        .map_err(|e| ShopifyError::Decode(e.to_string()));
                                }
                                Answer::Throttled(wait) => {
                                    throttles += 1;
                                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                                    if throttles > self.options.max_throttled {
                                        return Err(ShopifyError::Unavailable {
                                            attempts: throttles,
                                            last: "throttled".into(),
                                        });
                                    }
                                    tracing::debug!(
                                        wait_ms = wait.as_millis() as u64,
                                        "Shopify throttled the query; waiting for the bucket"
                                    );
                                    tokio::time::sleep(wait).await;
                                    continue;
                                }
                                Answer::Failed(error) => return Err(error),
                            },
                        },
                    }
                }
            };
            failures += 1;
            if failures >= self.options.max_attempts {
                return Err(ShopifyError::Unavailable {
                    attempts: failures,
                    last: failure.reason,
                });
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = Backoff {
                min: self.options.min_backoff,
                max: self.options.max_backoff,
            };
            let delay = backoff.delay(failures, failure.retry_after);
            tracing::debug!(failures, reason = %failure.reason, delay_ms = delay.as_millis() as u64, "Shopify request will be retried");
            tokio::time::sleep(delay).await;
        }
    }

    /// Waits until the bucket can pay for the document's expected cost, then books it, so
    /// concurrent callers do not all spend the same points.
    async fn pace(&self, key: usize) {
        let expected = self
            .expected_cost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .copied();
        let Some(expected) = expected else { return };
        let mut slot = self.bucket.lock().await;
        if let Some(bucket) = slot.as_mut() {
            let wait = bucket.wait_for(expected);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            bucket.available = bucket.available_now() - expected;
            bucket.observed = Instant::now();
        }
    }

    async fn read_answer(&self, key: usize, answer: Value) -> Answer {
        let cost = &answer["extensions"]["cost"];
        let status = &cost["throttleStatus"];
        if let (Some(maximum), Some(available), Some(restore_rate)) = (
            status["maximumAvailable"].as_f64(),
            status["currentlyAvailable"].as_f64(),
            status["restoreRate"].as_f64(),
        ) {
            *self.bucket.lock().await = Some(Bucket {
                maximum,
                available,
                restore_rate,
                observed: Instant::now(),
            });
        }
        let requested = cost["requestedQueryCost"].as_f64();
        if let Some(requested) = requested {
            self.expected_cost
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, requested);
        }
        if let Some(actual) = cost["actualQueryCost"].as_f64() {
            self.stats
                .points
                .fetch_add(actual.round() as u64, Ordering::Relaxed);
        }
        let errors = answer["errors"].as_array().cloned().unwrap_or_default();
        let code = |e: &Value| {
            e["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        if errors.iter().any(|e| code(e) == "THROTTLED") {
            let available = status["currentlyAvailable"].as_f64().unwrap_or(0.0);
            let restore = status["restoreRate"]
                .as_f64()
                .filter(|r| *r > 0.0)
                .unwrap_or(50.0);
            let wait = ((requested.unwrap_or(50.0) - available).max(0.0) / restore).max(0.05);
            return Answer::Throttled(Duration::from_secs_f64(wait));
        }
        if let Some(error) = errors.iter().find(|e| code(e) == "MAX_COST_EXCEEDED") {
            return Answer::Failed(ShopifyError::MaxCostExceeded {
                cost: error["extensions"]["cost"].as_u64().unwrap_or_default(),
                max: error["extensions"]["maxCost"].as_u64().unwrap_or(1000),
            });
        }
        if let Some(error) = errors.iter().find(|e| code(e) == "ACCESS_DENIED") {
            return Answer::Failed(ShopifyError::MissingScope {
                detail: error["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        if !errors.is_empty() && answer["data"].is_null() {
            return Answer::Failed(ShopifyError::Graphql(
                errors
                    .iter()
                    .map(|e| e["message"].as_str().unwrap_or("unknown error").to_string())
                    .collect(),
            ));
        }
        Answer::Data(answer["data"].clone())
    }
}

/// Whether a failed call may be sent again.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resend {
    /// Queries and idempotent mutations: a second run does no harm.
    Always,
    /// Mutations that would do their work twice: only when the first certainly did nothing.
    OnlyIfNotRun,
}

enum Answer {
    Data(Value),
    Throttled(Duration),
    Failed(ShopifyError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_runs_forward_at_the_restore_rate() {
        let bucket = Bucket {
            maximum: 100.0,
            available: 10.0,
            restore_rate: 50.0,
            observed: Instant::now(),
        };
        let wait = bucket.wait_for(60.0);
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert_eq!(bucket.wait_for(5.0), Duration::ZERO);
        let stale = Bucket {
            observed: Instant::now() - Duration::from_secs(10),
            ..bucket
        };
        assert_eq!(stale.available_now(), 100.0, "never above the maximum");
    }
}
