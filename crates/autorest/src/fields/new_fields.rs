//! Fields that have no column: for inferred tables, a field that holds a
//! value in a later page but held none in the sample (or was absent) is
//! recorded by the page readers, so that a scan can report it (once per
//! scan, with its page) instead of dropping its values without a word.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::value_visits;

/// A field of a table's elements that has no column: it held no value in
/// the sample (or was not there at all) and holds one in this page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewField {
    /// Its keys from the element down (more than one inside a flattened object).
    pub path: Vec<String>,
    /// The table row of the page (0-based) where it first holds a value.
    pub row: usize,
}

impl NewField {
    /// The column name it would have had: the keys joined with `_`, as
    /// inference flattens nested objects.
    pub fn name(&self) -> String {
        self.path.join("_")
    }
}

/// The new fields of one page, each once, in the order they appear.
#[derive(Debug, Default)]
pub(crate) struct NewFields {
    pub found: Vec<NewField>,
    /// The table row (0-based in the page) being read.
    pub row: usize,
    /// The keys of the nested object being read.
    pub(super) at: Vec<String>,
}

impl NewFields {
    pub(super) fn note(&mut self, key: &str) {
        let depth = self.at.len();
        let seen = self.found.iter().any(|f| {
            f.path.len() == depth + 1 && f.path[..depth] == self.at[..] && f.path[depth] == key
        });
        if !seen {
            let mut path = self.at.clone();
            path.push(key.to_owned());
            self.found.push(NewField {
                path,
                row: self.row,
            });
        }
    }
}

/// Whether a value carries data: not null, not an empty array, not an
/// object of such (nulls never decide a type, and an empty array gives no
/// element type; neither is data lost when it has no column).
pub(super) fn has_data(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(m) => m.values().any(has_data),
        _ => true,
    }
}

/// Skips a value, telling whether it carries data (see [`has_data`]).
pub(super) struct HasData;

impl<'de> DeserializeSeed<'de> for HasData {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl HasData {
    fn done<E: de::Error>(self, v: Value) -> Result<bool, E> {
        Ok(!v.is_null())
    }
}

impl<'de> Visitor<'de> for HasData {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    value_visits!(done);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut any = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(any)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut any = false;
        while map.next_key::<IgnoredAny>()?.is_some() {
            any |= map.next_value_seed(HasData)?;
        }
        Ok(any)
    }
}


/// A new field as a scan reports it: which table, which field, and the
/// page (1-based) and row of that page (0-based) where it first held a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewFieldReport {
    pub table: String,
    pub field: String,
    pub page: u64,
    pub row: usize,
}

impl fmt::Display for NewFieldReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "table {}: field {} first holds a value in page {} (row {} of the page) and is not in the sampled schema",
            self.table,
            self.field,
            self.page,
            self.row + 1
        )
    }
}

/// The new fields of one scan, each reported once however many pages hold it.
#[derive(Debug, Default)]
pub(crate) struct ScanNewFields {
    reported: HashSet<Vec<String>>,
}

impl ScanNewFields {
    /// The fields of page `page` (1-based) of `table` not reported before.
    pub fn first_seen(
        &mut self,
        table: &str,
        page: u64,
        fields: Vec<NewField>,
    ) -> Vec<NewFieldReport> {
        fields
            .into_iter()
            .filter(|f| self.reported.insert(f.path.clone()))
            .map(|f| NewFieldReport {
                table: table.to_owned(),
                field: f.name(),
                page,
                row: f.row,
            })
            .collect()
    }
}
