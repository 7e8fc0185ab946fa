//! The status updates integration's rules (PULPO → Shopify, SPEC §2 and §4): every Shopify
//! order the sales orders integration imported gets a tag once (an order the merchant untagged
//! is not tagged again), and the lot and serial numbers of what PULPO shipped are written into
//! the order's note, one line per line item, in a block of tentacle's own below the merchant's
//! text (rewritten whole when a later box adds numbers, so a rerun never adds a line twice).

mod note;
mod settings;

pub use note::{BatchKind, NOTE_HEADING, ShippedBatch, lot_lines, note_with_lots};
pub use settings::StatusSettings;
