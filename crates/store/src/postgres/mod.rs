//! The PostgreSQL store: several tentacle processes on several machines share one database, and
//! PostgreSQL is the only coordinator between them.
//!
//! - Claims pick a run with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each
//!   other's candidate; the partial unique index `runs_one_running_per_integration` makes "one
//!   running run per configuration" a database rule, whatever a worker believes.
//! - The daily/regular exclusion of one store spans two configurations, which no unique index
//!   can express: claims of runs with an exclusion key serialize on a transaction-scoped
//!   advisory lock of that key and check the exclusion again under it.
//! - Every write of a running run checks the lease (`lease_owner`, `status = 'RUNNING'`) in the
//!   same statement, so a worker presumed dead cannot write after its run was taken over.
//! - Changes to the queue send `NOTIFY tentacle_runs` (payload: the schema), which wakes idle
//!   workers of every process at once; polling remains the fallback.
//! - A transaction that has nothing to do (no claimable run, a lost lease) is rolled back before
//!   the method returns. Dropped, sqlx would roll it back only from a task spawned on the
//!   runtime, and until that task runs it keeps its locks, advisory locks included.
//!
//! The schema is the connection's `search_path` (by default `public`); tests give each test its
//! own with `?options=-c search_path=…` in the URL.
//!
//! Each of the store's traits is implemented in the file of its concern (`credentials.rs`,
//! `runs.rs`, `attention.rs`, …); this file opens the database and holds what they share: the
//! lease check every write of a running run starts with.

mod accounts;
mod alerts;
mod attention;
mod credentials;
mod integrations;
mod logs;
mod products;
mod returns;
mod runs;
mod sales_orders;
mod scheduler;
mod shipments;
mod status_updates;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::rows::{lease_lost, migrate};
use crate::wake::WakeSender;
use crate::{Cipher, Lease, Result, Store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel queue changes are announced on.
const CHANNEL: &str = "tentacle_runs";

/// How a [`PgStore`] connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections this process keeps at most (the LISTEN connection comes on top).
    pub max_connections: u32,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
        }
    }
}

pub struct PgStore {
    pool: PgPool,
    cipher: Cipher,
    connect: PgConnectOptions,
    /// The schema this store works in: the payload of its notifications.
    schema: String,
    wake: WakeSender,
    /// Whether a listener task runs: [`Store::wake_ups`] starts one when none does (only
    /// workers need to listen); it stops when the last worker is gone.
    listening: Arc<AtomicBool>,
    /// The connection this process competes for the scheduler's role on (see `scheduler.rs`).
    scheduler: tokio::sync::Mutex<Option<scheduler::SchedulerSession>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// How long the server lets a session sit idle inside a transaction before ending it.
const IDLE_IN_TRANSACTION_LIMIT: &str = "10s";

/// Refuses a key that is not the database's: stores the key check value on first open (or
/// keeps the one a concurrent first open stored), then decrypts it.
async fn check_key(pool: &PgPool, cipher: &Cipher) -> Result<()> {
    // A database from before the key check holds secrets but no check value: the value is
    // written only once a stored secret has shown that this is the key they were made with.
    let checked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM key_check WHERE id = 1")
        .fetch_optional(pool)
        .await?;
    if checked.is_none() {
        let row = sqlx::query("SELECT * FROM credentials ORDER BY id LIMIT 1")
            .fetch_optional(pool)
            .await?;
        if let Some(row) = row {
            match crate::rows::credential_from_row(cipher, &row) {
                Err(crate::StoreError::Cipher(_)) => return Err(crate::StoreError::WrongKey),
                Err(error) => return Err(error),
                Ok(_) => {}
            }
        }
    }
    sqlx::query(
        "INSERT INTO key_check (id, value, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(cipher.key_check())
    .bind(chrono::Utc::now())
    .execute(pool)
    .await?;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT value FROM key_check WHERE id = 1")
        .fetch_one(pool)
        .await?;
    if cipher.opens_key_check(&stored) {
        Ok(())
    } else {
        Err(crate::StoreError::WrongKey)
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:5432/database`) and applies pending
    /// migrations; refuses a database migrated by a newer tentacle.
    pub async fn open(url: &str, cipher: Cipher) -> Result<PgStore> {
        PgStore::open_with(url, cipher, PgOptions::default()).await
    }

    pub async fn open_with(url: &str, cipher: Cipher, options: PgOptions) -> Result<PgStore> {
        let connect = PgConnectOptions::from_str(url)?
            .application_name("tentacle")
            // A run stopped mid-transaction (its lease lost, a shutdown, a test's abort) drops
            // the transaction's future; the client may never send its ROLLBACK, and the row
            // locks it holds would stop every later writer of the run, the resumed run's
            // lease renewals included. No transaction of tentacle's waits on its client for
            // seconds, so the server ends one that does and frees its locks.
            .options([(
                "idle_in_transaction_session_timeout",
                IDLE_IN_TRANSACTION_LIMIT,
            )]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.clone())
            .await?;
        migrate(&MIGRATOR, &pool).await?;
        check_key(&pool, &cipher).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        Ok(PgStore {
            pool,
            cipher,
            connect,
            schema,
            wake: WakeSender::new(),
            listening: Arc::new(AtomicBool::new(false)),
            scheduler: tokio::sync::Mutex::new(None),
        })
    }

    /// The versions this binary's migrations go up to.
    pub fn known_schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Announces a queue change to every process listening on this schema.
    async fn notify(&self, tx: &mut sqlx::PgConnection) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&self.schema)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// LISTENs on its own connection and wakes this process's workers on every notification
    /// for this schema, and after every reconnection (notifications sent while the connection
    /// was down are lost, so the workers look once more). Stops when no worker listens.
    fn start_listening(&self) {
        let wake = self.wake.clone();
        let listening = self.listening.clone();
        let schema = self.schema.clone();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(self.connect.clone());
        tokio::spawn(async move {
            let mut listener = None::<PgListener>;
            loop {
                if wake.is_unheard() {
                    listening.store(false, Ordering::SeqCst);
                    // A worker that subscribed meanwhile saw the flag still up and started no
                    // listener of its own: keep listening for it.
                    if wake.is_unheard() || listening.swap(true, Ordering::SeqCst) {
                        return;
                    }
                }
                let Some(active) = listener.as_mut() else {
                    match PgListener::connect_with(&pool).await {
                        Ok(mut new) => match new.listen(CHANNEL).await {
                            Ok(()) => {
                                listener = Some(new);
                                wake.wake();
                            }
                            Err(error) => {
                                tracing::warn!(%error, "Cannot LISTEN for run queue changes; polling.");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        },
                        Err(error) => {
                            tracing::warn!(%error, "Cannot connect to LISTEN for run queue changes; polling.");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    continue;
                };
                // Wakes up now and then to notice that nobody listens any more.
                match tokio::time::timeout(Duration::from_secs(5), active.try_recv()).await {
                    Err(_) => {}
                    Ok(Ok(Some(notification))) => {
                        if notification.payload() == schema {
                            wake.wake();
                        }
                    }
                    // The connection was lost; `try_recv` reconnects and listens again on its
                    // next call.
                    Ok(Ok(None)) => {
                        tracing::warn!("LISTEN connection lost; reconnecting.");
                        wake.wake();
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "LISTEN connection failed; reconnecting.");
                        listener = None;
                        wake.wake();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }

    /// A transaction in which `lease` holds its run until the commit (see `hold`), or
    /// [`StoreError::LeaseLost`]: how every write of a running run starts.
    async fn begin_held(
        &self,
        lease: &Lease,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        if !hold(&mut tx, lease).await? {
            tx.rollback().await?;
            return Err(lease_lost(lease.run_id));
        }
        Ok(tx)
    }
}

/// The condition under which the run lease `$1` (run id) / `$2` (owner) still holds.
const HELD: &str = "id = $1 AND lease_owner = $2 AND status = 'RUNNING'";

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64> {
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(version)
    }
}

/// Whether `lease` still holds its run; the run's row stays locked until the transaction ends,
/// so a reaper cannot take the run over in between.
async fn hold(conn: &mut sqlx::PgConnection, lease: &Lease) -> Result<bool> {
    let held = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM runs WHERE {HELD} FOR NO KEY UPDATE"
    )))
    .bind(lease.run_id)
    .bind(&lease.owner)
    .fetch_optional(conn)
    .await?;
    Ok(held.is_some())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::testing::TestSchema;

    /// A transaction whose client went away without a word (its future dropped before the
    /// ROLLBACK was sent) holds its row locks; the server ends it, so the next writer of the
    /// row goes on instead of waiting forever (seen: a resumed run stuck for 15 minutes on the
    /// lock of its killed predecessor's usage update).
    #[tokio::test]
    async fn a_transaction_its_client_abandoned_frees_its_locks() {
        let Some(schema) = TestSchema::create("abandoned_transaction").await else {
            return;
        };
        let store = PgStore::open(&schema.url, Cipher::ephemeral())
            .await
            .expect("store");
        sqlx::query("CREATE TABLE locked (id INT PRIMARY KEY, n INT NOT NULL)")
            .execute(&store.pool)
            .await
            .expect("table");
        sqlx::query("INSERT INTO locked VALUES (1, 0)")
            .execute(&store.pool)
            .await
            .expect("row");
        let mut abandoned = store.pool.begin().await.expect("begin");
        sqlx::query("UPDATE locked SET n = n + 1 WHERE id = 1")
            .execute(&mut *abandoned)
            .await
            .expect("lock the row");
        // Neither committed nor rolled back, ever.
        std::mem::forget(abandoned);

        let started = Instant::now();
        tokio::time::timeout(
            Duration::from_secs(60),
            sqlx::query("UPDATE locked SET n = n + 10 WHERE id = 1").execute(&store.pool),
        )
        .await
        .expect("the lock is freed well within a minute")
        .expect("the update goes through");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(5),
            "it was locked: {waited:?}"
        );
        let n: i32 = sqlx::query_scalar("SELECT n FROM locked WHERE id = 1")
            .fetch_one(&store.pool)
            .await
            .expect("read");
        assert_eq!(n, 10, "the abandoned update was rolled back");
    }
}
