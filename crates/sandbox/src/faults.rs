//! Fault injection shared by both sandboxes.
//!
//! Real APIs fail in a handful of ways that matter to a sync service: slow answers, 5xx, 429 with
//! `Retry-After`, and connections that die either before the server did the work or after it did
//! the work but before the answer arrived. The second kind is the one that causes duplicates, so
//! it is modelled separately (`drop_after_share`). Settings can be changed while a sandbox runs
//! (`GET|PUT /sandbox/faults`), so a test can break a service mid-run and heal it again.
//! The control API itself (`/sandbox/…`) is never faulted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// What can go wrong, as shares of requests in `[0, 1]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Share answered 500, 502 or 503 without doing anything.
    pub error_share: f64,
    /// Share answered 429 with `Retry-After: retry_after_s` without doing anything.
    pub rate_limit_share: f64,
    pub retry_after_s: f64,
    /// Share whose connection is cut before the request is handled (nothing happened).
    pub drop_share: f64,
    /// Share whose connection is cut after the request was handled (it happened; the caller
    /// never hears about it).
    pub drop_after_share: f64,
}

impl FaultSettings {
    fn validate(&self) -> Result<(), String> {
        for (name, share) in [
            ("error_share", self.error_share),
            ("rate_limit_share", self.rate_limit_share),
            ("drop_share", self.drop_share),
            ("drop_after_share", self.drop_after_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0 and 1, got {share}"));
            }
        }
        if self.retry_after_s.is_nan() || self.retry_after_s < 0.0 {
            return Err("retry_after_s must not be negative".into());
        }
        Ok(())
    }
}

/// Live fault settings plus the dice. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<(FaultSettings, Rng)>>,
}

/// What the dice decided for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Serve,
    Error(StatusCode),
    RateLimited(f64),
    DropBefore,
    DropAfter,
}

impl Faults {
    pub fn new(settings: FaultSettings, seed: u64) -> Self {
        Faults {
            inner: Arc::new(Mutex::new((settings, Rng::new(seed).fork(0xFA17)))),
        }
    }

    pub fn settings(&self) -> FaultSettings {
        self.lock().0.clone()
    }

    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        settings.validate()?;
        self.lock().0 = settings;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (FaultSettings, Rng)> {
        // A panic while holding this lock cannot leave the settings half-written, so a
        // poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn roll(&self) -> (Duration, Fate) {
        let mut guard = self.lock();
        let (settings, rng) = &mut *guard;
        let latency = Duration::from_millis(settings.latency_ms);
        let dice = rng.unit();
        let mut threshold = settings.error_share;
        if dice < threshold {
            let status = *rng.pick(&[
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
            ]);
            return (latency, Fate::Error(status));
        }
        threshold += settings.rate_limit_share;
        if dice < threshold {
            return (latency, Fate::RateLimited(settings.retry_after_s));
        }
        threshold += settings.drop_share;
        if dice < threshold {
            return (latency, Fate::DropBefore);
        }
        threshold += settings.drop_after_share;
        if dice < threshold {
            return (latency, Fate::DropAfter);
        }
        (latency, Fate::Serve)
    }
}

/// A response whose body fails at once: hyper aborts the connection, so the client sees a
/// cut connection instead of an answer.
fn cut_connection() -> Response {
    let body = Body::from_stream(futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection dropped",
        ))
    }));
    Response::new(body)
}

/// Middleware applying the current fault settings to every non-control request.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/sandbox/") {
        return next.run(request).await;
    }
    let (latency, fate) = faults.roll();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fate {
        Fate::Serve => next.run(request).await,
        Fate::Error(status) => (status, "sandbox fault: upstream error").into_response(),
        Fate::RateLimited(retry_after) => {
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(serde_json::json!({"errors": "Exceeded rate limit. Reduce request rates to resume uninterrupted service."})),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("{retry_after:.1}")) {
                response.headers_mut().insert("Retry-After", value);
            }
            response
        }
        Fate::DropBefore => cut_connection(),
        Fate::DropAfter => {
            // The work is done (and committed in the sandbox's state); only the answer is lost.
            let _ = next.run(request).await;
            cut_connection()
        }
    }
}

/// `GET /sandbox/faults`
pub async fn get_faults(State(faults): State<Faults>) -> Json<FaultSettings> {
    Json(faults.settings())
}

/// `PUT /sandbox/faults`: replaces every setting (omitted ones fall back to "no fault").
pub async fn put_faults(
    State(faults): State<Faults>,
    Json(settings): Json<FaultSettings>,
) -> Response {
    match faults.set(settings) {
        Ok(()) => Json(faults.settings()).into_response(),
        Err(message) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": message})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_respected_and_validated() {
        let faults = Faults::new(
            FaultSettings {
                error_share: 0.3,
                drop_after_share: 0.2,
                ..Default::default()
            },
            1,
        );
        let mut errors = 0;
        let mut drops = 0;
        for _ in 0..10_000 {
            match faults.roll().1 {
                Fate::Error(_) => errors += 1,
                Fate::DropAfter => drops += 1,
                Fate::Serve => {}
                other => panic!("unexpected fate {other:?}"),
            }
        }
        assert!((2_700..3_300).contains(&errors), "errors {errors}");
        assert!((1_700..2_300).contains(&drops), "drops {drops}");
        let bad = FaultSettings {
            error_share: 1.5,
            ..Default::default()
        };
        assert!(faults.set(bad).unwrap_err().contains("error_share"));
    }
}
