//! The settings of a `returns` configuration, as PULPO's own integration has them (reference
//! §A.8): whether the returned products and the shipping are refunded, whether Shopify tells the
//! customer, and how PULPO's reason codes are called in Shopify.

use serde::{Deserialize, Serialize};

use crate::settings::{Field, FieldError, Input, TypeSettings};

/// Shopify's `ReturnReason` values (Admin API 2026-10).
pub const RETURN_REASONS: [&str; 10] = [
    "COLOR",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "OTHER",
    "SIZE_TOO_LARGE",
    "SIZE_TOO_SMALL",
    "STYLE",
    "UNKNOWN",
    "UNWANTED",
    "WRONG_ITEM",
];

/// The reason of a returned line whose PULPO reason code is not mapped, or that has none.
const UNMAPPED: &str = "OTHER";

const FIELDS: &[Field] = &[
    Field {
        key: "register_return",
        label: "Register the return in Shopify",
        name: "register return",
        help: "Each PULPO return becomes a Shopify return, left open and not restocked: close it \
               in Shopify without restocking, the stock integration brings the units back.",
        input: Input::Toggle,
        group: "Returns",
        shown_by: None,
    },
    Field {
        key: "refund_products",
        label: "Refund the returned products",
        name: "refund products",
        help: "Refund what the order charged for the returned units (never more than was paid), \
               without restocking in Shopify.",
        input: Input::Toggle,
        group: "Returns",
        shown_by: None,
    },
    Field {
        key: "refund_shipping",
        label: "Refund the shipping cost",
        name: "refund shipping",
        help: "With the first return of an order, refund the shipping it charged and has not \
               refunded yet.",
        input: Input::Toggle,
        group: "Returns",
        shown_by: None,
    },
    Field {
        key: "notify_customer",
        label: "Notify the customer",
        name: "notify customer",
        help: "Shopify emails the customer that the return was received (and refunded).",
        input: Input::Toggle,
        group: "Returns",
        shown_by: None,
    },
    Field {
        key: "reason_codes",
        label: "Return reasons",
        name: "return reasons",
        help: "Comma-separated PULPO reason code=Shopify return reason, e.g. DAMAGED=DEFECTIVE, \
               TOO_SMALL=SIZE_TOO_SMALL. Shopify's reasons: COLOR, DEFECTIVE, NOT_AS_DESCRIBED, \
               OTHER, SIZE_TOO_LARGE, SIZE_TOO_SMALL, STYLE, UNKNOWN, UNWANTED, WRONG_ITEM. A code \
               not listed is sent as OTHER.",
        input: Input::TextList,
        group: "Returns",
        shown_by: None,
    },
];

/// The settings of one `returns` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReturnSettings {
    pub automatic_transfer: bool,
    pub frequency_minutes: i64,
    /// Register each PULPO return as a Shopify return (default on).
    pub register_return: bool,
    /// Refund the returned units, at what the order charged for them (default off).
    pub refund_products: bool,
    /// Refund the shipping the order charged, with its first return (default off).
    pub refund_shipping: bool,
    /// Shopify notifies the customer of each return (default off, as PULPO's own integration).
    pub notify_customer: bool,
    /// `CODE=REASON` entries mapping PULPO reason codes to Shopify `ReturnReason` values.
    pub reason_codes: Vec<String>,
}

impl Default for ReturnSettings {
    fn default() -> Self {
        ReturnSettings {
            automatic_transfer: true,
            frequency_minutes: 10,
            register_return: true,
            refund_products: false,
            refund_shipping: false,
            notify_customer: false,
            reason_codes: Vec::new(),
        }
    }
}

impl ReturnSettings {
    /// Whether a registered return is also refunded.
    pub fn refunds(&self) -> bool {
        self.refund_products || self.refund_shipping
    }

    /// The Shopify return reason for a PULPO reason code: the mapped one, `OTHER` otherwise.
    pub fn reason_of(&self, code: Option<&str>) -> &'static str {
        let Some(code) = code else {
            return UNMAPPED;
        };
        self.reason_codes
            .iter()
            .filter_map(|entry| entry.split_once('='))
            .find(|(from, _)| from.trim().eq_ignore_ascii_case(code.trim()))
            .and_then(|(_, to)| known_reason(to))
            .unwrap_or(UNMAPPED)
    }
}

fn known_reason(name: &str) -> Option<&'static str> {
    RETURN_REASONS
        .iter()
        .copied()
        .find(|reason| reason.eq_ignore_ascii_case(name.trim()))
}

impl TypeSettings for ReturnSettings {
    const FIELDS: &'static [Field] = FIELDS;

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        if !self.register_return && !self.refunds() {
            errors.push(FieldError::new(
                "register_return",
                "with the return not registered and nothing refunded the integration does \
                 nothing: turn on registering the return or a refund",
            ));
        }
        let mut codes = std::collections::HashSet::new();
        for entry in &self.reason_codes {
            let Some((code, reason)) = entry
                .split_once('=')
                .filter(|(code, _)| !code.trim().is_empty())
            else {
                errors.push(FieldError::new(
                    "reason_codes",
                    format!(
                        "\"{entry}\" is not CODE=REASON: write each mapping as the PULPO reason \
                         code, =, and the Shopify return reason, e.g. DAMAGED=DEFECTIVE"
                    ),
                ));
                continue;
            };
            if known_reason(reason).is_none() {
                errors.push(FieldError::new(
                    "reason_codes",
                    format!(
                        "\"{}\" is not a Shopify return reason: use one of {}",
                        reason.trim(),
                        RETURN_REASONS.join(", ")
                    ),
                ));
            }
            if !codes.insert(code.trim().to_lowercase()) {
                errors.push(FieldError::new(
                    "reason_codes",
                    format!(
                        "reason code \"{}\" is mapped twice: keep one entry per code",
                        code.trim()
                    ),
                ));
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
    fn reason_codes_are_mapped_and_the_rest_is_other() {
        let settings: ReturnSettings = read(
            json!({"reason_codes": ["DAMAGED=DEFECTIVE", "too_small = size_too_small"]})
                .as_object()
                .unwrap(),
            "returns",
        )
        .unwrap();
        assert!(!settings.notify_customer, "off unless asked");
        assert_eq!(settings.reason_of(Some("damaged")), "DEFECTIVE");
        assert_eq!(settings.reason_of(Some("TOO_SMALL")), "SIZE_TOO_SMALL");
        assert_eq!(settings.reason_of(Some("NOT_WANTED")), "OTHER");
        assert_eq!(settings.reason_of(None), "OTHER");
    }

    #[test]
    fn a_configuration_that_does_nothing_is_refused() {
        let errors = read::<ReturnSettings>(
            json!({"register_return": false}).as_object().unwrap(),
            "returns",
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "register_return");
        let refund_only: ReturnSettings = read(
            json!({"register_return": false, "refund_products": true})
                .as_object()
                .unwrap(),
            "returns",
        )
        .unwrap();
        assert!(refund_only.refunds());
    }

    #[test]
    fn a_bad_mapping_is_named() {
        let errors = read::<ReturnSettings>(
            json!({"reason_codes": ["DAMAGED", "A=BROKEN", "B=STYLE", "b=COLOR"]})
                .as_object()
                .unwrap(),
            "returns",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].message.contains("\"DAMAGED\" is not CODE=REASON"));
        assert!(
            errors[1]
                .message
                .contains("\"BROKEN\" is not a Shopify return reason")
        );
        assert!(errors[2].message.contains("mapped twice"));
    }
}
