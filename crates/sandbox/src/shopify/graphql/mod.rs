//! `POST /admin/api/{version}/graphql.json`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::ShopifyState;

pub async fn handle(
    State(state): State<ShopifyState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = (state, version, headers, body);
    "".into_response()
}
