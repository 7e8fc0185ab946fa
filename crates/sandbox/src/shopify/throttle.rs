//! Shopify's leaky cost bucket per (app, shop).
//!
//! A request is charged its requested cost up front; when the bucket holds less, it is refused
//! (`THROTTLED`) and nothing is charged. After execution the difference between requested and
//! actual cost is given back. Points flow back at `restore_rate` per second up to `maximum`.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct CostBucket {
    pub maximum: f64,
    pub restore_rate: f64,
    available: f64,
    updated: Instant,
}

/// `extensions.cost.throttleStatus`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

impl CostBucket {
    pub fn new(maximum: f64, restore_rate: f64) -> CostBucket {
        CostBucket {
            maximum,
            restore_rate,
            available: maximum,
            updated: Instant::now(),
        }
    }

    /// Charges `cost` now, or says how full the bucket is when it holds less.
    pub fn take(&mut self, cost: f64) -> Result<ThrottleStatus, ThrottleStatus> {
        self.take_at(cost, Instant::now())
    }

    /// Gives `points` back now (requested minus actual cost).
    pub fn refund(&mut self, points: f64) -> ThrottleStatus {
        self.refund_at(points, Instant::now())
    }

    pub fn take_at(&mut self, cost: f64, now: Instant) -> Result<ThrottleStatus, ThrottleStatus> {
        self.leak(now);
        if cost > self.available {
            return Err(self.status());
        }
        self.available -= cost;
        Ok(self.status())
    }

    pub fn refund_at(&mut self, points: f64, now: Instant) -> ThrottleStatus {
        self.leak(now);
        self.available = (self.available + points.max(0.0)).min(self.maximum);
        self.status()
    }

    pub fn status_at(&mut self, now: Instant) -> ThrottleStatus {
        self.leak(now);
        self.status()
    }

    fn leak(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum);
        self.updated = self.updated.max(now);
    }

    /// Shopify reports whole points available, as floats.
    fn status(&self) -> ThrottleStatus {
        ThrottleStatus {
            maximum_available: self.maximum,
            currently_available: self.available.floor(),
            restore_rate: self.restore_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn charges_refuses_refunds_and_restores() {
        let start = Instant::now();
        let mut bucket = CostBucket {
            maximum: 100.0,
            restore_rate: 10.0,
            available: 100.0,
            updated: start,
        };
        assert_eq!(
            bucket.take_at(60.0, start).map(|s| s.currently_available),
            Ok(40.0)
        );
        let refused = bucket.take_at(50.0, start);
        assert_eq!(refused.map_err(|s| s.currently_available), Err(40.0));
        assert_eq!(bucket.refund_at(5.0, start).currently_available, 45.0);
        // One second later 10 points came back.
        let later = start + Duration::from_secs(1);
        assert_eq!(
            bucket.take_at(50.0, later).map(|s| s.currently_available),
            Ok(5.0)
        );
        // Never above the maximum.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(bucket.status_at(much_later).currently_available, 100.0);
        assert_eq!(
            bucket.refund_at(50.0, much_later).currently_available,
            100.0
        );
    }
}
