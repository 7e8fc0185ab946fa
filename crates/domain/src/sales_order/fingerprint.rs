//! A content fingerprint of a sales order draft, so the caller can tell "changed" from
//! "unchanged" without fetching the order back from PULPO.
//!
//! Fingerprints are stored and compared across releases, so the hash is spelled out here
//! (64-bit FNV-1a over a length-prefixed encoding) rather than taken from `std`, whose hasher
//! may change between Rust versions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{DraftLine, ShipTo};

/// A stable hash of what PULPO receives for the lines (line id, SKU, quantity) and the ship-to
/// of a sales order. Line order does not matter; any other difference does. Shown and stored as
/// 16 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(u64);

/// Text that is not 16 hex digits, read as a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fingerprint `{0}`: expected 16 hex digits")]
pub struct InvalidFingerprint(pub String);

impl Fingerprint {
    /// The fingerprint of these lines and this ship-to.
    pub fn of(lines: &[DraftLine], ship_to: &ShipTo) -> Self {
        let mut sorted: Vec<&DraftLine> = lines.iter().collect();
        sorted.sort_by(|a, b| {
            (&a.line_order_id, &a.sku, a.quantity).cmp(&(&b.line_order_id, &b.sku, b.quantity))
        });

        let mut hash = Fnv1a::new();
        hash.text("tentacle/sales-order/v1");
        hash.number(sorted.len() as u64);
        for line in sorted {
            hash.text(&line.line_order_id);
            hash.text(&line.sku);
            hash.number(u64::from(line.quantity));
        }
        for field in [&ship_to.name, &ship_to.company_name, &ship_to.phone_number] {
            hash.optional(field.as_deref());
        }
        let address = &ship_to.address;
        hash.text(&address.street);
        for field in [
            &address.street2,
            &address.zip,
            &address.city,
            &address.state,
            &address.country,
            &address.country_alpha2,
            &address.email,
        ] {
            hash.optional(field.as_deref());
        }
        Self(hash.finish())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for Fingerprint {
    type Err = InvalidFingerprint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidFingerprint(s.to_owned()));
        }
        u64::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| InvalidFingerprint(s.to_owned()))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// 64-bit FNV-1a. Every value is written with a tag and a length so that no two different
/// inputs share an encoding (`"ab" + "c"` differs from `"a" + "bc"`, `None` from `""`).
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn number(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    fn text(&mut self, value: &str) {
        self.bytes(&[1]);
        self.number(value.len() as u64);
        self.bytes(value.as_bytes());
    }

    fn optional(&mut self, value: Option<&str>) {
        match value {
            Some(text) => self.text(text),
            None => self.bytes(&[0]),
        }
    }

    fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv1a;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let hash = |input: &[u8]| {
            let mut hash = Fnv1a::new();
            hash.bytes(input);
            hash.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
