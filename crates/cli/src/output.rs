//! Printing listings, schemas, rows and token descriptions in each format.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use connectkit_core::{Error, ErrorKind, Scan, TokenOutcome};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::csv::CsvRows;
use crate::text::escape_controls;
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
        .get(connectkit_core::TYPE_METADATA_KEY)
        .cloned()
        .unwrap_or_else(|| field.data_type().to_string())
}

/// Whether a connector marked the column as (part of) the table's key.
fn is_key(field: &Field) -> bool {
    field
        .metadata()
        .get(connectkit_core::KEY_METADATA_KEY)
        .is_some_and(|v| v == "true")
}

/// One column for `schema`/`tables --format json`: the type as the source
/// spells it, the Arrow type it is read as, and for decimals the precision
/// and scale the values keep.
fn column_json(f: &Field) -> Value {
    let mut c = json!({
        "name": f.name(),
        "type": type_name(f),
        "arrow_type": f.data_type().to_string(),
        "nullable": f.is_nullable(),
        "key": is_key(f),
    });
    if let DataType::Decimal32(p, s)
    | DataType::Decimal64(p, s)
    | DataType::Decimal128(p, s)
    | DataType::Decimal256(p, s) = f.data_type()
    {
        c["precision"] = json!(p);
        c["scale"] = json!(s);
    }
    c
}

fn table_json(name: &str, schema: &Schema) -> Value {
    let columns: Vec<Value> = schema.fields().iter().map(|f| column_json(f)).collect();
    json!({"name": name, "columns": columns})
}

/// A table for people: every cell (header included) comes from a server,
/// so control characters are escaped before they reach the terminal.
fn new_table(header: Vec<String>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.iter().map(|h| escape_controls(h).into_owned()));
    t
}

fn add_row(t: &mut Table, cells: Vec<String>) {
    t.add_row(cells.iter().map(|c| escape_controls(c).into_owned()));
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
                add_row(&mut t, vec![name.clone(), cols.join(", ")]);
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
                let key = is_key(f);
                add_row(
                    &mut t,
                    vec![
                        f.name().clone(),
                        type_name(f),
                        f.is_nullable().to_string(),
                        if key { "yes".into() } else { String::new() },
                    ],
                );
            }
            writeln!(out, "{t}").map_err(io)
        }
    }
}

/// `token`: what the command did (ran the grant, or reused the access token
/// in TokenFile) and what it obtained, never the token.
pub fn token(
    out: &mut impl Write,
    grant: Option<&str>,
    outcome: &TokenOutcome,
    format: ListFormat,
) -> Result<(), Error> {
    let info = outcome.info();
    let expires = info.expires_in.map(|d| d.as_secs());
    let reused = matches!(outcome, TokenOutcome::Reused { .. });
    match format {
        ListFormat::Json => {
            let v = json!({
                "obtained": if reused { "reused" } else { "granted" },
                "grant_type": grant,
                "token_type": info.token_type,
                "expires_in": expires,
                "scope": info.scope,
                "refresh_token_rotated": info.refresh_token_rotated,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v).map_err(other)?).map_err(io)
        }
        ListFormat::Table => {
            let mut t = new_table(vec!["field".into(), "value".into()]);
            let obtained = match (reused, expires) {
                (true, Some(s)) => {
                    format!("reused the access token in TokenFile (expires in {s} s)")
                }
                (true, None) => {
                    "reused the access token in TokenFile (valid until rejected)".to_owned()
                }
                (false, _) if info.refresh_token_rotated => {
                    "granted (the refresh token rotated)".to_owned()
                }
                (false, _) => "granted".to_owned(),
            };
            add_row(&mut t, vec!["obtained".to_owned(), obtained]);
            add_row(
                &mut t,
                vec![
                    "grant_type".to_owned(),
                    grant.unwrap_or_default().to_owned(),
                ],
            );
            add_row(
                &mut t,
                vec!["token_type".to_owned(), info.token_type.clone()],
            );
            add_row(
                &mut t,
                vec![
                    "expires_in".to_owned(),
                    expires.map_or("until rejected".to_owned(), |s| format!("{s} s")),
                ],
            );
            add_row(
                &mut t,
                vec!["scope".to_owned(), info.scope.clone().unwrap_or_default()],
            );
            add_row(
                &mut t,
                vec![
                    "refresh_token_rotated".to_owned(),
                    info.refresh_token_rotated.to_string(),
                ],
            );
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
    let mut csv = CsvRows::new();
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
            RowFormat::Csv => csv.write(out, &scan.schema, &batch).map_err(other)?,
        }
        if limit.is_some_and(|n| rows >= n) {
            break;
        }
    }
    bar.finish_and_clear();
    match format {
        RowFormat::Table => write_table(out, &scan.schema, &kept),
        RowFormat::Csv => csv.finish(out, &scan.schema).map_err(io),
        RowFormat::Jsonl => Ok(()),
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
            add_row(
                &mut t,
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>(),
            );
        }
    }
    writeln!(out, "{t}").map_err(io)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, StringArray};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_table_format_escapes_control_characters() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "n\u{1b}[31m",
            DataType::Utf8,
            true,
        )]));
        let values = StringArray::from(vec![Some("\u{1b}]0;title\u{7}ok"), None]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap();
        let mut out = Vec::new();
        write_table(&mut out, &schema, &[batch]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        assert!(text.contains("\\u{1b}]0;title\\u{7}ok"), "{text}");
        assert!(text.contains("n\\u{1b}[31m"), "{text}");
    }

    proptest! {
        #[test]
        fn jsonl_doubles_round_trip_through_the_text(
            values in prop::collection::vec(
                any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |x| x.is_finite()),
                1..50,
            )
        ) {
            let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, false)]));
            let batch = RecordBatch::try_new(
                schema,
                vec![Arc::new(Float64Array::from(values.clone()))],
            )
            .unwrap();
            let mut out = Vec::new();
            write_jsonl(&mut out, &batch).unwrap();
            let back: Vec<u64> = String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| {
                    // The number's own text, parsed by the standard library.
                    let text = l.strip_prefix(r#"{"x":"#).and_then(|r| r.strip_suffix('}'));
                    text.unwrap().parse::<f64>().unwrap().to_bits()
                })
                .collect();
            let bits: Vec<u64> = values.iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(back, bits);
        }
    }
}
