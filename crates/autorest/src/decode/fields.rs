//! Reading a row object against the declared columns: a trie of their
//! field paths, matched key by key as the object is parsed, so that keys of
//! no column are skipped without being allocated and nested objects are
//! descended only where a flattened column lives.
//!
//! For inferred tables the skipped keys are watched: a field that holds a
//! value but has no column (it first appears after the sampled page) is
//! recorded, so that a scan can say so instead of dropping it silently.

use foldhash::HashMap;

use serde_json::Value;

use connectkit_core::decode::{Cursor, CursorError, KeyOrder, Kind};

use crate::table::{Source, TableDef};

mod new_fields;
mod slots;

pub(crate) use new_fields::{NewField, NewFields, ScanNewFields};
use new_fields::{carries_data, has_data};
pub(crate) use slots::Slots;

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

/// Why a row's reading stopped.
pub(crate) enum Stop {
    /// The body is not JSON (the parser's message).
    Json(String),
    /// A value does not fit its column.
    Decode(crate::error::AutoRestError),
}

impl From<CursorError> for Stop {
    fn from(e: CursorError) -> Self {
        Self::Json(e.to_string())
    }
}

impl From<serde_json::Error> for Stop {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e.to_string())
    }
}

/// The next value whole, as a `Value` (the casts' input).
pub(crate) fn value(c: &mut Cursor<'_>) -> Result<Value, Stop> {
    Ok(serde_json::from_str(c.value()?)?)
}

/// Reads an object's keys against `node`, filling the slots of the columns
/// found; other keys are skipped unread, unless `new` watches for fields
/// without a column: then those that hold a value are recorded there.
/// `order`, when given, remembers the previous object's keys (rows repeat
/// them), so that most keys are matched in place, neither scanned nor hashed.
pub(crate) fn read_fields<'n>(
    node: &'n Trie,
    slots: &mut Slots,
    c: &mut Cursor<'_>,
    mut new: Option<&mut NewFields>,
    mut order: Option<&mut KeyOrder<Option<&'n Trie>>>,
) -> Result<(), Stop> {
    let lookup = |k: &str| node.children.get(k);
    let mut pos = 0;
    let mut member = c.enter_object()?;
    while member {
        // A watched key's text is kept, to name a field without a column.
        let (found, key) = match (order.as_deref_mut(), new.is_some()) {
            (Some(o), false) => (o.read(pos, c, lookup)?, None),
            (o, _) => {
                let k = c.key()?;
                let found = match o {
                    Some(o) => o.get(pos, &k, lookup),
                    None => lookup(&k),
                };
                (found, Some(k))
            }
        };
        pos += 1;
        match found {
            None => match (new.as_deref_mut(), key) {
                (Some(new), Some(k)) => {
                    if carries_data(&value(c)?, true) {
                        new.note(&k);
                    }
                }
                _ => {
                    c.value()?;
                }
            },
            Some(n) if n.skip => match new.as_deref_mut() {
                // Arrays are the child table's; anything else is lost.
                Some(new) => {
                    if carries_data(&value(c)?, false) {
                        new.note(&n.key);
                    }
                }
                None => {
                    c.value()?;
                }
            },
            Some(n) if n.children.is_empty() => match n.cols.as_slice() {
                [col] => slots.read(*col, c)?,
                [rest @ .., last] => {
                    if n.any_pushed(&slots.pushed) {
                        slots.redo = true;
                    }
                    let v = value(c)?;
                    for &col in rest {
                        slots.values[col] = v.clone();
                    }
                    slots.values[*last] = v;
                }
                [] => {
                    c.value()?;
                }
            },
            Some(n) if n.cols.is_empty() => {
                if let Some(new) = new.as_deref_mut() {
                    new.at.push(n.key.clone());
                }
                if c.peek()? == Kind::Object {
                    read_fields(n, slots, c, new.as_deref_mut(), None)?;
                } else {
                    // Flattened fields were expected: no column holds this.
                    let v = value(c)?;
                    let lost = match &v {
                        Value::Array(items) => !items.is_empty(),
                        v => !v.is_null(),
                    };
                    if lost && let Some(new) = new.as_deref_mut() {
                        new.note_here();
                    }
                }
                if let Some(new) = new.as_deref_mut() {
                    new.at.pop();
                }
            }
            Some(n) => {
                // Both a column and the parent of columns (a JSON column and
                // its flattened fields): needs the whole value.
                let v = value(c)?;
                slots.fill(n, &v);
            }
        }
        member = c.member_follows()?;
    }
    Ok(())
}
