//! Integration configurations, their active flag, and their cursors.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::PgStore;
use crate::rows::{conflict, create_conflict, integration_from_row};
use crate::{Integration, IntegrationStore, NewIntegration, Result, StoreError};

#[async_trait]
impl IntegrationStore for PgStore {
    async fn save_integration(&self, integration: NewIntegration) -> Result<Integration> {
        let row = sqlx::query(
            "INSERT INTO integrations (name, kind, origin_credential_id, destination_credential_id, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
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

    async fn create_integration(&self, integration: NewIntegration) -> Result<Integration> {
        // No ON CONFLICT: the unique index on the name decides between two creates at once.
        let row = sqlx::query(
            "INSERT INTO integrations (name, kind, origin_credential_id, destination_credential_id, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
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
        .map_err(|error| {
            create_conflict(
                error,
                || format!("an integration named {:?} exists already", integration.name),
                || "the origin or destination credential does not exist".into(),
            )
        })?;
        integration_from_row(&row)
    }

    async fn integration(&self, id: i64) -> Result<Option<Integration>> {
        let row = sqlx::query("SELECT * FROM integrations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| integration_from_row(&r)).transpose()
    }

    async fn integration_by_name(&self, name: &str) -> Result<Option<Integration>> {
        let row = sqlx::query("SELECT * FROM integrations WHERE name = $1")
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

    async fn set_integration_active(&self, id: i64, active: bool) -> Result<Option<Integration>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE integrations SET active = $2, updated_at = $3 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(active)
        .bind(Utc::now())
        .fetch_optional(&mut *tx)
        .await?;
        if !active {
            sqlx::query(
                "DELETE FROM runs WHERE integration_id = $1 AND status = 'QUEUED' AND attempts = 0",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        row.map(|r| integration_from_row(&r)).transpose()
    }

    async fn update_integration(
        &self,
        id: i64,
        integration: NewIntegration,
    ) -> Result<Integration> {
        let row = sqlx::query(
            "UPDATE integrations SET name = $2, kind = $3, origin_credential_id = $4,
                 destination_credential_id = $5, settings = $6, updated_at = $7
             WHERE id = $1 RETURNING *",
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
        let result = sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict(e, || format!("integration {id} is still referenced")))?;
        Ok(result.rows_affected() > 0)
    }

    async fn cursor(&self, integration_id: i64) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT updated_at FROM sync_cursors WHERE integration_id = $1")
            .bind(integration_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("updated_at")).transpose()?)
    }

    async fn set_cursor(&self, integration_id: i64, updated_at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_cursor(&mut conn, integration_id, updated_at).await
    }
}

pub(super) async fn write_cursor(
    conn: &mut sqlx::PgConnection,
    integration_id: i64,
    updated_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sync_cursors (integration_id, updated_at) VALUES ($1, $2)
         ON CONFLICT (integration_id) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(integration_id)
    .bind(updated_at)
    .execute(conn)
    .await?;
    Ok(())
}
