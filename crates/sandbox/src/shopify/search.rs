//! Shopify's order search syntax (`orders(query:)`) and a search index that lags behind changes.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Order, Shop};

/// A parsed `query:` string.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    warnings: Vec<SearchWarning>,
}

/// An entry of `extensions.search[].warnings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchWarning {
    pub field: String,
    pub message: String,
}

impl OrderSearch {
    pub fn parse(query: &str) -> OrderSearch {
        let _ = query;
        OrderSearch::default()
    }

    pub fn warnings(&self) -> &[SearchWarning] {
        &self.warnings
    }

    pub fn matches(&self, order: &Order) -> bool {
        let _ = order;
        true
    }
}

/// What the search index knows of each order: the version it indexed and when a newer version
/// becomes visible.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    entries: HashMap<u64, ()>,
}

impl SearchIndex {
    /// Records that `order` was written at `now`; searches see it after `lag`.
    pub fn record(&mut self, order: &Order, now: DateTime<Utc>, lag: Duration) {
        let _ = (now, lag);
        self.entries.insert(order.id, ());
    }

    /// Ids of the orders that `search` finds at `now`, as the lagging index sees them.
    pub fn matching_order_ids(
        &self,
        shop: &Shop,
        search: &OrderSearch,
        now: DateTime<Utc>,
    ) -> Vec<u64> {
        let _ = now;
        shop.orders
            .values()
            .filter(|o| search.matches(o))
            .map(|o| o.id)
            .collect()
    }
}
