//! OData v4 request and response details: `$filter` translation, query
//! string encoding, error bodies and the formatted-value annotation term.

use arrow_schema::Schema;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use connectkit_core::{Filter, FilterOp, FilterSupport, Literal, ScanRequest};

use crate::types::{
    ANNOTATES_METADATA_KEY, Annotation, Column, EdmType, KEY_METADATA_KEY, TYPE_METADATA_KEY,
};

/// The OData vocabulary term of a formatted value (a choice's label, a
/// lookup's name), sent in a row as `<property>@<term>`.
pub(crate) const FORMATTED_VALUE: &str = "OData.Community.Display.V1.FormattedValue";

/// Percent-encodes a query parameter value: everything but RFC 3986
/// unreserved characters and `,` (the `$select` separator) is escaped, so a
/// space is `%20` (never `+`) and a quote `%27`.
pub(crate) fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An OData string literal: single-quoted, inner quotes doubled.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn op_text(op: FilterOp) -> Option<&'static str> {
    Some(match op {
        FilterOp::Eq => "eq",
        FilterOp::Ne => "ne",
        FilterOp::Gt => "gt",
        FilterOp::Ge => "ge",
        FilterOp::Lt => "lt",
        FilterOp::Le => "le",
        _ => return None,
    })
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn number(value: &Literal) -> Option<String> {
    match value {
        Literal::Int(i) => Some(i.to_string()),
        Literal::Float(f) if f.is_finite() => Some(f.to_string()),
        Literal::Decimal { value, scale } => Some(Literal::decimal_text(*value, *scale)),
        _ => None,
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The OData literal for `value` compared with `op` against a column of type
/// `edm`, or `None` when the comparison cannot be pushed down.
fn literal(edm: &EdmType, op: FilterOp, value: &Literal) -> Option<String> {
    let equality = matches!(op, FilterOp::Eq | FilterOp::Ne);
    match (edm, value) {
        (_, Literal::Null) => equality.then(|| "null".to_owned()),
        (EdmType::String, Literal::String(s)) => Some(quote(s)),
        (EdmType::Guid, Literal::String(s)) if is_guid(s) => Some(s.to_ascii_lowercase()),
        (EdmType::Guid, Literal::Guid(g)) => Some(Literal::guid_text(*g)),
        (EdmType::Boolean, Literal::Bool(b)) if equality => Some(b.to_string()),
        (
            EdmType::Byte
            | EdmType::SByte
            | EdmType::Int16
            | EdmType::Int32
            | EdmType::Int64
            | EdmType::Single
            | EdmType::Double
            | EdmType::Decimal { .. },
            v,
        ) => number(v),
        (EdmType::DateTimeOffset, Literal::String(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| timestamp(t.with_timezone(&Utc))),
        (EdmType::DateTimeOffset, Literal::Timestamp(us)) => {
            DateTime::from_timestamp_micros(*us).map(timestamp)
        }
        (EdmType::Date, Literal::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.format("%Y-%m-%d").to_string()),
        (EdmType::Date, Literal::Date(days)) => {
            NaiveDate::from_epoch_days(*days).map(|d| d.format("%Y-%m-%d").to_string())
        }
        _ => None,
    }
}

/// A translated filter: its `$filter` text and whether the server applies it
/// exactly as the caller would.
type Clause = (String, bool);

/// The property column called `name`; label columns are no properties, so
/// the server cannot filter on them.
fn find<'c>(columns: &'c [Column], name: &str) -> Option<&'c Column> {
    columns
        .iter()
        .find(|c| c.name == name)
        .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
        .filter(|c| c.annotation.is_none())
}

/// Whether the server's answer to `column op value` is exactly the caller's.
/// Dataverse compares strings case-insensitively; OData's `ne` holds for
/// null while SQL's `<>` does not; a GUID given in capitals is equal to the
/// server but not to the caller, who compares the lowercase text.
fn exact(column: &Column, op: FilterOp, value: &Literal) -> bool {
    match (&column.edm, value) {
        (_, Literal::Null) => true,
        (EdmType::String, _) => false,
        (EdmType::Guid, Literal::String(s)) if *s != s.to_ascii_lowercase() => false,
        _ => op != FilterOp::Ne || !column.nullable,
    }
}

fn translate(f: &Filter, columns: &[Column]) -> Option<Clause> {
    match f.op {
        FilterOp::And => {
            // Dropping an operand the server cannot say leaves a weaker
            // filter: still a superset of the rows, so inexact.
            let parts: Vec<Option<Clause>> =
                f.operands.iter().map(|o| translate(o, columns)).collect();
            let all = parts.iter().all(Option::is_some);
            let pushed: Vec<Clause> = parts.into_iter().flatten().collect();
            match pushed.len() {
                0 => None,
                1 => pushed.into_iter().next().map(|(t, e)| (t, e && all)),
                _ => Some(group(pushed, " and ", all)),
            }
        }
        FilterOp::Or => {
            let parts: Option<Vec<Clause>> =
                f.operands.iter().map(|o| translate(o, columns)).collect();
            let parts = parts.filter(|p| !p.is_empty())?;
            Some(group(parts, " or ", true))
        }
        FilterOp::In => {
            let column = find(columns, &f.column)?;
            let Literal::List(items) = &f.value else {
                return None;
            };
            if items.is_empty() || items.contains(&Literal::Null) {
                return None;
            }
            let lits: Option<Vec<String>> = items
                .iter()
                .map(|i| literal(&column.edm, FilterOp::Eq, i))
                .collect();
            let exact = items.iter().all(|i| exact(column, FilterOp::Eq, i));
            Some((format!("{} in ({})", column.name, lits?.join(",")), exact))
        }
        FilterOp::StartsWith | FilterOp::Contains => {
            let column = find(columns, &f.column)?;
            let (EdmType::String, Literal::String(s)) = (&column.edm, &f.value) else {
                return None;
            };
            let func = if f.op == FilterOp::StartsWith {
                "startswith"
            } else {
                "contains"
            };
            Some((format!("{func}({},{})", column.name, quote(s)), false))
        }
        op => {
            let column = find(columns, &f.column)?;
            let lit = literal(&column.edm, op, &f.value)?;
            let text = format!("{} {} {lit}", column.name, op_text(op)?);
            Some((text, exact(column, op, &f.value)))
        }
    }
}

fn group(parts: Vec<Clause>, sep: &str, all: bool) -> Clause {
    let exact = all && parts.iter().all(|(_, e)| *e);
    let texts: Vec<String> = parts.into_iter().map(|(t, _)| t).collect();
    (format!("({})", texts.join(sep)), exact)
}

/// Translates the filters that can be pushed down into one `$filter`
/// expression (`and`-joined) and says, per filter, how the server applies
/// it: string comparisons (`eq`, `in`, `startswith`, `contains`) are
/// [`FilterSupport::Inexact`] (Dataverse compares strings
/// case-insensitively, so the caller must filter again), as are `ne` on a
/// nullable column and an AND with an operand OData cannot say; the other
/// pushed filters are [`FilterSupport::Exact`], the rest
/// [`FilterSupport::Unsupported`]. `columns` are the table's columns.
pub(crate) fn translate_filters(
    filters: &[Filter],
    columns: &[Column],
) -> (Option<String>, Vec<FilterSupport>) {
    let mut pushed = Vec::new();
    let mut support = Vec::with_capacity(filters.len());
    for f in filters {
        support.push(match translate(f, columns) {
            Some((text, exact)) => {
                pushed.push(text);
                if exact {
                    FilterSupport::Exact
                } else {
                    FilterSupport::Inexact
                }
            }
            None => FilterSupport::Unsupported,
        });
    }
    let expr = (!pushed.is_empty()).then(|| pushed.join(" and "));
    (expr, support)
}

/// The OData query options a scan of a table with `schema` (as
/// [`Connector::schema`](connectkit_core::Connector::schema) gives it) sends
/// for `request`, decoded: `$select`, `$filter` and `$top` when present, in
/// that order. For plans and `EXPLAIN`; the scan itself builds the same.
pub fn odata_query(schema: &Schema, request: &ScanRequest) -> Vec<(&'static str, String)> {
    let columns: Vec<Column> = schema
        .fields()
        .iter()
        .map(|f| {
            let type_name = f
                .metadata()
                .get(TYPE_METADATA_KEY)
                .cloned()
                .unwrap_or_default();
            Column {
                edm: EdmType::from_csdl(&type_name, None, None),
                type_name,
                name: f.name().clone(),
                nullable: f.is_nullable(),
                key: f
                    .metadata()
                    .get(KEY_METADATA_KEY)
                    .is_some_and(|v| v == "true"),
                annotation: f
                    .metadata()
                    .get(ANNOTATES_METADATA_KEY)
                    .map(|p| Annotation {
                        property: p.clone(),
                        term: FORMATTED_VALUE,
                    }),
            }
        })
        .collect();
    let mut out = Vec::new();
    if let Some(names) = &request.projection {
        let mut select: Vec<&str> = Vec::new();
        for n in names {
            let c = columns
                .iter()
                .find(|c| c.name == *n)
                .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(n)));
            if let Some(p) = c.map(Column::property).filter(|p| !select.contains(p)) {
                select.push(p);
            }
        }
        if select.is_empty() {
            // Rows only: the scan asks for the key alone.
            let key = columns.iter().find(|c| c.key).or(columns.first());
            select.extend(key.map(|c| c.name.as_str()));
        }
        out.push(("$select", select.join(",")));
    }
    let (filter, support) = translate_filters(&request.filters, &columns);
    if let Some(f) = filter {
        out.push(("$filter", f));
    }
    if let Some(n) = request
        .limit
        .filter(|_| support.iter().all(|s| *s == FilterSupport::Exact))
    {
        out.push(("$top", n.to_string()));
    }
    out
}

/// What a scan sends for `request` with a page size of `page_size`, one
/// line each, decoded: the query options of [`odata_query`] (`$top` only
/// when the limit fits one page, as the scan sends it) and the `Prefer`
/// header (none beside `$top`: Dataverse ignores `$top` next to
/// `odata.maxpagesize`). For `EXPLAIN`.
pub fn odata_request(schema: &Schema, request: &ScanRequest, page_size: u32) -> Vec<String> {
    let mut top = None;
    let mut lines: Vec<String> = odata_query(schema, request)
        .into_iter()
        .filter(|(k, v)| {
            if *k != "$top" {
                return true;
            }
            let n: usize = v.parse().unwrap_or(usize::MAX);
            top = Some(n);
            n <= page_size as usize
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    match top {
        Some(n) if n <= page_size as usize => {}
        Some(n) => lines.push(format!(
            "Prefer: odata.maxpagesize={} (shrinking to the rows still wanted)",
            page_size.min(u32::try_from(n).unwrap_or(u32::MAX))
        )),
        None => lines.push(format!("Prefer: odata.maxpagesize={page_size}")),
    }
    lines
}

/// An OData error body: `{"error": {"code": "...", "message": "..."}}`
/// (the message may also be `{"value": "..."}`, as OData v3 wrote it).
pub(crate) fn parse_error_body(body: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let err = v.get("error")?;
    let code = match err.get("code") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let message = match err.get("message") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(m) => m.get("value")?.as_str()?.to_owned(),
        None => return None,
    };
    Some((code, message))
}

#[cfg(test)]
#[path = "odata_tests.rs"]
mod tests;
