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
use tentacle_domain::run::{RunCounters, RunStatus, Trigger};

use crate::{
    Attention, Cipher, Credential, CredentialKind, Integration, LinkScope, LogFilter,
    NewCredential, NewIntegration, NewLogEntry, OrderLink, Result, Run, RunFilter, Secrets, Store,
    StoreError, StoredLogEntry,
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

const RUN_COLUMNS: &str = "id, integration_id, trigger, status, started_at, finished_at, fetched, created, updated, cancelled, skipped, failed, conflicts, error";

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

    async fn start_run(
        &self,
        integration_id: i64,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO runs (integration_id, trigger, status, started_at) VALUES (?1, ?2, ?3, ?4) RETURNING {RUN_COLUMNS}"
        )))
        .bind(integration_id)
        .bind(to_text(&trigger))
        .bind(to_text(&RunStatus::Running))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        run_from_row(&row)
    }

    async fn update_run_counters(&self, run_id: i64, counters: &RunCounters) -> Result<()> {
        sqlx::query(
            "UPDATE runs SET fetched = ?2, created = ?3, updated = ?4, cancelled = ?5, skipped = ?6, failed = ?7, conflicts = ?8 WHERE id = ?1",
        )
        .bind(run_id)
        .bind(counters.fetched as i64)
        .bind(counters.created as i64)
        .bind(counters.updated as i64)
        .bind(counters.cancelled as i64)
        .bind(counters.skipped as i64)
        .bind(counters.failed as i64)
        .bind(counters.conflicts as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_run(
        &self,
        run_id: i64,
        status: RunStatus,
        counters: &RunCounters,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Run> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = ?2, finished_at = ?3, error = ?4, fetched = ?5, created = ?6, updated = ?7,
                 cancelled = ?8, skipped = ?9, failed = ?10, conflicts = ?11
             WHERE id = ?1 RETURNING {RUN_COLUMNS}"
        )))
        .bind(run_id)
        .bind(to_text(&status))
        .bind(now)
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
        .ok_or_else(|| StoreError::NotFound { what: format!("run {run_id}") })?;
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
             ORDER BY id DESC LIMIT ?3"
        )))
        .bind(filter.integration_id)
        .bind(filter.status.as_ref().map(to_text))
        .bind(i64::from(filter.limit.unwrap_or(100)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn append_logs(&self, run_id: i64, entries: &[NewLogEntry]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
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
}
