//! Reading a row object against the declared columns: a trie of their
//! field paths, matched key by key as the object is parsed, so that keys of
//! no column are skipped without being allocated and nested objects are
//! descended only where a flattened column lives.
//!
//! For inferred tables the skipped keys are watched: a field that holds a
//! value but has no column (it first appears after the sampled page) is
//! recorded, so that a scan can say so instead of dropping it silently.

use std::fmt;

use foldhash::HashMap;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use connectkit_core::decode::{KeyOrder, KeySeed};

use crate::decode::direct::DirectSeed;
use crate::table::{Source, TableDef};

mod new_fields;
mod slots;

use new_fields::{HasData, has_data};
pub(crate) use new_fields::{NewField, NewFields, ScanNewFields};
pub(crate) use slots::Slots;

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
    /// The key of this node in its parent (empty at the root).
    pub key: String,
    /// Columns whose path ends here.
    pub cols: Vec<usize>,
    /// A field that is no column of this table but is read elsewhere (an
    /// array that a child table reads): skipped, never reported.
    pub skip: bool,
    pub children: HashMap<String, Trie>,
}

impl Trie {
    pub fn new(table: &TableDef) -> Trie {
        let mut root = Trie::default();
        for (i, col) in table.columns.iter().enumerate() {
            if let Source::Field(path) = &col.source {
                root.node_at(path).cols.push(i);
            }
        }
        for path in &table.child_arrays {
            let node = root.node_at(path);
            node.skip = node.cols.is_empty() && node.children.is_empty();
        }
        root
    }

    fn node_at(&mut self, path: &[String]) -> &mut Trie {
        path.iter().fold(self, |n, k| {
            n.children.entry(k.clone()).or_insert_with(|| Trie {
                key: k.clone(),
                ..Trie::default()
            })
        })
    }

    /// Records the fields of `v` (a row element, or an object within one)
    /// that hold a value and have no column here or below.
    pub fn new_fields_in(&self, v: &Value, new: &mut NewFields) {
        let Value::Object(m) = v else { return };
        for (k, fv) in m {
            match self.children.get(k) {
                None if has_data(fv) => new.note(k),
                Some(n) if n.skip && !fv.is_array() && has_data(fv) => new.note(k),
                Some(n) if n.cols.is_empty() && !n.children.is_empty() => {
                    new.at.push(k.clone());
                    if fv.is_object() {
                        n.new_fields_in(fv, new);
                    } else if has_data(fv) {
                        new.note_here();
                    }
                    new.at.pop();
                }
                _ => {}
            }
        }
    }

    /// Records a row that is not an object (a scalar or an array, read as
    /// `{"value": v}`) when no column holds it.
    pub fn new_fields_in_scalar_row(&self, v: &Value, new: &mut NewFields) {
        let lost = match self.children.get("value") {
            None => true,
            Some(n) if n.skip => !v.is_array(),
            // A column holds it, or else flattened fields expected an object.
            Some(n) => n.cols.is_empty(),
        };
        if lost && has_data(v) {
            new.note("value");
        }
    }

    /// Whether a column of this node or below is marked in `pushed`.
    fn any_pushed(&self, pushed: &[bool]) -> bool {
        self.cols.iter().any(|&c| pushed[c]) || self.children.values().any(|n| n.any_pushed(pushed))
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

/// A field's value as `Value`, a string in a reused buffer.
struct ValueSeed<'a> {
    buf: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn done<E: de::Error>(self, v: Value) -> Result<Value, E> {
        Ok(v)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.done(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.done(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.done(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.done(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        let mut s = std::mem::take(self.buf);
        s.clear();
        s.push_str(v);
        Ok(Value::String(s))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))
    }
}

/// Reads an object's keys against `node`, filling the slots of the columns
/// found; other keys are skipped unread, unless `new` watches for fields
/// without a column: then those that hold a value are recorded there.
/// `order`, when given, remembers the previous object's keys (rows repeat
/// them), so that most keys are matched without being hashed.
pub(crate) fn read_fields<'de, 'n, A: MapAccess<'de>>(
    node: &'n Trie,
    slots: &mut Slots,
    map: &mut A,
    mut new: Option<&mut NewFields>,
    mut order: Option<&mut KeyOrder<Option<&'n Trie>>>,
) -> Result<(), A::Error> {
    let watch = new.is_some();
    let mut pos = 0;
    while let Some(key) = map.next_key_seed(KeySeed::new(|k: &str| {
        let found = match order.as_deref_mut() {
            Some(o) => o.get(pos, k, |k| node.children.get(k)),
            None => node.children.get(k),
        };
        match found {
            Some(n) => Key::Known(n),
            None => Key::Unknown(watch.then(|| k.to_owned())),
        }
    }))? {
        pos += 1;
        let child = match key {
            Key::Known(n) => n,
            Key::Unknown(None) => {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            Key::Unknown(Some(k)) => {
                if map.next_value_seed(HasData { arrays: true })?
                    && let Some(new) = new.as_deref_mut()
                {
                    new.note(&k);
                }
                continue;
            }
        };
        match child {
            n if n.skip => match new.as_deref_mut() {
                // Arrays are the child table's; anything else is lost.
                Some(new) => {
                    if map.next_value_seed(HasData { arrays: false })? {
                        new.note(&n.key);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            },
            n if n.children.is_empty() => {
                if let [c] = n.cols.as_slice() {
                    let c = *c;
                    if slots.pushed[c] {
                        slots.redo = true;
                    }
                    let v = map.next_value_seed(DirectSeed {
                        builder: &mut slots.builders[c],
                        direct: slots.direct[c],
                        buf: &mut slots.spare[c],
                    })?;
                    match v {
                        Some(v) => slots.values[c] = v,
                        None => {
                            slots.pushed[c] = true;
                            // Only a repeated key left a value here.
                            if !slots.values[c].is_null() {
                                let old = slots.take(c);
                                slots.recycle(c, old);
                            }
                        }
                    }
                } else if let [rest @ .., last] = n.cols.as_slice() {
                    if n.any_pushed(&slots.pushed) {
                        slots.redo = true;
                    }
                    let v = map.next_value_seed(ValueSeed {
                        buf: &mut slots.spare[*last],
                    })?;
                    for &c in rest {
                        slots.values[c] = v.clone();
                    }
                    slots.values[*last] = v;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            n if n.cols.is_empty() => {
                if let Some(new) = new.as_deref_mut() {
                    new.at.push(n.key.clone());
                }
                map.next_value_seed(NestedSeed {
                    node: n,
                    slots,
                    new: new.as_deref_mut(),
                })?;
                if let Some(new) = new.as_deref_mut() {
                    new.at.pop();
                }
            }
            n => {
                // Both a column and the parent of columns (a JSON column and
                // its flattened fields): needs the whole value.
                let v: Value = map.next_value()?;
                slots.fill(n, &v);
            }
        }
    }
    Ok(())
}

/// A key, looked up without being allocated: a node of the trie, or not
/// (its text only when watched).
enum Key<'a> {
    Known(&'a Trie),
    Unknown(Option<String>),
}

/// A nested object whose fields are (flattened) columns; anything else
/// holds none of them.
struct NestedSeed<'a> {
    node: &'a Trie,
    slots: &'a mut Slots,
    new: Option<&'a mut NewFields>,
}

impl<'de> DeserializeSeed<'de> for NestedSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl NestedSeed<'_> {
    /// A scalar where flattened fields were expected: no column holds it.
    fn done<E: de::Error>(self, v: Value) -> Result<(), E> {
        if let Some(new) = self.new
            && !v.is_null()
        {
            new.note_here();
        }
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
        let mut any = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            any = true;
        }
        if let Some(new) = self.new
            && any
        {
            new.note_here();
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        read_fields(self.node, self.slots, &mut map, self.new, None)
    }
}
