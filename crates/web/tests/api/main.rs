//! The JSON API and the web UI over real HTTP, on a real SQLite file, with both sandboxes for
//! connection checks; the UI also in a real headless browser.

mod account;
mod alerts;
mod auth;
mod browser;
mod credentials;
mod deploy;
mod helpers;
mod integrations;
mod logins;
mod openapi;
mod outbound;
mod overview;
mod runs;
mod small_things;
mod tokens;
mod toy_type;
mod transport;
mod ui;
