//! PULPO WMS REST API v1 client.
//!
//! One [`PulpoClient`] per PULPO credential. It logs in with the password grant, caches the
//! bearer token and renews it a minute before it expires and once on a 401; it retries 429, 5xx
//! and transport failures with exponential backoff and jitter, honouring `Retry-After`. Writes
//! that are not idempotent (creating a sales order) are never blindly re-sent once they may have
//! reached PULPO: the caller gets [`PulpoError::Ambiguous`] and looks the order up by
//! `order_num` before trying again (SPEC §3.3).
//!
//! Reads over many records (every active product, the availability of thousands of them, the
//! boxes, trackings and batches of many sales orders) run their requests up to the in-flight
//! limit at once and keep their memory to what they return.

mod client;
mod error;
pub mod model;

pub use client::{
    ClientOptions, MAX_REQUEST_LINE, PRODUCT_PAGE, PulpoClient, PulpoCredentials, RequestStats,
};
pub use error::{FieldMessage, PulpoError, Result};
