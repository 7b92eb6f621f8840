//! Row filters a caller asks a source to apply: comparisons, IN, prefix
//! and substring matches, null tests, and AND/OR of those.

use std::fmt;

/// A row filter: `column op value`, or an AND/OR of filters.
///
/// The shapes, each built by a constructor:
/// - a comparison, [`Filter::new`] (`Eq`/`Ne` with [`Literal::Null`] mean
///   `IS NULL`/`IS NOT NULL`: [`Filter::is_null`], [`Filter::is_not_null`]);
/// - `column IN (values)`, [`Filter::in_list`] (`value` is a
///   [`Literal::List`]);
/// - `column LIKE 'prefix%'` and `column LIKE '%text%'`,
///   [`Filter::starts_with`] and [`Filter::contains`];
/// - [`Filter::and`] and [`Filter::or`] over `operands`. Their `column` is
///   the first column an operand names, so a source that checks filter
///   columns against its table sees a real one; [`Filter::columns`] lists all.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Filter {
    /// The column compared (for `And`/`Or`, the first column named).
    pub column: String,
    /// The comparison.
    pub op: FilterOp,
    /// The value compared with ([`Literal::Null`] for `And`/`Or`).
    pub value: Literal,
    /// The operands of `And`/`Or`; empty otherwise.
    pub operands: Vec<Filter>,
}

impl Filter {
    /// `column op value`.
    pub fn new(column: impl Into<String>, op: FilterOp, value: impl Into<Literal>) -> Self {
        Self {
            column: column.into(),
            op,
            value: value.into(),
            operands: Vec::new(),
        }
    }

    /// `column IS NULL`.
    pub fn is_null(column: impl Into<String>) -> Self {
        Self::new(column, FilterOp::Eq, Literal::Null)
    }

    /// `column IS NOT NULL`.
    pub fn is_not_null(column: impl Into<String>) -> Self {
        Self::new(column, FilterOp::Ne, Literal::Null)
    }

    /// `column IN (values)`.
    pub fn in_list<I, L>(column: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<Literal>,
    {
        let values = values.into_iter().map(Into::into).collect();
        Self::new(column, FilterOp::In, Literal::List(values))
    }

    /// `column LIKE 'prefix%'`.
    pub fn starts_with(column: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::new(column, FilterOp::StartsWith, Literal::String(prefix.into()))
    }

    /// `column LIKE '%text%'`.
    pub fn contains(column: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(column, FilterOp::Contains, Literal::String(text.into()))
    }

    /// All of `operands` hold.
    pub fn and(operands: Vec<Filter>) -> Self {
        Self::compound(FilterOp::And, operands)
    }

    /// At least one of `operands` holds.
    pub fn or(operands: Vec<Filter>) -> Self {
        Self::compound(FilterOp::Or, operands)
    }

    fn compound(op: FilterOp, operands: Vec<Filter>) -> Self {
        Self {
            column: operands
                .first()
                .map(|f| f.column.clone())
                .unwrap_or_default(),
            op,
            value: Literal::Null,
            operands,
        }
    }

    /// Whether this is an `And` or `Or` of [`Filter::operands`].
    pub fn is_compound(&self) -> bool {
        matches!(self.op, FilterOp::And | FilterOp::Or)
    }

    /// Every column the filter names, in order, without repeats.
    pub fn columns(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.collect_columns(&mut out);
        out
    }

    fn collect_columns<'a>(&'a self, out: &mut Vec<&'a str>) {
        if self.is_compound() {
            for f in &self.operands {
                f.collect_columns(out);
            }
        } else if !out.contains(&self.column.as_str()) {
            out.push(&self.column);
        }
    }
}

impl fmt::Display for Filter {
    /// SQL-like text, for plans and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, o) in self.operands.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{o}")?;
            }
            f.write_str(")")
        };
        let c = &self.column;
        match (self.op, &self.value) {
            (FilterOp::And, _) => join(f, " AND "),
            (FilterOp::Or, _) => join(f, " OR "),
            (FilterOp::Eq, Literal::Null) => write!(f, "{c} IS NULL"),
            (FilterOp::Ne, Literal::Null) => write!(f, "{c} IS NOT NULL"),
            (FilterOp::StartsWith, Literal::String(s)) => {
                write!(f, "{c} LIKE '{}%'", s.replace('\'', "''"))
            }
            (FilterOp::Contains, Literal::String(s)) => {
                write!(f, "{c} LIKE '%{}%'", s.replace('\'', "''"))
            }
            (FilterOp::In, v) => write!(f, "{c} IN {v}"),
            (op, v) => write!(f, "{c} {op} {v}"),
        }
    }
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// One of a [`Literal::List`].
    In,
    /// Text that starts with a string (`LIKE 'abc%'`).
    StartsWith,
    /// Text that contains a string (`LIKE '%abc%'`).
    Contains,
    /// Every operand holds.
    And,
    /// At least one operand holds.
    Or,
}

impl fmt::Display for FilterOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FilterOp::Eq => "=",
            FilterOp::Ne => "<>",
            FilterOp::Gt => ">",
            FilterOp::Ge => ">=",
            FilterOp::Lt => "<",
            FilterOp::Le => "<=",
            FilterOp::In => "IN",
            FilterOp::StartsWith => "STARTS WITH",
            FilterOp::Contains => "CONTAINS",
            FilterOp::And => "AND",
            FilterOp::Or => "OR",
        })
    }
}

/// A literal value in a [`Filter`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Literal {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    String(String),
    /// An exact decimal: `value / 10^scale`.
    Decimal {
        /// The unscaled value.
        value: i128,
        /// Digits after the decimal point.
        scale: i8,
    },
    /// A calendar date, as days since 1970-01-01.
    Date(i32),
    /// An instant, as microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
    /// A GUID (UUID), as its 128-bit value.
    Guid(u128),
    /// The values of an `In` filter.
    List(Vec<Literal>),
}

impl Literal {
    /// The decimal's text (`-12.50` for value -1250, scale 2).
    pub fn decimal_text(value: i128, scale: i8) -> String {
        let digits = value.unsigned_abs().to_string();
        let sign = if value < 0 { "-" } else { "" };
        if scale <= 0 {
            let zeros = "0".repeat(usize::from(scale.unsigned_abs()));
            return if value == 0 {
                "0".into()
            } else {
                format!("{sign}{digits}{zeros}")
            };
        }
        let scale = usize::from(scale.unsigned_abs());
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{sign}{int}.{frac}")
    }

    /// The GUID's canonical text: lowercase, hyphenated 8-4-4-4-12.
    pub fn guid_text(value: u128) -> String {
        let h = format!("{value:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

impl fmt::Display for Literal {
    /// SQL-like text: strings quoted, dates as days and timestamps as
    /// microseconds since the epoch (core keeps no calendar).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("NULL"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(v) => write!(f, "{v}"),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Decimal { value, scale } => f.write_str(&Self::decimal_text(*value, *scale)),
            Literal::Date(d) => write!(f, "DATE '{}'", civil(i64::from(*d))),
            Literal::Timestamp(t) => {
                let (days, micros) = (t.div_euclid(86_400_000_000), t.rem_euclid(86_400_000_000));
                let secs = micros / 1_000_000;
                let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
                write!(f, "TIMESTAMP '{}T{h:02}:{m:02}:{s:02}", civil(days))?;
                match micros % 1_000_000 {
                    0 => f.write_str("Z'"),
                    frac => write!(f, ".{frac:06}Z'"),
                }
            }
            Literal::Guid(g) => write!(f, "GUID '{}'", Self::guid_text(*g)),
            Literal::List(items) => {
                f.write_str("(")?;
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01, as `YYYY-MM-DD`
/// (H. Hinnant's `civil_from_days`; core keeps no calendar dependency).
fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

impl From<bool> for Literal {
    fn from(v: bool) -> Self {
        Literal::Bool(v)
    }
}
impl From<i64> for Literal {
    fn from(v: i64) -> Self {
        Literal::Int(v)
    }
}
impl From<f64> for Literal {
    fn from(v: f64) -> Self {
        Literal::Float(v)
    }
}
impl From<&str> for Literal {
    fn from(v: &str) -> Self {
        Literal::String(v.to_owned())
    }
}
impl From<String> for Literal {
    fn from(v: String) -> Self {
        Literal::String(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_guid_text() {
        assert_eq!(Literal::decimal_text(-1250, 2), "-12.50");
        assert_eq!(Literal::decimal_text(5, 3), "0.005");
        assert_eq!(Literal::decimal_text(-5, 3), "-0.005");
        assert_eq!(Literal::decimal_text(12, -2), "1200");
        assert_eq!(Literal::decimal_text(0, 0), "0");
        assert_eq!(Literal::decimal_text(0, -2), "0");
        assert_eq!(
            Literal::guid_text(0xA1B2C3D4_0000_0000_0000_0000000000FF),
            "a1b2c3d4-0000-0000-0000-0000000000ff"
        );
    }

    #[test]
    fn dates_and_timestamps_print_as_sql() {
        assert_eq!(Literal::Date(0).to_string(), "DATE '1970-01-01'");
        assert_eq!(Literal::Date(19_723).to_string(), "DATE '2024-01-01'");
        assert_eq!(Literal::Date(-1).to_string(), "DATE '1969-12-31'");
        assert_eq!(Literal::Date(11_016).to_string(), "DATE '2000-02-29'");
        assert_eq!(
            Literal::Timestamp(1_735_689_600_000_000).to_string(),
            "TIMESTAMP '2025-01-01T00:00:00Z'"
        );
        assert_eq!(
            Literal::Timestamp(-1).to_string(),
            "TIMESTAMP '1969-12-31T23:59:59.999999Z'"
        );
    }

    #[test]
    fn compound_filters_name_their_columns() {
        let f = Filter::or(vec![
            Filter::and(vec![
                Filter::starts_with("name", "Con"),
                Filter::new("revenue", FilterOp::Gt, 5i64),
            ]),
            Filter::in_list("city", ["Oslo", "Bergen"]),
            Filter::is_null("name"),
        ]);
        assert_eq!(f.column, "name");
        assert_eq!(f.columns(), ["name", "revenue", "city"]);
        assert_eq!(
            f.to_string(),
            "((name LIKE 'Con%' AND revenue > 5) OR city IN ('Oslo', 'Bergen') OR name IS NULL)"
        );
        assert!(Filter::or(vec![]).column.is_empty());
    }
}
