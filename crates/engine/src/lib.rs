//! tentacle's integrations (one module per type under [`integrations`]) and the machinery that
//! runs them: runs are durable jobs (`QUEUED → RUNNING → finished`) that the [`scheduler`]
//! queues, [`worker`] loops claim under a lease and [`runner::execute`] works on, logging every
//! outcome and setting the final status; [`controls`] start, stop and "run now" a configuration;
//! [`alerts`] delivers the alerts queued where runs end.
//! Time comes from a [`clock::Clock`].

pub mod alerts;
pub mod clock;
pub mod connections;
pub mod controls;
mod error;
pub mod integrations;
pub mod log;
mod options;
pub mod retention;
pub mod runner;
pub mod scheduler;
pub mod worker;

pub use error::EngineError;
pub use integrations::{IntegrationType, Kind, find, register, registry};
pub use options::RunOptions;
pub use runner::run_integration;
