//! One page of an entity set, read in one pass: each row's properties are
//! matched against the columns by name as they are read, so no map (and no
//! key string) is built per row; values stay raw JSON so that numbers keep
//! every digit. `@odata.*` annotations and other properties are skipped.

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
}

/// A page: a raw cell per row and column, and the next link.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    /// Row-major: row `r`, column `c` is
    /// `cells[r * layout.names.len() + layout.slots[c]]`.
    cells: Vec<Option<&'a RawValue>>,
    layout: &'a Layout,
    rows: usize,
    /// `@odata.nextLink`.
    pub(crate) next_link: Option<String>,
}

impl<'a> Page<'a> {
    /// Parses a page body into cells laid out by `layout`.
    pub(crate) fn parse(
        body: &'a str,
        table: &str,
        layout: &'a Layout,
    ) -> Result<Self, Dynamics365Error> {
        let mut page = Page {
            cells: Vec::new(),
            layout,
            rows: 0,
            next_link: None,
        };
        let mut saw_value = false;
        let seed = PageSeed {
            names: &layout.names,
            page: &mut page,
            saw_value: &mut saw_value,
        };
        let invalid = |message: String| Dynamics365Error::InvalidResponse {
            what: format!("table {table}"),
            message,
        };
        let mut de = serde_json::Deserializer::from_str(body);
        seed.deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| invalid(format!("the page is not OData JSON: {e}")))?;
        if !saw_value {
            return Err(invalid("the page has no `value` array".into()));
        }
        Ok(page)
    }

    /// How many rows the page holds.
    pub(crate) fn num_rows(&self) -> usize {
        self.rows
    }

    /// The raw JSON of column `c` in row `r`, `None` when absent or null.
    pub(crate) fn cell(&self, r: usize, c: usize) -> Option<&'a str> {
        self.cells[r * self.layout.names.len() + self.layout.slots[c]]
            .map(RawValue::get)
            .filter(|t| *t != "null")
    }
}

/// The page object: `value` and `@odata.nextLink`, nothing else.
struct PageSeed<'s, 'a> {
    names: &'s HashMap<String, usize>,
    page: &'s mut Page<'a>,
    saw_value: &'s mut bool,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for PageSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for PageSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OData page object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "value" => {
                    *self.saw_value = map.next_value_seed(RowsSeed {
                        names: self.names,
                        page: &mut *self.page,
                    })?;
                }
                "@odata.nextLink" => self.page.next_link = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `value` array; `false` when it is null.
struct RowsSeed<'s, 'a> {
    names: &'s HashMap<String, usize>,
    page: &'s mut Page<'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for RowsSeed<'_, 'a> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RowsSeed<'_, 'a> {
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
        // Rows are appended in place; the page starts empty.
        self.page.cells.clear();
        self.page.rows = 0;
        let mut order = KeyOrder::default();
        while seq
            .next_element_seed(RowSeed {
                names: self.names,
                order: &mut order,
                page: &mut *self.page,
            })?
            .is_some()
        {}
        Ok(true)
    }
}

/// One row object.
struct RowSeed<'s, 'a> {
    names: &'s HashMap<String, usize>,
    /// The previous row's keys, which this row most likely repeats.
    order: &'s mut KeyOrder<Option<usize>>,
    page: &'s mut Page<'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for RowSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RowSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let start = self.page.cells.len();
        self.page
            .cells
            .resize(start + self.names.len(), Option::<&RawValue>::None);
        // A property name, looked up among the columns without being allocated.
        let (names, order) = (self.names, self.order);
        let mut pos = 0;
        while let Some(column) = map.next_key_seed(KeySeed::new(|k: &str| {
            order.get(pos, k, |k| names.get(k).copied())
        }))? {
            pos += 1;
            match column {
                Some(c) => self.page.cells[start + c] = Some(map.next_value::<&'a RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.page.rows += 1;
        Ok(())
    }
}
