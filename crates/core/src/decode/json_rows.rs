//! JSON rows to Arrow for connectors whose rows map straight to columns: a
//! page's array of objects, found under an element, decoded as a declared
//! schema by arrow-json.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// Why a page's rows could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonRowsError {
    /// The page is not JSON.
    #[error("table {table}: the page is not JSON")]
    NotJson {
        /// The table.
        table: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// No array of rows where the rows element says.
    #[error("table {table}: expected an array of rows at {element}, found {found}")]
    NoRows {
        /// The table.
        table: String,
        /// Where the rows were expected (`the top level` or `element items`).
        element: String,
        /// What stood there.
        found: &'static str,
    },
    /// A row does not fit the schema (a value of another type, a missing
    /// value of a column that is not nullable).
    #[error("table {table}: the rows do not fit its columns")]
    Decode {
        /// The table.
        table: String,
        /// arrow-json's error, naming the column.
        #[source]
        source: arrow_schema::ArrowError,
    },
}

impl From<JsonRowsError> for Error {
    fn from(e: JsonRowsError) -> Self {
        Error::coded(ErrorKind::Protocol, "protocol.json_rows", e)
    }
}

/// A page read by [`JsonRows::read`]: its rows as Arrow, and the rest of
/// the document (next links, totals) with the rows taken out.
#[derive(Debug)]
#[non_exhaustive]
pub struct JsonPage {
    /// The rows.
    pub batch: RecordBatch,
    /// The page without its rows (`Value::Null` in their place).
    pub document: Value,
}

/// Reads the rows of a table's JSON pages as record batches of a declared
/// schema, with arrow-json: an array of objects at the top level or under an
/// element (a `/`-separated path of object keys); each object's fields are
/// matched to columns by name, fields without a column are ignored, absent
/// fields and `null` are nulls, and a value of another type is an error
/// naming the column.
///
/// ```
/// use std::sync::Arc;
/// use connectkit_core::arrow_schema::{DataType, Field, Schema};
/// use connectkit_core::decode::JsonRows;
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("id", DataType::Int64, false),
///     Field::new("name", DataType::Utf8, true),
/// ]));
/// let rows = JsonRows::new("items", schema, "data/items");
/// let page = rows.read(br#"{"data": {"items": [{"id": 1, "name": "one", "extra": true}, {"id": 2}]},
///                           "next": "?page=2"}"#)?;
/// assert_eq!(page.batch.num_rows(), 2);
/// assert_eq!(page.document["next"], "?page=2");
/// let err = rows.read(br#"{"data": {}}"#).unwrap_err();
/// assert_eq!(err.to_string(),
///     "table items: expected an array of rows at element data/items, found nothing");
/// # Ok::<(), connectkit_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JsonRows {
    table: String,
    schema: SchemaRef,
    element: Vec<String>,
}

impl JsonRows {
    /// Rows of `table` at `element` (`/`-separated object keys; empty: the
    /// page is the array), decoded as `schema`.
    pub fn new(table: impl Into<String>, schema: SchemaRef, element: &str) -> Self {
        Self {
            table: table.into(),
            schema,
            element: element
                .split('/')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The schema the rows are decoded as.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The same rows, only these columns of the schema (by index, in this
    /// order): fields of the other columns are skipped, not decoded.
    pub fn project(&self, indices: &[usize]) -> Result<Self> {
        let schema = self
            .schema
            .project(indices)
            .map_err(|e| Error::connector(ErrorKind::Other, e))?;
        Ok(Self {
            schema: Arc::new(schema),
            ..self.clone()
        })
    }

    /// Parses a page and decodes its rows.
    pub fn read(&self, page: &[u8]) -> Result<JsonPage> {
        let document = serde_json::from_slice(page).map_err(|source| JsonRowsError::NotJson {
            table: self.table.clone(),
            source,
        })?;
        self.decode(document)
    }

    /// Decodes the rows of an already parsed page.
    pub fn decode(&self, mut document: Value) -> Result<JsonPage> {
        let pointer: String = self
            .element
            .iter()
            .map(|k| format!("/{}", k.replace('~', "~0")))
            .collect();
        let found = document.pointer_mut(&pointer).map(Value::take);
        let rows = match found.unwrap_or(Value::Null) {
            Value::Array(rows) => rows,
            other => {
                return Err(JsonRowsError::NoRows {
                    table: self.table.clone(),
                    element: match self.element.is_empty() {
                        true => "the top level".to_owned(),
                        false => format!("element {}", self.element.join("/")),
                    },
                    found: kind_of(&other),
                }
                .into());
            }
        };
        let decode = |source| JsonRowsError::Decode {
            table: self.table.clone(),
            source,
        };
        let mut decoder = arrow_json::ReaderBuilder::new(self.schema.clone())
            .build_decoder()
            .map_err(decode)?;
        decoder.serialize(&rows).map_err(decode)?;
        let batch = decoder
            .flush()
            .map_err(decode)?
            .unwrap_or_else(|| RecordBatch::new_empty(self.schema.clone()));
        Ok(JsonPage { batch, document })
    }
}

/// What a JSON value is, for messages (never the value: it may be data).
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    fn rows(element: &str) -> JsonRows {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]);
        JsonRows::new("items", Arc::new(schema), element)
    }

    #[test]
    fn top_level_arrays_and_elements() {
        let page = rows("").read(br#"[{"id": 1, "name": "a"}, {"id": 2, "name": null}]"#);
        let batch = page.unwrap().batch;
        let ids = batch.column(0).as_any().downcast_ref::<Int64Array>();
        assert_eq!(ids.unwrap().values(), &[1, 2]);
        let names = batch.column(1).as_any().downcast_ref::<StringArray>();
        assert!(names.unwrap().is_null(1));
        let page = rows("items")
            .read(br#"{"items": [], "next": null}"#)
            .unwrap();
        assert_eq!(page.batch.num_rows(), 0);
        assert_eq!(page.batch.schema(), rows("").schema().clone());
        assert_eq!(
            page.document,
            serde_json::json!({"items": null, "next": null})
        );
        let projected = rows("items").project(&[1]).unwrap();
        let page = projected.read(br#"{"items": [{"id": "not read", "name": "a"}]}"#);
        assert_eq!(page.unwrap().batch.num_columns(), 1);
    }

    #[test]
    fn errors_name_the_table_and_what_was_found() {
        let message = |r: Result<JsonPage>| {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol);
            assert_eq!(e.code(), "protocol.json_rows");
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        };
        let m = message(rows("items").read(b"<html>"));
        assert!(m.starts_with("table items: the page is not JSON: "), "{m}");
        let m = message(rows("").read(br#"{"items": []}"#));
        assert_eq!(
            m,
            "table items: expected an array of rows at the top level, found an object"
        );
        let m = message(rows("items").read(br#"{"items": [{"id": "x"}]}"#));
        assert!(
            m.starts_with("table items: the rows do not fit its columns: ") && m.contains("id"),
            "{m}"
        );
        let m = message(rows("items").read(br#"{"items": [{"name": "no id"}]}"#));
        assert!(m.contains("id"), "{m}");
    }
}
