//! One pass from a page's bytes to Arrow, for top-level tables whose rows sit
//! at a known path (every model-file table with a row element, every sampled
//! top-level table).
//!
//! Building a `serde_json::Value` tree per row (a map, a string per key) costs
//! more than the rest of a scan together, so here the body is walked with the
//! core's JSON `Cursor` and each row object is read key by key against a trie
//! of the declared columns: unknown keys are checked and skipped without
//! allocation. Column scalars whose cast is certain go straight from their
//! raw text into the builders (`direct.rs`); the other column values become
//! `Value`s, which go through the same casts as the general path
//! (`decode.rs`). The rest of the body, which paging reads (next links,
//! totals, tokens), is kept as a `Value` with the rows array left empty.

use arrow_array::RecordBatch;
use serde_json::{Map, Value};

use crate::decode::cast::ColBuilder;
use crate::decode::direct::Direct;
use crate::decode::{batch, push_value};
use crate::error::AutoRestError;
use connectkit_core::decode::{Cursor, KeyOrder, Kind};

use crate::decode::fields::{NewField, NewFields, Slots, Stop, Trie, read_fields, value};
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
    /// The body is not JSON (the parser's message).
    Json(String),
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
            new: table.watch_new_fields.then(NewFields::default),
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            // serde_json names where the body stops being UTF-8.
            let e = serde_json::from_slice::<Value>(bytes)
                .err()
                .map_or_else(|| "the body is not UTF-8".to_owned(), |e| e.to_string());
            return (Err(StreamError::Json(e)), false);
        };
        let mut c = Cursor::new(text);
        let parsed = st
            .body(&mut c, path, trie)
            .and_then(|body| Ok(c.finish().map(|()| body)?));
        let redo = st.slots.redo;
        let body = match parsed {
            Ok(body) => body,
            Err(Stop::Json(e)) => return (Err(StreamError::Json(e)), redo),
            Err(Stop::Decode(e)) => return (Err(StreamError::Decode(e)), redo),
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
    fn end_row(&mut self) -> Result<(), Stop> {
        let r = self.finish_row();
        self.seen += 1;
        r.map_err(Stop::Decode)
    }

    /// A row that is not an object: `{"value": v}`, as `decode` normalizes it.
    fn scalar_row(&mut self, trie: &Trie, v: Value) -> Result<(), Stop> {
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

    /// The body, or an object on the way to the row element (`path` is the
    /// rest of the way): kept as a `Value`, except the row element itself.
    fn body(&mut self, c: &mut Cursor<'_>, path: &[String], trie: &Trie) -> Result<Value, Stop> {
        let Some((first, rest)) = path.split_first() else {
            // The row element: an array of rows; null is no rows, anything
            // else one row.
            self.found = true;
            match c.peek()? {
                Kind::Array => {
                    let mut order = KeyOrder::default();
                    let mut more = c.array()?;
                    while more {
                        self.row(c, trie, &mut order)?;
                        more = c.next_element()?;
                    }
                }
                Kind::Null => {
                    c.value()?;
                }
                _ => self.row(c, trie, &mut KeyOrder::default())?,
            }
            return Ok(Value::Array(Vec::new()));
        };
        if c.peek()? != Kind::Object {
            return value(c);
        }
        let mut out = Map::new();
        let mut key = c.object()?;
        while let Some(k) = key {
            // A repeated key holding the rows is read once (the first).
            let v = if k == first.as_str() && !self.found {
                self.body(c, rest, trie)?
            } else {
                value(c)?
            };
            out.insert(k.into_owned(), v);
            key = c.next_key()?;
        }
        Ok(Value::Object(out))
    }

    /// One element of the rows array.
    fn row<'n>(
        &mut self,
        c: &mut Cursor<'_>,
        trie: &'n Trie,
        order: &mut KeyOrder<Option<&'n Trie>>,
    ) -> Result<(), Stop> {
        if c.peek()? != Kind::Object {
            let v = value(c)?;
            return self.scalar_row(trie, v);
        }
        if self.kept >= self.max {
            c.value()?;
            self.seen += 1;
            return Ok(());
        }
        if let Some(new) = &mut self.new {
            new.row = self.seen;
        }
        read_fields(trie, &mut self.slots, c, self.new.as_mut(), Some(order))?;
        self.end_row()
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
