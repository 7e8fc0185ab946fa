//! Settings of integration configurations, declared once per type.
//!
//! Every type's settings are a struct (serde, every key defaulted, unknown keys refused) that
//! implements [`TypeSettings`]: its [`Field`]s say, for each key, its label, help text, input
//! kind and bounds, and the struct's `Default` says its default. The shared schedule fields
//! ([`SCHEDULE`]: automatic transfer, frequency) come first in every type. From that one
//! declaration come the checks ([`read`], [`validate`]) that the JSON API, the provisioning file
//! and the run itself apply, and the form the web UI shows: a new type declares its fields and
//! gets all of them.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::schedule::Schedule;

/// Frequency bounds in minutes (SPEC §3.1), shared by every type.
pub const FREQUENCY_MINUTES: (i64, i64) = (1, 60);

/// How a setting is entered.
#[derive(Debug, Clone, Copy)]
pub enum Input {
    /// On or off.
    Toggle,
    /// A whole number within `min..=max`, in `unit` (for messages: "between 1 and 60 minutes").
    Integer {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    /// An optional whole number (empty = none); the type checks what it must be.
    OptionalInteger,
    /// Free text; the type checks its form.
    Text,
    /// A time of day, `HH:MM`.
    Time,
    /// Any number of the listed values.
    MultiSelect(fn() -> Vec<&'static str>),
    /// Exactly one of the listed values.
    Choice(fn() -> Vec<&'static str>),
    /// A list of texts, entered comma-separated.
    TextList,
}

/// One setting of a type, as declared.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The settings key, e.g. `frequency_minutes`.
    pub key: &'static str,
    /// The form's label, e.g. "Frequency (minutes)".
    pub label: &'static str,
    /// How messages name it, e.g. "frequency" in "frequency must be between 1 and 60 minutes".
    pub name: &'static str,
    /// The form's help text under the field.
    pub help: &'static str,
    pub input: Input,
    /// The form's section ("Schedule", "Which orders", …); sections keep their first order.
    pub group: &'static str,
    /// A toggle's key: the field only matters (and is only shown) while that toggle is on.
    pub shown_by: Option<&'static str>,
}

/// The schedule settings every type shares, first in every form.
pub const SCHEDULE: &[Field] = &[
    Field {
        key: "automatic_transfer",
        label: "Automatic transfer",
        name: "automatic transfer",
        help: "Run on a schedule.",
        input: Input::Toggle,
        group: "Schedule",
        shown_by: None,
    },
    Field {
        key: "frequency_minutes",
        label: "Frequency (minutes)",
        name: "frequency",
        help: "Between 1 and 60.",
        input: Input::Integer {
            min: FREQUENCY_MINUTES.0,
            max: FREQUENCY_MINUTES.1,
            unit: "minutes",
        },
        group: "Schedule",
        shown_by: None,
    },
];

/// A setting that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The settings key, e.g. `frequency_minutes`.
    pub field: String,
    /// What is wrong and how to fix it, e.g. "frequency must be between 1 and 60 minutes".
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The settings of one integration type.
pub trait TypeSettings:
    Serialize + DeserializeOwned + Default + Clone + fmt::Debug + Send + Sync + 'static
{
    /// The type's own fields, in form order, after the shared [`SCHEDULE`] fields (which the
    /// struct must carry too, under the same keys).
    const FIELDS: &'static [Field];

    /// Automatic transfer on (the shared `automatic_transfer` field).
    fn automatic_transfer(&self) -> bool;

    /// Minutes between scheduled runs (the shared `frequency_minutes` field).
    fn frequency_minutes(&self) -> i64;

    /// Rules beyond each field's declared bounds (formats, lists that must not overlap, …);
    /// pushes every problem it finds.
    fn check(&self, errors: &mut Vec<FieldError>) {
        let _ = errors;
    }

    /// When the configuration runs by itself; `None` when automatic transfer is off. Every
    /// `frequency_minutes` unless the type says otherwise.
    fn schedule(&self) -> Result<Option<Schedule>, FieldError> {
        Ok(self.automatic_transfer().then(|| Schedule::Every {
            minutes: self
                .frequency_minutes()
                .clamp(FREQUENCY_MINUTES.0, FREQUENCY_MINUTES.1),
        }))
    }
}

/// Every field of `S` in form order: the schedule, then the type's own.
pub fn fields<S: TypeSettings>() -> impl Iterator<Item = &'static Field> {
    SCHEDULE.iter().chain(S::FIELDS)
}

/// The longest free-text setting (or entry of a list setting), in characters.
pub const MAX_TEXT_SETTING_CHARS: usize = 255;
/// The most entries of a list setting (tags, SKUs to skip, …).
pub const MAX_LIST_SETTING_ENTRIES: usize = 500;

/// Checks `settings` against the declared bounds and the type's own rules; every bad field, in
/// the order the fields are declared.
pub fn validate<S: TypeSettings>(settings: &S) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let value = serde_json::to_value(settings).unwrap_or(Value::Null);
    for field in fields::<S>() {
        if let Input::Integer { min, max, unit } = field.input
            && let Some(number) = value[field.key].as_i64()
            && !(min..=max).contains(&number)
        {
            errors.push(FieldError::new(
                field.key,
                format!("{} must be between {min} and {max} {unit}", field.name),
            ));
        }
        // Every free-text setting has an outer bound (types set tighter ones of their own):
        // a setting is shown on pages and sent to Shopify and PULPO.
        match &value[field.key] {
            Value::String(text) if text.chars().count() > MAX_TEXT_SETTING_CHARS => {
                errors.push(FieldError::new(
                    field.key,
                    format!(
                        "{} must be at most {MAX_TEXT_SETTING_CHARS} characters",
                        field.name
                    ),
                ));
            }
            Value::Array(items) if items.len() > MAX_LIST_SETTING_ENTRIES => {
                errors.push(FieldError::new(
                    field.key,
                    format!(
                        "{} must have at most {MAX_LIST_SETTING_ENTRIES} entries",
                        field.name
                    ),
                ));
            }
            Value::Array(items) => {
                for item in items {
                    if item
                        .as_str()
                        .is_some_and(|text| text.chars().count() > MAX_TEXT_SETTING_CHARS)
                    {
                        errors.push(FieldError::new(
                            field.key,
                            format!(
                                "each entry of {} must be at most {MAX_TEXT_SETTING_CHARS} characters",
                                field.name
                            ),
                        ));
                        break;
                    }
                }
            }
            _ => {}
        }
        if let Input::Choice(values) = field.input
            && let Some(chosen) = value[field.key].as_str()
            && !values().contains(&chosen)
        {
            errors.push(FieldError::new(
                field.key,
                format!("{} must be one of: {}", field.name, values().join(", ")),
            ));
        }
    }
    settings.check(&mut errors);
    if errors.is_empty() {
        return Ok(());
    }
    let position = |key: &str| fields::<S>().position(|f| f.key == key);
    errors.sort_by_key(|e| position(&e.field));
    Err(errors)
}

/// Reads settings given as a JSON object (omitted keys take their defaults) and checks them:
/// the settings, or every bad field. Each key is read on its own first, so an unknown key or a
/// mistyped value does not hide the problems of the others: the keys that read are checked
/// too. `type_key` names the type in the message for an unknown key.
pub fn read<S: TypeSettings>(
    settings: &Map<String, Value>,
    type_key: &str,
) -> Result<S, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut readable = Map::new();
    for (key, value) in settings {
        let one = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        match serde_json::from_value::<S>(one) {
            Ok(_) => {
                readable.insert(key.clone(), value.clone());
            }
            Err(error) => {
                let message = error.to_string();
                let message = if message.starts_with("unknown field") {
                    format!("is not a {type_key} setting")
                } else {
                    // The expected type, never the value (the provisioning file's rule too).
                    crate::limits::without_value(&message)
                };
                errors.push(FieldError::new(key.clone(), message));
            }
        }
    }
    match serde_json::from_value::<S>(Value::Object(readable)) {
        Ok(parsed) => {
            if let Err(invalid) = validate(&parsed) {
                errors.extend(invalid);
            }
            if errors.is_empty() {
                return Ok(parsed);
            }
        }
        Err(error) => errors.push(FieldError::new(
            "settings",
            crate::limits::without_value(&error.to_string()),
        )),
    }
    // Declared fields in their order, then the keys no field declares.
    let position = |key: &str| {
        fields::<S>()
            .position(|f| f.key == key)
            .unwrap_or(usize::MAX)
    };
    errors.sort_by_key(|e| position(&e.field));
    Err(errors)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Toy {
        automatic_transfer: bool,
        frequency_minutes: i64,
        depth: i64,
        label: String,
    }

    impl Default for Toy {
        fn default() -> Self {
            Toy {
                automatic_transfer: true,
                frequency_minutes: 10,
                depth: 3,
                label: "a".into(),
            }
        }
    }

    impl TypeSettings for Toy {
        const FIELDS: &'static [Field] = &[
            Field {
                key: "depth",
                label: "Depth",
                name: "depth",
                help: "",
                input: Input::Integer {
                    min: 1,
                    max: 9,
                    unit: "metres",
                },
                group: "Toy",
                shown_by: None,
            },
            Field {
                key: "label",
                label: "Label",
                name: "label",
                help: "",
                input: Input::Text,
                group: "Toy",
                shown_by: None,
            },
        ];

        fn automatic_transfer(&self) -> bool {
            self.automatic_transfer
        }

        fn frequency_minutes(&self) -> i64 {
            self.frequency_minutes
        }

        fn check(&self, errors: &mut Vec<FieldError>) {
            if self.label.is_empty() {
                errors.push(FieldError::new("label", "label must not be empty"));
            }
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn omitted_keys_take_their_defaults() {
        let toy: Toy = read(&Map::new(), "toy").unwrap();
        assert_eq!((toy.frequency_minutes, toy.depth), (10, 3));
        assert_eq!(toy.schedule(), Ok(Some(Schedule::Every { minutes: 10 })));
    }

    #[test]
    fn every_bad_field_is_named_in_declaration_order() {
        let errors = read::<Toy>(
            &object(json!({"label": "", "depth": 0, "frequency_minutes": 61})),
            "toy",
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["frequency_minutes", "depth", "label"]);
        assert_eq!(
            errors[0].message,
            "frequency must be between 1 and 60 minutes"
        );
        assert_eq!(errors[1].message, "depth must be between 1 and 9 metres");
    }

    #[test]
    fn unknown_and_mistyped_keys_are_each_reported() {
        let errors = read::<Toy>(
            &object(json!({"colour": "red", "depth": "deep", "label": "ok"})),
            "toy",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.field == "colour" && e.message == "is not a toy setting")
        );
        // The keys that read are checked beside the ones that did not.
        let checked =
            read::<Toy>(&object(json!({"colour": "red", "depth": 0})), "toy").unwrap_err();
        let fields: Vec<_> = checked.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["depth", "colour"]);
        assert!(
            errors
                .iter()
                .any(|e| e.field == "depth" && e.message.starts_with("must be "))
        );
    }

    #[test]
    fn automatic_transfer_off_means_no_schedule() {
        let toy: Toy = read(&object(json!({"automatic_transfer": false})), "toy").unwrap();
        assert_eq!(toy.schedule(), Ok(None));
    }
}
