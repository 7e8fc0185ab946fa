//! Resolving what a batch of drafts names to PULPO ids, in as few requests as PULPO allows:
//! SKUs to products (remembered for the run, up to a bound) and Shopify customers to PULPO
//! customers (looked up together, created when missing). A product created in PULPO between two
//! runs is found by the next run.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures_util::StreamExt;
use tentacle_domain::order::{Customer, gid_tail};
use tentacle_pulpo::model::NewCustomer;
use tentacle_pulpo::{PulpoClient, PulpoError};

/// How tentacle marks the PULPO customers it creates: the identifier is the Shopify customer id.
pub const CUSTOMER_IDENTIFIER_TYPE: &str = "shopify_customer";

/// SKUs remembered at most; a catalog bigger than this is looked up again page by page rather
/// than held whole in memory.
const MAX_REMEMBERED_SKUS: usize = 50_000;

/// SKU → PULPO product id (`None`: PULPO has no such product), for one run.
#[derive(Default)]
pub struct ProductCache {
    ids: Mutex<HashMap<String, Option<i64>>>,
}

impl ProductCache {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<i64>>> {
        // Only whole entries are written under the lock: a panic cannot leave it half-done.
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The product id of each of `skus`, asking PULPO (in one go) only for those not known yet.
    pub async fn product_ids<'s>(
        &self,
        wms: &PulpoClient,
        skus: impl IntoIterator<Item = &'s str>,
    ) -> Result<HashMap<String, Option<i64>>, PulpoError> {
        let wanted: HashSet<&str> = skus.into_iter().collect();
        let mut ids = HashMap::with_capacity(wanted.len());
        let mut missing = Vec::new();
        {
            let known = self.ids();
            for sku in wanted {
                match known.get(sku) {
                    Some(id) => {
                        ids.insert(sku.to_string(), *id);
                    }
                    None => missing.push(sku),
                }
            }
        }
        if missing.is_empty() {
            return Ok(ids);
        }
        let found = wms.products_by_skus(&missing).await?;
        let mut known = self.ids();
        if known.len() + missing.len() > MAX_REMEMBERED_SKUS {
            known.clear();
        }
        for sku in missing {
            let id = found
                .iter()
                .find(|p| p.sku.as_deref() == Some(sku))
                .map(|p| p.id);
            known.insert(sku.to_string(), id);
            ids.insert(sku.to_string(), id);
        }
        Ok(ids)
    }
}

/// The PULPO customer of each Shopify customer (by identifier, the Shopify customer id's
/// number): one look-up for all of them, then a create for each one PULPO does not have, at
/// most `concurrency` at once. A customer that could not be resolved carries its error.
pub async fn customer_ids(
    wms: &PulpoClient,
    customers: &[&Customer],
    concurrency: usize,
) -> HashMap<String, Result<i64, PulpoError>> {
    let mut seen = HashSet::with_capacity(customers.len());
    let wanted: Vec<&Customer> = customers
        .iter()
        .copied()
        .filter(|customer| seen.insert(gid_tail(&customer.id)))
        .collect();
    let identifiers: Vec<&str> = wanted.iter().map(|c| gid_tail(&c.id)).collect();
    let existing = match wms.customers_by_identifiers(&identifiers).await {
        Ok(existing) => existing,
        Err(error) => {
            return identifiers
                .into_iter()
                .map(|identifier| (identifier.to_string(), Err(error.clone())))
                .collect();
        }
    };
    let mut ids = HashMap::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for customer in wanted {
        let identifier = gid_tail(&customer.id);
        match existing
            .iter()
            .find(|p| p.identifier_number.as_deref() == Some(identifier))
        {
            Some(found) => {
                ids.insert(identifier.to_string(), Ok(found.id));
            }
            None => missing.push(customer),
        }
    }
    // Boxed one by one, not built by a closure in an iterator adapter: the run is spawned on a
    // worker, and such closures defeat the compiler's proof that the future is `Send`.
    let mut creates: Vec<CustomerCreate<'_>> = Vec::with_capacity(missing.len());
    for customer in missing {
        creates.push(Box::pin(async move {
            (
                gid_tail(&customer.id).to_string(),
                create_customer(wms, customer).await,
            )
        }));
    }
    let mut created = futures_util::stream::iter(creates).buffer_unordered(concurrency.max(1));
    while let Some((identifier, id)) = created.next().await {
        ids.insert(identifier, id);
    }
    ids
}

/// One customer create, answering the customer's identifier and PULPO's id for it.
type CustomerCreate<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (String, Result<i64, PulpoError>)> + Send + 'a>,
>;

async fn create_customer(wms: &PulpoClient, customer: &Customer) -> Result<i64, PulpoError> {
    let identifier = gid_tail(&customer.id).to_string();
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
        // The create may have happened; a second customer record would be untidy, so look
        // before trying again.
        Err(PulpoError::Ambiguous { .. }) => {
            match wms.customers_by_identifier(&identifier).await?.first() {
                Some(found) => Ok(found.id),
                None => Ok(wms.create_customer(&new).await?.id),
            }
        }
        // Created since the look-up (another worker, an overlapping run): use that one.
        Err(PulpoError::Rejected { status, errors })
            if errors.iter().any(|e| e.field == "identifier_number") =>
        {
            match wms.customers_by_identifier(&identifier).await?.first() {
                Some(found) => Ok(found.id),
                None => Err(PulpoError::Rejected { status, errors }),
            }
        }
        Err(other) => Err(other),
    }
}
