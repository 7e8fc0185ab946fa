//! How a run works: the knobs a caller (the service, `tentacle run`, a benchmark) sets.

use chrono::{DateTime, Utc};

/// How a run works; the defaults suit production.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// PULPO requests in flight at once: set it to the concurrency the PULPO instance serves
    /// (beyond it PULPO answers 429). Also how many orders are decided at once.
    pub pulpo_concurrency: usize,
    /// Shopify orders per page.
    pub page_size: u32,
    /// The run's notion of "now" (injected so tests and the scheduler control time).
    pub now: DateTime<Utc>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            pulpo_concurrency: 8,
            page_size: 50,
            now: Utc::now(),
        }
    }
}
