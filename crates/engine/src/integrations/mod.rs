//! One module per integration type, each with a `TYPE` key and a `run` function.

use tentacle_domain::run::LogEntry;
use tentacle_store::StoreError;

pub mod sales_orders;

/// Why a run stopped before its work was done.
#[derive(Debug)]
pub enum Abort {
    /// The entry says what happened and what to do.
    Entry(LogEntry),
    Store(StoreError),
}

impl From<StoreError> for Abort {
    fn from(error: StoreError) -> Self {
        Abort::Store(error)
    }
}
