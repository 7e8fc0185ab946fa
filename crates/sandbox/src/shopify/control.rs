//! The Shopify sandbox's control API under `/sandbox/` (not part of Shopify).

use axum::Router;

use super::ShopifyState;

pub fn routes() -> Router<ShopifyState> {
    Router::new()
}
