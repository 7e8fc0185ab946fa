//! Pure types and rules of tentacle's integrations: settings declared per type, the Shopify
//! order as the integration sees it, the sales orders plan (import, update, cancel, skip,
//! conflict), the stock plan, the shipments and returns rules, run status and the log
//! messages. No I/O, and nothing of ours is imported here.

pub mod alerts;
pub mod endpoint;
pub mod limits;
pub mod messages;
pub mod order;
pub mod products;
pub mod retention;
pub mod returns;
pub mod run;
pub mod sales_order;
pub mod schedule;
pub mod settings;
pub mod shipments;
pub mod status_updates;
pub mod stock;
mod string_enum;
pub mod text;

pub use string_enum::UnknownValue;
