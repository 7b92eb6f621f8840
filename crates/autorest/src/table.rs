//! What the connector knows about a table, however it learnt it (model file
//! or sampling): where its rows are, its columns and how to read them. Its
//! parts: the column types (`types`), the date and time formats of columns
//! (`formats`), and the paging keys of its endpoint with what they mean for
//! each page (`paging`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{Field, Schema, SchemaRef};
use connectkit_core::FilterOp;
use connectkit_core::client::HttpRules;
use serde_json::Value;

use crate::error::AutoRestError;
use crate::keys::value_err;

pub(crate) mod formats;
pub(crate) mod paging;
pub(crate) mod types;

use formats::Format;
use paging::Paging;
use types::SqlType;

pub use connectkit_core::{KEY_METADATA_KEY, TYPE_METADATA_KEY};

/// One HTTP endpoint that tables read from.
#[derive(Debug, Default, Clone)]
pub(crate) struct Endpoint {
    /// The URL, possibly holding `{LIMIT}`, `{OFFSET}`, `{PAGE}` or `{NEXT}`.
    pub url: String,
    /// Extra request headers (`#headers`).
    pub headers: Vec<(String, String)>,
    /// How to page.
    pub paging: Paging,
    /// What to do with each status code.
    pub http: HttpRules,
    /// Follow the next links a sampled endpoint carries (no model file).
    pub follow_links: bool,
    /// The JSON body of a POST (`#post`); `None` for a GET.
    pub post: Option<serde_json::Value>,
    /// The input values of the body's `{name}`s for one scan, filled in
    /// after the paging templates so that a value is never read as one.
    pub body_inputs: Vec<(String, String, SqlType)>,
}

/// Where a response holds a table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rows {
    /// The array at this path (empty: the body is the array).
    Path(Vec<String>),
    /// The body object is the one row.
    Single,
    /// Discover on each page: a top-level array, else the first array of
    /// objects, else the object itself.
    Auto,
}

/// Where a column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A field of the row, through nested objects.
    Field(Vec<String>),
    /// The identity of the ancestor row at this level (0: the top-level row):
    /// its key, or its position.
    Ancestor(usize),
    /// The position of the row in its array.
    Position,
    /// A virtual column (a request input only): the value the scan sent.
    Input(Option<String>),
}

/// One column.
#[derive(Debug, Clone)]
pub(crate) struct ColumnDef {
    pub name: String,
    pub sql_type: SqlType,
    pub source: Source,
    pub not_null: bool,
    pub key: bool,
    /// Whether the declared length is enforced (model files: yes; inference: a hint).
    pub enforce_len: bool,
    /// A date/time pattern or epoch unit (`Timestamp,<pattern>`).
    pub format: Option<Format>,
    /// How filters on it are sent to the API, when they are.
    pub input: Option<ColumnInput>,
}

/// The input keys a column object may hold, beside `#type`, `#key` and `#notNull`.
pub(crate) const INPUT_KEYS: &[&str] = &[
    "#eq",
    "#ne",
    "#lt",
    "#le",
    "#gt",
    "#ge",
    "#in",
    "#queryParameter",
    "#default",
    "#virtual",
];

/// How filters on one column reach the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ColumnInput {
    /// The request parameter of each operator, in file order.
    pub params: Vec<(FilterOp, String)>,
    /// Sent when no filter on the column gives a value.
    pub default: Option<String>,
    /// The column is not in the response: only a request input.
    pub is_virtual: bool,
}

impl ColumnInput {
    /// Sets one input key of a column object (`canon` is its canonical spelling).
    pub fn set(&mut self, canon: &str, v: &Value, table: &str) -> Result<(), AutoRestError> {
        let text = |v: &Value| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(value_err(table, canon, "expected a string")),
        };
        let op = match canon {
            "#eq" | "#queryParameter" => FilterOp::Eq,
            "#ne" => FilterOp::Ne,
            "#lt" => FilterOp::Lt,
            "#le" => FilterOp::Le,
            "#gt" => FilterOp::Gt,
            "#ge" => FilterOp::Ge,
            "#in" => FilterOp::In,
            "#default" => {
                self.default = Some(text(v)?);
                return Ok(());
            }
            _ => {
                self.is_virtual = v
                    .as_bool()
                    .ok_or_else(|| value_err(table, canon, "expected true or false"))?;
                return Ok(());
            }
        };
        let name = text(v)?;
        if name.trim().is_empty() {
            return Err(value_err(table, canon, "expected a parameter name"));
        }
        self.params.retain(|(o, _)| *o != op);
        self.params.push((op, name));
        Ok(())
    }

    /// The request parameter that carries a filter with `op`, if any.
    pub fn param(&self, op: FilterOp) -> Option<&str> {
        self.params
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, p)| p.as_str())
    }
}

/// One table.
#[derive(Debug)]
pub(crate) struct TableDef {
    pub name: String,
    pub endpoint: Arc<Endpoint>,
    pub rows: Rows,
    /// For child tables, the array fields leading from a top-level row down
    /// to this table's elements; empty for top-level tables.
    pub levels: Vec<Vec<String>>,
    /// The path of the top-level row's key, when it has one.
    pub root_key: Option<Vec<String>>,
    pub columns: Vec<ColumnDef>,
    pub schema: SchemaRef,
    /// Whether the page readers look for fields that have no column
    /// ([`crate::decode::fields::NewField`]): for inferred tables, whose schema
    /// covers only what the sample held. A model file's columns are a
    /// choice, so the other fields of its tables are ignored on purpose.
    pub watch_new_fields: bool,
    /// Fields of this table's elements that are no column of it but are
    /// read by its child tables (arrays), so are never new fields.
    pub child_arrays: Vec<Vec<String>>,
    /// The other endpoints of a `#path` array, in file order after
    /// `endpoint`: a scan reads the first whose inputs it supplies.
    pub alternatives: Vec<Arc<Endpoint>>,
}

impl ColumnDef {
    /// A column that is not the key.
    pub fn new(
        name: &str,
        sql_type: SqlType,
        source: Source,
        not_null: bool,
        enforce_len: bool,
    ) -> Self {
        Self {
            name: name.to_owned(),
            sql_type,
            source,
            not_null,
            key: false,
            enforce_len,
            format: None,
            input: None,
        }
    }
}

/// What the child tables of one top-level table share, however they were
/// learnt (model file or inference): its endpoint and rows, the key of its
/// rows, and whether declared lengths are enforced.
pub(crate) struct ChildScope<'a> {
    pub endpoint: &'a Arc<Endpoint>,
    pub rows: &'a Rows,
    pub root_key: Option<Vec<String>>,
    pub enforce_len: bool,
}

/// A child table's place: its name, the array fields leading from the
/// top-level row to its elements, and its ancestors' identity columns.
pub(crate) struct ChildAt {
    pub name: String,
    pub levels: Vec<Vec<String>>,
    pub ids: Vec<(String, SqlType)>,
}

impl ChildAt {
    /// The child table of the array `field` (at `path`) of top-level table
    /// `parent`, whose rows are identified by the column `id`.
    pub fn top(parent: &str, field: &str, path: Vec<String>, id: (String, SqlType)) -> Self {
        Self {
            name: format!("{parent}_{field}"),
            levels: vec![path],
            ids: vec![id],
        }
    }

    /// The child table of the array `field` (at `path`) of this one: its
    /// rows are identified by their position.
    pub fn child(&self, field: &str, path: Vec<String>) -> Self {
        let mut levels = self.levels.clone();
        levels.push(path);
        let mut ids = self.ids.clone();
        ids.push((format!("{}_position", self.name), SqlType::BigInt));
        Self {
            name: format!("{}_{field}", self.name),
            levels,
            ids,
        }
    }
}

impl ChildScope<'_> {
    /// The columns every child table starts with: its ancestors' identities,
    /// then its position in its array.
    pub fn key_columns(&self, at: &ChildAt) -> Vec<ColumnDef> {
        let mut columns: Vec<ColumnDef> = at
            .ids
            .iter()
            .enumerate()
            .map(|(i, (n, t))| ColumnDef::new(n, *t, Source::Ancestor(i), true, self.enforce_len))
            .collect();
        columns.push(ColumnDef::new(
            "position",
            SqlType::BigInt,
            Source::Position,
            true,
            self.enforce_len,
        ));
        columns
    }

    /// The child table at `at` with `columns`.
    pub fn table(&self, at: &ChildAt, columns: Vec<ColumnDef>) -> TableDef {
        TableDef::new(
            at.name.clone(),
            self.endpoint.clone(),
            self.rows.clone(),
            at.levels.clone(),
            self.root_key.clone(),
            columns,
        )
    }
}

impl TableDef {
    /// Builds a table and its Arrow schema.
    pub fn new(
        name: String,
        endpoint: Arc<Endpoint>,
        rows: Rows,
        levels: Vec<Vec<String>>,
        root_key: Option<Vec<String>>,
        columns: Vec<ColumnDef>,
    ) -> Self {
        let schema = Arc::new(schema_of(&columns));
        Self {
            name,
            endpoint,
            rows,
            levels,
            root_key,
            columns,
            schema,
            watch_new_fields: false,
            child_arrays: Vec::new(),
            alternatives: Vec::new(),
        }
    }

    /// This (inferred) table, its readers watching for fields without a
    /// column; `child_arrays` are the fields its child tables read.
    pub fn watching_new_fields(mut self, child_arrays: Vec<Vec<String>>) -> Self {
        self.watch_new_fields = true;
        self.child_arrays = child_arrays;
        self
    }

    /// The index of a column, matched case-insensitively.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
    }
}

fn schema_of(columns: &[ColumnDef]) -> Schema {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let mut meta = HashMap::new();
            meta.insert(TYPE_METADATA_KEY.to_owned(), c.sql_type.to_string());
            if c.key {
                meta.insert(KEY_METADATA_KEY.to_owned(), "true".to_owned());
            }
            Field::new(&c.name, c.sql_type.arrow_type(), !c.not_null).with_metadata(meta)
        })
        .collect();
    Schema::new(fields)
}
