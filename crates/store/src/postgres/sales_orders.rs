//! The sales orders type's state: order links.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::PgStore;
use crate::rows::{link_from_row, to_text};
use crate::{LinkScope, OrderLink, Result, SalesOrderStore};

#[async_trait]
impl SalesOrderStore for PgStore {
    async fn order_links(
        &self,
        scope: LinkScope,
        shopify_order_id: &str,
    ) -> Result<Vec<OrderLink>> {
        let rows = sqlx::query(
            "SELECT * FROM order_links WHERE origin_credential_id = $1 AND destination_credential_id = $2 AND shopify_order_id = $3
             ORDER BY fulfillment_order_id",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .bind(shopify_order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn order_link(
        &self,
        scope: LinkScope,
        fulfillment_order_id: &str,
    ) -> Result<Option<OrderLink>> {
        let row = sqlx::query(
            "SELECT * FROM order_links WHERE origin_credential_id = $1 AND destination_credential_id = $2 AND fulfillment_order_id = $3",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .bind(fulfillment_order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| link_from_row(&r)).transpose()
    }

    async fn save_order_link(&self, link: &OrderLink) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_order_link(&mut conn, link).await
    }

    async fn count_order_links(&self, scope: LinkScope) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM order_links WHERE origin_credential_id = $1 AND destination_credential_id = $2",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn order_links_of_pulpo_orders(
        &self,
        scope: LinkScope,
        pulpo_order_ids: &[i64],
    ) -> Result<Vec<OrderLink>> {
        if pulpo_order_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT * FROM order_links WHERE origin_credential_id = $1 AND destination_credential_id = $2
                 AND pulpo_order_id = ANY($3)",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .bind(pulpo_order_ids)
        .fetch_all(&self.pool)
        .await?;
        let mut links = rows.iter().map(link_from_row).collect::<Result<Vec<_>>>()?;
        links.sort_by(|a, b| {
            (a.pulpo_order_id, &a.fulfillment_order_id)
                .cmp(&(b.pulpo_order_id, &b.fulfillment_order_id))
        });
        Ok(links)
    }

    async fn confirmed_order_links_since(
        &self,
        scope: LinkScope,
        since: DateTime<Utc>,
        after: Option<(DateTime<Utc>, &str)>,
        limit: i64,
    ) -> Result<Vec<OrderLink>> {
        // Without `after` the page starts at `since` itself: the empty id sorts first.
        let (from, after_id) = after.unwrap_or((since, ""));
        let rows = sqlx::query(
            "SELECT * FROM order_links WHERE origin_credential_id = $1 AND destination_credential_id = $2
                 AND pulpo_order_id IS NOT NULL AND updated_at >= $3
                 AND (updated_at > $4 OR (updated_at = $4 AND fulfillment_order_id > $5))
             ORDER BY updated_at, fulfillment_order_id LIMIT $6",
        )
        .bind(scope.origin_credential_id)
        .bind(scope.destination_credential_id)
        .bind(since)
        .bind(from)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }
}

pub(super) async fn write_order_link(
    conn: &mut sqlx::PgConnection,
    link: &OrderLink,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_links (origin_credential_id, destination_credential_id, fulfillment_order_id, shopify_order_id,
             order_name, order_num, pulpo_order_id, warehouse_id, fingerprint, state, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (origin_credential_id, destination_credential_id, fulfillment_order_id) DO UPDATE SET
             shopify_order_id = excluded.shopify_order_id, order_name = excluded.order_name,
             order_num = excluded.order_num, pulpo_order_id = excluded.pulpo_order_id,
             warehouse_id = excluded.warehouse_id, fingerprint = excluded.fingerprint,
             state = excluded.state, updated_at = excluded.updated_at",
    )
    .bind(link.scope.origin_credential_id)
    .bind(link.scope.destination_credential_id)
    .bind(&link.fulfillment_order_id)
    .bind(&link.shopify_order_id)
    .bind(&link.order_name)
    .bind(&link.order_num)
    .bind(link.pulpo_order_id)
    .bind(link.warehouse_id)
    .bind(link.fingerprint.to_string())
    .bind(to_text(&link.pulpo_state))
    .bind(link.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}
