//! PULPO's wire shapes, as its Swagger spec (4.6.48) names them. Only the fields tentacle reads
//! or writes; unknown response fields are ignored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
pub use tentacle_domain::sales_order::{PulpoOrderState, ShipTo, ShipToAddress};

/// `SalesOrderBodyRequest`: the body of create and update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesOrderBody {
    pub order_num: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_order_num: Option<String>,
    #[serde(rename = "type")]
    pub order_type: String,
    pub warehouse_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_party_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub items: Vec<SalesItemBody>,
    pub ship_to: ShipTo,
}

/// `SalesItemBodyRequest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesItemBody {
    pub product_id: i64,
    pub quantity: i64,
    pub line_order_id: String,
}

/// `SalesOrder` (response).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SalesOrder {
    pub id: i64,
    pub order_num: String,
    pub state: PulpoOrderState,
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    #[serde(default)]
    pub external_order_num: Option<String>,
    #[serde(default)]
    pub items: Vec<SalesItem>,
}

/// `SalesItem` (response).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SalesItem {
    #[serde(default)]
    pub id: Option<i64>,
    pub product_id: i64,
    pub quantity: i64,
    #[serde(default)]
    pub line_order_id: Option<String>,
}

/// `Product`, with the `sku` and `name` PULPO returns beyond its spec.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Product {
    pub id: i64,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub deleted: Option<bool>,
    /// How its units are told apart: `none`, `lot` or `serial`.
    #[serde(default)]
    pub management_type: Option<String>,
    #[serde(default)]
    pub barcodes: Vec<String>,
    /// Kilograms (tentacle's convention; the spec gives no unit).
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default)]
    pub cost_price: Option<f64>,
    /// The default SKU's supplier, beyond the spec's `Product` like `sku`.
    #[serde(default)]
    pub third_party_id: Option<i64>,
    /// Free-form; the spec types it a string, so a JSON object may arrive encoded in one.
    #[serde(default)]
    pub attributes: Option<serde_json::Value>,
}

/// The fields of a product tentacle creates or changes: the spec's `Product` plus the default
/// SKU's `sku`, `name` and supplier (`third_party_id`), which PULPO takes beyond its spec
/// (reference §B.5). On an update, a field left `None` is not sent and PULPO keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProductBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcodes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub third_party_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<String>,
}

/// One product a bulk create made: `ProductResponse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreatedProduct {
    pub id: i64,
    pub sku: String,
}

/// The outcome of a bulk product create: what PULPO created and, per SKU, why it refused
/// the others.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProductBulkOutcome {
    pub created: Vec<CreatedProduct>,
    pub refused: Vec<(String, Vec<crate::FieldMessage>)>,
}

/// One page of `GET /inventory/products`: `{products, total_results}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductPage {
    #[serde(default)]
    pub products: Vec<Product>,
    /// Products matching the filters, over all pages.
    #[serde(default)]
    pub total_results: usize,
}

/// `Availability`: a product's stock in the warehouses asked for, one element of the array
/// `GET /inventory/stocks/availability` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Availability {
    /// The spec types it `string`; PULPO's ids are integers everywhere else, so both are read.
    #[serde(deserialize_with = "integer_or_numeric_string")]
    pub product_id: i64,
    /// Storage stock minus what sales orders (queue, picking) and replenishments (queue,
    /// taken) reserve. Negative when PULPO is oversold; kept as PULPO says it.
    pub available_quantity: i64,
    #[serde(default)]
    pub reception_quantity: Option<i64>,
    #[serde(default)]
    pub return_quantity: Option<i64>,
}

/// A product's availability in one warehouse, by SKU: what the stock integration pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuAvailability {
    pub sku: String,
    pub product_id: i64,
    /// As PULPO reports it, possibly negative; 0 for a product PULPO reports nothing for.
    pub available_quantity: i64,
}

fn integer_or_numeric_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Integer(i64),
        Text(String),
    }
    match Wire::deserialize(deserializer)? {
        Wire::Integer(id) => Ok(id),
        Wire::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("product_id {text:?} is not an id"))),
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Warehouse {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub active: Option<bool>,
}

/// `ThirdParty`: a customer (`third_type` `C`) or supplier (`S`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ThirdParty {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub third_type: Option<String>,
    #[serde(default)]
    pub identifier_type: Option<String>,
    #[serde(default)]
    pub identifier_number: Option<String>,
}

/// A customer to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewCustomer {
    pub identifier_type: String,
    pub identifier_number: String,
    pub name: String,
    pub third_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub active: bool,
}

/// One order of a bulk create that PULPO created.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BulkCreated {
    pub id: i64,
    pub order_num: String,
}

/// The outcome of a bulk create: what was created and, per `order_num`, why the others were not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkOutcome {
    pub created: Vec<BulkCreated>,
    pub errors: Vec<(String, Vec<crate::FieldMessage>)>,
}

/// `PackingOrder`: PULPO's packing of (part of) a sales order. States: `queue`, `taken`,
/// `ended`, `closed`, `locked`, `cancelled`, `draft`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PackingOrder {
    pub id: i64,
    #[serde(default)]
    pub sales_order_id: Option<i64>,
    #[serde(default)]
    pub sales_order_ref: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// PULPO's timestamp text, as it sent it.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Which packing orders to read. `None`/empty fields do not filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackingOrderFilter {
    /// Only packing orders of these sales orders; `Some(vec![])` matches nothing (and sends
    /// nothing).
    pub sales_order_ids: Option<Vec<i64>>,
    /// Only packing orders in one of these states.
    pub states: Vec<String>,
    /// Only packing orders changed at or after this instant (`updated_at=gte:`; inclusive, so
    /// a change in the same instant as the last run's cursor is read again, never missed).
    pub updated_since: Option<DateTime<Utc>>,
}

/// `PackingBox`: one parcel of a packing order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PackingBox {
    pub id: i64,
    pub packing_order_id: i64,
    #[serde(default)]
    pub box_number: Option<i64>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub items: Vec<PackingBoxItem>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `PackingBoxItem`: units of one product in a box, with the sales item's `line_order_id`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PackingBoxItem {
    #[serde(default)]
    pub id: Option<i64>,
    pub product_id: i64,
    pub quantity: i64,
    #[serde(default)]
    pub line_order_id: Option<String>,
    /// The item's `PackingBoxItemBatch`es. The spec defines the record but not where PULPO
    /// returns it; read here from the item, empty when absent.
    #[serde(default)]
    pub batches: Vec<PackingBoxItemBatch>,
}

/// `PackingBoxItemBatch`: how many units of a box item came from one lot or serial number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PackingBoxItemBatch {
    pub batch_id: i64,
    pub quantity: i64,
}

/// `ShipmentTracking`: a carrier label of one box.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShipmentTracking {
    pub id: i64,
    #[serde(default)]
    pub packing_box_id: Option<i64>,
    #[serde(default)]
    pub carrier_code: Option<String>,
    #[serde(default)]
    pub tracking_code: Option<String>,
    #[serde(default)]
    pub tracking_url: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `Batch`: a lot or serial number of a product (`type` `lot` or `serial`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Batch {
    pub id: i64,
    #[serde(default)]
    pub product_id: Option<i64>,
    pub number: String,
    #[serde(default, rename = "type")]
    pub batch_type: Option<String>,
}

/// One box PULPO shipped for a sales order, with what a shipment run needs: the items by
/// Shopify line (`line_order_id`), their lots or serial numbers, and the box's tracking.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedBox {
    pub sales_order_id: i64,
    pub packing_order_id: i64,
    pub box_id: i64,
    pub box_number: Option<i64>,
    pub items: Vec<ShippedItem>,
    /// The box's newest tracking with a tracking code; `None` while it has no label.
    pub tracking: Option<Tracking>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShippedItem {
    pub product_id: i64,
    pub quantity: i64,
    pub line_order_id: Option<String>,
    pub batches: Vec<ShippedBatch>,
}

/// Units of a shipped item from one lot or serial number.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedBatch {
    pub batch_id: i64,
    pub number: String,
    pub quantity: i64,
}

/// A box's tracking. `id` stays when PULPO changes a label in place; compare the codes and
/// the URL (or `updated_at`) to see a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracking {
    pub id: i64,
    pub carrier_code: Option<String>,
    pub tracking_code: String,
    pub tracking_url: Option<String>,
    pub updated_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_reads_the_product_id_as_integer_or_string() {
        let answer: Vec<Availability> = serde_json::from_str(
            r#"[{"product_id": 7, "available_quantity": -2},
                {"product_id": "8", "available_quantity": 0, "reception_quantity": 1, "return_quantity": 0}]"#,
        )
        .expect("availability");
        assert_eq!(
            (answer[0].product_id, answer[0].available_quantity),
            (7, -2)
        );
        assert_eq!(
            (answer[1].product_id, answer[1].reception_quantity),
            (8, Some(1))
        );
        assert!(
            serde_json::from_str::<Availability>(r#"{"product_id": "x", "available_quantity": 1}"#)
                .is_err()
        );
    }
}

/// `IncomingGood`: goods received at a warehouse. A customer return has `document_type`
/// `return` and the `sales_order_id` the goods shipped on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IncomingGood {
    pub id: i64,
    #[serde(default)]
    pub document_type: Option<String>,
    #[serde(default)]
    pub sales_order_id: Option<i64>,
    #[serde(default)]
    pub sequence_number: Option<String>,
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    #[serde(default)]
    pub items: Vec<IncomingGoodItem>,
    /// PULPO's timestamp text, as it sent it: when the goods were received.
    #[serde(default)]
    pub inserted_at: Option<String>,
}

/// `IncomingGoodItem`: units of one product received; on a return, `line_order_id` is the
/// sales item's (the Shopify line item id, as the import wrote it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IncomingGoodItem {
    pub product_id: i64,
    pub quantity: i64,
    #[serde(default)]
    pub line_order_id: Option<String>,
    /// Why the units came back, as the warehouse recorded it.
    #[serde(default)]
    pub reason_codes: Vec<ReasonCode>,
}

/// `ReasonCode`, as far as a return needs it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReasonCode {
    pub code: String,
}
