//! Tests of `decode.rs`.

use super::*;
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::{Field, Schema};

use crate::page::Layout;

fn schema(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(Column::field).collect::<Vec<Field>>(),
    ))
}

/// Parses and decodes `body` for `columns`.
fn decode(columns: &[Column], body: &str) -> Result<DecodedPage, Dynamics365Error> {
    let layout = Layout::new(columns);
    decode_page("t", &schema(columns), columns, &layout, body, 0)
}

fn cols(specs: &[(&str, &str)]) -> Vec<Column> {
    specs
        .iter()
        .map(|(n, t)| Column {
            name: (*n).into(),
            type_name: (*t).into(),
            edm: EdmType::from_csdl(t, None, Some("4")),
            nullable: true,
            key: false,
            annotation: None,
        })
        .collect()
}

#[test]
fn rows_become_typed_columns_and_annotations_are_ignored() {
    let columns = cols(&[
        ("s", "Edm.String"),
        ("i", "Edm.Int64"),
        ("d", "Edm.Decimal"),
        ("t", "Edm.DateTimeOffset"),
        ("day", "Edm.Date"),
        ("tod", "Edm.TimeOfDay"),
        ("b", "Edm.Binary"),
        ("o", "mscrm.address"),
        ("f", "Edm.Double"),
    ]);
    let body = r#"{"@odata.context":"x","value":[
        {"@odata.etag":"W/1","s":"a\"b","i":"9007199254740993","d":1234.5679,
         "t":"2024-01-02T03:04:05.5+01:00","day":"1970-01-02","tod":"10:30:00.25",
         "b":"AQL_","o":{"city":"Oslo"},"f":"INF","s@OData.Community.Display.V1.FormattedValue":"x"},
        {"s":null}],"@odata.nextLink":"https://h/next"}"#;
    let page = decode(&columns, body).unwrap();
    assert_eq!(page.next_link.as_deref(), Some("https://h/next"));
    let batch = page.batch;
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(batch.column(0).as_string::<i32>().value(0), "a\"b");
    assert!(batch.column(0).is_null(1));
    let i = batch.column(1).as_primitive::<Int64Type>();
    assert_eq!(i.value(0), 9_007_199_254_740_993);
    assert_eq!(
        batch.column(2).as_primitive::<Decimal128Type>().value(0),
        12_345_679
    );
    let t = batch.column(3).as_primitive::<TimestampMicrosecondType>();
    assert_eq!(t.value(0), 1_704_161_045_500_000);
    assert_eq!(batch.column(4).as_primitive::<Date32Type>().value(0), 1);
    let tod = batch.column(5).as_primitive::<Time64MicrosecondType>();
    assert_eq!(tod.value(0), 37_800_250_000);
    assert_eq!(batch.column(6).as_binary::<i32>().value(0), [1, 2, 255]);
    assert_eq!(
        batch.column(7).as_string::<i32>().value(0),
        r#"{"city":"Oslo"}"#
    );
    assert_eq!(
        batch.column(8).as_primitive::<Float64Type>().value(0),
        f64::INFINITY
    );
}

#[test]
fn bad_values_name_table_and_column() {
    let mut columns = cols(&[("n", "Edm.Int32")]);
    let err = decode(&columns, r#"{"value":[{"n":"x"}]}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table t, column n: x is not an integer in range"
    );
    assert!(decode(&columns, r#"{"value":[{"n":3000000000}]}"#).is_err());
    columns[0].nullable = false;
    let err = decode(&columns, r#"{"value":[{"n":1},{}]}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table t, column n: row 1 has no value for a non-nullable column"
    );
    let err = decode(&columns, r#"{"value":[{"n":1},{"n":null}]}"#).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
    for bad in [
        r#"{"error":{}}"#,
        "<html/>",
        r#"{"value":null}"#,
        r#"{"value":[1]}"#,
        r#"{"value":[]} trailing"#,
        r#"{"value":[{"n":1}]"#,
        "[]",
    ] {
        let err = decode(&columns, bad).unwrap_err();
        assert!(
            matches!(err, Dynamics365Error::InvalidResponse { .. }),
            "{bad}: {err}"
        );
    }
    // A repeated property: the last one counts, as in a JSON object.
    let page = decode(&columns, r#"{"value":[{"n":1,"n":2}]}"#).unwrap();
    assert_eq!(page.batch.column(0).as_primitive::<Int32Type>().value(0), 2);
}

#[test]
fn a_projection_may_repeat_a_column() {
    let columns = cols(&[("s", "Edm.String"), ("i", "Edm.Int32"), ("s", "Edm.String")]);
    let page = decode(&columns, r#"{"value":[{"i":1,"s":"a"},{"s":"b"}]}"#).unwrap();
    let (a, b) = (page.batch.column(0), page.batch.column(2));
    assert_eq!(a.as_string::<i32>().value(1), "b");
    assert_eq!(a.as_ref(), b.as_ref());
    assert!(page.batch.column(1).is_null(1));
}

proptest::proptest! {
    /// Random pages of strings (escapes included), doubles, integers,
    /// decimals, booleans and nulls, in any key order with annotations:
    /// every value comes out as written (doubles bit-exact, as serde_json
    /// with float_roundtrip reads them), decimals exact.
    #[test]
    fn pages_decode_to_the_values_written(
        rows in proptest::collection::vec((
            proptest::option::of(".{0,12}"),
            proptest::option::of(proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO),
            proptest::option::of(proptest::num::i64::ANY),
            proptest::option::of((-99_999_999i64..99_999_999, proptest::bool::ANY)),
            proptest::option::of(proptest::bool::ANY),
            proptest::bool::ANY,
        ), 0..30)
    ) {
        let columns = cols(&[
            ("s", "Edm.String"),
            ("f", "Edm.Double"),
            ("i", "Edm.Int64"),
            ("d", "Edm.Decimal"),
            ("b", "Edm.Boolean"),
        ]);
        let mut items = Vec::new();
        for (s, f, i, d, b, flip) in &rows {
            let mut fields = [
                format!(r#""s":{}"#, serde_json::to_string(s).unwrap()),
                format!(r#""f":{}"#, f.map_or("null".into(), |f| format!("{f:?}"))),
                // IEEE754Compatible: Int64 may come quoted.
                format!(r#""i":{}"#, i.map_or("null".into(), |i| if *flip { format!("\"{i}\"") } else { i.to_string() })),
                format!(r#""d":{}"#, d.map_or("null".into(), |(d, q)| {
                    let t = format!("{}.{:02}", d / 100, (d % 100).abs());
                    let t = if d < 0 && d / 100 == 0 { format!("-{t}") } else { t };
                    if q { format!("\"{t}\"") } else { t }
                })),
                format!(r#""b":{}"#, b.map_or("null".into(), |b| b.to_string())),
                r#""s@OData.Community.Display.V1.FormattedValue":"x""#.into(),
            ];
            if *flip {
                fields.reverse();
            }
            items.push(format!("{{{}}}", fields.join(",")));
        }
        let body = format!(r#"{{"value":[{}]}}"#, items.join(","));
        let batch = decode(&columns, &body).unwrap().batch;
        proptest::prop_assert_eq!(batch.num_rows(), rows.len());
        let (sc, fc) = (batch.column(0).as_string::<i32>(), batch.column(1).as_primitive::<Float64Type>());
        let (ic, dc) = (batch.column(2).as_primitive::<Int64Type>(), batch.column(3).as_primitive::<Decimal128Type>());
        let bc = batch.column(4).as_boolean();
        for (r, (s, f, i, d, b, _)) in rows.iter().enumerate() {
            proptest::prop_assert_eq!(sc.is_valid(r).then(|| sc.value(r)), s.as_deref());
            proptest::prop_assert_eq!(fc.is_valid(r).then(|| fc.value(r).to_bits()), f.map(f64::to_bits));
            proptest::prop_assert_eq!(ic.is_valid(r).then(|| ic.value(r)), *i);
            // Scale 4: hundredths times 100, exactly.
            proptest::prop_assert_eq!(
                dc.is_valid(r).then(|| dc.value(r)),
                d.map(|(v, _)| i128::from(v) * 100)
            );
            proptest::prop_assert_eq!(bc.is_valid(r).then(|| bc.value(r)), *b);
        }
    }
}

/// A JSON number's text: digits, an optional fraction and exponent.
fn number_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    (
        proptest::bool::ANY,
        "[0-9]{1,20}",
        proptest::option::of("[0-9]{1,20}"),
        proptest::option::of(-340i32..320),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let int = int.trim_start_matches('0');
            let mut t = format!(
                "{}{}",
                if neg { "-" } else { "" },
                if int.is_empty() { "0" } else { int }
            );
            if let Some(f) = frac {
                t = format!("{t}.{f}");
            }
            if let Some(e) = exp {
                t = format!("{t}e{e}");
            }
            t
        })
}

/// A string written with every character escaped as `\uXXXX` (surrogate
/// pairs past the BMP) or the short escapes, chosen per character.
fn escaped(s: &str, how: &[u8]) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        match (how.get(i).copied().unwrap_or(0) % 3, c) {
            (0, '"') => out.push_str("\\\""),
            (0, '\\') => out.push_str("\\\\"),
            (0, '\n') => out.push_str("\\n"),
            (0, c) if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            (0, c) => out.push(c),
            (1, '/') => out.push_str("\\/"),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
        }
    }
    out.push('"');
    out
}

proptest::proptest! {
    /// A number's exact text becomes the double and the single that Rust's
    /// correctly rounded parsers give for it (one rounding, bit for bit),
    /// quoted (IEEE754Compatible) or not; and a decimal of scale 4 whose
    /// text fits is that text exactly, else an error naming the column.
    #[test]
    fn number_text_becomes_exact_bits(texts in proptest::collection::vec((number_text(), proptest::bool::ANY), 1..20)) {
        let columns = cols(&[("f", "Edm.Double"), ("g", "Edm.Single"), ("d", "Edm.Decimal")]);
        let rows: Vec<String> = texts
            .iter()
            .map(|(t, q)| {
                let v = if *q { format!("\"{t}\"") } else { t.clone() };
                format!(r#"{{"f":{v},"g":{v},"@odata.etag":"W/\"1\""}}"#)
            })
            .collect();
        let body = format!(r#"{{"value":[{}]}}"#, rows.join(","));
        let batch = decode(&columns[..2], &body).unwrap().batch;
        let (f, g) = (batch.column(0).as_primitive::<Float64Type>(), batch.column(1).as_primitive::<Float32Type>());
        for (r, (t, _)) in texts.iter().enumerate() {
            proptest::prop_assert_eq!(f.value(r).to_bits(), t.parse::<f64>().unwrap().to_bits(), "{}", t);
            proptest::prop_assert_eq!(g.value(r).to_bits(), t.parse::<f32>().unwrap().to_bits(), "{}", t);
        }
        for (t, q) in &texts {
            let v = if *q { format!("\"{t}\"") } else { t.clone() };
            let body = format!(r#"{{"value":[{{"d":{v}}}]}}"#);
            let want = connectkit_core::value::parse_decimal(t, Some(38), 4);
            match decode(&columns[2..], &body) {
                Ok(p) => proptest::prop_assert_eq!(
                    Some(p.batch.column(0).as_primitive::<Decimal128Type>().value(0)), want),
                Err(e) => {
                    proptest::prop_assert!(want.is_none(), "{}: {}", t, e);
                    proptest::prop_assert!(e.to_string().starts_with("table t, column d: "), "{}", e);
                }
            }
        }
    }

    /// Strings come out as written whatever escapes spell them (`\uXXXX`,
    /// surrogate pairs, short escapes, none); absent and `null` properties
    /// are nulls; annotations beside them are skipped.
    #[test]
    fn escapes_unicode_nulls_and_missing_fields(
        rows in proptest::collection::vec((
            proptest::option::of(("\\PC{0,10}", proptest::collection::vec(proptest::num::u8::ANY, 10))),
            proptest::option::of(proptest::bool::ANY),
            0u8..3,
        ), 0..25)
    ) {
        let columns = cols(&[("s", "Edm.String"), ("b", "Edm.Boolean"), ("k", "Edm.Guid")]);
        let mut items = Vec::new();
        for (n, (s, b, how)) in rows.iter().enumerate() {
            let mut fields = vec![format!(r#""k":"{n:08}-0000-4000-8000-000000000000""#)];
            // A value when there is one and `how` says so; else absent in
            // even rows, null in odd ones.
            match (how, s) {
                (2, Some((s, esc))) => {
                    fields.push(format!(
                        r#""s@OData.Community.Display.V1.FormattedValue":{}"#,
                        escaped(s, esc)
                    ));
                    fields.push(format!(r#""s":{}"#, escaped(s, esc)));
                }
                _ if n % 2 == 0 => {}
                _ => fields.push(r#""s":null"#.into()),
            }
            if let Some(b) = b {
                fields.push(format!(r#""b":{b}"#));
            }
            items.push(format!("{{{}}}", fields.join(",")));
        }
        let body = format!(r#"{{"value":[{}]}}"#, items.join(","));
        let batch = decode(&columns, &body).unwrap().batch;
        proptest::prop_assert_eq!(batch.num_rows(), rows.len());
        let (sc, bc, kc) = (batch.column(0).as_string::<i32>(), batch.column(1).as_boolean(), batch.column(2).as_string::<i32>());
        for (n, (s, b, how)) in rows.iter().enumerate() {
            let want = s.as_ref().filter(|_| *how == 2).map(|(s, _)| s.as_str());
            proptest::prop_assert_eq!(sc.is_valid(n).then(|| sc.value(n)), want);
            proptest::prop_assert_eq!(bc.is_valid(n).then(|| bc.value(n)), *b);
            let key = format!("{n:08}-0000-4000-8000-000000000000");
            proptest::prop_assert_eq!(kc.value(n), key.as_str());
        }
    }
}
