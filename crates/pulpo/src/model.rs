//! PULPO's wire shapes, as its Swagger spec (4.6.48) names them. Only the fields tentacle reads
//! or writes; unknown response fields are ignored.

use serde::{Deserialize, Serialize};
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
