//! Run log entries and the totals over runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::rows::{
    daily_run_totals_from_row, log_entry_from_row, ms, run_totals_from_row, to_text,
};
use crate::{
    DailyRunTotals, Lease, LogFilter, LogStore, NewLogEntry, Result, RunTotals, StoredLogEntry,
};

#[async_trait]
impl LogStore for SqliteStore {
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
        // Ended runs from the totals kept as they end; runs not ended yet (queued, running:
        // few, and found by their partial indexes) summed from the runs table.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT integration_id, status, runs, fetched, created, updated, cancelled, skipped,
                    failed, conflicts, shopify_requests, shopify_points, shopify_throttled,
                    pulpo_requests, pulpo_retries, finished_seconds
             FROM run_totals
             UNION ALL {UNENDED} WHERE status = 'QUEUED' GROUP BY integration_id
             UNION ALL {UNENDED} WHERE status = 'RUNNING' GROUP BY integration_id
             ORDER BY integration_id, status"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_totals_from_row).collect()
    }

    async fn daily_run_totals(&self, since: DateTime<Utc>) -> Result<Vec<DailyRunTotals>> {
        // julianday() reads the stored RFC 3339 text; the difference is in days.
        let rows = sqlx::query(
            "SELECT integration_id, ended_ms / 86400000 AS day, COUNT(*) AS runs,
                    SUM(CASE WHEN status = 'FINISHED_PARTIALLY' THEN 1 ELSE 0 END) AS partial_runs,
                    SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed_runs,
                    SUM(fetched) AS fetched, SUM(created) AS created, SUM(updated) AS updated,
                    SUM(cancelled) AS cancelled, SUM(skipped) AS skipped, SUM(failed) AS failed,
                    SUM(conflicts) AS conflicts,
                    COALESCE(SUM((julianday(finished_at) - julianday(started_at)) * 86400.0), 0.0) AS seconds,
                    COALESCE(MAX((julianday(finished_at) - julianday(started_at)) * 86400.0), 0.0) AS longest_seconds
             FROM runs
             WHERE status IN ('FINISHED', 'FINISHED_PARTIALLY', 'FAILED') AND ended_ms >= ?1
             GROUP BY integration_id, day ORDER BY integration_id, day",
        )
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(daily_run_totals_from_row).collect()
    }
}

/// The totals of the runs of one status not ended yet, per configuration (the same columns as
/// the `run_totals` table).
const UNENDED: &str = "SELECT integration_id, MIN(status) AS status, COUNT(*) AS runs,
    SUM(fetched), SUM(created), SUM(updated), SUM(cancelled), SUM(skipped), SUM(failed),
    SUM(conflicts), SUM(shopify_requests), SUM(shopify_points), SUM(shopify_throttled),
    SUM(pulpo_requests), SUM(pulpo_retries), 0.0 FROM runs";

pub(super) async fn insert_logs(
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
