//! The sandbox's capacity model and its accounting: a latency per request, a latency per order
//! of a bulk request, a cap on concurrent requests (429 beyond it), and the counters a
//! benchmark reads to compute the bound these limits set: `total service time / max_concurrency`
//! is the least wall time any client can need for the same requests.
//!
//! Limits change at runtime (`PUT /sandbox/limits`). Only PULPO API requests are governed; the
//! control API never is.
//!
//! One limit is fixed, as it is in PULPO: the length of the request line
//! ([`MAX_REQUEST_LINE`]), which bounds how many ids one list filter can carry.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};

use super::PulpoState;
use super::error::ApiError;

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limits {
    /// Added to every API request (after the concurrency check, so it occupies a slot).
    pub latency_ms: u64,
    /// Added per order of a bulk request, on top of `latency_ms`.
    pub item_latency_ms: u64,
    /// Concurrent API requests served; more are answered 429. `None` is no cap.
    pub max_concurrency: Option<usize>,
    /// Lifetime of tokens issued from now on.
    pub token_lifetime_s: u64,
}

impl Limits {
    pub fn token_lifetime(&self) -> Duration {
        Duration::from_secs(self.token_lifetime_s)
    }
}

/// `PUT /sandbox/limits` body: omitted fields keep their value; `"max_concurrency": null`
/// removes the cap.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsUpdate {
    pub latency_ms: Option<u64>,
    pub item_latency_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub max_concurrency: Option<Option<usize>>,
    pub token_lifetime_s: Option<u64>,
}

/// Tells a field given as `null` (`Some(None)`) from an omitted one (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// What the sandbox has served so far. Latency injected as a fault
/// ([`FaultSettings::latency_ms`](crate::faults::FaultSettings::latency_ms)) is a fault, not
/// service time, and is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PulpoStatsSnapshot {
    /// API requests received, including those answered 429 for concurrency.
    pub requests: u64,
    /// Of those, the ones that ask for a change (`POST`, `PUT`, `PATCH`, `DELETE`), logins
    /// (`POST /auth`) aside: what "sends no write" is checked against.
    pub writes: u64,
    /// Requests answered 429 because `max_concurrency` requests were in flight.
    pub rejected: u64,
    /// Sum of `latency_ms` actually applied.
    pub latency_ms: u64,
    /// Sum of `item_latency_ms` actually applied (per order of bulk requests).
    pub item_latency_ms: u64,
    /// `latency_ms + item_latency_ms`: the time the sandbox's limits made requests take.
    pub service_time_ms: u64,
    /// The cap in force when the snapshot was taken.
    pub max_concurrency: Option<usize>,
}

impl PulpoStatsSnapshot {
    /// The least wall time any client needs for the requests served so far:
    /// `service_time / max_concurrency` (the whole service time when there is no cap is not
    /// a bound, so `None`).
    pub fn bound(&self) -> Option<Duration> {
        let concurrency = self.max_concurrency.filter(|c| *c > 0)? as u64;
        Some(Duration::from_micros(
            self.service_time_ms.saturating_mul(1000) / concurrency,
        ))
    }
}

/// Live limits, the in-flight count and the counters.
#[derive(Debug)]
pub struct Governor {
    limits: Mutex<Limits>,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    writes: AtomicU64,
    rejected: AtomicU64,
    latency_ms: AtomicU64,
    item_latency_ms: AtomicU64,
}

/// A held concurrency slot; released when dropped, also when the client hangs up mid-request.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Governor {
    pub fn new(limits: Limits) -> Governor {
        Governor {
            limits: Mutex::new(limits),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            latency_ms: AtomicU64::new(0),
            item_latency_ms: AtomicU64::new(0),
        }
    }

    pub fn limits(&self) -> Limits {
        // Limits are plain values written whole, so a poisoned lock still holds a valid one.
        *self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn update(&self, update: LimitsUpdate) -> Limits {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(latency_ms) = update.latency_ms {
            limits.latency_ms = latency_ms;
        }
        if let Some(item_latency_ms) = update.item_latency_ms {
            limits.item_latency_ms = item_latency_ms;
        }
        if let Some(max_concurrency) = update.max_concurrency {
            limits.max_concurrency = max_concurrency;
        }
        if let Some(token_lifetime_s) = update.token_lifetime_s {
            limits.token_lifetime_s = token_lifetime_s;
        }
        *limits
    }

    pub fn snapshot(&self) -> PulpoStatsSnapshot {
        let latency_ms = self.latency_ms.load(Ordering::Relaxed);
        let item_latency_ms = self.item_latency_ms.load(Ordering::Relaxed);
        PulpoStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            latency_ms,
            item_latency_ms,
            service_time_ms: latency_ms + item_latency_ms,
            max_concurrency: self.limits().max_concurrency,
        }
    }

    fn enter(&self, cap: Option<usize>) -> Option<Slot<'_>> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(&self.in_flight);
        match cap {
            Some(cap) if before >= cap => None,
            _ => Some(slot),
        }
    }

    /// Sleeps `item_latency_ms` for each of `orders` orders of a bulk request.
    pub async fn delay_items(&self, orders: usize) {
        let total = self.limits().item_latency_ms.saturating_mul(orders as u64);
        if total > 0 {
            tokio::time::sleep(Duration::from_millis(total)).await;
            self.item_latency_ms.fetch_add(total, Ordering::Relaxed);
        }
    }
}

/// The longest request line (`GET /api/v1/…?… HTTP/1.1`) PULPO serves. PULPO's API is a
/// Phoenix application (operation ids such as `Wms.Inventory.StockController.availability`);
/// Phoenix's Cowboy adapter refuses longer request lines with 414 (`max_request_line_length`
/// defaults to 8000), before the application sees them. nginx's default 8 KiB buffer and
/// Bandit's 10 000 are looser, so 8000 holds behind any of them.
pub const MAX_REQUEST_LINE: usize = 8000;

/// Middleware outside all others: refuses a request line longer than [`MAX_REQUEST_LINE`]
/// with 414 and no body, as Cowboy does, before it is counted or served.
pub async fn refuse_long_request_lines(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    // `METHOD SP request-target SP HTTP/1.1`
    let line = request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len();
    if line > MAX_REQUEST_LINE {
        return ApiError::RequestLineTooLong.into_response();
    }
    next.run(request).await
}

/// Middleware on every PULPO API route: counts the request, refuses it beyond the concurrency
/// cap, then applies the per-request latency while holding the slot.
pub async fn govern(State(state): State<PulpoState>, request: Request, next: Next) -> Response {
    let governor = &state.governor;
    governor.requests.fetch_add(1, Ordering::Relaxed);
    if request.method() != axum::http::Method::GET && !request.uri().path().ends_with("/auth") {
        governor.writes.fetch_add(1, Ordering::Relaxed);
    }
    let limits = governor.limits();
    let Some(_slot) = governor.enter(limits.max_concurrency) else {
        governor.rejected.fetch_add(1, Ordering::Relaxed);
        return ApiError::TooManyRequests.into_response();
    };
    if limits.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(limits.latency_ms)).await;
        governor
            .latency_ms
            .fetch_add(limits.latency_ms, Ordering::Relaxed);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_released() {
        let governor = Governor::new(Limits {
            latency_ms: 0,
            item_latency_ms: 0,
            max_concurrency: Some(2),
            token_lifetime_s: 1,
        });
        let first = governor.enter(Some(2));
        let second = governor.enter(Some(2));
        assert!(first.is_some() && second.is_some());
        assert!(governor.enter(Some(2)).is_none());
        drop(first);
        assert!(governor.enter(Some(2)).is_some());
        assert!(governor.enter(None).is_some());
        let updated = governor.update(serde_json::from_str(r#"{"max_concurrency":null}"#).unwrap());
        assert_eq!(updated.max_concurrency, None);
        let kept = governor.update(serde_json::from_str(r#"{"latency_ms":5}"#).unwrap());
        assert_eq!((kept.latency_ms, kept.token_lifetime_s), (5, 1));
    }

    #[test]
    fn bound_divides_service_time_by_concurrency() {
        let snapshot = PulpoStatsSnapshot {
            requests: 4,
            writes: 1,
            rejected: 0,
            latency_ms: 300,
            item_latency_ms: 100,
            service_time_ms: 400,
            max_concurrency: Some(4),
        };
        assert_eq!(snapshot.bound(), Some(Duration::from_millis(100)));
        let uncapped = PulpoStatsSnapshot {
            max_concurrency: None,
            ..snapshot
        };
        assert_eq!(uncapped.bound(), None);
    }
}
