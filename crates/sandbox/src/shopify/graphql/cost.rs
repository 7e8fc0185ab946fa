//! Shopify's calculated query cost (reference §6.1), as fitted to recorded real responses.
//!
//! - scalars and enums 0; objects 1; `MoneyBag`, `MoneyV2`, `CustomerEmailAddress`,
//!   `CustomerPhoneNumber`, `ShopAddress` and `pageInfo` 0; a plain list of objects costs like
//!   one object;
//! - a connection costs `2 + m(first|last) × (cost of one node)`, where `m(n)` counts the
//!   Fibonacci numbers in `[2, n]` (at least 1); nested connections multiply;
//! - root `*Count` fields 10; each mutation field 10 (`fulfillmentTrackingInfoUpdate` 50, as
//!   recorded) plus its payload's selection, where the payload and the objects directly under it
//!   are free;
//! - every query costs at least 1.
//!
//! The requested cost is computed here from the document; the actual cost applies the same
//! rules to what was really returned (see `execute.rs`): a returned connection costs
//! `1 + Σ node costs`, which reproduces Shopify's recorded actual costs.

use graphql_parser::query::{Field, SelectionSet};
use serde_json::{Map, Value};

use super::schema::{Kind, MUTATION_ROOT, QUERY_ROOT, Schema};
use super::selection::{Collector, Fragments};
use super::validate::literal_to_json;

/// Shopify's single-query limit.
pub const MAX_COST: u64 = 1000;
/// What a mutation field costs before its payload, unless [`mutation_field_cost`] says otherwise.
pub const MUTATION_FIELD: u64 = 10;
/// What `fulfillmentTrackingInfoUpdate` costs before its payload: recorded 51 requested and
/// actual for a payload that costs 1 under the fitted rules (draft-proxy
/// `2026-04/orders/fulfillment-state-preconditions.json`), where `fulfillmentCreate` with the
/// same payload cost 11.
pub const TRACKING_UPDATE_FIELD: u64 = 50;

/// What mutation field `name` costs before its payload.
pub fn mutation_field_cost(name: &str) -> u64 {
    match name {
        "fulfillmentTrackingInfoUpdate" => TRACKING_UPDATE_FIELD,
        _ => MUTATION_FIELD,
    }
}
/// What a root `*Count` field costs.
pub const ROOT_COUNT: u64 = 10;
/// Largest page a connection serves.
pub const MAX_PAGE: i64 = 250;

/// Object types that cost nothing.
pub fn is_free_type(name: &str) -> bool {
    matches!(
        name,
        "MoneyBag"
            | "MoneyV2"
            | "CustomerEmailAddress"
            | "CustomerPhoneNumber"
            | "ShopAddress"
            | "PageInfo"
    )
}

pub fn is_connection(name: &str) -> bool {
    name.ends_with("Connection")
}

/// `m(n)`: the number of Fibonacci numbers in `[2, n]`, at least 1.
pub fn page_multiplier(n: i64) -> u64 {
    let (mut a, mut b) = (1i64, 2i64);
    let mut count = 0;
    while b <= n {
        count += 1;
        (a, b) = (b, a + b);
    }
    count.max(1)
}

/// Whether a root field is a `*Count` field (cost 10).
pub fn is_root_count(root: &str, field: &str, type_name: &str) -> bool {
    root == QUERY_ROOT && field.ends_with("Count") && type_name == "Count"
}

/// The requested cost of running `selection` on `root`.
pub fn requested_cost(
    root: &str,
    selection: &SelectionSet<'static, String>,
    fragments: &Fragments<'_>,
    variables: &Map<String, Value>,
) -> u64 {
    let calc = Calc {
        schema: Schema::get(),
        collector: Collector {
            schema: Schema::get(),
            fragments,
            variables,
        },
    };
    let total: u64 = calc
        .collector
        .collect(root, &[selection])
        .iter()
        .map(|c| {
            let field = c.first();
            let Some(def) = calc
                .schema
                .type_def(root)
                .and_then(|t| t.field(&field.name))
            else {
                return 0;
            };
            let target = def.ty.name();
            if root == MUTATION_ROOT {
                mutation_field_cost(&field.name) + calc.selection(target, &c.sub_selections(), 2)
            } else if is_root_count(root, &field.name, target) {
                ROOT_COUNT
            } else {
                calc.field(target, &c.fields)
            }
        })
        .sum();
    total.max(1)
}

struct Calc<'a, 'd> {
    schema: &'static Schema,
    collector: Collector<'a, 'd>,
}

impl<'d> Calc<'_, 'd> {
    /// Cost of the fields selected on `type_name`; the first `free_depth` levels of objects
    /// cost nothing themselves (mutation payloads).
    fn selection(
        &self,
        type_name: &str,
        sets: &[&'d SelectionSet<'static, String>],
        free_depth: u8,
    ) -> u64 {
        if !self.schema.is_composite(type_name) {
            return 0;
        }
        self.collector
            .collect(type_name, sets)
            .iter()
            .map(|c| {
                let name = &c.first().name;
                let Some(def) = self.schema.type_def(type_name).and_then(|t| t.field(name)) else {
                    return 0;
                };
                let target = def.ty.name();
                if free_depth > 1 && !is_connection(target) {
                    self.selection(target, &c.sub_selections(), free_depth - 1)
                } else {
                    self.field(target, &c.fields)
                }
            })
            .sum()
    }

    fn field(&self, target: &str, fields: &[&'d Field<'static, String>]) -> u64 {
        let sets: Vec<_> = fields.iter().map(|f| &f.selection_set).collect();
        match self.schema.kind(target) {
            Some(Kind::Object | Kind::Interface) => {}
            _ => return 0,
        }
        if is_connection(target) {
            let size = fields
                .first()
                .map(|f| self.page_size(f))
                .unwrap_or_default();
            return 2 + page_multiplier(size) * self.node_cost(target, &sets);
        }
        if is_free_type(target) {
            return self.selection(target, &sets, 0);
        }
        1 + self.selection(target, &sets, 0)
    }

    /// Cost of one node of a connection, through `nodes` and `edges { node }`.
    fn node_cost(&self, connection: &str, sets: &[&'d SelectionSet<'static, String>]) -> u64 {
        let connection_def = self.schema.type_def(connection);
        let mut cost = 0;
        for c in self.collector.collect(connection, sets) {
            let Some(def) = connection_def.and_then(|t| t.field(&c.first().name)) else {
                continue;
            };
            match c.first().name.as_str() {
                "nodes" => cost += 1 + self.selection(def.ty.name(), &c.sub_selections(), 0),
                "edges" => {
                    let edge = def.ty.name();
                    for e in self.collector.collect(edge, &c.sub_selections()) {
                        if e.first().name == "node"
                            && let Some(node) =
                                self.schema.type_def(edge).and_then(|t| t.field("node"))
                        {
                            cost += 1 + self.selection(node.ty.name(), &e.sub_selections(), 0);
                        }
                    }
                }
                _ => {}
            }
        }
        cost
    }

    /// `first` or `last`, capped at the maximum page size.
    fn page_size(&self, field: &Field<'static, String>) -> i64 {
        field
            .arguments
            .iter()
            .filter(|(name, _)| name == "first" || name == "last")
            .filter_map(|(_, v)| literal_to_json(v, self.collector.variables))
            .filter_map(|v| v.as_i64())
            .max()
            .unwrap_or(0)
            .clamp(0, MAX_PAGE)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use graphql_parser::query::{Definition, OperationDefinition};

    use super::*;

    fn cost_of(query: &str) -> u64 {
        let Ok(doc) = graphql_parser::parse_query::<String>(query) else {
            panic!("parses")
        };
        let doc = doc.into_static();
        let Definition::Operation(op) = &doc.definitions[0] else {
            panic!("operation")
        };
        let (root, set) = match op {
            OperationDefinition::Query(q) => (QUERY_ROOT, &q.selection_set),
            OperationDefinition::Mutation(m) => (MUTATION_ROOT, &m.selection_set),
            OperationDefinition::SelectionSet(s) => (QUERY_ROOT, s),
            OperationDefinition::Subscription(_) => panic!("no subscriptions"),
        };
        requested_cost(root, set, &HashMap::new(), &Map::new())
    }

    #[test]
    fn the_fibonacci_multiplier_matches_the_fit() {
        let fitted = [
            (1, 1),
            (2, 1),
            (3, 2),
            (5, 3),
            (10, 4),
            (20, 5),
            (50, 7),
            (100, 9),
            (250, 11),
        ];
        for (n, m) in fitted {
            assert_eq!(page_multiplier(n), m, "m({n})");
        }
    }

    #[test]
    fn recorded_requested_costs_are_reproduced() {
        assert_eq!(cost_of("{ orders(first: 250) { nodes { id } } }"), 13);
        assert_eq!(
            cost_of("{ orders(first: 1) { nodes { id name } pageInfo { hasNextPage } } }"),
            3
        );
        // draft-proxy 2026-04 fulfillment-create-preconditions "hydrate": requested 50.
        assert_eq!(
            cost_of(
                "query { fulfillmentOrder(id: \"x\") { id order { id tags
                   fulfillments(first: 5) { id trackingInfo { number } }
                   fulfillmentOrders(first: 10) { nodes { id lineItems(first: 10) {
                     nodes { id totalQuantity lineItem { id title } } } } } } } }"
            ),
            50
        );
        // Recorded: tagsAdd 10, inventorySetQuantities 13.
        assert_eq!(
            cost_of(
                "mutation { tagsAdd(id: \"x\", tags: [\"a\"]) { node { id } userErrors { field message } } }"
            ),
            10
        );
        assert_eq!(
            cost_of(
                "mutation { inventorySetQuantities(input: {name: \"available\", reason: \"correction\", quantities: []}) {
                   inventoryAdjustmentGroup { id changes { name delta item { id } location { id } } }
                   userErrors { field message code } } }"
            ),
            13
        );
        // Recorded: fulfillmentCreate 11 and fulfillmentTrackingInfoUpdate 51 with this payload.
        let payload = "fulfillment { id status displayStatus trackingInfo { number url company } } userErrors { field message }";
        assert_eq!(
            cost_of(&format!(
                "mutation {{ fulfillmentCreate(fulfillment: {{lineItemsByFulfillmentOrder: []}}) {{ {payload} }} }}"
            )),
            11
        );
        assert_eq!(
            cost_of(&format!(
                "mutation {{ fulfillmentTrackingInfoUpdate(fulfillmentId: \"x\", trackingInfoInput: {{}}) {{ {payload} }} }}"
            )),
            51
        );
        assert_eq!(cost_of("{ ordersCount { count } }"), 10);
        assert_eq!(cost_of("{ __typename }"), 1);
        assert_eq!(
            cost_of(
                "{ order(id: \"x\") { totalPriceSet { shopMoney { amount } } customer { defaultEmailAddress { emailAddress } } } }"
            ),
            2
        );
    }
}
