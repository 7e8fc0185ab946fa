//! `POST /admin/api/{version}/graphql.json`: Shopify's Admin GraphQL endpoint.
//!
//! A request goes through the same gates as at Shopify, in the same order:
//! 1. `X-Shopify-Access-Token` (401 with Shopify's body otherwise);
//! 2. parsing (`PARSE_ERROR`), validation against the served schema (`undefinedField`, …) and
//!    variable coercion (`INVALID_VARIABLE`): HTTP 200, no cost;
//! 3. the requested cost: above 1000 `MAX_COST_EXCEEDED`; more than the bucket holds
//!    `THROTTLED` (HTTP 200, no `data`);
//! 4. execution, then a refund down to the actual cost; `extensions.cost` on the answer.
//!
//! Every response carries `X-Shopify-API-Version`. The served schema is in `schema.graphql`
//! (`schema.rs`), costs in `cost.rs`, reads in `resolve.rs`, writes in `mutations.rs`.

mod connection;
mod cost;
mod errors;
mod execute;
pub(crate) mod mutations;
mod query_string;
mod resolve;
pub mod schema;
mod selection;
mod validate;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use graphql_parser::query::Definition;
use serde_json::{Map, Value, json};

pub use connection::{SortValue, decode_cursor, encode_cursor};
pub use cost::{MAX_COST, page_multiplier};
pub use mutations::{CANCEL_JOB_DELAY, IdempotencyStore, REFUSABLE, Refusal, Refusals};
pub use query_string::Comparator;
pub use resolve::{datetime, decimal};

use super::ShopifyState;
use super::throttle::ThrottleStatus;
use execute::Executor;
use schema::{MUTATION_ROOT, QUERY_ROOT, Schema};
use selection::Fragments;

const INVALID_TOKEN: &str =
    "[API] Invalid API key or access token (unrecognized login or wrong password)";

/// The axum handler.
pub async fn handle(
    State(state): State<ShopifyState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut deprecated = BTreeSet::new();
    let (status, body) = answer(&state, &version, &headers, &body, &mut deprecated);
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&version) {
        response
            .headers_mut()
            .insert("X-Shopify-API-Version", value);
    }
    // As Shopify does since 2025-04: what the request used that the schema deprecates, as a
    // list (`Shop.products, Shop.productVariants`).
    if !deprecated.is_empty() {
        let list: Vec<&str> = deprecated.iter().map(String::as_str).collect();
        if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
            response
                .headers_mut()
                .insert("X-Shopify-API-Deprecated-Reason", value);
        }
    }
    response
}

/// The body of a GraphQL request.
struct GraphqlRequest {
    query: String,
    variables: Map<String, Value>,
    operation_name: Option<String>,
}

fn read_request(headers: &HeaderMap, body: &[u8]) -> Option<GraphqlRequest> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/graphql") {
        return Some(GraphqlRequest {
            query: String::from_utf8(body.to_vec()).ok()?,
            variables: Map::new(),
            operation_name: None,
        });
    }
    let body: Value = serde_json::from_slice(body).ok()?;
    let variables = match body.get("variables") {
        Some(Value::Object(v)) => v.clone(),
        // Some clients send the variables as a JSON string.
        Some(Value::String(s)) => serde_json::from_str(s).ok()?,
        _ => Map::new(),
    };
    Some(GraphqlRequest {
        query: body.get("query")?.as_str()?.to_string(),
        variables,
        operation_name: body
            .get("operationName")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn answer(
    state: &ShopifyState,
    version: &str,
    headers: &HeaderMap,
    body: &[u8],
    deprecated: &mut BTreeSet<String>,
) -> (StatusCode, Value) {
    let token = headers
        .get("X-Shopify-Access-Token")
        .and_then(|v| v.to_str().ok());
    if token != Some(state.config.access_token.as_str()) {
        return (StatusCode::UNAUTHORIZED, json!({"errors": INVALID_TOKEN}));
    }
    let Some(request) = read_request(headers, body) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"errors": {"query": "Required parameter missing or invalid"}}),
        );
    };
    (StatusCode::OK, run(state, version, request, deprecated))
}

fn run(
    state: &ShopifyState,
    version: &str,
    request: GraphqlRequest,
    deprecated: &mut BTreeSet<String>,
) -> Value {
    let doc = match validate::parse(&request.query) {
        Ok(doc) => doc,
        Err(error) => return errors::errors_only(vec![error]),
    };
    let (static_errors, used_deprecated) = validate::validate(&doc);
    if !static_errors.is_empty() {
        return errors::errors_only(static_errors);
    }
    deprecated.extend(used_deprecated);
    let op = match validate::select_operation(&doc, request.operation_name.as_deref()) {
        Ok(op) => op,
        Err(error) => return errors::errors_only(vec![error]),
    };
    let (kind, _, variable_definitions, _, selection, _) = validate::operation_header(op);
    let legacy = if version < mutations::IDEMPOTENT_INVENTORY_FROM {
        mutations::LEGACY_INVENTORY_FIELDS
    } else {
        &[]
    };
    let variables = match validate::coerce_variables(
        variable_definitions,
        &request.variables,
        legacy,
        deprecated,
    ) {
        Ok(variables) => variables,
        Err(errors) => return errors::errors_only(errors),
    };
    let fragments: Fragments<'_> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name.as_str(), f)),
            Definition::Operation(_) => None,
        })
        .collect();
    let root = if kind == "mutation" {
        MUTATION_ROOT
    } else {
        QUERY_ROOT
    };
    let requested = cost::requested_cost(root, selection, &fragments, &variables);
    if requested > MAX_COST {
        return errors::errors_only(vec![max_cost_exceeded(requested)]);
    }
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    let charged = lock_bucket(state).take(requested as f64);
    if let Err(status) = charged {
        state.stats.throttled.fetch_add(1, Ordering::Relaxed);
        return json!({
            "errors": [{
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
            }],
            "extensions": {"cost": cost_json(requested, None, status)},
        });
    }
    let executor = Executor {
        schema: Schema::get(),
        state,
        fragments: &fragments,
        variables,
        variable_positions: variable_definitions
            .iter()
            .map(|v| (v.name.clone(), v.position))
            .collect::<HashMap<_, _>>(),
        version: version.to_string(),
        now: Utc::now(),
        errors: Vec::new(),
        search: Vec::new(),
    };
    let executed = if root == MUTATION_ROOT {
        state.stats.mutations.fetch_add(1, Ordering::Relaxed);
        executor.mutation(selection)
    } else {
        executor.query(selection)
    };
    let actual = executed.actual_cost.min(requested);
    let status = lock_bucket(state).refund((requested - actual) as f64);
    state
        .stats
        .points_charged
        .fetch_add(actual, Ordering::Relaxed);
    let mut body = Map::new();
    if !executed.errors.is_empty() {
        body.insert("errors".into(), Value::Array(executed.errors));
    }
    body.insert("data".into(), executed.data);
    let mut extensions = Map::new();
    extensions.insert("cost".into(), cost_json(requested, Some(actual), status));
    if !executed.search.is_empty() {
        extensions.insert("search".into(), Value::Array(executed.search));
    }
    body.insert("extensions".into(), Value::Object(extensions));
    Value::Object(body)
}

fn lock_bucket(state: &ShopifyState) -> std::sync::MutexGuard<'_, super::throttle::CostBucket> {
    // The bucket is a few numbers updated in one step; a poisoned lock still holds them.
    state
        .bucket
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cost_json(requested: u64, actual: Option<u64>, status: ThrottleStatus) -> Value {
    json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": {
            "maximumAvailable": status.maximum_available,
            "currentlyAvailable": status.currently_available,
            "restoreRate": status.restore_rate,
        },
    })
}

fn max_cost_exceeded(cost: u64) -> Value {
    json!({
        "message": format!(
            "Query cost is {cost}, which exceeds the single query max cost limit ({MAX_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
        ),
        "extensions": {
            "code": "MAX_COST_EXCEEDED",
            "cost": cost,
            "maxCost": MAX_COST,
            "documentation": "https://shopify.dev/api/usage/limits#rate-limits",
        },
    })
}
