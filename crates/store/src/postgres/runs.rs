//! The run queue: queueing, claims, leases, the reaper, counters, usage, the end of a run,
//! and the lease-checked writes of a running run.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::sync::atomic::Ordering;
use tentacle_domain::run::{ApiUsage, RunCounters, RunStatus};

use super::alerts::decide_incidents;
use super::attention::{delete_flag, write_flag};
use super::integrations::write_cursor;
use super::logs::insert_logs;
use super::products::{delete_product_link, write_product_link};
use super::returns::write_return_link;
use super::sales_orders::write_order_link;
use super::shipments::write_shipment_link;
use super::status_updates::write_status_mark;
use super::{HELD, PgStore};
use crate::rows::{RUN_COLUMNS, RunEnd, conflict, from_ms, lease_lost, ms, run_from_row, to_text};
use crate::{
    Claim, Enqueued, HeldWrite, Lease, NewLogEntry, Pruned, Reap, Reaped, Result, Retention, Run,
    RunFilter, RunRequest, RunStore, StoreError, WakeUps,
};

#[async_trait]
impl RunStore for PgStore {
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
        let mut tx = self.pool.begin().await?;
        // Concurrent schedulers and "run now"s of one configuration take turns, so "nothing
        // queued yet" is decided by one of them at a time; the unique index on scheduled due
        // times backs it up.
        lock(
            &mut tx,
            &format!("tentacle:enqueue:{}", request.integration_id),
        )
        .await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO runs (integration_id, trigger, status, started_at, due_ms, exclusion_key, exclusion_role, exclusion_gap_ms)
             SELECT $1, $2, 'QUEUED', $3, $4, $5, $6, $7
             WHERE NOT EXISTS (SELECT 1 FROM runs WHERE integration_id = $1 AND status = 'QUEUED' AND attempts = 0 AND due_ms <= $4)
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
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| {
            conflict(e, || {
                format!("integration {} does not exist", request.integration_id)
            })
        })?;
        if let Some(row) = inserted {
            self.notify(&mut tx).await?;
            tx.commit().await?;
            return Ok(Enqueued {
                run: run_from_row(&row)?,
                created: true,
            });
        }
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE integration_id = $1 AND ((status = 'QUEUED' AND attempts = 0 AND due_ms <= $2)
                 OR (due_ms = $2 AND trigger IN ('schedule', 'daily') AND $3 IN ('schedule', 'daily')))
             ORDER BY (status = 'QUEUED') DESC, due_ms, id LIMIT 1"
        )))
        .bind(request.integration_id)
        .bind(due)
        .bind(to_text(&request.trigger))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(existing) = existing else {
            tx.rollback().await?;
            return Err(StoreError::NotFound {
                what: format!("queued run of integration {}", request.integration_id),
            });
        };
        tx.commit().await?;
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
        // A candidate can stop being claimable between the pick and the update (a run of its
        // store or configuration was claimed meanwhile): pick again, a few times.
        for _ in 0..4 {
            let mut tx = self.pool.begin().await?;
            let candidate = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{CLAIMABLE} ORDER BY c.due_ms, c.id LIMIT 1 FOR UPDATE OF c SKIP LOCKED"
            )))
            .bind(ms(claim.now))
            .bind(claim.run_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(candidate) = candidate else {
                tx.rollback().await?;
                return Ok(None);
            };
            let id: i64 = candidate.try_get("id")?;
            if let Some(key) = candidate.try_get::<Option<String>, _>("exclusion_key")? {
                // Runs of one store's daily and regular configurations take turns here, and the
                // check is made again under the lock, with what the other claims committed.
                lock(&mut tx, &format!("tentacle:exclusion:{key}")).await?;
                let still = sqlx::query(sqlx::AssertSqlSafe(format!("{CLAIMABLE} AND c.id = $3")))
                    .bind(ms(claim.now))
                    .bind(claim.run_id)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if still.is_none() {
                    tx.rollback().await?;
                    continue;
                }
            }
            let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE runs SET status = 'RUNNING', lease_owner = $2, lease_expires_ms = $3,
                     started_at = CASE WHEN attempts = 0 THEN $4 ELSE started_at END,
                     attempts = attempts + 1
                 WHERE id = $1 AND status = 'QUEUED'
                 RETURNING {RUN_COLUMNS}"
            )))
            .bind(id)
            .bind(&claim.owner)
            .bind(ms(claim.lease_until))
            .bind(claim.now)
            .fetch_optional(&mut *tx)
            .await;
            match claimed {
                Ok(Some(row)) => {
                    tx.commit().await?;
                    return run_from_row(&row).map(Some);
                }
                // Another worker claimed it, or a run of the same configuration, first.
                Ok(None) => tx.rollback().await?,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => tx.rollback().await?,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET lease_expires_ms = $3 WHERE {HELD}"
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
            tx.rollback().await?;
            return Ok(false);
        }
        insert_logs(&mut tx, lease.run_id, std::slice::from_ref(entry)).await?;
        self.notify(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reap_expired_runs(&self, reap: &Reap) -> Result<Reaped> {
        // Reapers of several processes may run at once: each expired run is updated by one of
        // them (the others find it no longer RUNNING once they get its row lock).
        let mut tx = self.pool.begin().await?;
        let failed_rows = sqlx::query(
            "UPDATE runs SET status = 'FAILED', losses = losses + 1, finished_at = $2, ended_ms = $1,
                 error = $3, lease_owner = NULL, lease_expires_ms = NULL
             WHERE status = 'RUNNING' AND lease_expires_ms < $1 AND losses + 1 >= $4
             RETURNING id, integration_id",
        )
        .bind(ms(reap.now))
        .bind(reap.now)
        .bind(&reap.failed.message)
        .bind(reap.max_losses)
        .fetch_all(&mut *tx)
        .await?;
        // A run failed by the reaper ends here: its alert is decided in the same transaction.
        for row in &failed_rows {
            let end = RunEnd {
                run_id: row.try_get("id")?,
                integration_id: row.try_get("integration_id")?,
                status: RunStatus::Failed,
                error: Some(&reap.failed.message),
                now: reap.now,
            };
            decide_incidents(&mut tx, &end).await?;
        }
        let failed = ids(&failed_rows)?;
        let requeued = ids(&sqlx::query(
            "UPDATE runs SET status = 'QUEUED', losses = losses + 1, lease_owner = NULL,
                 lease_expires_ms = NULL
             WHERE status = 'RUNNING' AND lease_expires_ms < $1 RETURNING id",
        )
        .bind(ms(reap.now))
        .fetch_all(&mut *tx)
        .await?)?;
        for id in &failed {
            insert_logs(&mut tx, *id, std::slice::from_ref(&reap.failed)).await?;
            add_to_run_totals(&mut tx, *id).await?;
        }
        for id in &requeued {
            insert_logs(&mut tx, *id, std::slice::from_ref(&reap.resumed)).await?;
        }
        if !(failed.is_empty() && requeued.is_empty()) {
            self.notify(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(Reaped { requeued, failed })
    }

    fn wake_ups(&self) -> WakeUps {
        let wake_ups = self.wake.subscribe();
        if !self.listening.swap(true, Ordering::SeqCst) {
            self.start_listening();
        }
        wake_ups
    }

    async fn add_run_usage(&self, lease: &Lease, usage: &ApiUsage) -> Result<()> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET shopify_requests = shopify_requests + $3, shopify_points = shopify_points + $4,
                 shopify_throttled = shopify_throttled + $5, pulpo_requests = pulpo_requests + $6,
                 pulpo_retries = pulpo_retries + $7
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
            "UPDATE runs SET fetched = $3, created = $4, updated = $5, cancelled = $6, skipped = $7, failed = $8, conflicts = $9 WHERE {HELD}"
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
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = $3, finished_at = $4, ended_ms = $5, error = $6, fetched = $7, created = $8, updated = $9,
                 cancelled = $10, skipped = $11, failed = $12, conflicts = $13, lease_owner = NULL, lease_expires_ms = NULL
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
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(lease_lost(lease.run_id));
        };
        add_to_run_totals(&mut tx, lease.run_id).await?;
        let run = run_from_row(&row)?;
        // The run's alerts are decided in the transaction that ends it (the outbox).
        let end = RunEnd {
            run_id: run.id,
            integration_id: run.integration_id,
            status,
            error,
            now,
        };
        if let Err(error) = decide_incidents(&mut tx, &end).await {
            let _ = tx.rollback().await;
            return Err(error);
        }
        // The configuration is free again: a run queued behind this one may start.
        self.notify(&mut tx).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn run(&self, id: i64) -> Result<Option<Run>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    async fn runs(&self, filter: &RunFilter) -> Result<Vec<Run>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE ($1::BIGINT IS NULL OR integration_id = $1) AND ($2::TEXT IS NULL OR status = $2)
               AND ($4::TIMESTAMPTZ IS NULL OR started_at >= $4) AND ($5::TIMESTAMPTZ IS NULL OR started_at < $5)
               AND ($6::BIGINT IS NULL OR id < $6)
             ORDER BY id DESC LIMIT $3"
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

    async fn prune_runs(&self, retention: &Retention) -> Result<Pruned> {
        // Log entries first, a batch at a time, then the runs left without any: deleting a run
        // with its entries by cascade could be one long transaction for a run with many.
        // SKIP LOCKED: retention jobs of several processes take different rows instead of
        // waiting on (or deadlocking with) each other.
        let mut tx = self.pool.begin().await?;
        let log_entries = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM run_logs WHERE id IN (
                 SELECT l.id FROM run_logs l WHERE l.run_id IN (SELECT r.id FROM runs r WHERE {EXPIRED} LIMIT $3)
                 LIMIT $3 FOR UPDATE SKIP LOCKED)"
        )))
        .bind(ms(retention.ended_before))
        .bind(ms(retention.failed_ended_before))
        .bind(i64::from(retention.batch))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let runs = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM runs WHERE id IN (
                 SELECT r.id FROM runs r
                 WHERE {EXPIRED} AND NOT EXISTS (SELECT 1 FROM run_logs l WHERE l.run_id = r.id)
                 LIMIT $3 FOR UPDATE SKIP LOCKED)"
        )))
        .bind(ms(retention.ended_before))
        .bind(ms(retention.failed_ended_before))
        .bind(i64::from(retention.batch))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Pruned { runs, log_entries })
    }

    async fn write_held(&self, lease: &Lease, writes: &[HeldWrite]) -> Result<()> {
        let mut tx = self.begin_held(lease).await?;
        for write in writes {
            if let Err(error) = apply(&mut tx, write).await {
                // Rolled back here, not on drop, which would leave the run's row locked until a
                // spawned task gets to it; the write's error is the one worth reporting.
                let _ = tx.rollback().await;
                return Err(error);
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The oldest claimable runs: queued, due, their configuration not running, and no run of the
/// other role on the same exclusion key running, ended less than the daily run's gap ago, or
/// (for a daily candidate) a regular run queued due within the gap of the daily run's due time,
/// which goes first. `$1` now (ms), `$2` only this run id (or NULL). The same rule as on SQLite.
const CLAIMABLE: &str = "
    SELECT c.id, c.exclusion_key FROM runs c
    WHERE c.status = 'QUEUED' AND c.due_ms <= $1 AND ($2::BIGINT IS NULL OR c.id = $2)
      AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.integration_id = c.integration_id AND r.status = 'RUNNING')
      AND (c.exclusion_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM runs o
          WHERE o.exclusion_key = c.exclusion_key AND o.exclusion_role <> c.exclusion_role
            AND (o.status = 'RUNNING'
                 OR (o.ended_ms IS NOT NULL AND o.ended_ms +
                     (CASE WHEN c.exclusion_role = 'daily' THEN c.exclusion_gap_ms ELSE o.exclusion_gap_ms END) > $1)
                 OR (c.exclusion_role = 'daily' AND o.status = 'QUEUED'
                     AND o.due_ms <= c.due_ms + c.exclusion_gap_ms))))";

/// Transaction-scoped advisory lock on a name (released at commit or rollback).
async fn lock(tx: &mut sqlx::PgConnection, name: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(name)
        .execute(tx)
        .await?;
    Ok(())
}

/// A run `r` the retention job may delete: final, ended before its status's limit (`$1` for
/// FINISHED and FINISHED PARTIALLY, `$2` for FAILED, epoch ms), and no attention record (all are
/// unresolved: resolving one deletes it) points at it.
const EXPIRED: &str = "r.ended_ms IS NOT NULL
    AND ((r.status IN ('FINISHED', 'FINISHED_PARTIALLY') AND r.ended_ms < $1)
         OR (r.status = 'FAILED' AND r.ended_ms < $2))
    AND NOT EXISTS (SELECT 1 FROM attention a WHERE a.run_id = r.id)";

/// Adds a run that just ended to the totals of its configuration and status, in the
/// transaction that ended it.
async fn add_to_run_totals(conn: &mut sqlx::PgConnection, run_id: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO run_totals (integration_id, status, runs, fetched, created, updated, cancelled,
             skipped, failed, conflicts, shopify_requests, shopify_points, shopify_throttled,
             pulpo_requests, pulpo_retries, finished_seconds)
         SELECT integration_id, status, 1, fetched, created, updated, cancelled, skipped, failed,
             conflicts, shopify_requests, shopify_points, shopify_throttled, pulpo_requests,
             pulpo_retries, COALESCE(EXTRACT(EPOCH FROM finished_at - started_at), 0)::FLOAT8
         FROM runs WHERE id = $1
         ON CONFLICT (integration_id, status) DO UPDATE SET runs = run_totals.runs + 1,
             fetched = run_totals.fetched + excluded.fetched,
             created = run_totals.created + excluded.created,
             updated = run_totals.updated + excluded.updated,
             cancelled = run_totals.cancelled + excluded.cancelled,
             skipped = run_totals.skipped + excluded.skipped,
             failed = run_totals.failed + excluded.failed,
             conflicts = run_totals.conflicts + excluded.conflicts,
             shopify_requests = run_totals.shopify_requests + excluded.shopify_requests,
             shopify_points = run_totals.shopify_points + excluded.shopify_points,
             shopify_throttled = run_totals.shopify_throttled + excluded.shopify_throttled,
             pulpo_requests = run_totals.pulpo_requests + excluded.pulpo_requests,
             pulpo_retries = run_totals.pulpo_retries + excluded.pulpo_retries,
             finished_seconds = run_totals.finished_seconds + excluded.finished_seconds",
    )
    .bind(run_id)
    .execute(conn)
    .await?;
    Ok(())
}

fn ids(rows: &[PgRow]) -> Result<Vec<i64>> {
    Ok(rows
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<Vec<_>, _>>()?)
}

/// One write of a running run, inside the transaction that holds its lease.
async fn apply(conn: &mut sqlx::PgConnection, write: &HeldWrite) -> Result<()> {
    match write {
        HeldWrite::Cursor { integration_id, at } => write_cursor(conn, *integration_id, *at).await,
        HeldWrite::OrderLink(link) => write_order_link(conn, link).await,
        HeldWrite::ShipmentLink(link) => write_shipment_link(conn, link).await,
        HeldWrite::StatusMark(mark) => write_status_mark(conn, mark).await,
        HeldWrite::ProductLink(link) => write_product_link(conn, link).await,
        HeldWrite::DropProductLink { scope, variant_id } => {
            delete_product_link(conn, *scope, variant_id).await
        }
        HeldWrite::ReturnLink(link) => write_return_link(conn, link).await,
        HeldWrite::Flag(attention) => write_flag(conn, attention).await,
        HeldWrite::ClearFlag(key) => delete_flag(conn, key).await,
    }
}
