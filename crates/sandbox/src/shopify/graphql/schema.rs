//! The part of Shopify's Admin GraphQL schema that the sandbox serves.
//!
//! The table is loaded from `schema.graphql`, an SDL subset generated from the real 2026-10
//! introspection by `tools/schema_subset.py`, so every type ref, argument and default is
//! Shopify's own. Validation, cost and execution all read this one table, and
//! `tests/shopify_schema.rs` checks it against the real schema.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use graphql_parser::schema::{self as sdl, Definition, TypeDefinition};

const SDL: &str = include_str!("schema.graphql");

/// What kind of type a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Object,
    Interface,
    Enum,
    InputObject,
}

/// A type reference as GraphQL writes it: `[String!]!`, `MoneyBag!`, `DateTime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    Named(String),
    List(Box<TypeRef>),
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The named type at the bottom of the wrappers.
    pub fn name(&self) -> &str {
        match self {
            TypeRef::Named(name) => name,
            TypeRef::List(inner) | TypeRef::NonNull(inner) => inner.name(),
        }
    }

    pub fn is_non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }

    /// The type without its outer `!`.
    pub fn nullable(&self) -> &TypeRef {
        match self {
            TypeRef::NonNull(inner) => inner,
            other => other,
        }
    }

    /// Whether a list is anywhere in the wrappers.
    pub fn is_list(&self) -> bool {
        match self {
            TypeRef::Named(_) => false,
            TypeRef::List(_) => true,
            TypeRef::NonNull(inner) => inner.is_list(),
        }
    }

    pub fn from_ast<'a>(ty: &graphql_parser::query::Type<'a, String>) -> TypeRef {
        use graphql_parser::query::Type;
        match ty {
            Type::NamedType(name) => TypeRef::Named(name.clone()),
            Type::ListType(inner) => TypeRef::List(Box::new(TypeRef::from_ast(inner))),
            Type::NonNullType(inner) => TypeRef::NonNull(Box::new(TypeRef::from_ast(inner))),
        }
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(name) => f.write_str(name),
            TypeRef::List(inner) => write!(f, "[{inner}]"),
            TypeRef::NonNull(inner) => write!(f, "{inner}!"),
        }
    }
}

/// A field argument or an input object field.
#[derive(Debug, Clone)]
pub struct InputValueDef {
    pub name: String,
    pub ty: TypeRef,
    /// The default as GraphQL source text (`false`, `PROCESSED_AT`, `null`).
    pub default: Option<graphql_parser::query::Value<'static, String>>,
    /// Why Shopify deprecated it, when it did (`@deprecated(reason: …)`).
    pub deprecated: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    pub ty: TypeRef,
    pub args: Vec<InputValueDef>,
    /// Why Shopify deprecated it, when it did.
    pub deprecated: Option<String>,
}

impl FieldDef {
    pub fn arg(&self, name: &str) -> Option<&InputValueDef> {
        self.args.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub kind: Kind,
    /// Object and interface fields, in schema order.
    pub fields: Vec<FieldDef>,
    /// Input object fields.
    pub input_fields: Vec<InputValueDef>,
    pub enum_values: Vec<String>,
    /// Interfaces an object implements.
    pub interfaces: Vec<String>,
}

impl TypeDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn input_field(&self, name: &str) -> Option<&InputValueDef> {
        self.input_fields.iter().find(|f| f.name == name)
    }
}

/// The served schema: every type by name.
#[derive(Debug)]
pub struct Schema {
    pub types: BTreeMap<String, TypeDef>,
}

pub const QUERY_ROOT: &str = "QueryRoot";
pub const MUTATION_ROOT: &str = "Mutation";

const BUILTIN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

impl Schema {
    /// The sandbox's schema, parsed once.
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| Schema::parse(SDL))
    }

    fn parse(text: &str) -> Schema {
        // The SDL is compiled into the binary and parsed by a test, so a failure here is a
        // build defect, not bad input.
        #[allow(clippy::expect_used)]
        let document =
            sdl::parse_schema::<String>(text).expect("schema.graphql is valid SDL (generated)");
        let mut types = BTreeMap::new();
        for name in BUILTIN_SCALARS {
            types.insert(name.to_string(), scalar(name));
        }
        for definition in document.definitions {
            let Definition::TypeDefinition(definition) = definition else {
                continue;
            };
            let def = match definition {
                TypeDefinition::Scalar(t) => scalar(&t.name),
                TypeDefinition::Object(t) => TypeDef {
                    name: t.name,
                    kind: Kind::Object,
                    fields: t.fields.iter().map(field).collect(),
                    input_fields: Vec::new(),
                    enum_values: Vec::new(),
                    interfaces: t.implements_interfaces,
                },
                TypeDefinition::Interface(t) => TypeDef {
                    name: t.name,
                    kind: Kind::Interface,
                    fields: t.fields.iter().map(field).collect(),
                    input_fields: Vec::new(),
                    enum_values: Vec::new(),
                    interfaces: Vec::new(),
                },
                TypeDefinition::Enum(t) => TypeDef {
                    name: t.name,
                    kind: Kind::Enum,
                    fields: Vec::new(),
                    input_fields: Vec::new(),
                    enum_values: t.values.into_iter().map(|v| v.name).collect(),
                    interfaces: Vec::new(),
                },
                TypeDefinition::InputObject(t) => TypeDef {
                    name: t.name,
                    kind: Kind::InputObject,
                    fields: Vec::new(),
                    input_fields: t.fields.iter().map(input_value).collect(),
                    enum_values: Vec::new(),
                    interfaces: Vec::new(),
                },
                TypeDefinition::Union(t) => scalar(&t.name),
            };
            types.insert(def.name.clone(), def);
        }
        Schema { types }
    }

    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    pub fn kind(&self, name: &str) -> Option<Kind> {
        self.types.get(name).map(|t| t.kind)
    }

    /// Whether values of `name` have sub-selections (objects and interfaces).
    pub fn is_composite(&self, name: &str) -> bool {
        matches!(self.kind(name), Some(Kind::Object | Kind::Interface))
    }

    /// Whether `name` may be used as a variable or argument type.
    pub fn is_input(&self, name: &str) -> bool {
        matches!(
            self.kind(name),
            Some(Kind::Scalar | Kind::Enum | Kind::InputObject)
        )
    }

    /// Object types that a fragment on `condition` applies to.
    pub fn possible_types<'a>(&'a self, condition: &'a str) -> Vec<&'a str> {
        match self.kind(condition) {
            Some(Kind::Object) => vec![condition],
            Some(Kind::Interface) => self
                .types
                .values()
                .filter(|t| t.interfaces.iter().any(|i| i == condition))
                .map(|t| t.name.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether an object of type `object` matches a fragment type condition.
    pub fn applies(&self, condition: &str, object: &str) -> bool {
        condition == object
            || self
                .type_def(object)
                .is_some_and(|t| t.interfaces.iter().any(|i| i == condition))
    }
}

fn scalar(name: &str) -> TypeDef {
    TypeDef {
        name: name.to_string(),
        kind: Kind::Scalar,
        fields: Vec::new(),
        input_fields: Vec::new(),
        enum_values: Vec::new(),
        interfaces: Vec::new(),
    }
}

fn schema_type(ty: &sdl::Type<'_, String>) -> TypeRef {
    match ty {
        sdl::Type::NamedType(name) => TypeRef::Named(name.clone()),
        sdl::Type::ListType(inner) => TypeRef::List(Box::new(schema_type(inner))),
        sdl::Type::NonNullType(inner) => TypeRef::NonNull(Box::new(schema_type(inner))),
    }
}

/// The reason of a `@deprecated` directive, if there is one.
fn deprecation(directives: &[sdl::Directive<'_, String>]) -> Option<String> {
    let directive = directives.iter().find(|d| d.name == "deprecated")?;
    Some(
        directive
            .arguments
            .iter()
            .find(|(name, _)| name == "reason")
            .and_then(|(_, value)| match value {
                graphql_parser::query::Value::String(reason) => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "No longer supported".to_string()),
    )
}

fn input_value(value: &sdl::InputValue<'_, String>) -> InputValueDef {
    InputValueDef {
        name: value.name.clone(),
        ty: schema_type(&value.value_type),
        default: value.default_value.as_ref().map(|v| v.into_static()),
        deprecated: deprecation(&value.directives),
    }
}

fn field(field: &sdl::Field<'_, String>) -> FieldDef {
    FieldDef {
        name: field.name.clone(),
        ty: schema_type(&field.field_type),
        args: field.arguments.iter().map(input_value).collect(),
        deprecated: deprecation(&field.directives),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_schema_loads_with_roots_and_refs() {
        let schema = Schema::get();
        let orders = schema
            .type_def(QUERY_ROOT)
            .and_then(|t| t.field("orders"))
            .map(|f| (f.ty.to_string(), f.arg("sortKey").map(|a| a.ty.to_string())));
        assert_eq!(
            orders,
            Some((
                "OrderConnection!".to_string(),
                Some("OrderSortKeys".to_string())
            ))
        );
        let tags = schema.type_def("Order").and_then(|t| t.field("tags"));
        assert_eq!(tags.map(|f| f.ty.to_string()), Some("[String!]!".into()));
        assert!(schema.applies("Node", "Order"));
        assert!(schema.possible_types("Node").contains(&"InventoryItem"));
        assert_eq!(schema.kind("MoneyBag"), Some(Kind::Object));
        assert_eq!(schema.kind("CurrencyCode"), Some(Kind::Enum));
        let notify = schema
            .type_def("ReturnInput")
            .and_then(|t| t.input_field("notifyCustomer"));
        assert!(
            notify
                .and_then(|f| f.deprecated.as_deref())
                .is_some_and(|r| r.contains("ignored")),
            "{notify:?}"
        );
        assert_eq!(
            schema
                .type_def("ReturnInput")
                .and_then(|t| t.input_field("orderId"))
                .map(|f| f.deprecated.is_some()),
            Some(false)
        );
    }
}
