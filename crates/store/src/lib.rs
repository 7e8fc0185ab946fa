//! tentacle's persistent state behind one [`Store`] trait made of one trait per concern:
//! credentials (secrets encrypted at rest), integration configurations with their cursors, runs
//! with their counters and log entries, accounts, the records that need attention, alert
//! channels with the incidents and the outbox decided where runs end, and each
//! integration type's own state (the order links that make sales order imports exactly-once, the
//! shipment links that fulfill each PULPO box once, the marks of the status updates done, the
//! return links that register each PULPO return once).
//!
//! SQLite is the embedded default for one merchant ([`SqliteStore`]); PostgreSQL ([`PgStore`])
//! lets several tentacle processes on several machines share one database. Callers only see
//! the trait. Both keep the same tables and column names, each with its own migrations, and
//! each keeps its code in files named after the traits.

pub mod cipher;
pub mod model;
mod postgres;
mod rows;
mod sqlite;
#[doc(hidden)]
pub mod testing;
mod wake;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tentacle_domain::run::{ApiUsage, RunCounters, RunStatus};

pub use cipher::{Cipher, CipherError};
pub use model::*;
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{InUse, SecretsCheck, SqliteContents, SqliteStore};
pub use wake::WakeUps;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer tentacle: this one would misread it.
    #[error(
        "the database schema is newer than this tentacle: it has migration {database_version}, \
         this tentacle knows migrations up to {binary_version}; run the newer tentacle that \
         migrated it (downgrades are not supported)"
    )]
    SchemaTooNew {
        database_version: i64,
        binary_version: i64,
    },
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The database's key check value does not decrypt with this process's master key.
    #[error(
        "the master key does not open this database's secrets: it is not the key the database was first opened with"
    )]
    WrongKey,
    /// The run is no longer `RUNNING` under this lease (its worker was presumed lost, or the
    /// run was released): the writer must stop.
    #[error("run {run_id} is no longer held by this worker (lease lost)")]
    LeaseLost { run_id: i64 },
    /// The change would break a uniqueness or reference rule, e.g. a name already taken or a
    /// credential still used.
    #[error("{what}")]
    Conflict { what: String },
}

impl StoreError {
    /// Whether the database was unreachable for a moment (a restart, a dropped connection)
    /// rather than refusing the operation: trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(error) => match error {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
                // Class 08: connection exception; 57P01-57P03: the server is shutting down,
                // crashed or not accepting connections yet; 40001 / 40P01: a serialization
                // failure or deadlock the server resolved by aborting us.
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || matches!(
                            code.as_ref(),
                            "57P01" | "57P02" | "57P03" | "40001" | "40P01"
                        )
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything tentacle persists, one trait per concern (see [`prelude`]). Every method is one
/// transaction. Callers hold an `Arc<dyn Store>`.
#[async_trait]
pub trait Store:
    CredentialStore
    + IntegrationStore
    + RunStore
    + LogStore
    + AccountStore
    + AttentionStore
    + SalesOrderStore
    + ShipmentStore
    + StatusUpdateStore
    + ProductStore
    + ReturnStore
    + SchedulerStore
    + AlertStore
    + Send
    + Sync
    + 'static
{
    /// Proves the database answers (for health checks).
    async fn ping(&self) -> Result<()>;
    /// The newest migration applied to the database (its schema version).
    async fn schema_version(&self) -> Result<i64>;
}

/// The store's traits, for `use tentacle_store::prelude::*;`: a method of `dyn Store` can only
/// be called where the trait that declares it is in scope.
pub mod prelude {
    pub use crate::{
        AccountStore, AlertStore, AttentionStore, CredentialStore, IntegrationStore, LogStore,
        ProductStore, ReturnStore, RunStore, SalesOrderStore, SchedulerStore, ShipmentStore,
        StatusUpdateStore, Store,
    };
}

/// The Shopify and PULPO connections, secrets encrypted at rest.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Creates the credential, or replaces the one with the same name (same id). Secrets are
    /// encrypted before they reach the database.
    async fn save_credential(&self, credential: NewCredential) -> Result<Credential>;
    /// Creates the credential; `Conflict` when its name is taken. One statement, so of two
    /// creates of one name at once, one fails (the API's create, unlike `apply`'s upsert).
    async fn create_credential(&self, credential: NewCredential) -> Result<Credential>;
    async fn credential(&self, id: i64) -> Result<Option<Credential>>;
    async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>>;
    async fn credentials(&self) -> Result<Vec<Credential>>;
    /// Replaces the credential with this id (name, kind, config and secrets). `NotFound` when
    /// there is none; `Conflict` when the new name belongs to another credential.
    async fn update_credential(&self, id: i64, credential: NewCredential) -> Result<Credential>;
    /// Deletes the credential; `false` when there was none. `Conflict` while an integration, an
    /// order link, a shipment link, a status mark or a return link still refers to it.
    async fn delete_credential(&self, id: i64) -> Result<bool>;
}

/// Integration configurations, whether they are active, and the state every type may keep per
/// configuration: its cursor.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates the integration, or replaces the one with the same name (same id, same
    /// `active` flag).
    async fn save_integration(&self, integration: NewIntegration) -> Result<Integration>;
    /// Creates the integration; `Conflict` when its name is taken or a credential it names does
    /// not exist. One statement, so of two creates of one name at once, one fails.
    async fn create_integration(&self, integration: NewIntegration) -> Result<Integration>;
    async fn integration(&self, id: i64) -> Result<Option<Integration>>;
    async fn integration_by_name(&self, name: &str) -> Result<Option<Integration>>;
    async fn integrations(&self) -> Result<Vec<Integration>>;
    /// Starts (active: scheduled runs are queued) or stops a configuration. Stopping drops its
    /// queued runs that never started; a running run (or one released to resume) goes on.
    async fn set_integration_active(&self, id: i64, active: bool) -> Result<Option<Integration>>;
    /// Replaces the integration with this id (keeps its `active` flag). `NotFound` when there
    /// is none; `Conflict` when the new name belongs to another integration.
    async fn update_integration(&self, id: i64, integration: NewIntegration)
    -> Result<Integration>;
    /// Deletes the integration with its runs, logs, cursor and flags; `false` when there was
    /// none. The links and marks of its pair of systems stay: other configurations of the same
    /// pair share them.
    async fn delete_integration(&self, id: i64) -> Result<bool>;

    /// How far the configuration's runs got, in the type's terms (for sales orders the
    /// `updatedAt` up to which orders are handled).
    async fn cursor(&self, integration_id: i64) -> Result<Option<DateTime<Utc>>>;
    /// Moves the cursor, for operators and tests; a running run uses
    /// [`HeldWrite::Cursor`].
    async fn set_cursor(&self, integration_id: i64, updated_at: DateTime<Utc>) -> Result<()>;
}

/// The run queue: queueing, claims under a lease, the reaper, wake-ups, a run's counters and
/// usage, its end, and the writes of a running run.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Queues a run, idempotently: a scheduled due time (`schedule`, `daily`) makes one run per
    /// configuration, across restarts and processes, and a configuration that already has a
    /// queued run that never started, due no later than this one, keeps that run instead of
    /// piling up another.
    async fn enqueue_run(&self, request: &RunRequest) -> Result<Enqueued>;
    /// For each configuration with a queued run that never started, the earliest due time of
    /// such a run: what lets the scheduler skip, in one query, the configurations whose next run
    /// [`RunStore::enqueue_run`] would refuse to queue anyway.
    async fn queued_unstarted_due(&self) -> Result<HashMap<i64, DateTime<Utc>>>;
    /// Claims the oldest due `QUEUED` run (or only `claim.run_id`) whose configuration has no
    /// running run and whose exclusion allows it, making it `RUNNING` under `claim.owner` until
    /// `claim.lease_until`. Atomic; the database guarantees one running run per configuration.
    async fn claim_run(&self, claim: &Claim) -> Result<Option<Run>>;
    /// Extends the lease; `false` when it is lost.
    async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<bool>;
    /// Puts a running run back to `QUEUED` (it resumes later), with a log entry; `false` when
    /// the lease was already lost.
    async fn release_run(&self, lease: &Lease, entry: &NewLogEntry) -> Result<bool>;
    /// Puts running runs whose lease expired back to `QUEUED`, or fails them once their worker
    /// was lost too often (see [`Reap`]). Safe to call from every process at once: each run is
    /// reaped by one of them.
    async fn reap_expired_runs(&self, reap: &Reap) -> Result<Reaped>;
    /// A signal that the run queue changed, for idle workers (see [`WakeUps`]). On PostgreSQL
    /// it carries changes made by every process; on SQLite those of this process only.
    fn wake_ups(&self) -> WakeUps;
    /// Adds what the run spent of the external APIs since its last report;
    /// [`StoreError::LeaseLost`] when it is not held by `lease`.
    async fn add_run_usage(&self, lease: &Lease, usage: &ApiUsage) -> Result<()>;
    /// Stores the counters so far (a run in progress is visible with live numbers).
    async fn update_run_counters(&self, lease: &Lease, counters: &RunCounters) -> Result<()>;
    /// Ends a running run; [`StoreError::LeaseLost`] when it is not held by `lease`.
    async fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        counters: &RunCounters,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Run>;
    async fn run(&self, id: i64) -> Result<Option<Run>>;
    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>>;
    /// Deletes one small batch of expired runs and their log entries (see [`Retention`]) in one
    /// transaction; the caller repeats until [`Pruned`] is all zero. The totals of
    /// [`LogStore::run_totals`] are not changed by it.
    async fn prune_runs(&self, retention: &Retention) -> Result<Pruned>;

    /// Applies `writes` in one transaction, in order, only while `lease` still holds the run;
    /// [`StoreError::LeaseLost`] and nothing written otherwise. The lease is checked in the same
    /// transaction, so a worker presumed dead cannot write after its run was taken over, and a
    /// failure part-way writes none of them.
    async fn write_held(&self, lease: &Lease, writes: &[HeldWrite]) -> Result<()>;
}

/// Which process schedules: every `serve` and `worker` process offers to, one at a time does,
/// so each due run is queued by one process instead of being offered by all of them. Losing or
/// doubling the role for a moment is harmless ([`RunStore::enqueue_run`] stays idempotent);
/// the election only saves the other processes' work.
///
/// SQLite keeps a lease row the holder renews and another process takes over once it expired.
/// PostgreSQL elects with a session-level advisory lock on a connection of its own, freed the
/// moment its holder's connection dies, and keeps the same row only to say who holds it.
#[async_trait]
pub trait SchedulerStore: Send + Sync {
    /// Takes the scheduler's role for `owner`, or keeps it, until `until`; `true` while `owner`
    /// holds it. On SQLite it is taken only when the holder's lease ran out at `now`.
    async fn hold_scheduler(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Gives the role up (a clean shutdown), so another process takes over at its next poll.
    async fn release_scheduler(&self, owner: &str) -> Result<()>;
    /// Who holds the role, since when and until when its lease runs (PostgreSQL: as the holder
    /// last wrote it).
    async fn scheduler(&self) -> Result<Option<SchedulerLease>>;
}

/// The log entries of runs and the totals over runs.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Appends entries to a running run's log; [`StoreError::LeaseLost`] when it is not held
    /// by `lease`.
    async fn append_logs(&self, lease: &Lease, entries: &[NewLogEntry]) -> Result<()>;
    async fn logs(&self, run_id: i64, filter: &LogFilter) -> Result<Vec<StoredLogEntry>>;
    /// Run counts, summed counters and durations per integration and status, since the
    /// configuration exists: ended runs from totals kept as they end (retention does not lower
    /// them), runs not ended yet from the runs themselves.
    async fn run_totals(&self) -> Result<Vec<RunTotals>>;
    /// Per configuration and UTC day, the runs that ended at or after `since`, in one query.
    async fn daily_run_totals(&self, since: DateTime<Utc>) -> Result<Vec<DailyRunTotals>>;
}

/// Who may use tentacle: API tokens, web UI users and their sessions.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores a new API token by its hash. `Conflict` when the name is taken.
    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken>;
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    /// Every API token, by name.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>>;
    /// Deletes the token named `name`: requests with it are refused from now on. `false` when
    /// there was none.
    async fn revoke_api_token(&self, name: &str) -> Result<bool>;
    /// Records that token `id` was used at `at`, at most once a minute (a write per request
    /// would cost more than the request).
    async fn api_token_used(&self, id: i64, at: DateTime<Utc>) -> Result<()>;

    /// Creates a web UI account. `Conflict` when the name is taken.
    async fn create_user(&self, name: &str, password_hash: &str) -> Result<User>;
    async fn user_by_name(&self, name: &str) -> Result<Option<User>>;
    /// Stores a login session; expired sessions are deleted on the way.
    async fn create_session(&self, session: &NewSession) -> Result<Session>;
    /// The session with this hash while it has not expired at `now`.
    async fn session_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>>;
    /// Ends a session (logout); `false` when there was none.
    async fn delete_session(&self, token_hash: &str) -> Result<bool>;
    /// Ends every session of the user ("log out everywhere"); how many there were.
    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64>;
    /// Sets the user's password hash and ends all its sessions, in one transaction. `false`
    /// when there is no such user.
    async fn set_user_password(&self, name: &str, password_hash: &str) -> Result<bool>;
    /// Deletes the account and its sessions. `false` when there was none.
    async fn delete_user(&self, name: &str) -> Result<bool>;
}

/// The records that need attention, of every integration type: one flag per configuration,
/// record kind and record id.
#[async_trait]
pub trait AttentionStore: Send + Sync {
    /// Flags the record (failed or conflict), or updates its flag; counts attempts: a new flag
    /// has 1, each flag of an already flagged record adds 1. A running run uses
    /// [`HeldWrite::Flag`].
    async fn flag(&self, attention: &Attention) -> Result<()>;
    /// Removes the record's flag, if any (an operator marked it resolved). A running run uses
    /// [`HeldWrite::ClearFlag`].
    async fn clear_flag(&self, key: &AttentionKey) -> Result<()>;
    /// The flags of one configuration, or of all, newest first.
    async fn flags(&self, integration_id: Option<i64>) -> Result<Vec<Attention>>;
}

/// Alert channels, the incidents decided where runs end, and the outbox of their messages.
///
/// [`RunStore::finish_run`] and the reaper (when it fails a run) decide the run's incidents in
/// the transaction that ends it: a FAILED end opens the configuration's "failed" incident unless
/// one is open; any other end closes it and the "stale" ones, and the "conflicts" one once no
/// record is in conflict; records a run flagged in conflict for the first time open the
/// "conflicts" incident. Opening queues one message per channel covering the configuration,
/// closing a "recovered" message to the channels that were told. Messages are delivered from
/// the outbox under a lease, at least once.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Creates the channel, or replaces the one with the same name (same id). `Conflict` when a
    /// configuration it names does not exist. The password is sealed before it is stored.
    async fn save_alert_channel(&self, channel: NewAlertChannel) -> Result<AlertChannel>;
    /// Creates the channel; `Conflict` when its name is taken or a configuration it names does
    /// not exist. Of two creates of one name at once, one fails.
    async fn create_alert_channel(&self, channel: NewAlertChannel) -> Result<AlertChannel>;
    /// Replaces the channel with this id. `NotFound` when there is none; `Conflict` when the
    /// name belongs to another channel or a configuration it names does not exist.
    async fn update_alert_channel(&self, id: i64, channel: NewAlertChannel)
    -> Result<AlertChannel>;
    async fn alert_channel(&self, id: i64) -> Result<Option<AlertChannel>>;
    async fn alert_channel_by_name(&self, name: &str) -> Result<Option<AlertChannel>>;
    async fn alert_channels(&self) -> Result<Vec<AlertChannel>>;
    /// Deletes the channel with its undelivered messages; `false` when there was none.
    async fn delete_alert_channel(&self, id: i64) -> Result<bool>;
    /// Opens a "stale" incident, with its message, for every active configuration a channel
    /// covers that had no FINISHED or FINISHED PARTIALLY run (nor was created, started or
    /// changed) for longer than the channel's threshold, unless one is open. Returns how many
    /// were opened (one per configuration and channel). Safe to call from every process at once.
    async fn open_stale_incidents(&self, now: DateTime<Utc>) -> Result<usize>;
    /// Brings the API version incidents in line with `due` (the configurations whose Shopify
    /// credential's version ends within 60 days or ended): opens one for each that has none
    /// (a message to every channel covering it) and closes those no longer due (a "recovered"
    /// message to the channels told). Returns how many messages were queued. Safe to call
    /// from every process at once.
    async fn sync_api_version_incidents(
        &self,
        now: DateTime<Utc>,
        due: &[ApiVersionDue],
    ) -> Result<usize>;
    /// Claims up to `claim.limit` due undelivered messages (none held under a live lease),
    /// oldest first, each counting an attempt; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
    /// concurrent deliverers never take the same message.
    async fn claim_alerts(&self, claim: &AlertClaim) -> Result<Vec<AlertDelivery>>;
    /// Marks a claimed message delivered; `false` when `owner` no longer holds it.
    async fn alert_delivered(&self, id: i64, owner: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Records a failed attempt and when to try again; `false` when `owner` no longer holds it.
    async fn alert_failed(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Outbox messages, newest first.
    async fn alert_records(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>>;
}

/// The sales orders type's own state: the order links that make imports exactly-once.
#[async_trait]
pub trait SalesOrderStore: Send + Sync {
    async fn order_links(&self, scope: LinkScope, shopify_order_id: &str)
    -> Result<Vec<OrderLink>>;
    async fn order_link(
        &self,
        scope: LinkScope,
        fulfillment_order_id: &str,
    ) -> Result<Option<OrderLink>>;
    /// Inserts or replaces the link of `(scope, fulfillment_order_id)`. A running run uses
    /// [`HeldWrite::OrderLink`].
    async fn save_order_link(&self, link: &OrderLink) -> Result<()>;
    async fn count_order_links(&self, scope: LinkScope) -> Result<i64>;
    /// The confirmed links of those of `pulpo_order_ids` that have one, sorted by PULPO order
    /// id, in one query: a PULPO → Shopify run keeps the PULPO orders tentacle imported.
    async fn order_links_of_pulpo_orders(
        &self,
        scope: LinkScope,
        pulpo_order_ids: &[i64],
    ) -> Result<Vec<OrderLink>>;
    /// One page of the confirmed links of the scope saved at or after `since`, oldest first
    /// (by `updated_at`, then fulfillment order id), at most `limit`, starting after the link
    /// `after` names by `(updated_at, fulfillment_order_id)`: a PULPO → Shopify run finds the
    /// orders imported since its cursor without reading every link ever made.
    async fn confirmed_order_links_since(
        &self,
        scope: LinkScope,
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: i64,
    ) -> Result<Vec<OrderLink>>;
}

/// The generate_shipments type's own state: the shipment links that make each PULPO packing box
/// one Shopify fulfillment, and its tracking updates once per change.
#[async_trait]
pub trait ShipmentStore: Send + Sync {
    /// The link of the box, confirmed or still an intent.
    async fn shipment_link(&self, scope: SystemPair, box_id: i64) -> Result<Option<ShipmentLink>>;
    /// The links of the boxes of one Shopify order, by box id.
    async fn shipment_links_of_order(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Vec<ShipmentLink>>;
    /// Inserts or replaces the link of `(scope, box_id)`. `Conflict` when its fulfillment is
    /// linked to another box of the scope or a credential of the scope does not exist. A
    /// running run uses [`HeldWrite::ShipmentLink`].
    async fn save_shipment_link(&self, link: &ShipmentLink) -> Result<()>;
    async fn count_shipment_links(&self, scope: SystemPair) -> Result<i64>;
}

/// The status_updates type's own state: one mark per Shopify order of what was done to it (the
/// tag, the note lines), so each is done once.
#[async_trait]
pub trait StatusUpdateStore: Send + Sync {
    async fn status_mark(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Option<StatusMark>>;
    /// The marks of those of `shopify_order_ids` that have one, sorted by order id, in one
    /// query: a run reads the marks of a page of orders at once.
    async fn status_marks(
        &self,
        scope: SystemPair,
        shopify_order_ids: &[String],
    ) -> Result<Vec<StatusMark>>;
    /// Inserts or replaces the mark of `(scope, shopify_order_id)`, except a `tagged_at` already
    /// set, which stays. `Conflict` when a credential of the scope does not exist. A running run
    /// uses [`HeldWrite::StatusMark`].
    async fn save_status_mark(&self, mark: &StatusMark) -> Result<()>;
}

/// The products type's own state: the links that make each Shopify variant one PULPO product.
#[async_trait]
pub trait ProductStore: Send + Sync {
    /// The links of these variants (those that have one), in any order.
    async fn product_links(
        &self,
        scope: SystemPair,
        variant_ids: &[String],
    ) -> Result<Vec<ProductLink>>;
    /// The links of these PULPO products (those that have one), in any order.
    async fn product_links_of_products(
        &self,
        scope: SystemPair,
        pulpo_product_ids: &[i64],
    ) -> Result<Vec<ProductLink>>;
    /// Writes the variant's link (replacing its earlier one); [`StoreError::Conflict`] when
    /// another variant links the PULPO product. A running run uses [`HeldWrite::ProductLink`].
    async fn save_product_link(&self, link: &ProductLink) -> Result<()>;
    async fn count_product_links(&self, scope: SystemPair) -> Result<i64>;
}

/// The returns type's own state: the return links that make each PULPO customer return one
/// Shopify return.
#[async_trait]
pub trait ReturnStore: Send + Sync {
    /// The link of the PULPO return, confirmed or still an intent.
    async fn return_link(
        &self,
        scope: SystemPair,
        incoming_good_id: i64,
    ) -> Result<Option<ReturnLink>>;
    /// The links of the PULPO returns of one Shopify order, by incoming good id.
    async fn return_links_of_order(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Vec<ReturnLink>>;
    /// Inserts or replaces the link of `(scope, incoming_good_id)`. `Conflict` when its Shopify
    /// return is linked to another PULPO return of the scope or a credential of the scope does
    /// not exist. A running run uses [`HeldWrite::ReturnLink`].
    async fn save_return_link(&self, link: &ReturnLink) -> Result<()>;
    async fn count_return_links(&self, scope: SystemPair) -> Result<i64>;
}
