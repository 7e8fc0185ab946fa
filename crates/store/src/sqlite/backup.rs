//! Copies of a SQLite database: a consistent copy of a live database (`VACUUM INTO`), and the
//! checks a copy must pass before it replaces one (whose database it is, its schema, whether
//! the key opens its secrets, whether the target is in use).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};

use super::{MIGRATOR, SqliteStore};
use crate::rows::{ms, secrets_aad};
use crate::{CredentialKind, Result, StoreError};

/// What a SQLite file holds, read without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteContents {
    /// A tentacle database at this schema version (its newest migration), with this many
    /// migrations applied.
    Tentacle {
        schema_version: i64,
        migrations: i64,
    },
    /// A SQLite database of something else.
    Other,
}

/// What decrypting every stored secret with the current key found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretsCheck {
    /// Credentials whose secrets were tried.
    pub checked: usize,
    /// The names of those the key cannot open.
    pub undecryptable: Vec<String>,
}

/// Who is using a database, as far as it shows: a scheduler lease or a run lease still running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    pub holder: String,
    pub until: DateTime<Utc>,
}

/// One connection to an existing file, without migrating it.
async fn connect(path: &Path, read_only: bool) -> Result<SqliteConnection> {
    let url = format!("sqlite://{}", path.display());
    let connection = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(false)
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await?;
    Ok(connection)
}

async fn has_table(connection: &mut SqliteConnection, table: &str) -> Result<bool> {
    let found: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .bind(table)
            .fetch_one(connection)
            .await?;
    Ok(found > 0)
}

impl SqliteStore {
    /// The newest migration this binary knows.
    pub fn known_schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// What the SQLite file at `path` holds; an error when SQLite cannot read it as a
    /// database at all.
    pub async fn inspect(path: &Path) -> Result<SqliteContents> {
        let mut connection = connect(path, true).await?;
        let contents = if has_table(&mut connection, "_sqlx_migrations").await?
            && has_table(&mut connection, "credentials").await?
            && has_table(&mut connection, "runs").await?
        {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(version), 0) AS version, COUNT(*) AS applied
                 FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&mut connection)
            .await?;
            SqliteContents::Tentacle {
                schema_version: row.try_get("version")?,
                migrations: row.try_get("applied")?,
            }
        } else {
            SqliteContents::Other
        };
        connection.close().await?;
        Ok(contents)
    }

    /// Writes a consistent copy of the database at `path` into the new file `into`, while
    /// other connections go on reading and writing: `VACUUM INTO` reads one snapshot (in WAL
    /// mode a read transaction, which blocks no writer) and writes a compact copy. Nothing is
    /// migrated: the running tentacle may be older than this one. Returns the copy's schema
    /// version.
    pub async fn back_up(path: &Path, into: &Path) -> Result<i64> {
        let schema_version = match SqliteStore::inspect(path).await? {
            SqliteContents::Tentacle { schema_version, .. } => schema_version,
            SqliteContents::Other => {
                return Err(StoreError::Corrupt(format!(
                    "{} is not a tentacle database",
                    path.display()
                )));
            }
        };
        // The copy holds what the database holds (password hashes, sessions, encrypted
        // secrets): made private before SQLite writes it (it fills an empty file).
        super::create_private(into).map_err(sqlx::Error::Io)?;
        let mut connection = connect(path, false).await?;
        sqlx::query("VACUUM INTO ?1")
            .bind(into.display().to_string())
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        Ok(schema_version)
    }

    /// Who holds a lease on the database at `path` at `now`: the scheduler of a running
    /// `serve` / `worker`, or the worker of a running run. `None` when nothing shows (a
    /// process that holds no lease, like an idle `tentacle runs`, cannot be seen).
    pub async fn in_use(path: &Path, now: DateTime<Utc>) -> Result<Option<InUse>> {
        let mut connection = connect(path, true).await?;
        let mut holders = Vec::new();
        if has_table(&mut connection, "scheduler_lease").await? {
            holders.extend(
                sqlx::query(
                    "SELECT owner AS holder, lease_expires_ms FROM scheduler_lease
                     WHERE lease_expires_ms > ?1",
                )
                .bind(ms(now))
                .fetch_all(&mut connection)
                .await?,
            );
        }
        holders.extend(
            sqlx::query(
                "SELECT lease_owner AS holder, lease_expires_ms FROM runs
                 WHERE status = 'RUNNING' AND lease_expires_ms > ?1",
            )
            .bind(ms(now))
            .fetch_all(&mut connection)
            .await?,
        );
        connection.close().await?;
        holders
            .first()
            .map(|row| {
                Ok(InUse {
                    holder: row
                        .try_get::<Option<String>, _>("holder")?
                        .unwrap_or_default(),
                    until: crate::rows::from_ms(row.try_get("lease_expires_ms")?)?,
                })
            })
            .transpose()
    }

    /// Decrypts every stored secret with this store's key: a copy restored under a key that
    /// cannot open it would fail every run.
    pub async fn check_secrets(&self) -> Result<SecretsCheck> {
        let rows = sqlx::query("SELECT name, kind, secrets FROM credentials ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut check = SecretsCheck::default();
        for row in rows {
            let name: String = row.try_get("name")?;
            let kind_text: String = row.try_get("kind")?;
            let kind = CredentialKind::parse(&kind_text)
                .ok_or_else(|| StoreError::Corrupt(format!("credential kind {kind_text}")))?;
            let sealed: Vec<u8> = row.try_get("secrets")?;
            check.checked += 1;
            if self
                .cipher
                .decrypt(&sealed, &secrets_aad(&name, kind))
                .is_err()
            {
                check.undecryptable.push(name);
            }
        }
        Ok(check)
    }

    /// Closes every connection, folding the write-ahead log into the file: afterwards the file
    /// alone is the whole database (what a restore renames into place).
    pub async fn close(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        self.pool.close().await;
        Ok(())
    }
}
