//! Printing listings, schemas, rows and token descriptions in each format.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use connectkit_core::{Error, ErrorKind, Scan, TokenInfo};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::{ListFormat, RowFormat};

fn io(e: std::io::Error) -> Error {
    Error::connector(ErrorKind::Other, e)
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::connector(ErrorKind::Other, e)
}

/// The SQL-ish type a connector recorded, else the Arrow type.
pub fn type_name(field: &Field) -> String {
    field
        .metadata()
        .get("connectkit.type")
        .cloned()
        .unwrap_or_else(|| field.data_type().to_string())
}

fn table_json(name: &str, schema: &Schema) -> Value {
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": type_name(f), "nullable": f.is_nullable()}))
        .collect();
    json!({"name": name, "columns": columns})
}

fn new_table(header: Vec<String>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    t
}

/// `tables`: names and columns.
pub fn tables(
    out: &mut impl Write,
    tables: &[(String, SchemaRef)],
    format: ListFormat,
) -> Result<(), Error> {
    match format {
        ListFormat::Json => {
            let v: Vec<Value> = tables.iter().map(|(n, s)| table_json(n, s)).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v).map_err(other)?).map_err(io)
        }
        ListFormat::Table => {
            let mut t = new_table(vec!["table".into(), "columns".into()]);
            for (name, schema) in tables {
                let cols: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
                t.add_row(vec![name.clone(), cols.join(", ")]);
            }
            writeln!(out, "{t}").map_err(io)
        }
    }
}

/// `schema`: one table's columns.
pub fn schema(
    out: &mut impl Write,
    name: &str,
    schema: &Schema,
    format: ListFormat,
) -> Result<(), Error> {
    match format {
        ListFormat::Json => {
            let v = table_json(name, schema);
            writeln!(out, "{}", serde_json::to_string_pretty(&v).map_err(other)?).map_err(io)
        }
        ListFormat::Table => {
            let mut t = new_table(vec![
                "column".into(),
                "type".into(),
                "nullable".into(),
                "key".into(),
            ]);
            for f in schema.fields() {
                let key = f
                    .metadata()
                    .get("connectkit.key")
                    .is_some_and(|v| v == "true");
                t.add_row(vec![
                    f.name().clone(),
                    type_name(f),
                    f.is_nullable().to_string(),
                    if key { "yes".into() } else { String::new() },
                ]);
            }
            writeln!(out, "{t}").map_err(io)
        }
    }
}

/// `token`: what was granted, never the token.
pub fn token(out: &mut impl Write, info: &TokenInfo, format: ListFormat) -> Result<(), Error> {
    let expires = info.expires_in.map(|d| d.as_secs());
    match format {
        ListFormat::Json => {
            let v = json!({
                "token_type": info.token_type,
                "expires_in": expires,
                "scope": info.scope,
                "refresh_token_rotated": info.refresh_token_rotated,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v).map_err(other)?).map_err(io)
        }
        ListFormat::Table => {
            let mut t = new_table(vec!["field".into(), "value".into()]);
            t.add_row(vec!["token_type".to_owned(), info.token_type.clone()]);
            t.add_row(vec![
                "expires_in".to_owned(),
                expires.map_or("until rejected".to_owned(), |s| format!("{s} s")),
            ]);
            t.add_row(vec![
                "scope".to_owned(),
                info.scope.clone().unwrap_or_default(),
            ]);
            t.add_row(vec![
                "refresh_token_rotated".to_owned(),
                info.refresh_token_rotated.to_string(),
            ]);
            writeln!(out, "{t}").map_err(io)
        }
    }
}

fn progress() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// `query`: streams batches out as they arrive (the table format collects them first).
pub async fn rows(
    out: &mut impl Write,
    mut scan: Scan,
    limit: Option<usize>,
    format: RowFormat,
) -> Result<(), Error> {
    let bar = progress();
    let started = Instant::now();
    let (mut rows, mut pages) = (0usize, 0usize);
    let mut kept: Vec<RecordBatch> = Vec::new();
    while let Some(batch) = scan.batches.next().await {
        let mut batch = batch?;
        if let Some(n) = limit
            && rows + batch.num_rows() > n
        {
            batch = batch.slice(0, n - rows);
        }
        rows += batch.num_rows();
        pages += 1;
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{rows} rows, {pages} pages, {rate:.0} rows/s"));
        bar.tick();
        match format {
            RowFormat::Table => kept.push(batch),
            RowFormat::Jsonl => write_jsonl(out, &batch)?,
            RowFormat::Csv => {
                // The header goes out once, before the first batch.
                let mut w = arrow_csv::WriterBuilder::new()
                    .with_header(pages == 1)
                    .build(&mut *out);
                w.write(&batch).map_err(other)?;
            }
        }
        if limit.is_some_and(|n| rows >= n) {
            break;
        }
    }
    bar.finish_and_clear();
    match format {
        RowFormat::Table => write_table(out, &scan.schema, &kept),
        RowFormat::Csv if rows == 0 => {
            let names: Vec<&str> = scan
                .schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            writeln!(out, "{}", names.join(",")).map_err(io)
        }
        _ => Ok(()),
    }
}

fn write_jsonl(out: &mut impl Write, batch: &RecordBatch) -> Result<(), Error> {
    let mut w = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
    w.write(batch).map_err(other)?;
    w.finish().map_err(other)?;
    out.write_all(&w.into_inner()).map_err(io)
}

fn write_table(
    out: &mut impl Write,
    schema: &Schema,
    batches: &[RecordBatch],
) -> Result<(), Error> {
    let mut t = new_table(schema.fields().iter().map(|f| f.name().clone()).collect());
    let options = FormatOptions::default().with_null("");
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(other)?;
        for row in 0..batch.num_rows() {
            t.add_row(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>(),
            );
        }
    }
    writeln!(out, "{t}").map_err(io)
}
