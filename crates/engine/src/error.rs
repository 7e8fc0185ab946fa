//! The engine's error: what stops an engine operation (not a run: a run's problems end up in
//! its status and log).

use tentacle_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no integration configuration with id {0}")]
    IntegrationNotFound(i64),
}
