//! Static checks of a GraphQL document against the served schema, and coercion of the request's
//! variables, with Shopify's (graphql-ruby's) messages and codes. Everything here answers before
//! any cost is charged: these errors carry no `extensions.cost`.

use std::collections::{BTreeSet, HashMap, HashSet};

use graphql_parser::Pos;
use graphql_parser::query::{
    Definition, Directive, Document, Field, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet, Value as Literal, VariableDefinition,
};
use serde_json::{Map, Value, json};

use super::errors::{location, parse_error, static_error};
use super::schema::{FieldDef, Kind, MUTATION_ROOT, QUERY_ROOT, Schema, TypeRef};

type Doc = Document<'static, String>;

/// Parses `query`, answering Shopify's `PARSE_ERROR` on failure.
pub fn parse(query: &str) -> Result<Doc, Value> {
    graphql_parser::parse_query::<String>(query)
        .map(|doc| doc.into_static())
        .map_err(|error| parse_failure(query, &error.to_string()))
}

/// Turns graphql-parser's message (`Parse error at 1:17\nUnexpected `)[Punctuator]`…`) into
/// graphql-ruby's (`syntax error, unexpected RPAREN (")") at [1, 17]`).
fn parse_failure(query: &str, message: &str) -> Value {
    let at = message
        .split("Parse error at ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|pos| pos.split_once(':'))
        .and_then(|(l, c)| Some((l.trim().parse().ok()?, c.trim().parse().ok()?)));
    let (mut line, mut column) = at.unwrap_or((1, 1));
    let unexpected = message
        .lines()
        .find_map(|l| l.strip_prefix("Unexpected "))
        .unwrap_or("end of input");
    let what = if unexpected == "end of input" {
        // graphql-ruby points at the last token it read.
        (line, column) = last_token_position(query);
        "end of file".to_string()
    } else if let Some(token) = unexpected
        .strip_prefix('`')
        .and_then(|t| t.strip_suffix('`'))
    {
        let (text, kind) = token
            .rsplit_once('[')
            .map(|(text, kind)| (text, kind.trim_end_matches(']')))
            .unwrap_or((token, ""));
        format!("{} (\"{}\")", token_name(text, kind), text)
    } else {
        unexpected.to_string()
    };
    parse_error(
        format!("syntax error, unexpected {what} at [{line}, {column}]"),
        line,
        column,
    )
}

fn last_token_position(query: &str) -> (usize, usize) {
    let mut last = (1, 1);
    for (index, text) in query.lines().enumerate() {
        let trimmed = text.trim_end();
        if trimmed.trim().is_empty() {
            continue;
        }
        let start = trimmed
            .rfind(|c: char| c.is_whitespace())
            .map_or(0, |i| i + 1);
        last = (index + 1, trimmed[..start].chars().count() + 1);
    }
    last
}

fn token_name(text: &str, kind: &str) -> &'static str {
    match (kind, text) {
        ("Punctuator", "{") => "LCURLY",
        ("Punctuator", "}") => "RCURLY",
        ("Punctuator", "(") => "LPAREN",
        ("Punctuator", ")") => "RPAREN",
        ("Punctuator", "[") => "LBRACKET",
        ("Punctuator", "]") => "RBRACKET",
        ("Punctuator", ":") => "COLON",
        ("Punctuator", "$") => "VAR_SIGN",
        ("Punctuator", "@") => "DIR_SIGN",
        ("Punctuator", "=") => "EQUALS",
        ("Punctuator", "!") => "BANG",
        ("Punctuator", "...") => "ELLIPSIS",
        ("Punctuator", _) => "PUNCTUATOR",
        ("IntValue", _) => "INT",
        ("FloatValue", _) => "FLOAT",
        ("StringValue" | "BlockString", _) => "STRING",
        _ => "IDENTIFIER",
    }
}

/// The operation a request runs, chosen by `operationName`.
pub fn select_operation<'d>(
    doc: &'d Doc,
    operation_name: Option<&str>,
) -> Result<&'d OperationDefinition<'static, String>, Value> {
    let operations: Vec<_> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(op) => Some(op),
            Definition::Fragment(_) => None,
        })
        .collect();
    let found = match operation_name {
        Some(name) => operations
            .iter()
            .find(|op| operation_header(op).1 == Some(name))
            .copied()
            .ok_or_else(|| format!("No operation named \"{name}\"")),
        None if operations.len() == 1 => Ok(operations[0]),
        None if operations.is_empty() => Err("No operations in query document".to_string()),
        None => Err("An operation name is required".to_string()),
    };
    found.map_err(|message| json!({"message": message, "extensions": {"code": "BAD_REQUEST"}}))
}

/// (`query`|`mutation`|`subscription`, name, variables, directives, selection, position).
pub type OperationHeader<'d> = (
    &'static str,
    Option<&'d str>,
    &'d [VariableDefinition<'static, String>],
    &'d [Directive<'static, String>],
    &'d SelectionSet<'static, String>,
    Pos,
);

pub fn operation_header<'d>(op: &'d OperationDefinition<'static, String>) -> OperationHeader<'d> {
    match op {
        OperationDefinition::SelectionSet(set) => ("query", None, &[], &[], set, set.span.0),
        OperationDefinition::Query(q) => (
            "query",
            q.name.as_deref(),
            &q.variable_definitions,
            &q.directives,
            &q.selection_set,
            q.position,
        ),
        OperationDefinition::Mutation(m) => (
            "mutation",
            m.name.as_deref(),
            &m.variable_definitions,
            &m.directives,
            &m.selection_set,
            m.position,
        ),
        OperationDefinition::Subscription(s) => (
            "subscription",
            s.name.as_deref(),
            &s.variable_definitions,
            &s.directives,
            &s.selection_set,
            s.position,
        ),
    }
}

/// The first element of a static error's `path`: `query OpName`, or `query` when anonymous.
pub fn operation_label(kind: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{kind} {name}"),
        None => kind.to_string(),
    }
}

/// Checks the whole document; an empty list means it may run. Also what the document uses that
/// the schema marks deprecated (`Order.email`, `Mutation.orderCancel(refund)`), as Shopify
/// names them in `X-Shopify-API-Deprecated-Reason`.
pub fn validate(doc: &Doc) -> (Vec<Value>, BTreeSet<String>) {
    let mut validator = Validator {
        deprecated: BTreeSet::new(),
        schema: Schema::get(),
        fragments: HashMap::new(),
        errors: Vec::new(),
        path: Vec::new(),
        variables: HashMap::new(),
        used_variables: HashSet::new(),
        used_fragments: HashSet::new(),
        visiting: Vec::new(),
        operation: String::new(),
    };
    for definition in &doc.definitions {
        if let Definition::Fragment(fragment) = definition {
            validator.fragments.insert(fragment.name.as_str(), fragment);
        }
    }
    for definition in &doc.definitions {
        match definition {
            Definition::Operation(op) => validator.operation(op),
            Definition::Fragment(fragment) => validator.fragment_definition(fragment),
        }
    }
    for definition in &doc.definitions {
        if let Definition::Fragment(fragment) = definition
            && !validator.used_fragments.contains(fragment.name.as_str())
        {
            let path = vec![format!("fragment {}", fragment.name)];
            validator.errors.push(static_error(
                format!("Fragment {} was defined, but not used", fragment.name),
                fragment.position,
                &path,
                json!({"code": "useAndDefineFragment", "fragmentName": fragment.name}),
            ));
        }
    }
    (validator.errors, validator.deprecated)
}

struct Validator<'d> {
    deprecated: BTreeSet<String>,
    schema: &'static Schema,
    fragments: HashMap<&'d str, &'d FragmentDefinition<'static, String>>,
    errors: Vec<Value>,
    path: Vec<String>,
    /// The current operation's variables: type and whether a default exists.
    variables: HashMap<&'d str, (TypeRef, bool)>,
    used_variables: HashSet<String>,
    used_fragments: HashSet<String>,
    visiting: Vec<String>,
    /// `OpName` or `anonymous query`, for variable messages.
    operation: String,
}

impl<'d> Validator<'d> {
    fn error(&mut self, message: String, pos: Pos, extensions: Value) {
        self.errors
            .push(static_error(message, pos, &self.path, extensions));
    }

    fn operation(&mut self, op: &'d OperationDefinition<'static, String>) {
        let (kind, name, variables, directives, selection, pos) = operation_header(op);
        self.path = vec![operation_label(kind, name)];
        self.operation = name.map_or_else(|| format!("anonymous {kind}"), str::to_string);
        self.variables.clear();
        self.used_variables.clear();
        for variable in variables {
            let ty = TypeRef::from_ast(&variable.var_type);
            if !self.schema.is_input(ty.name()) {
                self.error(
                    format!(
                        "{} isn't a defined input type (on ${})",
                        ty.name(),
                        variable.name
                    ),
                    variable.position,
                    json!({"code": "variableRequiresValidType", "typeName": ty.name(), "variableName": variable.name}),
                );
            }
            self.variables.insert(
                variable.name.as_str(),
                (ty, variable.default_value.is_some()),
            );
        }
        self.directives(directives);
        let root = match kind {
            "query" => QUERY_ROOT,
            "mutation" => MUTATION_ROOT,
            _ => {
                self.error(
                    "Schema is not configured for subscriptions".into(),
                    pos,
                    json!({"code": "missingSubscriptionConfiguration", "operationName": name}),
                );
                return;
            }
        };
        self.selection_set(root, selection, true);
        for variable in variables {
            if !self.used_variables.contains(variable.name.as_str()) {
                self.error(
                    format!(
                        "Variable ${} is declared by {} but not used",
                        variable.name, self.operation
                    ),
                    variable.position,
                    json!({"code": "variableNotUsed", "variableName": variable.name}),
                );
            }
        }
    }

    fn fragment_definition(&mut self, fragment: &'d FragmentDefinition<'static, String>) {
        let graphql_parser::query::TypeCondition::On(condition) = &fragment.type_condition;
        self.path = vec![format!("fragment {}", fragment.name)];
        // Variables in fragments are checked where the fragment is spread.
        self.variables.clear();
        self.operation.clear();
        if !self.schema.is_composite(condition) {
            self.error(
                format!("No such type {condition}, so it can't be a fragment condition"),
                fragment.position,
                json!({"code": "undefinedType", "typeName": condition}),
            );
            return;
        }
        self.selection_set(condition, &fragment.selection_set, true);
    }

    /// `report` is false while re-walking a fragment inside an operation: only variable
    /// usages are checked then (the fragment's own errors were reported once already).
    fn selection_set(
        &mut self,
        parent: &str,
        set: &'d SelectionSet<'static, String>,
        report: bool,
    ) {
        for selection in &set.items {
            match selection {
                Selection::Field(field) => self.field(parent, field, report),
                Selection::InlineFragment(inline) => {
                    let condition = match &inline.type_condition {
                        Some(graphql_parser::query::TypeCondition::On(c)) => c.as_str(),
                        None => parent,
                    };
                    self.path.push(match &inline.type_condition {
                        Some(_) => format!("... on {condition}"),
                        None => "...".to_string(),
                    });
                    if report {
                        self.directives(&inline.directives);
                    }
                    if !self.schema.is_composite(condition) {
                        if report {
                            self.error(
                                format!(
                                    "No such type {condition}, so it can't be a fragment condition"
                                ),
                                inline.position,
                                json!({"code": "undefinedType", "typeName": condition}),
                            );
                        }
                    } else if !self.spread_possible(condition, parent) {
                        if report {
                            self.error(
                                format!("Fragment on {condition} can't be spread inside {parent}"),
                                inline.position,
                                json!({"code": "fragmentSpreadTypeMismatch", "fragmentName": "unknown", "typeName": parent}),
                            );
                        }
                    } else {
                        self.selection_set(condition, &inline.selection_set, report);
                    }
                    self.path.pop();
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name.as_str();
                    self.used_fragments.insert(name.to_string());
                    self.path.push(format!("... {name}"));
                    if report {
                        self.directives(&spread.directives);
                    }
                    match self.fragments.get(name).copied() {
                        None => {
                            if report {
                                self.error(
                                    format!("Fragment {name} was used, but not defined"),
                                    spread.position,
                                    json!({"code": "useAndDefineFragment", "fragmentName": name}),
                                );
                            }
                        }
                        Some(fragment) => {
                            let graphql_parser::query::TypeCondition::On(condition) =
                                &fragment.type_condition;
                            if self.schema.is_composite(condition)
                                && !self.spread_possible(condition, parent)
                            {
                                if report {
                                    self.error(
                                        format!(
                                            "Fragment {name} on {condition} can't be spread inside {parent}"
                                        ),
                                        spread.position,
                                        json!({"code": "fragmentSpreadTypeMismatch", "fragmentName": name, "typeName": parent}),
                                    );
                                }
                            } else if !self.visiting.iter().any(|v| v == name)
                                && self.schema.is_composite(condition)
                            {
                                self.visiting.push(name.to_string());
                                self.selection_set(condition, &fragment.selection_set, false);
                                self.visiting.pop();
                            }
                        }
                    }
                    self.path.pop();
                }
            }
        }
    }

    fn spread_possible(&self, condition: &str, parent: &str) -> bool {
        let a = self.schema.possible_types(condition);
        let b = self.schema.possible_types(parent);
        a.iter().any(|t| b.contains(t))
    }

    fn field(&mut self, parent: &str, field: &'d Field<'static, String>, report: bool) {
        let key = field.alias.as_deref().unwrap_or(&field.name);
        self.path.push(key.to_string());
        if field.name == "__typename" {
            if report && !field.selection_set.items.is_empty() {
                self.leaf_with_selections(field, "String", "scalars");
            }
            self.path.pop();
            return;
        }
        let definition = self
            .schema
            .type_def(parent)
            .and_then(|t| t.field(&field.name));
        let Some(definition) = definition else {
            if report {
                self.error(
                    format!("Field '{}' doesn't exist on type '{parent}'", field.name),
                    field.position,
                    json!({"code": "undefinedField", "typeName": parent, "fieldName": field.name}),
                );
            }
            self.path.pop();
            return;
        };
        if definition.deprecated.is_some() {
            self.deprecated.insert(format!("{parent}.{}", field.name));
        }
        if report {
            self.directives(&field.directives);
        } else {
            for directive in &field.directives {
                for (_, value) in &directive.arguments {
                    self.variable_usages(value, None, "", directive.position);
                }
            }
        }
        self.arguments(parent, definition, field, report);
        let target = definition.ty.name();
        let kind = self.schema.kind(target);
        let has_selections = !field.selection_set.items.is_empty();
        match kind {
            Some(Kind::Object | Kind::Interface) => {
                if !has_selections {
                    if report {
                        self.error(
                            format!(
                                "Field must have selections (field '{}' returns {} but has no selections. Did you mean '{} {{ ... }}'?)",
                                field.name, definition.ty, field.name
                            ),
                            field.position,
                            json!({"code": "selectionMismatch", "nodeName": format!("field '{}'", field.name), "typeName": definition.ty.to_string()}),
                        );
                    }
                } else {
                    self.selection_set(target, &field.selection_set, report);
                }
            }
            Some(Kind::Enum) if has_selections && report => {
                self.leaf_with_selections(field, &definition.ty.to_string(), "enums");
            }
            _ if has_selections && report => {
                self.leaf_with_selections(field, &definition.ty.to_string(), "scalars");
            }
            _ => {}
        }
        self.path.pop();
    }

    fn leaf_with_selections(&mut self, field: &Field<'static, String>, ty: &str, what: &str) {
        let selected: Vec<String> = field
            .selection_set
            .items
            .iter()
            .filter_map(|s| match s {
                Selection::Field(f) => Some(format!("\"{}\"", f.name)),
                _ => None,
            })
            .collect();
        self.error(
            format!(
                "Selections can't be made on {what} (field '{}' returns {ty} but has selections [{}])",
                field.name,
                selected.join(", ")
            ),
            field.position,
            json!({"code": "selectionMismatch", "nodeName": format!("field '{}'", field.name), "typeName": ty}),
        );
    }

    fn arguments(
        &mut self,
        parent: &str,
        definition: &FieldDef,
        field: &'d Field<'static, String>,
        report: bool,
    ) {
        for (name, value) in &field.arguments {
            let Some(arg) = definition.arg(name) else {
                if report {
                    self.error(
                        format!("Field '{}' doesn't accept argument '{name}'", field.name),
                        field.position,
                        json!({"code": "argumentNotAccepted", "name": field.name, "typeName": "Field", "argumentName": name}),
                    );
                }
                continue;
            };
            if arg.deprecated.is_some() {
                self.deprecated
                    .insert(format!("{parent}.{}({name})", field.name));
            }
            self.variable_usages(value, Some(&arg.ty), name, field.position);
            if report && !literal_fits(self.schema, value, &arg.ty) {
                self.path.push(name.clone());
                self.error(
                    format!(
                        "Argument '{name}' on Field '{}' has an invalid value ({}). Expected type '{}'.",
                        field.name,
                        serialize_literal(value),
                        arg.ty
                    ),
                    field.position,
                    json!({"code": "argumentLiteralsIncompatible", "typeName": "Field", "argumentName": name}),
                );
                self.path.pop();
            }
        }
        if !report {
            return;
        }
        let missing: Vec<&str> = definition
            .args
            .iter()
            .filter(|a| a.ty.is_non_null() && a.default.is_none())
            .filter(|a| !field.arguments.iter().any(|(n, _)| *n == a.name))
            .map(|a| a.name.as_str())
            .collect();
        if !missing.is_empty() {
            self.error(
                format!(
                    "Field '{}' is missing required arguments: {}",
                    field.name,
                    missing.join(", ")
                ),
                field.position,
                json!({"code": "missingRequiredArguments", "className": "Field", "name": field.name, "arguments": missing.join(", ")}),
            );
        }
    }

    fn directives(&mut self, directives: &'d [Directive<'static, String>]) {
        for directive in directives {
            let expected = match directive.name.as_str() {
                "skip" | "include" => Some(("if", TypeRef::non_null("Boolean"))),
                "idempotent" => Some(("key", TypeRef::non_null("String"))),
                _ => None,
            };
            let Some((arg_name, arg_type)) = expected else {
                self.error(
                    format!("Directive @{} is not defined", directive.name),
                    directive.position,
                    json!({"code": "undefinedDirective", "directiveName": directive.name}),
                );
                continue;
            };
            for (name, value) in &directive.arguments {
                if name != arg_name {
                    self.error(
                        format!(
                            "Directive '{}' doesn't accept argument '{name}'",
                            directive.name
                        ),
                        directive.position,
                        json!({"code": "argumentNotAccepted", "name": directive.name, "typeName": "Directive", "argumentName": name}),
                    );
                    continue;
                }
                self.variable_usages(value, Some(&arg_type), name, directive.position);
            }
            if !directive.arguments.iter().any(|(n, _)| n == arg_name) {
                self.error(
                    format!(
                        "Directive '{}' is missing required arguments: {arg_name}",
                        directive.name
                    ),
                    directive.position,
                    json!({"code": "missingRequiredArguments", "className": "Directive", "name": directive.name, "arguments": arg_name}),
                );
            }
        }
    }

    /// Records variables used in `value` and checks each against the type where it is used.
    fn variable_usages(
        &mut self,
        value: &Literal<'static, String>,
        at: Option<&TypeRef>,
        arg: &str,
        pos: Pos,
    ) {
        match value {
            Literal::Variable(name) => {
                self.used_variables.insert(name.clone());
                if self.operation.is_empty() {
                    return;
                }
                match self.variables.get(name.as_str()).cloned() {
                    None => {
                        let message = format!(
                            "Variable ${name} is used by {} but not declared",
                            self.operation
                        );
                        self.error(
                            message,
                            pos,
                            json!({"code": "variableNotDefined", "variableName": name}),
                        );
                    }
                    Some((declared, has_default)) => {
                        if let Some(expected) = at
                            && !variable_allowed(&declared, has_default, expected)
                        {
                            let kind = if declared.nullable().to_string()
                                == expected.nullable().to_string()
                            {
                                "Nullability mismatch"
                            } else {
                                "Type mismatch"
                            };
                            self.error(
                                format!(
                                    "{kind} on variable ${name} and argument {arg} ({declared} / {expected})"
                                ),
                                pos,
                                json!({"code": "variableMismatch", "variableName": name, "typeName": declared.to_string(), "argumentName": arg, "errorMessage": kind}),
                            );
                        }
                    }
                }
            }
            Literal::List(items) => {
                let inner = at.and_then(|t| match t.nullable() {
                    TypeRef::List(inner) => Some((**inner).clone()),
                    _ => None,
                });
                for item in items {
                    self.variable_usages(item, inner.as_ref(), arg, pos);
                }
            }
            Literal::Object(fields) => {
                let input = at.and_then(|t| self.schema.type_def(t.name()));
                for (name, item) in fields {
                    let ty = input
                        .and_then(|t| t.input_field(name))
                        .map(|f| f.ty.clone());
                    self.variable_usages(item, ty.as_ref(), name, pos);
                }
            }
            _ => {}
        }
    }
}

impl TypeRef {
    pub fn non_null(name: &str) -> TypeRef {
        TypeRef::NonNull(Box::new(TypeRef::Named(name.to_string())))
    }
}

/// Whether a variable of `declared` type may be used where `expected` is wanted.
fn variable_allowed(declared: &TypeRef, has_default: bool, expected: &TypeRef) -> bool {
    if has_default
        && !declared.is_non_null()
        && let TypeRef::NonNull(inner) = expected
    {
        return type_within(declared, inner);
    }
    type_within(declared, expected)
}

fn type_within(declared: &TypeRef, expected: &TypeRef) -> bool {
    match (declared, expected) {
        (TypeRef::NonNull(d), TypeRef::NonNull(e)) => type_within(d, e),
        (TypeRef::NonNull(d), e) => type_within(d, e),
        (_, TypeRef::NonNull(_)) => false,
        (TypeRef::List(d), TypeRef::List(e)) => type_within(d, e),
        (TypeRef::Named(d), TypeRef::Named(e)) => d == e,
        _ => false,
    }
}

/// Whether a literal (variables aside) is a valid value of `ty`.
fn literal_fits(schema: &Schema, value: &Literal<'static, String>, ty: &TypeRef) -> bool {
    match (ty, value) {
        (_, Literal::Variable(_)) => true,
        (TypeRef::NonNull(_), Literal::Null) => false,
        (TypeRef::NonNull(inner), v) => literal_fits(schema, v, inner),
        (_, Literal::Null) => true,
        (TypeRef::List(inner), Literal::List(items)) => {
            items.iter().all(|i| literal_fits(schema, i, inner))
        }
        (TypeRef::List(inner), v) => literal_fits(schema, v, inner),
        (TypeRef::Named(name), v) => match schema.type_def(name) {
            None => false,
            Some(def) => match def.kind {
                Kind::Enum => {
                    matches!(v, Literal::Enum(e) if def.enum_values.iter().any(|x| x == e))
                }
                Kind::InputObject => match v {
                    Literal::Object(fields) => {
                        fields.keys().all(|k| def.input_field(k).is_some())
                            && def.input_fields.iter().all(|f| match fields.get(&f.name) {
                                Some(v) => literal_fits(schema, v, &f.ty),
                                None => !f.ty.is_non_null() || f.default.is_some(),
                            })
                    }
                    _ => false,
                },
                Kind::Scalar => scalar_literal_fits(name, v),
                Kind::Object | Kind::Interface => false,
            },
        },
    }
}

fn scalar_literal_fits(scalar: &str, value: &Literal<'static, String>) -> bool {
    match (scalar, value) {
        ("Int", Literal::Int(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        ("Float", Literal::Int(_) | Literal::Float(_)) => true,
        ("Boolean", Literal::Boolean(_)) => true,
        ("String", Literal::String(_)) => true,
        ("ID", Literal::String(_) | Literal::Int(_)) => true,
        ("Decimal" | "Money" | "UnsignedInt64", Literal::String(_) | Literal::Int(_)) => true,
        ("Decimal" | "Money", Literal::Float(_)) => true,
        ("Int" | "Float" | "Boolean" | "String" | "ID", _) => false,
        (_, Literal::String(_)) => true,
        _ => false,
    }
}

/// A literal as GraphQL source text, for messages.
pub fn serialize_literal(value: &Literal<'static, String>) -> String {
    match value {
        Literal::Variable(name) => format!("${name}"),
        Literal::Int(n) => n.as_i64().unwrap_or_default().to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::String(s) => Value::String(s.clone()).to_string(),
        Literal::Boolean(b) => b.to_string(),
        Literal::Null => "null".into(),
        Literal::Enum(e) => e.clone(),
        Literal::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(serialize_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Literal::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", serialize_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A literal as JSON, with variables substituted. A variable absent from `variables` yields
/// `None` (as if the argument or field had not been given).
pub fn literal_to_json(
    value: &Literal<'static, String>,
    variables: &Map<String, Value>,
) -> Option<Value> {
    Some(match value {
        Literal::Variable(name) => return variables.get(name).cloned(),
        Literal::Int(n) => json!(n.as_i64().unwrap_or_default()),
        Literal::Float(f) => json!(f),
        Literal::String(s) => json!(s),
        Literal::Boolean(b) => json!(b),
        Literal::Null => Value::Null,
        Literal::Enum(e) => json!(e),
        Literal::List(items) => Value::Array(
            items
                .iter()
                .map(|i| literal_to_json(i, variables).unwrap_or(Value::Null))
                .collect(),
        ),
        Literal::Object(fields) => Value::Object(
            fields
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), literal_to_json(v, variables)?)))
                .collect(),
        ),
    })
}

/// Input fields that older API versions still accept: (input type, field).
pub type LegacyFields = &'static [(&'static str, &'static str)];

/// Coerces the request's variables for `definitions`, answering `INVALID_VARIABLE` errors.
/// Keys absent from the request stay absent (unless defaulted), so "not given" and "null"
/// remain distinguishable. `legacy` input fields pass through unchecked.
/// The input fields given that the schema marks deprecated (`ReturnInput.notifyCustomer`) are
/// added to `deprecated`.
pub fn coerce_variables(
    definitions: &[VariableDefinition<'static, String>],
    provided: &Map<String, Value>,
    legacy: LegacyFields,
    deprecated: &mut BTreeSet<String>,
) -> Result<Map<String, Value>, Vec<Value>> {
    let schema = Schema::get();
    let mut coerced = Map::new();
    let mut errors = Vec::new();
    for definition in definitions {
        let ty = TypeRef::from_ast(&definition.var_type);
        let name = &definition.name;
        let value = match provided.get(name) {
            Some(value) => value.clone(),
            None => match &definition.default_value {
                Some(default) => {
                    if let Some(value) = literal_to_json(default, &Map::new()) {
                        coerced.insert(name.clone(), value);
                    }
                    continue;
                }
                None if ty.is_non_null() => Value::Null,
                None => continue,
            },
        };
        let mut problems = Vec::new();
        let mut coercion = Coercion {
            schema,
            legacy,
            path: Vec::new(),
            problems: Vec::new(),
            deprecated: BTreeSet::new(),
        };
        let value_out = coercion.value(&value, &ty);
        deprecated.append(&mut coercion.deprecated);
        problems.append(&mut coercion.problems);
        if problems.is_empty() {
            coerced.insert(name.clone(), value_out);
            continue;
        }
        let detail: Vec<String> = problems
            .iter()
            .filter(|(path, _)| !path.is_empty())
            .map(|(path, explanation)| {
                let path: Vec<String> = path
                    .iter()
                    .map(|p| match p {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                format!("{} ({explanation})", path.join("."))
            })
            .collect();
        let message = if detail.is_empty() {
            format!("Variable ${name} of type {ty} was provided invalid value")
        } else {
            format!(
                "Variable ${name} of type {ty} was provided invalid value for {}",
                detail.join(", ")
            )
        };
        errors.push(json!({
            "message": message,
            "locations": [location(definition.position)],
            "extensions": {
                "code": "INVALID_VARIABLE",
                "value": value,
                "problems": problems
                    .into_iter()
                    .map(|(path, explanation)| json!({"path": path, "explanation": explanation}))
                    .collect::<Vec<_>>(),
            },
        }));
    }
    if errors.is_empty() {
        Ok(coerced)
    } else {
        Err(errors)
    }
}

type Problem = (Vec<Value>, String);

struct Coercion<'a> {
    schema: &'a Schema,
    legacy: LegacyFields,
    path: Vec<Value>,
    problems: Vec<Problem>,
    deprecated: BTreeSet<String>,
}

impl Coercion<'_> {
    fn problem(&mut self, explanation: String) {
        self.problems.push((self.path.clone(), explanation));
    }

    fn value(&mut self, value: &Value, ty: &TypeRef) -> Value {
        let schema = self.schema;
        match ty {
            TypeRef::NonNull(inner) => {
                if value.is_null() {
                    self.problem("Expected value to not be null".into());
                    return Value::Null;
                }
                self.value(value, inner)
            }
            _ if value.is_null() => Value::Null,
            TypeRef::List(inner) => match value {
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| {
                            self.path.push(json!(index));
                            let out = self.value(item, inner);
                            self.path.pop();
                            out
                        })
                        .collect(),
                ),
                single => Value::Array(vec![self.value(single, inner)]),
            },
            TypeRef::Named(name) => {
                let Some(def) = schema.type_def(name) else {
                    self.problem(format!("Unknown type {name}"));
                    return Value::Null;
                };
                match def.kind {
                    Kind::Enum => match value {
                        Value::String(s) if def.enum_values.iter().any(|v| v == s) => value.clone(),
                        other => {
                            self.problem(format!(
                                "Expected {other} to be one of: {}",
                                def.enum_values.join(", ")
                            ));
                            Value::Null
                        }
                    },
                    Kind::InputObject => {
                        let Value::Object(fields) = value else {
                            self.problem(format!("Expected {value} to be a key-value object."));
                            return Value::Null;
                        };
                        let mut out = Map::new();
                        for (key, v) in fields {
                            if def.input_field(key).is_some() {
                                continue;
                            }
                            if self.legacy.contains(&(name.as_str(), key.as_str())) {
                                out.insert(key.clone(), v.clone());
                                continue;
                            }
                            self.path.push(json!(key));
                            self.problem(format!("Field is not defined on {name}"));
                            self.path.pop();
                        }
                        for field in &def.input_fields {
                            self.path.push(json!(field.name));
                            match fields.get(&field.name) {
                                Some(v) => {
                                    if field.deprecated.is_some() {
                                        self.deprecated.insert(format!("{name}.{}", field.name));
                                    }
                                    let v = self.value(v, &field.ty);
                                    out.insert(field.name.clone(), v);
                                }
                                None => match &field.default {
                                    Some(default) => {
                                        if let Some(v) = literal_to_json(default, &Map::new()) {
                                            out.insert(field.name.clone(), v);
                                        }
                                    }
                                    None if field.ty.is_non_null() => {
                                        self.problem("Expected value to not be null".into())
                                    }
                                    None => {}
                                },
                            }
                            self.path.pop();
                        }
                        Value::Object(out)
                    }
                    _ => match coerce_scalar(name, value) {
                        Some(v) => v,
                        None => {
                            self.problem(format!("Could not coerce value {value} to {name}"));
                            Value::Null
                        }
                    },
                }
            }
        }
    }
}

fn coerce_scalar(name: &str, value: &Value) -> Option<Value> {
    match (name, value) {
        ("Int", Value::Number(n)) => n
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .map(|n| json!(n)),
        ("Float", Value::Number(_)) => Some(value.clone()),
        ("Boolean", Value::Bool(_)) => Some(value.clone()),
        ("String", Value::String(_)) => Some(value.clone()),
        ("ID", Value::String(_)) => Some(value.clone()),
        ("ID", Value::Number(n)) => Some(json!(n.to_string())),
        ("Decimal" | "Money" | "UnsignedInt64", Value::Number(n)) => Some(json!(n.to_string())),
        ("Int" | "Float" | "Boolean" | "String" | "ID", _) => None,
        (_, Value::String(_)) => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_read_like_graphql_ruby() {
        let error = parse("query A {\n  shop {\n    id\n").err();
        assert_eq!(
            error,
            Some(json!({
                "message": "syntax error, unexpected end of file at [3, 5]",
                "locations": [{"line": 3, "column": 5}],
                "extensions": {"code": "PARSE_ERROR"},
            }))
        );
        let error = parse("{ orders(first: ) { id } }").err();
        assert_eq!(
            error.as_ref().and_then(|e| e["message"].as_str()),
            Some("syntax error, unexpected RPAREN (\")\") at [1, 17]")
        );
    }

    #[test]
    fn variables_are_coerced_with_problem_paths() {
        let doc = parse("mutation M($input: InventorySetQuantitiesInput!, $n: Int) { x }");
        let Ok(doc) = doc else { panic!("parses") };
        let Definition::Operation(op) = &doc.definitions[0] else {
            panic!("an operation")
        };
        let (_, _, variables, ..) = operation_header(op);
        let provided = json!({"input": {"name": "available", "reason": "correction", "ignoreCompareQuantity": true, "quantities": []}, "n": "x"});
        let Value::Object(provided) = provided else {
            panic!()
        };
        let errors = coerce_variables(variables, &provided, &[], &mut BTreeSet::new())
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0]["message"],
            "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for ignoreCompareQuantity (Field is not defined on InventorySetQuantitiesInput)"
        );
        assert_eq!(
            errors[0]["extensions"]["problems"],
            json!([{"path": ["ignoreCompareQuantity"], "explanation": "Field is not defined on InventorySetQuantitiesInput"}])
        );
        assert_eq!(
            errors[1]["extensions"]["problems"][0]["explanation"],
            "Could not coerce value \"x\" to Int"
        );
    }
}
