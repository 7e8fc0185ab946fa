//! The sandbox's warehouse data and its rules: seeding from the shared catalog, sales order
//! validation and life cycle (queue → picking → packing → ended, or cancelled), stock and
//! availability, and the packing orders, boxes and trackings a shipment leaves behind.
//!
//! Everything here is synchronous and runs under the one data lock; handlers never hold that
//! lock across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::error::FieldError;
use super::model::*;
use crate::catalog::{Catalog, PULPO_ONLY_WAREHOUSE, SHARED_WAREHOUSES};

/// Free packing locations a new sandbox has (cancelling a `picking` order needs one).
pub const DEFAULT_FREE_PACKING_LOCATIONS: u32 = 5;

/// The customer every sandbox has, for orders without a known customer.
pub const FALLBACK_CUSTOMER_ID: Id = 1;
pub const FALLBACK_CUSTOMER_NAME: &str = "Fallback customer";
/// The seeded supplier (a third party of type `S`), for products' `third_party_id`.
pub const SUPPLIER_ID: Id = 2;
pub const SUPPLIER_NAME: &str = "Textiles del Norte S.L.";

/// The user behind every token; PULPO records it as `creator_id`.
const API_USER_ID: Id = 1;

/// Order types `SalesOrderBodyRequest.type` accepts.
const ORDER_TYPES: [&str; 4] = [
    "sales_order",
    "warehouse_movement",
    "return",
    "POS_external",
];

/// The return reasons every sandbox tenant has (`code`, `name`): PULPO tenants define their own;
/// these are what a warehouse typically records on a customer return.
pub const RETURN_REASONS: [(&str, &str); 6] = [
    ("DAMAGED", "Damaged in transit"),
    ("DEFECTIVE", "Defective"),
    ("WRONG_ITEM", "Wrong item sent"),
    ("TOO_SMALL", "Too small"),
    ("TOO_LARGE", "Too large"),
    ("NOT_WANTED", "No longer wanted"),
];

/// `Product.management_type` values (reference §B.5).
const MANAGEMENT_TYPES: [&str; 3] = ["none", "lot", "serial"];

/// Why the store refused an operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error("{0} {1} not found")]
    NotFound(&'static str, Id),
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
}

impl StoreError {
    /// The spec's `Error` object: `{"<column>": "<message>", …}`, the first message of each.
    pub fn column_messages(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        match self {
            StoreError::NotFound(what, id) => {
                object.insert("id".into(), format!("{what} {id} not found").into());
            }
            StoreError::Invalid(errors) => {
                for error in errors {
                    object
                        .entry(error.field.clone())
                        .or_insert_with(|| error.message.clone().into());
                }
            }
        }
        serde_json::Value::Object(object)
    }
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid(vec![FieldError::new(field, message)])
}

/// Hands out strictly increasing microsecond timestamps, so every change moves `updated_at`
/// forward and `updated_at=gt:<last seen>` never misses one.
#[derive(Debug)]
struct Clock {
    last: DateTime<Utc>,
}

impl Clock {
    fn tick(&mut self) -> DateTime<Utc> {
        let now = Utc::now().trunc_subsecs(6);
        self.last = if now > self.last {
            now
        } else {
            self.last + TimeDelta::microseconds(1)
        };
        self.last
    }
}

/// One id sequence per table, as in PULPO's database.
#[derive(Debug, Default)]
struct Sequences {
    product: Id,
    third_party: Id,
    sales_order: Id,
    sales_item: Id,
    sales_item_batch: Id,
    shipment_instruction: Id,
    packing_order: Id,
    packing_item: Id,
    packing_box: Id,
    packing_box_item: Id,
    packing_box_item_batch: Id,
    shipment_tracking: Id,
    batch: Id,
    incoming_good: Id,
    incoming_good_item: Id,
}

fn next(sequence: &mut Id) -> Id {
    *sequence += 1;
    *sequence
}

/// A customer return received at the warehouse, reported through the control API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnReceipt {
    pub sales_order_id: Id,
    pub items: Vec<ReturnedItem>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Units of one sales item that came back, and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnedItem {
    pub line_order_id: String,
    pub quantity: i64,
    /// One of the tenant's reason codes ([`RETURN_REASONS`]), or none.
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// A shipment reported through the control API: what the carrier took, in one or more boxes.
#[derive(Debug, Clone)]
pub struct Shipment {
    pub boxes: Vec<ShipmentBox>,
}

/// One box of a shipment: its lines and, optionally, its tracking (a label may come later,
/// through [`Store::set_tracking`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentBox {
    pub carrier_code: Option<String>,
    #[serde(alias = "tracking_number")]
    pub tracking_code: Option<String>,
    pub tracking_url: Option<String>,
    /// What goes in the box; everything not shipped yet (by earlier boxes too) when omitted.
    pub items: Option<Vec<ShipmentLine>>,
}

/// A line of a shipment, naming the sales item by `line_order_id` or else by `product_id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    pub line_order_id: Option<String>,
    pub product_id: Option<Id>,
    pub quantity: i64,
    /// The lots or serial numbers the units came from (lot or serial products only).
    pub batches: Option<Vec<BatchShare>>,
}

/// Units of a box item taken from the batch with this `number` (a lot, or a serial number
/// with quantity 1). The batch is made when the product has none with that number yet.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchShare {
    pub number: String,
    pub quantity: i64,
}

/// A box's tracking set through the control API: created when the box has none, else changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingChange {
    pub carrier_code: String,
    #[serde(alias = "tracking_number")]
    pub tracking_code: String,
    pub tracking_url: Option<String>,
    /// `created` for a new label unless given.
    pub status: Option<String>,
}

/// A stock level set through the control API: one product in one warehouse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StockLevel {
    pub product_id: Id,
    pub warehouse_id: Id,
    pub target: StockTarget,
}

/// What a stock level sets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StockTarget {
    /// The physical stock in the warehouse's locations.
    Physical(i64),
    /// The availability PULPO reports: physical stock minus what open orders hold.
    Available(i64),
}

/// Products made in bulk through the control API (a benchmark's catalog).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberedProducts {
    pub count: usize,
    /// SKUs are this prefix and a running number from 1, six digits at least: `BENCH-000001`.
    pub sku_prefix: String,
    /// Each product's availability in `warehouse_id`, when given.
    pub warehouse_id: Option<Id>,
    pub available_quantity: Option<i64>,
}

/// The ids the bulk-made products got, in SKU order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NumberedProductsMade {
    pub created: usize,
    pub first_id: Option<Id>,
    pub last_id: Option<Id>,
}

/// The most products one bulk request makes: a million keeps the sandbox's memory in bounds.
const MAX_NUMBERED_PRODUCTS: usize = 1_000_000;

/// Everything a shipment created or changed: the boxes in the order given, and the trackings
/// of the boxes that had one.
#[derive(Debug, Clone, Serialize)]
pub struct Shipped {
    pub sales_order: SalesOrder,
    pub packing_order: PackingOrder,
    pub packing_boxes: Vec<PackingBox>,
    pub shipment_trackings: Vec<ShipmentTracking>,
}

/// A box of a shipment, checked and ready to write.
struct PlannedBox {
    tracking: Option<(String, String, Option<String>)>,
    /// (sales item index, quantity, batches).
    lines: Vec<(usize, i64, Vec<BatchShare>)>,
}

/// The whole PULPO tenant the sandbox emulates.
#[derive(Debug)]
pub struct Store {
    clock: Clock,
    ids: Sequences,
    pub warehouses: Vec<Warehouse>,
    pub products: BTreeMap<Id, Product>,
    skus: HashMap<String, Id>,
    /// Armed refusals by SKU: the message and how many more calls it refuses.
    product_refusals: HashMap<String, (String, u32)>,
    /// Physical stock per (product, warehouse): storage plus goods being packed.
    stock: HashMap<(Id, Id), i64>,
    /// What open sales orders hold per (product, warehouse), kept up to date on every order
    /// change so availability does not scan every order.
    held: HashMap<(Id, Id), i64>,
    pub third_parties: BTreeMap<Id, ThirdParty>,
    /// Third parties by `identifier_number` (customers and suppliers may share one), so
    /// looking customers up by identifier does not scan every third party.
    identifiers: HashMap<String, Vec<Id>>,
    pub sales_orders: BTreeMap<Id, SalesOrder>,
    order_nums: HashMap<String, Id>,
    pub packing_orders: BTreeMap<Id, PackingOrder>,
    packing_order_of_sales_order: HashMap<Id, Id>,
    pub packing_boxes: BTreeMap<Id, PackingBox>,
    pub shipment_trackings: BTreeMap<Id, ShipmentTracking>,
    /// Lots and serial numbers, by id.
    pub batches: BTreeMap<Id, Batch>,
    batch_numbers: HashMap<(Id, String), Id>,
    pub free_packing_locations: u32,
    /// Receipts at reception (returns), by id.
    pub incoming_goods: BTreeMap<Id, IncomingGood>,
    /// The tenant's reason codes ([`RETURN_REASONS`]).
    pub reason_codes: Vec<ReasonCode>,
}

/// Addresses of the seeded warehouses, in `SHARED_WAREHOUSES` order then `PULPO_ONLY_WAREHOUSE`.
const WAREHOUSE_ADDRESSES: [(&str, &str, &str, &str); 3] = [
    ("Calle de Alcalá 120", "Madrid", "28009", "ES"),
    ("Carrer de Pallars 190", "Barcelona", "08005", "ES"),
    ("Rua Augusta 27", "Lisboa", "1100-048", "PT"),
];

impl Store {
    /// The tenant for `seed`: the warehouses, the catalog products PULPO knows (product id =
    /// catalog index, each with its catalog stock in the first shared warehouse) and the
    /// fallback customer.
    pub fn seeded(seed: u64, unknown_share: f64) -> Store {
        let mut clock = Clock {
            last: DateTime::<Utc>::MIN_UTC,
        };
        let now = clock.tick();
        let names = SHARED_WAREHOUSES.iter().chain([&PULPO_ONLY_WAREHOUSE]);
        let warehouses: Vec<Warehouse> = names
            .zip(WAREHOUSE_ADDRESSES)
            .enumerate()
            .map(|(index, (name, (line1, city, zip, country)))| Warehouse {
                id: index as Id + 1,
                name: name.to_string(),
                active: true,
                company_name: Some("Sandbox Logistics S.L.".into()),
                line1: line1.into(),
                line2: None,
                city: Some(city.into()),
                state: None,
                zip_code: Some(zip.into()),
                country_code: Some(country.into()),
                phone: None,
                fax: None,
                email: None,
                site: None,
                priority: Some(index as i64 + 1),
                tenant_id: TENANT_ID,
                inserted_at: now,
                updated_at: now,
            })
            .collect();
        let first_shared = warehouses[0].id;
        let mut store = Store {
            clock,
            ids: Sequences::default(),
            warehouses,
            products: BTreeMap::new(),
            skus: HashMap::new(),
            product_refusals: HashMap::new(),
            stock: HashMap::new(),
            held: HashMap::new(),
            third_parties: BTreeMap::new(),
            identifiers: HashMap::new(),
            sales_orders: BTreeMap::new(),
            order_nums: HashMap::new(),
            packing_orders: BTreeMap::new(),
            packing_order_of_sales_order: HashMap::new(),
            packing_boxes: BTreeMap::new(),
            shipment_trackings: BTreeMap::new(),
            batches: BTreeMap::new(),
            batch_numbers: HashMap::new(),
            free_packing_locations: DEFAULT_FREE_PACKING_LOCATIONS,
            incoming_goods: BTreeMap::new(),
            reason_codes: RETURN_REASONS
                .iter()
                .enumerate()
                .map(|(index, (code, name))| ReasonCode {
                    id: index as Id + 1,
                    code: (*code).into(),
                    name: (*name).into(),
                    active: true,
                    allowed_processes: vec!["return".into()],
                    internal_reason: false,
                    tenant_id: TENANT_ID,
                    inserted_at: now,
                    updated_at: now,
                })
                .collect(),
        };
        let catalog = Catalog::generate(seed, unknown_share);
        for product in catalog.products.iter().filter(|p| p.known_to_pulpo) {
            let id = product.index as Id;
            let name = match &product.variant_title {
                Some(variant) => format!("{} - {variant}", product.title),
                None => product.title.clone(),
            };
            store.insert_product(Product {
                id,
                sku: product.sku.clone(),
                name,
                description: None,
                article_number: None,
                barcodes: vec![product.barcode.clone()],
                active: true,
                management_type: "none".into(),
                batch_control: false,
                attributes: None,
                weight: None,
                height: None,
                length: None,
                width: None,
                volume: None,
                cost_price: None,
                third_party_id: None,
                merchant_id: None,
                tenant_id: TENANT_ID,
                deleted: false,
                inserted_at: now,
                updated_at: now,
            });
            store.stock.insert((id, first_shared), product.stock);
        }
        // New products continue after the whole catalog, so ids stay stable across
        // `unknown_share` settings.
        store.ids.product = catalog.products.len() as Id;
        store.ids.third_party = FALLBACK_CUSTOMER_ID;
        store.insert_third_party(ThirdParty {
            id: FALLBACK_CUSTOMER_ID,
            name: FALLBACK_CUSTOMER_NAME.into(),
            third_type: "C".into(),
            identifier_type: "FALLBACK".into(),
            identifier_number: "FALLBACK".into(),
            active: true,
            email: None,
            erp_code: None,
            erp_id: None,
            attributes: None,
            merchant_id: None,
            merchant_channel_id: None,
            tenant_id: TENANT_ID,
            deleted_at: None,
            deleted_by: None,
            inserted_at: now,
            updated_at: now,
        });
        store.ids.third_party = SUPPLIER_ID;
        store.insert_third_party(ThirdParty {
            id: SUPPLIER_ID,
            name: SUPPLIER_NAME.into(),
            third_type: "S".into(),
            identifier_type: "CIF".into(),
            identifier_number: "B48123456".into(),
            active: true,
            email: Some("pedidos@textilesdelnorte.es".into()),
            erp_code: None,
            erp_id: None,
            attributes: None,
            merchant_id: None,
            merchant_channel_id: None,
            tenant_id: TENANT_ID,
            deleted_at: None,
            deleted_by: None,
            inserted_at: now,
            updated_at: now,
        });
        store
    }

    fn insert_product(&mut self, product: Product) {
        self.skus.insert(product.sku.clone(), product.id);
        self.products.insert(product.id, product);
    }

    pub fn product_by_sku(&self, sku: &str) -> Option<&Product> {
        self.skus.get(sku).and_then(|id| self.products.get(id))
    }

    /// Third parties with this `identifier_number`, by id.
    pub fn third_parties_by_identifier<'a>(
        &'a self,
        identifier_number: &str,
    ) -> impl Iterator<Item = &'a ThirdParty> {
        self.identifiers
            .get(identifier_number)
            .into_iter()
            .flatten()
            .filter_map(|id| self.third_parties.get(id))
    }

    fn insert_third_party(&mut self, third_party: ThirdParty) {
        self.identifiers
            .entry(third_party.identifier_number.clone())
            .or_default()
            .push(third_party.id);
        self.third_parties.insert(third_party.id, third_party);
    }

    pub fn sales_order_by_num(&self, order_num: &str) -> Option<&SalesOrder> {
        self.order_nums
            .get(order_num)
            .and_then(|id| self.sales_orders.get(id))
    }

    fn warehouse_exists(&self, id: Id) -> bool {
        self.warehouses.iter().any(|w| w.id == id)
    }

    // ----- products and third parties -----

    /// `POST /inventory/products`: `sku` and `name` are required, `sku` unique; a supplier
    /// (`third_party_id`) must be a third party of type `S`; weights and prices are not
    /// negative; a refusal armed for the SKU ([`Store::refuse_product`]) answers instead.
    pub fn create_product(&mut self, body: ProductBody) -> Result<Product, StoreError> {
        let mut errors = Vec::new();
        let sku = required(&mut errors, "sku", body.sku.clone());
        let name = required(&mut errors, "name", body.name.clone());
        if sku.as_ref().is_some_and(|sku| self.skus.contains_key(sku)) {
            errors.push(FieldError::new("sku", "has already been taken"));
        }
        self.check_product_fields(&body, &mut errors);
        if let Some(sku) = &sku {
            self.armed_product_refusal(sku, &mut errors);
        }
        let (Some(sku), Some(name), true) = (sku, name, errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        let now = self.clock.tick();
        let product = Product {
            id: next(&mut self.ids.product),
            sku,
            name,
            description: body.description,
            article_number: body.article_number,
            barcodes: body.barcodes.unwrap_or_default(),
            active: body.active.unwrap_or(true),
            management_type: body.management_type.unwrap_or_else(|| "none".into()),
            batch_control: body.batch_control.unwrap_or(false),
            attributes: body.attributes,
            weight: body.weight,
            height: body.height,
            length: body.length,
            width: body.width,
            volume: body.volume,
            cost_price: body.cost_price,
            third_party_id: body.third_party_id,
            merchant_id: body.merchant_id,
            tenant_id: TENANT_ID,
            deleted: false,
            inserted_at: now,
            updated_at: now,
        };
        self.insert_product(product.clone());
        Ok(product)
    }

    /// `PUT /inventory/products/{id}`: changes the fields the body gives and keeps the rest.
    /// The same rules as a create; a new `sku` must be free; `management_type` cannot change
    /// once the product has batches (PULPO keeps a product's type once it is in use).
    pub fn update_product(&mut self, id: Id, body: ProductBody) -> Result<Product, StoreError> {
        let Some(current) = self.products.get(&id).filter(|p| !p.deleted).cloned() else {
            return Err(StoreError::NotFound("product", id));
        };
        let mut errors = Vec::new();
        let sku = match body.sku.clone() {
            Some(sku) => required(&mut errors, "sku", Some(sku)),
            None => Some(current.sku.clone()),
        };
        let name = match body.name.clone() {
            Some(name) => required(&mut errors, "name", Some(name)),
            None => Some(current.name.clone()),
        };
        if sku
            .as_ref()
            .is_some_and(|sku| self.skus.get(sku).is_some_and(|owner| *owner != id))
        {
            errors.push(FieldError::new("sku", "has already been taken"));
        }
        self.check_product_fields(&body, &mut errors);
        if body
            .management_type
            .as_ref()
            .is_some_and(|t| *t != current.management_type)
            && self.batches.values().any(|b| b.product_id == id)
        {
            errors.push(FieldError::new(
                "management_type",
                "cannot change once the product has batches",
            ));
        }
        self.armed_product_refusal(&current.sku, &mut errors);
        let (Some(sku), Some(name), true) = (sku, name, errors.is_empty()) else {
            return Err(StoreError::Invalid(errors));
        };
        let now = self.clock.tick();
        let mut product = current;
        if product.sku != sku {
            self.skus.remove(&product.sku);
            self.skus.insert(sku.clone(), id);
        }
        product.sku = sku;
        product.name = name;
        let keep = |new: Option<String>, old: Option<String>| new.or(old);
        product.description = keep(body.description, product.description);
        product.article_number = keep(body.article_number, product.article_number);
        if let Some(barcodes) = body.barcodes {
            product.barcodes = barcodes;
        }
        if let Some(active) = body.active {
            product.active = active;
        }
        if let Some(management_type) = body.management_type {
            product.management_type = management_type;
        }
        if let Some(batch_control) = body.batch_control {
            product.batch_control = batch_control;
        }
        product.attributes = body.attributes.or(product.attributes);
        product.weight = body.weight.or(product.weight);
        product.height = body.height.or(product.height);
        product.length = body.length.or(product.length);
        product.width = body.width.or(product.width);
        product.volume = body.volume.or(product.volume);
        product.cost_price = body.cost_price.or(product.cost_price);
        product.third_party_id = body.third_party_id.or(product.third_party_id);
        product.merchant_id = body.merchant_id.or(product.merchant_id);
        product.updated_at = now;
        self.products.insert(id, product.clone());
        Ok(product)
    }

    /// The rules a product's fields follow on create and update.
    fn check_product_fields(&self, body: &ProductBody, errors: &mut Vec<FieldError>) {
        if let Some(supplier) = body.third_party_id {
            match self.third_parties.get(&supplier) {
                None => errors.push(FieldError::new("third_party_id", "does not exist")),
                Some(party) if party.third_type != "S" => {
                    errors.push(FieldError::new("third_party_id", "is not a supplier"));
                }
                Some(_) => {}
            }
        }
        if body
            .management_type
            .as_deref()
            .is_some_and(|t| !["none", "lot", "serial"].contains(&t))
        {
            errors.push(FieldError::new(
                "management_type",
                "must be one of: none, lot, serial",
            ));
        }
        for (field, value) in [
            ("weight", body.weight),
            ("height", body.height),
            ("length", body.length),
            ("width", body.width),
            ("volume", body.volume),
            ("cost_price", body.cost_price),
        ] {
            if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                errors.push(FieldError::new(field, "must be greater than or equal to 0"));
            }
        }
    }

    /// Makes the next `count` creates or updates of the product with `sku` fail with
    /// `message` (control API): PULPO refuses products for reasons of its own, a tenant's
    /// rules or a field's format, that a client cannot see beforehand.
    pub fn refuse_product(&mut self, sku: String, message: String, count: u32) {
        if count == 0 {
            self.product_refusals.remove(&sku);
        } else {
            self.product_refusals.insert(sku, (message, count));
        }
    }

    /// Uses up one armed refusal of `sku`, if there is one.
    fn armed_product_refusal(&mut self, sku: &str, errors: &mut Vec<FieldError>) {
        if let Some((message, left)) = self.product_refusals.get_mut(sku) {
            errors.push(FieldError::new("sku", message.clone()));
            *left -= 1;
            if *left == 0 {
                self.product_refusals.remove(sku);
            }
        }
    }

    /// Makes `count` products with numbered SKUs (control API), all or none.
    pub fn create_numbered_products(
        &mut self,
        order: NumberedProducts,
    ) -> Result<NumberedProductsMade, StoreError> {
        if order.count > MAX_NUMBERED_PRODUCTS {
            return Err(invalid(
                "count",
                format!("must be at most {MAX_NUMBERED_PRODUCTS}"),
            ));
        }
        let stock = match (order.warehouse_id, order.available_quantity) {
            (None, None) => None,
            (Some(warehouse_id), Some(available)) if self.warehouse_exists(warehouse_id) => {
                Some((warehouse_id, available))
            }
            (Some(_), Some(_)) => return Err(invalid("warehouse_id", "does not exist")),
            _ => {
                return Err(invalid(
                    "available_quantity",
                    "needs warehouse_id, and warehouse_id needs it",
                ));
            }
        };
        let sku = |number: usize| format!("{}{number:06}", order.sku_prefix);
        if let Some(taken) = (1..=order.count)
            .map(sku)
            .find(|s| self.skus.contains_key(s))
        {
            return Err(invalid("sku", format!("{taken} has already been taken")));
        }
        let mut made = NumberedProductsMade {
            created: order.count,
            first_id: None,
            last_id: None,
        };
        for number in 1..=order.count {
            let now = self.clock.tick();
            let id = next(&mut self.ids.product);
            let sku = sku(number);
            self.insert_product(Product {
                id,
                name: format!("Product {sku}"),
                sku,
                description: None,
                article_number: None,
                barcodes: Vec::new(),
                active: true,
                management_type: "none".into(),
                batch_control: false,
                attributes: None,
                weight: None,
                height: None,
                length: None,
                width: None,
                volume: None,
                cost_price: None,
                third_party_id: None,
                merchant_id: None,
                tenant_id: TENANT_ID,
                deleted: false,
                inserted_at: now,
                updated_at: now,
            });
            if let Some((warehouse_id, available)) = stock {
                self.stock.insert((id, warehouse_id), available);
            }
            made.first_id.get_or_insert(id);
            made.last_id = Some(id);
        }
        Ok(made)
    }

    /// Marks a product active or inactive, deleted or not, and sets how its units are tracked
    /// (`management_type` `none`, `lot` or `serial`) (control API; PULPO's own
    /// `PUT`/`DELETE /inventory/products/{id}` are not served).
    pub fn set_product_state(
        &mut self,
        id: Id,
        active: Option<bool>,
        deleted: Option<bool>,
        management_type: Option<String>,
    ) -> Result<Product, StoreError> {
        if management_type
            .as_deref()
            .is_some_and(|t| !MANAGEMENT_TYPES.contains(&t))
        {
            return Err(invalid("management_type", "must be none, lot or serial"));
        }
        let now = self.clock.tick();
        let product = self
            .products
            .get_mut(&id)
            .ok_or(StoreError::NotFound("product", id))?;
        if let Some(active) = active {
            product.active = active;
        }
        if let Some(deleted) = deleted {
            product.deleted = deleted;
        }
        if let Some(management_type) = management_type {
            product.batch_control = management_type != "none";
            product.management_type = management_type;
        }
        product.updated_at = now;
        Ok(product.clone())
    }

    /// `POST /iam/third_parties`: name, type (`C` or `S`) and identifier are required; the
    /// identifier is unique per type.
    pub fn create_third_party(&mut self, body: ThirdPartyBody) -> Result<ThirdParty, StoreError> {
        let mut errors = Vec::new();
        let name = required(&mut errors, "name", body.name);
        let third_type = required(&mut errors, "third_type", body.third_type);
        let identifier_type = required(&mut errors, "identifier_type", body.identifier_type);
        let identifier_number = required(&mut errors, "identifier_number", body.identifier_number);
        if third_type.as_deref().is_some_and(|t| t != "C" && t != "S") {
            errors.push(FieldError::new("third_type", "is invalid"));
        }
        if let (Some(kind), Some(number)) = (&third_type, &identifier_number)
            && self
                .third_parties_by_identifier(number)
                .any(|t| &t.third_type == kind)
        {
            errors.push(FieldError::new(
                "identifier_number",
                "has already been taken",
            ));
        }
        let (Some(name), Some(third_type), Some(identifier_type), Some(identifier_number), true) = (
            name,
            third_type,
            identifier_type,
            identifier_number,
            errors.is_empty(),
        ) else {
            return Err(StoreError::Invalid(errors));
        };
        let now = self.clock.tick();
        let third_party = ThirdParty {
            id: next(&mut self.ids.third_party),
            name,
            third_type,
            identifier_type,
            identifier_number,
            active: body.active.unwrap_or(true),
            email: body.email,
            erp_code: body.erp_code,
            erp_id: body.erp_id,
            attributes: body.attributes,
            merchant_id: body.merchant_id,
            merchant_channel_id: body.merchant_channel_id,
            tenant_id: TENANT_ID,
            deleted_at: None,
            deleted_by: None,
            inserted_at: now,
            updated_at: now,
        };
        self.insert_third_party(third_party.clone());
        Ok(third_party)
    }

    // ----- stock -----

    pub fn stock(&self, product_id: Id, warehouse_id: Id) -> i64 {
        self.stock
            .get(&(product_id, warehouse_id))
            .copied()
            .unwrap_or(0)
    }

    /// What open sales orders hold of a product in a warehouse.
    fn held(&self, product_id: Id, warehouse_id: Id) -> i64 {
        self.held
            .get(&(product_id, warehouse_id))
            .copied()
            .unwrap_or(0)
    }

    /// Sets stock levels (control API), all or none: each level is checked before any is
    /// written. A level may leave physical stock negative, as PULPO's signed stock corrections
    /// can (reference §B.6 `/inventory/stocks/correct`), so availability can go below zero
    /// without open orders too.
    pub fn set_stock_levels(&mut self, levels: &[StockLevel]) -> Result<(), StoreError> {
        for level in levels {
            if !self.products.contains_key(&level.product_id) {
                return Err(StoreError::NotFound("product", level.product_id));
            }
            if !self.warehouse_exists(level.warehouse_id) {
                return Err(invalid("warehouse_id", "does not exist"));
            }
        }
        for level in levels {
            let key = (level.product_id, level.warehouse_id);
            let physical = match level.target {
                StockTarget::Physical(quantity) => quantity,
                // What open orders hold stays held, so the physical stock is what makes the
                // availability come out as asked.
                StockTarget::Available(available) => {
                    available + self.held(level.product_id, level.warehouse_id)
                }
            };
            self.stock.insert(key, physical);
        }
        Ok(())
    }

    /// Availability per product over the chosen warehouses: physical stock minus what open
    /// sales orders still hold (their unshipped quantities: reserved in `queue`/`picking`,
    /// moved to a packing location in `packing`). It keeps its sign: an oversold product is
    /// negative, as in PULPO. Every known product asked for gets an entry, 0 without stock
    /// (PULPO answers for "a given product ID list"); unknown ids get none. `candidates`, when
    /// given, are the only ids that can match, so a batch of ids is looked up rather than
    /// every product scanned. Receptions and returns are not modelled, so their quantities
    /// are 0.
    pub fn availability(
        &self,
        candidates: Option<&[Id]>,
        include_product: impl Fn(Id) -> bool,
        include_warehouse: impl Fn(Id) -> bool,
    ) -> Vec<Availability> {
        let ids: Vec<Id> = match candidates {
            Some(candidates) => candidates
                .iter()
                .copied()
                .filter(|id| self.products.contains_key(id))
                .collect::<BTreeSet<Id>>()
                .into_iter()
                .collect(),
            None => self.products.keys().copied().collect(),
        };
        let warehouses: Vec<Id> = self
            .warehouses
            .iter()
            .map(|w| w.id)
            .filter(|&id| include_warehouse(id))
            .collect();
        ids.into_iter()
            .filter(|&id| include_product(id))
            .map(|product_id| Availability {
                product_id,
                available_quantity: warehouses
                    .iter()
                    .map(|&w| self.stock(product_id, w) - self.held(product_id, w))
                    .sum(),
                reception_quantity: 0,
                return_quantity: 0,
            })
            .collect()
    }

    // ----- sales orders -----

    /// Checks a `SalesOrderBodyRequest` against the data; `existing` is the order being
    /// replaced (its own `order_num` is not a duplicate, and it keeps it when the body omits it).
    fn validate_order(
        &self,
        body: &SalesOrderBody,
        existing: Option<&SalesOrder>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match body.order_num.as_deref().map(str::trim) {
            None if existing.is_some() => {}
            None | Some("") => errors.push(FieldError::new("order_num", "can't be blank")),
            Some(order_num) => {
                if let Some(&owner) = self.order_nums.get(order_num)
                    && existing.is_none_or(|order| order.id != owner)
                {
                    errors.push(FieldError::new("order_num", "has already been taken"));
                }
            }
        }
        if let Some(order_type) = &body.order_type
            && !ORDER_TYPES.contains(&order_type.as_str())
        {
            errors.push(FieldError::new("type", "is invalid"));
        }
        for (field, id) in [
            ("warehouse_id", body.warehouse_id),
            ("destination_warehouse_id", body.destination_warehouse_id),
        ] {
            if id.is_some_and(|id| !self.warehouse_exists(id)) {
                errors.push(FieldError::new(field, "does not exist"));
            }
        }
        if body
            .third_party_id
            .is_some_and(|id| !self.third_parties.contains_key(&id))
        {
            errors.push(FieldError::new("third_party_id", "does not exist"));
        }
        match &body.ship_to {
            None => errors.push(FieldError::new("ship_to", "can't be blank")),
            Some(Address { address: None, .. }) => {
                errors.push(FieldError::new("ship_to.address", "can't be blank"));
            }
            Some(Address {
                address: Some(detail),
                ..
            }) => {
                if detail.street.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    errors.push(FieldError::new("ship_to.address.street", "can't be blank"));
                }
            }
        }
        for (index, item) in body.items.iter().flatten().enumerate() {
            match item.product_id {
                None => errors.push(FieldError::new(
                    format!("items[{index}].product_id"),
                    "can't be blank",
                )),
                Some(id) if !self.products.contains_key(&id) => errors.push(FieldError::new(
                    format!("items[{index}].product_id"),
                    "does not exist",
                )),
                Some(_) => {}
            }
            match item.quantity {
                None => errors.push(FieldError::new(
                    format!("items[{index}].quantity"),
                    "can't be blank",
                )),
                Some(quantity) if quantity <= 0 => errors.push(FieldError::new(
                    format!("items[{index}].quantity"),
                    "must be greater than 0",
                )),
                Some(_) => {}
            }
        }
        errors
    }

    /// Builds the stored order from a validated body.
    fn build_order(
        &mut self,
        id: Id,
        order_num: String,
        body: SalesOrderBody,
        inserted_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> SalesOrder {
        let mut items = Vec::new();
        for item in body.items.unwrap_or_default() {
            let item_id = next(&mut self.ids.sales_item);
            let batches = item
                .batches
                .unwrap_or_default()
                .into_iter()
                .map(|batch| SalesItemBatch {
                    id: next(&mut self.ids.sales_item_batch),
                    sales_item_id: item_id,
                    batch_id: batch.batch_id,
                    suggested_quantity: batch.suggested_quantity,
                    inserted_at: now,
                    updated_at: now,
                })
                .collect();
            items.push(SalesItem {
                id: item_id,
                sales_order_id: id,
                // Validated present; 0 never matches a product.
                product_id: item.product_id.unwrap_or_default(),
                quantity: item.quantity.unwrap_or_default(),
                fulfilled_quantity: 0,
                line_order_id: item.line_order_id,
                notes: item.notes,
                required_date: item.required_date,
                attributes: item.attributes,
                batches,
                state: SalesOrderState::Queue,
                inserted_at: now,
                updated_at: now,
            });
        }
        let shipment_instructions = body
            .shipment_instructions
            .map(|instruction| SalesShipmentInstruction {
                id: next(&mut self.ids.shipment_instruction),
                sales_order_id: id,
                shipment_terms_code: instruction.shipment_terms_code,
                shipment_terms_location: instruction.shipment_terms_location,
                shipping_method_id: instruction.shipping_method_id,
                trip_number: instruction.trip_number,
                stops: instruction.stops.unwrap_or_default(),
                inserted_at: now,
                updated_at: now,
            })
            .into_iter()
            .collect();
        SalesOrder {
            id,
            order_num,
            external_order_num: body.external_order_num,
            order_type: body.order_type.unwrap_or_else(|| "sales_order".into()),
            state: SalesOrderState::Queue,
            // PULPO falls back to the user's default warehouse; the sandbox's is the first.
            warehouse_id: body.warehouse_id.unwrap_or(self.warehouses[0].id),
            destination_warehouse_id: body.destination_warehouse_id,
            third_party_id: body.third_party_id,
            client_id: body.client_id,
            client_name: body.client_name,
            merchant_id: body.merchant_id,
            merchant_channel_id: body.merchant_channel_id,
            channel: body.channel,
            criterium: body.criterium,
            priority: body.priority,
            delivery_date: body.delivery_date,
            notes: body.notes,
            attributes: body.attributes,
            is_cart: body.is_cart.unwrap_or(false),
            shipping_method_id: body.shipping_method_id,
            service_point_id: body.service_point_id,
            purchase_order_id: body.purchase_order_id,
            custom_filter_strategy_id: body.custom_filter_strategy_id,
            missing_stock_items_cancelled: body.missing_stock_items_cancelled.unwrap_or(false),
            estimated_total_volume: body.estimated_total_volume,
            estimated_total_weight: body.estimated_total_weight,
            address_check_status: body.address_check_status,
            reason_codes: body.reason_codes.unwrap_or_default(),
            ship_to: body.ship_to.unwrap_or_default(),
            shipment_instructions,
            items,
            creator_id: API_USER_ID,
            packing_location_id: None,
            process_information_id: None,
            inserted_at,
            updated_at: now,
        }
    }

    /// `POST /sales/orders`: a new order in `queue`.
    pub fn create_sales_order(&mut self, body: SalesOrderBody) -> Result<SalesOrder, StoreError> {
        let errors = self.validate_order(&body, None);
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let order_num = body
            .order_num
            .clone()
            .unwrap_or_default()
            .trim()
            .to_string();
        let now = self.clock.tick();
        let id = next(&mut self.ids.sales_order);
        let order = self.build_order(id, order_num, body, now, now);
        self.order_nums.insert(order.order_num.clone(), id);
        adjust_held(&mut self.held, &order, 1);
        self.sales_orders.insert(id, order.clone());
        Ok(order)
    }

    /// `PUT /sales/orders/{id}`: replaces the order (its items get new ids). Only orders still
    /// in `queue` can be replaced; PULPO's work on later states would be lost otherwise.
    pub fn replace_sales_order(
        &mut self,
        id: Id,
        body: SalesOrderBody,
    ) -> Result<SalesOrder, StoreError> {
        let existing = self
            .sales_orders
            .get(&id)
            .ok_or(StoreError::NotFound("sales order", id))?;
        if existing.state != SalesOrderState::Queue {
            return Err(invalid(
                "state",
                format!(
                    "sales order in state {} can not be updated",
                    existing.state.as_str()
                ),
            ));
        }
        let errors = self.validate_order(&body, Some(existing));
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors));
        }
        let old_num = existing.order_num.clone();
        let inserted_at = existing.inserted_at;
        let order_num = body
            .order_num
            .as_deref()
            .map_or(old_num.clone(), |n| n.trim().to_string());
        let now = self.clock.tick();
        let order = self.build_order(id, order_num, body, inserted_at, now);
        self.order_nums.remove(&old_num);
        self.order_nums.insert(order.order_num.clone(), id);
        adjust_held(&mut self.held, &order, 1);
        if let Some(old) = self.sales_orders.insert(id, order.clone()) {
            adjust_held(&mut self.held, &old, -1);
        }
        Ok(order)
    }

    /// Applies `change` to an order and moves its `updated_at` (and its items') forward.
    fn change_order(
        &mut self,
        id: Id,
        change: impl FnOnce(&mut SalesOrder) -> Result<(), StoreError>,
    ) -> Result<SalesOrder, StoreError> {
        let now = self.clock.tick();
        let order = self
            .sales_orders
            .get_mut(&id)
            .ok_or(StoreError::NotFound("sales order", id))?;
        adjust_held(&mut self.held, order, -1);
        let changed = change(order);
        if changed.is_ok() {
            order.updated_at = now;
            for item in &mut order.items {
                item.state = order.state;
                item.updated_at = now;
            }
        }
        adjust_held(&mut self.held, order, 1);
        changed.map(|()| order.clone())
    }

    /// `POST /sales/orders/{id}/cancel`. `ended` orders cannot be cancelled, nor `picking`
    /// ones while no packing location is free (the picked goods need one to be put back).
    pub fn cancel_sales_order(&mut self, id: Id) -> Result<SalesOrder, StoreError> {
        let free_locations = self.free_packing_locations;
        let order = self.change_order(id, |order| match order.state {
            SalesOrderState::Ended => {
                Err(invalid("state", "ended sales orders can not be cancelled"))
            }
            SalesOrderState::Cancelled => Err(invalid("state", "sales order is already cancelled")),
            SalesOrderState::Picking if free_locations == 0 => Err(invalid(
                "packing_location_id",
                "no packing location available to cancel a sales order in picking",
            )),
            _ => {
                order.state = SalesOrderState::Cancelled;
                Ok(())
            }
        })?;
        if let Some(packing_order_id) = self.packing_order_of_sales_order.get(&id)
            && let Some(packing_order) = self.packing_orders.get_mut(packing_order_id)
            && packing_order.state != "ended"
        {
            packing_order.state = "cancelled".into();
            packing_order.updated_at = order.updated_at;
        }
        Ok(order)
    }

    /// Moves an order one step: queue → picking → packing → ended. Reaching `ended` ships
    /// whatever was not shipped yet (without boxes or tracking; use [`Store::ship`] for those).
    pub fn advance(&mut self, id: Id) -> Result<SalesOrder, StoreError> {
        let current = self
            .sales_orders
            .get(&id)
            .ok_or(StoreError::NotFound("sales order", id))?
            .state;
        let next_state = match current {
            SalesOrderState::Queue => SalesOrderState::Picking,
            SalesOrderState::Picking => SalesOrderState::Packing,
            SalesOrderState::Packing => SalesOrderState::Ended,
            SalesOrderState::Ended | SalesOrderState::Cancelled => {
                return Err(invalid(
                    "state",
                    format!(
                        "a sales order in state {} can not advance",
                        current.as_str()
                    ),
                ));
            }
        };
        if next_state == SalesOrderState::Ended {
            let lines: Vec<(usize, i64)> = self.sales_orders[&id]
                .items
                .iter()
                .enumerate()
                .map(|(index, item)| (index, item.remaining()))
                .collect();
            self.fulfil(id, &lines);
        }
        let order = self.change_order(id, |order| {
            order.state = next_state;
            if next_state == SalesOrderState::Packing {
                order.packing_location_id = Some(1);
            }
            Ok(())
        })?;
        match next_state {
            SalesOrderState::Packing => {
                self.open_packing_order(id, order.updated_at);
            }
            SalesOrderState::Ended => self.end_packing_order(id, order.updated_at),
            _ => {}
        }
        Ok(order)
    }

    /// Marks `(item index, quantity)` lines of an order as shipped and takes the goods out of
    /// the order's warehouse.
    fn fulfil(&mut self, id: Id, lines: &[(usize, i64)]) {
        let Some(order) = self.sales_orders.get_mut(&id) else {
            return;
        };
        adjust_held(&mut self.held, order, -1);
        for &(index, quantity) in lines {
            let item = &mut order.items[index];
            item.fulfilled_quantity += quantity;
            let stock = self
                .stock
                .entry((item.product_id, order.warehouse_id))
                .or_default();
            *stock = (*stock - quantity).max(0);
        }
        adjust_held(&mut self.held, order, 1);
    }

    fn end_packing_order(&mut self, sales_order_id: Id, at: DateTime<Utc>) {
        if let Some(packing_order_id) = self.packing_order_of_sales_order.get(&sales_order_id)
            && let Some(packing_order) = self.packing_orders.get_mut(packing_order_id)
        {
            packing_order.state = "ended".into();
            packing_order.end_date = Some(at);
            packing_order.updated_at = at;
        }
    }

    /// The sales order's packing order, made in `queue` (one line per sales item, nothing
    /// packed) when it has none yet: PULPO queues it when picking hands the goods to packing.
    fn open_packing_order(&mut self, sales_order_id: Id, now: DateTime<Utc>) -> Id {
        if let Some(&existing) = self.packing_order_of_sales_order.get(&sales_order_id) {
            return existing;
        }
        let packing_order_id = next(&mut self.ids.packing_order);
        let (order_num, warehouse_id, items) = match self.sales_orders.get(&sales_order_id) {
            Some(order) => (
                order.order_num.clone(),
                order.warehouse_id,
                order
                    .items
                    .iter()
                    .map(|item| (item.product_id, item.quantity))
                    .collect::<Vec<_>>(),
            ),
            None => (String::new(), self.warehouses[0].id, Vec::new()),
        };
        let items = items
            .into_iter()
            .map(|(product_id, quantity)| PackingItem {
                id: next(&mut self.ids.packing_item),
                packing_order_id,
                product_id,
                requested_quantity: quantity,
                packed_quantity: 0,
                inserted_at: now,
                updated_at: now,
            })
            .collect();
        self.packing_orders.insert(
            packing_order_id,
            PackingOrder {
                id: packing_order_id,
                sales_order_id,
                sales_order_ref: order_num,
                fulfillment_order_id: None,
                sequence_number: format!("PK{packing_order_id:06}"),
                state: "queue".into(),
                packing_type: "sales_order".into(),
                warehouse_id,
                origin_location_id: Some(1),
                destination_location_id: None,
                owner_id: None,
                start_date: None,
                end_date: None,
                items,
                inserted_at: now,
                updated_at: now,
            },
        );
        self.packing_order_of_sales_order
            .insert(sales_order_id, packing_order_id);
        packing_order_id
    }

    /// Ships part or all of an order in one or more boxes: makes the packing order (once per
    /// sales order) and each box with its items, their batches and, when given, the box's
    /// shipment tracking. Every box is checked before any is written. The order moves to
    /// `packing` while items remain, to `ended` once everything is shipped; the packing order
    /// is `taken` until then, `ended` after.
    pub fn ship(&mut self, id: Id, shipment: Shipment) -> Result<Shipped, StoreError> {
        let order = self
            .sales_orders
            .get(&id)
            .ok_or(StoreError::NotFound("sales order", id))?;
        if !order.state.is_open() {
            return Err(invalid(
                "state",
                format!(
                    "a sales order in state {} can not ship",
                    order.state.as_str()
                ),
            ));
        }
        if shipment.boxes.is_empty() {
            return Err(invalid("boxes", "can't be empty"));
        }
        // Errors name the box only when there are several, so a one-box shipment reads as
        // before: `items[0].quantity`.
        let several = shipment.boxes.len() > 1;
        let mut taken = vec![0; order.items.len()];
        let mut planned = Vec::with_capacity(shipment.boxes.len());
        for (position, shipping_box) in shipment.boxes.into_iter().enumerate() {
            let prefix = if several {
                format!("boxes[{position}].")
            } else {
                String::new()
            };
            let tracking = match (shipping_box.carrier_code, shipping_box.tracking_code) {
                (None, None) if shipping_box.tracking_url.is_none() => None,
                (Some(carrier), Some(code))
                    if !carrier.trim().is_empty() && !code.trim().is_empty() =>
                {
                    Some((carrier, code, shipping_box.tracking_url))
                }
                (carrier, _) => {
                    let field = if carrier.is_none_or(|c| c.trim().is_empty()) {
                        "carrier_code"
                    } else {
                        "tracking_code"
                    };
                    return Err(invalid(
                        &format!("{prefix}{field}"),
                        "can't be blank when the box has a tracking",
                    ));
                }
            };
            let lines = allocate(order, shipping_box.items, &mut taken, &prefix)?;
            if lines.is_empty() {
                return Err(invalid(&format!("{prefix}items"), "nothing left to ship"));
            }
            for (line, (index, quantity, batches)) in lines.iter().enumerate() {
                let field = format!("{prefix}items[{line}].batches");
                self.check_batches(order.items[*index].product_id, *quantity, batches, &field)?;
            }
            planned.push(PlannedBox { tracking, lines });
        }
        let sales_items: Vec<(Id, Option<String>)> = order
            .items
            .iter()
            .map(|item| (item.product_id, item.line_order_id.clone()))
            .collect();
        let order_num = order.order_num.clone();

        let shipped_lines: Vec<(usize, i64)> = planned
            .iter()
            .flat_map(|planned| planned.lines.iter().map(|&(index, q, _)| (index, q)))
            .collect();
        self.fulfil(id, &shipped_lines);
        let now = self.clock.tick();
        let packing_order_id = self.open_packing_order(id, now);
        let mut box_number = self
            .packing_boxes
            .values()
            .filter(|b| b.packing_order_id == packing_order_id)
            .count() as i64;
        let mut packing_boxes = Vec::with_capacity(planned.len());
        let mut trackings = Vec::new();
        for planned in planned {
            box_number += 1;
            let box_id = next(&mut self.ids.packing_box);
            let mut items = Vec::with_capacity(planned.lines.len());
            for (index, quantity, batches) in planned.lines {
                let (product_id, line_order_id) = &sales_items[index];
                let item_id = next(&mut self.ids.packing_box_item);
                let batches = self.box_item_batches(*product_id, item_id, &batches, now);
                items.push(PackingBoxItem {
                    id: item_id,
                    packing_box_id: box_id,
                    product_id: *product_id,
                    quantity,
                    line_order_id: line_order_id.clone(),
                    attributes: None,
                    batches,
                    inserted_at: now,
                    updated_at: now,
                });
            }
            let packing_box = PackingBox {
                id: box_id,
                packing_order_id,
                box_number,
                name: format!("{order_num}-{box_number}"),
                state: "closed".into(),
                weight: None,
                height: None,
                length: None,
                width: None,
                attributes: None,
                loaded_shipping_box_id: None,
                items,
                inserted_at: now,
                updated_at: now,
            };
            if let Some((carrier_code, tracking_code, tracking_url)) = planned.tracking {
                let tracking =
                    self.new_tracking(box_id, carrier_code, tracking_code, tracking_url, None, now);
                trackings.push(tracking);
            }
            self.packing_boxes.insert(box_id, packing_box.clone());
            packing_boxes.push(packing_box);
        }
        if let Some(packing_order) = self.packing_orders.get_mut(&packing_order_id) {
            for &(index, quantity) in &shipped_lines {
                if let Some(item) = packing_order.items.get_mut(index) {
                    item.packed_quantity += quantity;
                    item.updated_at = now;
                }
            }
            if packing_order.state == "queue" {
                packing_order.state = "taken".into();
                packing_order.owner_id = Some(API_USER_ID);
                packing_order.start_date = Some(now);
            }
            packing_order.updated_at = now;
        }

        let sales_order = self.change_order(id, |order| {
            order.state = if order.items.iter().all(|item| item.remaining() == 0) {
                SalesOrderState::Ended
            } else {
                SalesOrderState::Packing
            };
            Ok(())
        })?;
        if sales_order.state == SalesOrderState::Ended {
            self.end_packing_order(id, sales_order.updated_at);
        }
        Ok(Shipped {
            sales_order,
            packing_order: self.packing_orders[&packing_order_id].clone(),
            packing_boxes,
            shipment_trackings: trackings,
        })
    }

    fn new_tracking(
        &mut self,
        packing_box_id: Id,
        carrier_code: String,
        tracking_code: String,
        tracking_url: Option<String>,
        status: Option<String>,
        now: DateTime<Utc>,
    ) -> ShipmentTracking {
        let tracking = ShipmentTracking {
            id: next(&mut self.ids.shipment_tracking),
            packing_box_id,
            carrier_code,
            tracking_code,
            tracking_url,
            status: status.unwrap_or_else(|| "created".into()),
            shipment_cost: None,
            service_point_id: None,
            printed: true,
            requires_attention: false,
            error_message: None,
            return_label_error_message: None,
            attributes: None,
            inserted_at: now,
            updated_at: now,
        };
        self.shipment_trackings
            .insert(tracking.id, tracking.clone());
        tracking
    }

    /// Sets a box's tracking (control API): a box without one gets one, a box with one has its
    /// newest changed in place (same id, later `updated_at`), as a carrier re-labelling it.
    /// The box's and its packing order's `updated_at` move too.
    pub fn set_tracking(
        &mut self,
        box_id: Id,
        change: TrackingChange,
    ) -> Result<ShipmentTracking, StoreError> {
        if !self.packing_boxes.contains_key(&box_id) {
            return Err(StoreError::NotFound("packing box", box_id));
        }
        if change.carrier_code.trim().is_empty() {
            return Err(invalid("carrier_code", "can't be blank"));
        }
        if change.tracking_code.trim().is_empty() {
            return Err(invalid("tracking_code", "can't be blank"));
        }
        let now = self.clock.tick();
        let newest = self
            .shipment_trackings
            .values_mut()
            .rev()
            .find(|t| t.packing_box_id == box_id);
        let tracking = match newest {
            Some(tracking) => {
                tracking.carrier_code = change.carrier_code;
                tracking.tracking_code = change.tracking_code;
                tracking.tracking_url = change.tracking_url;
                if let Some(status) = change.status {
                    tracking.status = status;
                }
                tracking.updated_at = now;
                tracking.clone()
            }
            None => self.new_tracking(
                box_id,
                change.carrier_code,
                change.tracking_code,
                change.tracking_url,
                change.status,
                now,
            ),
        };
        self.touch_box(box_id, now);
        Ok(tracking)
    }

    /// Replaces the lots or serial numbers of one item of a box (control API); the item's,
    /// the box's and the packing order's `updated_at` move.
    pub fn assign_batches(
        &mut self,
        box_id: Id,
        item_id: Id,
        shares: Vec<BatchShare>,
    ) -> Result<PackingBox, StoreError> {
        let (product_id, quantity) = self
            .packing_boxes
            .get(&box_id)
            .ok_or(StoreError::NotFound("packing box", box_id))?
            .items
            .iter()
            .find(|item| item.id == item_id)
            .map(|item| (item.product_id, item.quantity))
            .ok_or(StoreError::NotFound("packing box item", item_id))?;
        self.check_batches(product_id, quantity, &shares, "batches")?;
        let now = self.clock.tick();
        let batches = self.box_item_batches(product_id, item_id, &shares, now);
        if let Some(item) = self
            .packing_boxes
            .get_mut(&box_id)
            .and_then(|b| b.items.iter_mut().find(|item| item.id == item_id))
        {
            item.batches = batches;
            item.updated_at = now;
        }
        self.touch_box(box_id, now);
        Ok(self.packing_boxes[&box_id].clone())
    }

    /// Moves a box's and its packing order's `updated_at` to `now`.
    fn touch_box(&mut self, box_id: Id, now: DateTime<Utc>) {
        if let Some(packing_box) = self.packing_boxes.get_mut(&box_id) {
            packing_box.updated_at = now;
            if let Some(packing_order) = self.packing_orders.get_mut(&packing_box.packing_order_id)
            {
                packing_order.updated_at = now;
            }
        }
    }

    /// Checks the batches of `quantity` units of a product: only lot and serial products take
    /// them; they add up to the quantity; a serial number is one unit, named once. No
    /// batches is allowed (they can be assigned later).
    fn check_batches(
        &self,
        product_id: Id,
        quantity: i64,
        shares: &[BatchShare],
        field: &str,
    ) -> Result<(), StoreError> {
        if shares.is_empty() {
            return Ok(());
        }
        let management_type = self
            .products
            .get(&product_id)
            .map_or("none", |p| p.management_type.as_str());
        if management_type == "none" {
            return Err(invalid(
                field,
                format!("product {product_id} is not managed by lot or serial"),
            ));
        }
        let mut numbers = BTreeSet::new();
        for (index, share) in shares.iter().enumerate() {
            if share.number.trim().is_empty() {
                return Err(invalid(
                    &format!("{field}[{index}].number"),
                    "can't be blank",
                ));
            }
            if share.quantity <= 0 {
                return Err(invalid(
                    &format!("{field}[{index}].quantity"),
                    "must be greater than 0",
                ));
            }
            if management_type == "serial" && share.quantity != 1 {
                return Err(invalid(
                    &format!("{field}[{index}].quantity"),
                    "must be 1 for a serial number",
                ));
            }
            if !numbers.insert(share.number.trim()) {
                return Err(invalid(
                    &format!("{field}[{index}].number"),
                    "is given twice",
                ));
            }
        }
        let total: i64 = shares.iter().map(|share| share.quantity).sum();
        if total != quantity {
            return Err(invalid(
                field,
                format!("add up to {total}, the item has {quantity}"),
            ));
        }
        Ok(())
    }

    /// The `PackingBoxItemBatch`es of a box item, finding each batch by product and number or
    /// making it (of the product's `management_type`).
    fn box_item_batches(
        &mut self,
        product_id: Id,
        item_id: Id,
        shares: &[BatchShare],
        now: DateTime<Utc>,
    ) -> Vec<PackingBoxItemBatch> {
        shares
            .iter()
            .map(|share| {
                let number = share.number.trim().to_string();
                let batch_id = match self.batch_numbers.get(&(product_id, number.clone())) {
                    Some(&batch_id) => batch_id,
                    None => {
                        let batch_id = next(&mut self.ids.batch);
                        let batch_type = self
                            .products
                            .get(&product_id)
                            .map_or_else(|| "lot".into(), |p| p.management_type.clone());
                        self.batches.insert(
                            batch_id,
                            Batch {
                                id: batch_id,
                                product_id,
                                number: number.clone(),
                                batch_type,
                                expiration_date: None,
                                client_id: None,
                                third_party_id: None,
                                deleted: false,
                                inserted_at: now,
                                updated_at: now,
                            },
                        );
                        self.batch_numbers.insert((product_id, number), batch_id);
                        batch_id
                    }
                };
                PackingBoxItemBatch {
                    id: next(&mut self.ids.packing_box_item_batch),
                    packing_box_item_id: item_id,
                    batch_id,
                    quantity: share.quantity,
                    inserted_at: now,
                    updated_at: now,
                }
            })
            .collect()
    }
}

impl Store {
    /// Units of the sales order's line `line_order_id` already received back on returns.
    fn returned_quantity(&self, sales_order_id: Id, line_order_id: &str) -> i64 {
        self.incoming_goods
            .values()
            .filter(|g| g.document_type == "return" && g.sales_order_id == Some(sales_order_id))
            .flat_map(|g| &g.items)
            .filter(|i| i.line_order_id.as_deref() == Some(line_order_id))
            .map(|i| i.quantity)
            .sum()
    }

    /// Receives a customer return: an incoming good of document type `return` on the sales
    /// order, one item per returned line with its reason code, and the units back in the
    /// order's warehouse stock (as PULPO books a checked return into storage). Only what was
    /// shipped and not returned yet can come back; every item is checked before anything is
    /// written.
    pub fn receive_return(&mut self, receipt: ReturnReceipt) -> Result<IncomingGood, StoreError> {
        let order = self
            .sales_orders
            .get(&receipt.sales_order_id)
            .ok_or(StoreError::NotFound("sales order", receipt.sales_order_id))?;
        if receipt.items.is_empty() {
            return Err(invalid("items", "can't be empty"));
        }
        let mut planned: Vec<(usize, i64, Option<ReasonCode>)> = Vec::new();
        for (position, returned) in receipt.items.iter().enumerate() {
            let field = |leaf: &str| format!("items[{position}].{leaf}");
            let Some(index) = order
                .items
                .iter()
                .position(|i| i.line_order_id.as_deref() == Some(returned.line_order_id.as_str()))
            else {
                return Err(invalid(
                    &field("line_order_id"),
                    format!("is not a line of sales order {}", order.order_num),
                ));
            };
            if returned.quantity <= 0 {
                return Err(invalid(&field("quantity"), "must be greater than 0"));
            }
            let reason = match &returned.reason_code {
                None => None,
                Some(code) => Some(
                    self.reason_codes
                        .iter()
                        .find(|r| r.active && r.code == *code)
                        .cloned()
                        .ok_or_else(|| {
                            invalid(
                                &field("reason_code"),
                                format!("{code:?} is not a reason code"),
                            )
                        })?,
                ),
            };
            let item = &order.items[index];
            let earlier: i64 = planned
                .iter()
                .filter(|(i, _, _)| *i == index)
                .map(|(_, q, _)| q)
                .sum();
            let returnable = item.fulfilled_quantity
                - self.returned_quantity(order.id, &returned.line_order_id)
                - earlier;
            if returned.quantity > returnable {
                let message = if item.fulfilled_quantity == 0 {
                    "nothing of this line was shipped".to_string()
                } else {
                    format!(
                        "can't be more than the {returnable} units shipped and not returned yet"
                    )
                };
                return Err(invalid(&field("quantity"), message));
            }
            planned.push((index, returned.quantity, reason));
        }
        let (warehouse_id, third_party_id, items) = (
            order.warehouse_id,
            order.third_party_id,
            order
                .items
                .iter()
                .map(|i| (i.product_id, i.line_order_id.clone()))
                .collect::<Vec<_>>(),
        );
        let now = self.clock.tick();
        let id = next(&mut self.ids.incoming_good);
        let mut received = Vec::with_capacity(planned.len());
        for (index, quantity, reason) in planned {
            let (product_id, line_order_id) = &items[index];
            *self.stock.entry((*product_id, warehouse_id)).or_default() += quantity;
            received.push(IncomingGoodItem {
                id: next(&mut self.ids.incoming_good_item),
                incoming_good_id: id,
                product_id: *product_id,
                batch_id: None,
                quantity,
                state: "checked".into(),
                notes: None,
                destination_location_id: Some(1),
                line_order_id: line_order_id.clone(),
                line_item_number: None,
                reason_codes: reason.into_iter().collect(),
                inserted_at: now,
                updated_at: now,
            });
        }
        let mut reason_codes: Vec<ReasonCode> = Vec::new();
        for reason in received.iter().flat_map(|i| &i.reason_codes) {
            if !reason_codes.iter().any(|r| r.id == reason.id) {
                reason_codes.push(reason.clone());
            }
        }
        let good = IncomingGood {
            id,
            document_type: "return".into(),
            sales_order_id: Some(receipt.sales_order_id),
            purchase_order_id: None,
            sequence_number: format!("RT{id:06}"),
            warehouse_id,
            third_party_id,
            owner_id: None,
            merchant_id: None,
            merchant_channel_id: None,
            criterium: None,
            notes: receipt.notes,
            start_date: Some(now),
            end_date: Some(now),
            reason_codes,
            items: received,
            inserted_at: now,
            updated_at: now,
        };
        self.incoming_goods.insert(id, good.clone());
        Ok(good)
    }
}

/// Adds (`sign` 1) or removes (`sign` -1) what an order holds of its warehouse's goods: the
/// unshipped quantities of an open order (reserved in `queue`/`picking`, moved to a packing
/// location in `packing`).
fn adjust_held(held: &mut HashMap<(Id, Id), i64>, order: &SalesOrder, sign: i64) {
    if order.state.is_open() {
        for item in &order.items {
            *held
                .entry((item.product_id, order.warehouse_id))
                .or_default() += sign * item.remaining();
        }
    }
}

/// Which sales items (by index) a box takes, how many of each and from which batches:
/// everything remaining when no lines are given. `taken` holds what earlier boxes of the same
/// shipment took, and grows by this box's lines.
fn allocate(
    order: &SalesOrder,
    lines: Option<Vec<ShipmentLine>>,
    taken: &mut [i64],
    prefix: &str,
) -> Result<Vec<(usize, i64, Vec<BatchShare>)>, StoreError> {
    let Some(lines) = lines else {
        let rest: Vec<(usize, i64, Vec<BatchShare>)> = order
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| (index, item.remaining() - taken[index], Vec::new()))
            .filter(|(_, quantity, _)| *quantity > 0)
            .collect();
        for (index, quantity, _) in &rest {
            taken[*index] += quantity;
        }
        return Ok(rest);
    };
    let mut allocation = Vec::new();
    for (position, line) in lines.into_iter().enumerate() {
        if line.quantity <= 0 {
            return Err(invalid(
                &format!("{prefix}items[{position}].quantity"),
                "must be greater than 0",
            ));
        }
        let candidates = order.items.iter().enumerate().filter(|(_, item)| {
            match (&line.line_order_id, line.product_id) {
                (Some(line_order_id), _) => item.line_order_id.as_ref() == Some(line_order_id),
                (None, Some(product_id)) => item.product_id == product_id,
                (None, None) => false,
            }
        });
        let mut matched = false;
        let mut chosen = None;
        for (index, item) in candidates {
            matched = true;
            if item.remaining() - taken[index] >= line.quantity {
                chosen = Some(index);
                break;
            }
        }
        match (matched, chosen) {
            (false, _) => {
                return Err(invalid(
                    &format!("{prefix}items[{position}]"),
                    "matches no item of the sales order",
                ));
            }
            (true, None) => {
                return Err(invalid(
                    &format!("{prefix}items[{position}].quantity"),
                    "is more than remains to ship",
                ));
            }
            (true, Some(index)) => {
                taken[index] += line.quantity;
                allocation.push((index, line.quantity, line.batches.unwrap_or_default()));
            }
        }
    }
    Ok(allocation)
}

fn required(errors: &mut Vec<FieldError>, field: &str, value: Option<String>) -> Option<String> {
    match value.map(|v| v.trim().to_string()) {
        Some(value) if !value.is_empty() => Some(value),
        _ => {
            errors.push(FieldError::new(field, "can't be blank"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(order_num: &str, product_id: Id, quantity: i64) -> SalesOrderBody {
        SalesOrderBody {
            order_num: Some(order_num.into()),
            ship_to: Some(Address {
                address: Some(AddressDetail {
                    street: Some("Gran Vía 1".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            items: Some(vec![SalesItemBody {
                product_id: Some(product_id),
                quantity: Some(quantity),
                line_order_id: Some("L1".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    /// One box with one line and a tracking.
    fn line_shipment(
        line_order_id: Option<String>,
        product_id: Option<Id>,
        quantity: i64,
    ) -> Shipment {
        Shipment {
            boxes: vec![ShipmentBox {
                carrier_code: Some("SEUR".into()),
                tracking_code: Some("T".into()),
                tracking_url: None,
                items: Some(vec![ShipmentLine {
                    line_order_id,
                    product_id,
                    quantity,
                    batches: None,
                }]),
            }],
        }
    }

    fn available(store: &Store, product_id: Id) -> i64 {
        store.availability(Some(&[product_id]), |_| true, |_| true)[0].available_quantity
    }

    /// What open orders hold, recomputed from scratch.
    fn recomputed_held(store: &Store) -> HashMap<(Id, Id), i64> {
        let mut held = HashMap::new();
        for order in store.sales_orders.values() {
            adjust_held(&mut held, order, 1);
        }
        held.retain(|_, quantity| *quantity != 0);
        held
    }

    #[test]
    fn held_quantities_follow_every_change() {
        let mut store = Store::seeded(1, 0.0);
        let products: Vec<Id> = store.products.keys().take(3).copied().collect();
        let check = |store: &Store| {
            let mut incremental = store.held.clone();
            incremental.retain(|_, quantity| *quantity != 0);
            assert_eq!(incremental, recomputed_held(store));
        };
        let a = store.create_sales_order(body("A", products[0], 3)).unwrap();
        let b = store.create_sales_order(body("B", products[1], 2)).unwrap();
        check(&store);
        let mut moved = body("A", products[2], 5);
        moved.warehouse_id = Some(2);
        store.replace_sales_order(a.id, moved).unwrap();
        check(&store);
        store.advance(b.id).unwrap();
        assert!(
            store
                .replace_sales_order(b.id, body("B", products[0], 1))
                .is_err()
        );
        check(&store);
        store.cancel_sales_order(b.id).unwrap();
        assert!(store.cancel_sales_order(b.id).is_err());
        check(&store);
        let shipment = line_shipment(None, Some(products[2]), 2);
        store.ship(a.id, shipment).unwrap();
        check(&store);
        assert_eq!(store.held[&(products[2], 2)], 3);
        assert_eq!(store.advance(a.id).unwrap().state, SalesOrderState::Ended);
        check(&store);
        assert!(recomputed_held(&store).is_empty());
    }

    #[test]
    fn seeding_follows_the_catalog() {
        let store = Store::seeded(3, 0.1);
        let catalog = Catalog::generate(3, 0.1);
        let known = catalog.products.iter().filter(|p| p.known_to_pulpo).count();
        assert_eq!(store.products.len(), known);
        let product = catalog.products.iter().find(|p| p.known_to_pulpo).unwrap();
        let stored = store.product_by_sku(&product.sku).unwrap();
        assert_eq!(stored.id, product.index as Id);
        assert_eq!(store.stock(stored.id, 1), product.stock);
        assert_eq!(store.warehouses.len(), 3);
        assert_eq!(store.third_parties[&1].name, FALLBACK_CUSTOMER_NAME);
    }

    #[test]
    fn timestamps_strictly_increase() {
        let mut store = Store::seeded(1, 0.0);
        let product = *store.products.keys().next().unwrap();
        let order = store.create_sales_order(body("A", product, 1)).unwrap();
        let mut last = order.updated_at;
        for _ in 0..3 {
            let changed = store.advance(order.id).unwrap();
            assert!(changed.updated_at > last);
            last = changed.updated_at;
        }
        assert!(store.advance(order.id).is_err(), "ended is final");
    }

    #[test]
    fn life_cycle_moves_stock_and_reservations() {
        let mut store = Store::seeded(1, 0.0);
        let product = *store.products.keys().next().unwrap();
        store
            .set_stock_levels(&[StockLevel {
                product_id: product,
                warehouse_id: 1,
                target: StockTarget::Physical(10),
            }])
            .unwrap();
        let order = store.create_sales_order(body("A", product, 4)).unwrap();
        assert_eq!(available(&store, product), 6);
        store.advance(order.id).unwrap();
        store.advance(order.id).unwrap();
        assert_eq!(
            available(&store, product),
            6,
            "packing still holds the goods"
        );
        let shipped = store
            .ship(order.id, line_shipment(Some("L1".into()), None, 3))
            .unwrap();
        assert_eq!(shipped.sales_order.state, SalesOrderState::Packing);
        assert_eq!(store.stock(product, 1), 7);
        assert_eq!(available(&store, product), 6);
        let too_much = line_shipment(None, Some(product), 2);
        assert!(store.ship(order.id, too_much).is_err());
        let rest = store.advance(order.id).unwrap();
        assert_eq!(rest.state, SalesOrderState::Ended);
        assert_eq!(rest.items[0].fulfilled_quantity, 4);
        assert_eq!(store.stock(product, 1), 6);
        assert_eq!(store.packing_orders[&1].state, "ended");
    }
}
