//! The SQLite store: one file, WAL mode, migrations applied on open.
//!
//! Each of the store's traits is implemented in the file of its concern (`credentials.rs`,
//! `runs.rs`, `attention.rs`, …); this file opens the database and holds what they share: the
//! lease check every write of a running run starts with.

mod accounts;
mod backup;
pub use backup::{InUse, SecretsCheck, SqliteContents};
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
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::rows::{lease_lost, migrate};
use crate::wake::WakeSender;
use crate::{Cipher, Lease, Result, Store};

pub struct SqliteStore {
    pool: SqlitePool,
    cipher: Cipher,
    /// Wakes this process's idle workers; other processes on the same file poll.
    wake: WakeSender,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db` or
    /// `sqlite::memory:`) and applies pending migrations.
    pub async fn open(url: &str, cipher: Cipher) -> Result<SqliteStore> {
        let in_memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if !in_memory {
            make_private(options.get_filename())?;
        }
        let options = if in_memory {
            options
        } else {
            // WAL lets readers (the UI, `tentacle runs`) work while a run writes.
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        };
        // An in-memory database exists per connection: keep exactly one.
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await?;
        migrate(&MIGRATOR, &pool).await?;
        check_key(&pool, &cipher).await?;
        Ok(SqliteStore {
            pool,
            cipher,
            wake: WakeSender::new(),
        })
    }

    /// A transaction in which `lease` holds its run until the commit (see `hold`), or
    /// [`StoreError::LeaseLost`]: how every write of a running run starts.
    async fn begin_held(&self, lease: &Lease) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        let mut tx = self.pool.begin().await?;
        if !hold(&mut tx, lease).await? {
            tx.rollback().await?;
            return Err(lease_lost(lease.run_id));
        }
        Ok(tx)
    }
}

/// The condition under which the run lease `?1` (run id) / `?2` (owner) still holds.
const HELD: &str = "id = ?1 AND lease_owner = ?2 AND status = 'RUNNING'";

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS version FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("version")?)
    }
}

/// A new, empty file only its owner may read and write; fails when `path` exists.
pub(super) fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

/// The database holds password hashes, live session and CSRF tokens and encrypted secrets: it
/// is created readable by its owner only (SQLite gives its `-wal` and `-shm` files the same
/// mode), and an existing one others may read is made private.
fn make_private(path: &std::path::Path) -> Result<()> {
    match create_private(path) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(sqlx::Error::Io(error).into()),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = std::path::PathBuf::from(name);
            let Ok(metadata) = std::fs::metadata(&file) else {
                continue;
            };
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(sqlx::Error::Io)?;
                tracing::warn!(file = %file.display(), mode = format!("{mode:04o}"), "Database file was readable by others; made private (0600).");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Refuses a key that is not the database's: stores the key check value on first open (or
/// keeps the one a concurrent first open stored), then decrypts it.
async fn check_key(pool: &SqlitePool, cipher: &Cipher) -> Result<()> {
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
        "INSERT INTO key_check (id, value, created_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
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

/// Whether `lease` still holds its run, checked with a write so the transaction holds SQLite's
/// write lock from here to its commit: the run cannot be taken over in between.
async fn hold(conn: &mut sqlx::SqliteConnection, lease: &Lease) -> Result<bool> {
    let held = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE runs SET lease_owner = lease_owner WHERE {HELD}"
    )))
    .bind(lease.run_id)
    .bind(&lease.owner)
    .execute(conn)
    .await?;
    Ok(held.rows_affected() == 1)
}
