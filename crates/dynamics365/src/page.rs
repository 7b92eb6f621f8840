//! One page of an entity set, read in one pass with the core's JSON
//! [`Cursor`]: each row's properties are matched against the columns by
//! name as they are read ([`KeyOrder`]), so no map (and no key string) is
//! built per row; values stay raw JSON so that numbers keep every digit.
//! `@odata.*` annotations and other properties are checked and skipped.
//!
//! Each row is handed to a [`RowSink`] as soon as it is read (its cells
//! borrowed from the body), so that it is decoded while its bytes are still
//! in cache and no page-wide table of cells is built.

use foldhash::HashMap;

use connectkit_core::decode::{Cursor, CursorError, KeyOrder, RawJson};

use crate::error::Dynamics365Error;
use crate::types::Column;

/// Where each column's cell sits in a row, built once per scan: one slot
/// per distinct property name (a projection may repeat a column).
#[derive(Debug)]
pub(crate) struct Layout {
    names: HashMap<String, usize>,
    slots: Vec<usize>,
}

impl Layout {
    /// The layout of rows read for `columns`.
    pub(crate) fn new(columns: &[Column]) -> Self {
        let mut names: HashMap<String, usize> = HashMap::default();
        let slots = columns
            .iter()
            .map(|c| {
                let next = names.len();
                *names.entry(c.json_key()).or_insert(next)
            })
            .collect();
        Self { names, slots }
    }

    /// The slot of column `c` in the cells a [`RowSink`] is given.
    pub(crate) fn slot(&self, c: usize) -> usize {
        self.slots[c]
    }
}

/// What receives the rows of a page as they are read.
pub(crate) trait RowSink<'a> {
    /// One row: the raw JSON of each slot (see [`Layout::slot`]), `None`
    /// when the property is absent. An error stops the page's parse and is
    /// what the parse returns.
    fn row(&mut self, cells: &[Option<RawJson<'a>>]) -> Result<(), Dynamics365Error>;
}

/// Parses a page body, handing its rows to `sink`; the page's
/// `@odata.nextLink`.
pub(crate) fn parse<'a>(
    body: &'a str,
    table: &str,
    layout: &Layout,
    sink: &mut dyn RowSink<'a>,
) -> Result<Option<String>, Dynamics365Error> {
    let invalid = |message: String| Dynamics365Error::InvalidResponse {
        what: format!("table {table}"),
        message,
    };
    let mut reader = PageReader {
        json: Cursor::new(body),
        names: &layout.names,
        cells: vec![None; layout.names.len()],
    };
    match reader.page(sink) {
        Ok((_, false)) => Err(invalid("the page has no `value` array".into())),
        Ok((next_link, true)) => Ok(next_link),
        Err(Stop::Sink(e)) => Err(e),
        Err(Stop::Json(e)) => Err(invalid(format!("the page is not OData JSON: {e}"))),
    }
}

/// Why the parse stopped.
enum Stop {
    /// The page is not JSON, or not shaped as a page.
    Json(CursorError),
    /// The sink refused a row.
    Sink(Dynamics365Error),
}

impl From<CursorError> for Stop {
    fn from(e: CursorError) -> Self {
        Self::Json(e)
    }
}

/// The parse's state: the cursor over the body, and the current row's cells.
struct PageReader<'s, 'a> {
    json: Cursor<'a>,
    names: &'s HashMap<String, usize>,
    cells: Vec<Option<RawJson<'a>>>,
}

impl<'a> PageReader<'_, 'a> {
    /// The page object: `value` and `@odata.nextLink`, nothing else; the
    /// next link, and whether a `value` array was there.
    fn page(&mut self, sink: &mut dyn RowSink<'a>) -> Result<(Option<String>, bool), Stop> {
        let (mut next_link, mut saw_value) = (None, false);
        let mut key = self.json.object()?;
        while let Some(k) = key {
            match k.as_ref() {
                "value" => saw_value |= self.rows(sink)?,
                "@odata.nextLink" => {
                    next_link = match self.json.null()? {
                        true => None,
                        false => Some(self.json.string()?.into_owned()),
                    }
                }
                _ => {
                    self.json.value()?;
                }
            }
            key = self.json.next_key()?;
        }
        self.json.finish()?;
        Ok((next_link, saw_value))
    }

    /// The `value` array, each row handed to `sink`; `false` when it is null.
    fn rows(&mut self, sink: &mut dyn RowSink<'a>) -> Result<bool, Stop> {
        if self.json.null()? {
            return Ok(false);
        }
        // The previous row's keys, which the next row most likely repeats.
        let mut order = KeyOrder::default();
        let mut more = self.json.array()?;
        while more {
            self.row(&mut order)?;
            sink.row(&self.cells).map_err(Stop::Sink)?;
            more = self.json.next_element()?;
        }
        Ok(true)
    }

    /// One row object into the cells: each property matched against the
    /// columns by name, its value kept as raw JSON text.
    fn row(&mut self, order: &mut KeyOrder<Option<usize>>) -> Result<(), Stop> {
        self.cells.fill(None);
        let names = self.names;
        let lookup = |k: &str| names.get(k).copied();
        let mut pos = 0;
        let mut member = self.json.enter_object()?;
        while member {
            let slot = order.read(pos, &mut self.json, lookup)?;
            let value = self.json.raw()?;
            // A repeated property: the last one counts, as in a JSON object.
            if let Some(s) = slot {
                self.cells[s] = Some(value);
            }
            pos += 1;
            member = self.json.member_follows()?;
        }
        Ok(())
    }
}
