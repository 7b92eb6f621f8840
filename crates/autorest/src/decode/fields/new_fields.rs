//! Fields that have no column: for inferred tables, a field that holds a
//! value in a later page but held none in the sample (or was absent) is
//! recorded by the page readers, so that a scan can report it (once per
//! scan, with its page) instead of dropping its values without a word.

use std::collections::HashSet;
use std::fmt;

use serde_json::Value;

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
        let mut path = self.at.clone();
        path.push(key.to_owned());
        self.note_path(path);
    }

    /// Notes the object being read itself: a value that is not an object
    /// where the sample had one whose fields are columns (flattened), so
    /// the value has no column.
    pub(super) fn note_here(&mut self) {
        self.note_path(self.at.clone());
    }

    fn note_path(&mut self, path: Vec<String>) {
        if !self.found.iter().any(|f| f.path == path) {
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

/// Whether a field's value carries data (see [`has_data`]); `arrays`:
/// whether a non-empty array counts (not for a field whose arrays a child
/// table reads: only another kind of value is lost there).
pub(super) fn carries_data(v: &Value, arrays: bool) -> bool {
    match v {
        Value::Array(items) => arrays && !items.is_empty(),
        v => has_data(v),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::decode::stream::PageReader;
    use crate::decode::{decode, page_rows};
    use crate::infer::infer_body;
    use crate::table::paging::Paging;
    use crate::table::{Endpoint, Rows, TableDef};
    use connectkit_core::client::HttpRules;

    fn inferred(sample: Value) -> Vec<TableDef> {
        let endpoint = Arc::new(Endpoint {
            url: "https://api.example.com/v1/t".into(),
            headers: Vec::new(),
            paging: Paging::default(),
            http: HttpRules::default(),
            follow_links: true,
            ..Endpoint::default()
        });
        infer_body("t", &endpoint, &Rows::Auto, &sample).unwrap()
    }

    /// `(name, row)` of the new fields the general path finds in `page`.
    fn general(t: &TableDef, page: &Value) -> Vec<(String, usize)> {
        let rows = page_rows(&t.rows, page).unwrap();
        let d = decode(t, &rows, 0, 0, None).unwrap();
        d.new_fields.iter().map(|f| (f.name(), f.row)).collect()
    }

    /// The same from the one-pass reader, which must agree.
    fn streamed(t: &TableDef, page: &Value) -> Vec<(String, usize)> {
        let bytes = serde_json::to_vec(page).unwrap();
        let reader = PageReader::for_table(t).unwrap();
        let s = reader.decode(t, &bytes, 0, 0, None).unwrap();
        let got: Vec<_> = s.new_fields.iter().map(|f| (f.name(), f.row)).collect();
        assert_eq!(got, general(t, page), "the readers disagree on {page}");
        got
    }

    #[test]
    fn fields_without_a_column_are_found_once_with_their_first_row() {
        let tables = inferred(json!([
            {"id": 1, "name": "a", "addr": {"city": "x"}, "tags": ["t"], "none": [], "gone": null}
        ]));
        let t = &tables[0];
        assert!(t.watch_new_fields);
        let page = json!([
            {"id": 2, "name": "b", "addr": {"city": "y"}, "tags": ["u"], "none": [], "gone": null,
             "skip": null, "blank": {}, "nulls": {"a": null}},
            {"id": 3, "addr": {"city": "z", "zip": "N1"}, "extra": 0, "tags": []},
            {"id": 4, "extra": 5, "late": {"a": 1}, "none": [7], "addr": {"zip": "N2"}},
            {"id": 5, "addr": "Baker Street"},
            {"id": 6, "addr": ["Baker Street"]},
            {"id": 7, "tags": "t1"},
        ]);
        // Not reported: columns, the child table's array, nulls, empty
        // arrays and objects of nothing (no value is lost). Reported: what
        // holds a value, each once, from the row it first does.
        assert_eq!(
            streamed(t, &page),
            [
                ("addr_zip".to_owned(), 1),
                ("extra".to_owned(), 1),
                ("late".to_owned(), 2),
                ("none".to_owned(), 2),
                // Not an object where the sample flattened one.
                ("addr".to_owned(), 3),
                // Not an array where the child table reads one.
                ("tags".to_owned(), 5),
            ]
        );
        assert!(streamed(t, &json!([{"id": 5, "name": "c"}])).is_empty());
    }

    #[test]
    fn child_tables_watch_their_elements() {
        let tables = inferred(json!([{"id": 1, "items": [{"sku": "a", "parts": [1]}]}]));
        let names: Vec<_> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["t", "t_items", "t_items_parts"]);
        let page = json!([
            {"id": 1, "items": [{"sku": "b", "parts": [2]}, {"sku": "c", "qty": 2}]},
            {"id": 2, "items": [{"sku": "d", "qty": 3, "note": "x"}], "more": true},
        ]);
        assert_eq!(general(&tables[0], &page), [("more".to_owned(), 1)]);
        assert_eq!(
            general(&tables[1], &page),
            [("qty".to_owned(), 1), ("note".to_owned(), 2)]
        );
        assert!(general(&tables[2], &page).is_empty());
    }

    #[test]
    fn model_file_tables_do_not_watch() {
        let text = r##"{"t": {"#path": "https://api.example.com/t /data", "id": "Integer"}}"##;
        let model = crate::model::parse(text, false, "m.rest", None).unwrap();
        let Some(crate::model::Entry::Declared(tables)) = model.entries.into_iter().next() else {
            panic!("a declared table");
        };
        let t = &tables[0];
        assert!(!t.watch_new_fields);
        assert!(streamed(t, &json!({"data": [{"id": 1, "other": 2}]})).is_empty());
    }

    #[test]
    fn a_scan_reports_each_field_once_with_its_page() {
        let mut seen = ScanNewFields::default();
        let field = |name: &str, row| NewField {
            path: name.split('/').map(str::to_owned).collect(),
            row,
        };
        let first = seen.first_seen("t", 3, vec![field("extra", 4), field("addr/zip", 0)]);
        assert_eq!(
            first[0].to_string(),
            "table t: field extra first holds a value in page 3 (row 5 of the page) and is not in the sampled schema"
        );
        assert_eq!(first[1].field, "addr_zip");
        let again = seen.first_seen("t", 4, vec![field("extra", 0), field("late", 1)]);
        let names: Vec<_> = again.iter().map(|r| (r.field.as_str(), r.page)).collect();
        assert_eq!(names, [("late", 4)]);
    }
}
