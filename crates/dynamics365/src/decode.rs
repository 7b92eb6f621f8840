//! One page of OData JSON rows into one Arrow record batch.
//!
//! Rows are decoded as the page parse hands them over (`page.rs`), each
//! cell straight into its column's builder: cells are raw JSON text;
//! strings without escapes are copied from the page in place (no `String`
//! per value), the others go through serde_json.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Int32Builder, ListBuilder, PrimitiveBuilder, StringBuilder,
};
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time64MicrosecondType, TimestampMicrosecondType, UInt8Type,
};
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;
use base64::Engine as _;
use connectkit_core::decode::RawJson;
use connectkit_core::value::{parse_date, parse_decimal, parse_time, parse_timestamp};

use crate::error::Dynamics365Error;
use crate::page::{self, Layout, RowSink};
use crate::types::{Column, EdmType};

/// A decoded page: its rows, and its `@odata.nextLink`.
#[derive(Debug)]
pub(crate) struct DecodedPage {
    pub(crate) batch: RecordBatch,
    pub(crate) next_link: Option<String>,
}

/// Parses `body` and decodes its rows (read for `columns` by `layout`)
/// into a batch of `schema`, whose fields are `columns` in order.
/// `rows_hint` sizes the builders (the previous page's row count).
pub(crate) fn decode_page(
    table: &str,
    schema: &SchemaRef,
    columns: &[Column],
    layout: &Layout,
    body: &str,
    rows_hint: usize,
) -> Result<DecodedPage, Dynamics365Error> {
    let mut sink = Builders {
        table,
        columns,
        slots: (0..columns.len()).map(|c| layout.slot(c)).collect(),
        builders: columns
            .iter()
            .map(|c| ColumnBuilder::new(&c.edm, rows_hint))
            .collect(),
        rows: 0,
    };
    let next_link = page::parse(body, table, layout, &mut sink)?;
    let rows = sink.rows;
    let arrays = sink
        .builders
        .into_iter()
        .map(ColumnBuilder::finish)
        .collect::<Result<Vec<ArrayRef>, String>>()
        .map_err(|message| Dynamics365Error::Decode {
            table: table.to_owned(),
            column: String::new(),
            message,
        })?;
    // The row count is explicit so that a projection of no columns still counts rows.
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    let batch =
        RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(|e| {
            Dynamics365Error::Decode {
                table: table.to_owned(),
                column: String::new(),
                message: e.to_string(),
            }
        })?;
    Ok(DecodedPage { batch, next_link })
}

/// The builders of a page's columns, fed row by row.
struct Builders<'c> {
    table: &'c str,
    columns: &'c [Column],
    /// Each column's slot in a row's cells.
    slots: Vec<usize>,
    builders: Vec<ColumnBuilder>,
    rows: usize,
}

impl<'a> RowSink<'a> for Builders<'_> {
    fn row(&mut self, cells: &[Option<RawJson<'a>>]) -> Result<(), Dynamics365Error> {
        for (c, (column, b)) in self.columns.iter().zip(&mut self.builders).enumerate() {
            let cell = cells[self.slots[c]].filter(|t| t.text != "null");
            let appended = match cell {
                None if !column.nullable || column.key => Err(format!(
                    "row {} has no value for a non-nullable column",
                    self.rows
                )),
                None => {
                    b.append_null();
                    Ok(())
                }
                Some(t) => b.append(t),
            };
            appended.map_err(|message| Dynamics365Error::Decode {
                table: self.table.to_owned(),
                column: column.name.clone(),
                message,
            })?;
        }
        self.rows += 1;
        Ok(())
    }
}

/// One column's builder, by its EDM type.
enum ColumnBuilder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    U8(PrimitiveBuilder<UInt8Type>),
    I8(PrimitiveBuilder<Int8Type>),
    I16(PrimitiveBuilder<Int16Type>),
    I32(PrimitiveBuilder<Int32Type>),
    I64(PrimitiveBuilder<Int64Type>),
    F32(PrimitiveBuilder<Float32Type>),
    F64(PrimitiveBuilder<Float64Type>),
    Dec(PrimitiveBuilder<Decimal128Type>, u8, i8),
    Ts(PrimitiveBuilder<TimestampMicrosecondType>),
    Date(PrimitiveBuilder<Date32Type>),
    Time(PrimitiveBuilder<Time64MicrosecondType>),
    IntList(ListBuilder<Int32Builder>),
    StrList(ListBuilder<StringBuilder>),
    Bin(BinaryBuilder),
}

impl ColumnBuilder {
    fn new(edm: &EdmType, cap: usize) -> Self {
        match edm {
            EdmType::String | EdmType::Guid | EdmType::Duration | EdmType::Other => {
                Self::Str(StringBuilder::with_capacity(cap, cap * 16))
            }
            EdmType::Boolean => Self::Bool(BooleanBuilder::with_capacity(cap)),
            EdmType::Byte => Self::U8(PrimitiveBuilder::with_capacity(cap)),
            EdmType::SByte => Self::I8(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Int16 => Self::I16(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Int32 => Self::I32(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Int64 => Self::I64(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Single => Self::F32(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Double => Self::F64(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Decimal { precision, scale } => {
                Self::Dec(PrimitiveBuilder::with_capacity(cap), *precision, *scale)
            }
            EdmType::DateTimeOffset => Self::Ts(PrimitiveBuilder::with_capacity(cap)),
            EdmType::Date => Self::Date(PrimitiveBuilder::with_capacity(cap)),
            EdmType::TimeOfDay => Self::Time(PrimitiveBuilder::with_capacity(cap)),
            EdmType::IntList => Self::IntList(ListBuilder::new(Int32Builder::new())),
            EdmType::StringList => Self::StrList(ListBuilder::new(StringBuilder::new())),
            EdmType::Binary => Self::Bin(BinaryBuilder::new()),
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Str(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
            Self::U8(b) => b.append_null(),
            Self::I8(b) => b.append_null(),
            Self::I16(b) => b.append_null(),
            Self::I32(b) => b.append_null(),
            Self::I64(b) => b.append_null(),
            Self::F32(b) => b.append_null(),
            Self::F64(b) => b.append_null(),
            Self::Dec(b, ..) => b.append_null(),
            Self::Ts(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::IntList(b) => b.append_null(),
            Self::StrList(b) => b.append_null(),
            Self::Bin(b) => b.append_null(),
        }
    }

    /// Appends the value of the raw JSON cell `cell` (not `null`).
    #[inline]
    fn append(&mut self, cell: RawJson<'_>) -> Result<(), String> {
        let t = cell.text;
        match self {
            Self::Str(b) => match t.starts_with('"') {
                true => b.append_value(string(cell)?),
                false => b.append_value(t),
            },
            // A raw cell has no surrounding whitespace.
            Self::Bool(b) => match t {
                "true" => b.append_value(true),
                "false" => b.append_value(false),
                t => return Err(format!("{t} is not a boolean")),
            },
            Self::U8(b) => b.append_value(int(cell)?),
            Self::I8(b) => b.append_value(int(cell)?),
            Self::I16(b) => b.append_value(int(cell)?),
            Self::I32(b) => b.append_value(int(cell)?),
            Self::I64(b) => b.append_value(int(cell)?),
            Self::F32(b) => b.append_value(float(cell)?),
            Self::F64(b) => b.append_value(float(cell)?),
            Self::Dec(b, precision, scale) => {
                let text = unquote(cell)?;
                // Exact or refused, never rounded (see connectkit_core::value).
                let v = parse_decimal(&text, Some(*precision), *scale).ok_or_else(|| {
                    format!("{text} is not a decimal that fits ({precision}, {scale}) exactly")
                })?;
                b.append_value(v);
            }
            Self::Ts(b) => {
                let s = string(cell)?;
                let v = parse_timestamp(&s)
                    .ok_or_else(|| format!("{s:?} is not an RFC 3339 timestamp"))?;
                b.append_value(v);
            }
            Self::Date(b) => {
                let s = string(cell)?;
                let v =
                    parse_date(&s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))?;
                b.append_value(v);
            }
            Self::Time(b) => {
                let s = string(cell)?;
                let v = parse_time(&s).ok_or_else(|| format!("{s:?} is not a time of day"))?;
                b.append_value(v);
            }
            Self::IntList(b) => {
                let text = unquote(cell)?;
                for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    b.values().append_value(item.parse::<i32>().map_err(|_| {
                        format!("{text:?} is not a list of option values (\"1,2\")")
                    })?);
                }
                b.append(true);
            }
            Self::StrList(b) => {
                // Dataverse joins the labels of a multi-select choice with "; ".
                for item in string(cell)?.split(';').map(str::trim) {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            Self::Bin(b) => b.append_value(base64(&string(cell)?)?),
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef, String> {
        Ok(match self {
            Self::Str(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::U8(mut b) => Arc::new(b.finish()),
            Self::I8(mut b) => Arc::new(b.finish()),
            Self::I16(mut b) => Arc::new(b.finish()),
            Self::I32(mut b) => Arc::new(b.finish()),
            Self::I64(mut b) => Arc::new(b.finish()),
            Self::F32(mut b) => Arc::new(b.finish()),
            Self::F64(mut b) => Arc::new(b.finish()),
            Self::Dec(mut b, precision, scale) => Arc::new(
                b.finish()
                    .with_precision_and_scale(precision, scale)
                    .map_err(|e| e.to_string())?,
            ),
            Self::Ts(mut b) => Arc::new(b.finish().with_timezone("UTC")),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Time(mut b) => Arc::new(b.finish()),
            Self::IntList(mut b) => Arc::new(b.finish()),
            Self::StrList(mut b) => Arc::new(b.finish()),
            Self::Bin(mut b) => Arc::new(b.finish()),
        })
    }
}

/// An integer cell of a type of `T`'s range.
#[inline]
fn int<T: TryFrom<i64>>(cell: RawJson<'_>) -> Result<T, String> {
    // IEEE754Compatible servers send Int64 as a string.
    let text = unquote(cell)?;
    text.trim()
        .parse::<i64>()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| format!("{text} is not an integer in range"))
}

/// The text of a JSON string cell: borrowed when it holds no escape (the
/// page parse has already checked it is valid JSON), unescaped otherwise.
#[inline]
fn string(cell: RawJson<'_>) -> Result<Cow<'_, str>, String> {
    let t = cell.text;
    if !cell.escaped
        && let Some(inner) = t.strip_prefix('"').and_then(|r| r.strip_suffix('"'))
    {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(t)
        .map(Cow::Owned)
        .map_err(|_| format!("{t} is not a string"))
}

/// The text of a number, or of a string holding one.
#[inline]
fn unquote(cell: RawJson<'_>) -> Result<Cow<'_, str>, String> {
    if cell.text.starts_with('"') {
        string(cell)
    } else {
        Ok(Cow::Borrowed(cell.text))
    }
}

/// A float cell, parsed straight to `F` (an `Edm.Single` read through a
/// double would be rounded twice).
#[inline]
fn float<F: std::str::FromStr + From<f32>>(cell: RawJson<'_>) -> Result<F, String> {
    let text = unquote(cell)?;
    match text.as_ref() {
        "INF" => Ok(F::from(f32::INFINITY)),
        "-INF" => Ok(F::from(f32::NEG_INFINITY)),
        "NaN" => Ok(F::from(f32::NAN)),
        s => s.parse().map_err(|_| format!("{s} is not a number")),
    }
}

/// OData sends `Edm.Binary` as base64url; plain base64 is accepted too.
fn base64(s: &str) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let normal: String = s
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    ENGINE
        .decode(normal.trim_end_matches('='))
        .map_err(|e| format!("not base64: {e}"))
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
