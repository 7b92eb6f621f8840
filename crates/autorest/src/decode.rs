//! JSON rows to Arrow record batches: locating a page's rows, walking down
//! to child-table elements, and casting each value to its column's type.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int8Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::Value;

use crate::error::AutoRestError;
use crate::infer::discover_rows;
use crate::table::{ColumnDef, Rows, Source, TableDef, lookup};
use crate::types::SqlType;

/// The top-level rows of one page, by the table's row locator. A missing row
/// element is `Err(path)`; a `null` one is no rows.
pub(crate) fn page_rows<'a>(rows: &Rows, body: &'a Value) -> Result<Vec<&'a Value>, String> {
    let at = match rows {
        Rows::Single => return Ok(vec![body]),
        Rows::Auto => {
            return Ok(discover_rows(body)
                .first()
                .map_or_else(Vec::new, |(_, r)| page_rows(r, body).unwrap_or_default()));
        }
        Rows::Path(path) => lookup(body, path).ok_or_else(|| format!("/{}", path.join("/")))?,
    };
    match at {
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![other]),
    }
}

/// One row of a table: its ancestors' identities, its position and its element.
struct RowCtx<'a> {
    ids: Vec<Value>,
    position: usize,
    elem: Cow<'a, Value>,
}

fn normalize(v: &Value) -> Cow<'_, Value> {
    if v.is_object() {
        Cow::Borrowed(v)
    } else {
        let mut m = serde_json::Map::new();
        m.insert("value".to_owned(), v.clone());
        Cow::Owned(Value::Object(m))
    }
}

fn descend<'a>(
    table: &TableDef,
    level: usize,
    elem: &'a Value,
    ids: &[Value],
    out: &mut Vec<RowCtx<'a>>,
) {
    let Some(Value::Array(items)) = lookup(elem, &table.levels[level]) else {
        return;
    };
    for (j, e) in items.iter().enumerate() {
        if level + 1 == table.levels.len() {
            out.push(RowCtx {
                ids: ids.to_vec(),
                position: j,
                elem: normalize(e),
            });
        } else if let Cow::Borrowed(obj) = normalize(e) {
            let mut next = ids.to_vec();
            next.push(Value::from(j));
            descend(table, level + 1, obj, &next, out);
        } else {
            // A scalar element holds no deeper arrays; arrays of arrays are
            // walked through their `value` pseudo-field.
            let mut next = ids.to_vec();
            next.push(Value::from(j));
            let wrapped = normalize(e).into_owned();
            let mut inner = Vec::new();
            descend(table, level + 1, &wrapped, &next, &mut inner);
            out.extend(inner.into_iter().map(|r| RowCtx {
                ids: r.ids,
                position: r.position,
                elem: Cow::Owned(r.elem.into_owned()),
            }));
        }
    }
}

/// Decodes the rows of one page into a batch of the table's schema.
///
/// `root_offset` is how many top-level rows earlier pages held (positions of
/// key-less parents count from it); `row_offset` how many table rows earlier
/// pages gave (for error messages); at most `max_rows` rows are kept.
pub(crate) fn decode(
    table: &TableDef,
    root_rows: &[&Value],
    root_offset: usize,
    row_offset: usize,
    max_rows: Option<usize>,
) -> Result<RecordBatch, AutoRestError> {
    let mut rows: Vec<RowCtx<'_>> = Vec::new();
    for (i, root) in root_rows.iter().enumerate() {
        if max_rows.is_some_and(|m| rows.len() >= m) {
            break;
        }
        let position = root_offset + i;
        if table.levels.is_empty() {
            rows.push(RowCtx {
                ids: Vec::new(),
                position,
                elem: normalize(root),
            });
            continue;
        }
        let id = match &table.root_key {
            Some(path) => lookup(root, path).cloned().unwrap_or(Value::Null),
            None => Value::from(position),
        };
        descend(table, 0, root, &[id], &mut rows);
    }
    if let Some(m) = max_rows {
        rows.truncate(m);
    }
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for col in &table.columns {
        let mut b = ColBuilder::new(col.sql_type, rows.len());
        for (n, row) in rows.iter().enumerate() {
            let value: Cow<'_, Value> = match &col.source {
                Source::Field(path) => match lookup(&row.elem, path) {
                    Some(v) => Cow::Borrowed(v),
                    None => Cow::Owned(Value::Null),
                },
                Source::Ancestor(level) => {
                    Cow::Owned(row.ids.get(*level).cloned().unwrap_or(Value::Null))
                }
                Source::Position => Cow::Owned(Value::from(row.position)),
            };
            let row_no = row_offset + n + 1;
            if value.is_null() {
                if col.not_null {
                    return Err(AutoRestError::NullValue {
                        table: table.name.clone(),
                        column: col.name.clone(),
                        row: row_no,
                    });
                }
                b.append_null();
            } else if !b.append(&value, col) {
                return Err(AutoRestError::Cast {
                    table: table.name.clone(),
                    column: col.name.clone(),
                    row: row_no,
                    value: short(&value),
                    sql_type: col.sql_type.to_string(),
                });
            }
        }
        arrays.push(b.finish());
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(table.schema.clone(), arrays, &options).map_err(|e| {
        AutoRestError::Arrow {
            table: table.name.clone(),
            message: e.to_string(),
        }
    })
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

enum ColBuilder {
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
    fn new(t: SqlType, cap: usize) -> Self {
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

    fn append_null(&mut self) {
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
    fn append(&mut self, v: &Value, col: &ColumnDef) -> bool {
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
            Self::Date(b) => put(to_date(v), |x| b.append_value(x)),
            Self::Time(b) => put(to_time(v), |x| b.append_value(x)),
            Self::Ts(b) => put(to_timestamp(v), |x| b.append_value(x)),
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
                    && text.chars().count() > n as usize
                {
                    return false;
                }
                b.append_value(text);
                true
            }
        }
    }

    fn finish(self) -> ArrayRef {
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
    parse_decimal(&text, precision, scale)
}

/// Parses `-12.345` into an unscaled integer of `scale` decimals, refusing
/// values that lose digits or exceed `precision`.
pub(crate) fn parse_decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = scale.max(0) as usize;
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() + scale > precision as usize {
        return None;
    }
    let mut all = String::from(int);
    all.push_str(frac_trimmed);
    all.extend(std::iter::repeat_n('0', scale - frac_trimmed.len()));
    let n: i128 = if all.is_empty() { 0 } else { all.parse().ok()? };
    Some(if neg { -n } else { n })
}

pub(crate) fn to_date(v: &Value) -> Option<i32> {
    let s = v.as_str()?.trim();
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((d - epoch).num_days()).ok()
}

fn to_time(v: &Value) -> Option<i64> {
    let s = v.as_str()?.trim();
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    let midnight = NaiveTime::from_hms_opt(0, 0, 0)?;
    (t - midnight).num_microseconds()
}

pub(crate) fn to_timestamp(v: &Value) -> Option<i64> {
    let s = v.as_str()?.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|dt| dt.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_keep_exact_digits() {
        assert_eq!(parse_decimal("12.34", 10, 2), Some(1234));
        assert_eq!(parse_decimal("-0.5", 10, 2), Some(-50));
        assert_eq!(parse_decimal("7", 3, 2), Some(700));
        assert_eq!(parse_decimal("12.345", 10, 2), None);
        assert_eq!(parse_decimal("1234", 5, 2), None);
        assert_eq!(parse_decimal("abc", 5, 2), None);
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

    #[test]
    fn rows_are_found_by_path_or_discovered() {
        let body = json!({"data": {"items": [{"a": 1}, {"a": 2}]}, "meta": {}});
        let path = Rows::Path(vec!["data".into(), "items".into()]);
        assert_eq!(page_rows(&path, &body).unwrap().len(), 2);
        assert_eq!(page_rows(&Rows::Auto, &body).unwrap().len(), 2);
        assert_eq!(
            page_rows(&Rows::Path(vec!["nope".into()]), &body).unwrap_err(),
            "/nope"
        );
        assert_eq!(page_rows(&Rows::Single, &body).unwrap().len(), 1);
        assert!(
            page_rows(&path, &json!({"data": {"items": null}}))
                .unwrap()
                .is_empty()
        );
    }
}
