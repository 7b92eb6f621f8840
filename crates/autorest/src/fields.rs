//! Reading a row object against the declared columns: a trie of their
//! field paths, matched key by key as the object is parsed, so that keys of
//! no column are skipped without being allocated and nested objects are
//! descended only where a flattened column lives.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::table::{Source, TableDef};

/// Builds a `Value` from the scalar and array `visit_*` methods, through
/// `$done(self, value)`.
macro_rules! value_visits {
    ($done:ident) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.$done(Value::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.$done(Value::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.$done(Value::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.$done(Value::from(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.$done(Value::String(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            self.$done(Value::String(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.$done(Value::Null)
        }
    };
}

pub(crate) use value_visits;

/// The declared columns by field path: one level of keys per node.
#[derive(Default)]
pub(crate) struct Trie {
    /// Columns whose path ends here.
    pub cols: Vec<usize>,
    pub children: HashMap<String, Trie>,
}

impl Trie {
    pub fn new(table: &TableDef) -> Trie {
        let mut root = Trie::default();
        for (i, col) in table.columns.iter().enumerate() {
            if let Source::Field(path) = &col.source {
                let node = path
                    .iter()
                    .fold(&mut root, |n, k| n.children.entry(k.clone()).or_default());
                node.cols.push(i);
            }
        }
        root
    }

    /// Fills the slots of this node and below from an already built value.
    pub fn fill(&self, v: &Value, slots: &mut [Value]) {
        for &c in &self.cols {
            slots[c] = v.clone();
        }
        if let Value::Object(m) = v {
            for (k, child) in &self.children {
                if let Some(inner) = m.get(k) {
                    child.fill(inner, slots);
                }
            }
        }
    }
}

/// Reads an object's keys against `node`, filling the slots of the columns
/// found; other keys are skipped unread.
pub(crate) fn read_fields<'de, A: MapAccess<'de>>(
    node: &Trie,
    slots: &mut [Value],
    map: &mut A,
) -> Result<(), A::Error> {
    while let Some(child) = map.next_key_seed(KeySeed(node))? {
        match child {
            None => {
                map.next_value::<IgnoredAny>()?;
            }
            Some(n) if n.children.is_empty() => {
                let v: Value = map.next_value()?;
                if let [rest @ .., last] = n.cols.as_slice() {
                    for &c in rest {
                        slots[c] = v.clone();
                    }
                    slots[*last] = v;
                }
            }
            Some(n) if n.cols.is_empty() => map.next_value_seed(NestedSeed { node: n, slots })?,
            Some(n) => {
                // Both a column and the parent of columns (a JSON column and
                // its flattened fields): needs the whole value.
                let v: Value = map.next_value()?;
                n.fill(&v, slots);
            }
        }
    }
    Ok(())
}

/// Looks a key up among a node's children without allocating it.
struct KeySeed<'a>(&'a Trie);

impl<'de, 'a> DeserializeSeed<'de> for KeySeed<'a> {
    type Value = Option<&'a Trie>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'a> Visitor<'_> for KeySeed<'a> {
    type Value = Option<&'a Trie>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.children.get(v))
    }
}

/// A nested object whose fields are (flattened) columns; anything else
/// holds none of them.
struct NestedSeed<'a> {
    node: &'a Trie,
    slots: &'a mut [Value],
}

impl<'de> DeserializeSeed<'de> for NestedSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl NestedSeed<'_> {
    fn done<E: de::Error>(self, _: Value) -> Result<(), E> {
        Ok(())
    }
}

impl<'de> Visitor<'de> for NestedSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    value_visits!(done);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        read_fields(self.node, self.slots, &mut map)
    }
}
