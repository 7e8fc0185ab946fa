//! The PULPO sales order to create or update for one Shopify fulfillment order, before its SKUs
//! are resolved to PULPO product ids.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Fingerprint, OrderError};
use crate::order::{Customer, ShopifyOrder, join_names};

/// PULPO's `channel` for orders that come from Shopify.
pub const CHANNEL: &str = "shopify";

/// A PULPO sales order (`SalesOrderBodyRequest`) for one Shopify fulfillment order. The caller
/// resolves each line's SKU to a PULPO product id ([`SalesOrderDraft::resolve_products`]) and
/// the customer to a PULPO third party, then creates or updates the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesOrderDraft {
    /// GraphQL id of the Shopify fulfillment order this PULPO order ships.
    pub fulfillment_order_id: String,
    /// Unique in PULPO: prefix + order number, with `_1`, `_2`… when the Shopify order is split
    /// over several fulfillment orders at PULPO warehouses. Also how a possibly created order is
    /// found again after a crash.
    pub order_num: String,
    /// The Shopify order's numeric id.
    pub external_order_num: String,
    /// Always [`CHANNEL`].
    pub channel: &'static str,
    pub warehouse_id: i64,
    /// The PULPO warehouse's name, which is also the Shopify location's name.
    pub warehouse_name: String,
    pub customer: CustomerRef,
    pub ship_to: ShipTo,
    /// At least one line; every quantity is positive.
    pub lines: Vec<DraftLine>,
}

/// One line of a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLine {
    /// PULPO `line_order_id`: the Shopify line item's numeric id.
    pub line_order_id: String,
    /// The Shopify SKU, to resolve to a PULPO product id.
    pub sku: String,
    /// The Shopify line item's name, for messages.
    pub name: String,
    /// Units still to ship from the fulfillment order.
    pub quantity: u32,
}

/// A draft line with its PULPO product: an `items[]` entry of the PULPO sales order body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesOrderItem {
    pub product_id: i64,
    pub quantity: u32,
    pub line_order_id: String,
}

/// Who the PULPO order is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRef {
    /// The order's Shopify customer: the caller matches or creates the PULPO customer (a third
    /// party of type `C`).
    Shopify(Customer),
    /// The configured fallback PULPO customer, for an order without a Shopify customer.
    Fallback(i64),
}

/// PULPO `ship_to` (`Address`), serialized with PULPO's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShipTo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub address: ShipToAddress,
}

/// PULPO `ship_to.address` (`AddressDetail`); `street` is the one field PULPO requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShipToAddress {
    /// Shopify `address1` (street and house number).
    pub street: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Shopify `provinceCode`, else `province`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Shopify `countryCodeV2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_alpha2: Option<String>,
    /// The order's email, else the customer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl SalesOrderDraft {
    /// The fingerprint of the lines and ship-to; store it with the link once PULPO has them.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.lines, &self.ship_to)
    }

    /// The distinct SKUs to resolve, sorted.
    pub fn skus(&self) -> BTreeSet<&str> {
        self.lines.iter().map(|line| line.sku.as_str()).collect()
    }

    /// The PULPO `items[]`, with each SKU resolved by `product_id`. Any SKU it does not know
    /// fails the order with [`OrderError::UnknownSkus`], naming every unknown SKU.
    pub fn resolve_products(
        &self,
        mut product_id: impl FnMut(&str) -> Option<i64>,
    ) -> Result<Vec<SalesOrderItem>, OrderError> {
        let mut items = Vec::with_capacity(self.lines.len());
        let mut unknown = BTreeSet::new();
        for line in &self.lines {
            match product_id(&line.sku) {
                Some(product_id) => items.push(SalesOrderItem {
                    product_id,
                    quantity: line.quantity,
                    line_order_id: line.line_order_id.clone(),
                }),
                None => {
                    unknown.insert(line.sku.clone());
                }
            }
        }
        if unknown.is_empty() {
            Ok(items)
        } else {
            Err(OrderError::UnknownSkus {
                skus: unknown.into_iter().collect(),
            })
        }
    }
}

/// The ship-to of an order, from its shipping address. PULPO requires a street, so an order
/// without a shipping address or without `address1` fails.
pub(super) fn ship_to(order: &ShopifyOrder) -> Result<ShipTo, OrderError> {
    let address = order
        .shipping_address
        .as_ref()
        .ok_or(OrderError::NoShippingAddress)?;
    let street = clean(&address.address1).ok_or(OrderError::MissingStreet)?;
    let customer = order.customer.as_ref();
    Ok(ShipTo {
        name: clean(&address.name)
            .or_else(|| join_names(address.first_name.as_deref(), address.last_name.as_deref()))
            .or_else(|| customer.and_then(Customer::full_name)),
        company_name: clean(&address.company),
        phone_number: clean(&address.phone)
            .or_else(|| clean(&order.phone))
            .or_else(|| customer.and_then(|c| clean(&c.phone))),
        address: ShipToAddress {
            street,
            street2: clean(&address.address2),
            zip: clean(&address.zip),
            city: clean(&address.city),
            state: clean(&address.province_code).or_else(|| clean(&address.province)),
            country: clean(&address.country),
            country_alpha2: clean(&address.country_code),
            email: clean(&order.email).or_else(|| customer.and_then(|c| clean(&c.email))),
        },
    })
}

/// Trimmed text, or `None` when absent or blank, so that whitespace never reads as a change.
fn clean(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}
