//! The SQLite store: one file, WAL mode, migrations applied on open.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use tentacle_domain::run::{ApiUsage, RunCounters, RunStatus};

use crate::rows::{
    RUN_COLUMNS, api_token_from_row, attention_from_row, conflict, credential_from_row, from_ms,
    integration_from_row, lease_lost, link_from_row, log_entry_from_row, migrate, ms, run_from_row,
    run_totals_from_row, secrets_aad, session_from_row, to_text, user_from_row,
};
use crate::wake::WakeSender;
use crate::{
    ApiToken, Attention, Cipher, Claim, Credential, Enqueued, Integration, Lease, LinkScope,
    LogFilter, NewCredential, NewIntegration, NewLogEntry, NewSession, OrderLink, Reap, Reaped,
    Result, Run, RunFilter, RunRequest, RunTotals, Session, Store, StoreError, StoredLogEntry,
    User, WakeUps,
};

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
            &secrets_aad(&credential.name, credential.kind),
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
        credential_from_row(&self.cipher, &row)
    }

    async fn credential(&self, id: i64) -> Result<Option<Credential>> {
        let row = sqlx::query("SELECT * FROM credentials WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| credential_from_row(&self.cipher, &r))
            .transpose()
    }

    async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>> {
        let row = sqlx::query("SELECT * FROM credentials WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| credential_from_row(&self.cipher, &r))
            .transpose()
    }

    async fn credentials(&self) -> Result<Vec<Credential>> {
        let rows = sqlx::query("SELECT * FROM credentials ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| credential_from_row(&self.cipher, r))
            .collect()
    }

    async fn update_credential(&self, id: i64, credential: NewCredential) -> Result<Credential> {
        // The name and kind are the AAD of the secrets, so they are sealed again with them.
        let sealed = self.cipher.encrypt(
            &credential.secrets.to_plain_json(),
            &secrets_aad(&credential.name, credential.kind),
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
        credential_from_row(&self.cipher, &row)
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
        .await
        .map_err(|e| conflict(e, || "the origin or destination credential does not exist".into()))?;
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
        .await
        .map_err(|e| {
            conflict(e, || {
                format!("integration {} does not exist", request.integration_id)
            })
        })?;
        if let Some(row) = inserted {
            self.wake.wake();
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

    async fn queued_unstarted_due(&self) -> Result<HashMap<i64, DateTime<Utc>>> {
        let rows = sqlx::query(
            "SELECT integration_id, MIN(due_ms) AS due_ms FROM runs
             WHERE status = 'QUEUED' AND attempts = 0 GROUP BY integration_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let due: i64 = row.try_get("due_ms")?;
                Ok((row.try_get("integration_id")?, from_ms(due)?))
            })
            .collect()
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
        self.wake.wake();
        Ok(true)
    }

    async fn reap_expired_runs(&self, reap: &Reap) -> Result<Reaped> {
        let mut tx = self.pool.begin().await?;
        let ids = |rows: Vec<SqliteRow>| {
            rows.iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<Result<Vec<_>, _>>()
        };
        let failed = ids(sqlx::query(
            "UPDATE runs SET status = 'FAILED', losses = losses + 1, finished_at = ?2, ended_ms = ?1,
                 error = ?3, lease_owner = NULL, lease_expires_ms = NULL
             WHERE status = 'RUNNING' AND lease_expires_ms < ?1 AND losses + 1 >= ?4 RETURNING id",
        )
        .bind(ms(reap.now))
        .bind(reap.now)
        .bind(&reap.failed.message)
        .bind(reap.max_losses)
        .fetch_all(&mut *tx)
        .await?)?;
        let requeued = ids(sqlx::query(
            "UPDATE runs SET status = 'QUEUED', losses = losses + 1, lease_owner = NULL,
                 lease_expires_ms = NULL
             WHERE status = 'RUNNING' AND lease_expires_ms < ?1 RETURNING id",
        )
        .bind(ms(reap.now))
        .fetch_all(&mut *tx)
        .await?)?;
        for id in &failed {
            insert_logs(&mut tx, *id, std::slice::from_ref(&reap.failed)).await?;
        }
        for id in &requeued {
            insert_logs(&mut tx, *id, std::slice::from_ref(&reap.resumed)).await?;
        }
        tx.commit().await?;
        if !(failed.is_empty() && requeued.is_empty()) {
            self.wake.wake();
        }
        Ok(Reaped { requeued, failed })
    }

    fn wake_ups(&self) -> WakeUps {
        self.wake.subscribe()
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
        // The configuration is free again: a run queued behind this one may start.
        self.wake.wake();
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
        // Entries land only while the run is still ours: the lease check holds the run until
        // the commit.
        let mut tx = self.begin_held(lease).await?;
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
        rows.iter().map(log_entry_from_row).collect()
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
        rows.iter().map(run_totals_from_row).collect()
    }

    async fn cursor(&self, integration_id: i64) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT updated_at FROM sync_cursors WHERE integration_id = ?1")
            .bind(integration_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("updated_at")).transpose()?)
    }

    async fn set_cursor(&self, integration_id: i64, updated_at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_cursor(&mut conn, integration_id, updated_at).await
    }

    async fn set_cursor_leased(
        &self,
        lease: &Lease,
        integration_id: i64,
        updated_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_held(lease).await?;
        write_cursor(&mut tx, integration_id, updated_at).await?;
        tx.commit().await?;
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
        let mut conn = self.pool.acquire().await?;
        write_order_link(&mut conn, link).await
    }

    async fn save_order_link_leased(&self, lease: &Lease, link: &OrderLink) -> Result<()> {
        let mut tx = self.begin_held(lease).await?;
        write_order_link(&mut tx, link).await?;
        tx.commit().await?;
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
        let mut conn = self.pool.acquire().await?;
        write_flag(&mut conn, attention).await
    }

    async fn flag_order_leased(&self, lease: &Lease, attention: &Attention) -> Result<()> {
        let mut tx = self.begin_held(lease).await?;
        write_flag(&mut tx, attention).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn clear_order_flag(&self, integration_id: i64, shopify_order_id: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        delete_flag(&mut conn, integration_id, shopify_order_id).await
    }

    async fn clear_order_flag_leased(
        &self,
        lease: &Lease,
        integration_id: i64,
        shopify_order_id: &str,
    ) -> Result<()> {
        let mut tx = self.begin_held(lease).await?;
        delete_flag(&mut tx, integration_id, shopify_order_id).await?;
        tx.commit().await?;
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

    async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS version FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("version")?)
    }
}

const SESSION_SELECT: &str = "SELECT s.*, u.name AS user_name FROM sessions s \
     JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_at > ?2";

async fn write_cursor(
    conn: &mut sqlx::SqliteConnection,
    integration_id: i64,
    updated_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_cursors (integration_id, updated_at) VALUES (?1, ?2)
         ON CONFLICT (integration_id) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(integration_id)
    .bind(updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_order_link(conn: &mut sqlx::SqliteConnection, link: &OrderLink) -> Result<()> {
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
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_flag(conn: &mut sqlx::SqliteConnection, attention: &Attention) -> Result<()> {
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
    .execute(conn)
    .await?;
    Ok(())
}

async fn delete_flag(
    conn: &mut sqlx::SqliteConnection,
    integration_id: i64,
    shopify_order_id: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM order_attention WHERE integration_id = ?1 AND shopify_order_id = ?2")
        .bind(integration_id)
        .bind(shopify_order_id)
        .execute(conn)
        .await?;
    Ok(())
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
