//! Rows in one canonical text form, whether they came from Arrow batches (the
//! library API) or from `connectkit query --format jsonl` (the binary), and a
//! diff against the seed that names the row, the column and both values.
//!
//! Canonical forms: integers in decimal; doubles as Rust's shortest
//! round-trip text (so two forms are equal exactly when the bits are);
//! decimals without trailing zeros; dates `YYYY-MM-DD`; instants as UTC
//! RFC 3339 with microseconds; `None` for null.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::{Array, RecordBatch, cast::AsArray, types};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate};
use serde_json::value::RawValue;

/// One row: column name to canonical value (`None` is null).
pub type Row = BTreeMap<String, Option<String>>;

/// A double, exactly.
pub fn canon_f64(v: f64) -> String {
    format!("{v:?}")
}

/// A decimal number's text without trailing fractional zeros.
pub fn canon_decimal(text: &str) -> String {
    let t = text.trim();
    if !t.contains('.') || t.contains(['e', 'E']) {
        return t.to_owned();
    }
    t.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// An RFC 3339 instant as UTC with microseconds.
pub fn canon_ts(text: &str) -> Result<String, String> {
    let t = DateTime::parse_from_rfc3339(text).map_err(|e| format!("{text:?}: {e}"))?;
    Ok(ts_from_micros(t.timestamp_micros()))
}

fn ts_from_micros(us: i64) -> String {
    DateTime::from_timestamp_micros(us).map_or_else(
        || format!("<instant out of range: {us} µs>"),
        |t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    )
}

/// Rows of Arrow batches in canonical form.
pub fn from_batches(batches: &[RecordBatch]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let mut cols = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            cols.push((
                f.name().clone(),
                column(batch.column(i).as_ref(), f.name())?,
            ));
        }
        for r in 0..batch.num_rows() {
            rows.push(
                cols.iter()
                    .map(|(n, v)| (n.clone(), v[r].clone()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

fn column(a: &dyn Array, name: &str) -> Result<Vec<Option<String>>, String> {
    let n = a.len();
    let each = |f: &dyn Fn(usize) -> String| -> Vec<Option<String>> {
        (0..n).map(|i| (!a.is_null(i)).then(|| f(i))).collect()
    };
    Ok(match a.data_type() {
        DataType::Int8 => each(&|i| a.as_primitive::<types::Int8Type>().value(i).to_string()),
        DataType::Int16 => each(&|i| a.as_primitive::<types::Int16Type>().value(i).to_string()),
        DataType::Int32 => each(&|i| a.as_primitive::<types::Int32Type>().value(i).to_string()),
        DataType::Int64 => each(&|i| a.as_primitive::<types::Int64Type>().value(i).to_string()),
        DataType::UInt8 => each(&|i| a.as_primitive::<types::UInt8Type>().value(i).to_string()),
        DataType::Float64 => each(&|i| canon_f64(a.as_primitive::<types::Float64Type>().value(i))),
        DataType::Float32 => {
            each(&|i| canon_f64(f64::from(a.as_primitive::<types::Float32Type>().value(i))))
        }
        DataType::Boolean => each(&|i| a.as_boolean().value(i).to_string()),
        DataType::Utf8 => each(&|i| a.as_string::<i32>().value(i).to_owned()),
        DataType::LargeUtf8 => each(&|i| a.as_string::<i64>().value(i).to_owned()),
        DataType::Date32 => each(&|i| {
            let days = a.as_primitive::<types::Date32Type>().value(i);
            NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map_or_else(|| format!("<day {days}>"), |d| d.to_string())
        }),
        DataType::Timestamp(unit, _) => {
            let scale = |v: i64| match unit {
                TimeUnit::Second => v * 1_000_000,
                TimeUnit::Millisecond => v * 1_000,
                TimeUnit::Microsecond => v,
                TimeUnit::Nanosecond => v / 1_000,
            };
            let raw = |i| match unit {
                TimeUnit::Second => a.as_primitive::<types::TimestampSecondType>().value(i),
                TimeUnit::Millisecond => {
                    a.as_primitive::<types::TimestampMillisecondType>().value(i)
                }
                TimeUnit::Microsecond => {
                    a.as_primitive::<types::TimestampMicrosecondType>().value(i)
                }
                TimeUnit::Nanosecond => a.as_primitive::<types::TimestampNanosecondType>().value(i),
            };
            each(&|i| ts_from_micros(scale(raw(i))))
        }
        DataType::Decimal128(_, scale) => {
            let s = *scale as u32;
            each(&|i| {
                let v = a.as_primitive::<types::Decimal128Type>().value(i);
                let (sign, abs) = if v < 0 {
                    ("-", v.unsigned_abs())
                } else {
                    ("", v as u128)
                };
                let p = 10u128.pow(s);
                canon_decimal(&format!(
                    "{sign}{}.{:0w$}",
                    abs / p,
                    abs % p,
                    w = s as usize
                ))
            })
        }
        other => {
            return Err(format!(
                "column {name}: no canonical form for Arrow type {other}"
            ));
        }
    })
}

/// How to read a column's JSON value from `--format jsonl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A JSON integer.
    Int,
    /// A JSON number read as a double.
    Double,
    /// A number or string read as a decimal.
    Decimal,
    /// A string.
    Text,
    /// A boolean.
    Bool,
    /// A `YYYY-MM-DD` string.
    Date,
    /// An RFC 3339 string.
    Instant,
}

/// Rows of `--format jsonl` output in canonical form; `kinds` says how to read
/// each column (a column missing from `kinds` is an error).
pub fn from_jsonl(text: &str, kinds: &BTreeMap<&str, Kind>) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let obj: BTreeMap<String, Box<RawValue>> =
            serde_json::from_str(line).map_err(|e| format!("jsonl line {}: {e}", n + 1))?;
        let mut row = Row::new();
        for (k, raw) in obj {
            let kind = kinds
                .get(k.as_str())
                .ok_or_else(|| format!("jsonl line {}: unexpected column {k}", n + 1))?;
            row.insert(
                k.clone(),
                json_value(raw.get(), *kind).map_err(|e| format!("{k}: {e}"))?,
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

fn json_value(raw: &str, kind: Kind) -> Result<Option<String>, String> {
    if raw == "null" {
        return Ok(None);
    }
    let text = || serde_json::from_str::<String>(raw).map_err(|e| format!("{raw}: {e}"));
    let unquoted = raw.trim_matches('"');
    Ok(Some(match kind {
        Kind::Int => unquoted
            .parse::<i64>()
            .map_err(|e| format!("{raw}: {e}"))?
            .to_string(),
        Kind::Double => canon_f64(unquoted.parse::<f64>().map_err(|e| format!("{raw}: {e}"))?),
        Kind::Decimal => canon_decimal(unquoted),
        Kind::Text | Kind::Date => text()?,
        Kind::Bool => raw.to_owned(),
        Kind::Instant => canon_ts(&text()?)?,
    }))
}

/// Compares rows in order; the error lists the first differences and how many
/// values differ in each column.
pub fn diff(what: &str, key: &str, expected: &[Row], got: &[Row]) -> Result<(), String> {
    let exp_cols: BTreeSet<&String> = expected.iter().flat_map(|r| r.keys()).collect();
    let got_cols: BTreeSet<&String> = got.iter().flat_map(|r| r.keys()).collect();
    if !got.is_empty() && exp_cols != got_cols {
        return Err(format!(
            "{what}: columns differ: expected {exp_cols:?}, got {got_cols:?}"
        ));
    }
    let mut problems = Vec::new();
    if expected.len() != got.len() {
        problems.push(format!(
            "expected {} rows, got {}",
            expected.len(),
            got.len()
        ));
    }
    let mut per_column: BTreeMap<&str, usize> = BTreeMap::new();
    let mut shown = 0;
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        for (col, ev) in e {
            let gv = g.get(col).cloned().flatten();
            if *ev != gv {
                *per_column.entry(col).or_default() += 1;
                if shown < 3 {
                    shown += 1;
                    let id = e.get(key).cloned().flatten().unwrap_or_default();
                    problems.push(format!(
                        "row {i} ({key}={id}) {col}: expected {}, got {}",
                        show(ev),
                        show(&gv)
                    ));
                }
            }
        }
    }
    for (col, n) in per_column {
        problems.push(format!(
            "{col}: {n} of {} values differ",
            expected.len().min(got.len())
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: {}", problems.join("; ")))
    }
}

fn show(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "null".to_owned(), |s| format!("{s:?}"))
}

/// Keeps only `columns` of each row.
pub fn project(rows: &[Row], columns: &[&str]) -> Vec<Row> {
    rows.iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| ((*c).to_owned(), r.get(*c).cloned().flatten()))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canon_decimal("12.3400"), "12.34");
        assert_eq!(canon_decimal("12.0000"), "12");
        assert_eq!(canon_f64(0.1), "0.1");
        assert_ne!(
            canon_f64(0.098_948_862_688_749_03),
            canon_f64(0.098_948_862_688_749_04)
        );
        assert_eq!(
            canon_ts("2024-01-02T08:34:05+05:30").unwrap(),
            "2024-01-02T03:04:05.000000Z"
        );
    }

    #[test]
    fn a_one_ulp_difference_is_reported_with_its_row() {
        let e = vec![Row::from([(
            "x".into(),
            Some(canon_f64(0.098_948_862_688_749_03)),
        )])];
        let g = vec![Row::from([(
            "x".into(),
            Some(canon_f64(0.098_948_862_688_749_04)),
        )])];
        let err = diff("t", "x", &e, &g).unwrap_err();
        assert!(err.contains("1 of 1 values differ"), "{err}");
    }
}
