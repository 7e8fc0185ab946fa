//! The settings of a `products` configuration, as PULPO's own Shopify integration has them
//! (reference §A.2): where the price comes from, a default supplier, whether product tags are
//! imported, and whether products that are never shipped are left out.

use serde::{Deserialize, Serialize};

use crate::settings::{Field, FieldError, Input, TypeSettings};

/// Where a PULPO product's price comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The variant's selling price.
    #[default]
    Variant,
    /// The inventory item's unit cost, the merchant's "Cost per item".
    InventoryItem,
}

fn price_sources() -> Vec<&'static str> {
    vec!["variant", "inventory_item"]
}

const FIELDS: &[Field] = &[
    Field {
        key: "price_source",
        label: "Price source",
        name: "price source",
        help: "variant: the variant's price. inventory item: its \"Cost per item\" (a variant \
               without one gets no price in PULPO).",
        input: Input::Choice(price_sources),
        group: "Products",
        shown_by: None,
    },
    Field {
        key: "default_supplier",
        label: "Default supplier",
        name: "default supplier",
        help: "The id of a PULPO third party of type S (supplier) given to every product. \
               Empty: PULPO's supplier is left as it is.",
        input: Input::OptionalInteger,
        group: "Products",
        shown_by: None,
    },
    Field {
        key: "import_tags",
        label: "Import product tags",
        name: "import product tags",
        help: "The Shopify product's tags go to the PULPO product's attributes. The tags lot \
               and serial are reserved: they set how PULPO tells the units apart.",
        input: Input::Toggle,
        group: "Products",
        shown_by: None,
    },
    Field {
        key: "only_physical_products",
        label: "Only physical products",
        name: "only physical products",
        help: "Leave out what is never shipped (gift cards, services): variants whose \
               inventory item does not require shipping.",
        input: Input::Toggle,
        group: "Products",
        shown_by: None,
    },
];

/// The settings of one `products` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductSettings {
    pub automatic_transfer: bool,
    pub frequency_minutes: i64,
    pub price_source: PriceSource,
    /// A PULPO third party of type `S`.
    pub default_supplier: Option<i64>,
    pub import_tags: bool,
    pub only_physical_products: bool,
}

impl Default for ProductSettings {
    fn default() -> Self {
        ProductSettings {
            automatic_transfer: true,
            frequency_minutes: 10,
            price_source: PriceSource::Variant,
            default_supplier: None,
            import_tags: false,
            only_physical_products: true,
        }
    }
}

impl TypeSettings for ProductSettings {
    const FIELDS: &'static [Field] = FIELDS;

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        if self.default_supplier.is_some_and(|id| id <= 0) {
            errors.push(FieldError::new(
                "default_supplier",
                "default supplier must be the id of a PULPO supplier (a whole number above 0), \
                 or empty",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::settings::read;

    #[test]
    fn defaults_are_pulpos() {
        let settings: ProductSettings = read(&serde_json::Map::new(), "products").unwrap();
        assert_eq!(settings, ProductSettings::default());
        assert_eq!(settings.frequency_minutes, 10);
        assert!(settings.only_physical_products && !settings.import_tags);
    }

    #[test]
    fn a_bad_price_source_and_supplier_are_named() {
        let errors = read::<ProductSettings>(
            json!({"price_source": "retail", "default_supplier": 0})
                .as_object()
                .unwrap(),
            "products",
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["price_source", "default_supplier"], "{errors:?}");
        assert!(errors[0].message.contains("inventory_item"), "{errors:?}");
    }
}
