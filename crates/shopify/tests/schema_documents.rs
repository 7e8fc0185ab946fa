//! Every GraphQL document the client sends is valid against Shopify's real Admin schema
//! (2026-10 introspection in `../shared/shopify/`): each field exists on its type, each argument
//! exists and required ones are given, variables have the argument's type, leaves have no
//! selection and objects have one.

use std::collections::HashMap;
use std::io::Read;

use graphql_parser::query::{
    Definition, Document, Field, OperationDefinition, Selection, SelectionSet, Type as QueryType,
    Value as QueryValue,
};
use serde_json::Value;
use tentacle_shopify::queries::ALL_DOCUMENTS;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/shopify/admin-graphql-2026-10.introspection.json.gz"
);

/// The introspection's types by name.
struct Schema {
    types: HashMap<String, Value>,
}

impl Schema {
    fn load() -> Option<Schema> {
        let Ok(file) = std::fs::File::open(SCHEMA) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "Shopify's schema is required in CI but missing at {SCHEMA}"
            );
            println!("SKIPPED: Shopify's schema not found at {SCHEMA} (set CI=1 to require)");
            return None;
        };
        let mut json = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut json)
            .expect("the schema file is gzipped JSON");
        let schema: Value = serde_json::from_str(&json).expect("the schema is JSON");
        let types = schema["data"]["__schema"]["types"]
            .as_array()
            .expect("introspection has types")
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().expect("type name").to_string(),
                    t.clone(),
                )
            })
            .collect();
        Some(Schema { types })
    }

    fn field(&self, type_name: &str, field: &str) -> Option<&Value> {
        self.types.get(type_name)?["fields"]
            .as_array()?
            .iter()
            .find(|f| f["name"] == field)
    }
}

/// `{"kind":"NON_NULL","ofType":{"kind":"LIST",…}}` → `[String!]!`.
fn type_ref(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or_default().to_string(),
    }
}

fn named_type(t: &Value) -> &Value {
    if t["ofType"].is_null() {
        t
    } else {
        named_type(&t["ofType"])
    }
}

fn query_type_ref(t: &QueryType<'_, String>) -> String {
    match t {
        QueryType::NamedType(name) => name.clone(),
        QueryType::ListType(inner) => format!("[{}]", query_type_ref(inner)),
        QueryType::NonNullType(inner) => format!("{}!", query_type_ref(inner)),
    }
}

/// A variable of type `variable` may be used where `argument` is expected: the same type, or a
/// non-null variable for a nullable argument.
fn variable_fits(variable: &str, argument: &str) -> bool {
    variable == argument || variable.strip_suffix('!') == Some(argument)
}

struct Validator<'a> {
    schema: &'a Schema,
    fragments: HashMap<String, &'a graphql_parser::query::FragmentDefinition<'a, String>>,
    variables: HashMap<String, String>,
    errors: Vec<String>,
}

impl<'a> Validator<'a> {
    fn selection_set(&mut self, parent: &str, set: &'a SelectionSet<'a, String>, path: &str) {
        for selection in &set.items {
            match selection {
                Selection::Field(field) => self.field(parent, field, path),
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map(|graphql_parser::query::TypeCondition::On(t)| t.as_str())
                        .unwrap_or(parent);
                    if !self.schema.types.contains_key(on) {
                        self.errors
                            .push(format!("{path}: unknown type {on} in inline fragment"));
                    }
                    self.selection_set(on, &inline.selection_set, path);
                }
                Selection::FragmentSpread(spread) => {
                    match self.fragments.get(&spread.fragment_name).copied() {
                        None => self
                            .errors
                            .push(format!("{path}: unknown fragment {}", spread.fragment_name)),
                        Some(fragment) => {
                            let graphql_parser::query::TypeCondition::On(on) =
                                &fragment.type_condition;
                            if on != parent {
                                self.errors.push(format!(
                                    "{path}: fragment {} is on {on}, used on {parent}",
                                    fragment.name
                                ));
                            }
                            self.selection_set(on, &fragment.selection_set, path);
                        }
                    }
                }
            }
        }
    }

    fn field(&mut self, parent: &str, field: &'a Field<'a, String>, path: &str) {
        let path = format!("{path}.{}", field.name);
        if field.name == "__typename" {
            return;
        }
        let Some(definition) = self.schema.field(parent, &field.name) else {
            self.errors.push(format!(
                "{path}: field {} does not exist on {parent}",
                field.name
            ));
            return;
        };
        let args = definition["args"].as_array().cloned().unwrap_or_default();
        for (name, value) in &field.arguments {
            let Some(arg) = args.iter().find(|a| a["name"] == name.as_str()) else {
                self.errors.push(format!("{path}: unknown argument {name}"));
                continue;
            };
            let expected = type_ref(&arg["type"]);
            if let QueryValue::Variable(variable) = value {
                match self.variables.get(variable) {
                    None => self
                        .errors
                        .push(format!("{path}: variable ${variable} is not declared")),
                    Some(declared) if !variable_fits(declared, &expected) => {
                        self.errors.push(format!(
                            "{path}: ${variable} is {declared}, argument {name} wants {expected}"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        for arg in &args {
            let required = arg["type"]["kind"] == "NON_NULL" && arg["defaultValue"].is_null();
            let name = arg["name"].as_str().unwrap_or_default();
            if required && !field.arguments.iter().any(|(n, _)| n == name) {
                self.errors
                    .push(format!("{path}: required argument {name} is missing"));
            }
        }
        let result = named_type(&definition["type"]);
        let kind = result["kind"].as_str().unwrap_or_default();
        let leaf = matches!(kind, "SCALAR" | "ENUM");
        match (leaf, field.selection_set.items.is_empty()) {
            (true, false) => self
                .errors
                .push(format!("{path}: {kind} field takes no selection")),
            (false, true) => self
                .errors
                .push(format!("{path}: object field needs a selection")),
            (false, false) => self.selection_set(
                result["name"].as_str().unwrap_or_default(),
                &field.selection_set,
                &path,
            ),
            (true, true) => {}
        }
    }
}

fn validate(schema: &Schema, name: &str, source: &str) -> Vec<String> {
    let document: Document<'_, String> = match graphql_parser::parse_query(source) {
        Ok(document) => document,
        Err(error) => return vec![format!("{name}: does not parse: {error}")],
    };
    let mut validator = Validator {
        schema,
        fragments: HashMap::new(),
        variables: HashMap::new(),
        errors: Vec::new(),
    };
    for definition in &document.definitions {
        if let Definition::Fragment(fragment) = definition {
            validator.fragments.insert(fragment.name.clone(), fragment);
        }
    }
    for definition in &document.definitions {
        let Definition::Operation(operation) = definition else {
            continue;
        };
        let (root, variables, set) = match operation {
            OperationDefinition::Query(q) => {
                ("QueryRoot", &q.variable_definitions, &q.selection_set)
            }
            OperationDefinition::Mutation(m) => {
                ("Mutation", &m.variable_definitions, &m.selection_set)
            }
            OperationDefinition::SelectionSet(set) => ("QueryRoot", &Vec::new(), set),
            OperationDefinition::Subscription(_) => {
                validator
                    .errors
                    .push(format!("{name}: subscriptions are not used"));
                continue;
            }
        };
        validator.variables = variables
            .iter()
            .map(|v| (v.name.clone(), query_type_ref(&v.var_type)))
            .collect();
        for declared in validator.variables.values() {
            let base = declared.trim_matches(|c| c == '[' || c == ']' || c == '!');
            if !schema.types.contains_key(base) {
                validator
                    .errors
                    .push(format!("{name}: variable type {declared} does not exist"));
            }
        }
        validator.selection_set(root, set, name);
    }
    validator.errors
}

#[test]
fn every_client_document_is_valid_against_shopify_2026_10() {
    let Some(schema) = Schema::load() else { return };
    let mut errors = Vec::new();
    for (name, source) in ALL_DOCUMENTS {
        errors.extend(validate(&schema, name, source));
    }
    assert!(
        errors.is_empty(),
        "documents invalid against the real schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_validator_catches_what_shopify_would_refuse() {
    let Some(schema) = Schema::load() else { return };
    let bad = "query Bad($first: String) { orders(first: $first) { nodes { id nmae lineItems { nodes { id } } } } }";
    let errors = validate(&schema, "Bad", bad);
    let joined = errors.join("\n");
    assert!(
        joined.contains("$first is String, argument first wants Int"),
        "{joined}"
    );
    assert!(
        joined.contains("field nmae does not exist on Order"),
        "{joined}"
    );
    assert!(
        validate(
            &schema,
            "NoSelection",
            "{ orders(first: 1) { nodes { customer } } }"
        )
        .join("")
        .contains("needs a selection")
    );
    assert!(
        validate(&schema, "MissingArg", "{ order { id } }")
            .join("")
            .contains("required argument id is missing")
    );
}
