//! Field collection: the fields a selection set asks of one type, fragments expanded,
//! `@skip`/`@include` applied, same response keys merged.

use std::collections::HashMap;

use graphql_parser::query::{Directive, Field, FragmentDefinition, Selection, SelectionSet};
use serde_json::{Map, Value};

use super::schema::{Kind, Schema};
use super::validate::literal_to_json;

pub type Fragments<'d> = HashMap<&'d str, &'d FragmentDefinition<'static, String>>;

/// Fields of one response key, in document order.
pub struct Collected<'d> {
    pub key: String,
    pub fields: Vec<&'d Field<'static, String>>,
}

impl<'d> Collected<'d> {
    pub fn first(&self) -> &'d Field<'static, String> {
        self.fields[0]
    }

    /// The sub-selections of every merged field.
    pub fn sub_selections(&self) -> Vec<&'d SelectionSet<'static, String>> {
        self.fields.iter().map(|f| &f.selection_set).collect()
    }
}

pub struct Collector<'a, 'd> {
    pub schema: &'static Schema,
    pub fragments: &'a Fragments<'d>,
    pub variables: &'a Map<String, Value>,
}

impl<'d> Collector<'_, 'd> {
    /// Collects the fields of `sets` that apply to `type_name`. For an interface, every
    /// fragment that could apply to one of its object types is included (used for cost).
    pub fn collect(
        &self,
        type_name: &str,
        sets: &[&'d SelectionSet<'static, String>],
    ) -> Vec<Collected<'d>> {
        let mut out: Vec<Collected<'d>> = Vec::new();
        let mut visited = Vec::new();
        for set in sets {
            self.collect_into(type_name, set, &mut out, &mut visited);
        }
        out
    }

    fn collect_into(
        &self,
        type_name: &str,
        set: &'d SelectionSet<'static, String>,
        out: &mut Vec<Collected<'d>>,
        visited: &mut Vec<&'d str>,
    ) {
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.alias.as_deref().unwrap_or(&field.name);
                    match out.iter_mut().find(|c| c.key == key) {
                        Some(existing) => existing.fields.push(field),
                        None => out.push(Collected {
                            key: key.to_string(),
                            fields: vec![field],
                        }),
                    }
                }
                Selection::InlineFragment(inline) => {
                    if !self.included(&inline.directives) {
                        continue;
                    }
                    let applies = match &inline.type_condition {
                        Some(graphql_parser::query::TypeCondition::On(c)) => {
                            self.applies(c, type_name)
                        }
                        None => true,
                    };
                    if applies {
                        self.collect_into(type_name, &inline.selection_set, out, visited);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    let name = spread.fragment_name.as_str();
                    let Some(fragment) = self.fragments.get(name) else {
                        continue;
                    };
                    if visited.contains(&name) {
                        continue;
                    }
                    let graphql_parser::query::TypeCondition::On(condition) =
                        &fragment.type_condition;
                    if self.applies(condition, type_name) {
                        visited.push(name);
                        self.collect_into(type_name, &fragment.selection_set, out, visited);
                        visited.pop();
                    }
                }
            }
        }
    }

    fn applies(&self, condition: &str, type_name: &str) -> bool {
        match self.schema.kind(type_name) {
            Some(Kind::Interface) => {
                condition == type_name
                    || self
                        .schema
                        .possible_types(condition)
                        .iter()
                        .any(|t| self.schema.applies(type_name, t))
            }
            _ => self.schema.applies(condition, type_name),
        }
    }

    /// `@skip(if:)` and `@include(if:)`.
    fn included(&self, directives: &[Directive<'static, String>]) -> bool {
        directives.iter().all(|d| {
            let condition = d
                .arguments
                .iter()
                .find(|(n, _)| n == "if")
                .and_then(|(_, v)| literal_to_json(v, self.variables))
                .and_then(|v| v.as_bool());
            !matches!(
                (d.name.as_str(), condition),
                ("skip", Some(true)) | ("include", Some(false))
            )
        })
    }
}
