//! Flags on the records that need attention, keyed by configuration, record kind and id.

use async_trait::async_trait;

use super::SqliteStore;
use crate::rows::{attention_from_row, to_text};
use crate::{Attention, AttentionKey, AttentionStore, Result};

#[async_trait]
impl AttentionStore for SqliteStore {
    async fn flag(&self, attention: &Attention) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_flag(&mut conn, attention).await
    }

    async fn clear_flag(&self, key: &AttentionKey) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        delete_flag(&mut conn, key).await
    }

    async fn flags(&self, integration_id: Option<i64>) -> Result<Vec<Attention>> {
        let rows = sqlx::query(
            "SELECT * FROM attention WHERE (?1 IS NULL OR integration_id = ?1) ORDER BY updated_at DESC",
        )
        .bind(integration_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attention_from_row).collect()
    }
}

pub(super) async fn write_flag(
    conn: &mut sqlx::SqliteConnection,
    attention: &Attention,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO attention (integration_id, record_kind, record_id, record_label, kind, reason, attempts, run_id, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8)
         ON CONFLICT (integration_id, record_kind, record_id) DO UPDATE SET record_label = excluded.record_label,
             kind = excluded.kind, reason = excluded.reason, attempts = attention.attempts + 1,
             run_id = excluded.run_id, updated_at = excluded.updated_at",
    )
    .bind(attention.key.integration_id)
    .bind(to_text(&attention.key.record_kind))
    .bind(&attention.key.record_id)
    .bind(&attention.record_label)
    .bind(to_text(&attention.kind))
    .bind(&attention.reason)
    .bind(attention.run_id)
    .bind(attention.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn delete_flag(
    conn: &mut sqlx::SqliteConnection,
    key: &AttentionKey,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM attention WHERE integration_id = ?1 AND record_kind = ?2 AND record_id = ?3",
    )
    .bind(key.integration_id)
    .bind(to_text(&key.record_kind))
    .bind(&key.record_id)
    .execute(conn)
    .await?;
    Ok(())
}
