//! The status_updates type's state: status marks.

use async_trait::async_trait;

use super::SqliteStore;
use crate::rows::{conflict, status_mark_conflict, status_mark_from_row, strings_json};
use crate::{Result, StatusMark, StatusUpdateStore, SystemPair};

#[async_trait]
impl StatusUpdateStore for SqliteStore {
    async fn status_mark(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Option<StatusMark>> {
        let row = sqlx::query(
            "SELECT * FROM status_marks WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2 AND shopify_order_id = ?3",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(shopify_order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| status_mark_from_row(&r)).transpose()
    }

    async fn status_marks(
        &self,
        scope: SystemPair,
        shopify_order_ids: &[String],
    ) -> Result<Vec<StatusMark>> {
        if shopify_order_ids.is_empty() {
            return Ok(Vec::new());
        }
        // The ids go in as one JSON array, so a page of any size is one statement with three
        // parameters, far from SQLite's limit on their number.
        let rows = sqlx::query(
            "SELECT * FROM status_marks WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2
                 AND shopify_order_id IN (SELECT value FROM json_each(?3))",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(strings_json(shopify_order_ids))
        .fetch_all(&self.pool)
        .await?;
        // Sorted here, by bytes like on PostgreSQL (where the collation would differ).
        let mut marks = rows
            .iter()
            .map(status_mark_from_row)
            .collect::<Result<Vec<_>>>()?;
        marks.sort_by(|a, b| a.shopify_order_id.cmp(&b.shopify_order_id));
        Ok(marks)
    }

    async fn save_status_mark(&self, mark: &StatusMark) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_status_mark(&mut conn, mark).await
    }
}

pub(super) async fn write_status_mark(
    conn: &mut sqlx::SqliteConnection,
    mark: &StatusMark,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO status_marks (shopify_credential_id, pulpo_credential_id, shopify_order_id, tagged_at,
             note_lines, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (shopify_credential_id, pulpo_credential_id, shopify_order_id) DO UPDATE SET
             tagged_at = COALESCE(status_marks.tagged_at, excluded.tagged_at),
             note_lines = excluded.note_lines, updated_at = excluded.updated_at",
    )
    .bind(mark.scope.shopify_credential_id)
    .bind(mark.scope.pulpo_credential_id)
    .bind(&mark.shopify_order_id)
    .bind(mark.tagged_at)
    .bind(strings_json(&mark.note_lines))
    .bind(mark.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict(e, || status_mark_conflict(mark)))?;
    Ok(())
}
