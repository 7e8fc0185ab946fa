//! The settings of a stock configuration: which connected locations it covers, the safety
//! stock held back from Shopify, and whether items not stocked at a location are activated there.

use serde::{Deserialize, Serialize};

use crate::settings::{Field, FieldError, Input, TypeSettings};

/// Safety stock bounds; Shopify refuses quantities above 1,000,000,000, and a safety stock above
/// a million units is a typo, not a policy.
const SAFETY_STOCK: (i64, i64) = (0, 1_000_000);

const FIELDS: &[Field] = &[
    Field {
        key: "locations",
        label: "Locations",
        name: "locations",
        help: "Comma-separated Shopify location names, each named like its PULPO warehouse. \
               Empty: every location named like a PULPO warehouse.",
        input: Input::TextList,
        group: "Which stock",
        shown_by: None,
    },
    Field {
        key: "safety_stock",
        label: "Safety stock (units)",
        name: "safety stock",
        help: "Held back from Shopify per SKU: Shopify shows PULPO's available minus this, never \
               below 0.",
        input: Input::Integer {
            min: SAFETY_STOCK.0,
            max: SAFETY_STOCK.1,
            unit: "units",
        },
        group: "Which stock",
        shown_by: None,
    },
    Field {
        key: "activate_missing_items",
        label: "Activate items not stocked at the location",
        name: "activate missing items",
        help: "A SKU PULPO has whose Shopify item is not stocked at the location is stocked there \
               and set. Off: a warning names it.",
        input: Input::Toggle,
        group: "Which stock",
        shown_by: None,
    },
];

/// The settings of one stock configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StockSettings {
    /// Run on a schedule (default on).
    pub automatic_transfer: bool,
    /// Minutes between scheduled runs, 1–60 (default 10).
    pub frequency_minutes: i64,
    /// Shopify location names to cover; empty = every location named like a PULPO warehouse.
    pub locations: Vec<String>,
    /// Units held back from Shopify per SKU (default 0).
    pub safety_stock: i64,
    /// Stock items at the location when they are not (default off: a warning).
    pub activate_missing_items: bool,
}

impl Default for StockSettings {
    fn default() -> Self {
        StockSettings {
            automatic_transfer: true,
            frequency_minutes: 10,
            locations: Vec::new(),
            safety_stock: 0,
            activate_missing_items: false,
        }
    }
}

impl TypeSettings for StockSettings {
    const FIELDS: &'static [Field] = FIELDS;

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        if self.locations.iter().any(|l| l.trim().is_empty()) {
            errors.push(FieldError::new(
                "locations",
                "locations must not contain an empty name: remove the blank entry",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.locations.iter().find(|l| !seen.insert(l.as_str())) {
            errors.push(FieldError::new(
                "locations",
                format!("location \"{twice}\" is listed twice: list each location once"),
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
    fn an_empty_table_gives_the_defaults() {
        let settings: StockSettings = read(&serde_json::Map::new(), "stock").unwrap();
        assert_eq!(settings, StockSettings::default());
        assert!(settings.automatic_transfer && !settings.activate_missing_items);
        assert_eq!((settings.frequency_minutes, settings.safety_stock), (10, 0));
    }

    #[test]
    fn every_bad_field_is_named() {
        let value =
            json!({"safety_stock": -1, "locations": ["Main", " ", "Main"], "frequency_minutes": 0});
        let errors = read::<StockSettings>(value.as_object().unwrap(), "stock").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "frequency_minutes",
                "locations",
                "locations",
                "safety_stock"
            ]
        );
        assert_eq!(
            errors[3].message,
            "safety stock must be between 0 and 1000000 units"
        );
        assert!(errors[2].message.contains("listed twice"), "{errors:?}");
    }

    #[test]
    fn a_sales_orders_key_is_not_a_stock_setting() {
        let value = json!({"required_tags": ["b2c"]});
        let errors = read::<StockSettings>(value.as_object().unwrap(), "stock").unwrap_err();
        assert_eq!(errors[0].field, "required_tags");
        assert_eq!(errors[0].message, "is not a stock setting");
    }
}
