//! PULPO's records as the sandbox stores them, in the wire shapes of the Swagger spec
//! (`SalesOrder`, `Product`, `PackingBox`, …), and the request bodies it accepts.
//!
//! Records serialize every field the sandbox knows, `null` when unset, as PULPO's Ecto-backed API
//! does. `attributes` is typed `string` in the spec but carried as a JSON object in practice
//! (reference §B.3.5), so it is kept as a raw JSON value.

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// PULPO ids are integers (one sequence per table).
pub type Id = i64;

/// The tenant every record belongs to: the sandbox has a single one.
pub const TENANT_ID: Id = 1;

/// Timestamps go out as ISO-8601 UTC with microseconds, so an `updated_at` read back can be
/// used as a `gte:` cursor without losing changes made within the same second.
pub mod timestamp {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn format(at: &DateTime<Utc>) -> String {
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(at))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => serializer.serialize_str(&super::format(at)),
                None => serializer.serialize_none(),
            }
        }
    }
}

/// `{"<plural>": [...], "total_results": N}`, the wrapper of every PULPO list response.
#[derive(Debug, Clone)]
pub struct ListResponse<T> {
    pub key: &'static str,
    pub items: Vec<T>,
    /// Matches before `limit`/`offset` were applied.
    pub total_results: usize,
}

impl<T: Serialize> Serialize for ListResponse<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(self.key, &self.items)?;
        map.serialize_entry("total_results", &self.total_results)?;
        map.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Warehouse {
    pub id: Id,
    pub name: String,
    pub active: bool,
    pub company_name: Option<String>,
    pub line1: String,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
    pub site: Option<String>,
    pub priority: Option<i64>,
    pub tenant_id: Id,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A product with its default SKU's `sku`, `name` and `description` flattened in, as PULPO
/// returns it (those three are missing from the spec's `Product`, reference §B.5).
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub article_number: Option<String>,
    pub barcodes: Vec<String>,
    pub active: bool,
    pub management_type: String,
    pub batch_control: bool,
    pub attributes: Option<Value>,
    pub weight: Option<f64>,
    pub height: Option<f64>,
    pub length: Option<f64>,
    pub width: Option<f64>,
    pub volume: Option<f64>,
    pub cost_price: Option<f64>,
    /// The default SKU's supplier (a third party of type `S`), beyond the spec's `Product`
    /// like `sku` (`ProductSku.third_party_id`).
    pub third_party_id: Option<Id>,
    pub merchant_id: Option<Id>,
    pub tenant_id: Id,
    pub deleted: bool,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `POST /inventory/products` body: the spec's `Product` plus the default SKU's fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductBody {
    /// Names the product in `PUT /inventory/bulk/products`; ignored elsewhere.
    pub id: Option<Id>,
    pub sku: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub article_number: Option<String>,
    pub barcodes: Option<Vec<String>>,
    pub active: Option<bool>,
    pub management_type: Option<String>,
    pub batch_control: Option<bool>,
    pub attributes: Option<Value>,
    pub weight: Option<f64>,
    pub height: Option<f64>,
    pub length: Option<f64>,
    pub width: Option<f64>,
    pub volume: Option<f64>,
    pub cost_price: Option<f64>,
    pub third_party_id: Option<Id>,
    pub merchant_id: Option<Id>,
}

/// A customer (`third_type` `C`) or supplier (`S`).
#[derive(Debug, Clone, Serialize)]
pub struct ThirdParty {
    pub id: Id,
    pub name: String,
    pub third_type: String,
    pub identifier_type: String,
    pub identifier_number: String,
    pub active: bool,
    pub email: Option<String>,
    pub erp_code: Option<String>,
    pub erp_id: Option<String>,
    pub attributes: Option<Value>,
    pub merchant_id: Option<Id>,
    pub merchant_channel_id: Option<Id>,
    pub tenant_id: Id,
    #[serde(with = "timestamp::option")]
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<Id>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `POST /iam/third_parties` body (`ThirdParty`; `tenant_id` comes from the token).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ThirdPartyBody {
    pub name: Option<String>,
    pub third_type: Option<String>,
    pub identifier_type: Option<String>,
    pub identifier_number: Option<String>,
    pub active: Option<bool>,
    pub email: Option<String>,
    pub erp_code: Option<String>,
    pub erp_id: Option<String>,
    pub attributes: Option<Value>,
    pub merchant_id: Option<Id>,
    pub merchant_channel_id: Option<Id>,
}

/// Sales order states (the spec's search enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SalesOrderState {
    Queue,
    Picking,
    Packing,
    Ended,
    Cancelled,
}

impl SalesOrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            SalesOrderState::Queue => "queue",
            SalesOrderState::Picking => "picking",
            SalesOrderState::Packing => "packing",
            SalesOrderState::Ended => "ended",
            SalesOrderState::Cancelled => "cancelled",
        }
    }

    /// Whether the order still holds goods of the warehouse (reserved or being packed).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            SalesOrderState::Queue | SalesOrderState::Picking | SalesOrderState::Packing
        )
    }
}

/// `Address`: `ship_to` on sales orders. The same shape is read and written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: Option<String>,
    pub name2: Option<String>,
    pub company_name: Option<String>,
    pub phone_number: Option<String>,
    pub address: Option<AddressDetail>,
}

/// `AddressDetail`; only `street` is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressDetail {
    pub street: Option<String>,
    pub house_nr: Option<String>,
    pub street2: Option<String>,
    pub zip: Option<String>,
    pub post_number: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
    pub country_alpha2: Option<String>,
    pub email: Option<String>,
    pub additional_info: Option<String>,
}

/// `ShipmentInstructionStop`, read and written alike.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShipmentInstructionStop {
    pub name: Option<String>,
    pub stop_number: Option<String>,
    pub stop_type: Option<String>,
    pub address: Option<AddressDetail>,
}

/// `SalesShipmentInstructionBodyRequest`: an object on write…
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ShipmentInstructionBody {
    pub shipment_terms_code: Option<String>,
    pub shipment_terms_location: Option<String>,
    pub shipping_method_id: Option<Id>,
    pub trip_number: Option<String>,
    pub stops: Option<Vec<ShipmentInstructionStop>>,
}

/// …and `SalesShipmentInstruction`, an array element on read.
#[derive(Debug, Clone, Serialize)]
pub struct SalesShipmentInstruction {
    pub id: Id,
    pub sales_order_id: Id,
    pub shipment_terms_code: Option<String>,
    pub shipment_terms_location: Option<String>,
    pub shipping_method_id: Option<Id>,
    pub trip_number: Option<String>,
    pub stops: Vec<ShipmentInstructionStop>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `SalesItemBatchRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SalesItemBatchBody {
    pub batch_id: Option<Id>,
    pub suggested_quantity: Option<i64>,
}

/// `SalesItemBodyRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SalesItemBody {
    pub product_id: Option<Id>,
    pub quantity: Option<i64>,
    pub line_order_id: Option<String>,
    pub notes: Option<String>,
    pub required_date: Option<String>,
    pub attributes: Option<Value>,
    pub batches: Option<Vec<SalesItemBatchBody>>,
}

/// `SalesOrderBodyRequest`: the body of create, update (PUT, a full replacement) and bulk.
/// Fields PULPO does not know are ignored, as its changesets do.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SalesOrderBody {
    pub order_num: Option<String>,
    pub external_order_num: Option<String>,
    #[serde(rename = "type")]
    pub order_type: Option<String>,
    pub warehouse_id: Option<Id>,
    pub destination_warehouse_id: Option<Id>,
    pub third_party_id: Option<Id>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub merchant_id: Option<Id>,
    pub merchant_channel_id: Option<Id>,
    pub channel: Option<String>,
    pub criterium: Option<String>,
    pub priority: Option<i64>,
    pub delivery_date: Option<String>,
    pub notes: Option<String>,
    pub attributes: Option<Value>,
    pub is_cart: Option<bool>,
    pub shipping_method_id: Option<Id>,
    pub service_point_id: Option<String>,
    pub purchase_order_id: Option<Id>,
    pub custom_filter_strategy_id: Option<Id>,
    pub missing_stock_items_cancelled: Option<bool>,
    pub estimated_total_volume: Option<f64>,
    pub estimated_total_weight: Option<f64>,
    pub address_check_status: Option<String>,
    /// Accepted but not echoed: `SalesOrder` has no `return_labels` (they are separate records).
    pub return_labels: Option<Vec<String>>,
    pub reason_codes: Option<Vec<Value>>,
    pub ship_to: Option<Address>,
    pub shipment_instructions: Option<ShipmentInstructionBody>,
    pub items: Option<Vec<SalesItemBody>>,
}

/// `SalesItemBatch`.
#[derive(Debug, Clone, Serialize)]
pub struct SalesItemBatch {
    pub id: Id,
    pub sales_item_id: Id,
    pub batch_id: Option<Id>,
    pub suggested_quantity: Option<i64>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `SalesItem`: a line of a sales order. Its `state` follows the order's.
#[derive(Debug, Clone, Serialize)]
pub struct SalesItem {
    pub id: Id,
    pub sales_order_id: Id,
    pub product_id: Id,
    pub quantity: i64,
    pub fulfilled_quantity: i64,
    pub line_order_id: Option<String>,
    pub notes: Option<String>,
    pub required_date: Option<String>,
    pub attributes: Option<Value>,
    pub batches: Vec<SalesItemBatch>,
    pub state: SalesOrderState,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl SalesItem {
    /// Quantity not shipped yet.
    pub fn remaining(&self) -> i64 {
        self.quantity - self.fulfilled_quantity
    }
}

/// `SalesOrder`: the body fields plus what PULPO adds.
#[derive(Debug, Clone, Serialize)]
pub struct SalesOrder {
    pub id: Id,
    pub order_num: String,
    pub external_order_num: Option<String>,
    #[serde(rename = "type")]
    pub order_type: String,
    pub state: SalesOrderState,
    pub warehouse_id: Id,
    pub destination_warehouse_id: Option<Id>,
    pub third_party_id: Option<Id>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub merchant_id: Option<Id>,
    pub merchant_channel_id: Option<Id>,
    pub channel: Option<String>,
    pub criterium: Option<String>,
    pub priority: Option<i64>,
    pub delivery_date: Option<String>,
    pub notes: Option<String>,
    pub attributes: Option<Value>,
    pub is_cart: bool,
    pub shipping_method_id: Option<Id>,
    pub service_point_id: Option<String>,
    pub purchase_order_id: Option<Id>,
    pub custom_filter_strategy_id: Option<Id>,
    pub missing_stock_items_cancelled: bool,
    pub estimated_total_volume: Option<f64>,
    pub estimated_total_weight: Option<f64>,
    pub address_check_status: Option<String>,
    pub reason_codes: Vec<Value>,
    pub ship_to: Address,
    pub shipment_instructions: Vec<SalesShipmentInstruction>,
    pub items: Vec<SalesItem>,
    pub creator_id: Id,
    pub packing_location_id: Option<Id>,
    pub process_information_id: Option<Id>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `SalesOrderResponse`: what bulk endpoints report per order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesOrderRef {
    pub id: Id,
    pub order_num: String,
}

/// One element of the bare array `GET /inventory/stocks/availability` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    pub product_id: Id,
    pub available_quantity: i64,
    pub reception_quantity: i64,
    pub return_quantity: i64,
}

/// `PackingItem`: one line of a packing order, per sales item.
#[derive(Debug, Clone, Serialize)]
pub struct PackingItem {
    pub id: Id,
    pub packing_order_id: Id,
    pub product_id: Id,
    pub requested_quantity: i64,
    pub packed_quantity: i64,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `PackingOrder`: the sandbox keeps one per sales order, queued when the order reaches
/// `packing`; each shipment adds boxes to it.
#[derive(Debug, Clone, Serialize)]
pub struct PackingOrder {
    pub id: Id,
    pub sales_order_id: Id,
    pub sales_order_ref: String,
    pub fulfillment_order_id: Option<Id>,
    pub sequence_number: String,
    /// `queue` until the first box ships, `taken` while boxes are still being packed, `ended`
    /// once the whole order is packed, `cancelled` when the sales order was cancelled.
    pub state: String,
    #[serde(rename = "type")]
    pub packing_type: String,
    pub warehouse_id: Id,
    pub origin_location_id: Option<Id>,
    pub destination_location_id: Option<Id>,
    pub owner_id: Option<Id>,
    #[serde(with = "timestamp::option")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option")]
    pub end_date: Option<DateTime<Utc>>,
    pub items: Vec<PackingItem>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `PackingBoxItem`, with its `PackingBoxItemBatch`es embedded as `batches`. The spec
/// defines `PackingBoxItemBatch {packing_box_item_id, batch_id, quantity}` but no endpoint that
/// returns it; embedding it in the item is a guess modelled on `SalesItem.batches`.
#[derive(Debug, Clone, Serialize)]
pub struct PackingBoxItem {
    pub id: Id,
    pub packing_box_id: Id,
    pub product_id: Id,
    pub quantity: i64,
    pub line_order_id: Option<String>,
    pub attributes: Option<Value>,
    /// The lots or serial numbers the units came from (products managed by lot or serial).
    pub batches: Vec<PackingBoxItemBatch>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `PackingBox`.
#[derive(Debug, Clone, Serialize)]
pub struct PackingBox {
    pub id: Id,
    pub packing_order_id: Id,
    pub box_number: i64,
    pub name: String,
    pub state: String,
    pub weight: Option<f64>,
    pub height: Option<f64>,
    pub length: Option<f64>,
    pub width: Option<f64>,
    pub attributes: Option<Value>,
    pub loaded_shipping_box_id: Option<Id>,
    pub items: Vec<PackingBoxItem>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `ShipmentTracking`: the carrier's label for one box.
#[derive(Debug, Clone, Serialize)]
pub struct ShipmentTracking {
    pub id: Id,
    pub packing_box_id: Id,
    pub carrier_code: String,
    pub tracking_code: String,
    pub tracking_url: Option<String>,
    pub status: String,
    pub shipment_cost: Option<f64>,
    pub service_point_id: Option<String>,
    pub printed: bool,
    pub requires_attention: bool,
    pub error_message: Option<String>,
    pub return_label_error_message: Option<String>,
    pub attributes: Option<Value>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `PackingBoxItemBatch`: how many units of a box item came from one batch.
#[derive(Debug, Clone, Serialize)]
pub struct PackingBoxItemBatch {
    pub id: Id,
    pub packing_box_item_id: Id,
    pub batch_id: Id,
    pub quantity: i64,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `Batch`: a lot or serial number of one product (`type` is the product's `management_type`).
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub id: Id,
    pub product_id: Id,
    pub number: String,
    #[serde(rename = "type")]
    pub batch_type: String,
    pub expiration_date: Option<String>,
    pub client_id: Option<String>,
    pub third_party_id: Option<Id>,
    pub deleted: bool,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `ReasonCode`: why something happened, e.g. why a customer sent goods back. The sandbox's
/// tenant has the return reasons of [`crate::pulpo::store::RETURN_REASONS`].
#[derive(Debug, Clone, Serialize)]
pub struct ReasonCode {
    pub id: Id,
    pub code: String,
    pub name: String,
    pub active: bool,
    /// The processes the reason may be given in (`return` for returns).
    pub allowed_processes: Vec<String>,
    pub internal_reason: bool,
    pub tenant_id: Id,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `IncomingGood`: goods received at a warehouse. `document_type` is `return` for goods a
/// customer sent back (with the `sales_order_id` they shipped on), `purchase_order` or `none`
/// otherwise (reference §B.11).
#[derive(Debug, Clone, Serialize)]
pub struct IncomingGood {
    pub id: Id,
    pub document_type: String,
    pub sales_order_id: Option<Id>,
    pub purchase_order_id: Option<Id>,
    pub sequence_number: String,
    pub warehouse_id: Id,
    pub third_party_id: Option<Id>,
    pub owner_id: Option<Id>,
    pub merchant_id: Option<Id>,
    pub merchant_channel_id: Option<Id>,
    pub criterium: Option<String>,
    pub notes: Option<String>,
    #[serde(with = "timestamp::option")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option")]
    pub end_date: Option<DateTime<Utc>>,
    pub reason_codes: Vec<ReasonCode>,
    pub items: Vec<IncomingGoodItem>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `IncomingGoodItem`: units of one product received; on a return, `line_order_id` is the
/// sales item's, as the sales order carried it.
#[derive(Debug, Clone, Serialize)]
pub struct IncomingGoodItem {
    pub id: Id,
    pub incoming_good_id: Id,
    pub product_id: Id,
    pub batch_id: Option<Id>,
    pub quantity: i64,
    pub state: String,
    pub notes: Option<String>,
    pub destination_location_id: Option<Id>,
    pub line_order_id: Option<String>,
    pub line_item_number: Option<String>,
    pub reason_codes: Vec<ReasonCode>,
    #[serde(with = "timestamp")]
    pub inserted_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}
