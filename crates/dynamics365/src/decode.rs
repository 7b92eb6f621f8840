//! One page of OData JSON rows into one Arrow record batch.
//!
//! Cells are raw JSON text; strings without escapes are used in place (no
//! `String` per value), the others go through serde_json as before.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Int32Builder, ListBuilder, StringBuilder,
};
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Time64MicrosecondType, TimestampMicrosecondType, UInt8Type,
};
use arrow_array::{ArrayRef, ArrowPrimitiveType, PrimitiveArray, RecordBatch, RecordBatchOptions};
use arrow_schema::SchemaRef;
use base64::Engine as _;
use connectkit_core::value::{parse_date, parse_decimal, parse_time, parse_timestamp};

use crate::error::Dynamics365Error;
use crate::page::Page;
use crate::types::{Column, EdmType};

/// Decodes the rows of `page` (parsed for `columns`) into a batch of
/// `schema`, whose fields are `columns` in order.
pub(crate) fn decode_rows(
    table: &str,
    schema: &SchemaRef,
    columns: &[Column],
    page: &Page<'_>,
) -> Result<RecordBatch, Dynamics365Error> {
    let mut arrays = Vec::with_capacity(columns.len());
    for (c, column) in columns.iter().enumerate() {
        let cells: Vec<Option<&str>> = (0..page.num_rows()).map(|r| page.cell(r, c)).collect();
        let err = |message: String| Dynamics365Error::Decode {
            table: table.to_owned(),
            column: column.name.clone(),
            message,
        };
        if (!column.nullable || column.key)
            && let Some(i) = cells.iter().position(Option::is_none)
        {
            return Err(err(format!(
                "row {i} has no value for a non-nullable column"
            )));
        }
        arrays.push(decode_column(&column.edm, &cells).map_err(err)?);
    }
    // The row count is explicit so that a projection of no columns still counts rows.
    let options = RecordBatchOptions::new().with_row_count(Some(page.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options).map_err(|e| {
        Dynamics365Error::Decode {
            table: table.to_owned(),
            column: String::new(),
            message: e.to_string(),
        }
    })
}

type Cell<'a> = Option<&'a str>;

fn decode_column(edm: &EdmType, cells: &[Cell<'_>]) -> Result<ArrayRef, String> {
    Ok(match edm {
        EdmType::String | EdmType::Guid | EdmType::Duration | EdmType::Other => {
            let mut b = StringBuilder::new();
            for c in cells {
                match c {
                    Some(t) if t.starts_with('"') => b.append_value(string(t)?),
                    Some(t) => b.append_value(t),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        EdmType::Boolean => {
            let mut b = BooleanBuilder::new();
            for c in cells {
                match c {
                    // A raw cell has no surrounding whitespace.
                    Some("true") => b.append_value(true),
                    Some("false") => b.append_value(false),
                    Some(t) => return Err(format!("{t} is not a boolean")),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        EdmType::Byte => int::<UInt8Type>(cells)?,
        EdmType::SByte => int::<Int8Type>(cells)?,
        EdmType::Int16 => int::<Int16Type>(cells)?,
        EdmType::Int32 => int::<Int32Type>(cells)?,
        EdmType::Int64 => int::<Int64Type>(cells)?,
        EdmType::Single => Arc::new(primitive::<Float32Type>(cells, |t| Ok(float(t)? as f32))?),
        EdmType::Double => Arc::new(primitive::<Float64Type>(cells, float)?),
        EdmType::Decimal { precision, scale } => {
            let a = primitive::<Decimal128Type>(cells, |t| {
                let text = unquote(t)?;
                // Exact or refused, never rounded (see connectkit_core::value).
                parse_decimal(&text, Some(*precision), *scale).ok_or_else(|| {
                    format!("{text} is not a decimal that fits ({precision}, {scale}) exactly")
                })
            })?;
            Arc::new(
                a.with_precision_and_scale(*precision, *scale)
                    .map_err(|e| e.to_string())?,
            )
        }
        EdmType::DateTimeOffset => {
            let a = primitive::<TimestampMicrosecondType>(cells, |t| {
                let s = string(t)?;
                parse_timestamp(&s).ok_or_else(|| format!("{s:?} is not an RFC 3339 timestamp"))
            })?;
            Arc::new(a.with_timezone("UTC"))
        }
        EdmType::Date => Arc::new(primitive::<Date32Type>(cells, |t| {
            let s = string(t)?;
            parse_date(&s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
        })?),
        EdmType::TimeOfDay => Arc::new(primitive::<Time64MicrosecondType>(cells, |t| {
            let s = string(t)?;
            parse_time(&s).ok_or_else(|| format!("{s:?} is not a time of day"))
        })?),
        EdmType::IntList => {
            let mut b = ListBuilder::new(Int32Builder::new());
            for c in cells {
                match c {
                    Some(t) => {
                        let text = unquote(t)?;
                        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                            b.values().append_value(item.parse::<i32>().map_err(|_| {
                                format!("{text:?} is not a list of option values (\"1,2\")")
                            })?);
                        }
                        b.append(true);
                    }
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        EdmType::StringList => {
            // Dataverse joins the labels of a multi-select choice with "; ".
            let mut b = ListBuilder::new(StringBuilder::new());
            for c in cells {
                match c {
                    Some(t) => {
                        for item in string(t)?.split(';').map(str::trim) {
                            b.values().append_value(item);
                        }
                        b.append(true);
                    }
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        EdmType::Binary => {
            let mut b = BinaryBuilder::new();
            for c in cells {
                match c {
                    Some(t) => b.append_value(base64(&string(t)?)?),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
    })
}

fn primitive<T: ArrowPrimitiveType>(
    cells: &[Cell<'_>],
    parse: impl Fn(&str) -> Result<T::Native, String>,
) -> Result<PrimitiveArray<T>, String> {
    cells
        .iter()
        .map(|c| c.map(&parse).transpose())
        .collect::<Result<PrimitiveArray<T>, String>>()
}

fn int<T>(cells: &[Cell<'_>]) -> Result<ArrayRef, String>
where
    T: ArrowPrimitiveType,
    T::Native: TryFrom<i64>,
{
    Ok(Arc::new(primitive::<T>(cells, |t| {
        // IEEE754Compatible servers send Int64 as a string.
        let text = unquote(t)?;
        text.trim()
            .parse::<i64>()
            .ok()
            .and_then(|v| T::Native::try_from(v).ok())
            .ok_or_else(|| format!("{text} is not an integer in range"))
    })?))
}

/// The text of a JSON string cell: borrowed when it holds no escape (the
/// page parse has already checked it is valid JSON), unescaped otherwise.
fn string(t: &str) -> Result<Cow<'_, str>, String> {
    if let Some(inner) = t.strip_prefix('"').and_then(|r| r.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(t)
        .map(Cow::Owned)
        .map_err(|_| format!("{t} is not a string"))
}

/// The text of a number, or of a string holding one.
fn unquote(t: &str) -> Result<Cow<'_, str>, String> {
    if t.starts_with('"') {
        string(t)
    } else {
        Ok(Cow::Borrowed(t))
    }
}

fn float(t: &str) -> Result<f64, String> {
    let text = unquote(t)?;
    match text.as_ref() {
        "INF" => Ok(f64::INFINITY),
        "-INF" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
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
