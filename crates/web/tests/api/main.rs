//! The JSON API over real HTTP, on a real SQLite file, with both sandboxes for connection
//! checks.

mod auth;
mod credentials;
mod helpers;
mod integrations;
mod openapi;
mod runs;
