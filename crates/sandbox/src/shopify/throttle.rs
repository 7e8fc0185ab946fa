//! Shopify's leaky cost bucket per (app, shop).

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct CostBucket {
    pub maximum: f64,
    pub restore_rate: f64,
    available: f64,
    updated: Instant,
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
}
