//! One page of an entity set, read in one pass: each row's properties are
//! matched against the columns by name as they are read, so no map (and no
//! key string) is built per row; values stay raw JSON so that numbers keep
//! every digit. `@odata.*` annotations and other properties are skipped.
//!
//! Each row is handed to a [`RowSink`] as soon as it is read (its cells
//! borrowed from the body), so that it is decoded while its bytes are still
//! in cache and no page-wide table of cells is built.

use std::fmt;

use foldhash::HashMap;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use connectkit_core::decode::{KeyOrder, KeySeed};

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
    fn row(&mut self, cells: &[Option<&'a str>]) -> Result<(), Dynamics365Error>;
}

/// Parses a page body, handing its rows to `sink`; the page's
/// `@odata.nextLink`.
pub(crate) fn parse<'a>(
    body: &'a str,
    table: &str,
    layout: &Layout,
    sink: &mut dyn RowSink<'a>,
) -> Result<Option<String>, Dynamics365Error> {
    let mut st = State {
        names: &layout.names,
        sink,
        cells: vec![None; layout.names.len()],
        next_link: None,
        saw_value: false,
        error: None,
    };
    let invalid = |message: String| Dynamics365Error::InvalidResponse {
        what: format!("table {table}"),
        message,
    };
    let mut de = serde_json::Deserializer::from_str(body);
    let parsed = PageSeed { st: &mut st }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(e) = st.error {
        return Err(e);
    }
    parsed.map_err(|e| invalid(format!("the page is not OData JSON: {e}")))?;
    if !st.saw_value {
        return Err(invalid("the page has no `value` array".into()));
    }
    Ok(st.next_link)
}

/// The parse's state: the current row's cells, and what the page gave.
struct State<'s, 'a> {
    names: &'s HashMap<String, usize>,
    sink: &'s mut dyn RowSink<'a>,
    cells: Vec<Option<&'a str>>,
    next_link: Option<String>,
    saw_value: bool,
    /// The sink's error that stopped the parse.
    error: Option<Dynamics365Error>,
}

/// The page object: `value` and `@odata.nextLink`, nothing else.
struct PageSeed<'r, 's, 'a> {
    st: &'r mut State<'s, 'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for PageSeed<'_, '_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for PageSeed<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OData page object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "value" => {
                    self.st.saw_value = map.next_value_seed(RowsSeed { st: &mut *self.st })?;
                }
                "@odata.nextLink" => self.st.next_link = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `value` array; `false` when it is null.
struct RowsSeed<'r, 's, 'a> {
    st: &'r mut State<'s, 'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for RowsSeed<'_, '_, 'a> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RowsSeed<'_, '_, 'a> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut order = KeyOrder::default();
        while seq
            .next_element_seed(RowSeed {
                order: &mut order,
                st: &mut *self.st,
            })?
            .is_some()
        {}
        Ok(true)
    }
}

/// One row object.
struct RowSeed<'r, 's, 'a> {
    /// The previous row's keys, which this row most likely repeats.
    order: &'r mut KeyOrder<Option<usize>>,
    st: &'r mut State<'s, 'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for RowSeed<'_, '_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RowSeed<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.st;
        st.cells.fill(None);
        // A property name, looked up among the columns without being allocated.
        let (names, order) = (st.names, self.order);
        let mut pos = 0;
        while let Some(slot) = map.next_key_seed(KeySeed::new(|k: &str| {
            order.get(pos, k, |k| names.get(k).copied())
        }))? {
            pos += 1;
            match slot {
                // A repeated property: the last one counts, as in a JSON object.
                Some(s) => st.cells[s] = Some(map.next_value::<&'a RawValue>()?.get()),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Err(e) = st.sink.row(&st.cells) {
            st.error = Some(e);
            return Err(de::Error::custom("a value does not fit its column"));
        }
        Ok(())
    }
}
