//! Shopify Admin GraphQL client (API 2026-10).
//!
//! One [`ShopifyClient`] per Shopify credential. Every call is paced by the cost bucket Shopify
//! reports in `extensions.cost.throttleStatus`, so a steady sync is never throttled; `THROTTLED`
//! answers wait exactly as long as the bucket needs; 5xx, 429, timeouts and dropped connections
//! are retried with backoff and jitter. The GraphQL documents live in [`queries`], and a test
//! validates each one against Shopify's real schema; the stock documents live in [`inventory`],
//! the shipment and status update ones in [`fulfillments`], the return ones in [`returns`]. [`versions`] knows when each API version's support ends;
//! the client reads Shopify's deprecation header ([`ShopifyClient::deprecations`]).

mod client;
mod error;
pub mod fulfillments;
pub mod inventory;
pub mod products;
pub mod queries;
pub mod returns;
pub mod versions;

pub use client::{
    ClientOptions, CostStats, DEPRECATED_REASON_HEADER, Deprecations, ShopifyClient,
    ShopifyCredentials,
};
pub use error::{Result, ShopifyError};
