//! The products type's state: product links.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteStore;
use crate::rows::{conflict, product_link_conflict, product_link_from_row};
use crate::{ProductLink, ProductStore, Result, SystemPair};

#[async_trait]
impl ProductStore for SqliteStore {
    async fn product_links(
        &self,
        scope: SystemPair,
        variant_ids: &[String],
    ) -> Result<Vec<ProductLink>> {
        if variant_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT * FROM product_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2 AND variant_id IN (SELECT value FROM json_each(?3))",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(serde_json::to_string(variant_ids).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(product_link_from_row).collect()
    }

    async fn product_links_of_products(
        &self,
        scope: SystemPair,
        pulpo_product_ids: &[i64],
    ) -> Result<Vec<ProductLink>> {
        if pulpo_product_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT * FROM product_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2 AND pulpo_product_id IN (SELECT value FROM json_each(?3))",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(serde_json::to_string(pulpo_product_ids).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(product_link_from_row).collect()
    }

    async fn save_product_link(&self, link: &ProductLink) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_product_link(&mut conn, link).await
    }

    async fn count_product_links(&self, scope: SystemPair) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM product_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

pub(super) async fn write_product_link(
    conn: &mut sqlx::SqliteConnection,
    link: &ProductLink,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO product_links (shopify_credential_id, pulpo_credential_id, variant_id,
             pulpo_product_id, sku, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (shopify_credential_id, pulpo_credential_id, variant_id) DO UPDATE SET
             pulpo_product_id = excluded.pulpo_product_id, sku = excluded.sku,
             updated_at = excluded.updated_at",
    )
    .bind(link.scope.shopify_credential_id)
    .bind(link.scope.pulpo_credential_id)
    .bind(&link.variant_id)
    .bind(link.pulpo_product_id)
    .bind(&link.sku)
    .bind(link.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict(e, || product_link_conflict(link)))?;
    Ok(())
}

pub(super) async fn delete_product_link(
    conn: &mut sqlx::SqliteConnection,
    scope: SystemPair,
    variant_id: &str,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM product_links WHERE shopify_credential_id = ?1 AND pulpo_credential_id = ?2 AND variant_id = ?3",
    )
    .bind(scope.shopify_credential_id)
    .bind(scope.pulpo_credential_id)
    .bind(variant_id)
    .execute(conn)
    .await?;
    Ok(())
}
