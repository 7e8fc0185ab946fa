//! The mutations the sandbox serves (reference §9), with Shopify's texts for their errors.
//!
//! Business errors are `userErrors` in the payload; contract errors (a missing `@idempotent`,
//! a missing `changeFromQuantity`) are top-level errors with the field `null`. Every order change
//! goes through `ShopifyState::change_order`, so `updatedAt`, the search index and webhooks
//! follow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use graphql_parser::query::Field;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::errors::FieldError;
use super::execute::Executor;
use super::resolve::find_fulfillment_order;
use super::validate::literal_to_json;
use crate::rng::Rng;
use crate::shopify::model::{
    CancelReason, FinancialStatus, Fulfillment, FulfillmentLine, FulfillmentOrderStatus,
    InventoryQuantities, Refund, RefundLine, Return, ReturnLine, ReturnStatus, Shop, TrackingInfo,
    parse_gid,
};
use crate::shopify::webhooks::Topic;
use crate::shopify::{ChangeError, ShopifyState};

/// First API version with the 2026-04 inventory contract (`@idempotent` and
/// `changeFromQuantity` required).
pub const IDEMPOTENT_INVENTORY_FROM: &str = "2026-04";

/// First API version where `inventorySetQuantities` at a location the item is not stocked at
/// succeeds and leaves an inactive level; before it, `ITEM_NOT_STOCKED_AT_LOCATION`.
pub const SET_UNSTOCKED_FROM: &str = "2026-10";

/// Inventory input fields that versions before 2026-04 still accept.
pub const LEGACY_INVENTORY_FIELDS: super::validate::LegacyFields = &[
    ("InventorySetQuantitiesInput", "ignoreCompareQuantity"),
    ("InventoryQuantityInput", "compareQuantity"),
];

/// How long an `orderCancel` job takes before the cancellation shows.
pub const CANCEL_JOB_DELAY: Duration = Duration::from_millis(100);

/// `UserError`, `InventorySetQuantitiesUserError` or `OrderCancelUserError`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserErrorData {
    pub field: Option<Vec<String>>,
    pub message: String,
    pub code: Option<&'static str>,
}

impl UserErrorData {
    fn new(field: &[&str], message: impl Into<String>, code: Option<&'static str>) -> Self {
        UserErrorData {
            field: Some(field.iter().map(|f| f.to_string()).collect()),
            message: message.into(),
            code,
        }
    }
}

/// One line of `InventoryAdjustmentGroup.changes`.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryChange {
    pub name: &'static str,
    pub delta: i64,
    pub item_id: u64,
    pub location_id: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdjustmentGroup {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub reason: String,
    pub reference_document_uri: Option<String>,
    pub changes: Vec<InventoryChange>,
}

/// What a mutation answered, before its selection is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    InventoryActivate {
        /// (inventory item id, location id) of the level.
        level: Option<(u64, u64)>,
        errors: Vec<UserErrorData>,
    },
    InventorySet {
        group: Option<AdjustmentGroup>,
        errors: Vec<UserErrorData>,
    },
    FulfillmentCreate {
        /// (order id, fulfillment id).
        fulfillment: Option<(u64, u64)>,
        errors: Vec<UserErrorData>,
    },
    FulfillmentTrackingInfoUpdate {
        /// (order id, fulfillment id).
        fulfillment: Option<(u64, u64)>,
        errors: Vec<UserErrorData>,
    },
    ReturnCreate {
        /// (order id, return id).
        created: Option<(u64, u64)>,
        errors: Vec<UserErrorData>,
    },
    RefundCreate {
        /// (order id, refund id).
        refund: Option<(u64, u64)>,
        errors: Vec<UserErrorData>,
    },
    TagsAdd {
        node: Option<u64>,
        errors: Vec<UserErrorData>,
    },
    OrderUpdate {
        order: Option<u64>,
        errors: Vec<UserErrorData>,
    },
    OrderCancel {
        job: Option<String>,
        errors: Vec<UserErrorData>,
    },
}

impl Payload {
    pub fn user_errors(&self) -> &[UserErrorData] {
        match self {
            Payload::InventorySet { errors, .. }
            | Payload::InventoryActivate { errors, .. }
            | Payload::FulfillmentCreate { errors, .. }
            | Payload::FulfillmentTrackingInfoUpdate { errors, .. }
            | Payload::ReturnCreate { errors, .. }
            | Payload::RefundCreate { errors, .. }
            | Payload::TagsAdd { errors, .. }
            | Payload::OrderUpdate { errors, .. }
            | Payload::OrderCancel { errors, .. } => errors,
        }
    }
}

/// User errors armed through the control API (`POST /sandbox/refusals`): Shopify refuses a
/// mutation for reasons a client cannot see beforehand (a fulfillment order locked by another
/// app, an order being edited, an internal check), and a client must handle that refusal. Each
/// armed refusal answers the next `count` calls of its mutation with its message as a user
/// error, and nothing is changed.
#[derive(Debug, Default)]
pub struct Refusals {
    armed: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub mutation: String,
    pub message: String,
    pub count: u32,
}

/// The mutations a refusal can be armed for: those whose payload has `userErrors`.
pub const REFUSABLE: &[&str] = &[
    "inventorySetQuantities",
    "inventoryActivate",
    "fulfillmentCreate",
    "fulfillmentTrackingInfoUpdate",
    "returnCreate",
    "refundCreate",
    "tagsAdd",
    "orderUpdate",
    "orderCancel",
];

impl Refusals {
    pub fn arm(&mut self, refusal: Refusal) {
        self.armed.push(refusal);
    }

    pub fn armed(&self) -> &[Refusal] {
        &self.armed
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// The message of the first refusal armed for `mutation`, spending one of its calls.
    fn take(&mut self, mutation: &str) -> Option<String> {
        let at = self.armed.iter().position(|r| r.mutation == mutation)?;
        let refusal = &mut self.armed[at];
        let message = refusal.message.clone();
        refusal.count -= 1;
        if refusal.count == 0 {
            self.armed.remove(at);
        }
        Some(message)
    }
}

/// `mutation`'s payload with nothing done and `message` as its one user error.
fn refused(mutation: &str, message: String) -> Option<Payload> {
    let errors = vec![UserErrorData {
        field: None,
        message,
        code: None,
    }];
    Some(match mutation {
        "inventorySetQuantities" => Payload::InventorySet {
            group: None,
            errors,
        },
        "inventoryActivate" => Payload::InventoryActivate {
            level: None,
            errors,
        },
        "fulfillmentCreate" => Payload::FulfillmentCreate {
            fulfillment: None,
            errors,
        },
        "fulfillmentTrackingInfoUpdate" => Payload::FulfillmentTrackingInfoUpdate {
            fulfillment: None,
            errors,
        },
        "returnCreate" => Payload::ReturnCreate {
            created: None,
            errors,
        },
        "refundCreate" => Payload::RefundCreate {
            refund: None,
            errors,
        },
        "tagsAdd" => Payload::TagsAdd { node: None, errors },
        "orderUpdate" => Payload::OrderUpdate {
            order: None,
            errors,
        },
        "orderCancel" => Payload::OrderCancel { job: None, errors },
        _ => return None,
    })
}

/// Results of the `@idempotent` mutations by idempotency key, with the mutation and arguments
/// they answered.
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, (Value, Payload)>,
}

/// Runs mutation `name` with its argument values.
pub fn run(
    ex: &mut Executor<'_>,
    name: &str,
    args: &Map<String, Value>,
    field: &Field<'static, String>,
) -> Result<Payload, FieldError> {
    let armed = ex
        .state
        .refusals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take(name);
    if let Some(payload) = armed.and_then(|message| refused(name, message)) {
        return Ok(payload);
    }
    match name {
        "inventorySetQuantities" => inventory_set_quantities(ex, args, field),
        "inventoryActivate" => {
            let key = idempotency_key(ex, field)?;
            idempotent(ex, name, args, key, || inventory_activate(ex.state, args))
        }
        "fulfillmentCreate" => Ok(fulfillment_create(ex.state, args, ex.now)),
        "fulfillmentTrackingInfoUpdate" => {
            Ok(fulfillment_tracking_info_update(ex.state, args, ex.now))
        }
        "returnCreate" => Ok(return_create(ex.state, args, ex.now)),
        "refundCreate" => {
            let key = idempotency_key(ex, field)?;
            idempotent(ex, name, args, key, || {
                refund_create(ex.state, args, ex.now)
            })
        }
        "tagsAdd" => Ok(tags_add(ex.state, args)),
        "orderUpdate" => Ok(order_update(ex.state, args)),
        "orderCancel" => Ok(order_cancel(ex.state, args)),
        other => Err(FieldError::new(
            "INTERNAL_SERVER_ERROR",
            format!("The sandbox does not serve Mutation.{other}"),
        )),
    }
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn now_seconds() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

fn inventory_set_quantities(
    ex: &mut Executor<'_>,
    args: &Map<String, Value>,
    field: &Field<'static, String>,
) -> Result<Payload, FieldError> {
    let contract_2026_04 = ex.version.as_str() >= IDEMPOTENT_INVENTORY_FROM;
    let key = idempotency_key(ex, field)?;
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let quantities: Vec<Value> = input
        .get("quantities")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if contract_2026_04
        && quantities
            .iter()
            .any(|q| q.get("changeFromQuantity").is_none())
    {
        let mut error = FieldError::new(
            "INVALID_FIELD_ARGUMENTS",
            "InventoryQuantityInput must include the following argument: changeFromQuantity.",
        );
        // Shopify also points at the variable that carried the input.
        let variable = field
            .arguments
            .iter()
            .find_map(|(name, value)| match value {
                graphql_parser::query::Value::Variable(v) if name == "input" => Some(v.as_str()),
                _ => None,
            });
        if let Some(pos) = variable.and_then(|v| ex.variable_positions.get(v)) {
            error.extra_locations.push(*pos);
        }
        return Err(error);
    }
    let (state, version) = (ex.state, ex.version.clone());
    idempotent(ex, "inventorySetQuantities", args, key, || {
        apply_inventory(state, &version, &input, &quantities)
    })
}

/// The `@idempotent(key:)` of a mutation field: required from 2026-04 (a top-level
/// `BAD_REQUEST` without it), optional before, never empty.
fn idempotency_key(
    ex: &Executor<'_>,
    field: &Field<'static, String>,
) -> Result<Option<String>, FieldError> {
    let key = field
        .directives
        .iter()
        .find(|d| d.name == "idempotent")
        .and_then(|d| d.arguments.iter().find(|(n, _)| n == "key"))
        .and_then(|(_, v)| literal_to_json(v, &ex.variables))
        .and_then(|v| v.as_str().map(str::to_string));
    if ex.version.as_str() >= IDEMPOTENT_INVENTORY_FROM && key.is_none() {
        return Err(FieldError::bad_request(
            "The @idempotent directive is required for this mutation but was not provided.",
        ));
    }
    if key.as_deref() == Some("") {
        return Err(FieldError::bad_request(
            "The @idempotent directive requires a non-empty key.",
        ));
    }
    Ok(key)
}

/// Runs `apply` once per idempotency key: a key seen before answers what it answered then when
/// the mutation and arguments are the same, `IDEMPOTENCY_KEY_PARAMETER_MISMATCH` otherwise.
fn idempotent(
    ex: &Executor<'_>,
    mutation: &str,
    args: &Map<String, Value>,
    key: Option<String>,
    apply: impl FnOnce() -> Payload,
) -> Result<Payload, FieldError> {
    let Some(key) = key else {
        return Ok(apply());
    };
    let parameters = serde_json::json!({"mutation": mutation, "arguments": args});
    // Holding the store's lock while applying makes a concurrent duplicate wait for the first
    // answer instead of applying twice.
    let mut store = ex
        .state
        .idempotency
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((previous, payload)) = store.entries.get(&key) {
        if *previous == parameters {
            return Ok(payload.clone());
        }
        let errors = vec![UserErrorData {
            field: None,
            message: "The idempotency key has already been used with different parameters.".into(),
            code: Some("IDEMPOTENCY_KEY_PARAMETER_MISMATCH"),
        }];
        return Ok(match mutation {
            "refundCreate" => Payload::RefundCreate {
                refund: None,
                errors: errors
                    .into_iter()
                    .map(|e| UserErrorData { code: None, ..e })
                    .collect(),
            },
            "inventoryActivate" => Payload::InventoryActivate {
                level: None,
                errors: errors
                    .into_iter()
                    .map(|e| UserErrorData { code: None, ..e })
                    .collect(),
            },
            _ => Payload::InventorySet {
                group: None,
                errors,
            },
        });
    }
    let payload = apply();
    store.entries.insert(key, (parameters, payload.clone()));
    Ok(payload)
}

/// Reasons Shopify accepts for inventory changes.
const INVENTORY_REASONS: [&str; 17] = [
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

const MAX_QUANTITY: i64 = 1_000_000_000;

/// Validates every quantity first and applies them only when all are valid: one user error and
/// nothing changes (`inventoryAdjustmentGroup: null`), as Shopify's recorded answers show.
/// Applies the pending changes of other apps to the levels this call touches, as if they had
/// landed between the caller's read and this write.
fn other_apps_move_first(shop: &mut Shop, quantities: &[Value]) {
    if shop.other_app_changes.is_empty() {
        return;
    }
    let touched: Vec<(u64, u64)> = quantities
        .iter()
        .filter_map(|q| {
            let item = parse_gid(str_at(q, "inventoryItemId")?, "InventoryItem")?;
            let location = parse_gid(str_at(q, "locationId")?, "Location")?;
            Some((item, location))
        })
        .collect();
    let mut changes = std::mem::take(&mut shop.other_app_changes);
    for change in &mut changes {
        let key = (change.inventory_item_id, change.location_id);
        if change.times == 0 || !touched.contains(&key) {
            continue;
        }
        if let Some(level) = shop.inventory.get_mut(&key) {
            level.on_hand += change.available - level.available;
            level.available = change.available;
        }
        // An app that keeps adjusting moves the level on by one each time.
        change.available += 1;
        change.times -= 1;
    }
    changes.retain(|c| c.times > 0);
    shop.other_app_changes = changes;
}

fn apply_inventory(
    state: &ShopifyState,
    version: &str,
    input: &Value,
    quantities: &[Value],
) -> Payload {
    let sets_unstocked = version >= SET_UNSTOCKED_FROM;
    let name = str_at(input, "name").unwrap_or_default();
    let reason = str_at(input, "reason").unwrap_or_default();
    let fail = |errors: Vec<UserErrorData>| Payload::InventorySet {
        group: None,
        errors,
    };
    let quantity_name = match name {
        "available" => "available",
        "on_hand" => "on_hand",
        _ => {
            return fail(vec![UserErrorData::new(
                &["input", "name"],
                "The quantity name must be either 'available' or 'on_hand'.",
                Some("INVALID_NAME"),
            )]);
        }
    };
    if !INVENTORY_REASONS.contains(&reason) {
        return fail(vec![UserErrorData::new(
            &["input", "reason"],
            "The specified reason is invalid.",
            Some("INVALID_REASON"),
        )]);
    }
    let mut shop = state.shop();
    other_apps_move_first(&mut shop, quantities);
    let mut errors = Vec::new();
    let mut targets = Vec::new();
    for (index, q) in quantities.iter().enumerate() {
        let index = index.to_string();
        let at = |leaf: &'static str| ["input", "quantities", index.as_str(), leaf];
        let item = str_at(q, "inventoryItemId")
            .and_then(|id| parse_gid(id, "InventoryItem"))
            .filter(|id| shop.variant_of_item(*id).is_some());
        let location = str_at(q, "locationId")
            .and_then(|id| parse_gid(id, "Location"))
            .filter(|id| shop.location(*id).is_some());
        let wanted = q
            .get("quantity")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        let (Some(item), Some(location)) = (item, location) else {
            if item.is_none() {
                errors.push(UserErrorData::new(
                    &at("inventoryItemId"),
                    "The specified inventory item could not be found.",
                    Some("INVALID_INVENTORY_ITEM"),
                ));
            }
            if location.is_none() {
                errors.push(UserErrorData::new(
                    &at("locationId"),
                    "The specified location could not be found.",
                    Some("INVALID_LOCATION"),
                ));
            }
            continue;
        };
        if wanted > MAX_QUANTITY {
            errors.push(UserErrorData::new(
                &at("quantity"),
                "The quantity can't be higher than 1,000,000,000.",
                Some("INVALID_QUANTITY_TOO_HIGH"),
            ));
            continue;
        }
        if wanted < -MAX_QUANTITY {
            errors.push(UserErrorData::new(
                &at("quantity"),
                "The quantity can't be lower than -1,000,000,000.",
                Some("INVALID_QUANTITY_TOO_LOW"),
            ));
            continue;
        }
        if !sets_unstocked && !shop.is_active_level(item, location) {
            errors.push(UserErrorData::new(
                &at("locationId"),
                "The specified inventory item is not stocked at the location.",
                Some("ITEM_NOT_STOCKED_AT_LOCATION"),
            ));
            continue;
        }
        let current = shop
            .inventory
            .get(&(item, location))
            .copied()
            .unwrap_or(InventoryQuantities::ZERO);
        let current_value = if quantity_name == "available" {
            current.available
        } else {
            current.on_hand
        };
        if let Some(expected) = q.get("changeFromQuantity").and_then(Value::as_i64)
            && expected != current_value
        {
            errors.push(UserErrorData::new(
                &at("changeFromQuantity"),
                format!(
                    "The specified compare quantity ({expected}) does not match the current quantity ({current_value})."
                ),
                Some("CHANGE_FROM_QUANTITY_STALE"),
            ));
            continue;
        }
        // Before 2026-04: `compareQuantity`, unless `ignoreCompareQuantity`.
        if let Some(expected) = q.get("compareQuantity").and_then(Value::as_i64)
            && input.get("ignoreCompareQuantity").and_then(Value::as_bool) != Some(true)
            && expected != current_value
        {
            errors.push(UserErrorData::new(
                &at("compareQuantity"),
                format!(
                    "The specified compare quantity ({expected}) does not match the current quantity ({current_value})."
                ),
                Some("COMPARE_QUANTITY_STALE"),
            ));
            continue;
        }
        targets.push((item, location, wanted - current_value));
    }
    if !errors.is_empty() {
        return fail(errors);
    }
    let mut changes = Vec::new();
    for (item, location, delta) in targets {
        if !shop.inventory.contains_key(&(item, location)) {
            // From 2026-10 a set where the item is not stocked records the quantity on a level
            // that stays inactive until `inventoryActivate`.
            shop.inactive_levels.insert((item, location));
        }
        let level = shop
            .inventory
            .entry((item, location))
            .or_insert(InventoryQuantities::ZERO);
        // `available` and `on_hand` move together: the committed part stays put.
        level.available += delta;
        level.on_hand += delta;
        let (first, second) = if quantity_name == "available" {
            ("available", "on_hand")
        } else {
            ("on_hand", "available")
        };
        for name in [first, second] {
            changes.push(InventoryChange {
                name,
                delta,
                item_id: item,
                location_id: location,
            });
        }
    }
    let group = AdjustmentGroup {
        id: shop.allocate_id(),
        created_at: now_seconds(),
        reason: reason.to_string(),
        reference_document_uri: str_at(input, "referenceDocumentUri").map(str::to_string),
        changes,
    };
    Payload::InventorySet {
        group: Some(group),
        errors: Vec::new(),
    }
}

/// `inventoryActivate`: stocks the item at the location with `available` (or `onHand`) units,
/// zero when neither is given; reactivates an inactive level, setting the quantity when one is
/// given. An active level is answered as it is, and refused when a quantity is given.
fn inventory_activate(state: &ShopifyState, args: &Map<String, Value>) -> Payload {
    let fail = |field: &str, message: &str| Payload::InventoryActivate {
        level: None,
        errors: vec![UserErrorData::new(&[field], message, None)],
    };
    let mut shop = state.shop();
    let Some(item) = str_at_map(args, "inventoryItemId")
        .and_then(|id| parse_gid(id, "InventoryItem"))
        .filter(|id| shop.variant_of_item(*id).is_some())
    else {
        return fail("inventoryItemId", "Inventory item does not exist");
    };
    let Some(location) = str_at_map(args, "locationId")
        .and_then(|id| parse_gid(id, "Location"))
        .filter(|id| shop.location(*id).is_some())
    else {
        return fail("locationId", "Location does not exist");
    };
    let available = args.get("available").and_then(Value::as_i64);
    let on_hand = args.get("onHand").and_then(Value::as_i64);
    let key = (item, location);
    if shop.is_active_level(item, location) {
        if available.is_some() || on_hand.is_some() {
            return fail(
                if available.is_some() {
                    "available"
                } else {
                    "onHand"
                },
                "Not allowed to set available quantity when the item is already active at the location.",
            );
        }
        return Payload::InventoryActivate {
            level: Some(key),
            errors: Vec::new(),
        };
    }
    if let (Some(a), Some(o)) = (available, on_hand)
        && a != o
    {
        // A fresh level commits nothing, so its on-hand and available units are the same.
        return fail(
            "onHand",
            "The on_hand quantity must equal the available quantity.",
        );
    }
    let level = shop
        .inventory
        .entry(key)
        .or_insert(InventoryQuantities::ZERO);
    if let Some(units) = available.or(on_hand) {
        let delta = units - level.available;
        level.available += delta;
        level.on_hand += delta;
    }
    shop.inactive_levels.remove(&key);
    Payload::InventoryActivate {
        level: Some(key),
        errors: Vec::new(),
    }
}

fn str_at_map<'a>(args: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str)
}

/// `returnCreate`: an `OPEN` return of fulfilled units, each line at most what its
/// fulfillment line has not had returned yet (returns cancelled or declined give their units
/// back). Nothing is restocked: units go back to stock only when the merchant processes the
/// return with a restock. Shopify's texts for these refusals are not on record; the codes are
/// the schema's `ReturnErrorCode` values that fit.
fn return_create(state: &ShopifyState, args: &Map<String, Value>, now: DateTime<Utc>) -> Payload {
    let fail = |errors: Vec<UserErrorData>| Payload::ReturnCreate {
        created: None,
        errors,
    };
    let input = args.get("returnInput").cloned().unwrap_or(Value::Null);
    let not_found = || {
        fail(vec![UserErrorData::new(
            &["returnInput", "orderId"],
            "Order does not exist.",
            Some("NOT_FOUND"),
        )])
    };
    let Some(order_id) = str_at(&input, "orderId").and_then(|id| parse_gid(id, "Order")) else {
        return not_found();
    };
    let lines: Vec<Value> = input
        .get("returnLineItems")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let notify = input
        .get("notifyCustomer")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let result = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        let order = shop.orders.get(&id).ok_or_else(Vec::new)?;
        if lines.is_empty() {
            return Err(vec![UserErrorData::new(
                &["returnInput", "returnLineItems"],
                "Return line items can't be blank.",
                Some("BLANK"),
            )]);
        }
        // (fulfillment line id, line item id, quantity, reason, note) to return.
        let mut wanted: Vec<(u64, u64, i64, String, String)> = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let index = index.to_string();
            let at = |leaf: &'static str| ["returnInput", "returnLineItems", index.as_str(), leaf];
            let fulfilled = str_at(line, "fulfillmentLineItemId")
                .and_then(|gid| parse_gid(gid, "FulfillmentLineItem"))
                .and_then(|fli| {
                    order
                        .fulfillments
                        .iter()
                        .flat_map(|f| &f.lines)
                        .find(|l| l.id == fli)
                });
            let Some(fulfilled) = fulfilled else {
                return Err(vec![UserErrorData::new(
                    &at("fulfillmentLineItemId"),
                    "Fulfillment line item does not exist.",
                    Some("NOT_FOUND"),
                )]);
            };
            let quantity = line.get("quantity").and_then(Value::as_i64).unwrap_or(0);
            if quantity <= 0 {
                return Err(vec![UserErrorData::new(
                    &at("quantity"),
                    "Quantity must be greater than 0.",
                    Some("GREATER_THAN"),
                )]);
            }
            let asked: i64 = wanted
                .iter()
                .filter(|w| w.0 == fulfilled.id)
                .map(|w| w.2)
                .sum();
            if asked + quantity > fulfilled.quantity - order.returned_quantity(fulfilled.id) {
                return Err(vec![UserErrorData::new(
                    &at("quantity"),
                    "Quantity is not available for return.",
                    Some("INVALID"),
                )]);
            }
            wanted.push((
                fulfilled.id,
                fulfilled.line_item_id,
                quantity,
                str_at(line, "returnReason")
                    .unwrap_or("UNKNOWN")
                    .to_string(),
                str_at(line, "returnReasonNote")
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
        let return_id = shop.allocate_id();
        let mut made = Vec::with_capacity(wanted.len());
        for (fulfillment_line_id, line_item_id, quantity, reason, reason_note) in wanted {
            made.push(ReturnLine {
                id: shop.allocate_id(),
                fulfillment_line_id,
                line_item_id,
                quantity,
                reason,
                reason_note,
            });
        }
        let order = shop.orders.get_mut(&id).ok_or_else(Vec::new)?;
        let name = format!("{}-R{}", order.name, order.returns.len() + 1);
        order.returns.push(Return {
            id: return_id,
            name,
            status: ReturnStatus::Open,
            lines: made,
            created_at: now,
            closed_at: None,
            notify_customer: notify,
        });
        Ok(return_id)
    });
    match result {
        Ok(return_id) => Payload::ReturnCreate {
            created: Some((order_id, return_id)),
            errors: Vec::new(),
        },
        Err(ChangeError::Refused(errors)) if !errors.is_empty() => fail(errors),
        Err(_) => not_found(),
    }
}

/// `refundCreate`: takes back line items (restocked at `locationId` for `RETURN` and
/// `LEGACY_RESTOCK`, not for `NO_RESTOCK`, the default), refunds shipping, and gives money back
/// through `REFUND` transactions whose parent is the order's `SALE`, never more than was
/// received and not refunded yet unless `allowOverRefunding`. The order becomes partially
/// refunded, or refunded once everything received went back. Shopify's texts for these
/// refusals are not on record; they say what is wrong in its style (`UserError`, no code).
fn refund_create(state: &ShopifyState, args: &Map<String, Value>, now: DateTime<Utc>) -> Payload {
    let fail = |field: &[&str], message: &str| Payload::RefundCreate {
        refund: None,
        errors: vec![UserErrorData::new(field, message, None)],
    };
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let Some(order_id) = str_at(&input, "orderId").and_then(|id| parse_gid(id, "Order")) else {
        return fail(&["orderId"], "Order does not exist.");
    };
    let array = |key: &str| -> Vec<Value> {
        input
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (lines, transactions) = (array("refundLineItems"), array("transactions"));
    let over_refunding = input
        .get("allowOverRefunding")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let result = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        let refused = |field: Vec<String>, message: &str| UserErrorData {
            field: Some(field),
            message: message.into(),
            code: None,
        };
        let at = |list: &str, index: usize, leaf: &str| {
            vec![list.to_string(), index.to_string(), leaf.to_string()]
        };
        let order = shop
            .orders
            .get(&id)
            .ok_or_else(|| refused(vec!["orderId".into()], "Order does not exist."))?;
        // (line item id, quantity, restock type, location, subtotal) to take back.
        let mut taken: Vec<(u64, i64, String, Option<u64>, Decimal)> = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let item = str_at(line, "lineItemId")
                .and_then(|gid| parse_gid(gid, "LineItem"))
                .and_then(|n| order.line_items.iter().find(|l| l.id == n))
                .ok_or_else(|| {
                    refused(
                        at("refundLineItems", index, "lineItemId"),
                        "Line item does not exist.",
                    )
                })?;
            let quantity = line.get("quantity").and_then(Value::as_i64).unwrap_or(0);
            if quantity <= 0 {
                return Err(refused(
                    at("refundLineItems", index, "quantity"),
                    "Quantity must be greater than 0.",
                ));
            }
            let earlier: i64 = taken.iter().filter(|t| t.0 == item.id).map(|t| t.1).sum();
            if earlier + quantity > item.quantity - order.refunded_quantity(item.id) {
                return Err(refused(
                    at("refundLineItems", index, "quantity"),
                    "Quantity cannot refund more items than were purchased.",
                ));
            }
            let restock = str_at(line, "restockType")
                .unwrap_or("NO_RESTOCK")
                .to_string();
            let location = str_at(line, "locationId").and_then(|l| parse_gid(l, "Location"));
            taken.push((
                item.id,
                quantity,
                restock,
                location,
                item.unit_price * Decimal::from(quantity),
            ));
        }
        let shipping_left = order.total_shipping() - order.refunded_shipping();
        let shipping = match input.get("shipping") {
            Some(s) if s.get("fullRefund").and_then(Value::as_bool) == Some(true) => shipping_left,
            Some(s) => decimal_at(s, "amount").unwrap_or(Decimal::ZERO),
            None => Decimal::ZERO,
        };
        if shipping > shipping_left {
            return Err(refused(
                vec!["shipping".into(), "amount".into()],
                "Shipping amount cannot exceed the shipping left to refund.",
            ));
        }
        let mut amount = Decimal::ZERO;
        for (index, transaction) in transactions.iter().enumerate() {
            let parent =
                str_at(transaction, "parentId").and_then(|p| parse_gid(p, "OrderTransaction"));
            if parent != Some(order.id) || order.received() <= Decimal::ZERO {
                return Err(refused(
                    at("transactions", index, "parentId"),
                    "Parent transaction does not exist.",
                ));
            }
            if str_at(transaction, "kind") != Some("REFUND") {
                return Err(refused(
                    at("transactions", index, "kind"),
                    "Only refund transactions can be created.",
                ));
            }
            amount += decimal_at(transaction, "amount").unwrap_or(Decimal::ZERO);
        }
        let refundable = order.received() - order.refunded();
        if amount > refundable && !over_refunding {
            return Err(refused(
                vec!["transactions".into()],
                &format!(
                    "Refund amount {amount} is greater than the {refundable} available to refund."
                ),
            ));
        }
        let refund_id = shop.allocate_id();
        let transaction_id = (amount > Decimal::ZERO).then(|| shop.allocate_id());
        let mut refund_lines = Vec::with_capacity(taken.len());
        for (line_item_id, quantity, restock_type, location, subtotal) in taken {
            if matches!(restock_type.as_str(), "RETURN" | "LEGACY_RESTOCK")
                && let Some(location) = location
            {
                let item = shop
                    .orders
                    .get(&id)
                    .and_then(|o| o.line_items.iter().find(|l| l.id == line_item_id))
                    .and_then(|l| l.variant_id)
                    .and_then(|v| shop.variant(v))
                    .map(|v| v.inventory_item_id);
                if let Some(level) = item.and_then(|i| shop.inventory.get_mut(&(i, location))) {
                    level.available += quantity;
                    level.on_hand += quantity;
                }
            }
            refund_lines.push(RefundLine {
                id: shop.allocate_id(),
                line_item_id,
                quantity,
                restock_type,
                subtotal,
            });
        }
        let order = shop
            .orders
            .get_mut(&id)
            .ok_or_else(|| refused(vec!["orderId".into()], "Order does not exist."))?;
        order.refunds.push(Refund {
            id: refund_id,
            note: str_at(&input, "note").map(str::to_string),
            lines: refund_lines,
            shipping,
            amount,
            transaction_id,
            created_at: now,
        });
        if order.refunded() > Decimal::ZERO {
            order.financial_status = Some(if order.refunded() >= order.received() {
                FinancialStatus::Refunded
            } else {
                FinancialStatus::PartiallyRefunded
            });
        }
        Ok(refund_id)
    });
    match result {
        Ok(refund_id) => Payload::RefundCreate {
            refund: Some((order_id, refund_id)),
            errors: Vec::new(),
        },
        Err(ChangeError::Refused(error)) => Payload::RefundCreate {
            refund: None,
            errors: vec![error],
        },
        Err(ChangeError::OrderNotFound(_)) => fail(&["orderId"], "Order does not exist."),
    }
}

/// A `Money`/`Decimal` input: Shopify takes it as a string or a number.
fn decimal_at(value: &Value, key: &str) -> Option<Decimal> {
    match value.get(key)? {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

fn fulfillment_error(message: impl Into<String>) -> UserErrorData {
    UserErrorData::new(&["fulfillment"], message, None)
}

/// What one `lineItemsByFulfillmentOrder` entry asks for.
pub(crate) struct FulfillmentRequest {
    pub fulfillment_order_id: u64,
    /// (fulfillment order line item id, quantity); `None`: every remaining line.
    pub lines: Option<Vec<(u64, i64)>>,
}

fn fulfillment_create(
    state: &ShopifyState,
    args: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Payload {
    let fail = |errors: Vec<UserErrorData>| Payload::FulfillmentCreate {
        fulfillment: None,
        errors,
    };
    let input = args.get("fulfillment").cloned().unwrap_or(Value::Null);
    let groups: Vec<Value> = input
        .get("lineItemsByFulfillmentOrder")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut requests = Vec::new();
    for (gi, group) in groups.iter().enumerate() {
        let Some(fo_id) =
            str_at(group, "fulfillmentOrderId").and_then(|id| parse_gid(id, "FulfillmentOrder"))
        else {
            return fail(vec![fulfillment_error("Fulfillment order does not exist.")]);
        };
        let lines = match group
            .get("fulfillmentOrderLineItems")
            .and_then(Value::as_array)
        {
            None => None,
            Some(lines) => {
                let mut parsed = Vec::new();
                for (li, line) in lines.iter().enumerate() {
                    let quantity = line.get("quantity").and_then(Value::as_i64).unwrap_or(0);
                    if quantity <= 0 {
                        let (gi, li) = (gi.to_string(), li.to_string());
                        return fail(vec![UserErrorData::new(
                            &[
                                "fulfillment",
                                "lineItemsByFulfillmentOrder",
                                &gi,
                                "fulfillmentOrderLineItems",
                                &li,
                                "quantity",
                            ],
                            "Quantity must be greater than 0",
                            None,
                        )]);
                    }
                    let id = str_at(line, "id")
                        .and_then(|id| parse_gid(id, "FulfillmentOrderLineItem"))
                        .unwrap_or(0);
                    parsed.push((id, quantity));
                }
                Some(parsed)
            }
        };
        requests.push(FulfillmentRequest {
            fulfillment_order_id: fo_id,
            lines,
        });
    }
    // Find the one order every fulfillment order belongs to.
    let order_id = {
        let shop = state.shop();
        let mut order_id = None;
        for request in &requests {
            let Some((order, _)) = find_fulfillment_order(&shop, request.fulfillment_order_id)
            else {
                return fail(vec![fulfillment_error("Fulfillment order does not exist.")]);
            };
            if order_id.is_some_and(|id| id != order.id) {
                return fail(vec![fulfillment_error(
                    "All fulfillment orders must belong to the same order.",
                )]);
            }
            order_id = Some(order.id);
        }
        match order_id {
            Some(id) => id,
            None => {
                return fail(vec![fulfillment_error(
                    "Invalid fulfillment order line item quantity requested.",
                )]);
            }
        }
    };
    let tracking = tracking_infos(input.get("trackingInfo"));
    let notify = input
        .get("notifyCustomer")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let result = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        let fulfillment_id = apply_fulfillment(shop, id, &requests, tracking, now)?;
        if let Some(made) = shop
            .orders
            .get_mut(&id)
            .and_then(|o| o.fulfillments.last_mut())
        {
            made.notify_customer = notify;
        }
        Ok(fulfillment_id)
    });
    match result {
        Ok(fulfillment_id) => Payload::FulfillmentCreate {
            fulfillment: Some((order_id, fulfillment_id)),
            errors: Vec::new(),
        },
        Err(ChangeError::Refused(error)) => fail(vec![error]),
        Err(ChangeError::OrderNotFound(_)) => {
            fail(vec![fulfillment_error("Fulfillment order does not exist.")])
        }
    }
}

/// `fulfillmentTrackingInfoUpdate`: replaces the fulfillment's tracking lines with the input's
/// (an empty input clears them). Shopify accepts this on a cancelled fulfillment too (draft-proxy
/// `2026-04/orders/fulfillment-state-preconditions.json`); `notifyCustomer` only sends mail.
fn fulfillment_tracking_info_update(
    state: &ShopifyState,
    args: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Payload {
    let not_found = || Payload::FulfillmentTrackingInfoUpdate {
        fulfillment: None,
        errors: vec![UserErrorData::new(
            &["fulfillmentId"],
            "Fulfillment does not exist.",
            None,
        )],
    };
    let Some(fulfillment_id) =
        str_at_map(args, "fulfillmentId").and_then(|id| parse_gid(id, "Fulfillment"))
    else {
        return not_found();
    };
    let order_id = {
        let shop = state.shop();
        shop.orders
            .values()
            .find(|o| o.fulfillments.iter().any(|f| f.id == fulfillment_id))
            .map(|o| o.id)
    };
    let Some(order_id) = order_id else {
        return not_found();
    };
    let tracking = tracking_infos(args.get("trackingInfoInput"));
    let result = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        let fulfillment = shop
            .orders
            .get_mut(&id)
            .and_then(|o| o.fulfillments.iter_mut().find(|f| f.id == fulfillment_id))
            .ok_or(())?;
        fulfillment.tracking = tracking;
        fulfillment.updated_at = now.trunc_subsecs(0);
        Ok::<(), ()>(())
    });
    match result {
        Ok(()) => Payload::FulfillmentTrackingInfoUpdate {
            fulfillment: Some((order_id, fulfillment_id)),
            errors: Vec::new(),
        },
        Err(_) => not_found(),
    }
}

/// The tracking lines of a `FulfillmentTrackingInput`: `number` and `numbers` (and `url` and
/// `urls`) pair up in order, each line carrying the one `company`.
pub(crate) fn tracking_infos(input: Option<&Value>) -> Vec<TrackingInfo> {
    let Some(input) = input.filter(|v| v.is_object()) else {
        return Vec::new();
    };
    let company = str_at(input, "company").map(str::to_string);
    let strings = |key: &str| -> Vec<String> {
        input
            .get(key)
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut numbers: Vec<String> = str_at(input, "number")
        .map(str::to_string)
        .into_iter()
        .collect();
    numbers.extend(strings("numbers"));
    let mut urls: Vec<String> = str_at(input, "url")
        .map(str::to_string)
        .into_iter()
        .collect();
    urls.extend(strings("urls"));
    if numbers.is_empty() && urls.is_empty() && company.is_none() {
        return Vec::new();
    }
    let count = numbers.len().max(urls.len()).max(1);
    (0..count)
        .map(|i| TrackingInfo {
            company: company.clone(),
            number: numbers.get(i).cloned(),
            url: urls.get(i).cloned(),
        })
        .collect()
}

/// Fulfils the requested lines of order `order_id`; all or nothing. Shopify's user error when
/// it refuses. Also what the control API's fulfilment "by hand" runs.
pub(crate) fn apply_fulfillment(
    shop: &mut Shop,
    order_id: u64,
    requests: &[FulfillmentRequest],
    tracking: Vec<TrackingInfo>,
    now: DateTime<Utc>,
) -> Result<u64, UserErrorData> {
    let over = || fulfillment_error("Invalid fulfillment order line item quantity requested.");
    // (fulfillment order index, line index, quantity) to take.
    let mut takes = Vec::new();
    let mut location_id = None;
    {
        let order = shop.orders.get(&order_id).ok_or_else(over)?;
        for request in requests {
            let (fo_index, fo) = order
                .fulfillment_orders
                .iter()
                .enumerate()
                .find(|(_, fo)| fo.id == request.fulfillment_order_id)
                .ok_or_else(|| fulfillment_error("Fulfillment order does not exist."))?;
            if !fo.status.is_fulfillable() {
                return Err(fulfillment_error(format!(
                    "Fulfillment order {} has an unfulfillable status= {}.",
                    fo.id,
                    fo.status.graphql().to_ascii_lowercase()
                )));
            }
            if location_id.is_some_and(|l| l != fo.location_id) {
                return Err(fulfillment_error(
                    "All fulfillment orders must be assigned to the same location.",
                ));
            }
            location_id = Some(fo.location_id);
            match &request.lines {
                None => {
                    for (li, line) in fo.line_items.iter().enumerate() {
                        if line.remaining_quantity > 0 {
                            takes.push((fo_index, li, line.remaining_quantity));
                        }
                    }
                }
                Some(lines) => {
                    for (line_id, quantity) in lines {
                        let (li, line) = fo
                            .line_items
                            .iter()
                            .enumerate()
                            .find(|(_, l)| l.id == *line_id)
                            .ok_or_else(over)?;
                        let already: i64 = takes
                            .iter()
                            .filter(|(f, l, _)| *f == fo_index && *l == li)
                            .map(|(_, _, q)| *q)
                            .sum();
                        if already + quantity > line.remaining_quantity {
                            return Err(over());
                        }
                        takes.push((fo_index, li, *quantity));
                    }
                }
            }
        }
    }
    if takes.is_empty() {
        return Err(over());
    }
    let fulfillment_id = shop.allocate_id();
    let mut lines = Vec::new();
    for _ in &takes {
        lines.push(shop.allocate_id());
    }
    let order = shop.orders.get_mut(&order_id).ok_or_else(over)?;
    let mut fulfillment_lines = Vec::new();
    for ((fo_index, li, quantity), line_id) in takes.iter().zip(lines) {
        let fo = &mut order.fulfillment_orders[*fo_index];
        let line = &mut fo.line_items[*li];
        line.remaining_quantity -= quantity;
        fulfillment_lines.push(FulfillmentLine {
            id: line_id,
            line_item_id: line.line_item_id,
            quantity: *quantity,
        });
        fo.updated_at = now.trunc_subsecs(0);
    }
    for (fo_index, _, _) in &takes {
        let fo = &mut order.fulfillment_orders[*fo_index];
        fo.status = if fo.line_items.iter().all(|l| l.remaining_quantity == 0) {
            FulfillmentOrderStatus::Closed
        } else {
            FulfillmentOrderStatus::InProgress
        };
    }
    order.fulfillments.push(Fulfillment {
        id: fulfillment_id,
        location_id: location_id.unwrap_or_default(),
        tracking,
        lines: fulfillment_lines,
        created_at: now.trunc_subsecs(0),
        updated_at: now.trunc_subsecs(0),
        notify_customer: false,
    });
    order.refresh_fulfillment_status();
    Ok(fulfillment_id)
}

/// Tags from `[String!]!`, each of which may itself be a comma-separated list.
fn tag_list(value: Option<&Value>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    raw.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The resource type of a GID (`gid://shopify/Product/1` → `Product`).
fn gid_type(id: &str) -> Option<&str> {
    id.strip_prefix("gid://shopify/")?.split('/').next()
}

/// Shopify's limit on one order tag ("Each individual tag is limited to 40 characters").
const MAX_TAG_LENGTH: usize = 40;

fn tags_add(state: &ShopifyState, args: &Map<String, Value>) -> Payload {
    let id = args.get("id").and_then(Value::as_str).unwrap_or_default();
    let tags = tag_list(args.get("tags"));
    let not_found = |kind: &str| Payload::TagsAdd {
        node: None,
        errors: vec![UserErrorData::new(
            &["id"],
            format!("{kind} does not exist"),
            None,
        )],
    };
    let Some(order_id) = parse_gid(id, "Order") else {
        return not_found(gid_type(id).unwrap_or("Order"));
    };
    let too_long: Vec<UserErrorData> = tags
        .iter()
        .enumerate()
        .filter(|(_, tag)| tag.chars().count() > MAX_TAG_LENGTH)
        .map(|(index, _)| {
            UserErrorData::new(
                &["tags", &index.to_string()],
                "Title Tag exceeds the maximum length of 40 characters",
                None,
            )
        })
        .collect();
    if !too_long.is_empty() {
        return Payload::TagsAdd {
            node: None,
            errors: too_long,
        };
    }
    let missing = {
        let shop = state.shop();
        match shop.orders.get(&order_id) {
            None => return not_found("Order"),
            Some(order) => tags.iter().any(|t| !order.tags.contains(t)),
        }
    };
    if missing {
        let result = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
            if let Some(order) = shop.orders.get_mut(&id) {
                order.tags.extend(tags.iter().cloned());
            }
            Ok::<(), ()>(())
        });
        if result.is_err() {
            return not_found("Order");
        }
    }
    Payload::TagsAdd {
        node: Some(order_id),
        errors: Vec::new(),
    }
}

fn order_update(state: &ShopifyState, args: &Map<String, Value>) -> Payload {
    let input = args.get("input").cloned().unwrap_or(Value::Null);
    let not_found = || Payload::OrderUpdate {
        order: None,
        errors: vec![UserErrorData::new(&["id"], "Order does not exist", None)],
    };
    let Some(order_id) = str_at(&input, "id").and_then(|id| parse_gid(id, "Order")) else {
        return not_found();
    };
    let text = |key: &str| -> Option<Option<String>> {
        input.get(key).map(|v| v.as_str().map(str::to_string))
    };
    let result = state.change_order(order_id, &[Topic::OrdersUpdated], |shop, id| {
        let Some(order) = shop.orders.get_mut(&id) else {
            return Err(());
        };
        if let Some(note) = text("note") {
            order.note = note;
        }
        if let Some(email) = text("email") {
            order.email = email;
        }
        if let Some(phone) = text("phone") {
            order.phone = phone;
        }
        if input.get("tags").is_some() {
            order.tags = tag_list(input.get("tags")).into_iter().collect();
        }
        if let Some(address) = input.get("shippingAddress").filter(|a| a.is_object()) {
            let target = order.shipping_address.get_or_insert_with(Default::default);
            let fields: [(&str, &mut Option<String>); 12] = [
                ("firstName", &mut target.first_name),
                ("lastName", &mut target.last_name),
                ("company", &mut target.company),
                ("address1", &mut target.address1),
                ("address2", &mut target.address2),
                ("city", &mut target.city),
                ("province", &mut target.province),
                ("provinceCode", &mut target.province_code),
                ("zip", &mut target.zip),
                ("country", &mut target.country),
                ("countryCode", &mut target.country_code),
                ("phone", &mut target.phone),
            ];
            for (key, slot) in fields {
                if let Some(value) = address.get(key) {
                    *slot = value.as_str().map(str::to_string);
                }
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => Payload::OrderUpdate {
            order: Some(order_id),
            errors: Vec::new(),
        },
        Err(_) => not_found(),
    }
}

fn cancel_reason(value: Option<&str>) -> CancelReason {
    match value {
        Some("CUSTOMER") => CancelReason::Customer,
        Some("DECLINED") => CancelReason::Declined,
        Some("FRAUD") => CancelReason::Fraud,
        Some("INVENTORY") => CancelReason::Inventory,
        Some("STAFF") => CancelReason::Staff,
        _ => CancelReason::Other,
    }
}

/// `gid://shopify/Job/<uuid>`.
fn job_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let mut rng = Rng::new(nanos as u64 ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32));
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "gid://shopify/Job/{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

fn order_cancel(state: &ShopifyState, args: &Map<String, Value>) -> Payload {
    let fail = |field: &str, message: &str, code: Option<&'static str>| Payload::OrderCancel {
        job: None,
        errors: vec![UserErrorData::new(&[field], message, code)],
    };
    let order_id = args
        .get("orderId")
        .and_then(Value::as_str)
        .and_then(|id| parse_gid(id, "Order"));
    let staff_note = args.get("staffNote").and_then(Value::as_str);
    if staff_note.is_some_and(|n| n.chars().count() > 255) {
        return fail(
            "staffNote",
            "Staff note is too long. Maximum length is 255 characters.",
            None,
        );
    }
    if args.get("refund").is_some_and(|v| !v.is_null())
        && args.get("refundMethod").is_some_and(|v| !v.is_null())
    {
        return fail(
            "refund",
            "Only one of the arguments `refund` or `refund_method` is allowed.",
            None,
        );
    }
    let cancelled = {
        let shop = state.shop();
        order_id
            .and_then(|id| shop.orders.get(&id))
            .map(|o| o.cancelled_at.is_some())
    };
    let Some(order_id) = order_id else {
        return fail("orderId", "Order does not exist", Some("NOT_FOUND"));
    };
    match cancelled {
        None => return fail("orderId", "Order does not exist", Some("NOT_FOUND")),
        Some(true) => {
            return fail(
                "orderId",
                "Cannot cancel an order that has already been canceled",
                Some("INVALID"),
            );
        }
        Some(false) => {}
    }
    let reason = cancel_reason(args.get("reason").and_then(Value::as_str));
    let restock = args.get("restock").and_then(Value::as_bool) == Some(true);
    let state = state.clone();
    // Shopify cancels on a job: the answer comes first, the cancellation shortly after.
    tokio::spawn(async move {
        tokio::time::sleep(CANCEL_JOB_DELAY).await;
        let result = state.change_order_restocking(order_id, restock, |shop, id| {
            let Some(order) = shop.orders.get_mut(&id) else {
                return Err(());
            };
            if order.cancelled_at.is_some() {
                return Err(());
            }
            let now = now_seconds();
            order.cancelled_at = Some(now);
            order.cancel_reason = Some(reason);
            for fo in &mut order.fulfillment_orders {
                fo.status = FulfillmentOrderStatus::Closed;
                fo.updated_at = now;
            }
            // An unpaid order closes with the cancellation; a paid one stays open for
            // the refund.
            let paid = matches!(
                order.financial_status,
                Some(
                    FinancialStatus::Paid
                        | FinancialStatus::PartiallyPaid
                        | FinancialStatus::PartiallyRefunded
                )
            );
            if !paid && order.closed_at.is_none() {
                order.closed_at = Some(now);
            }
            order.refresh_fulfillment_status();
            Ok(((), vec![Topic::OrdersCancelled, Topic::OrdersUpdated]))
        });
        if let Err(error) = result {
            tracing::debug!(
                order = order_id,
                ?error,
                "Cancellation job found nothing to do."
            );
        }
    });
    Payload::OrderCancel {
        job: Some(job_id()),
        errors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_accept_comma_separated_strings() {
        let value = serde_json::json!(["a, b", " c ", ""]);
        assert_eq!(tag_list(Some(&value)), vec!["a", "b", "c"]);
    }

    #[test]
    fn job_ids_look_like_uuids() {
        let id = job_id();
        let uuid = id.strip_prefix("gid://shopify/Job/").unwrap_or_default();
        let parts: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12], "{id}");
        assert_ne!(job_id(), id);
    }
}
