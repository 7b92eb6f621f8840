//! GetPrimaryKeys: a table's key as its connector reports it, the fields
//! of its schema marked [`KEY_METADATA_KEY`] (Dynamics 365: the entity
//! type's `Key` in `$metadata`; Autonomous REST: `#key` columns of a model
//! file, or the key a sample proved unique).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow_flight::sql::CommandGetPrimaryKeys;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::KEY_METADATA_KEY;
use connectkit_datafusion::Sources;
use connectkit_datafusion::datafusion::catalog::SchemaProvider;
use tonic::Status;

/// The result schema Flight SQL defines for CommandGetPrimaryKeys.
pub(crate) fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The key columns of `command.table` in every source `command` selects
/// (all sources when it names none), ordered by source, then by the
/// column's place in the key (its place in the table's schema). Tables
/// without a reported key add no row.
pub(crate) async fn primary_keys(
    sources: &Sources,
    catalog: &str,
    command: &CommandGetPrimaryKeys,
) -> Result<RecordBatch, Status> {
    let mut rows: Vec<(String, String, String, i32)> = Vec::new();
    let other_catalog = command.catalog.as_deref().is_some_and(|c| c != catalog);
    for source in sources.names().filter(|_| !other_catalog) {
        if command.db_schema.as_deref().is_some_and(|s| s != source) {
            continue;
        }
        let provider = sources.get(source).expect("listed source");
        // The table as the source spells it (names match case-insensitively).
        let names = provider.table_names();
        let Some(table) = names.iter().find(|t| **t == command.table).or_else(|| {
            names
                .iter()
                .find(|t| t.eq_ignore_ascii_case(&command.table))
        }) else {
            continue;
        };
        let named = [format!("{source}.{table}")];
        let Some(provider) = provider
            .table(table)
            .await
            .map_err(|e| crate::status::df_status(e, &named))?
        else {
            continue;
        };
        let keys = provider
            .schema()
            .fields()
            .iter()
            .filter(|f| f.metadata().get(KEY_METADATA_KEY).map(String::as_str) == Some("true"))
            .map(|f| f.name().clone())
            .collect::<Vec<_>>();
        for (i, column) in keys.into_iter().enumerate() {
            let seq = i32::try_from(i + 1).unwrap_or(i32::MAX);
            rows.push((source.to_owned(), table.clone(), column, seq));
        }
    }
    let n = rows.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![catalog; n])),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.0))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.1))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.2))),
        Arc::new(StringArray::from(vec![None::<&str>; n])),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.3))),
    ];
    RecordBatch::try_new(primary_keys_schema(), columns)
        .map_err(|e| Status::internal(format!("cannot build the primary keys: {e}")))
}
