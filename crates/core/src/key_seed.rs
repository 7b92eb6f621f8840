//! Reading an object key without allocating it: the one serde seed both
//! connectors' one-pass page readers use to match keys against their columns.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// A `DeserializeSeed` for a map key that hands the borrowed key text to
/// `lookup` and yields its answer, so that a page reader can match keys
/// against its columns without a `String` per key.
///
/// ```
/// use serde::de::DeserializeSeed;
/// use connectkit_core::KeySeed;
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
