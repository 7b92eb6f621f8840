//! Scalars straight from a field's raw text into a column's Arrow builder,
//! for the one-pass reader (`stream.rs`): building a `serde_json::Value`
//! per field and casting it afterwards costs more than the cast itself.
//!
//! Only the casts whose result is certain from the scalar alone are taken
//! here, and only when the value fits; anything else (a value that does not
//! fit, a null, a nested value, decimals that need the number's text,
//! formatted dates) becomes a `Value` as before and goes through
//! `decode::push_value` at the end of the row, so that casts and error
//! messages are those of the general path.

use serde_json::Value;

use connectkit_core::decode::RawJson;
use connectkit_core::value;

use crate::decode::cast::ColBuilder;
use crate::table::ColumnDef;
use crate::table::types::SqlType;

/// Which scalars a column takes directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Direct {
    /// None: always through a `Value`.
    No,
    Bool,
    Int,
    Float,
    /// Strings, at most this many characters when the length is enforced.
    Text(Option<u32>),
    Date,
    Time,
    Ts,
}

impl Direct {
    /// How `col`, whose builder is `b`, takes scalars.
    pub fn of(b: &ColBuilder, col: &ColumnDef) -> Self {
        let plain = col.format.is_none();
        match b {
            ColBuilder::Bool(_) => Self::Bool,
            ColBuilder::I8(_) | ColBuilder::I16(_) | ColBuilder::I32(_) | ColBuilder::I64(_) => {
                Self::Int
            }
            ColBuilder::F64(_) => Self::Float,
            ColBuilder::Date(_) if plain => Self::Date,
            ColBuilder::Time(_) if plain => Self::Time,
            ColBuilder::Ts(_) if plain => Self::Ts,
            ColBuilder::Str(_) if col.sql_type != SqlType::Json => {
                Self::Text(col.sql_type.max_len().filter(|_| col.enforce_len))
            }
            _ => Self::No,
        }
    }
}

/// A scalar as the parser gives it.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(&'a str),
}

/// Appends `s` to `b` as `ColBuilder::append` would append its `Value`;
/// `false` (nothing appended) when that is not certain or it does not fit.
#[inline]
fn append(b: &mut ColBuilder, d: Direct, s: Scalar<'_>) -> bool {
    // A u64 within i64 is the same JSON number as that i64.
    let s = match s {
        Scalar::U64(u) => i64::try_from(u).map_or(s, Scalar::I64),
        s => s,
    };
    match (b, d, s) {
        (ColBuilder::Bool(b), _, Scalar::Bool(x)) => b.append_value(x),
        (ColBuilder::Bool(b), _, Scalar::I64(i @ (0 | 1))) => b.append_value(i == 1),
        (ColBuilder::I8(b), _, Scalar::I64(i)) => match i.try_into() {
            Ok(x) => b.append_value(x),
            Err(_) => return false,
        },
        (ColBuilder::I16(b), _, Scalar::I64(i)) => match i.try_into() {
            Ok(x) => b.append_value(x),
            Err(_) => return false,
        },
        (ColBuilder::I32(b), _, Scalar::I64(i)) => match i.try_into() {
            Ok(x) => b.append_value(x),
            Err(_) => return false,
        },
        (ColBuilder::I64(b), _, Scalar::I64(i)) => b.append_value(i),
        // Number::as_f64, as the Value path casts.
        (ColBuilder::F64(b), _, Scalar::I64(i)) => b.append_value(i as f64),
        (ColBuilder::F64(b), _, Scalar::U64(u)) => b.append_value(u as f64),
        (ColBuilder::F64(b), _, Scalar::F64(f)) if f.is_finite() => b.append_value(f),
        (ColBuilder::Str(b), Direct::Text(max), Scalar::Str(s)) => {
            if let Some(n) = max
                && s.len() > n as usize
                && s.chars().count() > n as usize
            {
                return false;
            }
            b.append_value(s);
        }
        (ColBuilder::Date(b), Direct::Date, Scalar::Str(s)) => match value::parse_date(s) {
            Some(x) => b.append_value(x),
            None => return false,
        },
        (ColBuilder::Time(b), Direct::Time, Scalar::Str(s)) => match value::parse_time(s) {
            Some(x) => b.append_value(x),
            None => return false,
        },
        (ColBuilder::Ts(b), Direct::Ts, Scalar::Str(s)) => {
            match value::parse_timestamp_lenient(s) {
                Some(x) => b.append_value(x),
                None => return false,
            }
        }
        _ => return false,
    }
    true
}

/// The scalar a raw value is, as serde_json would hand it over; `None` for
/// what goes through a `Value` (null, arrays, objects, escaped strings,
/// numbers outside the plain integer form, which serde_json reads).
#[inline]
fn plain_scalar(raw: RawJson<'_>) -> Option<Scalar<'_>> {
    let t = raw.text;
    match t.as_bytes().first()? {
        b'"' if !raw.escaped => t.get(1..t.len() - 1).map(Scalar::Str),
        b't' => Some(Scalar::Bool(true)),
        b'f' => Some(Scalar::Bool(false)),
        b'-' | b'0'..=b'9' => {
            let (negative, digits) = match t.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, t),
            };
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                // At most 18 digits always fit an i64; longer integers and
                // `-0` (serde_json's -0.0) are serde_json's to read.
                if digits.len() > 18 || (negative && digits == "0") {
                    return None;
                }
                let v = digits.bytes().fold(0, |v, b| v * 10 + i64::from(b - b'0'));
                return Some(Scalar::I64(if negative { -v } else { v }));
            }
            // A fraction or an exponent: read correctly rounded, as
            // serde_json reads it with `float_roundtrip` (proptest below);
            // one out of range is serde_json's to refuse.
            t.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Scalar::F64)
        }
        _ => None,
    }
}

/// The scalar of a number as serde_json parsed it.
fn number_scalar(n: &serde_json::Number) -> Option<Scalar<'static>> {
    n.as_u64()
        .map(Scalar::U64)
        .or_else(|| n.as_i64().map(Scalar::I64))
        .or_else(|| n.as_f64().map(Scalar::F64))
}

/// Reads the raw value of a field of one column: `None` when appended to
/// its builder, else its `Value` (a string in the column's reused buffer),
/// for the general cast.
#[inline]
pub(crate) fn read_raw(
    builder: &mut ColBuilder,
    direct: Direct,
    buf: &mut String,
    raw: RawJson<'_>,
) -> Result<Option<Value>, serde_json::Error> {
    if direct != Direct::No
        && let Some(s) = plain_scalar(raw)
    {
        if append(builder, direct, s) {
            return Ok(None);
        }
        if let Scalar::Str(text) = s {
            let mut v = std::mem::take(buf);
            v.clear();
            v.push_str(text);
            return Ok(Some(Value::String(v)));
        }
    }
    let v: Value = serde_json::from_str(raw.text)?;
    if direct != Direct::No
        && let Value::Number(n) = &v
        && number_scalar(n).is_some_and(|s| append(builder, direct, s))
    {
        return Ok(None);
    }
    Ok(Some(v))
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
