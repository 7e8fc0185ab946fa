//! tentacle's integrations (one module per type under [`integrations`]) and the machinery that
//! runs them: runs are durable jobs (`QUEUED → RUNNING → finished`) that the [`scheduler`]
//! queues, [`worker`] loops claim under a lease and [`runner::execute`] works on, logging every
//! outcome and setting the final status; [`controls`] start, stop and "run now" a configuration.
//! Time comes from a [`clock::Clock`].

pub mod clock;
pub mod connections;
pub mod controls;
pub mod integrations;
pub mod log;
pub mod runner;
pub mod scheduler;
pub mod worker;

pub use runner::{EngineError, RunOptions, run_integration};
