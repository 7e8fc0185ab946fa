//! What a PULPO product should hold for a Shopify variant, and what of it differs from what
//! PULPO holds now: an update sends only that, and nothing when nothing differs.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};

use super::settings::{PriceSource, ProductSettings};

/// The attributes key the Shopify tags are kept under, beside what else PULPO holds there.
pub const TAGS_ATTRIBUTE: &str = "shopify_tags";

/// Shopify's title of a product's only variant.
const DEFAULT_VARIANT_TITLE: &str = "Default Title";

/// A Shopify variant as the products rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogVariant {
    /// `gid://shopify/ProductVariant/N`.
    pub id: String,
    pub sku: Option<String>,
    pub barcode: Option<String>,
    pub title: String,
    pub product_title: String,
    pub price: Decimal,
    pub unit_cost: Option<Decimal>,
    pub weight_kg: Option<f64>,
    pub tags: Vec<String>,
    pub requires_shipping: bool,
}

impl CatalogVariant {
    /// How an operator finds the variant in Shopify: `Camiseta Básica - Negro / M`.
    pub fn display_name(&self) -> String {
        product_name(&self.product_title, &self.title)
    }
}

/// A PULPO product as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct PulpoProduct {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub barcodes: Vec<String>,
    pub weight: Option<f64>,
    pub cost_price: Option<f64>,
    pub supplier: Option<i64>,
    pub attributes: Option<Value>,
    pub management_type: Option<String>,
}

/// The fields of a PULPO product tentacle sends: everything on a create, what differs on an
/// update (`None`: not sent, PULPO keeps it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductFields {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub barcodes: Option<Vec<String>>,
    /// Kilograms.
    pub weight: Option<f64>,
    pub cost_price: Option<f64>,
    pub supplier: Option<i64>,
    /// `none`, `lot` or `serial`.
    pub management_type: Option<&'static str>,
    /// The whole attributes object, JSON-encoded (the spec types `attributes` a string).
    pub attributes: Option<String>,
}

impl ProductFields {
    pub fn is_empty(&self) -> bool {
        *self == ProductFields::default()
    }

    /// What changes, in words: `name, price`.
    pub fn describe(&self) -> String {
        let mut words = Vec::new();
        for (set, word) in [
            (self.sku.is_some(), "SKU"),
            (self.name.is_some(), "name"),
            (self.barcodes.is_some(), "barcode"),
            (self.weight.is_some(), "weight"),
            (self.cost_price.is_some(), "price"),
            (self.supplier.is_some(), "supplier"),
            (self.management_type.is_some(), "lot/serial management"),
            (self.attributes.is_some(), "tags"),
        ] {
            if set {
                words.push(word);
            }
        }
        words.join(", ")
    }
}

/// `Camiseta Básica - Negro / M`, or the product title alone for its only variant.
pub fn product_name(product_title: &str, variant_title: &str) -> String {
    let variant_title = variant_title.trim();
    if variant_title.is_empty() || variant_title == DEFAULT_VARIANT_TITLE {
        product_title.trim().to_string()
    } else {
        format!("{} - {variant_title}", product_title.trim())
    }
}

/// What the PULPO product of `variant` (which has a SKU) should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub sku: String,
    pub name: String,
    pub barcode: Option<String>,
    pub weight: Option<f64>,
    pub price: Option<f64>,
    pub supplier: Option<i64>,
    /// `Some` when tags are imported.
    pub tags: Option<Vec<String>>,
    pub management_type: Option<&'static str>,
}

/// The PULPO product `variant` maps to; `None` when the variant has no SKU.
pub fn wanted(variant: &CatalogVariant, settings: &ProductSettings) -> Option<Wanted> {
    let sku = variant.sku.as_deref()?.trim();
    if sku.is_empty() {
        return None;
    }
    let price = match settings.price_source {
        PriceSource::Variant => Some(variant.price),
        PriceSource::InventoryItem => variant.unit_cost,
    };
    let (tags, management_type) = if settings.import_tags {
        let reserved = |tag: &str| management_type_of(tag).is_some();
        let tags = variant
            .tags
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && !reserved(t))
            .collect();
        let management_type = variant.tags.iter().find_map(|t| management_type_of(t));
        (Some(tags), management_type)
    } else {
        (None, None)
    };
    Some(Wanted {
        sku: sku.to_string(),
        name: variant.display_name(),
        barcode: variant
            .barcode
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        weight: variant.weight_kg.map(grams_precision),
        price: price.map(cents),
        supplier: settings.default_supplier,
        tags,
        management_type,
    })
}

/// The reserved tags `lot` and `serial` (any case) set how PULPO tells the units apart.
fn management_type_of(tag: &str) -> Option<&'static str> {
    match tag.trim().to_lowercase().as_str() {
        "lot" => Some("lot"),
        "serial" => Some("serial"),
        _ => None,
    }
}

/// Kilograms to the gram: what a warehouse scale shows, and what makes a float comparable.
fn grams_precision(kg: f64) -> f64 {
    (kg * 1000.0).round() / 1000.0
}

fn cents(amount: Decimal) -> f64 {
    amount.round_dp(2).to_f64().unwrap_or_default()
}

/// Everything a create sends.
pub fn create_fields(wanted: &Wanted) -> ProductFields {
    ProductFields {
        sku: Some(wanted.sku.clone()),
        name: Some(wanted.name.clone()),
        barcodes: wanted.barcode.clone().map(|b| vec![b]),
        weight: wanted.weight,
        cost_price: wanted.price,
        supplier: wanted.supplier,
        management_type: wanted.management_type,
        attributes: wanted
            .tags
            .as_ref()
            .map(|tags| with_tags(None, tags).to_string()),
    }
}

/// What an update of `current` must send so it holds `wanted`; empty when it already does.
/// Barcodes PULPO has beside the Shopify one (added in the warehouse) are kept, and so are
/// the other attributes; a value Shopify does not have (no barcode, no weight, no price, no
/// supplier setting) leaves PULPO's as it is.
pub fn changes(wanted: &Wanted, current: &PulpoProduct) -> ProductFields {
    let differs = |a: Option<f64>, b: Option<f64>, step: f64| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() >= step / 2.0,
        (Some(_), None) => true,
        _ => false,
    };
    let barcodes = wanted
        .barcode
        .as_ref()
        .filter(|b| !current.barcodes.contains(b))
        .map(|b| {
            let mut all = vec![b.clone()];
            all.extend(current.barcodes.iter().cloned());
            all
        });
    let attributes = wanted.tags.as_ref().and_then(|tags| {
        let now = with_tags(current.attributes.as_ref(), tags);
        (attributes_object(current.attributes.as_ref()).get(TAGS_ATTRIBUTE)
            != now.get(TAGS_ATTRIBUTE))
        .then(|| now.to_string())
    });
    ProductFields {
        sku: (current.sku != wanted.sku).then(|| wanted.sku.clone()),
        name: (current.name != wanted.name).then(|| wanted.name.clone()),
        barcodes,
        weight: differs(wanted.weight, current.weight, 0.001)
            .then_some(wanted.weight)
            .flatten(),
        cost_price: differs(wanted.price, current.cost_price, 0.01)
            .then_some(wanted.price)
            .flatten(),
        supplier: wanted.supplier.filter(|s| current.supplier != Some(*s)),
        management_type: wanted
            .management_type
            .filter(|t| current.management_type.as_deref() != Some(*t)),
        attributes,
    }
}

/// PULPO's attributes as an object: given as one, or as a string holding one; anything else
/// is no object.
fn attributes_object(attributes: Option<&Value>) -> Map<String, Value> {
    match attributes {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        _ => Map::new(),
    }
}

fn with_tags(attributes: Option<&Value>, tags: &[String]) -> Value {
    let mut map = attributes_object(attributes);
    map.insert(TAGS_ATTRIBUTE.into(), Value::from(tags.to_vec()));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn variant() -> CatalogVariant {
        CatalogVariant {
            id: "gid://shopify/ProductVariant/1".into(),
            sku: Some("CAM-1-M".into()),
            barcode: Some("8400000000017".into()),
            title: "Negro / M".into(),
            product_title: "Camiseta Básica".into(),
            price: Decimal::new(1995, 2),
            unit_cost: Some(Decimal::new(850, 2)),
            weight_kg: Some(0.2504),
            tags: vec!["Camiseta".into(), "LOT".into()],
            requires_shipping: true,
        }
    }

    fn in_pulpo(wanted: &Wanted) -> PulpoProduct {
        PulpoProduct {
            id: 7,
            sku: wanted.sku.clone(),
            name: wanted.name.clone(),
            barcodes: wanted.barcode.iter().cloned().collect(),
            weight: wanted.weight,
            cost_price: wanted.price,
            supplier: wanted.supplier,
            attributes: None,
            management_type: Some("none".into()),
        }
    }

    #[test]
    fn names_join_product_and_variant_titles_except_the_default_one() {
        assert_eq!(
            product_name("Camiseta", "Negro / M"),
            "Camiseta - Negro / M"
        );
        assert_eq!(product_name("Taza", "Default Title"), "Taza");
        assert_eq!(product_name(" Taza ", ""), "Taza");
    }

    #[test]
    fn the_price_comes_from_the_setting_and_weights_are_kept_to_the_gram() {
        let settings = ProductSettings::default();
        let by_variant = wanted(&variant(), &settings).unwrap();
        assert_eq!(
            (by_variant.price, by_variant.weight),
            (Some(19.95), Some(0.25))
        );
        let by_cost = wanted(
            &variant(),
            &ProductSettings {
                price_source: PriceSource::InventoryItem,
                ..settings.clone()
            },
        )
        .unwrap();
        assert_eq!(by_cost.price, Some(8.5));
        let no_cost = CatalogVariant {
            unit_cost: None,
            ..variant()
        };
        let by_missing_cost = wanted(
            &no_cost,
            &ProductSettings {
                price_source: PriceSource::InventoryItem,
                ..settings.clone()
            },
        )
        .unwrap();
        assert_eq!(by_missing_cost.price, None);
        let blank = CatalogVariant {
            sku: Some("  ".into()),
            ..variant()
        };
        assert_eq!(wanted(&blank, &settings), None);
    }

    #[test]
    fn nothing_differs_right_after_a_create_and_one_change_is_one_field() {
        let settings = ProductSettings::default();
        let wanted = wanted(&variant(), &settings).unwrap();
        let current = in_pulpo(&wanted);
        assert!(changes(&wanted, &current).is_empty());
        let repriced = super::wanted(
            &CatalogVariant {
                price: Decimal::new(2495, 2),
                ..variant()
            },
            &settings,
        )
        .unwrap();
        let change = changes(&repriced, &current);
        assert_eq!(
            change,
            ProductFields {
                cost_price: Some(24.95),
                ..ProductFields::default()
            }
        );
        assert_eq!(change.describe(), "price");
    }

    #[test]
    fn warehouse_barcodes_and_attributes_are_kept() {
        let settings = ProductSettings {
            import_tags: true,
            ..ProductSettings::default()
        };
        let wanted = wanted(&variant(), &settings).unwrap();
        assert_eq!(wanted.tags, Some(vec!["Camiseta".to_string()]));
        assert_eq!(wanted.management_type, Some("lot"));
        let current = PulpoProduct {
            barcodes: vec!["WH-1".into()],
            attributes: Some(json!("{\"shelf\":\"A3\"}")),
            management_type: Some("lot".into()),
            ..in_pulpo(&wanted)
        };
        let change = changes(&wanted, &current);
        assert_eq!(
            change.barcodes,
            Some(vec!["8400000000017".to_string(), "WH-1".to_string()])
        );
        let attributes: Value =
            serde_json::from_str(change.attributes.as_deref().unwrap()).unwrap();
        assert_eq!(
            attributes,
            json!({"shelf": "A3", "shopify_tags": ["Camiseta"]})
        );
        assert_eq!(change.management_type, None, "already lot");
        let created = create_fields(&wanted);
        assert_eq!(
            created.attributes.as_deref(),
            Some("{\"shopify_tags\":[\"Camiseta\"]}")
        );
    }
}
