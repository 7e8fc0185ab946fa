//! Per-run look-ups of PULPO products by SKU and customers by Shopify customer. Each key is
//! resolved once per run even when several orders ask at the same time; a product created in
//! PULPO between two runs is found by the next run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tentacle_domain::order::{Customer, gid_tail};
use tentacle_pulpo::model::NewCustomer;
use tentacle_pulpo::{PulpoClient, PulpoError};
use tokio::sync::OnceCell;

/// How tentacle marks the PULPO customers it creates: the identifier is the Shopify customer id.
pub const CUSTOMER_IDENTIFIER_TYPE: &str = "shopify_customer";

#[derive(Default)]
struct Once<T> {
    cells: Mutex<HashMap<String, Arc<OnceCell<T>>>>,
}

impl<T: Clone> Once<T> {
    fn cell(&self, key: &str) -> Arc<OnceCell<T>> {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells.entry(key.to_string()).or_default().clone()
    }
}

/// SKU → PULPO product id (`None`: PULPO has no such product).
#[derive(Default)]
pub struct ProductCache {
    ids: Once<Option<i64>>,
}

impl ProductCache {
    pub async fn product_id(
        &self,
        wms: &PulpoClient,
        sku: &str,
    ) -> Result<Option<i64>, PulpoError> {
        let cell = self.ids.cell(sku);
        let id = cell
            .get_or_try_init(|| async {
                Ok::<_, PulpoError>(wms.product_by_sku(sku).await?.map(|p| p.id))
            })
            .await?;
        Ok(*id)
    }
}

/// Shopify customer → PULPO customer (third party of type `C`), matched by identifier or created.
#[derive(Default)]
pub struct CustomerCache {
    ids: Once<i64>,
}

impl CustomerCache {
    pub async fn customer_id(
        &self,
        wms: &PulpoClient,
        customer: &Customer,
    ) -> Result<i64, PulpoError> {
        let identifier = gid_tail(&customer.id).to_string();
        let cell = self.ids.cell(&identifier);
        let id = cell
            .get_or_try_init(|| async {
                if let Some(existing) = wms.customers_by_identifier(&identifier).await?.first() {
                    return Ok::<_, PulpoError>(existing.id);
                }
                let new = NewCustomer {
                    identifier_type: CUSTOMER_IDENTIFIER_TYPE.into(),
                    identifier_number: identifier.clone(),
                    name: customer
                        .full_name()
                        .or_else(|| customer.email.clone())
                        .unwrap_or_else(|| format!("Shopify customer {identifier}")),
                    third_type: "C".into(),
                    email: customer.email.clone(),
                    active: true,
                };
                match wms.create_customer(&new).await {
                    Ok(created) => Ok(created.id),
                    // The create may have happened; a second customer record would be untidy,
                    // so look before trying again.
                    Err(PulpoError::Ambiguous { .. }) => {
                        match wms.customers_by_identifier(&identifier).await?.first() {
                            Some(found) => Ok(found.id),
                            None => Ok(wms.create_customer(&new).await?.id),
                        }
                    }
                    Err(other) => Err(other),
                }
            })
            .await?;
        Ok(*id)
    }
}
