//! Pure types and rules of tentacle's integrations: the sales orders settings, the Shopify
//! order as the integration sees it, the sales orders plan (import, update, cancel, skip,
//! conflict), run status and the log messages. No I/O, and nothing of ours is imported here.

pub mod messages;
pub mod order;
pub mod run;
pub mod sales_order;
pub mod schedule;
pub mod settings;
mod string_enum;

pub use string_enum::UnknownValue;
