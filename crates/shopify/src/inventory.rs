//! Stock at one location: reading every inventory item's level there, the open fulfillment
//! orders that commit units there, and writing `available` with compare-and-swap.
//!
//! Costs by Shopify's fitted model (a connection is `2 + m(first) × node`, `m(250) = 11`): a page
//! of 250 inventory items with variant and level requests 46 points, a page of 50 fulfillment
//! orders with 100 lines each 86, a set of 250 quantities 10 plus its payload.

use serde::Deserialize;
use serde_json::json;

use crate::client::ShopifyClient;
use crate::error::{Result, ShopifyError};

/// Largest page Shopify serves, and the most quantities one `inventorySetQuantities` takes.
pub const MAX_PAGE: u32 = 250;
/// Lines read per fulfillment order.
pub const MAX_FULFILLMENT_ORDER_LINES: usize = 100;

/// Every inventory item with its variant and its level at `$locationId`. Inactive levels are
/// included so a caller can tell "stocked but inactive" from "never stocked".
pub const INVENTORY_PAGE: &str =
    "query InventoryPage($first: Int!, $after: String, $locationId: ID!, $query: String) {
  inventoryItems(first: $first, after: $after, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id sku tracked
      variant { id displayName }
      inventoryLevel(locationId: $locationId, includeInactive: true) {
        isActive
        quantities(names: [\"available\"]) { name quantity }
      }
    }
  }
}";

/// One inventory item with its level at `$locationId`, as [`INVENTORY_PAGE`] reads each: what a
/// compare-and-swap that came back stale reads again.
pub const INVENTORY_ITEM: &str = "query InventoryItemAt($id: ID!, $locationId: ID!) {
  inventoryItem(id: $id) {
    id sku tracked
    variant { id displayName }
    inventoryLevel(locationId: $locationId, includeInactive: true) {
      isActive
      quantities(names: [\"available\"]) { name quantity }
    }
  }
}";

/// Fulfillment orders not closed, found by a search (`assigned_location_id:N`).
pub const OPEN_FULFILLMENT_ORDERS: &str =
    "query OpenFulfillmentOrders($first: Int!, $after: String, $query: String!) {
  fulfillmentOrders(first: $first, after: $after, query: $query, includeClosed: false) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id status
      lineItems(first: 100) {
        pageInfo { hasNextPage }
        nodes { sku inventoryItemId remainingQuantity }
      }
    }
  }
}";

/// Sets `available` with the 2026-04 contract: an explicit `changeFromQuantity` per quantity
/// and an `@idempotent` key.
pub const SET_AVAILABLE: &str =
    "mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}";

/// Stocks an item at a location (`@idempotent` is required from 2026-04).
pub const ACTIVATE: &str = "mutation Activate($inventoryItemId: ID!, $locationId: ID!, $available: Int, $key: String!) {
  inventoryActivate(inventoryItemId: $inventoryItemId, locationId: $locationId, available: $available) @idempotent(key: $key) {
    inventoryLevel { isActive quantities(names: [\"available\"]) { name quantity } }
    userErrors { field message }
  }
}";

/// One inventory item and its level at the location asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryRecord {
    /// `gid://shopify/InventoryItem/N`.
    pub inventory_item_id: String,
    pub sku: Option<String>,
    /// Whether Shopify tracks the item's quantities; an untracked item cannot be set.
    pub tracked: bool,
    /// `gid://shopify/ProductVariant/N`.
    pub variant_id: String,
    pub variant_name: String,
    /// `None` when the item is not stocked at the location.
    pub level: Option<InventoryLevel>,
}

/// An item's level at a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryLevel {
    /// An inactive level (API 2026-10 leaves one after a set where the item was not stocked)
    /// holds quantities but the item is not stocked there until `inventoryActivate`.
    pub active: bool,
    pub available: i64,
}

/// One page of [`ShopifyClient::inventory_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryPage {
    pub items: Vec<InventoryRecord>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// A fulfillment order still to be fulfilled, whose lines commit stock at its location.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFulfillmentOrder {
    /// `gid://shopify/FulfillmentOrder/N`.
    pub id: String,
    pub lines: Vec<OpenFulfillmentOrderLine>,
    /// More than [`MAX_FULFILLMENT_ORDER_LINES`] lines: `lines` is not all of them.
    pub more_lines: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenFulfillmentOrderLine {
    pub sku: Option<String>,
    /// `None` for a custom line without a product.
    pub inventory_item_id: Option<String>,
    pub remaining_quantity: i64,
}

/// One page of [`ShopifyClient::open_fulfillment_orders_page`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenFulfillmentOrdersPage {
    pub fulfillment_orders: Vec<OpenFulfillmentOrder>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// One `inventorySetQuantities` call setting `available`.
#[derive(Debug, Clone, PartialEq)]
pub struct InventorySet {
    /// One of Shopify's reason codes, e.g. `correction`.
    pub reason: String,
    /// Where the change comes from, e.g. `gid://tentacle/StockRun/42`.
    pub reference_document_uri: Option<String>,
    /// At most [`MAX_PAGE`].
    pub quantities: Vec<InventorySetQuantity>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InventorySetQuantity {
    pub inventory_item_id: String,
    pub location_id: String,
    pub quantity: i64,
    /// The `available` read before: a different current value fails the set with
    /// `CHANGE_FROM_QUANTITY_STALE`. `None` sends an explicit `null`, skipping the check.
    pub change_from_quantity: Option<i64>,
}

/// What an `inventorySetQuantities` call answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventorySetOutcome {
    /// `gid://shopify/InventoryAdjustmentGroup/N` when the quantities were set.
    pub adjustment_group_id: Option<String>,
    pub user_errors: Vec<InventorySetError>,
}

impl InventorySetOutcome {
    /// Whether the quantities were set. Shopify applies a call all or nothing: with any user
    /// error nothing changed, and the answer carries no adjustment group.
    pub fn applied(&self) -> bool {
        self.user_errors.is_empty() && self.adjustment_group_id.is_some()
    }
}

/// A user error of `inventorySetQuantities`.
#[derive(Debug, Clone, PartialEq)]
pub struct InventorySetError {
    pub code: InventorySetErrorCode,
    pub message: String,
    /// The input path, e.g. `["input", "quantities", "0", "inventoryItemId"]`.
    pub field: Vec<String>,
    /// The position in [`InventorySet::quantities`] the error is about, read from `field`;
    /// `None` for errors about the whole call (reason, name, idempotency key).
    pub quantity_index: Option<usize>,
}

/// `InventorySetQuantitiesUserErrorCode`, with the values a stock push acts on by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InventorySetErrorCode {
    /// Someone changed `available` since it was read.
    ChangeFromQuantityStale,
    /// API 2026-07 and earlier: the item is not stocked at the location (the code is gone in
    /// 2026-10, where such a set succeeds and leaves an inactive level).
    ItemNotStockedAtLocation,
    InvalidInventoryItem,
    InvalidLocation,
    IdempotencyKeyParameterMismatch,
    IdempotencyConcurrentRequest,
    IdempotencyPreviousAttemptFailed,
    /// Any other code, as Shopify spelled it (empty when Shopify gave none).
    Other(String),
}

impl InventorySetErrorCode {
    fn parse(code: Option<&str>) -> InventorySetErrorCode {
        match code.unwrap_or_default() {
            "CHANGE_FROM_QUANTITY_STALE" => InventorySetErrorCode::ChangeFromQuantityStale,
            "ITEM_NOT_STOCKED_AT_LOCATION" => InventorySetErrorCode::ItemNotStockedAtLocation,
            "INVALID_INVENTORY_ITEM" => InventorySetErrorCode::InvalidInventoryItem,
            "INVALID_LOCATION" => InventorySetErrorCode::InvalidLocation,
            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH" => {
                InventorySetErrorCode::IdempotencyKeyParameterMismatch
            }
            "IDEMPOTENCY_CONCURRENT_REQUEST" => InventorySetErrorCode::IdempotencyConcurrentRequest,
            "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED" => {
                InventorySetErrorCode::IdempotencyPreviousAttemptFailed
            }
            other => InventorySetErrorCode::Other(other.to_string()),
        }
    }
}

/// A plain `UserError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    pub field: Vec<String>,
    pub message: String,
}

/// What `inventoryActivate` answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InventoryActivation {
    /// The level now at the location, when Shopify returned one.
    pub level: Option<InventoryLevel>,
    pub user_errors: Vec<UserError>,
}

/// The numeric tail of a GID: `gid://shopify/Location/12` → `12`.
fn numeric_id(gid: &str) -> Option<u64> {
    gid.rsplit('/').next()?.split('?').next()?.parse().ok()
}

impl ShopifyClient {
    /// Up to `first` (at most 250) inventory items after `after`, each with its variant and its
    /// level at `location_id` (a Location GID). Halves the page after a server failure.
    pub async fn inventory_page(
        &self,
        location_id: &str,
        after: Option<&str>,
        first: u32,
    ) -> Result<InventoryPage> {
        self.inventory_search(location_id, after, first, None).await
    }

    /// Every inventory item whose SKU is `sku` (Shopify's `sku:` search), with its level at
    /// `location_id`: the variants that share a SKU, by name, when one was found twice.
    pub async fn inventory_with_sku(
        &self,
        location_id: &str,
        sku: &str,
    ) -> Result<Vec<InventoryRecord>> {
        let quoted = sku.replace('\\', "\\\\").replace('"', "\\\"");
        let page = self
            .inventory_search(
                location_id,
                None,
                MAX_PAGE,
                Some(&format!("sku:\"{quoted}\"")),
            )
            .await?;
        Ok(page
            .items
            .into_iter()
            .filter(|item| item.sku.as_deref() == Some(sku))
            .collect())
    }

    async fn inventory_search(
        &self,
        location_id: &str,
        after: Option<&str>,
        first: u32,
        search: Option<&str>,
    ) -> Result<InventoryPage> {
        let first = first.clamp(1, MAX_PAGE);
        let answer: InventoryAnswer = self
            .query(INVENTORY_PAGE, |failures| {
                let first = (first >> failures.min(8)).max(1);
                json!({"first": first, "after": after, "locationId": location_id, "query": search})
            })
            .await?;
        let items = answer.inventory_items;
        Ok(InventoryPage {
            items: items.nodes.into_iter().map(InventoryRecord::from).collect(),
            end_cursor: items.page_info.end_cursor,
            has_next_page: items.page_info.has_next_page,
        })
    }

    /// One inventory item and its level at `location_id`, read fresh; `None` when Shopify has no
    /// such item (it was deleted).
    pub async fn inventory_item(
        &self,
        inventory_item_id: &str,
        location_id: &str,
    ) -> Result<Option<InventoryRecord>> {
        let answer: InventoryItemAnswer = self
            .query(
                INVENTORY_ITEM,
                |_| json!({"id": inventory_item_id, "locationId": location_id}),
            )
            .await?;
        Ok(answer.inventory_item.map(InventoryRecord::from))
    }

    /// Up to `first` (at most 250) fulfillment orders assigned to `location_id` (a Location
    /// GID) that are not closed or cancelled, after `after`. Their remaining units are what
    /// Shopify holds as committed at the location.
    pub async fn open_fulfillment_orders_page(
        &self,
        location_id: &str,
        after: Option<&str>,
        first: u32,
    ) -> Result<OpenFulfillmentOrdersPage> {
        let location = numeric_id(location_id).ok_or_else(|| {
            ShopifyError::BadRequest(format!("{location_id:?} is not a location id"))
        })?;
        let search = format!("assigned_location_id:{location}");
        let first = first.clamp(1, MAX_PAGE);
        let answer: FulfillmentOrdersAnswer = self
            .query(OPEN_FULFILLMENT_ORDERS, |failures| {
                let first = (first >> failures.min(8)).max(1);
                json!({"first": first, "after": after, "query": search})
            })
            .await?;
        let orders = answer.fulfillment_orders;
        Ok(OpenFulfillmentOrdersPage {
            fulfillment_orders: orders
                .nodes
                .into_iter()
                // `includeClosed: false` already leaves closed ones out; cancelled ones are
                // dropped here too, whatever Shopify counts as closed.
                .filter(|fo| !matches!(fo.status.as_str(), "CLOSED" | "CANCELLED"))
                .map(|fo| OpenFulfillmentOrder {
                    id: fo.id,
                    more_lines: fo.line_items.page_info.has_next_page,
                    lines: fo
                        .line_items
                        .nodes
                        .into_iter()
                        .map(|l| OpenFulfillmentOrderLine {
                            sku: l.sku,
                            inventory_item_id: l.inventory_item_id,
                            remaining_quantity: l.remaining_quantity,
                        })
                        .collect(),
                })
                .collect(),
            end_cursor: orders.page_info.end_cursor,
            has_next_page: orders.page_info.has_next_page,
        })
    }

    /// Sets `available` for up to 250 quantities in one `inventorySetQuantities` call under
    /// `idempotency_key`. Shopify applies the call all or nothing: when any quantity is refused
    /// (stale, not stocked, unknown item…) none is set, and the outcome lists every refusal
    /// with the index of its quantity, so the caller can retry the others under a new key.
    /// Retries after a lost answer reuse the key, so Shopify applies the set at most once.
    pub async fn inventory_set_quantities(
        &self,
        set: &InventorySet,
        idempotency_key: &str,
    ) -> Result<InventorySetOutcome> {
        if set.quantities.len() > MAX_PAGE as usize {
            return Err(ShopifyError::BadRequest(format!(
                "{} quantities in one inventorySetQuantities, at most {MAX_PAGE} are allowed",
                set.quantities.len()
            )));
        }
        if set.quantities.is_empty() {
            return Ok(InventorySetOutcome::default());
        }
        let input = json!({
            "name": "available",
            "reason": set.reason,
            "referenceDocumentUri": set.reference_document_uri,
            "quantities": set.quantities.iter().map(|q| json!({
                "inventoryItemId": q.inventory_item_id,
                "locationId": q.location_id,
                "quantity": q.quantity,
                "changeFromQuantity": q.change_from_quantity,
            })).collect::<Vec<_>>(),
        });
        let answer: SetAnswer = self
            .query(
                SET_AVAILABLE,
                |_| json!({"input": input, "key": idempotency_key}),
            )
            .await?;
        let payload = answer
            .inventory_set_quantities
            .ok_or_else(|| ShopifyError::Decode("inventorySetQuantities answered null".into()))?;
        Ok(InventorySetOutcome {
            adjustment_group_id: payload.inventory_adjustment_group.map(|g| g.id),
            user_errors: payload
                .user_errors
                .into_iter()
                .map(|e| {
                    let field = e.field.unwrap_or_default();
                    InventorySetError {
                        code: InventorySetErrorCode::parse(e.code.as_deref()),
                        message: e.message,
                        quantity_index: quantity_index(&field),
                        field,
                    }
                })
                .collect(),
        })
    }

    /// Stocks `inventory_item_id` at `location_id` with `available` units (Shopify's default
    /// is 0) under `idempotency_key`, required by Shopify from 2026-04. Shopify refuses a
    /// quantity for an item already active there; that and other refusals are user errors.
    pub async fn inventory_activate(
        &self,
        inventory_item_id: &str,
        location_id: &str,
        available: Option<i64>,
        idempotency_key: &str,
    ) -> Result<InventoryActivation> {
        let answer: ActivateAnswer = self
            .query(ACTIVATE, |_| {
                json!({
                    "inventoryItemId": inventory_item_id,
                    "locationId": location_id,
                    "available": available,
                    "key": idempotency_key,
                })
            })
            .await?;
        let payload = answer
            .inventory_activate
            .ok_or_else(|| ShopifyError::Decode("inventoryActivate answered null".into()))?;
        Ok(InventoryActivation {
            level: payload.inventory_level.map(|level| InventoryLevel {
                active: level.is_active,
                available: level.available(),
            }),
            user_errors: payload
                .user_errors
                .into_iter()
                .map(|e| UserError {
                    field: e.field.unwrap_or_default(),
                    message: e.message,
                })
                .collect(),
        })
    }
}

/// The quantity index in `["input", "quantities", "3", …]`.
fn quantity_index(field: &[String]) -> Option<usize> {
    match field {
        [input, quantities, index, ..] if input == "input" && quantities == "quantities" => {
            index.parse().ok()
        }
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    #[serde(default)]
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Nodes<T> {
    nodes: Vec<T>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryAnswer {
    inventory_items: Nodes<InventoryItemNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItemAnswer {
    inventory_item: Option<InventoryItemNode>,
}

impl From<InventoryItemNode> for InventoryRecord {
    fn from(node: InventoryItemNode) -> InventoryRecord {
        InventoryRecord {
            inventory_item_id: node.id,
            sku: node.sku.filter(|s| !s.is_empty()),
            tracked: node.tracked,
            variant_id: node.variant.id,
            variant_name: node.variant.display_name,
            level: node.inventory_level.map(|level| InventoryLevel {
                active: level.is_active,
                available: level.available(),
            }),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItemNode {
    id: String,
    sku: Option<String>,
    tracked: bool,
    variant: VariantNode,
    inventory_level: Option<LevelNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariantNode {
    id: String,
    display_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LevelNode {
    is_active: bool,
    quantities: Vec<QuantityNode>,
}

impl LevelNode {
    fn available(&self) -> i64 {
        self.quantities
            .iter()
            .find(|q| q.name == "available")
            .map_or(0, |q| q.quantity)
    }
}

#[derive(Deserialize)]
struct QuantityNode {
    name: String,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrdersAnswer {
    fulfillment_orders: Nodes<FulfillmentOrderNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderNode {
    id: String,
    status: String,
    line_items: Nodes<FulfillmentOrderLineNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FulfillmentOrderLineNode {
    sku: Option<String>,
    inventory_item_id: Option<String>,
    remaining_quantity: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetAnswer {
    inventory_set_quantities: Option<SetPayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetPayload {
    inventory_adjustment_group: Option<GroupNode>,
    user_errors: Vec<UserErrorNode>,
}

#[derive(Deserialize)]
struct GroupNode {
    id: String,
}

#[derive(Deserialize)]
struct UserErrorNode {
    field: Option<Vec<String>>,
    message: String,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivateAnswer {
    inventory_activate: Option<ActivatePayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivatePayload {
    inventory_level: Option<LevelNode>,
    user_errors: Vec<UserErrorNode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_indexes_are_read_from_the_field_path() {
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            quantity_index(&path(&["input", "quantities", "12", "inventoryItemId"])),
            Some(12)
        );
        assert_eq!(quantity_index(&path(&["input", "reason"])), None);
        assert_eq!(quantity_index(&[]), None);
        assert_eq!(numeric_id("gid://shopify/Location/77"), Some(77));
        assert_eq!(numeric_id("Madrid"), None);
        assert_eq!(
            InventorySetErrorCode::parse(Some("CHANGE_FROM_QUANTITY_STALE")),
            InventorySetErrorCode::ChangeFromQuantityStale
        );
        assert_eq!(
            InventorySetErrorCode::parse(None),
            InventorySetErrorCode::Other(String::new())
        );
    }
}
