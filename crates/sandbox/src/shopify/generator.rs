//! Deterministic shop data: locations, the catalog's variants and inventory, and orders.
//!
//! The same seed gives the same shop (ids, names, lines, statuses, addresses); only the
//! timestamps move with the clock, since orders are spread over the ten days before "now".
//! Most orders are importable (paid, unfulfilled, at a PULPO warehouse) so a demo has work to
//! do; the rest cover every financial and fulfillment status, cancellations, orders without a
//! customer, gift cards and other lines that need no shipping, orders split over both PULPO
//! warehouses and orders at the shop-only location.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use rust_decimal::Decimal;

use super::model::{
    CancelReason, Customer, FinancialStatus, Fulfillment, FulfillmentLine, FulfillmentOrder,
    FulfillmentOrderLineItem, FulfillmentOrderRequestStatus, FulfillmentOrderStatus,
    FulfillmentStatus, InventoryQuantities, LineItem, Location, MailingAddress, Order,
    ProductVariant, ShippingLine, Shop, TrackingInfo, Weight, WeightUnit,
};
use super::rest::{FIRST_ORDER_NUMBER, order_from_rest};
use crate::catalog::{Catalog, DEFAULT_UNKNOWN_SHARE, SHARED_WAREHOUSES, SHOP_ONLY_LOCATION};
use crate::rng::Rng;

/// The generated shop's `myshopify.com` domain (the `X-Shopify-Shop-Domain` of its webhooks).
pub const SHOP_DOMAIN: &str = "tentacle-sandbox.myshopify.com";
/// Ids start above 2^32, like Shopify's, so nothing that squeezes them into 32 bits survives.
pub const FIRST_ID: u64 = 5_000_000_000_000;
/// Generated orders are spread over this many days before now.
pub const ORDER_DAYS: i64 = 10;
/// The vendor of every catalog product.
pub const VENDOR: &str = "Tentacle Outfitters";

/// A shop with `orders` generated orders, timestamps relative to now.
pub fn generate_shop(seed: u64, orders: usize) -> Shop {
    generate_shop_at(seed, orders, Utc::now())
}

/// [`generate_shop`] with an explicit "now": the same seed and `now` give an identical shop.
pub fn generate_shop_at(seed: u64, orders: usize, now: DateTime<Utc>) -> Shop {
    let mut shop = shop_without_orders(seed);
    let now = now.trunc_subsecs(0);
    let mut generator = OrderGenerator::new(seed, &shop);
    // The newest order is two minutes old, so every timestamp derived from it stays before now.
    let span = ORDER_DAYS * 86_400 - 120;
    for index in 0..orders {
        let mut rng = generator.root.fork(index as u64);
        let offset = ((index as f64 + rng.unit()) * span as f64 / orders as f64) as i64;
        let created_at = now - TimeDelta::seconds(ORDER_DAYS * 86_400) + TimeDelta::seconds(offset);
        let order = generator.order(&mut shop, &mut rng, created_at, now);
        shop.orders.insert(order.id, order);
    }
    commit_open_orders(&mut shop);
    shop
}

/// Commits the units the generated orders still need, out of the catalog's stock: the catalog's
/// stock is what is on hand (and what the PULPO sandbox holds for the first shared warehouse),
/// and Shopify's `available` is on hand less committed, as in a shop whose orders have not
/// reached the warehouse yet. An order for more than is on hand leaves `available` below 0, as
/// Shopify allows for items sold while out of stock.
fn commit_open_orders(shop: &mut Shop) {
    let mut committed: Vec<((u64, u64), i64)> = Vec::new();
    for order in shop.orders.values() {
        committed.extend(order.stock(shop).committed);
    }
    for (level, units) in committed {
        if let Some(quantities) = shop.inventory.get_mut(&level) {
            quantities.available -= units;
        }
    }
}

/// The shop's locations, variants and inventory, without orders. [`generate_shop`] and
/// [`shop_from_orders_file`] both start from it, so ids of locations and variants do not
/// depend on how the orders came about.
pub fn shop_without_orders(seed: u64) -> Shop {
    let mut shop = Shop {
        domain: SHOP_DOMAIN.to_string(),
        currency: "EUR".to_string(),
        next_id: FIRST_ID,
        next_order_number: FIRST_ORDER_NUMBER,
        ..Shop::default()
    };
    let places = [
        (
            SHARED_WAREHOUSES[0],
            "Calle de Alcalá 250",
            "Madrid",
            "28027",
        ),
        (
            SHARED_WAREHOUSES[1],
            "Carrer de la Marina 16",
            "Barcelona",
            "08005",
        ),
        (
            SHOP_ONLY_LOCATION,
            "Carrer de Colón 12",
            "València",
            "46004",
        ),
    ];
    for (i, (name, address1, city, zip)) in places.into_iter().enumerate() {
        let id = shop.allocate_id();
        shop.locations.push(Location {
            id,
            name: name.to_string(),
            address1: address1.to_string(),
            city: city.to_string(),
            zip: zip.to_string(),
            country_code: "ES".to_string(),
            is_primary: i == 0,
            is_active: true,
        });
    }
    let location_ids: Vec<u64> = shop.locations.iter().map(|l| l.id).collect();
    let mut rng = Rng::new(seed).fork(0x1A7E_0700);
    for product in Catalog::generate(seed, DEFAULT_UNKNOWN_SHARE).products {
        let product_id = shop.allocate_id();
        let variant_id = shop.allocate_id();
        let inventory_item_id = shop.allocate_id();
        let tracked = product.requires_shipping;
        if tracked {
            for (i, &location_id) in location_ids.iter().enumerate() {
                // A few products are not stocked in Barcelona and most are not in the shop, so
                // a stock push meets "item not stocked at the location".
                let stocked = match i {
                    0 => true,
                    1 => !rng.chance(0.05),
                    _ => rng.chance(0.3),
                };
                if !stocked {
                    continue;
                }
                let available = if i == 2 {
                    rng.range(0, 20) as i64
                } else {
                    product.stock
                };
                let committed_before = rng.range(0, 3) as i64;
                shop.inventory.insert(
                    (inventory_item_id, location_id),
                    InventoryQuantities {
                        available,
                        on_hand: available + committed_before,
                    },
                );
            }
        }
        let product_tags = catalog_tags(&product.title, product.is_gift_card);
        shop.variants.push(ProductVariant {
            id: variant_id,
            product_id,
            product_title: product.title,
            title: product
                .variant_title
                .unwrap_or_else(|| "Default Title".to_string()),
            sku: Some(product.sku),
            barcode: Some(product.barcode),
            price: product.price,
            inventory_item_id,
            tracked,
            requires_shipping: product.requires_shipping,
            is_gift_card: product.is_gift_card,
            product_tags,
            weight: catalog_weight(product.index, product.requires_shipping),
            unit_cost: product
                .requires_shipping
                .then(|| (product.price * Decimal::new(45, 2)).round_dp(2)),
            created_at: CATALOG_CREATED_AT,
            updated_at: CATALOG_CREATED_AT,
        });
    }
    shop
}

/// When the generated catalog was entered: fixed, so a seed gives the same shop whenever it
/// is generated.
pub const CATALOG_CREATED_AT: DateTime<Utc> = match DateTime::from_timestamp(1_767_225_600, 0) {
    Some(at) => at,
    None => panic!("2026-01-01T00:00:00Z is a valid time"),
};

/// A catalog product's tags: the kind of product (its title's first word), as a merchant
/// groups a catalog.
fn catalog_tags(title: &str, is_gift_card: bool) -> Vec<String> {
    if is_gift_card {
        return vec!["Regalo".to_string()];
    }
    title
        .split_whitespace()
        .next()
        .map(|kind| vec![kind.to_string()])
        .unwrap_or_default()
}

/// A catalog product's weight, derived from its position so the catalog's random draws stay
/// as they were: 150 g to 1 kg, every tenth entered in kilograms as merchants sometimes do.
/// Products that are not shipped weigh nothing.
pub(crate) fn catalog_weight(index: usize, requires_shipping: bool) -> Option<Weight> {
    if !requires_shipping {
        return None;
    }
    let grams = 150 + (index * 53) % 850;
    Some(if index.is_multiple_of(10) {
        Weight {
            value: grams as f64 / 1000.0,
            unit: WeightUnit::Kilograms,
        }
    } else {
        Weight {
            value: grams as f64,
            unit: WeightUnit::Grams,
        }
    })
}

/// A shop whose orders come from a JSONL file of orders in Shopify's REST / `orders/create`
/// webhook shape, one per line (blank lines are skipped). Locations and variants are those of
/// [`shop_without_orders`]. Errors name the line and the field:
/// `line 3: line_items[0].quantity must be a positive integer`.
pub fn shop_from_orders_file(seed: u64, path: &Path) -> Result<Shop, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut shop = shop_without_orders(seed);
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("line {number}: not valid JSON: {e}"))?;
        let order =
            order_from_rest(&value, &mut shop).map_err(|e| format!("line {number}: {e}"))?;
        shop.orders.insert(order.id, order);
    }
    commit_open_orders(&mut shop);
    Ok(shop)
}

#[derive(Clone, Copy)]
struct Country {
    code: &'static str,
    name: &'static str,
    first_names: &'static [&'static str],
    last_names: &'static [&'static str],
    streets: &'static [&'static str],
    /// (city, province, province code, zip prefix)
    cities: &'static [(&'static str, &'static str, &'static str, &'static str)],
    phone_prefix: &'static str,
}

const SPAIN: Country = Country {
    code: "ES",
    name: "Spain",
    first_names: &[
        "María José",
        "José Luis",
        "Íñigo",
        "Begoña",
        "Nuria",
        "Álvaro",
        "Lucía",
        "Sofía",
        "Joaquín",
        "Ramón",
        "Águeda",
        "Martín",
    ],
    last_names: &[
        "García",
        "Martínez",
        "Núñez",
        "Peña",
        "Muñoz",
        "Ibáñez",
        "Fernández",
        "López",
        "Sáez",
        "Castaño",
        "Rodríguez",
        "Gómez",
    ],
    streets: &[
        "Calle de Alcalá",
        "Calle Mayor",
        "Avenida de la Constitución",
        "Carrer de Sant Joan",
        "Calle Peñuelas",
        "Paseo de la Castellana",
        "Rúa do Vilar",
        "Calle de la Cigüeña",
    ],
    cities: &[
        ("Madrid", "Madrid", "M", "28"),
        ("Barcelona", "Barcelona", "B", "08"),
        ("València", "Valencia", "V", "46"),
        ("Sevilla", "Sevilla", "SE", "41"),
        ("Bilbao", "Bizkaia", "BI", "48"),
        ("A Coruña", "A Coruña", "C", "15"),
        ("Málaga", "Málaga", "MA", "29"),
    ],
    phone_prefix: "+34 6",
};

const PORTUGAL: Country = Country {
    code: "PT",
    name: "Portugal",
    first_names: &[
        "João",
        "Conceição",
        "Inês",
        "Gonçalo",
        "Márcia",
        "Sebastião",
    ],
    last_names: &[
        "Gonçalves",
        "Simões",
        "Magalhães",
        "Araújo",
        "Brandão",
        "Lourenço",
    ],
    streets: &[
        "Rua Augusta",
        "Avenida da Liberdade",
        "Rua de Santa Catarina",
        "Travessa do Carmo",
    ],
    cities: &[
        ("Lisboa", "Lisboa", "PT-11", "1"),
        ("Porto", "Porto", "PT-13", "4"),
    ],
    phone_prefix: "+351 9",
};

const GERMANY: Country = Country {
    code: "DE",
    name: "Germany",
    first_names: &[
        "Jürgen", "Günther", "Jörg", "Käthe", "Björn", "Sören", "Lena", "Matthias",
    ],
    last_names: &[
        "Müller",
        "Schröder",
        "Weiß",
        "Groß",
        "Köhler",
        "Strauß",
        "Bäcker",
        "Fußmann",
    ],
    streets: &[
        "Königstraße",
        "Maximilianstraße",
        "Schloßallee",
        "Hauptstraße",
        "Bahnhofstraße",
    ],
    cities: &[
        ("München", "Bayern", "BY", "80"),
        ("Köln", "Nordrhein-Westfalen", "NW", "50"),
        ("Düsseldorf", "Nordrhein-Westfalen", "NW", "40"),
        ("Nürnberg", "Bayern", "BY", "90"),
    ],
    phone_prefix: "+49 15",
};

const TAGS: [&str; 9] = [
    "vip",
    "mayorista",
    "regalo",
    "prioridad",
    "Black Friday",
    "reenvío",
    "cliente-recurrente",
    "b2b",
    "newsletter",
];

const NOTES: [&str; 5] = [
    "Dejar en portería, por favor.",
    "Bitte beim Nachbarn abgeben.",
    "Entregar por la tarde.",
    "Embrulhar para presente, obrigado!",
    "Llamar antes de entregar: 3º izquierda.",
];

const COMPANIES: [&str; 3] = [
    "Ñandú Distribuciones S.L.",
    "Bäckerei Groß GmbH",
    "Conceição & Filhos Lda.",
];

const CARRIERS: [(&str, &str); 4] = [
    ("Correos Express", "https://s.correosexpress.com/c?n="),
    (
        "SEUR",
        "https://www.seur.com/livetracking/?segOnlineIdentificador=",
    ),
    (
        "DHL Express",
        "https://www.dhl.com/es-es/home/tracking.html?tracking-id=",
    ),
    (
        "CTT",
        "https://www.ctt.pt/feapl_2/app/open/objectSearch/objectSearch.jspx?objects=",
    ),
];

/// A generated person: a name in one country, with an address there.
#[derive(Clone)]
struct Person {
    first_name: String,
    last_name: String,
    country: Country,
}

impl Person {
    fn random(rng: &mut Rng) -> Person {
        let roll = rng.unit();
        let country = if roll < 0.75 {
            SPAIN
        } else if roll < 0.87 {
            PORTUGAL
        } else {
            GERMANY
        };
        Person {
            first_name: rng.pick(country.first_names).to_string(),
            last_name: rng.pick(country.last_names).to_string(),
            country,
        }
    }

    fn email(&self, rng: &mut Rng) -> String {
        let domain = rng.pick(&["example.com", "example.org", "example.net"]);
        let suffix = if rng.chance(0.4) {
            rng.range(1, 99).to_string()
        } else {
            String::new()
        };
        format!(
            "{}.{}{suffix}@{domain}",
            ascii_fold(&self.first_name),
            ascii_fold(&self.last_name)
        )
    }

    fn phone(&self, rng: &mut Rng) -> String {
        format!(
            "{}{:02} {:03} {:03}",
            self.country.phone_prefix,
            rng.range(10, 99),
            rng.range(0, 999),
            rng.range(0, 999)
        )
    }

    fn address(&self, rng: &mut Rng) -> MailingAddress {
        let country = self.country;
        let (city, province, province_code, zip_prefix) = *rng.pick(country.cities);
        let street = rng.pick(country.streets);
        let zip = match country.code {
            "PT" => format!(
                "{zip_prefix}{:03}-{:03}",
                rng.range(0, 999),
                rng.range(0, 999)
            ),
            "DE" => format!("{zip_prefix}{:03}", rng.range(0, 999)),
            _ => format!("{zip_prefix}{:03}", rng.range(1, 99)),
        };
        let number = rng.range(1, 180);
        let address1 = if country.code == "DE" {
            format!("{street} {number}")
        } else {
            format!("{street}, {number}")
        };
        MailingAddress {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            company: None,
            address1: Some(address1),
            address2: rng.chance(0.3).then(|| {
                format!(
                    "{}º {}",
                    rng.range(1, 9),
                    rng.pick(&["A", "B", "izq.", "dcha."])
                )
            }),
            city: Some(city.to_string()),
            province: Some(province.to_string()),
            province_code: Some(province_code.to_string()),
            zip: Some(zip),
            country: Some(country.name.to_string()),
            country_code: Some(country.code.to_string()),
            phone: rng.chance(0.6).then(|| self.phone(rng)),
        }
    }
}

/// `Núñez Groß` → `nunez.gross` for e-mail addresses.
fn ascii_fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' => out.push('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => out.push('o'),
            'ú' | 'ù' | 'û' | 'ü' => out.push('u'),
            'ñ' => out.push('n'),
            'ç' => out.push('c'),
            'ß' => out.push_str("ss"),
            ' ' | '-' => out.push('.'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// Where the lines that need shipping go: location indexes into `shop.locations`.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    One(usize),
    Split(usize, usize),
}

/// What happened to the order's fulfillment orders.
#[derive(Clone, Copy, PartialEq)]
enum FulfillmentPlan {
    Untouched,
    Fulfilled,
    Partial,
    InProgress,
    OnHold,
    Scheduled,
    RequestDeclined,
}

struct OrderGenerator {
    root: Rng,
    physical: Vec<usize>,
    gift_card: Option<usize>,
    service: Option<usize>,
    /// Customers seen so far, so returning customers place several orders.
    customers: Vec<(Customer, Person)>,
}

impl OrderGenerator {
    fn new(seed: u64, shop: &Shop) -> OrderGenerator {
        let physical = (0..shop.variants.len())
            .filter(|&i| shop.variants[i].requires_shipping)
            .collect();
        OrderGenerator {
            root: Rng::new(seed).fork(0x0DE5),
            physical,
            gift_card: shop.variants.iter().position(|v| v.is_gift_card),
            service: shop
                .variants
                .iter()
                .position(|v| !v.is_gift_card && !v.requires_shipping),
            customers: Vec::new(),
        }
    }

    fn order(
        &mut self,
        shop: &mut Shop,
        rng: &mut Rng,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Order {
        let id = shop.allocate_id();
        let number = shop.next_order_number;
        shop.next_order_number += 1;
        let cancelled = rng.chance(0.05);
        let digital_only = rng.chance(0.02) || self.physical.is_empty();

        // Lines: (variant index, quantity).
        let mut picks: Vec<(usize, i64)> = Vec::new();
        if !digital_only {
            let count = *rng.pick(&[1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7, 8]);
            while picks.len() < count.min(self.physical.len()) {
                self.add_physical_line(rng, &mut picks);
            }
        }
        if let Some(gift) = self.gift_card
            && (digital_only || rng.chance(0.07))
        {
            picks.push((gift, rng.range(1, 2) as i64));
        }
        if let Some(service) = self.service
            && (rng.chance(0.04) || (digital_only && rng.chance(0.3)))
        {
            picks.push((service, 1));
        }
        let shipping_count = picks
            .iter()
            .filter(|(v, _)| shop.variants[*v].requires_shipping)
            .count();

        let placement = if shipping_count == 0 {
            None
        } else {
            let roll = rng.unit();
            Some(if roll < 0.66 {
                Placement::One(0)
            } else if roll < 0.80 {
                Placement::One(1)
            } else if roll < 0.90 {
                Placement::Split(0, 1)
            } else if roll < 0.97 {
                Placement::One(2)
            } else {
                Placement::Split(0, 2)
            })
        };
        if matches!(placement, Some(Placement::Split(..)))
            && shipping_count == 1
            && self.physical.len() > 1
        {
            self.add_physical_line(rng, &mut picks);
        }

        let plan = if cancelled || placement.is_none() {
            FulfillmentPlan::Untouched
        } else {
            let roll = rng.unit();
            if roll < 0.78 {
                FulfillmentPlan::Untouched
            } else if roll < 0.86 {
                FulfillmentPlan::Fulfilled
            } else if roll < 0.91 {
                FulfillmentPlan::Partial
            } else if roll < 0.93 {
                FulfillmentPlan::InProgress
            } else if roll < 0.955 {
                FulfillmentPlan::OnHold
            } else if roll < 0.975 {
                FulfillmentPlan::Scheduled
            } else {
                FulfillmentPlan::RequestDeclined
            }
        };
        if plan == FulfillmentPlan::Partial {
            // Partial needs at least two units to ship.
            let units: i64 = picks
                .iter()
                .filter(|(v, _)| shop.variants[*v].requires_shipping)
                .map(|(_, q)| q)
                .sum();
            if units < 2
                && let Some(first) = picks
                    .iter_mut()
                    .find(|(v, _)| shop.variants[*v].requires_shipping)
            {
                first.1 = 2;
            }
        }

        let financial_status = if cancelled {
            let roll = rng.unit();
            if roll < 0.35 {
                Some(FinancialStatus::Refunded)
            } else if roll < 0.7 {
                Some(FinancialStatus::Voided)
            } else if roll < 0.85 {
                None
            } else {
                Some(FinancialStatus::Paid)
            }
        } else if matches!(plan, FulfillmentPlan::Fulfilled | FulfillmentPlan::Partial) {
            Some(if rng.chance(0.12) {
                FinancialStatus::PartiallyRefunded
            } else {
                FinancialStatus::Paid
            })
        } else {
            let roll = rng.unit();
            Some(if roll < 0.82 {
                FinancialStatus::Paid
            } else if roll < 0.88 {
                FinancialStatus::Pending
            } else if roll < 0.92 {
                FinancialStatus::Authorized
            } else if roll < 0.945 {
                FinancialStatus::PartiallyPaid
            } else if roll < 0.965 {
                FinancialStatus::PartiallyRefunded
            } else if roll < 0.98 {
                FinancialStatus::Refunded
            } else if roll < 0.99 {
                FinancialStatus::Voided
            } else {
                FinancialStatus::Expired
            })
        };

        let mut line_items: Vec<LineItem> = picks
            .iter()
            .map(|&(v, quantity)| {
                let variant = &shop.variants[v];
                let variant_title =
                    (variant.title != "Default Title").then(|| variant.title.clone());
                LineItem {
                    id: 0,
                    name: match &variant_title {
                        Some(t) => format!("{} - {t}", variant.product_title),
                        None => variant.product_title.clone(),
                    },
                    title: variant.product_title.clone(),
                    variant_title,
                    vendor: Some(VENDOR.to_string()),
                    sku: variant.sku.clone(),
                    variant_id: Some(variant.id),
                    quantity,
                    current_quantity: quantity,
                    requires_shipping: variant.requires_shipping,
                    is_gift_card: variant.is_gift_card,
                    unit_price: variant.price,
                }
            })
            .collect();
        for line in &mut line_items {
            line.id = shop.allocate_id();
        }
        if plan == FulfillmentPlan::Untouched
            && financial_status == Some(FinancialStatus::PartiallyRefunded)
        {
            // A refund with restock took one unit away before anything shipped.
            if let Some(line) = line_items.iter_mut().find(|l| l.quantity >= 2) {
                line.current_quantity -= 1;
            } else if line_items.len() > 1
                && let Some(line) = line_items.last_mut()
            {
                line.current_quantity = 0;
            }
        }

        // Timestamps: an order that something happened to was updated later.
        let latest = now - TimeDelta::seconds(1);
        let room = (latest - created_at).num_seconds().max(0) as u64;
        let touched = cancelled || plan != FulfillmentPlan::Untouched || rng.chance(0.3);
        let updated_at = if touched {
            created_at + TimeDelta::seconds(rng.range(room.min(60), room) as i64)
        } else {
            created_at + TimeDelta::seconds(rng.range(0, room.min(5)) as i64)
        };
        let between = (updated_at - created_at).num_seconds().max(0) as u64;
        let event_at =
            |rng: &mut Rng| created_at + TimeDelta::seconds(rng.range(between / 2, between) as i64);

        // Fulfillment orders: one per location the shipping lines are placed at.
        let shipping_lines: Vec<&LineItem> = line_items
            .iter()
            .filter(|l| l.requires_shipping && l.current_quantity > 0)
            .collect();
        let mut groups: Vec<(usize, Vec<&LineItem>)> = Vec::new();
        match placement {
            None => {}
            Some(Placement::One(location)) => groups.push((location, shipping_lines)),
            Some(Placement::Split(a, b)) => {
                let (mut first, mut second) = (Vec::new(), Vec::new());
                for (i, line) in shipping_lines.into_iter().enumerate() {
                    match i {
                        0 => first.push(line),
                        1 => second.push(line),
                        _ if rng.chance(0.5) => first.push(line),
                        _ => second.push(line),
                    }
                }
                groups.push((a, first));
                if !second.is_empty() {
                    groups.push((b, second));
                }
            }
        }
        let mut fulfillment_orders = Vec::new();
        for (location, lines) in groups {
            let fo_id = shop.allocate_id();
            let fo_lines = lines
                .iter()
                .map(|l| FulfillmentOrderLineItem {
                    id: shop.allocate_id(),
                    line_item_id: l.id,
                    total_quantity: l.current_quantity,
                    remaining_quantity: l.current_quantity,
                })
                .collect();
            fulfillment_orders.push(FulfillmentOrder {
                id: fo_id,
                status: FulfillmentOrderStatus::Open,
                request_status: FulfillmentOrderRequestStatus::Unsubmitted,
                location_id: shop.locations[location].id,
                line_items: fo_lines,
                created_at,
                updated_at: created_at,
            });
        }

        // Units to fulfil, counted across the fulfillment orders in order.
        let units: i64 = fulfillment_orders
            .iter()
            .flat_map(|fo| &fo.line_items)
            .map(|l| l.total_quantity)
            .sum();
        let mut to_fulfil = match plan {
            FulfillmentPlan::Fulfilled => units,
            FulfillmentPlan::Partial if units >= 2 => rng.range(1, units as u64 - 1) as i64,
            _ => 0,
        };
        let mut fulfillments = Vec::new();
        for fo in &mut fulfillment_orders {
            let mut lines = Vec::new();
            for fo_line in &mut fo.line_items {
                let take = fo_line.remaining_quantity.min(to_fulfil);
                if take > 0 {
                    fo_line.remaining_quantity -= take;
                    to_fulfil -= take;
                    lines.push((fo_line.line_item_id, take));
                }
            }
            if !lines.is_empty() {
                let at = event_at(rng);
                let (company, url) = *rng.pick(&CARRIERS);
                let number = format!(
                    "{}{:010}",
                    &company[..2].to_uppercase(),
                    rng.range(0, 9_999_999_999)
                );
                let mut fulfillment_lines = Vec::with_capacity(lines.len());
                for (line_item_id, quantity) in lines {
                    fulfillment_lines.push(FulfillmentLine {
                        id: shop.allocate_id(),
                        line_item_id,
                        quantity,
                    });
                }
                fulfillments.push(Fulfillment {
                    id: shop.allocate_id(),
                    location_id: fo.location_id,
                    tracking: vec![TrackingInfo {
                        company: Some(company.to_string()),
                        url: Some(format!("{url}{number}")),
                        number: Some(number),
                    }],
                    lines: fulfillment_lines,
                    created_at: at,
                    updated_at: at,
                    notify_customer: false,
                });
                fo.updated_at = at;
            }
            fo.status = if fo.line_items.iter().all(|l| l.remaining_quantity == 0) {
                FulfillmentOrderStatus::Closed
            } else if fo
                .line_items
                .iter()
                .any(|l| l.remaining_quantity < l.total_quantity)
            {
                FulfillmentOrderStatus::InProgress
            } else {
                match plan {
                    FulfillmentPlan::OnHold => FulfillmentOrderStatus::OnHold,
                    FulfillmentPlan::Scheduled => FulfillmentOrderStatus::Scheduled,
                    _ => FulfillmentOrderStatus::Open,
                }
            };
        }
        if plan == FulfillmentPlan::InProgress
            && let Some(first) = fulfillment_orders.first_mut()
        {
            first.status = FulfillmentOrderStatus::InProgress;
            first.updated_at = updated_at;
        }

        // People.
        let has_customer = rng.chance(0.9);
        let (customer, person) = if has_customer {
            if !self.customers.is_empty() && rng.chance(0.2) {
                let (customer, person) = rng.pick(&self.customers).clone();
                (Some(customer), person)
            } else {
                let person = Person::random(rng);
                let customer = Customer {
                    id: shop.allocate_id(),
                    first_name: Some(person.first_name.clone()),
                    last_name: Some(person.last_name.clone()),
                    email: Some(person.email(rng)),
                    phone: rng.chance(0.5).then(|| person.phone(rng)),
                };
                self.customers.push((customer.clone(), person.clone()));
                (Some(customer), person)
            }
        } else {
            (None, Person::random(rng))
        };
        let email = match &customer {
            Some(c) => c.email.clone(),
            None => rng.chance(0.4).then(|| person.email(rng)),
        };
        let shipping_address = placement.map(|_| person.address(rng));
        let billing_address = if rng.chance(0.85) {
            shipping_address
                .clone()
                .or_else(|| Some(person.address(rng)))
        } else {
            let mut other = Person::random(rng).address(rng);
            other.company = Some(rng.pick(&COMPANIES).to_string());
            Some(other)
        };

        let tag_count = *rng.pick(&[0, 0, 0, 0, 1, 1, 1, 2, 2, 3]);
        let mut tags = BTreeSet::new();
        while tags.len() < tag_count {
            tags.insert(rng.pick(&TAGS).to_string());
        }
        let at_shop_only = placement == Some(Placement::One(2));
        let pos = at_shop_only && rng.chance(0.5);
        let subtotal: Decimal = line_items
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.current_quantity))
            .sum();
        let shipping_lines = match placement {
            None => Vec::new(),
            Some(_) => {
                let (title, code, cents) = if pos {
                    ("Recogida en tienda", "pickup", 0)
                } else if subtotal >= Decimal::new(60, 0) {
                    ("Envío gratuito", "free", 0)
                } else if rng.chance(0.7) {
                    ("Envío estándar", "standard", 495)
                } else {
                    ("Envío urgente 24 h", "express", 995)
                };
                vec![ShippingLine {
                    id: shop.allocate_id(),
                    title: title.to_string(),
                    code: Some(code.to_string()),
                    source: Some("shopify".to_string()),
                    carrier_identifier: None,
                    price: Decimal::new(cents, 2),
                }]
            }
        };

        let closed_at = (plan == FulfillmentPlan::Fulfilled)
            .then(|| fulfillments.iter().map(|f| f.created_at).max())
            .flatten();
        let mut order = Order {
            id,
            name: format!("#{number}"),
            number,
            email,
            phone: customer.as_ref().and_then(|c| c.phone.clone()),
            created_at,
            updated_at,
            processed_at: created_at,
            cancelled_at: None,
            cancel_reason: None,
            closed_at,
            test: rng.chance(0.02),
            financial_status,
            fulfillment_status: match plan {
                FulfillmentPlan::InProgress => FulfillmentStatus::InProgress,
                FulfillmentPlan::OnHold => FulfillmentStatus::OnHold,
                FulfillmentPlan::Scheduled => FulfillmentStatus::Scheduled,
                FulfillmentPlan::RequestDeclined => FulfillmentStatus::RequestDeclined,
                _ => FulfillmentStatus::Unfulfilled,
            },
            note: rng.chance(0.15).then(|| rng.pick(&NOTES).to_string()),
            tags,
            currency: shop.currency.clone(),
            customer,
            shipping_address,
            billing_address,
            shipping_lines,
            line_items,
            fulfillment_orders,
            fulfillments,
            returns: Vec::new(),
            refunds: Vec::new(),
            source_name: Some(if pos { "pos" } else { "web" }.to_string()),
        };
        if cancelled {
            let reason = *rng.pick(&CancelReason::ALL);
            order.apply_cancellation(reason, updated_at);
        }
        order.refresh_fulfillment_status();
        order
    }

    fn add_physical_line(&self, rng: &mut Rng, picks: &mut Vec<(usize, i64)>) {
        loop {
            let variant = *rng.pick(&self.physical);
            if !picks.iter().any(|(v, _)| *v == variant) {
                picks.push((variant, *rng.pick(&[1, 1, 1, 1, 2, 2, 3, 4, 5])));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_to_ascii_addresses() {
        assert_eq!(ascii_fold("María José"), "maria.jose");
        assert_eq!(ascii_fold("Groß-Köhler"), "gross.kohler");
        assert_eq!(ascii_fold("Conceição"), "conceicao");
    }
}
