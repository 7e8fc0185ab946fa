//! The scheduler's election on PostgreSQL: a session-level advisory lock held on a connection
//! of its own. The lock lives as long as that connection, so a holder that dies (killed, its
//! machine gone) frees it when PostgreSQL notices the connection closed, with no lease to wait
//! out; every other process tries to take it at each poll. The `scheduler_lease` row only
//! tells who holds it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ConnectOptions, Connection, PgConnection, Row};

use super::PgStore;
use crate::rows::{from_ms, ms};
use crate::{Result, SchedulerLease, SchedulerStore};

/// This process's connection for the election, and whether it holds the lock.
pub(super) struct SchedulerSession {
    connection: PgConnection,
    holds: bool,
}

impl PgStore {
    /// The advisory lock's name: one per schema, so databases shared by several schemas (the
    /// tests') elect one scheduler each.
    fn scheduler_lock(&self) -> String {
        format!("tentacle_scheduler:{}", self.schema)
    }

    /// Tries the lock on `session`; `Err` when its connection failed.
    async fn try_scheduler_lock(&self, session: &mut SchedulerSession) -> Result<()> {
        session.holds = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(self.scheduler_lock())
            .fetch_one(&mut session.connection)
            .await?;
        Ok(())
    }
}

/// Says who holds the lock, on the lock's own connection: a failure there means the lock may be
/// gone with it.
async fn record_holder(
    connection: &mut PgConnection,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO scheduler_lease (id, owner, since_ms, lease_expires_ms) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET
             owner = EXCLUDED.owner,
             since_ms = CASE WHEN scheduler_lease.owner = EXCLUDED.owner
                             THEN scheduler_lease.since_ms ELSE EXCLUDED.since_ms END,
             lease_expires_ms = EXCLUDED.lease_expires_ms",
    )
    .bind(owner)
    .bind(ms(now))
    .bind(ms(until))
    .execute(connection)
    .await?;
    Ok(())
}

#[async_trait]
impl SchedulerStore for PgStore {
    async fn hold_scheduler(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut slot = self.scheduler.lock().await;
        if slot.is_none() {
            let connection = self
                .connect
                .clone()
                .application_name("tentacle scheduler")
                .connect()
                .await?;
            *slot = Some(SchedulerSession {
                connection,
                holds: false,
            });
        }
        let Some(session) = slot.as_mut() else {
            return Ok(false);
        };
        let attempt = async {
            if !session.holds {
                self.try_scheduler_lock(session).await?;
            }
            if session.holds {
                record_holder(&mut session.connection, owner, now, until).await?;
            }
            Ok::<bool, crate::StoreError>(session.holds)
        }
        .await;
        match attempt {
            Ok(holds) => Ok(holds),
            Err(error) => {
                // The connection (and with it any lock it held) is gone or unusable: the next
                // poll connects afresh and competes again.
                *slot = None;
                Err(error)
            }
        }
    }

    async fn release_scheduler(&self, owner: &str) -> Result<()> {
        let Some(mut session) = self.scheduler.lock().await.take() else {
            return Ok(());
        };
        if session.holds {
            sqlx::query("DELETE FROM scheduler_lease WHERE owner = $1")
                .bind(owner)
                .execute(&mut session.connection)
                .await?;
        }
        // Closing the connection frees the session lock.
        session.connection.close().await?;
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
