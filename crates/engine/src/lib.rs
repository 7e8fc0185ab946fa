//! tentacle's integrations (one module per type under [`integrations`]) and the machinery that
//! runs them: [`runner::run_integration`] records a run, executes it, logs every outcome and
//! sets the final status.

pub mod connections;
pub mod integrations;
pub mod log;
pub mod runner;

pub use runner::{EngineError, RunOptions, run_integration};
