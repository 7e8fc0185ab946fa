//! tentacle's persistent state behind one [`Store`] trait: credentials (secrets encrypted at
//! rest), integration configurations, runs with their counters and log entries, sync cursors,
//! the order links that make imports exactly-once, and the orders that need attention.
//!
//! SQLite is the embedded default ([`SqliteStore`]). Callers only see the trait, so a
//! PostgreSQL implementation can follow without changing them.

pub mod cipher;
pub mod model;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tentacle_domain::run::{RunCounters, RunStatus, Trigger};

pub use cipher::{Cipher, CipherError};
pub use model::*;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The change would break a uniqueness or reference rule, e.g. a name already taken or a
    /// credential still used.
    #[error("{what}")]
    Conflict { what: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything tentacle persists. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates the credential, or replaces the one with the same name (same id). Secrets are
    /// encrypted before they reach the database.
    async fn save_credential(&self, credential: NewCredential) -> Result<Credential>;
    async fn credential(&self, id: i64) -> Result<Option<Credential>>;
    async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>>;
    async fn credentials(&self) -> Result<Vec<Credential>>;
    /// Replaces the credential with this id (name, kind, config and secrets). `NotFound` when
    /// there is none; `Conflict` when the new name belongs to another credential.
    async fn update_credential(&self, id: i64, credential: NewCredential) -> Result<Credential>;
    /// Deletes the credential; `false` when there was none. `Conflict` while an integration or
    /// an order link still refers to it.
    async fn delete_credential(&self, id: i64) -> Result<bool>;

    /// Creates the integration, or replaces the one with the same name (same id, same
    /// `active` flag).
    async fn save_integration(&self, integration: NewIntegration) -> Result<Integration>;
    async fn integration(&self, id: i64) -> Result<Option<Integration>>;
    async fn integration_by_name(&self, name: &str) -> Result<Option<Integration>>;
    async fn integrations(&self) -> Result<Vec<Integration>>;
    /// Replaces the integration with this id (keeps its `active` flag). `NotFound` when there
    /// is none; `Conflict` when the new name belongs to another integration.
    async fn update_integration(&self, id: i64, integration: NewIntegration)
    -> Result<Integration>;
    /// Deletes the integration with its runs, logs, cursor and flags; `false` when there was
    /// none.
    async fn delete_integration(&self, id: i64) -> Result<bool>;

    /// Records a run that starts now, `RUNNING`.
    async fn start_run(
        &self,
        integration_id: i64,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Result<Run>;
    /// Stores the counters so far (a run in progress is visible with live numbers).
    async fn update_run_counters(&self, run_id: i64, counters: &RunCounters) -> Result<()>;
    async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        counters: &RunCounters,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Run>;
    async fn run(&self, id: i64) -> Result<Option<Run>>;
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>>;

    async fn append_logs(&self, run_id: i64, entries: &[NewLogEntry]) -> Result<()>;
    async fn logs(&self, run_id: i64, filter: &LogFilter) -> Result<Vec<StoredLogEntry>>;
    /// Run counts, summed counters and durations per integration and status.
    async fn run_totals(&self) -> Result<Vec<RunTotals>>;

    /// The `updatedAt` up to which this integration's orders are handled.
    async fn cursor(&self, integration_id: i64) -> Result<Option<DateTime<Utc>>>;
    async fn set_cursor(&self, integration_id: i64, updated_at: DateTime<Utc>) -> Result<()>;

    async fn order_links(&self, scope: LinkScope, shopify_order_id: &str)
    -> Result<Vec<OrderLink>>;
    async fn order_link(
        &self,
        scope: LinkScope,
        fulfillment_order_id: &str,
    ) -> Result<Option<OrderLink>>;
    /// Inserts or replaces the link of `(scope, fulfillment_order_id)`.
    async fn save_order_link(&self, link: &OrderLink) -> Result<()>;
    async fn count_order_links(&self, scope: LinkScope) -> Result<i64>;

    /// Marks an order as needing attention (failed or conflict); counts attempts.
    async fn flag_order(&self, attention: &Attention) -> Result<()>;
    async fn clear_order_flag(&self, integration_id: i64, shopify_order_id: &str) -> Result<()>;
    /// Orders flagged for an integration, newest first.
    async fn flagged_orders(&self, integration_id: Option<i64>) -> Result<Vec<Attention>>;

    /// Stores a new API token by its hash. `Conflict` when the name is taken.
    async fn create_api_token(&self, name: &str, token_hash: &str) -> Result<ApiToken>;
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>>;

    /// Proves the database answers (for health checks).
    async fn ping(&self) -> Result<()>;
}
