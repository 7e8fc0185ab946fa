//! The settings of a `status_updates` configuration.

use serde::{Deserialize, Serialize};

use crate::settings::{Field, FieldError, Input, TypeSettings};

/// Shopify refuses tags longer than 40 characters.
const TAG_MAX_CHARS: usize = 40;

const MARK: Option<&str> = Some("mark_imported_orders");

const FIELDS: &[Field] = &[
    Field {
        key: "mark_imported_orders",
        label: "Mark imported orders",
        name: "mark imported orders",
        help: "Every order imported into PULPO gets a tag in Shopify, once.",
        input: Input::Toggle,
        group: "Status updates",
        shown_by: None,
    },
    Field {
        key: "tag",
        label: "Tag",
        name: "tag",
        help: "The tag of imported orders.",
        input: Input::Text,
        group: "Status updates",
        shown_by: MARK,
    },
    Field {
        key: "send_lot_numbers",
        label: "Send lot and serial numbers",
        name: "send lot and serial numbers",
        help: "The lot and serial numbers of shipped items go into the order note, one line per \
               item; the merchant's own note is kept.",
        input: Input::Toggle,
        group: "Status updates",
        shown_by: None,
    },
];

/// The settings of one `status_updates` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusSettings {
    pub automatic_transfer: bool,
    pub frequency_minutes: i64,
    /// Tag imported orders (default on).
    pub mark_imported_orders: bool,
    /// The tag (default `PULPO`).
    pub tag: String,
    /// Write shipped lot and serial numbers into the order note (default on).
    pub send_lot_numbers: bool,
}

impl Default for StatusSettings {
    fn default() -> Self {
        StatusSettings {
            automatic_transfer: true,
            frequency_minutes: 10,
            mark_imported_orders: true,
            tag: "PULPO".into(),
            send_lot_numbers: true,
        }
    }
}

impl TypeSettings for StatusSettings {
    const FIELDS: &'static [Field] = FIELDS;

    fn automatic_transfer(&self) -> bool {
        self.automatic_transfer
    }

    fn frequency_minutes(&self) -> i64 {
        self.frequency_minutes
    }

    fn check(&self, errors: &mut Vec<FieldError>) {
        let tag = self.tag.trim();
        if self.mark_imported_orders && tag.is_empty() {
            errors.push(FieldError::new(
                "tag",
                "tag must not be empty while imported orders are marked",
            ));
        }
        if tag.contains(',') {
            errors.push(FieldError::new(
                "tag",
                "tag must not contain a comma: Shopify separates tags with commas",
            ));
        }
        if tag.chars().count() > TAG_MAX_CHARS {
            errors.push(FieldError::new(
                "tag",
                format!("tag must be at most {TAG_MAX_CHARS} characters long (Shopify's limit)"),
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
    fn defaults_and_a_bad_tag() {
        let settings: StatusSettings = read(&serde_json::Map::new(), "status_updates").unwrap();
        assert_eq!(settings.tag, "PULPO");
        assert!(settings.mark_imported_orders && settings.send_lot_numbers);
        let errors =
            read::<StatusSettings>(json!({"tag": "a,b"}).as_object().unwrap(), "status_updates")
                .unwrap_err();
        assert_eq!(errors[0].field, "tag");
        assert!(errors[0].message.contains("comma"));
    }
}
