//! Sample inference: tables, columns, keys and types from one JSON response;
//! `sampling` reads the pages they are inferred from.

use std::sync::Arc;

use serde_json::Value;

use crate::decode::cast::{to_date, to_timestamp};
use crate::decode::discover_rows;
use crate::json::lookup;
use crate::table::types::SqlType;
use crate::table::{ChildAt, ChildScope, ColumnDef, Endpoint, Rows, Source, TableDef};

pub(crate) mod sampling;

/// The name of a sampled table: the last non-empty path segment, or `URL_`.
/// When that segment is an identifier value (all digits, or a UUID) it
/// names a record, not a collection, so the segment before it leads:
/// `/customers/1` is `customers_1`.
pub(crate) fn table_name_for(url: &url::Url) -> String {
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    match segments.as_slice() {
        [] => "URL_".to_owned(),
        [.., parent, last] if is_identifier_value(last) => format!("{parent}_{last}"),
        [.., last] => (*last).to_owned(),
    }
}

/// All digits, or a UUID (`8-4-4-4-12` hexadecimal digits).
fn is_identifier_value(segment: &str) -> bool {
    let all_digits = segment.bytes().all(|b| b.is_ascii_digit());
    let groups: Vec<&str> = segment.split('-').collect();
    let uuid = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    all_digits || uuid
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    Bool,
    Int,
    Float,
    Date,
    Timestamp,
    Str,
}

/// What the sampled values at one place looked like.
#[derive(Debug, Default)]
struct Shape {
    scalar: Option<Scalar>,
    max_len: usize,
    objects: usize,
    arrays: usize,
    scalars: usize,
    nulls: usize,
    fields: Vec<(String, Shape)>,
    elements: Option<Box<Shape>>,
}

impl Shape {
    fn observe(&mut self, v: &Value) {
        match v {
            Value::Null => self.nulls += 1,
            Value::Object(map) => {
                self.objects += 1;
                for (k, fv) in map {
                    let i = match self.fields.iter().position(|(n, _)| n == k) {
                        Some(i) => i,
                        None => {
                            self.fields.push((k.clone(), Shape::default()));
                            self.fields.len() - 1
                        }
                    };
                    self.fields[i].1.observe(fv);
                }
            }
            Value::Array(items) => {
                self.arrays += 1;
                let el = self.elements.get_or_insert_with(Default::default);
                for i in items {
                    el.observe(i);
                }
            }
            scalar => {
                self.scalars += 1;
                let (kind, len) = classify(scalar);
                self.max_len = self.max_len.max(len);
                self.scalar = Some(match self.scalar {
                    None => kind,
                    Some(k) if k == kind => k,
                    Some(Scalar::Int | Scalar::Float)
                        if matches!(kind, Scalar::Int | Scalar::Float) =>
                    {
                        Scalar::Float
                    }
                    Some(_) => Scalar::Str,
                });
            }
        }
    }

    fn kinds(&self) -> usize {
        usize::from(self.objects > 0) + usize::from(self.arrays > 0) + usize::from(self.scalars > 0)
    }

    fn seen(&self) -> usize {
        self.objects + self.arrays + self.scalars + self.nulls
    }

    /// The elements of the arrays seen here, when there were any: arrays
    /// that were always empty give no evidence of an element type, so they
    /// make no child table (a later page that fills one reports it as a
    /// field not in the schema).
    fn elements(&self) -> Option<&Shape> {
        self.elements.as_deref().filter(|e| e.seen() > 0)
    }

    /// Objects to flatten: only objects were seen, and they share keys. A
    /// map keyed by ids, whose keys differ from object to object (no key
    /// in more than one), varies in shape and is a JSON column instead.
    fn flattens(&self) -> bool {
        let map_like = self.objects >= 2
            && self.fields.len() >= 2
            && self.fields.iter().all(|(_, f)| f.seen() == 1);
        self.kinds() == 1 && self.objects > 0 && !map_like
    }

    fn sql_type(&self) -> SqlType {
        if self.kinds() > 1 || self.objects > 0 {
            return SqlType::Json;
        }
        match self.scalar {
            Some(Scalar::Bool) => SqlType::Boolean,
            Some(Scalar::Int) => SqlType::BigInt,
            Some(Scalar::Float) => SqlType::Double,
            Some(Scalar::Date) => SqlType::Date,
            Some(Scalar::Timestamp) => SqlType::Timestamp,
            Some(Scalar::Str) | None => SqlType::VarChar(self.max_len.max(64) as u32),
        }
    }
}

fn classify(v: &Value) -> (Scalar, usize) {
    match v {
        Value::Bool(b) => (Scalar::Bool, b.to_string().len()),
        Value::Number(n) => {
            let kind = if n.is_i64() {
                Scalar::Int
            } else {
                Scalar::Float
            };
            (kind, n.to_string().len())
        }
        Value::String(s) => {
            let kind = if s.len() == 10 && to_date(v).is_some() {
                Scalar::Date
            } else if chrono::DateTime::parse_from_rfc3339(s).is_ok() && to_timestamp(v).is_some() {
                Scalar::Timestamp
            } else {
                Scalar::Str
            };
            (kind, s.chars().count())
        }
        _ => (Scalar::Str, 0),
    }
}

/// Infers the tables of one sampled response body: the rows are found as
/// `rows` says (discovered for [`Rows::Auto`], one table per array found),
/// and each table's children follow it. `Err` names a row path that is absent.
pub(crate) fn infer_body(
    name: &str,
    endpoint: &Arc<Endpoint>,
    rows: &Rows,
    body: &Value,
) -> Result<Vec<TableDef>, String> {
    let found = match rows {
        Rows::Auto => discover_rows(body),
        other => vec![(None, other.clone())],
    };
    let several = found.len() > 1;
    let mut out = Vec::new();
    for (field, at) in found {
        let rows = crate::decode::page_rows(&at, body)?;
        let table = match (several, field) {
            (true, Some(f)) => format!("{name}_{f}"),
            _ => name.to_owned(),
        };
        out.extend(infer_tables(&table, endpoint, &at, &rows));
    }
    Ok(out)
}

/// Infers tables and their Arrow schemas from a sample response body, as
/// `Sample` does after its first GET, without any HTTP: for offline schema
/// design, tests and fuzzing. `table` names the top-level table.
///
/// ```
/// let body = serde_json::json!([{"id": 1, "tags": ["a", "b"]}, {"id": 2, "tags": []}]);
/// let tables = connectkit_autorest::infer_schemas("items", &body);
/// let names: Vec<_> = tables.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["items", "items_tags"]);
/// ```
pub fn infer_schemas(table: &str, body: &Value) -> Vec<(String, arrow_schema::SchemaRef)> {
    let endpoint = Arc::new(Endpoint {
        url: String::new(),
        headers: Vec::new(),
        paging: Default::default(),
        http: Default::default(),
        follow_links: true,
        ..Endpoint::default()
    });
    let mut body = body.clone();
    crate::table::paging::strip_next_links(&mut body);
    infer_body(table, &endpoint, &Rows::Auto, &body)
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.name, t.schema))
        .collect()
}

/// Infers the tables of a sample: `name` is the base table name, `rows`
/// where the rows are; child tables follow their parent.
pub(crate) fn infer_tables(
    name: &str,
    endpoint: &Arc<Endpoint>,
    rows_at: &Rows,
    rows: &[&Value],
) -> Vec<TableDef> {
    let mut shape = Shape::default();
    for r in rows {
        shape.observe(r);
    }
    let key = choose_key(&shape, rows);
    let mut out = Vec::new();
    let mut columns = Vec::new();
    let mut children = Vec::new();
    flatten(&shape, &[], &mut columns, &mut children);
    let root_key = key.as_ref().map(|k| vec![k.clone()]);
    if let Some(k) = &key {
        for c in &mut columns {
            if c.source == Source::Field(vec![k.clone()]) {
                c.key = true;
                c.not_null = true;
            }
        }
    }
    // The identity children carry for a top-level row.
    let root_id = match &key {
        Some(k) => {
            let t = columns.iter().find(|c| c.key).map(|c| c.sql_type);
            (format!("{name}_{k}"), t.unwrap_or(SqlType::BigInt))
        }
        None => (format!("{name}_position"), SqlType::BigInt),
    };
    let child_arrays = children.iter().map(|(_, path, _)| path.clone()).collect();
    out.push(
        TableDef::new(
            name.to_owned(),
            endpoint.clone(),
            rows_at.clone(),
            Vec::new(),
            None,
            columns,
        )
        .watching_new_fields(child_arrays),
    );
    let scope = ChildScope {
        endpoint,
        rows: rows_at,
        root_key,
        enforce_len: false,
    };
    for (field, path, el) in children {
        let at = ChildAt::top(name, &field, path, root_id.clone());
        child_tables(&scope, at, el, &mut out);
    }
    out
}

fn child_tables(scope: &ChildScope<'_>, at: ChildAt, el: &Shape, out: &mut Vec<TableDef>) {
    let mut columns = scope.key_columns(&at);
    let mut children = Vec::new();
    if el.flattens() {
        flatten(el, &[], &mut columns, &mut children);
    } else if el.kinds() == 1 && el.arrays > 0 {
        if let Some(inner) = el.elements() {
            children.push(("value".to_owned(), vec!["value".to_owned()], inner));
        }
    } else {
        let path = Source::Field(vec!["value".to_owned()]);
        columns.push(column("value", el.sql_type(), path, false));
    }
    let child_arrays = children.iter().map(|(_, path, _)| path.clone()).collect();
    out.push(scope.table(&at, columns).watching_new_fields(child_arrays));
    for (field, path, child_el) in children {
        child_tables(scope, at.child(&field, path), child_el, out);
    }
}

/// An inferred column: lengths are hints, not enforced.
fn column(name: &str, t: SqlType, source: Source, not_null: bool) -> ColumnDef {
    ColumnDef::new(name, t, source, not_null, false)
}

/// Columns of an object shape, nested objects flattened with `_`; arrays
/// are returned as (flattened name, path, element shape) for child tables.
fn flatten<'a>(
    shape: &'a Shape,
    prefix: &[String],
    columns: &mut Vec<ColumnDef>,
    children: &mut Vec<(String, Vec<String>, &'a Shape)>,
) {
    for (k, f) in &shape.fields {
        let mut path = prefix.to_vec();
        path.push(k.clone());
        let name = path.join("_");
        if f.flattens() {
            flatten(f, &path, columns, children);
        } else if f.kinds() == 1 && f.arrays > 0 {
            if let Some(el) = f.elements() {
                children.push((name, path, el));
            }
        } else {
            columns.push(column(&name, f.sql_type(), Source::Field(path), false));
        }
    }
}

/// The first top-level scalar column that is an integer, or a string of at
/// most 32 characters, with no duplicates and no nulls among the rows.
fn choose_key(shape: &Shape, rows: &[&Value]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    shape
        .fields
        .iter()
        .filter(|(_, f)| {
            f.kinds() == 1 && matches!(f.sql_type(), SqlType::BigInt | SqlType::VarChar(_))
        })
        .find(|(k, _)| {
            let mut seen = std::collections::HashSet::new();
            let path = [k.clone()];
            let all_int = rows
                .iter()
                .all(|r| lookup(r, &path).is_some_and(Value::is_i64));
            let all_short_str = rows.iter().all(|r| {
                lookup(r, &path)
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.chars().count() <= 32)
            });
            (all_int || all_short_str)
                && rows
                    .iter()
                    .all(|r| seen.insert(lookup(r, &path).map(Value::to_string)))
        })
        .map(|(k, _)| k.clone())
}

#[cfg(test)]
#[path = "infer_tests.rs"]
mod tests;
