//! JSON rows to Arrow record batches: locating a page's rows, walking down
//! to child-table elements, and casting each value to its column's type
//! (`cast`). Rows at a known path are read in one pass instead (`stream`):
//! each row object against a trie of the columns' fields (`fields`), its
//! scalars straight into the column builders where that is certain
//! (`direct`).

use std::borrow::Cow;

use arrow_array::{ArrayRef, RecordBatch};
use serde_json::Value;

use crate::error::{AutoRestError, JsonKind};
use crate::json::lookup;
use crate::table::{ColumnDef, Rows, Source, TableDef};

pub(crate) mod cast;
mod direct;
pub(crate) mod fields;
pub(crate) mod stream;

use cast::ColBuilder;
use fields::{NewField, NewFields, Trie};

/// The top-level rows of one page, by the table's row locator. A missing row
/// element is `Err(path)`; a `null` one is no rows.
pub(crate) fn page_rows<'a>(rows: &Rows, body: &'a Value) -> Result<Vec<&'a Value>, String> {
    let at = match rows {
        Rows::Single => return Ok(vec![body]),
        Rows::Auto => {
            return Ok(discover_rows(body)
                .first()
                .map_or_else(Vec::new, |(_, r)| page_rows(r, body).unwrap_or_default()));
        }
        Rows::Path(path) => lookup(body, path).ok_or_else(|| format!("/{}", path.join("/")))?,
    };
    match at {
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![other]),
    }
}

/// One row of a table: its ancestors' identities, its position and its element.
struct RowCtx<'a> {
    ids: Vec<Value>,
    position: usize,
    elem: Cow<'a, Value>,
}

fn normalize(v: &Value) -> Cow<'_, Value> {
    if v.is_object() {
        Cow::Borrowed(v)
    } else {
        let mut m = serde_json::Map::new();
        m.insert("value".to_owned(), v.clone());
        Cow::Owned(Value::Object(m))
    }
}

fn descend<'a>(
    table: &TableDef,
    level: usize,
    elem: &'a Value,
    ids: &[Value],
    out: &mut Vec<RowCtx<'a>>,
) {
    let Some(Value::Array(items)) = lookup(elem, &table.levels[level]) else {
        return;
    };
    for (j, e) in items.iter().enumerate() {
        if level + 1 == table.levels.len() {
            out.push(RowCtx {
                ids: ids.to_vec(),
                position: j,
                elem: normalize(e),
            });
        } else if let Cow::Borrowed(obj) = normalize(e) {
            let mut next = ids.to_vec();
            next.push(Value::from(j));
            descend(table, level + 1, obj, &next, out);
        } else {
            // A scalar element holds no deeper arrays; arrays of arrays are
            // walked through their `value` pseudo-field.
            let mut next = ids.to_vec();
            next.push(Value::from(j));
            let wrapped = normalize(e).into_owned();
            let mut inner = Vec::new();
            descend(table, level + 1, &wrapped, &next, &mut inner);
            out.extend(inner.into_iter().map(|r| RowCtx {
                ids: r.ids,
                position: r.position,
                elem: Cow::Owned(r.elem.into_owned()),
            }));
        }
    }
}

/// A page decoded by the general path.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The kept rows.
    pub batch: RecordBatch,
    /// Fields of the kept rows that hold a value and have no column (only
    /// for tables that watch for them: `TableDef::watch_new_fields`).
    pub new_fields: Vec<NewField>,
}

/// Decodes the rows of one page into a batch of the table's schema.
///
/// `root_offset` is how many top-level rows earlier pages held (positions of
/// key-less parents count from it); `row_offset` how many table rows earlier
/// pages gave (for error messages); at most `max_rows` rows are kept.
/// The fields of the kept rows that have no column come along (for tables
/// that watch for them).
pub(crate) fn decode(
    table: &TableDef,
    root_rows: &[&Value],
    root_offset: usize,
    row_offset: usize,
    max_rows: Option<usize>,
) -> Result<Decoded, AutoRestError> {
    let mut rows: Vec<RowCtx<'_>> = Vec::new();
    for (i, root) in root_rows.iter().enumerate() {
        if max_rows.is_some_and(|m| rows.len() >= m) {
            break;
        }
        let position = root_offset + i;
        if table.levels.is_empty() {
            rows.push(RowCtx {
                ids: Vec::new(),
                position,
                elem: normalize(root),
            });
            continue;
        }
        let id = match &table.root_key {
            Some(path) => lookup(root, path).cloned().unwrap_or(Value::Null),
            None => Value::from(position),
        };
        descend(table, 0, root, &[id], &mut rows);
    }
    if let Some(m) = max_rows {
        rows.truncate(m);
    }
    // Row by row, so that the first bad value reported is that of the
    // earliest row (as the one-pass reader in `stream.rs` does).
    let mut builders: Vec<ColBuilder> = table
        .columns
        .iter()
        .map(|c| ColBuilder::new(c.sql_type, rows.len()))
        .collect();
    let mut new = table
        .watch_new_fields
        .then(|| (Trie::new(table), NewFields::default()));
    for (n, row) in rows.iter().enumerate() {
        if let Some((trie, found)) = &mut new {
            found.row = n;
            trie.new_fields_in(&row.elem, found);
        }
        for (col, b) in table.columns.iter().zip(&mut builders) {
            let value: Cow<'_, Value> = match &col.source {
                Source::Field(path) => match lookup(&row.elem, path) {
                    Some(v) => Cow::Borrowed(v),
                    None => Cow::Owned(Value::Null),
                },
                Source::Ancestor(level) => {
                    Cow::Owned(row.ids.get(*level).cloned().unwrap_or(Value::Null))
                }
                Source::Position => Cow::Owned(Value::from(row.position)),
                Source::Input(v) => Cow::Owned(v.clone().map_or(Value::Null, Value::String)),
            };
            push_value(table, col, b, &value, row_offset + n + 1)?;
        }
    }
    Ok(Decoded {
        batch: batch(table, builders, rows.len())?,
        new_fields: new.map(|(_, n)| n.found).unwrap_or_default(),
    })
}

/// Appends `value` to the builder of `col`; a null in a NOT NULL column or a
/// value that does not fit is an error naming table, column, row and value.
pub(crate) fn push_value(
    table: &TableDef,
    col: &ColumnDef,
    b: &mut ColBuilder,
    value: &Value,
    row_no: usize,
) -> Result<(), AutoRestError> {
    if value.is_null() {
        if col.not_null {
            return Err(AutoRestError::NullValue {
                table: table.name.clone(),
                column: col.name.clone(),
                row: row_no,
                page: None,
            });
        }
        b.append_null();
    } else if !b.append(value, col) {
        return Err(AutoRestError::Cast {
            table: table.name.clone(),
            column: col.name.clone(),
            row: row_no,
            value: short(value),
            found: JsonKind::of(value),
            sql_type: col.sql_type,
            page: None,
        });
    }
    Ok(())
}

/// A batch of `table`'s schema from finished builders.
pub(crate) fn batch(
    table: &TableDef,
    builders: Vec<ColBuilder>,
    rows: usize,
) -> Result<RecordBatch, AutoRestError> {
    let arrays: Vec<ArrayRef> = builders.into_iter().map(ColBuilder::finish).collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(table.schema.clone(), arrays, &options).map_err(|e| {
        AutoRestError::Arrow {
            table: table.name.clone(),
            message: e.to_string(),
        }
    })
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Where the rows of a sample are: the top-level array; else, for an object,
/// its arrays of objects (objects holding only arrays are dropped and their
/// arrays promoted), each with the field that names it; else the object is
/// one row.
pub(crate) fn discover_rows(body: &Value) -> Vec<(Option<String>, Rows)> {
    match body {
        Value::Array(_) => vec![(None, Rows::Path(Vec::new()))],
        Value::Object(_) => {
            let mut found = Vec::new();
            candidates(body, &mut Vec::new(), &mut found);
            if found.is_empty() {
                vec![(None, Rows::Single)]
            } else {
                found
                    .into_iter()
                    .map(|p| (p.last().cloned(), Rows::Path(p)))
                    .collect()
            }
        }
        _ => vec![(None, Rows::Single)],
    }
}

fn candidates(obj: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let Some(map) = obj.as_object() else { return };
    for (k, v) in map {
        prefix.push(k.clone());
        match v {
            Value::Array(items)
                if !items.is_empty() && items.iter().all(|i| i.is_object() || i.is_null()) =>
            {
                out.push(prefix.clone());
            }
            Value::Object(inner) if !inner.is_empty() && inner.values().all(Value::is_array) => {
                candidates(v, prefix, out);
            }
            _ => {}
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_found_by_path_or_discovered() {
        let body = json!({"data": {"items": [{"a": 1}, {"a": 2}]}, "meta": {}});
        let path = Rows::Path(vec!["data".into(), "items".into()]);
        assert_eq!(page_rows(&path, &body).unwrap().len(), 2);
        assert_eq!(page_rows(&Rows::Auto, &body).unwrap().len(), 2);
        assert_eq!(
            page_rows(&Rows::Path(vec!["nope".into()]), &body).unwrap_err(),
            "/nope"
        );
        assert_eq!(page_rows(&Rows::Single, &body).unwrap().len(), 1);
        assert!(
            page_rows(&path, &json!({"data": {"items": null}}))
                .unwrap()
                .is_empty()
        );
    }
}
