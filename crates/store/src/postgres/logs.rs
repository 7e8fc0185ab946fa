//! Run log entries and the totals over runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tentacle_domain::run::LogLevel;

use super::PgStore;
use crate::rows::{
    daily_run_totals_from_row, log_entry_from_row, ms, run_totals_from_row, to_text,
};
use crate::{
    DailyRunTotals, Lease, LogFilter, LogStore, NewLogEntry, Result, RunTotals, StoredLogEntry,
};

#[async_trait]
impl LogStore for PgStore {
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
            Some(min) => LogLevel::ALL
                .iter()
                .filter(|l| **l >= min)
                .map(to_text)
                .collect(),
        };
        let rows = sqlx::query(
            "SELECT * FROM run_logs
             WHERE run_id = $1 AND id > $2
               AND (cardinality($3::TEXT[]) = 0 OR level = ANY($3))
               AND ($4::TEXT IS NULL OR record ILIKE '%' || $4 || '%' OR message ILIKE '%' || $4 || '%')
             ORDER BY id LIMIT $5",
        )
        .bind(run_id)
        .bind(filter.after_id.unwrap_or(0))
        .bind(levels)
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
        let rows = sqlx::query(
            "SELECT integration_id, ended_ms / 86400000 AS day, COUNT(*) AS runs,
                    SUM(CASE WHEN status = 'FINISHED_PARTIALLY' THEN 1 ELSE 0 END)::BIGINT AS partial_runs,
                    SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END)::BIGINT AS failed_runs,
                    SUM(fetched)::BIGINT AS fetched, SUM(created)::BIGINT AS created,
                    SUM(updated)::BIGINT AS updated, SUM(cancelled)::BIGINT AS cancelled,
                    SUM(skipped)::BIGINT AS skipped, SUM(failed)::BIGINT AS failed,
                    SUM(conflicts)::BIGINT AS conflicts,
                    COALESCE(SUM(EXTRACT(EPOCH FROM finished_at - started_at)), 0)::FLOAT8 AS seconds,
                    COALESCE(MAX(EXTRACT(EPOCH FROM finished_at - started_at)), 0)::FLOAT8 AS longest_seconds
             FROM runs
             WHERE status IN ('FINISHED', 'FINISHED_PARTIALLY', 'FAILED') AND ended_ms >= $1
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
    SUM(fetched)::BIGINT, SUM(created)::BIGINT, SUM(updated)::BIGINT, SUM(cancelled)::BIGINT,
    SUM(skipped)::BIGINT, SUM(failed)::BIGINT, SUM(conflicts)::BIGINT,
    SUM(shopify_requests)::BIGINT, SUM(shopify_points)::BIGINT, SUM(shopify_throttled)::BIGINT,
    SUM(pulpo_requests)::BIGINT, SUM(pulpo_retries)::BIGINT, 0::FLOAT8 FROM runs";

pub(super) async fn insert_logs(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    entries: &[NewLogEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // One statement for the whole batch: a run flushes its log in batches.
    let at: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
    let level: Vec<String> = entries.iter().map(|e| to_text(&e.level)).collect();
    let record_kind: Vec<Option<String>> = entries.iter().map(|e| e.record_kind.clone()).collect();
    let record: Vec<Option<String>> = entries.iter().map(|e| e.record.clone()).collect();
    let message: Vec<String> = entries.iter().map(|e| e.message.clone()).collect();
    sqlx::query(
        "INSERT INTO run_logs (run_id, at, level, record_kind, record, message)
         SELECT $1, e.at, e.level, e.record_kind, e.record, e.message
         FROM UNNEST($2::TIMESTAMPTZ[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[])
             WITH ORDINALITY AS e(at, level, record_kind, record, message, n)
         ORDER BY e.n",
    )
    .bind(run_id)
    .bind(at)
    .bind(level)
    .bind(record_kind)
    .bind(record)
    .bind(message)
    .execute(tx)
    .await?;
    Ok(())
}
