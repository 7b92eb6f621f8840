//! Casting JSON values to a column's type, into Arrow builders: strict,
//! so that a value that does not fit is reported rather than nulled.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int8Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use connectkit_core::value;
use serde_json::Value;

use crate::table::ColumnDef;
use crate::table::formats;
use crate::table::types::SqlType;

/// An Arrow builder for one column.
pub(crate) enum ColBuilder {
    Bool(BooleanBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder, u8, i8),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Ts(TimestampMicrosecondBuilder),
    Str(StringBuilder),
}

impl ColBuilder {
    pub fn new(t: SqlType, cap: usize) -> Self {
        match t {
            SqlType::Bit | SqlType::Boolean => Self::Bool(BooleanBuilder::with_capacity(cap)),
            SqlType::TinyInt => Self::I8(Int8Builder::with_capacity(cap)),
            SqlType::SmallInt => Self::I16(Int16Builder::with_capacity(cap)),
            SqlType::Integer => Self::I32(Int32Builder::with_capacity(cap)),
            SqlType::BigInt => Self::I64(Int64Builder::with_capacity(cap)),
            SqlType::Double | SqlType::Float => Self::F64(Float64Builder::with_capacity(cap)),
            SqlType::Decimal(p, s) => Self::Dec(Decimal128Builder::with_capacity(cap), p, s),
            SqlType::Date => Self::Date(Date32Builder::with_capacity(cap)),
            SqlType::Time => Self::Time(Time64MicrosecondBuilder::with_capacity(cap)),
            SqlType::Timestamp => {
                Self::Ts(TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC"))
            }
            _ => Self::Str(StringBuilder::with_capacity(cap, cap * 16)),
        }
    }

    pub fn append_null(&mut self) {
        match self {
            Self::Bool(b) => b.append_null(),
            Self::I8(b) => b.append_null(),
            Self::I16(b) => b.append_null(),
            Self::I32(b) => b.append_null(),
            Self::I64(b) => b.append_null(),
            Self::F64(b) => b.append_null(),
            Self::Dec(b, ..) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Ts(b) => b.append_null(),
            Self::Str(b) => b.append_null(),
        }
    }

    /// Appends a non-null value; `false` when it does not fit.
    pub fn append(&mut self, v: &Value, col: &ColumnDef) -> bool {
        fn put<T>(slot: Option<T>, f: impl FnOnce(T)) -> bool {
            slot.map(f).is_some()
        }
        match self {
            Self::Bool(b) => put(to_bool(v), |x| b.append_value(x)),
            Self::I8(b) => put(to_i64(v).and_then(|x| x.try_into().ok()), |x| {
                b.append_value(x)
            }),
            Self::I16(b) => put(to_i64(v).and_then(|x| x.try_into().ok()), |x| {
                b.append_value(x)
            }),
            Self::I32(b) => put(to_i64(v).and_then(|x| x.try_into().ok()), |x| {
                b.append_value(x)
            }),
            Self::I64(b) => put(to_i64(v), |x| b.append_value(x)),
            Self::F64(b) => put(to_f64(v), |x| b.append_value(x)),
            Self::Dec(b, p, s) => put(to_decimal(v, *p, *s), |x| b.append_value(x)),
            Self::Date(b) => match &col.format {
                Some(f) => put(formats::date(v, f), |x| b.append_value(x)),
                None => put(to_date(v), |x| b.append_value(x)),
            },
            Self::Time(b) => match &col.format {
                Some(f) => put(formats::time(v, f), |x| b.append_value(x)),
                None => put(to_time(v), |x| b.append_value(x)),
            },
            Self::Ts(b) => match &col.format {
                Some(f) => put(formats::timestamp(v, f), |x| b.append_value(x)),
                None => put(to_timestamp(v), |x| b.append_value(x)),
            },
            Self::Str(b) => {
                let text: Cow<'_, str> = match (col.sql_type, v) {
                    (SqlType::Json, v) => Cow::Owned(v.to_string()),
                    (_, Value::String(s)) => Cow::Borrowed(s),
                    (_, Value::Number(n)) => Cow::Owned(n.to_string()),
                    (_, Value::Bool(x)) => Cow::Owned(x.to_string()),
                    _ => return false,
                };
                if col.enforce_len
                    && let Some(n) = col.sql_type.max_len()
                    // No more characters than bytes: count only long texts.
                    && text.len() > n as usize
                    && text.chars().count() > n as usize
                {
                    return false;
                }
                b.append_value(text);
                true
            }
        }
    }

    pub fn finish(self) -> ArrayRef {
        match self {
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::I8(mut b) => Arc::new(b.finish()),
            Self::I16(mut b) => Arc::new(b.finish()),
            Self::I32(mut b) => Arc::new(b.finish()),
            Self::I64(mut b) => Arc::new(b.finish()),
            Self::F64(mut b) => Arc::new(b.finish()),
            Self::Dec(mut b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(p, s)
                    .expect("precision and scale were validated when parsed"),
            ),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Time(mut b) => Arc::new(b.finish()),
            Self::Ts(mut b) => Arc::new(b.finish()),
            Self::Str(mut b) => Arc::new(b.finish()),
        }
    }
}

fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn to_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn to_decimal(v: &Value, precision: u8, scale: i8) -> Option<i128> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    // Exact or refused, never rounded (see connectkit_core::value).
    value::parse_decimal(&text, Some(precision), scale)
}

pub(crate) fn to_date(v: &Value) -> Option<i32> {
    value::parse_date(v.as_str()?)
}

fn to_time(v: &Value) -> Option<i64> {
    value::parse_time(v.as_str()?)
}

pub(crate) fn to_timestamp(v: &Value) -> Option<i64> {
    value::parse_timestamp_lenient(v.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_keep_exact_digits() {
        assert_eq!(to_decimal(&json!(-0.5), 10, 2), Some(-50));
        assert_eq!(to_decimal(&json!("12.345"), 10, 2), None);
        assert_eq!(to_decimal(&json!("abc"), 5, 2), None);
    }

    #[test]
    fn casts_are_strict() {
        assert_eq!(to_i64(&json!("42")), Some(42));
        assert_eq!(to_i64(&json!(3.0)), Some(3));
        assert_eq!(to_i64(&json!(3.5)), None);
        assert_eq!(to_i64(&json!("forty")), None);
        assert_eq!(to_bool(&json!("TRUE")), Some(true));
        assert_eq!(to_bool(&json!(2)), None);
        assert_eq!(to_date(&json!("1970-01-02")), Some(1));
        assert_eq!(to_date(&json!("1970-01-02T00:00:00Z")), None);
        assert_eq!(to_timestamp(&json!("1970-01-01T01:00:00+01:00")), Some(0));
        assert_eq!(to_time(&json!("00:00:01.5")), Some(1_500_000));
    }
}
