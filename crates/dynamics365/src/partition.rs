//! Partitioned scans: a table split into ranges of one column, each range
//! its own `@odata.nextLink` chain.
//!
//! # The column
//!
//! A range filter is exact whatever the column, so the choice is about what
//! stays true while an export runs and what the server filters cheaply:
//!
//! - **`createdon`** (the default): Dataverse sets it once, when the row is
//!   created, on every standard and custom table, and never changes it, so a
//!   row updated during the export stays in its range and is read exactly
//!   once. `ge`/`lt` on a `Edm.DateTimeOffset` are exact comparisons.
//! - Not **`versionnumber`**: it changes on every update, so a row updated
//!   while the export runs can move from a range not yet read into one
//!   already read (lost) or the other way (read twice).
//! - Not the **primary key**: Dataverse keys are GUIDs, which SQL Server
//!   orders by its own byte order; `gt`/`lt` would still partition exactly,
//!   but the client cannot place cut points between two GUIDs so that the
//!   ranges hold similar numbers of rows.
//!
//! `PartitionColumn` names another column (an integer, `Edm.Date` or
//! `Edm.DateTimeOffset` column whose values do not change during the
//! export), for tables without `createdon` or other OData v4 services.
//!
//! # The bounds
//!
//! The lowest and highest value come from two one-row requests,
//! `$select=<col>&$filter=(<user filter>) and <col> ne null&$orderby=<col>
//! asc|desc&$top=1`, sent together. Not `$apply=aggregate(<col> with min as
//! ...)`: Dataverse limits aggregates to 50,000 rows, and the tables worth
//! splitting are larger (and not every OData service implements `$apply`).
//!
//! # The ranges
//!
//! Cut points divide `[min, max]` evenly (whole seconds, days or integers);
//! the ranges are half-open (`ge` the lower cut, `lt` the upper), the first
//! has no lower bound and also takes the rows whose column is null, the last
//! has no upper bound. Their union is the table and no two share a row,
//! whatever values rows outside the sampled bounds have (rows created after
//! the bounds were read fall in the last range).

use connectkit_core::Error;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Dynamics365Error;
use crate::odata::encode_component;
use crate::scan::first_url;
use crate::types::{Column, EdmType};

/// The column a Dataverse table is split on unless `PartitionColumn` names
/// another one.
pub(crate) const DEFAULT_COLUMN: &str = "createdon";

/// How a column's values are placed on a line of whole numbers, where cut
/// points are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Integers, as they are.
    Int,
    /// `Edm.DateTimeOffset`, in whole seconds since the epoch.
    Seconds,
    /// `Edm.Date`, in days since the epoch.
    Days,
}

impl Scale {
    fn of(edm: &EdmType) -> Option<Self> {
        Some(match edm {
            EdmType::Byte | EdmType::SByte | EdmType::Int16 | EdmType::Int32 | EdmType::Int64 => {
                Self::Int
            }
            EdmType::DateTimeOffset => Self::Seconds,
            EdmType::Date => Self::Days,
            _ => return None,
        })
    }

    /// A value as the server writes it in JSON (rounded down to the scale).
    fn parse_json(self, value: &serde_json::Value) -> Option<i128> {
        match (self, value) {
            (Self::Int, serde_json::Value::Number(n)) => n.as_i64().map(i128::from),
            (_, serde_json::Value::String(s)) => self.parse(s),
            _ => None,
        }
    }

    /// A value as text: an integer, an RFC 3339 timestamp, a date.
    fn parse(self, text: &str) -> Option<i128> {
        match self {
            Self::Int => text.parse().ok(),
            Self::Seconds => chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| i128::from(t.timestamp())),
            Self::Days => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|d| i128::from(d.to_epoch_days())),
        }
    }

    /// The OData literal of a point on the scale.
    fn literal(self, v: i128) -> Option<String> {
        match self {
            Self::Int => Some(v.to_string()),
            Self::Seconds => chrono::DateTime::from_timestamp(i64::try_from(v).ok()?, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            Self::Days => chrono::NaiveDate::from_epoch_days(i32::try_from(v).ok()?)
                .map(|d| d.format("%Y-%m-%d").to_string()),
        }
    }
}

/// A column of `columns` a scan can be split on, and its scale.
#[derive(Debug)]
pub(crate) struct SplitColumn<'c> {
    pub(crate) column: &'c Column,
    scale: Scale,
}

fn property<'c>(columns: &'c [Column], name: &str) -> Option<&'c Column> {
    columns
        .iter()
        .filter(|c| c.annotation.is_none())
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

/// The column a scan of `table` is split on: `named` (PartitionColumn)
/// when the table has it, else `createdon` when it is a timestamp, else
/// none (the scan is not split). A `named` column that cannot be split is
/// an error naming the property, the table and the type.
pub(crate) fn choose<'c>(
    columns: &'c [Column],
    table: &str,
    named: Option<&str>,
) -> Result<Option<SplitColumn<'c>>, Dynamics365Error> {
    if let Some(column) = named.and_then(|n| property(columns, n)) {
        let scale = Scale::of(&column.edm).ok_or_else(|| {
            Dynamics365Error::config(
                "PartitionColumn",
                format!(
                    "table {table}: column {} is {}; expected an integer, Edm.Date or Edm.DateTimeOffset column",
                    column.name, column.type_name
                ),
            )
        })?;
        return Ok(Some(SplitColumn { column, scale }));
    }
    Ok(property(columns, DEFAULT_COLUMN)
        .filter(|c| c.edm == EdmType::DateTimeOffset)
        .map(|column| SplitColumn {
            column,
            scale: Scale::Seconds,
        }))
}

/// `(filter) and (predicate)`, or the predicate alone.
pub(crate) fn and(filter: Option<&str>, predicate: &str) -> String {
    match filter {
        Some(f) => format!("({f}) and ({predicate})"),
        None => predicate.to_owned(),
    }
}

/// The request for the lowest (`descending` false) or highest non-null
/// value of the column among the rows `filter` selects.
pub(crate) fn bound_url(
    base: &Url,
    set: &str,
    split: &SplitColumn<'_>,
    filter: Option<&str>,
    descending: bool,
) -> Result<Url, Dynamics365Error> {
    let name = split.column.name.as_str();
    let not_null = format!("{name} ne null");
    let filter = and(filter, &not_null);
    let mut url = first_url(base, set, Some(&[name]), Some(&filter), Some(1))?;
    let order = format!("{name} {}", if descending { "desc" } else { "asc" });
    let query = format!(
        "{}&$orderby={}",
        url.query().unwrap_or_default(),
        encode_component(&order)
    );
    url.set_query(Some(&query));
    Ok(url)
}

/// The column's value in the first row of a bounds answer; `None` when the
/// answer has no row (no row has a value).
pub(crate) fn parse_bound(
    body: &str,
    table: &str,
    split: &SplitColumn<'_>,
) -> Result<Option<i128>, Dynamics365Error> {
    let invalid = |message: String| Dynamics365Error::InvalidResponse {
        what: format!("table {table}, the bounds of {}", split.column.name),
        message,
    };
    let page: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| invalid(format!("the answer is not OData JSON: {e}")))?;
    let rows = page
        .get("value")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| invalid("the answer has no `value` array".into()))?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let value = row
        .get(&split.column.name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid(format!("the row has no {}", split.column.name)))?;
    split
        .scale
        .parse_json(value)
        .map(Some)
        .ok_or_else(|| invalid(format!("{value} is not a {}", split.column.type_name)))
}

/// Up to `n - 1` cut points evenly between `lo` and `hi`, strictly
/// increasing and above `lo` (fewer when the span is narrower than `n`).
pub(crate) fn cuts(lo: i128, hi: i128, n: usize) -> Vec<i128> {
    let n = i128::try_from(n.max(1)).unwrap_or(i128::MAX);
    let mut out: Vec<i128> = Vec::new();
    if hi <= lo {
        return out;
    }
    for i in 1..n {
        let c = lo + (hi - lo) * i / n;
        if c > lo && out.last().is_none_or(|l| c > *l) {
            out.push(c);
        }
    }
    out
}

/// One range of a split scan, as it travels in
/// [`ScanPartition::key`](connectkit_core::ScanPartition::key): the column
/// and the OData literals of its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Range {
    /// The column, as `$metadata` spells it.
    pub(crate) column: String,
    /// The lowest value in the range, if bounded below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ge: Option<String>,
    /// The value just past the range, if bounded above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lt: Option<String>,
    /// Whether the range also holds the rows whose column is null.
    #[serde(default)]
    pub(crate) nulls: bool,
}

impl Range {
    /// The ranges that `cuts` (at least one) make of the column.
    pub(crate) fn split(split: &SplitColumn<'_>, cuts: &[i128]) -> Option<Vec<Range>> {
        let literals: Option<Vec<String>> = cuts.iter().map(|c| split.scale.literal(*c)).collect();
        let literals = literals?;
        let column = &split.column.name;
        let mut out = Vec::with_capacity(literals.len() + 1);
        let mut lower: Option<String> = None;
        for upper in literals.into_iter().map(Some).chain([None]) {
            out.push(Range {
                column: column.clone(),
                nulls: lower.is_none() && split.column.nullable,
                ge: lower.take(),
                lt: upper.clone(),
            });
            lower = upper;
        }
        Some(out)
    }

    /// The `$filter` predicate of the range.
    pub(crate) fn predicate(&self) -> String {
        let c = &self.column;
        let mut parts = Vec::with_capacity(2);
        if let Some(l) = &self.ge {
            parts.push(format!("{c} ge {l}"));
        }
        if let Some(u) = &self.lt {
            parts.push(format!("{c} lt {u}"));
        }
        let range = parts.join(" and ");
        match (self.nulls, range.is_empty()) {
            (false, _) => range,
            (true, true) => format!("{c} eq null"),
            (true, false) => format!("{range} or {c} eq null"),
        }
    }

    /// The range as plain text for a partition's key.
    pub(crate) fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The range a partition's key holds, checked against the table: the
    /// column must be one a scan can be split on, and each bound a value of
    /// its type (written again, so only a literal reaches `$filter`).
    pub(crate) fn from_key(key: &str, columns: &[Column], table: &str) -> Result<Range, Error> {
        let bad = |why: String| {
            Error::from(Dynamics365Error::InvalidResponse {
                what: format!("table {table}"),
                message: format!("not a partition of this table ({why}): {key:?}"),
            })
        };
        let range: Range = serde_json::from_str(key).map_err(|e| bad(e.to_string()))?;
        let column = property(columns, &range.column)
            .ok_or_else(|| bad(format!("no column {}", range.column)))?;
        let scale = Scale::of(&column.edm)
            .ok_or_else(|| bad(format!("{} cannot be split", column.name)))?;
        let again = |text: &Option<String>| -> Result<Option<String>, Error> {
            text.as_deref()
                .map(|t| {
                    scale
                        .parse(t)
                        .and_then(|v| scale.literal(v))
                        .filter(|l| l == t)
                        .ok_or_else(|| bad(format!("{t:?} is not a bound of {}", column.name)))
                })
                .transpose()
        };
        Ok(Range {
            column: column.name.clone(),
            ge: again(&range.ge)?,
            lt: again(&range.lt)?,
            nulls: range.nulls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, type_name: &str, nullable: bool) -> Column {
        Column {
            edm: EdmType::from_csdl(type_name, None, None),
            type_name: type_name.into(),
            name: name.into(),
            nullable,
            key: false,
            annotation: None,
        }
    }

    #[test]
    fn cuts_divide_the_span_and_never_repeat() {
        assert_eq!(cuts(0, 100, 4), [25, 50, 75]);
        assert_eq!(cuts(10, 12, 4), [11]);
        assert!(cuts(5, 5, 4).is_empty());
        assert!(cuts(9, 5, 4).is_empty());
        assert!(cuts(0, 100, 1).is_empty());
        let big = cuts(i128::from(i64::MIN), i128::from(i64::MAX), 3);
        assert_eq!(big.len(), 2);
    }

    #[test]
    fn the_ranges_cover_the_line_once_with_nulls_in_the_first() {
        let columns = [col("createdon", "Edm.DateTimeOffset", true)];
        let split = choose(&columns, "accounts", None).unwrap().unwrap();
        let ranges = Range::split(&split, &[1_700_000_000, 1_700_000_100]).unwrap();
        let preds: Vec<String> = ranges.iter().map(Range::predicate).collect();
        assert_eq!(
            preds,
            [
                "createdon lt 2023-11-14T22:13:20Z or createdon eq null",
                "createdon ge 2023-11-14T22:13:20Z and createdon lt 2023-11-14T22:15:00Z",
                "createdon ge 2023-11-14T22:15:00Z",
            ]
        );
        for r in &ranges {
            assert_eq!(&Range::from_key(&r.key(), &columns, "accounts").unwrap(), r);
        }
        // A key is checked, not trusted: only literals reach `$filter`.
        let forged = r#"{"column":"createdon","lt":"2023-11-14T22:13:20Z) or (1 eq 1"}"#;
        assert!(Range::from_key(forged, &columns, "accounts").is_err());
        assert!(Range::from_key(r#"{"column":"name"}"#, &columns, "accounts").is_err());
    }

    #[test]
    fn the_column_is_named_or_createdon() {
        let columns = [
            col("createdon", "Edm.DateTimeOffset", true),
            col("seq", "Edm.Int32", false),
            col("name", "Edm.String", true),
        ];
        let pick = |n| {
            choose(&columns, "t", n)
                .unwrap()
                .map(|s| s.column.name.clone())
        };
        assert_eq!(pick(None).as_deref(), Some("createdon"));
        assert_eq!(pick(Some("SEQ")).as_deref(), Some("seq"));
        assert_eq!(pick(Some("absent")).as_deref(), Some("createdon"));
        let err = choose(&columns, "t", Some("name")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "property PartitionColumn: table t: column name is Edm.String; expected an integer, Edm.Date or Edm.DateTimeOffset column"
        );
        assert!(
            choose(&columns[1..], "t", None).unwrap().is_none(),
            "no createdon, nothing named: no split"
        );
        // A non-nullable column has no null range.
        let split = choose(&columns, "t", Some("seq")).unwrap().unwrap();
        let ranges = Range::split(&split, &[10]).unwrap();
        assert_eq!(ranges[0].predicate(), "seq lt 10");
        assert_eq!(ranges[1].predicate(), "seq ge 10");
    }

    #[test]
    fn bounds_requests_and_answers() {
        let base = Url::parse("https://org.api.crm.dynamics.com/api/data/v9.2/").unwrap();
        let columns = [col("createdon", "Edm.DateTimeOffset", true)];
        let split = choose(&columns, "accounts", None).unwrap().unwrap();
        let url = bound_url(&base, "accounts", &split, Some("name eq 'x'"), true).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let want = [
            ("$select", "createdon"),
            ("$filter", "(name eq 'x') and (createdon ne null)"),
            ("$top", "1"),
            ("$orderby", "createdon desc"),
        ];
        assert_eq!(
            pairs,
            want.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
        let body = r#"{"value":[{"@odata.etag":"W/\"1\"","createdon":"2024-05-01T10:00:00.5Z"}]}"#;
        let secs = parse_bound(body, "accounts", &split).unwrap().unwrap();
        assert_eq!(
            Scale::Seconds.literal(secs).unwrap(),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            parse_bound(r#"{"value":[]}"#, "accounts", &split).unwrap(),
            None
        );
        assert!(parse_bound("<html>", "accounts", &split).is_err());
        let days = choose(&[col("d", "Edm.Date", true)], "t", Some("d"))
            .unwrap()
            .map(|s| s.scale);
        assert_eq!(days, Some(Scale::Days));
        assert_eq!(
            Scale::Days
                .literal(Scale::Days.parse("2024-02-29").unwrap())
                .unwrap(),
            "2024-02-29"
        );
    }
}
