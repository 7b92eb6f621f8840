//! The tables of the Example API: where each one's pages are, where a page
//! holds its rows, and its columns. Edit [`TABLES`] to describe your API;
//! nothing else needs to change for a table that pages the same way.

use std::collections::HashMap;
use std::sync::Arc;

use connectkit_core::arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::{Error, KEY_METADATA_KEY, Result, TableInfo};

/// One table of the API.
#[derive(Debug)]
pub struct Table {
    /// Its name in SQL and on the command line.
    pub name: &'static str,
    /// What it holds, for `connectkit tables`.
    pub description: &'static str,
    /// The path of its pages, relative to ServiceURL (no leading `/`).
    pub path: &'static str,
    /// The page element holding the rows (`/`-separated for nested
    /// objects); empty when a page is a top-level array of rows.
    pub rows: &'static str,
    /// The key column.
    pub key: &'static str,
    /// The columns: JSON field name, Arrow type, nullable.
    pub columns: &'static [(&'static str, DataType, bool)],
}

/// Every table, in the order `connectkit tables` lists them.
pub const TABLES: &[Table] = &[Table {
    name: "items",
    description: "The items of the API.",
    path: "items",
    rows: "items",
    key: "id",
    columns: &[
        ("id", DataType::Int64, false),
        ("name", DataType::Utf8, true),
    ],
}];

impl Table {
    /// The table called `name` (in any case).
    pub fn named(name: &str) -> Result<&'static Table> {
        TABLES
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::TableNotFound {
                name: name.to_owned(),
                known: TABLES.iter().map(|t| t.name.to_owned()).collect(),
            })
    }

    /// As `connectkit tables` lists it.
    pub fn info(&self) -> TableInfo {
        TableInfo::new(self.name).with_description(self.description)
    }

    /// Its columns as an Arrow schema, the key column marked.
    pub fn schema(&self) -> SchemaRef {
        let fields = self.columns.iter().map(|(name, ty, nullable)| {
            let field = Field::new(*name, ty.clone(), *nullable);
            match *name == self.key {
                true => field.with_metadata(HashMap::from([(
                    KEY_METADATA_KEY.to_owned(),
                    "true".to_owned(),
                )])),
                false => field,
            }
        });
        Arc::new(Schema::new(fields.collect::<Vec<_>>()))
    }

    /// The positions of `columns` in [`schema`](Self::schema), all of them
    /// for `None`.
    pub fn indices(&self, columns: Option<&[String]>) -> Result<Vec<usize>> {
        let Some(columns) = columns else {
            return Ok((0..self.columns.len()).collect());
        };
        columns
            .iter()
            .map(|c| {
                self.columns
                    .iter()
                    .position(|(name, _, _)| name.eq_ignore_ascii_case(c))
                    .ok_or_else(|| Error::ColumnNotFound {
                        table: self.name.to_owned(),
                        column: c.clone(),
                    })
            })
            .collect()
    }
}
