//! Lot and serial numbers in a Shopify order note.

use std::collections::BTreeMap;

/// The line that opens tentacle's block in an order note; everything after it is tentacle's.
pub const NOTE_HEADING: &str = "Lots and serial numbers shipped (PULPO):";

/// How a product's units are told apart in PULPO (`management_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BatchKind {
    Lot,
    Serial,
}

impl BatchKind {
    fn label(self) -> &'static str {
        match self {
            Self::Lot => "LOT",
            Self::Serial => "SN",
        }
    }
}

/// Units of one batch (a lot, or one serial number) shipped for a line item, from one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedBatch {
    /// The line item's SKU, how the line is named in the note.
    pub sku: String,
    pub kind: BatchKind,
    pub number: String,
    pub quantity: i64,
}

/// One line per SKU, e.g. `ABC-1: LOT L-2291 ×2, LOT L-2292 ×1`: the batches of every box,
/// each once with its units summed, in a stable order.
pub fn lot_lines(batches: &[ShippedBatch]) -> Vec<String> {
    let mut by_sku: BTreeMap<&str, BTreeMap<(BatchKind, &str), i64>> = BTreeMap::new();
    for batch in batches.iter().filter(|b| b.quantity > 0) {
        *by_sku
            .entry(batch.sku.as_str())
            .or_default()
            .entry((batch.kind, batch.number.as_str()))
            .or_default() += batch.quantity;
    }
    by_sku
        .into_iter()
        .map(|(sku, numbers)| {
            let parts: Vec<String> = numbers
                .into_iter()
                .map(|((kind, number), quantity)| format!("{} {number} ×{quantity}", kind.label()))
                .collect();
            format!("{sku}: {}", parts.join(", "))
        })
        .collect()
}

/// The note with `lines` as tentacle's block: the merchant's text kept as it is, the block
/// (heading and lines) below it, replacing an earlier block. `None` when the note already says
/// exactly that (nothing to write).
pub fn note_with_lots(note: Option<&str>, lines: &[String]) -> Option<String> {
    if lines.is_empty() {
        return None;
    }
    let note = note.unwrap_or_default();
    let merchant = match note.find(NOTE_HEADING) {
        Some(at) => note[..at].trim_end(),
        None => note.trim_end(),
    };
    let mut updated = String::with_capacity(merchant.len() + 64 * lines.len());
    if !merchant.is_empty() {
        updated.push_str(merchant);
        updated.push_str("\n\n");
    }
    updated.push_str(NOTE_HEADING);
    for line in lines {
        updated.push('\n');
        updated.push_str(line);
    }
    (updated != note).then_some(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(sku: &str, kind: BatchKind, number: &str, quantity: i64) -> ShippedBatch {
        ShippedBatch {
            sku: sku.into(),
            kind,
            number: number.into(),
            quantity,
        }
    }

    #[test]
    fn one_line_per_sku_with_every_box_summed() {
        let lines = lot_lines(&[
            batch("ABC-1", BatchKind::Lot, "L-2291", 1),
            batch("ABC-1", BatchKind::Lot, "L-2292", 1),
            batch("ABC-1", BatchKind::Lot, "L-2291", 1),
            batch("CAM-7", BatchKind::Serial, "SN-9", 1),
        ]);
        assert_eq!(
            lines,
            ["ABC-1: LOT L-2291 ×2, LOT L-2292 ×1", "CAM-7: SN SN-9 ×1"]
        );
    }

    #[test]
    fn the_merchants_note_is_kept_and_a_rerun_adds_nothing() {
        let first = vec!["ABC-1: LOT L-2291 ×2".to_string()];
        let note = note_with_lots(Some("Gift wrap, please"), &first).unwrap();
        assert_eq!(
            note,
            format!("Gift wrap, please\n\n{NOTE_HEADING}\nABC-1: LOT L-2291 ×2")
        );
        assert_eq!(note_with_lots(Some(&note), &first), None);
        assert_eq!(note_with_lots(Some(&note), &first), None);
        // A second box: the block is rewritten whole, the merchant's text stays.
        let second = vec!["ABC-1: LOT L-2291 ×2, LOT L-2292 ×1".to_string()];
        let again = note_with_lots(Some(&note), &second).unwrap();
        assert_eq!(
            again,
            format!("Gift wrap, please\n\n{NOTE_HEADING}\nABC-1: LOT L-2291 ×2, LOT L-2292 ×1")
        );
        assert_eq!(again.matches(NOTE_HEADING).count(), 1);
    }

    #[test]
    fn an_empty_note_gets_the_block_alone() {
        let lines = vec!["ABC-1: SN 1 ×1".to_string()];
        assert_eq!(
            note_with_lots(None, &lines),
            Some(format!("{NOTE_HEADING}\nABC-1: SN 1 ×1"))
        );
        assert_eq!(note_with_lots(Some("x"), &[]), None);
    }
}
