//! The generate_shipments type's state: shipment links.

use async_trait::async_trait;
use sqlx::Row;

use super::PgStore;
use crate::rows::{conflict, shipment_link_conflict, shipment_link_from_row};
use crate::{Result, ShipmentLink, ShipmentStore, SystemPair};

#[async_trait]
impl ShipmentStore for PgStore {
    async fn shipment_link(&self, scope: SystemPair, box_id: i64) -> Result<Option<ShipmentLink>> {
        let row = sqlx::query(
            "SELECT * FROM shipment_links WHERE shopify_credential_id = $1 AND pulpo_credential_id = $2 AND box_id = $3",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(box_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| shipment_link_from_row(&r)).transpose()
    }

    async fn shipment_links_of_order(
        &self,
        scope: SystemPair,
        shopify_order_id: &str,
    ) -> Result<Vec<ShipmentLink>> {
        let rows = sqlx::query(
            "SELECT * FROM shipment_links WHERE shopify_credential_id = $1 AND pulpo_credential_id = $2 AND shopify_order_id = $3
             ORDER BY box_id",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .bind(shopify_order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shipment_link_from_row).collect()
    }

    async fn save_shipment_link(&self, link: &ShipmentLink) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        write_shipment_link(&mut conn, link).await
    }

    async fn count_shipment_links(&self, scope: SystemPair) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM shipment_links WHERE shopify_credential_id = $1 AND pulpo_credential_id = $2",
        )
        .bind(scope.shopify_credential_id)
        .bind(scope.pulpo_credential_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }
}

pub(super) async fn write_shipment_link(
    conn: &mut sqlx::PgConnection,
    link: &ShipmentLink,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO shipment_links (shopify_credential_id, pulpo_credential_id, box_id, packing_order_id,
             sales_order_id, fulfillment_order_id, shopify_order_id, fulfillment_id, tracking, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (shopify_credential_id, pulpo_credential_id, box_id) DO UPDATE SET
             packing_order_id = excluded.packing_order_id, sales_order_id = excluded.sales_order_id,
             fulfillment_order_id = excluded.fulfillment_order_id,
             shopify_order_id = excluded.shopify_order_id, fulfillment_id = excluded.fulfillment_id,
             tracking = excluded.tracking, updated_at = excluded.updated_at",
    )
    .bind(link.scope.shopify_credential_id)
    .bind(link.scope.pulpo_credential_id)
    .bind(link.box_id)
    .bind(link.packing_order_id)
    .bind(link.sales_order_id)
    .bind(&link.fulfillment_order_id)
    .bind(&link.shopify_order_id)
    .bind(&link.fulfillment_id)
    .bind(&link.tracking)
    .bind(link.updated_at)
    .execute(conn)
    .await
    .map_err(|e| conflict(e, || shipment_link_conflict(link)))?;
    Ok(())
}
