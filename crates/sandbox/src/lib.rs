//! Faithful local emulators of the two systems tentacle connects: the Shopify Admin GraphQL API
//! and the PULPO WMS REST API v1.
//!
//! tentacle can never reach the real services from its build machines, so its tests, its demo
//! and its benchmarks run against these sandboxes. They follow `../shared/reference/` (routes,
//! fields, enum values, number formats, error shapes, rate limits), and tests check them against
//! Shopify's real schema and PULPO's official Swagger spec. Each sandbox also has a control API
//! under `/sandbox/` (not part of the emulated service) to seed data, move orders along and
//! inject faults.
//!
//! [`alert_receivers`] holds what tests send alerts to: a webhook receiver and a real SMTP server.
//!
//! Used by tests, the demo and benchmarks; never by the engine.

pub mod alert_receivers;
pub mod catalog;
pub mod faults;
pub mod pulpo;
pub mod rng;
mod server;
pub mod shopify;

pub use server::{RunningServer, StartError};
