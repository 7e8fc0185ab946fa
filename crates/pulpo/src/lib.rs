//! PULPO WMS REST API v1 client.
//!
//! One [`PulpoClient`] per PULPO credential. It logs in with the password grant, caches the
//! bearer token and renews it a minute before it expires and once on a 401; it retries 429, 5xx
//! and transport failures with exponential backoff and jitter, honouring `Retry-After`. Writes
//! that are not idempotent (creating a sales order) are never blindly re-sent once they may have
//! reached PULPO: the caller gets [`PulpoError::Ambiguous`] and looks the order up by
//! `order_num` before trying again (SPEC §3.3).

mod client;
mod error;
pub mod model;

pub use client::{ClientOptions, PulpoClient, PulpoCredentials, RequestStats};
pub use error::{FieldMessage, PulpoError, Result};
