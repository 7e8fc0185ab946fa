//! Run log entries and the totals over runs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tentacle_domain::run::LogLevel;

use super::PgStore;
use crate::rows::{log_entry_from_row, run_totals_from_row, to_text};
use crate::{Lease, LogFilter, LogStore, NewLogEntry, Result, RunTotals, StoredLogEntry};

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
        let rows = sqlx::query(
            "SELECT integration_id, status, COUNT(*) AS runs,
                    SUM(fetched)::BIGINT AS fetched, SUM(created)::BIGINT AS created,
                    SUM(updated)::BIGINT AS updated, SUM(cancelled)::BIGINT AS cancelled,
                    SUM(skipped)::BIGINT AS skipped, SUM(failed)::BIGINT AS failed,
                    SUM(conflicts)::BIGINT AS conflicts,
                    SUM(shopify_requests)::BIGINT AS shopify_requests,
                    SUM(shopify_points)::BIGINT AS shopify_points,
                    SUM(shopify_throttled)::BIGINT AS shopify_throttled,
                    SUM(pulpo_requests)::BIGINT AS pulpo_requests,
                    SUM(pulpo_retries)::BIGINT AS pulpo_retries,
                    COALESCE(SUM(EXTRACT(EPOCH FROM finished_at - started_at)), 0)::FLOAT8
                        AS finished_seconds
             FROM runs GROUP BY integration_id, status ORDER BY integration_id, status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_totals_from_row).collect()
    }
}

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
