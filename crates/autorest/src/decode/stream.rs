//! One pass from a page's bytes to Arrow, for top-level tables whose rows sit
//! at a known path (every model-file table with a row element, every sampled
//! top-level table).
//!
//! Building a `serde_json::Value` tree per row (a map, a string per key) costs
//! more than the rest of a scan together, so here each row object is read
//! key by key against a trie of the declared columns: unknown keys are skipped
//! without allocation. Column scalars whose cast is certain go straight into
//! the builders (`direct.rs`); the other column values become `Value`s, which
//! go through the same casts as the general path (`decode.rs`). The rest of
//! the body, which paging reads (next links, totals, tokens), is kept as a
//! `Value` with the rows array left empty.

use std::fmt;

use arrow_array::RecordBatch;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::decode::cast::ColBuilder;
use crate::decode::direct::Direct;
use crate::decode::{batch, push_value};
use crate::error::AutoRestError;
use connectkit_core::decode::KeyOrder;

use crate::decode::fields::{NewField, NewFields, Slots, Trie, read_fields, value_visits};
use crate::table::{Rows, Source, TableDef};

/// The one-pass reader of one table's pages: the table's row path and its
/// column trie, built once per scan.
pub(crate) struct PageReader {
    path: Vec<String>,
    trie: Trie,
}

/// A page read in one pass.
#[derive(Debug)]
pub(crate) struct Streamed {
    /// The body without its rows (the rows array is left empty).
    pub body: Value,
    /// How many rows the page held (kept or not).
    pub rows: usize,
    /// The kept rows.
    pub batch: RecordBatch,
    /// Fields of the kept rows that hold a value and have no column (only
    /// for tables that watch for them: `TableDef::watch_new_fields`).
    pub new_fields: Vec<NewField>,
}

/// Why a page could not be read.
#[derive(Debug)]
pub(crate) enum StreamError {
    /// The body is not JSON.
    Json(serde_json::Error),
    /// The row element is missing; its path.
    NoRows(String),
    /// A value does not fit its column.
    Decode(AutoRestError),
}

impl PageReader {
    /// A reader for `table` when it can read it: a top-level table whose
    /// rows sit at a known path.
    pub(crate) fn for_table(table: &TableDef) -> Option<Self> {
        match &table.rows {
            Rows::Path(path) if table.levels.is_empty() => Some(Self {
                path: path.clone(),
                trie: Trie::new(table),
            }),
            _ => None,
        }
    }

    /// Reads the page `bytes` of `table` (the table this reader was made
    /// for); arguments as for `decode::decode`.
    pub(crate) fn decode(
        &self,
        table: &TableDef,
        bytes: &[u8],
        root_offset: usize,
        row_offset: usize,
        max_rows: Option<usize>,
    ) -> Result<Streamed, StreamError> {
        let page = (bytes, root_offset, row_offset, max_rows);
        match self.read(table, page, true) {
            // A row repeated a key whose column was already appended: read
            // the page again the slow way, where the last value wins.
            (_, true) => self.read(table, page, false).0,
            (r, false) => r,
        }
    }

    /// One reading of a page; with `direct`, scalars go straight into the
    /// builders (`direct.rs`). Also whether it must be read again without.
    pub(crate) fn read(
        &self,
        table: &TableDef,
        (bytes, root_offset, row_offset, max_rows): (&[u8], usize, usize, Option<usize>),
        direct: bool,
    ) -> (Result<Streamed, StreamError>, bool) {
        let (path, trie) = (&self.path, &self.trie);
        let builders: Vec<ColBuilder> = table
            .columns
            .iter()
            .map(|c| ColBuilder::new(c.sql_type, 1024))
            .collect();
        let how = builders
            .iter()
            .zip(&table.columns)
            .map(|(b, c)| if direct { Direct::of(b, c) } else { Direct::No })
            .collect();
        let mut st = State {
            table,
            slots: Slots::new(builders, how),
            seen: 0,
            kept: 0,
            max: max_rows.unwrap_or(usize::MAX),
            root_offset,
            row_offset,
            found: false,
            error: None,
            new: table.watch_new_fields.then(NewFields::default),
        };
        let parsed = match std::str::from_utf8(bytes) {
            // Checked once here rather than string by string while parsing;
            // a body that is not UTF-8 is parsed as bytes, for its error.
            Ok(text) => parse(
                &mut serde_json::Deserializer::from_str(text),
                path,
                trie,
                &mut st,
            ),
            Err(_) => parse(
                &mut serde_json::Deserializer::from_slice(bytes),
                path,
                trie,
                &mut st,
            ),
        };
        let redo = st.slots.redo;
        let body = match parsed {
            Ok(body) => body,
            Err(e) => {
                let e = st
                    .error
                    .take()
                    .map_or(StreamError::Json(e), StreamError::Decode);
                return (Err(e), redo);
            }
        };
        if !st.found {
            let e = StreamError::NoRows(format!("/{}", path.join("/")));
            return (Err(e), redo);
        }
        let (rows, kept) = (st.seen, st.kept);
        let new_fields = st.new.map(|n| n.found).unwrap_or_default();
        let r = batch(table, st.slots.builders, kept)
            .map_err(StreamError::Decode)
            .map(|batch| Streamed {
                body,
                rows,
                batch,
                new_fields,
            });
        (r, redo)
    }
}

/// Parses a whole body with `de`, its rows into `st`.
fn parse<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    path: &[String],
    trie: &Trie,
    st: &mut State<'_>,
) -> serde_json::Result<Value> {
    let body = BodySeed { path, trie, st }.deserialize(&mut *de)?;
    de.end().map(|()| body)
}

struct State<'t> {
    table: &'t TableDef,
    /// The current row's field values, by column, and the builders.
    slots: Slots,
    seen: usize,
    kept: usize,
    max: usize,
    root_offset: usize,
    row_offset: usize,
    /// Whether the row element was found.
    found: bool,
    /// The decode error that stopped the parse.
    error: Option<AutoRestError>,
    /// Fields without a column, when the table watches for them.
    new: Option<NewFields>,
}

impl State<'_> {
    /// Appends the current row (its slots) to the builders.
    fn finish_row(&mut self) -> Result<(), AutoRestError> {
        let row_no = self.row_offset + self.kept + 1;
        for (i, col) in self.table.columns.iter().enumerate() {
            if self.slots.pushed[i] {
                // Appended while the row was parsed.
                self.slots.pushed[i] = false;
                continue;
            }
            let value = match col.source {
                Source::Field(_) => self.slots.take(i),
                Source::Position => Value::from(self.root_offset + self.seen),
                Source::Ancestor(_) => Value::Null,
                Source::Input(ref v) => v.clone().map_or(Value::Null, Value::String),
            };
            push_value(self.table, col, &mut self.slots.builders[i], &value, row_no)?;
            self.slots.recycle(i, value);
        }
        self.kept += 1;
        Ok(())
    }

    /// Ends a row whose fields are in the slots.
    fn end_row<E: de::Error>(&mut self) -> Result<(), E> {
        let r = self.finish_row();
        self.seen += 1;
        r.map_err(|e| {
            self.error = Some(e);
            E::custom("a value does not fit its column")
        })
    }

    /// A row that is not an object: `{"value": v}`, as `decode` normalizes it.
    fn scalar_row<E: de::Error>(&mut self, trie: &Trie, v: Value) -> Result<(), E> {
        if self.kept < self.max {
            if let Some(new) = &mut self.new {
                new.row = self.seen;
                trie.new_fields_in_scalar_row(&v, new);
            }
            if let Some(child) = trie.children.get("value") {
                self.slots.fill(child, &v);
            }
            self.end_row()
        } else {
            self.seen += 1;
            Ok(())
        }
    }
}

/// The body, or an object on the way to the row element: keeps everything
/// as a `Value` except the row element itself.
struct BodySeed<'a, 't> {
    path: &'a [String],
    trie: &'a Trie,
    st: &'a mut State<'t>,
}

impl<'de> DeserializeSeed<'de> for BodySeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl BodySeed<'_, '_> {
    fn done<E: de::Error>(self, v: Value) -> Result<Value, E> {
        if self.path.is_empty() {
            // The row element is this value: null means no rows, anything
            // else but an array is one row.
            self.st.found = true;
            if !v.is_null() {
                self.st.scalar_row(self.trie, v)?;
            }
            return Ok(Value::Array(Vec::new()));
        }
        Ok(v)
    }
}

impl<'de> Visitor<'de> for BodySeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    value_visits!(done);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !self.path.is_empty() {
            let mut items = Vec::new();
            while let Some(v) = seq.next_element::<Value>()? {
                items.push(v);
            }
            return Ok(Value::Array(items));
        }
        self.st.found = true;
        let mut order = KeyOrder::default();
        while seq
            .next_element_seed(RowSeed {
                trie: self.trie,
                order: &mut order,
                st: &mut *self.st,
            })?
            .is_some()
        {}
        Ok(Value::Array(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.path.is_empty() {
            // An object as the row element is one row.
            self.st.found = true;
            RowSeed {
                trie: self.trie,
                order: &mut KeyOrder::default(),
                st: self.st,
            }
            .visit_map(map)?;
            return Ok(Value::Array(Vec::new()));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // A repeated key holding the rows is read once (the first).
            let v = if key == self.path[0] && !self.st.found {
                map.next_value_seed(BodySeed {
                    path: &self.path[1..],
                    trie: self.trie,
                    st: &mut *self.st,
                })?
            } else {
                map.next_value::<Value>()?
            };
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// One element of the rows array.
struct RowSeed<'a, 'n, 't> {
    trie: &'n Trie,
    /// The previous row's keys, which this row most likely repeats.
    order: &'a mut KeyOrder<Option<&'n Trie>>,
    st: &'a mut State<'t>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl RowSeed<'_, '_, '_> {
    fn done<E: de::Error>(self, v: Value) -> Result<(), E> {
        self.st.scalar_row(self.trie, v)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row")
    }

    value_visits!(done);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        self.st.scalar_row(self.trie, Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.st.kept >= self.st.max {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            self.st.seen += 1;
            return Ok(());
        }
        if let Some(new) = &mut self.st.new {
            new.row = self.st.seen;
        }
        read_fields(
            self.trie,
            &mut self.st.slots,
            &mut map,
            self.st.new.as_mut(),
            Some(self.order),
        )?;
        self.st.end_row()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
