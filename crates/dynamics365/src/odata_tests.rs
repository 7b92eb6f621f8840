//! Tests of `odata.rs`: `$filter` translation and query building.

use super::*;
use crate::types::Column;

fn col(name: &str, t: &str) -> Column {
    Column {
        name: name.into(),
        type_name: t.into(),
        edm: EdmType::from_csdl(t, None, Some("2")),
        nullable: true,
        key: false,
        annotation: None,
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
    // `accountid ne <GUID in capitals>` is inexact twice over: OData's
    // `ne` keeps nulls, and the caller compares the lowercase text.
    let mut expected = vec![Inexact, Inexact, Exact, Exact, Exact, Exact, Exact, Exact];
    expected.extend(std::iter::repeat_n(Unsupported, filters.len() - 8));
    assert_eq!(support, expected);
    assert_eq!(translate_filters(&[], &cols), (None, vec![]));
}

#[test]
fn compound_filters_and_typed_literals() {
    let mut id = col("accountid", "Edm.Guid");
    id.nullable = false;
    let cols = [
        col("name", "Edm.String"),
        id,
        col("numberofemployees", "Edm.Int32"),
        col("revenue", "Edm.Decimal"),
        col("createdon", "Edm.DateTimeOffset"),
        col("birthdate", "Edm.Date"),
        col("address", "mscrm.address"),
    ];
    let filters = vec![
        Filter::starts_with("name", "O'Br"),
        Filter::contains("NAME", "& Sons"),
        Filter::in_list("numberofemployees", [1i64, 20]),
        Filter::in_list("name", ["a", "b"]),
        Filter::or(vec![
            Filter::new(
                "revenue",
                FilterOp::Ge,
                Literal::Decimal {
                    value: -1250,
                    scale: 2,
                },
            ),
            Filter::and(vec![
                Filter::new(
                    "createdon",
                    FilterOp::Lt,
                    Literal::Timestamp(1_704_067_200_000_001),
                ),
                Filter::new("birthdate", FilterOp::Eq, Literal::Date(19_723)),
            ]),
            Filter::is_null("numberofemployees"),
        ]),
        Filter::new(
            "accountid",
            FilterOp::Ne,
            Literal::Guid(0xA1B2C3D4_0000_0000_0000_0000000000FF),
        ),
        Filter::is_not_null("name"),
        // Pushed in part: the AND keeps what OData can say.
        Filter::and(vec![
            Filter::new("numberofemployees", FilterOp::Gt, 3i64),
            Filter::new("address", FilterOp::Eq, "x"),
        ]),
        // Not pushed: an OR with an operand OData cannot say, IN with a
        // null, LIKE on a non-string column, an empty OR.
        Filter::or(vec![
            Filter::new("numberofemployees", FilterOp::Gt, 3i64),
            Filter::new("address", FilterOp::Eq, "x"),
        ]),
        Filter::in_list("name", [Literal::from("a"), Literal::Null]),
        Filter::starts_with("numberofemployees", "1"),
        Filter::or(vec![]),
        Filter::new("createdon", FilterOp::Eq, Literal::Date(1)),
    ];
    let (expr, support) = translate_filters(&filters, &cols);
    assert_eq!(
        expr.unwrap(),
        "startswith(name,'O''Br') and contains(name,'& Sons') \
         and numberofemployees in (1,20) and name in ('a','b') \
         and (revenue ge -12.50 or (createdon lt 2024-01-01T00:00:00.000001Z \
         and birthdate eq 2024-01-01) or numberofemployees eq null) \
         and accountid ne a1b2c3d4-0000-0000-0000-0000000000ff and name ne null \
         and numberofemployees gt 3"
    );
    use FilterSupport::{Exact, Inexact, Unsupported};
    assert_eq!(
        support,
        [
            Inexact,
            Inexact,
            Exact,
            Inexact,
            Exact,
            Exact,
            Exact,
            Inexact,
            Unsupported,
            Unsupported,
            Unsupported,
            Unsupported,
            Unsupported
        ]
    );
    // An OR is as exact as its least exact operand.
    let or = Filter::or(vec![
        Filter::new("name", FilterOp::Eq, "a"),
        Filter::is_null("name"),
    ]);
    assert_eq!(translate_filters(&[or], &cols).1, [Inexact]);
}

#[test]
fn odata_query_reads_types_from_the_schema() {
    use arrow_schema::{DataType, Field};
    let field = |name: &str, t: &str, nullable: bool| {
        Field::new(name, DataType::Utf8, nullable).with_metadata(
            [(TYPE_METADATA_KEY.to_owned(), t.to_owned())]
                .into_iter()
                .collect(),
        )
    };
    let schema = Schema::new(vec![
        field("accountid", "Edm.Guid", false).with_metadata(
            [(KEY_METADATA_KEY.to_owned(), "true".to_owned())]
                .into_iter()
                .collect(),
        ),
        field("name", "Edm.String", false),
        field("numberofemployees", "Edm.Int32", true),
    ]);
    let request = ScanRequest::new()
        .with_projection(["Name", "name", "numberofemployees"])
        .with_filter(Filter::new("numberofemployees", FilterOp::Gt, 5i64))
        .with_limit(7);
    assert_eq!(
        odata_query(&schema, &request),
        [
            ("$select", "name,numberofemployees".to_owned()),
            ("$filter", "numberofemployees gt 5".to_owned()),
            ("$top", "7".to_owned()),
        ]
    );
    // An inexact filter keeps the limit off the server; no column
    // wanted asks for the key.
    let request = ScanRequest::new()
        .with_projection(Vec::<String>::new())
        .with_filter(Filter::new("name", FilterOp::Eq, "x"))
        .with_limit(7);
    assert_eq!(
        odata_query(&schema, &request),
        [
            ("$select", "accountid".to_owned()),
            ("$filter", "name eq 'x'".to_owned()),
        ]
    );
    assert!(odata_query(&schema, &ScanRequest::new()).is_empty());
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
