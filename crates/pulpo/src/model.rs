//! PULPO's wire shapes, as its Swagger spec (4.6.48) names them. Only the fields tentacle reads
//! or writes; unknown response fields are ignored.

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
