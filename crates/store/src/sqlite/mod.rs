//! The SQLite store: one file, WAL mode, migrations applied on open.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use tentacle_domain::run::{ApiUsage, RunCounters, RunStatus};

use crate::{
    ApiToken, Attention, Cipher, Claim, Credential, CredentialKind, Enqueued, Integration, Lease,
    LinkScope, LogFilter, NewCredential, NewIntegration, NewLogEntry, NewSession, OrderLink,
    Result, Run, RunFilter, RunRequest, RunTotals, Secrets, Session, Store, StoreError,
    StoredLogEntry, User,
};

pub struct SqliteStore {
    pool: SqlitePool,
    cipher: Cipher,
}

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
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool, cipher })
    }

    fn secrets_aad(name: &str, kind: CredentialKind) -> Vec<u8> {
        format!("credential:{}:{name}", kind.as_str()).into_bytes()
    }

    fn credential_from_row(&self, row: &SqliteRow) -> Result<Credential> {
        let name: String = row.try_get("name")?;
        let kind_text: String = row.try_get("kind")?;
        let kind = CredentialKind::parse(&kind_text)
            .ok_or_else(|| StoreError::Corrupt(format!("credential kind {kind_text}")))?;
        let sealed: Vec<u8> = row.try_get("secrets")?;
        let plain = self
            .cipher
            .decrypt(&sealed, &Self::secrets_aad(&name, kind))?;
        let secrets = Secrets::from_plain_json(secrecy::ExposeSecret::expose_secret(&plain))
            .ok_or_else(|| StoreError::Corrupt(format!("secrets of credential {name}")))?;
        let config: String = row.try_get("config")?;
        Ok(Credential {
            id: row.try_get("id")?,
            name,
            kind,
            config: serde_json::from_str(&config)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            secrets,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Enums are stored as their serde names (`FINISHED_PARTIALLY`, `manual`), so the text in the
/// database is the same the API shows.
fn to_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("enum stored as text must serialize to a string, got {other:?}"),
    }
}

fn from_text<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| StoreError::Corrupt(format!("unknown stored value {text:?}")))
}

fn integration_from_row(row: &SqliteRow) -> Result<Integration> {
    let settings: String = row.try_get("settings")?;
    Ok(Integration {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        origin_credential_id: row.try_get("origin_credential_id")?,
        destination_credential_id: row.try_get("destination_credential_id")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn run_from_row(row: &SqliteRow) -> Result<Run> {
    let trigger: String = row.try_get("trigger")?;
    let status: String = row.try_get("status")?;
    Ok(Run {
        id: row.try_get("id")?,
        integration_id: row.try_get("integration_id")?,
        trigger: from_text(&trigger)?,
        status: from_text(&status)?,
        started_at: row.try_get("started_at")?,
        due_at: row
            .try_get::<Option<i64>, _>("due_ms")?
            .map(from_ms)
            .transpose()?,
        attempts: row.try_get("attempts")?,
        finished_at: row.try_get("finished_at")?,
        counters: RunCounters {
            fetched: row.try_get::<i64, _>("fetched")? as u64,
            created: row.try_get::<i64, _>("created")? as u64,
            updated: row.try_get::<i64, _>("updated")? as u64,
            cancelled: row.try_get::<i64, _>("cancelled")? as u64,
            skipped: row.try_get::<i64, _>("skipped")? as u64,
            failed: row.try_get::<i64, _>("failed")? as u64,
            conflicts: row.try_get::<i64, _>("conflicts")? as u64,
        },
        error: row.try_get("error")?,
    })
}

fn link_from_row(row: &SqliteRow) -> Result<OrderLink> {
    let state: String = row.try_get("state")?;
    let fingerprint: String = row.try_get("fingerprint")?;
    Ok(OrderLink {
        scope: LinkScope {
            origin_credential_id: row.try_get("origin_credential_id")?,
            destination_credential_id: row.try_get("destination_credential_id")?,
        },
        fulfillment_order_id: row.try_get("fulfillment_order_id")?,
        shopify_order_id: row.try_get("shopify_order_id")?,
        order_name: row.try_get("order_name")?,
        order_num: row.try_get("order_num")?,
        pulpo_order_id: row.try_get("pulpo_order_id")?,
        warehouse_id: row.try_get("warehouse_id")?,
        fingerprint: fingerprint
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("fingerprint {fingerprint:?}")))?,
        pulpo_state: from_text(&state)?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn attention_from_row(row: &SqliteRow) -> Result<Attention> {
    let kind: String = row.try_get("kind")?;
    Ok(Attention {
        integration_id: row.try_get("integration_id")?,
        shopify_order_id: row.try_get("shopify_order_id")?,
        order_name: row.try_get("order_name")?,
        kind: from_text(&kind)?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        run_id: row.try_get("run_id")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Turns a unique or foreign-key violation into [`StoreError::Conflict`] with `what`.
fn conflict(error: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
            StoreError::Conflict { what: what() }
        }
        _ => StoreError::Database(error),
    }
}

const RUN_COLUMNS: &str = "id, integration_id, trigger, status, started_at, due_ms, attempts, finished_at, fetched, created, updated, cancelled, skipped, failed, conflicts, error";

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} ms")))
}

/// The condition under which the run lease `?1` (run id) / `?2` (owner) still holds.
const HELD: &str = "id = ?1 AND lease_owner = ?2 AND status = 'RUNNING'";

/// The oldest claimable run: queued, due, its configuration not running, and no run of the other
/// role on the same exclusion key running, ended less than the daily run's gap ago, or (for a
/// daily candidate) a regular run queued due within the gap of the daily run's due time, which
/// goes first. Parameters: `?2` now (ms), `?4` only this run id (or NULL).
const CLAIMABLE: &str = "
    SELECT c.id FROM runs c
    WHERE c.status = 'QUEUED' AND c.due_ms <= ?2 AND (?4 IS NULL OR c.id = ?4)
      AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.integration_id = c.integration_id AND r.status = 'RUNNING')
      AND (c.exclusion_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM runs o
          WHERE o.exclusion_key = c.exclusion_key AND o.exclusion_role <> c.exclusion_role
            AND (o.status = 'RUNNING'
                 OR (o.ended_ms IS NOT NULL AND o.ended_ms +
                     (CASE WHEN c.exclusion_role = 'daily' THEN c.exclusion_gap_ms ELSE o.exclusion_gap_ms END) > ?2)
                 OR (c.exclusion_role = 'daily' AND o.status = 'QUEUED'
                     AND o.due_ms <= c.due_ms + c.exclusion_gap_ms))))
    ORDER BY c.due_ms, c.id LIMIT 1";

fn lease_lost(run_id: i64) -> StoreError {
    StoreError::LeaseLost { run_id }
}

async fn insert_logs(
    tx: &mut sqlx::SqliteConnection,
    run_id: i64,
    entries: &[NewLogEntry],
) -> Result<()> {
    for entry in entries {
        sqlx::query("INSERT INTO run_logs (run_id, at, level, record_kind, record, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .bind(run_id)
            .bind(entry.at)
            .bind(to_text(&entry.level))
            .bind(&entry.record_kind)
            .bind(&entry.record)
            .bind(&entry.message)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn save_credential(&self, credential: NewCredential) -> Result<Credential> {
        let now = Utc::now();
        let sealed = self.cipher.encrypt(
            &credential.secrets.to_plain_json(),
            &Self::secrets_aad(&credential.name, credential.kind),
        );
        let row = sqlx::query(
            "INSERT INTO credentials (name, kind, config, secrets, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config,
                 secrets = excluded.secrets, updated_at = excluded.updated_at
             RETURNING *",
        )
        .bind(&credential.name)
        .bind(credential.kind.as_str())
        .bind(credential.config.to_string())
        .bind(sealed)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        self.credential_from_row(&row)
    }

    async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        let row = sqlx::query("SELECT * FROM credentials WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.credential_from_row(&r)).transpose()
    }

    async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>> {
        let row = sqlx::query("SELECT * FROM credentials WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.credential_from_row(&r)).transpose()
    }

    async fn credentials(&self) -> Result<Vec<Credential>> {
        let rows = sqlx::query("SELECT * FROM credentials ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.credential_from_row(r)).collect()
    }

    async fn update_credential(&self, id: i64, credential: NewCredential) -> Result<Credential> {
        // The name and kind are the AAD of the secrets, so they are sealed again with them.
        let sealed = self.cipher.encrypt(
            &credential.secrets.to_plain_json(),
            &Self::secrets_aad(&credential.name, credential.kind),
        );
        let row = sqlx::query(
            "UPDATE credentials SET name = ?2, kind = ?3, config = ?4, secrets = ?5, updated_at = ?6
             WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(&credential.name)
        .bind(credential.kind.as_str())
        .bind(credential.config.to_string())
        .bind(sealed)
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| {
            conflict(e, || {
                format!("another credential is named {:?}", credential.name)
            })
        })?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("credential {id}"),
        })?;
        self.credential_from_row(&row)
    }

    async fn delete_credential(&self, id: i64) -> Result<bool> {
        let result = sqlx::query("DELETE FROM credentials WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                conflict(e, || {
                    format!("credential {id} is still used by an integration or by imported orders")
                })
            })?;
        Ok(result.rows_affected() > 0)
    }

    async fn save_integration(&self, integration: NewIntegration) -> Result<Integration> {
        let row = sqlx::query(
            "INSERT INTO integrations (name, kind, origin_credential_id, destination_credential_id, settings, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,
                 origin_credential_id = excluded.origin_credential_id,
                 destination_credential_id = excluded.destination_credential_id,
                 settings = excluded.settings, updated_at = excluded.updated_at
             RETURNING *",
        )
        .bind(&integration.name)
        .bind(&integration.kind)
        .bind(integration.origin_credential_id)
        .bind(integration.destination_credential_id)
        .bind(integration.settings.to_string())
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await?;
        integration_from_row(&row)
    }

    async fn integration(&self, id: i64) -> Result<Option<Integration>> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| integration_from_row(&r)).transpose()
    }

    async fn integration_by_name(&self, name: &str) -> Result<Option<Integration>> {
        let row = sqlx::query("SELECT * FROM integrations WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| integration_from_row(&r)).transpose()
    }

    async fn integrations(&self) -> Result<Vec<Integration>> {
        let rows = sqlx::query("SELECT * FROM integrations ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(integration_from_row).collect()
    }

    async fn update_integration(
        &self,
        id: i64,
        integration: NewIntegration,
    ) -> Result<Integration> {
        let row = sqlx::query(
            "UPDATE integrations SET name = ?2, kind = ?3, origin_credential_id = ?4,
                 destination_credential_id = ?5, settings = ?6, updated_at = ?7
             WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(&integration.name)
        .bind(&integration.kind)
        .bind(integration.origin_credential_id)
        .bind(integration.destination_credential_id)
        .bind(integration.settings.to_string())
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| {
            conflict(e, || {
                format!("another integration is named {:?}", integration.name)
            })
        })?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("integration {id}"),
        })?;
        integration_from_row(&row)
    }

    async fn delete_integration(&self, id: i64) -> Result<bool> {
        let result = sqlx::query("DELETE FROM integrations WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict(e, || format!("integration {id} is still referenced")))?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_integration_active(&self, id: i64, active: bool) -> Result<Option<Integration>> {
        // Starts with a write, so the transaction holds SQLite's write lock from its first
        // statement and cannot fail on a stale snapshot.
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE integrations SET active = ?2, updated_at = ?3 WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(active)
        .bind(Utc::now())
        .fetch_optional(&mut *tx)
        .await?;
        if !active {
            sqlx::query(
                "DELETE FROM runs WHERE integration_id = ?1 AND status = 'QUEUED' AND attempts = 0",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        row.map(|r| integration_from_row(&r)).transpose()
    }

    async fn enqueue_run(&self, request: &RunRequest) -> Result<Enqueued> {
        let (key, role, gap_ms) = match &request.exclusion {
            Some(e) => (
                Some(e.key.as_str()),
                Some(to_text(&e.role)),
                e.gap_seconds.max(0) * 1000,
            ),
            None => (None, None, 0),
        };
        let due = ms(request.due_at);
        // One statement: SQLite runs it under its write lock, so two processes cannot both see
        // "nothing queued"; the unique index on scheduled due times settles the rest.
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO runs (integration_id, trigger, status, started_at, due_ms, exclusion_key, exclusion_role, exclusion_gap_ms)
             SELECT ?1, ?2, 'QUEUED', ?3, ?4, ?5, ?6, ?7
             WHERE NOT EXISTS (SELECT 1 FROM runs WHERE integration_id = ?1 AND status = 'QUEUED' AND attempts = 0 AND due_ms <= ?4)
             ON CONFLICT DO NOTHING
             RETURNING {RUN_COLUMNS}"
        )))
        .bind(request.integration_id)
        .bind(to_text(&request.trigger))
        .bind(request.due_at)
        .bind(due)
        .bind(key)
        .bind(role)
        .bind(gap_ms)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok(Enqueued {
                run: run_from_row(&row)?,
                created: true,
            });
        }
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE integration_id = ?1 AND ((status = 'QUEUED' AND attempts = 0 AND due_ms <= ?2)
                 OR (due_ms = ?2 AND trigger IN ('schedule', 'daily') AND ?3 IN ('schedule', 'daily')))
             ORDER BY (status = 'QUEUED') DESC, due_ms, id LIMIT 1"
        )))
        .bind(request.integration_id)
        .bind(due)
        .bind(to_text(&request.trigger))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("queued run of integration {}", request.integration_id),
        })?;
        Ok(Enqueued {
            run: run_from_row(&existing)?,
            created: false,
        })
    }

    async fn claim_run(&self, claim: &Claim) -> Result<Option<Run>> {
        let result = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'RUNNING', lease_owner = ?1, lease_expires_ms = ?3,
                 started_at = CASE WHEN attempts = 0 THEN ?5 ELSE started_at END,
                 attempts = attempts + 1
             WHERE id = ({CLAIMABLE})
             RETURNING {RUN_COLUMNS}"
        )))
        .bind(&claim.owner)
        .bind(ms(claim.now))
        .bind(ms(claim.lease_until))
        .bind(claim.run_id)
        .bind(claim.now)
        .fetch_optional(&self.pool)
        .await;
        match result {
            Ok(row) => row.map(|r| run_from_row(&r)).transpose(),
            // Another worker claimed a run of the same configuration first: nothing to claim.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET lease_expires_ms = ?3 WHERE {HELD}"
        )))
        .bind(lease.run_id)
        .bind(&lease.owner)
        .bind(ms(until))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_run(&self, lease: &Lease, entry: &NewLogEntry) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'QUEUED', lease_owner = NULL, lease_expires_ms = NULL WHERE {HELD}"
        )))
        .bind(lease.run_id)
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_logs(&mut tx, lease.run_id, std::slice::from_ref(entry)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn requeue_expired_runs(
        &self,
        now: DateTime<Utc>,
        entry: &NewLogEntry,
    ) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE runs SET status = 'QUEUED', lease_owner = NULL, lease_expires_ms = NULL
             WHERE status = 'RUNNING' AND lease_expires_ms < ?1 RETURNING id",
        )
        .bind(ms(now))
        .fetch_all(&mut *tx)
        .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        for id in &ids {
            insert_logs(&mut tx, *id, std::slice::from_ref(entry)).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn add_run_usage(&self, lease: &Lease, usage: &ApiUsage) -> Result<()> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET shopify_requests = shopify_requests + ?3, shopify_points = shopify_points + ?4,
                 shopify_throttled = shopify_throttled + ?5, pulpo_requests = pulpo_requests + ?6,
                 pulpo_retries = pulpo_retries + ?7
             WHERE {HELD}"
        )))
        .bind(lease.run_id)
        .bind(&lease.owner)
        .bind(usage.shopify_requests as i64)
        .bind(usage.shopify_points as i64)
        .bind(usage.shopify_throttled as i64)
        .bind(usage.pulpo_requests as i64)
        .bind(usage.pulpo_retries as i64)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(lease_lost(lease.run_id));
        }
        Ok(())
    }

    async fn update_run_counters(&self, lease: &Lease, counters: &RunCounters) -> Result<()> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET fetched = ?3, created = ?4, updated = ?5, cancelled = ?6, skipped = ?7, failed = ?8, conflicts = ?9 WHERE {HELD}"
        )))
        .bind(lease.run_id)
        .bind(&lease.owner)
        .bind(counters.fetched as i64)
        .bind(counters.created as i64)
        .bind(counters.updated as i64)
        .bind(counters.cancelled as i64)
        .bind(counters.skipped as i64)
        .bind(counters.failed as i64)
        .bind(counters.conflicts as i64)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(lease_lost(lease.run_id));
        }
        Ok(())
    }

    async fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        counters: &RunCounters,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = ?3, finished_at = ?4, ended_ms = ?5, error = ?6, fetched = ?7, created = ?8, updated = ?9,
                 cancelled = ?10, skipped = ?11, failed = ?12, conflicts = ?13, lease_owner = NULL, lease_expires_ms = NULL
             WHERE {HELD} RETURNING {RUN_COLUMNS}"
        )))
        .bind(lease.run_id)
        .bind(&lease.owner)
        .bind(to_text(&status))
        .bind(now)
        .bind(ms(now))
        .bind(error)
        .bind(counters.fetched as i64)
        .bind(counters.created as i64)
        .bind(counters.updated as i64)
        .bind(counters.cancelled as i64)
        .bind(counters.skipped as i64)
        .bind(counters.failed as i64)
        .bind(counters.conflicts as i64)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| lease_lost(lease.run_id))?;
        run_from_row(&row)
    }

    async fn run(&self, id: i64) -> Result<Option<Run>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE (?1 IS NULL OR integration_id = ?1) AND (?2 IS NULL OR status = ?2)
               AND (?4 IS NULL OR started_at >= ?4) AND (?5 IS NULL OR started_at < ?5)
               AND (?6 IS NULL OR id < ?6)
             ORDER BY id DESC LIMIT ?3"
        )))
        .bind(filter.integration_id)
        .bind(filter.status.as_ref().map(to_text))
        .bind(i64::from(filter.limit.unwrap_or(100)))
        .bind(filter.started_from)
        .bind(filter.started_until)
        .bind(filter.before_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn append_logs(&self, lease: &Lease, entries: &[NewLogEntry]) -> Result<()> {
        // The lease check writes first, so the transaction holds the write lock throughout and
        // the entries land only while the run is still ours.
        let mut tx = self.pool.begin().await?;
        let held = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET lease_owner = lease_owner WHERE {HELD}"
        )))
        .bind(lease.run_id)
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            return Err(lease_lost(lease.run_id));
        }
        insert_logs(&mut tx, lease.run_id, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn logs(&self, run_id: i64, filter: &LogFilter) -> Result<Vec<StoredLogEntry>> {
        // Levels by severity, so "WARNING" means warnings and errors.
        let levels: Vec<String> = match filter.min_level {
            None => Vec::new(),
            Some(min) => tentacle_domain::run::LogLevel::ALL
                .iter()
                .filter(|l| **l >= min)
                .map(to_text)
                .collect(),
        };
        let levels_json = serde_json::to_string(&levels).expect("strings serialize");
        let rows = sqlx::query(
            "SELECT * FROM run_logs
             WHERE run_id = ?1 AND id > ?2
               AND (?3 = '[]' OR level IN (SELECT value FROM json_each(?3)))
               AND (?4 IS NULL OR record LIKE '%' || ?4 || '%' OR message LIKE '%' || ?4 || '%')
             ORDER BY id LIMIT ?5",
        )
        .bind(run_id)
        .bind(filter.after_id.unwrap_or(0))
        .bind(levels_json)
        .bind(&filter.record)
        .bind(i64::from(filter.limit.unwrap_or(1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let level: String = row.try_get("level")?;
                Ok(StoredLogEntry {
                    id: row.try_get("id")?,
                    run_id: row.try_get("run_id")?,
                    at: row.try_get("at")?,
                    level: from_text(&level)?,
                    record_kind: row.try_get("record_kind")?,
                    record: row.try_get("record")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }

    async fn run_totals(&self) -> Result<Vec<RunTotals>> {
        // julianday() reads the stored RFC 3339 text; the difference is in days.
        let rows = sqlx::query(
            "SELECT integration_id, status, COUNT(*) AS runs,
                    SUM(fetched) AS fetched, SUM(created) AS created, SUM(updated) AS updated,
                    SUM(cancelled) AS cancelled, SUM(skipped) AS skipped, SUM(failed) AS failed,
                    SUM(conflicts) AS conflicts,
                    SUM(shopify_requests) AS shopify_requests, SUM(shopify_points) AS shopify_points,
                    SUM(shopify_throttled) AS shopify_throttled, SUM(pulpo_requests) AS pulpo_requests,
                    SUM(pulpo_retries) AS pulpo_retries,
                    COALESCE(SUM((julianday(finished_at) - julianday(started_at)) * 86400.0), 0.0)
                        AS finished_seconds
             FROM runs GROUP BY integration_id, status ORDER BY integration_id, status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let count = |name: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(name)? as u64) };
                Ok(RunTotals {
                    integration_id: row.try_get("integration_id")?,
                    status: from_text(&status)?,
                    runs: count("runs")?,
                    counters: RunCounters {
                        fetched: count("fetched")?,
                        created: count("created")?,
                        updated: count("updated")?,
                        cancelled: count("cancelled")?,
                        skipped: count("skipped")?,
                        failed: count("failed")?,
                        conflicts: count("conflicts")?,
                    },
                    finished_seconds: row.try_get("finished_seconds")?,
                    usage: ApiUsage {
                        shopify_requests: count("shopify_requests")?,
                        shopify_points: count("shopify_points")?,
                        shopify_throttled: count("shopify_throttled")?,
                        pulpo_requests: count("pulpo_requests")?,
                        pulpo_retries: count("pulpo_retries")?,
                    },
                })
            })
            .collect()
    }

    async fn cursor(&self, integration_id: i64) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT updated_at FROM sync_cursors WHERE integration_id = ?1")
            .bind(integration_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("updated_at")).transpose()?)
    }

    async fn set_cursor(&self, integration_id: i64, updated_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_cursors (integration_id, updated_at) VALUES (?1, ?2)
             ON CONFLICT (integration_id) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(integration_id)
        .bind(updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn order_links(
        &self,
        scope: LinkScope,
        shopify_order_id: &str,
    ) -> Result<Vec<OrderLink>> {
        // Sorted here, not with ORDER BY: SQLite would then walk the primary key (which is in
        // that order) through every link of the scope instead of using `order_links_by_order`,
        // and a run would slow down with every order ever imported.
        let rows = sqlx::query(
            "SELECT * FROM order_links WHERE origin_credential_id = ?1 AND destination_credential_id = ?2 AND shopify_order_id = ?3",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .bind(shopify_order_id)
        .fetch_all(&self.pool)
        .await?;
        let mut links = rows.iter().map(link_from_row).collect::<Result<Vec<_>>>()?;
        links.sort_by(|a, b| a.fulfillment_order_id.cmp(&b.fulfillment_order_id));
        Ok(links)
    }

    async fn order_link(
        &self,
        scope: LinkScope,
        fulfillment_order_id: &str,
    ) -> Result<Option<OrderLink>> {
        let row = sqlx::query(
            "SELECT * FROM order_links WHERE origin_credential_id = ?1 AND destination_credential_id = ?2 AND fulfillment_order_id = ?3",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .bind(fulfillment_order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| link_from_row(&r)).transpose()
    }

    async fn save_order_link(&self, link: &OrderLink) -> Result<()> {
        sqlx::query(
            "INSERT INTO order_links (origin_credential_id, destination_credential_id, fulfillment_order_id, shopify_order_id,
                 order_name, order_num, pulpo_order_id, warehouse_id, fingerprint, state, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (origin_credential_id, destination_credential_id, fulfillment_order_id) DO UPDATE SET
                 shopify_order_id = excluded.shopify_order_id, order_name = excluded.order_name,
                 order_num = excluded.order_num, pulpo_order_id = excluded.pulpo_order_id,
                 warehouse_id = excluded.warehouse_id, fingerprint = excluded.fingerprint,
                 state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(link.scope.origin_credential_id)
        .bind(link.scope.destination_credential_id)
        .bind(&link.fulfillment_order_id)
        .bind(&link.shopify_order_id)
        .bind(&link.order_name)
        .bind(&link.order_num)
        .bind(link.pulpo_order_id)
        .bind(link.warehouse_id)
        .bind(link.fingerprint.to_string())
        .bind(to_text(&link.pulpo_state))
        .bind(link.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn count_order_links(&self, scope: LinkScope) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM order_links WHERE origin_credential_id = ?1 AND destination_credential_id = ?2",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn flag_order(&self, attention: &Attention) -> Result<()> {
        sqlx::query(
            "INSERT INTO order_attention (integration_id, shopify_order_id, order_name, kind, reason, attempts, run_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)
             ON CONFLICT (integration_id, shopify_order_id) DO UPDATE SET order_name = excluded.order_name,
                 kind = excluded.kind, reason = excluded.reason, attempts = order_attention.attempts + 1,
                 run_id = excluded.run_id, updated_at = excluded.updated_at",
        )
        .bind(attention.integration_id)
        .bind(&attention.shopify_order_id)
        .bind(&attention.order_name)
        .bind(to_text(&attention.kind))
        .bind(&attention.reason)
        .bind(attention.run_id)
        .bind(attention.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_order_flag(&self, integration_id: i64, shopify_order_id: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM order_attention WHERE integration_id = ?1 AND shopify_order_id = ?2",
        )
        .bind(integration_id)
        .bind(shopify_order_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn flagged_orders(&self, integration_id: Option<i64>) -> Result<Vec<Attention>> {
        let rows = sqlx::query("SELECT * FROM order_attention WHERE (?1 IS NULL OR integration_id = ?1) ORDER BY updated_at DESC")
            .bind(integration_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(attention_from_row).collect()
    }

    async fn create_api_token(&self, name: &str, token_hash: &str) -> Result<ApiToken> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3) RETURNING *",
        )
        .bind(name)
        .bind(token_hash)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| conflict(e, || format!("an API token named {name:?} exists already")))?;
        api_token_from_row(&row)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE token_hash = ?1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| api_token_from_row(&r)).transpose()
    }

    async fn create_user(&self, name: &str, password_hash: &str) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (name, password_hash, created_at) VALUES (?1, ?2, ?3) RETURNING *",
        )
        .bind(name)
        .bind(password_hash)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| conflict(e, || format!("a user named {name:?} exists already")))?;
        user_from_row(&row)
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn create_session(&self, session: &NewSession) -> Result<Session> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id)
        .bind(&session.csrf_token)
        .bind(now)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(SESSION_SELECT)
            .bind(&session.token_hash)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        session_from_row(&row)
    }

    async fn session_by_hash(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>> {
        let row = sqlx::query(SESSION_SELECT)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

const SESSION_SELECT: &str = "SELECT s.*, u.name AS user_name FROM sessions s \
     JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2";

fn user_from_row(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<Session> {
    Ok(Session {
        id: row.try_get("id")?,
        token_hash: row.try_get("token_hash")?,
        user_id: row.try_get("user_id")?,
        user_name: row.try_get("user_name")?,
        csrf_token: row.try_get("csrf_token")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn api_token_from_row(row: &SqliteRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        created_at: row.try_get("created_at")?,
    })
}
