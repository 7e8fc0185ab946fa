//! Execution of a validated operation: field collection, argument values, completion with
//! GraphQL's null propagation, and the actual cost of what was returned.
//!
//! Queries run under one shop lock, so a response is a consistent snapshot. Mutation fields run
//! one after another: each applies its change through `ShopifyState` (no lock held), then its
//! payload is read under a fresh lock.

use std::collections::HashMap;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use graphql_parser::Pos;
use graphql_parser::query::{Field, SelectionSet};
use serde_json::{Map, Value, json};

use super::cost::{self, ROOT_COUNT, mutation_field_cost};
use super::errors::FieldError;
use super::mutations;
use super::resolve::{self, Obj, Out};
use super::schema::{FieldDef, Kind, MUTATION_ROOT, QUERY_ROOT, Schema, TypeRef};
use super::selection::{Collected, Collector, Fragments};
use super::validate::literal_to_json;
use crate::shopify::ShopifyState;
use crate::shopify::model::Shop;

/// A non-null field turned out null: the null moves up to the nearest nullable parent.
#[derive(Debug, Clone, Copy)]
pub struct Propagate;

/// What execution produced.
pub struct Executed {
    pub data: Value,
    pub errors: Vec<Value>,
    pub actual_cost: u64,
    /// `extensions.search` entries.
    pub search: Vec<Value>,
}

/// How a list of objects is charged: inside a connection every node counts, elsewhere a list
/// costs like one object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ListCost {
    Sum,
    One,
}

pub struct Executor<'d> {
    pub schema: &'static Schema,
    pub state: &'d ShopifyState,
    pub fragments: &'d Fragments<'d>,
    pub variables: Map<String, Value>,
    /// Where each variable was declared, for errors about input that came from it.
    pub variable_positions: HashMap<String, Pos>,
    /// The API version of the request (`2026-10`).
    pub version: String,
    pub now: DateTime<Utc>,
    pub errors: Vec<Value>,
    pub search: Vec<Value>,
}

impl<'d> Executor<'d> {
    fn collector(&self) -> Collector<'_, 'd> {
        Collector {
            schema: self.schema,
            fragments: self.fragments,
            variables: &self.variables,
        }
    }

    /// Runs a query operation.
    pub fn query(mut self, selection: &'d SelectionSet<'static, String>) -> Executed {
        let state = self.state;
        let shop = state.shop();
        let fields = self.collector().collect(QUERY_ROOT, &[selection]);
        let mut data = Map::new();
        let mut cost = 0;
        let mut failed = false;
        for collected in &fields {
            let mut path = Vec::new();
            match self.field(&shop, &Obj::Query, QUERY_ROOT, collected, &mut path, 0) {
                Ok((value, c)) => {
                    let def = self.field_def(QUERY_ROOT, &collected.first().name);
                    let c = match def {
                        Some(def) if cost::is_root_count(QUERY_ROOT, &def.name, def.ty.name()) => {
                            ROOT_COUNT
                        }
                        _ => c,
                    };
                    cost += c;
                    data.insert(collected.key.clone(), value);
                }
                Err(Propagate) => failed = true,
            }
        }
        drop(shop);
        self.finish(
            if failed {
                Value::Null
            } else {
                Value::Object(data)
            },
            cost.max(1),
        )
    }

    /// Runs a mutation operation, one field after another.
    pub fn mutation(mut self, selection: &'d SelectionSet<'static, String>) -> Executed {
        let fields = self.collector().collect(MUTATION_ROOT, &[selection]);
        let mut data = Map::new();
        let mut cost = 0;
        for collected in &fields {
            let field = collected.first();
            cost += mutation_field_cost(&field.name);
            if field.name == "__typename" {
                data.insert(collected.key.clone(), json!(MUTATION_ROOT));
                continue;
            }
            let Some(def) = self.field_def(MUTATION_ROOT, &field.name) else {
                continue;
            };
            let args = self.arguments(def, field);
            let path = vec![json!(collected.key)];
            match mutations::run(&mut self, &def.name, &args, field) {
                Err(error) => {
                    self.errors.push(error.to_json(field.position, &path));
                    data.insert(collected.key.clone(), Value::Null);
                }
                Ok(payload) => {
                    let state = self.state;
                    let shop = state.shop();
                    let mut path = path;
                    let out = Out::Obj(Obj::Payload(Rc::new(payload)));
                    let sub = collected.sub_selections();
                    let (value, c) = self
                        .complete(&shop, &def.ty, out, &sub, &mut path, 2, ListCost::One)
                        .unwrap_or((Value::Null, 0));
                    cost += c;
                    data.insert(collected.key.clone(), value);
                }
            }
        }
        self.finish(Value::Object(data), cost.max(1))
    }

    fn finish(self, data: Value, actual_cost: u64) -> Executed {
        Executed {
            data,
            errors: self.errors,
            actual_cost,
            search: self.search,
        }
    }

    fn field_def(&self, type_name: &str, field: &str) -> Option<&'static FieldDef> {
        self.schema.type_def(type_name).and_then(|t| t.field(field))
    }

    /// Argument values of `field`: literals with variables substituted, then defaults. An
    /// argument neither given nor defaulted is absent.
    pub fn arguments(&self, def: &FieldDef, field: &Field<'static, String>) -> Map<String, Value> {
        let mut args = Map::new();
        for arg in &def.args {
            let given = field
                .arguments
                .iter()
                .find(|(name, _)| *name == arg.name)
                .and_then(|(_, value)| literal_to_json(value, &self.variables));
            let value = given.or_else(|| {
                arg.default
                    .as_ref()
                    .and_then(|d| literal_to_json(d, &Map::new()))
            });
            if let Some(value) = value {
                args.insert(arg.name.clone(), value);
            }
        }
        args
    }

    /// Resolves and completes one response key of an object.
    #[allow(clippy::too_many_arguments)]
    fn field<'s>(
        &mut self,
        shop: &'s Shop,
        obj: &Obj<'s>,
        parent: &str,
        collected: &Collected<'d>,
        path: &mut Vec<Value>,
        free_depth: u8,
    ) -> Result<(Value, u64), Propagate> {
        let field = collected.first();
        if field.name == "__typename" {
            let name = obj.type_name().unwrap_or(parent);
            return Ok((json!(name), 0));
        }
        let Some(def) = self.field_def(parent, &field.name) else {
            return Ok((Value::Null, 0));
        };
        let args = self.arguments(def, field);
        path.push(json!(collected.key));
        let resolved = resolve::resolve(self, shop, obj, parent, def, &args, &collected.key);
        let list_cost = if cost::is_connection(parent) {
            ListCost::Sum
        } else {
            ListCost::One
        };
        let result = match resolved {
            Err(error) => {
                self.record(&error, field.position, path);
                if def.ty.is_non_null() {
                    Err(Propagate)
                } else {
                    Ok((Value::Null, 0))
                }
            }
            Ok(out) => {
                let sub = collected.sub_selections();
                self.complete(shop, &def.ty, out, &sub, path, free_depth, list_cost)
            }
        };
        path.pop();
        result
    }

    pub fn record(&mut self, error: &FieldError, pos: Pos, path: &[Value]) {
        self.errors.push(error.to_json(pos, path));
    }

    #[allow(clippy::too_many_arguments)]
    fn complete<'s>(
        &mut self,
        shop: &'s Shop,
        ty: &TypeRef,
        out: Out<'s>,
        sub: &[&'d SelectionSet<'static, String>],
        path: &mut Vec<Value>,
        free_depth: u8,
        list_cost: ListCost,
    ) -> Result<(Value, u64), Propagate> {
        if let TypeRef::NonNull(inner) = ty {
            if matches!(out, Out::Null) {
                let message = format!(
                    "Cannot return null for non-nullable field {}",
                    path.last().map(|p| p.to_string()).unwrap_or_default()
                );
                self.errors.push(json!({"message": message, "path": path}));
                return Err(Propagate);
            }
            return self.complete_inner(shop, inner, out, sub, path, free_depth, list_cost);
        }
        Ok(self
            .complete_inner(shop, ty, out, sub, path, free_depth, list_cost)
            .unwrap_or((Value::Null, 0)))
    }

    #[allow(clippy::too_many_arguments)]
    fn complete_inner<'s>(
        &mut self,
        shop: &'s Shop,
        ty: &TypeRef,
        out: Out<'s>,
        sub: &[&'d SelectionSet<'static, String>],
        path: &mut Vec<Value>,
        free_depth: u8,
        list_cost: ListCost,
    ) -> Result<(Value, u64), Propagate> {
        match (ty, out) {
            (_, Out::Null) => Ok((Value::Null, 0)),
            // Leaves (scalars, enums and lists of them) come out of resolvers finished.
            (_, Out::Leaf(value)) => Ok((value, 0)),
            (TypeRef::List(item), Out::List(items)) => {
                let is_object = self.schema.is_composite(item.name());
                let mut values = Vec::with_capacity(items.len());
                let mut sum = 0;
                let mut max = 0;
                for (index, element) in items.into_iter().enumerate() {
                    path.push(json!(index));
                    let completed =
                        self.complete(shop, item, element, sub, path, free_depth, list_cost);
                    path.pop();
                    let (value, c) = completed?;
                    sum += c;
                    max = max.max(c);
                    values.push(value);
                }
                let cost = match list_cost {
                    ListCost::Sum => sum,
                    ListCost::One if is_object && free_depth == 0 => max.max(1),
                    ListCost::One => max,
                };
                Ok((Value::Array(values), cost))
            }
            (TypeRef::List(item), single) => self.complete_inner(
                shop,
                &TypeRef::List(item.clone()),
                Out::List(vec![single]),
                sub,
                path,
                free_depth,
                list_cost,
            ),
            (TypeRef::Named(name), Out::Obj(obj)) => {
                self.complete_object(shop, name, &obj, sub, path, free_depth)
            }
            (TypeRef::Named(_), Out::List(_)) | (TypeRef::NonNull(_), _) => Ok((Value::Null, 0)),
        }
    }

    fn complete_object<'s>(
        &mut self,
        shop: &'s Shop,
        declared: &str,
        obj: &Obj<'s>,
        sub: &[&'d SelectionSet<'static, String>],
        path: &mut Vec<Value>,
        free_depth: u8,
    ) -> Result<(Value, u64), Propagate> {
        let type_name = match self.schema.kind(declared) {
            Some(Kind::Interface) => obj.type_name().unwrap_or(declared),
            _ => declared,
        };
        let own = if free_depth > 0 || cost::is_free_type(type_name) || type_name.ends_with("Edge")
        {
            0
        } else {
            1
        };
        let fields = self.collector().collect(type_name, sub);
        let mut map = Map::new();
        let mut cost = own;
        for collected in &fields {
            let (value, c) = self.field(
                shop,
                obj,
                type_name,
                collected,
                path,
                free_depth.saturating_sub(1),
            )?;
            cost += c;
            map.insert(collected.key.clone(), value);
        }
        Ok((Value::Object(map), cost))
    }
}
