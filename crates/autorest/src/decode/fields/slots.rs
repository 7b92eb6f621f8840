//! A row's field values while it is read, by column.

use serde_json::Value;

use connectkit_core::decode::Cursor;

use super::{Stop, Trie};
use crate::decode::cast::ColBuilder;
use crate::decode::direct::{Direct, read_raw};

/// The current row's field values, by column, and for each column the
/// buffer of its last string value, reused for the next one (a row's
/// strings are copied into Arrow builders anyway: no allocation per value).
/// Scalars that a column takes directly go straight into its builder
/// (`direct.rs`) and leave the slot empty, marked as pushed.
pub(crate) struct Slots {
    pub values: Vec<Value>,
    pub(super) spare: Vec<String>,
    /// The columns' builders.
    pub builders: Vec<ColBuilder>,
    pub(super) direct: Vec<Direct>,
    /// Columns of the current row already appended to their builder.
    pub pushed: Vec<bool>,
    /// A row set a column it had already appended (a repeated key): the
    /// page must be read again without direct appends, so that the last
    /// value wins as on the general path.
    pub redo: bool,
}

impl Slots {
    /// Empty slots for columns with these builders; `direct` says how each
    /// takes scalars straight from the parser.
    pub fn new(builders: Vec<ColBuilder>, direct: Vec<Direct>) -> Self {
        let n = builders.len();
        Self {
            values: vec![Value::Null; n],
            spare: vec![String::new(); n],
            builders,
            direct,
            pushed: vec![false; n],
            redo: false,
        }
    }

    /// Takes the value of column `c`, leaving it empty (null).
    pub fn take(&mut self, c: usize) -> Value {
        std::mem::take(&mut self.values[c])
    }

    /// Gives back a value taken from column `c` once it has been used.
    pub fn recycle(&mut self, c: usize, v: Value) {
        if let Value::String(s) = v {
            self.spare[c] = s;
        }
    }

    /// Reads the value at `c` for column `col`'s only field: straight into
    /// its builder where that is certain (`direct.rs`), else into its slot.
    #[inline]
    pub fn read(&mut self, col: usize, c: &mut Cursor<'_>) -> Result<(), Stop> {
        if self.pushed[col] {
            // A repeated key: the page is read again without direct appends.
            self.redo = true;
        }
        let raw = c.raw()?;
        match read_raw(
            &mut self.builders[col],
            self.direct[col],
            &mut self.spare[col],
            raw,
        )? {
            Some(v) => self.values[col] = v,
            None => {
                self.pushed[col] = true;
                // Only a repeated key left a value here.
                if !self.values[col].is_null() {
                    let old = self.take(col);
                    self.recycle(col, old);
                }
            }
        }
        Ok(())
    }

    /// Fills the slots of `node` and below from an already built value.
    pub fn fill(&mut self, node: &Trie, v: &Value) {
        if node.any_pushed(&self.pushed) {
            self.redo = true;
        }
        node.fill(v, &mut self.values);
    }
}
