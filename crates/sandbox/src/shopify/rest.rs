//! Orders in Shopify's REST / webhook JSON shape, in and out.
