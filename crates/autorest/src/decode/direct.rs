//! Scalars straight from the parser into a column's Arrow builder, for the
//! one-pass reader (`stream.rs`): building a `serde_json::Value` per field
//! and casting it afterwards costs more than the cast itself.
//!
//! Only the casts whose result is certain from the scalar alone are taken
//! here, and only when the value fits; anything else (a value that does not
//! fit, a null, a nested value, decimals that need the number's text,
//! formatted dates) becomes a `Value` as before and goes through
//! `decode::push_value` at the end of the row, so that casts and error
//! messages are those of the general path.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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

/// A field of one column: `None` when appended to its builder, else its
/// `Value` (a string in the column's reused buffer), for the general cast.
pub(crate) struct DirectSeed<'a> {
    pub builder: &'a mut ColBuilder,
    pub direct: Direct,
    pub buf: &'a mut String,
}

impl DirectSeed<'_> {
    fn scalar<E: de::Error>(
        self,
        s: Scalar<'_>,
        v: impl FnOnce() -> Value,
    ) -> Result<Option<Value>, E> {
        if self.direct != Direct::No && append(self.builder, self.direct, s) {
            Ok(None)
        } else {
            Ok(Some(v()))
        }
    }
}

impl<'de> DeserializeSeed<'de> for DirectSeed<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DirectSeed<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        self.scalar(Scalar::Bool(v), || Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        self.scalar(Scalar::I64(v), || Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        self.scalar(Scalar::U64(v), || Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Value>, E> {
        self.scalar(Scalar::F64(v), || Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        if self.direct != Direct::No && append(self.builder, self.direct, Scalar::Str(v)) {
            return Ok(None);
        }
        let mut s = std::mem::take(self.buf);
        s.clear();
        s.push_str(v);
        Ok(Some(Value::String(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Some)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
