//! Alert channels (the SMTP password sealed with the cipher, the channel's name as its AAD),
//! the incidents decided where a run ends, and the outbox their messages wait in.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;
use tentacle_domain::alerts::{AlertEvent, IncidentKind};
use tentacle_domain::messages::{AlertFacts, alert_message};
use tentacle_domain::run::RunStatus;

use super::PgStore;
use crate::rows::{
    Notice, RunEnd, alert_channel_from_row, alert_config, alert_record_from_row, conflict, from_ms,
    ms, seal_alert_password,
};
use crate::{
    AlertChannel, AlertClaim, AlertDelivery, AlertFilter, AlertRecord, AlertStore, ApiVersionDue,
    NewAlertChannel, Result, StoreError,
};

#[async_trait]
impl AlertStore for PgStore {
    async fn save_alert_channel(&self, channel: NewAlertChannel) -> Result<AlertChannel> {
        let existing = sqlx::query("SELECT id FROM alert_channels WHERE name = $1")
            .bind(&channel.name)
            .fetch_optional(&self.pool)
            .await?;
        match existing {
            Some(row) => self.update_alert_channel(row.try_get("id")?, channel).await,
            None => self.write_channel(None, channel).await,
        }
    }

    async fn create_alert_channel(&self, channel: NewAlertChannel) -> Result<AlertChannel> {
        // An insert: the unique index on the name makes the second of two creates a Conflict.
        self.write_channel(None, channel).await
    }

    async fn update_alert_channel(
        &self,
        id: i64,
        channel: NewAlertChannel,
    ) -> Result<AlertChannel> {
        self.write_channel(Some(id), channel).await
    }

    async fn alert_channel(&self, id: i64) -> Result<Option<AlertChannel>> {
        let row = sqlx::query("SELECT * FROM alert_channels WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.channel_from(&row).await?)),
            None => Ok(None),
        }
    }

    async fn alert_channel_by_name(&self, name: &str) -> Result<Option<AlertChannel>> {
        let row = sqlx::query("SELECT * FROM alert_channels WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.channel_from(&row).await?)),
            None => Ok(None),
        }
    }

    async fn alert_channels(&self) -> Result<Vec<AlertChannel>> {
        let rows = sqlx::query("SELECT * FROM alert_channels ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let mut channels = Vec::with_capacity(rows.len());
        for row in &rows {
            channels.push(self.channel_from(row).await?);
        }
        Ok(channels)
    }

    async fn delete_alert_channel(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM alert_channels WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn open_stale_incidents(&self, now: DateTime<Utc>) -> Result<usize> {
        // Several processes may check at once: the unique index on open incidents lets one of
        // them open each incident; the others find it open and queue nothing.
        let candidates = sqlx::query(
            "SELECT c.id AS channel_id, c.stale_after_hours, i.id AS integration_id, i.name, i.updated_at,
                    (SELECT MAX(r.ended_ms) FROM runs r WHERE r.integration_id = i.id
                         AND r.status IN ('FINISHED', 'FINISHED_PARTIALLY')) AS last_success_ms
             FROM alert_channels c JOIN integrations i ON i.active
             WHERE (c.covers_all OR EXISTS (SELECT 1 FROM alert_channel_integrations ci
                                            WHERE ci.channel_id = c.id AND ci.integration_id = i.id))
               AND NOT EXISTS (SELECT 1 FROM alert_incidents s WHERE s.integration_id = i.id
                                   AND s.kind = 'stale' AND s.channel_id = c.id AND s.closed_at IS NULL)",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut queued = 0;
        for row in &candidates {
            let hours: i64 = row.try_get("stale_after_hours")?;
            let changed: DateTime<Utc> = row.try_get("updated_at")?;
            let since = match row.try_get::<Option<i64>, _>("last_success_ms")? {
                Some(at) => from_ms(at)?.max(changed),
                None => changed,
            };
            if now - since <= TimeDelta::hours(hours) {
                continue;
            }
            let channel_id: i64 = row.try_get("channel_id")?;
            let integration_id: i64 = row.try_get("integration_id")?;
            let name: String = row.try_get("name")?;
            let mut tx = self.pool.begin().await?;
            let Some(incident) = open_incident(
                &mut tx,
                integration_id,
                IncidentKind::Stale,
                Some(channel_id),
                None,
                now,
            )
            .await?
            else {
                tx.rollback().await?;
                continue;
            };
            let message = alert_message(&AlertFacts {
                integration: &name,
                kind: IncidentKind::Stale,
                event: AlertEvent::Opened,
                run_id: None,
                status: None,
                error: None,
                conflicts: 0,
                stale_after_hours: hours as u32,
                detail: None,
            });
            let notice = Notice {
                incident_id: incident,
                run_id: None,
                integration: &name,
                kind: IncidentKind::Stale,
                event: AlertEvent::Opened,
                message: &message,
                now,
            };
            queue(&mut tx, &[channel_id], &notice).await?;
            tx.commit().await?;
            queued += 1;
        }
        Ok(queued)
    }

    async fn sync_api_version_incidents(
        &self,
        now: DateTime<Utc>,
        due: &[ApiVersionDue],
    ) -> Result<usize> {
        let mut queued = 0;
        let open: Vec<(i64, i64, String)> = sqlx::query(
            "SELECT s.id, s.integration_id, i.name FROM alert_incidents s
             JOIN integrations i ON i.id = s.integration_id
             WHERE s.kind = 'api_version' AND s.closed_at IS NULL",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("integration_id")?,
                r.try_get("name")?,
            ))
        })
        .collect::<Result<_>>()?;
        for (incident, integration_id, name) in &open {
            if due.iter().any(|d| d.integration_id == *integration_id) {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let closed = sqlx::query(
                "UPDATE alert_incidents SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL",
            )
            .bind(incident)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if closed.rows_affected() == 0 {
                tx.rollback().await?;
                continue;
            }
            let told = told_channels(&mut tx, *incident).await?;
            let message = alert_message(&api_version_facts(name, AlertEvent::Recovered, None));
            let notice = Notice {
                incident_id: *incident,
                run_id: None,
                integration: name,
                kind: IncidentKind::ApiVersion,
                event: AlertEvent::Recovered,
                message: &message,
                now,
            };
            queue(&mut tx, &told, &notice).await?;
            tx.commit().await?;
            queued += told.len();
        }
        for item in due {
            if open.iter().any(|(_, id, _)| *id == item.integration_id) {
                continue;
            }
            let name: Option<String> =
                sqlx::query_scalar("SELECT name FROM integrations WHERE id = $1")
                    .bind(item.integration_id)
                    .fetch_optional(&self.pool)
                    .await?;
            let Some(name) = name else {
                continue;
            };
            let mut tx = self.pool.begin().await?;
            let Some(incident) = open_incident(
                &mut tx,
                item.integration_id,
                IncidentKind::ApiVersion,
                None,
                None,
                now,
            )
            .await?
            else {
                tx.rollback().await?;
                continue;
            };
            let covering = covering_channels(&mut tx, item.integration_id).await?;
            let message = alert_message(&api_version_facts(
                &name,
                AlertEvent::Opened,
                Some(&item.note),
            ));
            let notice = Notice {
                incident_id: incident,
                run_id: None,
                integration: &name,
                kind: IncidentKind::ApiVersion,
                event: AlertEvent::Opened,
                message: &message,
                now,
            };
            queue(&mut tx, &covering, &notice).await?;
            tx.commit().await?;
            queued += covering.len();
        }
        Ok(queued)
    }

    async fn claim_alerts(&self, claim: &AlertClaim) -> Result<Vec<AlertDelivery>> {
        let rows = sqlx::query(
            // SKIP LOCKED: a deliverer of another process never waits on, nor takes, the
            // messages this one is claiming.
            "UPDATE alert_outbox o SET lease_owner = $1, lease_expires_ms = $3, attempts = o.attempts + 1
             FROM (SELECT id FROM alert_outbox
                   WHERE delivered_at IS NULL AND next_attempt_ms <= $2
                     AND (lease_expires_ms IS NULL OR lease_expires_ms < $2)
                     AND ($4::BIGINT IS NULL OR run_id = $4)
                   ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED) due
             WHERE o.id = due.id
             RETURNING o.*",
        )
        .bind(&claim.owner)
        .bind(ms(claim.now))
        .bind(ms(claim.lease_until))
        .bind(claim.run_id)
        .bind(claim.limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = alert_record_from_row(row)?;
            let channel = self
                .alert_channel(record.channel_id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("alert channel {}", record.channel_id),
                })?;
            claimed.push(AlertDelivery { record, channel });
        }
        claimed.sort_by_key(|d| d.record.id);
        Ok(claimed)
    }

    async fn alert_delivered(&self, id: i64, owner: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alert_outbox SET delivered_at = $3, last_error = NULL, lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = $1 AND lease_owner = $2 AND delivered_at IS NULL",
        )
        .bind(id)
        .bind(owner)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn alert_failed(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alert_outbox SET last_error = $3, next_attempt_ms = $4, lease_owner = NULL, lease_expires_ms = NULL
             WHERE id = $1 AND lease_owner = $2 AND delivered_at IS NULL",
        )
        .bind(id)
        .bind(owner)
        .bind(error)
        .bind(ms(retry_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn alert_records(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM alert_outbox
             WHERE ($1::BIGINT IS NULL OR channel_id = $1) AND ($2::BIGINT IS NULL OR run_id = $2)
               AND (NOT $3 OR delivered_at IS NULL)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(filter.channel_id)
        .bind(filter.run_id)
        .bind(filter.pending)
        .bind(i64::from(filter.limit.unwrap_or(100)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_record_from_row).collect()
    }
}

impl PgStore {
    async fn write_channel(
        &self,
        id: Option<i64>,
        channel: NewAlertChannel,
    ) -> Result<AlertChannel> {
        let now = Utc::now();
        let sealed = seal_alert_password(&self.cipher, &channel.name, channel.password.as_ref());
        let taken = || format!("another alert channel is named {:?}", channel.name);
        let mut tx = self.pool.begin().await?;
        let row = match id {
            None => sqlx::query(
                "INSERT INTO alert_channels (name, kind, config, secrets, covers_all, stale_after_hours, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .bind(&channel.name)
            .bind(channel.target.kind().as_str())
            .bind(alert_config(&channel.target))
            .bind(sealed)
            .bind(channel.integration_ids.is_none())
            .bind(i64::from(channel.stale_after_hours))
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| conflict(e, taken))?,
            Some(id) => sqlx::query(
                "UPDATE alert_channels SET name = $2, kind = $3, config = $4, secrets = $5, covers_all = $6,
                     stale_after_hours = $7, updated_at = $8
                 WHERE id = $1 RETURNING id",
            )
            .bind(id)
            .bind(&channel.name)
            .bind(channel.target.kind().as_str())
            .bind(alert_config(&channel.target))
            .bind(sealed)
            .bind(channel.integration_ids.is_none())
            .bind(i64::from(channel.stale_after_hours))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| conflict(e, taken))?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("alert channel {id}"),
            })?,
        };
        let id: i64 = row.try_get("id")?;
        sqlx::query("DELETE FROM alert_channel_integrations WHERE channel_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for integration_id in channel.integration_ids.iter().flatten() {
            sqlx::query(
                "INSERT INTO alert_channel_integrations (channel_id, integration_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(integration_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, || format!("integration {integration_id} does not exist")))?;
        }
        tx.commit().await?;
        self.alert_channel(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("alert channel {id}"),
            })
    }

    async fn channel_from(&self, row: &sqlx::postgres::PgRow) -> Result<AlertChannel> {
        let id: i64 = row.try_get("id")?;
        let covers_all: bool = row.try_get("covers_all")?;
        let ids = if covers_all {
            None
        } else {
            let rows = sqlx::query(
                "SELECT integration_id FROM alert_channel_integrations WHERE channel_id = $1 ORDER BY integration_id",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            Some(
                rows.iter()
                    .map(|r| r.try_get("integration_id"))
                    .collect::<Result<Vec<i64>, _>>()?,
            )
        };
        alert_channel_from_row(&self.cipher, row, ids)
    }
}

/// Decides the incidents of a run's end, inside the transaction that ends it: a FAILED end
/// opens the "failed" incident unless one is open; any other end closes it and the "stale"
/// ones, and the "conflicts" one once no record is in conflict; records first flagged in
/// conflict by this run open the "conflicts" incident. Each opening queues one message per
/// channel covering the configuration; each closing a "recovered" message to the channels told
/// of the opening.
pub(super) async fn decide_incidents(
    conn: &mut sqlx::PgConnection,
    end: &RunEnd<'_>,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT name,
                (SELECT COUNT(*)::BIGINT FROM attention a WHERE a.integration_id = i.id AND a.kind = 'conflict') AS conflicts,
                (SELECT COUNT(*)::BIGINT FROM attention a WHERE a.integration_id = i.id AND a.kind = 'conflict'
                     AND a.run_id = $2 AND a.attempts = 1) AS new_conflicts
         FROM integrations i WHERE i.id = $1",
    )
    .bind(end.integration_id)
    .bind(end.run_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let name: String = row.try_get("name")?;
    let conflicts: i64 = row.try_get("conflicts")?;
    let new_conflicts: i64 = row.try_get("new_conflicts")?;
    let facts = |kind, event| AlertFacts {
        integration: &name,
        kind,
        event,
        run_id: Some(end.run_id),
        status: Some(end.status),
        error: end.error,
        conflicts,
        stale_after_hours: 0,
        detail: None,
    };
    let mut opening = Vec::new();
    let mut closing = Vec::new();
    if end.status == RunStatus::Failed {
        opening.push(IncidentKind::Failed);
    } else {
        closing.extend([IncidentKind::Failed, IncidentKind::Stale]);
        if conflicts == 0 {
            closing.push(IncidentKind::Conflicts);
        }
    }
    if new_conflicts > 0 {
        opening.push(IncidentKind::Conflicts);
    }
    for kind in closing {
        let closed = sqlx::query(
            "UPDATE alert_incidents SET closed_at = $3, closed_run_id = $4
             WHERE integration_id = $1 AND kind = $2 AND closed_at IS NULL RETURNING id",
        )
        .bind(end.integration_id)
        .bind(kind.as_str())
        .bind(end.now)
        .bind(end.run_id)
        .fetch_all(&mut *conn)
        .await?;
        for incident in closed {
            let incident: i64 = incident.try_get("id")?;
            let told = told_channels(conn, incident).await?;
            let message = alert_message(&facts(kind, AlertEvent::Recovered));
            let notice = Notice {
                incident_id: incident,
                run_id: Some(end.run_id),
                integration: &name,
                kind,
                event: AlertEvent::Recovered,
                message: &message,
                now: end.now,
            };
            queue(conn, &told, &notice).await?;
        }
    }
    for kind in opening {
        let Some(incident) = open_incident(
            conn,
            end.integration_id,
            kind,
            None,
            Some(end.run_id),
            end.now,
        )
        .await?
        else {
            continue;
        };
        let covering = covering_channels(conn, end.integration_id).await?;
        let message = alert_message(&facts(kind, AlertEvent::Opened));
        let notice = Notice {
            incident_id: incident,
            run_id: Some(end.run_id),
            integration: &name,
            kind,
            event: AlertEvent::Opened,
            message: &message,
            now: end.now,
        };
        queue(conn, &covering, &notice).await?;
    }
    Ok(())
}

/// Opens the incident unless one of its kind is open (the unique index decides, whichever
/// process gets there first): its id, or `None` when one was open already.
async fn open_incident(
    conn: &mut sqlx::PgConnection,
    integration_id: i64,
    kind: IncidentKind,
    channel_id: Option<i64>,
    run_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let row = sqlx::query(
        "INSERT INTO alert_incidents (integration_id, kind, channel_id, opened_at, opened_run_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(integration_id)
    .bind(kind.as_str())
    .bind(channel_id)
    .bind(now)
    .bind(run_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// Queues the notice once per channel.
async fn queue(conn: &mut sqlx::PgConnection, channels: &[i64], notice: &Notice<'_>) -> Result<()> {
    for channel_id in channels {
        sqlx::query(
            "INSERT INTO alert_outbox (channel_id, incident_id, run_id, integration_name, kind, event, subject, body, created_at, next_attempt_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(channel_id)
        .bind(notice.incident_id)
        .bind(notice.run_id)
        .bind(notice.integration)
        .bind(notice.kind.as_str())
        .bind(notice.event.as_str())
        .bind(&notice.message.subject)
        .bind(&notice.message.text)
        .bind(notice.now)
        .bind(ms(notice.now))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn api_version_facts<'a>(
    integration: &'a str,
    event: AlertEvent,
    note: Option<&'a str>,
) -> AlertFacts<'a> {
    AlertFacts {
        integration,
        kind: IncidentKind::ApiVersion,
        event,
        run_id: None,
        status: None,
        error: None,
        conflicts: 0,
        stale_after_hours: 0,
        detail: note,
    }
}

/// The channels an incident's opening was sent to: they get its "recovered" notice.
async fn told_channels(conn: &mut sqlx::PgConnection, incident: i64) -> Result<Vec<i64>> {
    sqlx::query(
        "SELECT DISTINCT channel_id FROM alert_outbox WHERE incident_id = $1 AND event = 'opened'",
    )
    .bind(incident)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("channel_id").map_err(Into::into))
    .collect()
}

/// The channels covering a configuration.
async fn covering_channels(conn: &mut sqlx::PgConnection, integration_id: i64) -> Result<Vec<i64>> {
    sqlx::query(
        "SELECT id FROM alert_channels c
         WHERE c.covers_all OR EXISTS (SELECT 1 FROM alert_channel_integrations ci
                                       WHERE ci.channel_id = c.id AND ci.integration_id = $1)
         ORDER BY id",
    )
    .bind(integration_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("id").map_err(Into::into))
    .collect()
}
