//! The sandbox's schema agrees with Shopify's real Admin GraphQL 2026-10 schema: every type,
//! field, argument and input field it serves exists there with the same type ref and default,
//! and every enum value it can emit is a real value of that enum.

use std::collections::BTreeMap;
use std::io::Read;

use graphql_parser::query::Value as Literal;
use serde_json::Value;
use tentacle_sandbox::shopify::graphql::schema::{InputValueDef, Kind, Schema};
use tentacle_sandbox::shopify::model::{
    CancelReason, FinancialStatus, FulfillmentOrderRequestStatus, FulfillmentOrderStatus,
    FulfillmentStatus,
};

/// The real schema, or `None` (test skipped) when the file is missing outside CI.
fn real_schema() -> Option<Value> {
    real_schema_of("2026-10")
}

/// The real schema of API `version`, or `None` (test skipped) when the file is missing
/// outside CI.
fn real_schema_of(version: &str) -> Option<Value> {
    let path = format!(
        "{}/../../../shared/shopify/admin-graphql-{version}.introspection.json.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let path = path.as_str();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the real schema is required in CI: {path}: {error}"
            );
            println!("SKIPPED: cannot open {path}: {error} (set CI=1 to require)");
            return None;
        }
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{path} is gzip: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    Some(json["data"]["__schema"].clone())
}

fn type_ref(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or_default().to_string(),
    }
}

/// A literal as GraphQL prints defaults in introspection.
fn print(value: &Literal<'static, String>) -> String {
    match value {
        Literal::Int(n) => n.as_i64().unwrap_or_default().to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::String(s) => Value::String(s.clone()).to_string(),
        Literal::Boolean(b) => b.to_string(),
        Literal::Null => "null".into(),
        Literal::Enum(e) => e.clone(),
        Literal::Variable(v) => format!("${v}"),
        Literal::List(items) => format!(
            "[{}]",
            items.iter().map(print).collect::<Vec<_>>().join(", ")
        ),
        Literal::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", print(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn check_input_values(
    context: &str,
    served: &[InputValueDef],
    real: &Value,
    problems: &mut Vec<String>,
) {
    let real: BTreeMap<&str, &Value> = real
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v["name"].as_str()?, v)))
        .collect();
    for value in served {
        let Some(real_value) = real.get(value.name.as_str()) else {
            problems.push(format!("{context}({}) does not exist", value.name));
            continue;
        };
        let real_ref = type_ref(&real_value["type"]);
        if value.ty.to_string() != real_ref {
            problems.push(format!(
                "{context}({}): {} but Shopify says {real_ref}",
                value.name, value.ty
            ));
        }
        let served_default = value.default.as_ref().map(print);
        let real_default = real_value["defaultValue"].as_str().map(str::to_string);
        if served_default != real_default {
            problems.push(format!(
                "{context}({}) default {served_default:?} but Shopify says {real_default:?}",
                value.name
            ));
        }
    }
}

#[test]
fn the_served_schema_is_a_subset_of_shopifys() {
    let Some(real) = real_schema() else {
        return;
    };
    assert_eq!(real["queryType"]["name"], "QueryRoot");
    assert_eq!(real["mutationType"]["name"], "Mutation");
    let real_types: BTreeMap<&str, &Value> = real["types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["name"].as_str()?, t)))
        .collect();
    let schema = Schema::get();
    let mut problems = Vec::new();
    let mut fields_checked = 0;
    for (name, served) in &schema.types {
        let Some(real_type) = real_types.get(name.as_str()) else {
            problems.push(format!("type {name} does not exist"));
            continue;
        };
        let kind = match served.kind {
            Kind::Scalar => "SCALAR",
            Kind::Object => "OBJECT",
            Kind::Interface => "INTERFACE",
            Kind::Enum => "ENUM",
            Kind::InputObject => "INPUT_OBJECT",
        };
        if real_type["kind"] != kind {
            problems.push(format!(
                "{name} is {kind}, Shopify says {}",
                real_type["kind"]
            ));
        }
        let real_fields: BTreeMap<&str, &Value> = real_type["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f["name"].as_str()?, f)))
            .collect();
        for field in &served.fields {
            fields_checked += 1;
            let Some(real_field) = real_fields.get(field.name.as_str()) else {
                problems.push(format!("{name}.{} does not exist", field.name));
                continue;
            };
            let real_ref = type_ref(&real_field["type"]);
            if field.ty.to_string() != real_ref {
                problems.push(format!(
                    "{name}.{}: {} but Shopify says {real_ref}",
                    field.name, field.ty
                ));
            }
            let real_args = real_field["args"].as_array().map_or(0, Vec::len);
            if real_args != field.args.len() {
                problems.push(format!(
                    "{name}.{} has {} arguments, Shopify {real_args}",
                    field.name,
                    field.args.len()
                ));
            }
            check_input_values(
                &format!("{name}.{}", field.name),
                &field.args,
                &real_field["args"],
                &mut problems,
            );
        }
        check_input_values(
            name,
            &served.input_fields,
            &real_type["inputFields"],
            &mut problems,
        );
        let real_values: Vec<&str> = real_type["enumValues"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .collect();
        for value in &served.enum_values {
            if !real_values.contains(&value.as_str()) {
                problems.push(format!("{name}.{value} is not a value of the enum"));
            }
        }
        let real_interfaces: Vec<&str> = real_type["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["name"].as_str())
            .collect();
        for interface in &served.interfaces {
            if !real_interfaces.contains(&interface.as_str()) {
                problems.push(format!("{name} does not implement {interface}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(fields_checked > 150, "only {fields_checked} fields checked");
}

/// Every variant, listed through an exhaustive match so that a new variant fails to compile
/// until it is added here.
fn cancel_reasons() -> Vec<CancelReason> {
    let all = vec![
        CancelReason::Customer,
        CancelReason::Declined,
        CancelReason::Fraud,
        CancelReason::Inventory,
        CancelReason::Other,
        CancelReason::Staff,
    ];
    for reason in &all {
        match reason {
            CancelReason::Customer
            | CancelReason::Declined
            | CancelReason::Fraud
            | CancelReason::Inventory
            | CancelReason::Other
            | CancelReason::Staff => {}
        }
    }
    all
}

fn fulfillment_order_statuses() -> Vec<FulfillmentOrderStatus> {
    use FulfillmentOrderStatus::*;
    let all = vec![
        Cancelled, Closed, Incomplete, InProgress, OnHold, Open, Scheduled,
    ];
    for status in &all {
        match status {
            Cancelled | Closed | Incomplete | InProgress | OnHold | Open | Scheduled => {}
        }
    }
    all
}

fn request_statuses() -> Vec<FulfillmentOrderRequestStatus> {
    use FulfillmentOrderRequestStatus::*;
    let all = vec![Unsubmitted, Closed];
    for status in &all {
        match status {
            Unsubmitted | Closed => {}
        }
    }
    all
}

#[test]
fn every_enum_value_the_sandbox_emits_is_real() {
    let Some(real) = real_schema() else {
        return;
    };
    let values = |enum_name: &str| -> Vec<String> {
        real["types"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == enum_name)
            .and_then(|t| t["enumValues"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect()
    };
    let mut emitted: Vec<(&str, String)> = Vec::new();
    emitted.extend(
        FinancialStatus::ALL
            .iter()
            .map(|s| ("OrderDisplayFinancialStatus", s.graphql().to_string())),
    );
    emitted.extend(
        FulfillmentStatus::ALL
            .iter()
            .map(|s| ("OrderDisplayFulfillmentStatus", s.graphql().to_string())),
    );
    emitted.extend(
        cancel_reasons()
            .iter()
            .map(|r| ("OrderCancelReason", r.graphql().to_string())),
    );
    emitted.extend(
        fulfillment_order_statuses()
            .iter()
            .map(|s| ("FulfillmentOrderStatus", s.graphql().to_string())),
    );
    emitted.extend(
        request_statuses()
            .iter()
            .map(|s| ("FulfillmentOrderRequestStatus", s.graphql().to_string())),
    );
    // Constants the resolvers and mutations write.
    for (enum_name, value) in [
        ("OrderReturnStatus", "NO_RETURN"),
        ("FulfillmentStatus", "SUCCESS"),
        ("FulfillmentDisplayStatus", "FULFILLED"),
        ("CountPrecision", "EXACT"),
        ("CountPrecision", "AT_LEAST"),
        ("OrderCancelUserErrorCode", "INVALID"),
        ("OrderCancelUserErrorCode", "NOT_FOUND"),
        (
            "InventorySetQuantitiesUserErrorCode",
            "INVALID_INVENTORY_ITEM",
        ),
        ("InventorySetQuantitiesUserErrorCode", "INVALID_LOCATION"),
        ("InventorySetQuantitiesUserErrorCode", "INVALID_NAME"),
        ("InventorySetQuantitiesUserErrorCode", "INVALID_REASON"),
        (
            "InventorySetQuantitiesUserErrorCode",
            "INVALID_QUANTITY_TOO_HIGH",
        ),
        (
            "InventorySetQuantitiesUserErrorCode",
            "INVALID_QUANTITY_TOO_LOW",
        ),
        (
            "InventorySetQuantitiesUserErrorCode",
            "CHANGE_FROM_QUANTITY_STALE",
        ),
        (
            "InventorySetQuantitiesUserErrorCode",
            "COMPARE_QUANTITY_STALE",
        ),
        (
            "InventorySetQuantitiesUserErrorCode",
            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
        ),
    ] {
        emitted.push((enum_name, value.to_string()));
    }
    let schema = Schema::get();
    for (enum_name, value) in &emitted {
        let real_values = values(enum_name);
        assert!(
            real_values.contains(value),
            "{enum_name}.{value} is not a real value ({real_values:?})"
        );
        let served = schema
            .type_def(enum_name)
            .map(|t| t.enum_values.clone())
            .unwrap_or_default();
        assert!(
            served.contains(value),
            "{enum_name}.{value} is emitted but the served schema lacks it"
        );
    }
}

/// `ITEM_NOT_STOCKED_AT_LOCATION`, which the sandbox emits up to 2026-07 only, is a code of
/// 2026-07 and no longer one of 2026-10 (whose schema the sandbox serves).
#[test]
fn the_not_stocked_code_belongs_to_2026_07_only() {
    let (Some(july), Some(october)) = (real_schema_of("2026-07"), real_schema()) else {
        return;
    };
    let codes = |schema: &Value| -> Vec<String> {
        schema["types"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == "InventorySetQuantitiesUserErrorCode")
            .and_then(|t| t["enumValues"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect()
    };
    let code = "ITEM_NOT_STOCKED_AT_LOCATION".to_string();
    assert!(codes(&july).contains(&code));
    assert!(!codes(&october).contains(&code));
}
