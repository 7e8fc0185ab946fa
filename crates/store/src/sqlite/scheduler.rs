//! The scheduler's election on SQLite: one lease row, taken or renewed in one statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use crate::rows::{from_ms, ms};
use crate::{Result, SchedulerLease, SchedulerStore};

#[async_trait]
impl SchedulerStore for SqliteStore {
    async fn hold_scheduler(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        // One statement: SQLite's write lock makes the check of the old lease and the take-over
        // one step, so two processes whose polls meet cannot both win.
        let done = sqlx::query(
            "INSERT INTO scheduler_lease (id, owner, since_ms, lease_expires_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET
                 owner = excluded.owner,
                 since_ms = CASE WHEN scheduler_lease.owner = excluded.owner
                                 THEN scheduler_lease.since_ms ELSE excluded.since_ms END,
                 lease_expires_ms = excluded.lease_expires_ms
             WHERE scheduler_lease.owner = excluded.owner
                OR scheduler_lease.lease_expires_ms <= excluded.since_ms",
        )
        .bind(owner)
        .bind(ms(now))
        .bind(ms(until))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_scheduler(&self, owner: &str) -> Result<()> {
        sqlx::query("DELETE FROM scheduler_lease WHERE owner = ?1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn scheduler(&self) -> Result<Option<SchedulerLease>> {
        let row = sqlx::query("SELECT owner, since_ms, lease_expires_ms FROM scheduler_lease")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(SchedulerLease {
                owner: row.try_get("owner")?,
                since: from_ms(row.try_get("since_ms")?)?,
                lease_until: from_ms(row.try_get("lease_expires_ms")?)?,
            })
        })
        .transpose()
    }
}
