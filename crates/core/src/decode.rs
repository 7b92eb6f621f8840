//! Reading JSON pages: an object key without allocating it (the one serde
//! seed both connectors' one-pass page readers use to match keys against
//! their columns), and [`JsonRows`] (feature `connector`), arrow-json's
//! decoding of a page's rows as a declared schema for connectors whose rows
//! map straight to columns.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

#[cfg(feature = "connector")]
mod json_rows;
#[cfg(feature = "connector")]
pub use json_rows::{JsonPage, JsonRows, JsonRowsError};

/// A `DeserializeSeed` for a map key that hands the borrowed key text to
/// `lookup` and yields its answer, so that a page reader can match keys
/// against its columns without a `String` per key.
///
/// ```
/// use serde::de::DeserializeSeed;
/// use connectkit_core::decode::KeySeed;
///
/// let mut de = serde_json::Deserializer::from_str(r#""name""#);
/// let len = KeySeed::new(|k: &str| k.len()).deserialize(&mut de).unwrap();
/// assert_eq!(len, 4);
/// ```
pub struct KeySeed<F, T> {
    lookup: F,
    out: PhantomData<fn() -> T>,
}

impl<F: FnOnce(&str) -> T, T> KeySeed<F, T> {
    /// A seed that answers each key with `lookup(key)`.
    pub fn new(lookup: F) -> Self {
        Self {
            lookup,
            out: PhantomData,
        }
    }
}

impl<'de, F: FnOnce(&str) -> T, T> DeserializeSeed<'de> for KeySeed<F, T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_str(self)
    }
}

impl<F: FnOnce(&str) -> T, T> Visitor<'_> for KeySeed<F, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.lookup)(v))
    }
}

/// The keys of the last object read, in order, with what each was looked up
/// as: rows of a page nearly always repeat their keys in the same order, so
/// the key at position `i` is first compared with the previous row's key at
/// `i` and only looked up (hashed) when it differs.
///
/// ```
/// use connectkit_core::decode::KeyOrder;
///
/// let mut order = KeyOrder::default();
/// let mut lookups = 0;
/// for _ in 0..3 {
///     for (i, k) in ["id", "name"].iter().enumerate() {
///         order.get(i, k, |k| {
///             lookups += 1;
///             k.len()
///         });
///     }
/// }
/// assert_eq!(lookups, 2);
/// ```
#[derive(Debug)]
pub struct KeyOrder<T> {
    last: Vec<(String, T)>,
}

impl<T> Default for KeyOrder<T> {
    fn default() -> Self {
        Self { last: Vec::new() }
    }
}

/// Positions remembered: rows wider than this are looked up past it.
const KEY_ORDER_MAX: usize = 256;

impl<T: Copy> KeyOrder<T> {
    /// What key `k` at position `pos` of an object is: the answer remembered
    /// for the same key at that position, else `lookup(k)` (then remembered).
    pub fn get(&mut self, pos: usize, k: &str, lookup: impl FnOnce(&str) -> T) -> T {
        if let Some((name, v)) = self.last.get(pos)
            && name == k
        {
            return *v;
        }
        let v = lookup(k);
        if let Some((name, slot)) = self.last.get_mut(pos) {
            // The string's buffer is reused: no allocation once warm.
            name.clear();
            name.push_str(k);
            *slot = v;
        } else if pos == self.last.len() && pos < KEY_ORDER_MAX {
            self.last.push((k.to_owned(), v));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Whatever order and keys rows come with, every answer is the lookup's.
        #[test]
        fn remembered_answers_are_the_lookups(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-d]{0,3}", 0..8), 0..20)
        ) {
            let lookup = |k: &str| k.len() * 7 + usize::from(k.starts_with('a'));
            let mut order = KeyOrder::default();
            for row in &rows {
                for (i, k) in row.iter().enumerate() {
                    proptest::prop_assert_eq!(order.get(i, k, lookup), lookup(k));
                }
            }
        }
    }
}
