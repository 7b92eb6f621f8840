//! Column types: the SQL-ish names of model files and inference, and their
//! Arrow counterparts.

use std::fmt;

use arrow_schema::{DataType, TimeUnit};

/// A column type, as a model file writes it or inference chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SqlType {
    /// 64-bit integer.
    BigInt,
    /// A bit, read as a boolean.
    Bit,
    /// `true` / `false`.
    Boolean,
    /// Fixed-length text.
    Char(u32),
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// Exact decimal with precision and scale.
    Decimal(u8, i8),
    /// 64-bit float.
    Double,
    /// Float, read as 64-bit.
    Float,
    /// A GUID, as text.
    Guid,
    /// 32-bit integer.
    Integer,
    /// Any JSON value, kept as its JSON text.
    Json,
    /// Long text.
    LongVarChar,
    /// Unicode text of at most n characters.
    NVarChar(u32),
    /// 16-bit integer.
    SmallInt,
    /// Time of day.
    Time,
    /// RFC 3339 instant, stored in UTC.
    Timestamp,
    /// 8-bit integer.
    TinyInt,
    /// Text of at most n characters.
    VarChar(u32),
}

impl SqlType {
    /// Parses a model file's type name (case-insensitive), e.g. `VarChar(32)`, `Decimal(10,2)`.
    pub fn parse(text: &str) -> Option<SqlType> {
        let text = text.trim();
        let (name, args) = match text.find('(') {
            Some(i) => {
                let inner = text[i + 1..].strip_suffix(')')?;
                let args: Vec<&str> = inner.split(',').map(str::trim).collect();
                (text[..i].trim(), args)
            }
            None => (text, Vec::new()),
        };
        let n = |default: u32| -> Option<u32> {
            match args.first() {
                None => Some(default),
                Some(a) => a.parse().ok(),
            }
        };
        let t = match name.to_ascii_lowercase().as_str() {
            "bigint" => SqlType::BigInt,
            "bit" => SqlType::Bit,
            "boolean" => SqlType::Boolean,
            "char" => SqlType::Char(n(1)?),
            "date" => SqlType::Date,
            "decimal" | "numeric" => {
                let p: u8 = args.first().map(|a| a.parse().ok()).unwrap_or(Some(38))?;
                let s: i8 = args.get(1).map(|a| a.parse().ok()).unwrap_or(Some(0))?;
                if p == 0 || p > 38 || s < 0 || s as u8 > p {
                    return None;
                }
                SqlType::Decimal(p, s)
            }
            "double" => SqlType::Double,
            "float" | "real" => SqlType::Float,
            "guid" | "uuid" => SqlType::Guid,
            "integer" | "int" => SqlType::Integer,
            "json" => SqlType::Json,
            "longvarchar" => SqlType::LongVarChar,
            "nvarchar" => SqlType::NVarChar(n(255)?),
            "smallint" => SqlType::SmallInt,
            "time" => SqlType::Time,
            "timestamp" | "datetime" => SqlType::Timestamp,
            "tinyint" => SqlType::TinyInt,
            "varchar" => SqlType::VarChar(n(255)?),
            _ => return None,
        };
        Some(t)
    }

    /// The Arrow type its values are stored as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            SqlType::BigInt => DataType::Int64,
            SqlType::Integer => DataType::Int32,
            SqlType::SmallInt => DataType::Int16,
            SqlType::TinyInt => DataType::Int8,
            SqlType::Bit | SqlType::Boolean => DataType::Boolean,
            SqlType::Double | SqlType::Float => DataType::Float64,
            SqlType::Decimal(p, s) => DataType::Decimal128(*p, *s),
            SqlType::Date => DataType::Date32,
            SqlType::Time => DataType::Time64(TimeUnit::Microsecond),
            SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            SqlType::Char(_)
            | SqlType::Guid
            | SqlType::Json
            | SqlType::LongVarChar
            | SqlType::NVarChar(_)
            | SqlType::VarChar(_) => DataType::Utf8,
        }
    }

    /// The most characters a value may have, for length-limited text types.
    pub fn max_len(&self) -> Option<u32> {
        match self {
            SqlType::Char(n) | SqlType::NVarChar(n) | SqlType::VarChar(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::BigInt => f.write_str("BigInt"),
            SqlType::Bit => f.write_str("Bit"),
            SqlType::Boolean => f.write_str("Boolean"),
            SqlType::Char(n) => write!(f, "Char({n})"),
            SqlType::Date => f.write_str("Date"),
            SqlType::Decimal(p, s) => write!(f, "Decimal({p},{s})"),
            SqlType::Double => f.write_str("Double"),
            SqlType::Float => f.write_str("Float"),
            SqlType::Guid => f.write_str("GUID"),
            SqlType::Integer => f.write_str("Integer"),
            SqlType::Json => f.write_str("JSON"),
            SqlType::LongVarChar => f.write_str("LongVarChar"),
            SqlType::NVarChar(n) => write!(f, "NVarChar({n})"),
            SqlType::SmallInt => f.write_str("SmallInt"),
            SqlType::Time => f.write_str("Time"),
            SqlType::Timestamp => f.write_str("Timestamp"),
            SqlType::TinyInt => f.write_str("TinyInt"),
            SqlType::VarChar(n) => write!(f, "VarChar({n})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_model_types() {
        for t in [
            "BigInt",
            "VarChar(32)",
            "Decimal(10,2)",
            "Timestamp",
            "JSON",
            "GUID",
        ] {
            assert_eq!(SqlType::parse(t).unwrap().to_string(), t);
        }
        assert_eq!(SqlType::parse("varchar"), Some(SqlType::VarChar(255)));
        assert_eq!(SqlType::parse(" integer "), Some(SqlType::Integer));
        assert_eq!(SqlType::parse("Strin"), None);
        assert_eq!(SqlType::parse("VarChar(x)"), None);
        assert_eq!(SqlType::parse("Decimal(50,2)"), None);
    }
}
