//! Shopify's GraphQL error objects, key order included.
//!
//! Static errors (parse, validation, variables) carry `message, locations, path, extensions`;
//! execution errors carry `message, locations, extensions, path`, as Shopify writes them.

use graphql_parser::Pos;
use serde_json::{Map, Value, json};

pub fn location(pos: Pos) -> Value {
    json!({"line": pos.line, "column": pos.column})
}

/// A static validation error (`undefinedField`, `selectionMismatch`, …).
pub fn static_error(message: String, pos: Pos, path: &[String], extensions: Value) -> Value {
    json!({
        "message": message,
        "locations": [location(pos)],
        "path": path,
        "extensions": extensions,
    })
}

/// `PARSE_ERROR`.
pub fn parse_error(message: String, line: usize, column: usize) -> Value {
    json!({
        "message": message,
        "locations": [{"line": line, "column": column}],
        "extensions": {"code": "PARSE_ERROR"},
    })
}

/// An error raised while executing one field; its value becomes `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub message: String,
    pub code: &'static str,
    /// Positions besides the field's own (e.g. the variable definition that supplied the input).
    pub extra_locations: Vec<Pos>,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            message: message.into(),
            code,
            extra_locations: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> FieldError {
        FieldError::new("BAD_REQUEST", message)
    }

    pub fn to_json(&self, pos: Pos, path: &[Value]) -> Value {
        let mut locations = vec![location(pos)];
        locations.extend(self.extra_locations.iter().map(|p| location(*p)));
        json!({
            "message": self.message,
            "locations": locations,
            "extensions": {"code": self.code},
            "path": path,
        })
    }
}

/// The body of a response that only has errors (no `data`, no `extensions`).
pub fn errors_only(errors: Vec<Value>) -> Value {
    let mut body = Map::new();
    body.insert("errors".into(), Value::Array(errors));
    Value::Object(body)
}
