//! The settings of a `generate_shipments` configuration: whether Shopify tells the customer,
//! and how PULPO's carrier codes are called in Shopify.

use serde::{Deserialize, Serialize};

use crate::settings::{Field, FieldError, Input, TypeSettings};

const FIELDS: &[Field] = &[
    Field {
        key: "notify_customer",
        label: "Notify the customer",
        name: "notify customer",
        help: "Shopify emails the customer the tracking number of each shipped box.",
        input: Input::Toggle,
        group: "Shipments",
        shown_by: None,
    },
    Field {
        key: "carrier_names",
        label: "Carrier names",
        name: "carrier names",
        help: "Comma-separated PULPO carrier code=Shopify tracking company, e.g. seur=SEUR, \
               ups_es=UPS. A code not listed is sent as it is, with the tracking URL.",
        input: Input::TextList,
        group: "Shipments",
        shown_by: None,
    },
];

/// The settings of one `generate_shipments` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShipmentSettings {
    pub automatic_transfer: bool,
    pub frequency_minutes: i64,
    /// Shopify notifies the customer of each fulfillment (default on).
    pub notify_customer: bool,
    /// `code=Company` entries mapping PULPO carrier codes to Shopify tracking companies.
    pub carrier_names: Vec<String>,
}

impl Default for ShipmentSettings {
    fn default() -> Self {
        ShipmentSettings {
            automatic_transfer: true,
            frequency_minutes: 10,
            notify_customer: true,
            carrier_names: Vec::new(),
        }
    }
}

impl ShipmentSettings {
    /// The Shopify tracking company for a PULPO carrier code: the mapped name, or the code as
    /// it is (Shopify then shows it with the tracking URL rather than building one).
    pub fn company_of(&self, carrier_code: &str) -> String {
        self.carrier_names
            .iter()
            .filter_map(|entry| entry.split_once('='))
            .find(|(code, _)| code.trim().eq_ignore_ascii_case(carrier_code.trim()))
            .map_or_else(
                || carrier_code.to_string(),
                |(_, name)| name.trim().to_string(),
            )
    }
}

impl TypeSettings for ShipmentSettings {
    const FIELDS: &'static [Field] = FIELDS;

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        let mut codes = std::collections::HashSet::new();
        for entry in &self.carrier_names {
            match entry.split_once('=') {
                Some((code, name)) if !code.trim().is_empty() && !name.trim().is_empty() => {
                    if !codes.insert(code.trim().to_lowercase()) {
                        errors.push(FieldError::new(
                            "carrier_names",
                            format!(
                                "carrier code \"{}\" is mapped twice: keep one entry per code",
                                code.trim()
                            ),
                        ));
                    }
                }
                _ => errors.push(FieldError::new(
                    "carrier_names",
                    format!(
                        "\"{entry}\" is not code=Company: write each mapping as the PULPO carrier \
                         code, =, and the Shopify tracking company, e.g. seur=SEUR"
                    ),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::settings::read;

    #[test]
    fn carriers_are_mapped_by_code_and_unmapped_ones_kept() {
        let settings: ShipmentSettings = read(
            json!({"carrier_names": ["seur=SEUR", "UPS_ES = UPS"]})
                .as_object()
                .unwrap(),
            "generate_shipments",
        )
        .unwrap();
        assert!(settings.notify_customer);
        assert_eq!(settings.company_of("seur"), "SEUR");
        assert_eq!(settings.company_of("ups_es"), "UPS");
        assert_eq!(settings.company_of("correos"), "correos");
    }

    #[test]
    fn a_bad_mapping_is_named() {
        let errors = read::<ShipmentSettings>(
            json!({"carrier_names": ["seur", "ups=UPS", "UPS=Other"]})
                .as_object()
                .unwrap(),
            "generate_shipments",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].message.contains("\"seur\" is not code=Company"));
        assert!(errors[1].message.contains("mapped twice"));
    }
}
