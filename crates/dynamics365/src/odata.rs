//! OData v4 request and response details: `$filter` translation, query
//! string encoding and error bodies.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use connectkit_core::{Filter, FilterOp, FilterSupport, Literal};

use crate::types::{Column, EdmType};

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
        #[allow(unreachable_patterns)]
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
        _ => None,
    }
}

/// The OData literal for `value` compared with `op` against a column of type
/// `edm`, or `None` when the comparison cannot be pushed down.
fn literal(edm: &EdmType, op: FilterOp, value: &Literal) -> Option<String> {
    let equality = matches!(op, FilterOp::Eq | FilterOp::Ne);
    match (edm, value) {
        (_, Literal::Null) => equality.then(|| "null".to_owned()),
        (EdmType::String, Literal::String(s)) => Some(quote(s)),
        (EdmType::Guid, Literal::String(s)) if is_guid(s) => Some(s.to_ascii_lowercase()),
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
        (EdmType::DateTimeOffset, Literal::String(s)) => {
            DateTime::parse_from_rfc3339(s).ok().map(|t| {
                t.with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::AutoSi, true)
            })
        }
        (EdmType::Date, Literal::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.format("%Y-%m-%d").to_string()),
        _ => None,
    }
}

/// Translates the filters that can be pushed down into one `$filter`
/// expression (`and`-joined) and says, per filter, how the server applies
/// it: string comparisons are [`FilterSupport::Inexact`] (Dataverse compares
/// strings case-insensitively, so the caller must filter again), the other
/// pushed comparisons [`FilterSupport::Exact`], the rest
/// [`FilterSupport::Unsupported`]. `columns` are the table's columns.
pub(crate) fn translate_filters(
    filters: &[Filter],
    columns: &[Column],
) -> (Option<String>, Vec<FilterSupport>) {
    let mut pushed = Vec::new();
    let mut support = Vec::with_capacity(filters.len());
    for f in filters {
        let column = columns.iter().find(|c| c.name == f.column).or_else(|| {
            columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&f.column))
        });
        let clause = column.and_then(|c| {
            let op = op_text(f.op)?;
            let lit = literal(&c.edm, f.op, &f.value)?;
            let exact = !matches!((&c.edm, &f.value), (EdmType::String, Literal::String(_)));
            Some((format!("{} {op} {lit}", c.name), exact))
        });
        support.push(match clause {
            Some((c, exact)) => {
                pushed.push(c);
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
mod tests {
    use super::*;
    use crate::types::Column;

    fn col(name: &str, t: &str) -> Column {
        Column {
            name: name.into(),
            type_name: t.into(),
            edm: EdmType::from_csdl(t, None, Some("2")),
            nullable: true,
            key: false,
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(
            encode_component("name eq 'O''Brien'"),
            "name%20eq%20%27O%27%27Brien%27"
        );
        assert_eq!(encode_component("a,b"), "a,b");
        assert_eq!(encode_component("+&=#é"), "%2B%26%3D%23%C3%A9");
    }

    #[test]
    fn filters_push_what_odata_can_say() {
        let cols = [
            col("name", "Edm.String"),
            col("accountid", "Edm.Guid"),
            col("numberofemployees", "Edm.Int32"),
            col("revenue", "Edm.Decimal"),
            col("donotphone", "Edm.Boolean"),
            col("createdon", "Edm.DateTimeOffset"),
            col("birthdate", "Edm.Date"),
            col("address", "mscrm.address"),
        ];
        let filters = vec![
            Filter::new("Name", FilterOp::Eq, "O'Brien & Sons"),
            Filter::new(
                "accountid",
                FilterOp::Ne,
                "A1B2C3D4-0000-0000-0000-000000000001",
            ),
            Filter::new("numberofemployees", FilterOp::Ge, 10i64),
            Filter::new("revenue", FilterOp::Lt, 1.5f64),
            Filter::new("donotphone", FilterOp::Eq, true),
            Filter::new("createdon", FilterOp::Gt, "2024-01-02T03:04:05+01:00"),
            Filter::new("birthdate", FilterOp::Le, "1990-12-31"),
            Filter::new("name", FilterOp::Eq, Literal::Null),
            // Not pushed:
            Filter::new("address", FilterOp::Eq, "x"),
            Filter::new("name", FilterOp::Gt, Literal::Null),
            Filter::new("donotphone", FilterOp::Gt, true),
            Filter::new("numberofemployees", FilterOp::Eq, "ten"),
            Filter::new("accountid", FilterOp::Eq, "not-a-guid"),
            Filter::new("revenue", FilterOp::Eq, f64::INFINITY),
            Filter::new("createdon", FilterOp::Eq, "yesterday"),
            Filter::new("nosuch", FilterOp::Eq, 1i64),
        ];
        let (expr, support) = translate_filters(&filters, &cols);
        assert_eq!(
            expr.unwrap(),
            "name eq 'O''Brien & Sons' and accountid ne a1b2c3d4-0000-0000-0000-000000000001 \
             and numberofemployees ge 10 and revenue lt 1.5 and donotphone eq true \
             and createdon gt 2024-01-02T02:04:05Z and birthdate le 1990-12-31 and name eq null"
        );
        use FilterSupport::{Exact, Inexact, Unsupported};
        let mut expected = vec![Inexact, Exact, Exact, Exact, Exact, Exact, Exact, Exact];
        expected.extend(std::iter::repeat_n(Unsupported, filters.len() - 8));
        assert_eq!(support, expected);
        assert_eq!(translate_filters(&[], &cols), (None, vec![]));
    }

    proptest::proptest! {
        /// Any string survives quoting and encoding: decoding the query
        /// value and unquoting the literal gives it back.
        #[test]
        fn string_literals_round_trip(s in "\\PC*") {
            let encoded = encode_component(&quote(&s));
            proptest::prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic() && b != b'+' && b != b'&'));
            let decoded: String = url::form_urlencoded::parse(format!("f={encoded}").as_bytes())
                .next()
                .unwrap()
                .1
                .into_owned();
            let inner = decoded.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap();
            proptest::prop_assert_eq!(inner.replace("''", "'"), s);
        }
    }

    #[test]
    fn error_bodies() {
        let body = r#"{"error":{"code":"0x80060888","message":"Resource not found for the segment 'acounts'."}}"#;
        assert_eq!(
            parse_error_body(body),
            Some((
                "0x80060888".into(),
                "Resource not found for the segment 'acounts'.".into()
            ))
        );
        let v3 = r#"{"error":{"code":"","message":{"lang":"en-US","value":"Bad"}}}"#;
        assert_eq!(parse_error_body(v3), Some((String::new(), "Bad".into())));
        assert_eq!(parse_error_body("<html>"), None);
        assert_eq!(parse_error_body(r#"{"value":[]}"#), None);
    }
}
