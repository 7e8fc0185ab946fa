//! The returns type's state: return links.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteStore;
use crate::rows::{conflict, return_link_conflict, return_link_from_row};
use crate::{Result, ReturnLink, ReturnStore, SystemPair};

#[async_trait]
impl ReturnStore for SqliteStore {
    async fn return_link(
        &self,
        scope: SystemPair,
        incoming_good_id: i64,
    ) -> Result<Option<ReturnLink>> {
        let row = sqlx::query(
            "SELECT * FROM return_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2 AND incoming_good_id = ?3",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(incoming_good_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| return_link_from_row(&r)).transpose()
    }

    async fn return_links_of_order(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Vec<ReturnLink>> {
        let rows = sqlx::query(
            "SELECT * FROM return_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2 AND shopify_order_id = ?3
             ORDER BY incoming_good_id",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(shopify_order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(return_link_from_row).collect()
    }

    async fn save_return_link(&self, link: &ReturnLink) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_return_link(&mut conn, link).await
    }

    async fn count_return_links(&self, scope: SystemPair) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM return_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

pub(super) async fn write_return_link(
    conn: &mut sqlx::SqliteConnection,
    link: &ReturnLink,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO return_links (shopify_credential_id, pulpo_credential_id, incoming_good_id,
             sales_order_id, shopify_order_id, return_id, refund_id, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (shopify_credential_id, pulpo_credential_id, incoming_good_id) DO UPDATE SET
             sales_order_id = excluded.sales_order_id, shopify_order_id = excluded.shopify_order_id,
             return_id = excluded.return_id, refund_id = excluded.refund_id,
             updated_at = excluded.updated_at",
    )
    .bind(link.scope.shopify_credential_id)
    .bind(link.scope.pulpo_credential_id)
    .bind(link.incoming_good_id)
    .bind(link.sales_order_id)
    .bind(&link.shopify_order_id)
    .bind(&link.return_id)
    .bind(&link.refund_id)
    .bind(link.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict(e, || return_link_conflict(link)))?;
    Ok(())
}
