//! The product catalog and the places both sandboxes share.
//!
//! The Shopify sandbox sells these products and the PULPO sandbox stocks them, so an order
//! generated for a seed can be imported into a PULPO sandbox seeded with the same seed. A
//! configurable share of products is deliberately unknown to PULPO, which is how the demo and
//! the tests exercise "SKU not found in PULPO".

use rust_decimal::Decimal;

use crate::rng::Rng;

/// Shopify location names that PULPO also knows as warehouses (linked by name, SPEC §2).
pub const SHARED_WAREHOUSES: [&str; 2] = ["Madrid Central", "Barcelona Norte"];
/// A Shopify location that is not a PULPO warehouse (a shop floor fulfilling its own orders).
pub const SHOP_ONLY_LOCATION: &str = "Tienda Valencia";
/// A PULPO warehouse that no Shopify location names.
pub const PULPO_ONLY_WAREHOUSE: &str = "Lisboa Overflow";

/// Default share of catalog products that PULPO does not know.
pub const DEFAULT_UNKNOWN_SHARE: f64 = 0.02;

/// Number of products in the generated catalog.
pub const CATALOG_SIZE: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct CatalogProduct {
    /// 1-based position in the catalog; stable for a seed.
    pub index: usize,
    pub sku: String,
    pub title: String,
    pub variant_title: Option<String>,
    pub barcode: String,
    pub price: Decimal,
    pub requires_shipping: bool,
    pub is_gift_card: bool,
    /// Whether the PULPO sandbox seeded with the same seed has this product.
    pub known_to_pulpo: bool,
    /// Initial stock in PULPO (and Shopify's `available` at the shared locations).
    pub stock: i64,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub products: Vec<CatalogProduct>,
}

const NOUNS: [&str; 12] = [
    "Camiseta",
    "Sudadera",
    "Zapatilla",
    "Mochila",
    "Gorra",
    "Calcetines",
    "Chaqueta",
    "Bufanda",
    "Pantalón",
    "Cinturón",
    "Botella",
    "Taza",
];
const ADJECTIVES: [&str; 10] = [
    "Básica",
    "Orgánica",
    "Técnica",
    "Clásica",
    "Ligera",
    "Térmica",
    "Reciclada",
    "Urbana",
    "Montaña",
    "Edición Ñandú",
];
const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];
const COLOURS: [&str; 6] = ["Negro", "Blanco", "Azul", "Rojo", "Verde", "Beige"];

impl Catalog {
    /// The catalog for `seed`. Products that need no shipping (gift cards, a service) are
    /// always known to PULPO's side of the story as irrelevant: PULPO never stocks them.
    pub fn generate(seed: u64, unknown_share: f64) -> Catalog {
        let mut rng = Rng::new(seed).fork(0xCA7A_1065);
        let mut products = Vec::with_capacity(CATALOG_SIZE);
        for index in 1..=CATALOG_SIZE {
            let (sku, title, variant_title, requires_shipping, is_gift_card, price) = match index {
                1 => (
                    "GIFT-25".to_string(),
                    "Tarjeta regalo".to_string(),
                    Some("25 €".to_string()),
                    false,
                    true,
                    Decimal::new(2500, 2),
                ),
                2 => (
                    "SERV-ENGRAVE".to_string(),
                    "Grabado personalizado".to_string(),
                    None,
                    false,
                    false,
                    Decimal::new(500, 2),
                ),
                _ => {
                    let noun = rng.pick(&NOUNS);
                    let adjective = rng.pick(&ADJECTIVES);
                    let size = rng.pick(&SIZES);
                    let colour = rng.pick(&COLOURS);
                    let cents = rng.range(5, 120) as i64 * 100 + *rng.pick(&[0i64, 50, 95, 99]);
                    (
                        format!("{}-{:04}-{}", &noun[..3].to_uppercase(), index, size),
                        format!("{noun} {adjective}"),
                        Some(format!("{colour} / {size}")),
                        true,
                        false,
                        Decimal::new(cents, 2),
                    )
                }
            };
            let known_to_pulpo = requires_shipping && !rng.chance(unknown_share);
            let stock = rng.range(0, 250) as i64;
            products.push(CatalogProduct {
                index,
                barcode: format!("84{:011}", rng.range(0, 99_999_999_999)),
                sku,
                title,
                variant_title,
                price,
                requires_shipping,
                is_gift_card,
                known_to_pulpo,
                stock,
            });
        }
        Catalog { products }
    }

    pub fn by_sku(&self, sku: &str) -> Option<&CatalogProduct> {
        self.products.iter().find(|p| p.sku == sku)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_catalog_with_unknown_share() {
        let a = Catalog::generate(7, 0.1);
        let b = Catalog::generate(7, 0.1);
        assert_eq!(a.products, b.products);
        let physical = a.products.iter().filter(|p| p.requires_shipping).count();
        let unknown = a
            .products
            .iter()
            .filter(|p| p.requires_shipping && !p.known_to_pulpo)
            .count();
        assert!(
            unknown > 0 && unknown < physical / 4,
            "unknown {unknown} of {physical}"
        );
        let skus: std::collections::HashSet<_> = a.products.iter().map(|p| &p.sku).collect();
        assert_eq!(skus.len(), a.products.len(), "SKUs are unique");
        assert!(
            Catalog::generate(7, 0.0)
                .products
                .iter()
                .all(|p| p.known_to_pulpo || !p.requires_shipping)
        );
    }
}
