//! Tests of `decode.rs`.

use super::*;
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::{Field, Schema};

use crate::page::Layout;

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
    let schema = Arc::new(Schema::new(
        columns.iter().map(Column::field).collect::<Vec<Field>>(),
    ));
    let body = r#"{"@odata.context":"x","value":[
        {"@odata.etag":"W/1","s":"a\"b","i":"9007199254740993","d":1234.5679,
         "t":"2024-01-02T03:04:05.5+01:00","day":"1970-01-02","tod":"10:30:00.25",
         "b":"AQL_","o":{"city":"Oslo"},"f":"INF","s@OData.Community.Display.V1.FormattedValue":"x"},
        {"s":null}],"@odata.nextLink":"https://h/next"}"#;
    let layout = Layout::new(&columns);
    let page = Page::parse(body, "t", &layout).unwrap();
    assert_eq!(page.next_link.as_deref(), Some("https://h/next"));
    let batch = decode_rows("t", &schema, &columns, &page).unwrap();
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
    let schema = Arc::new(Schema::new(vec![columns[0].field()]));
    let layout = Layout::new(&columns);
    let page = Page::parse(r#"{"value":[{"n":"x"}]}"#, "t", &layout).unwrap();
    let err = decode_rows("t", &schema, &columns, &page).unwrap_err();
    assert_eq!(
        err.to_string(),
        "table t, column n: x is not an integer in range"
    );
    let page = Page::parse(r#"{"value":[{"n":3000000000}]}"#, "t", &layout).unwrap();
    assert!(decode_rows("t", &schema, &columns, &page).is_err());
    columns[0].nullable = false;
    let schema = Arc::new(Schema::new(vec![columns[0].field()]));
    let page = Page::parse(r#"{"value":[{"n":1},{}]}"#, "t", &layout).unwrap();
    let err = decode_rows("t", &schema, &columns, &page).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
    for bad in [
        r#"{"error":{}}"#,
        "<html/>",
        r#"{"value":null}"#,
        r#"{"value":[1]}"#,
        r#"{"value":[]} trailing"#,
        "[]",
    ] {
        assert!(Page::parse(bad, "t", &layout).is_err(), "{bad}");
    }
    // A repeated property: the last one counts, as in a JSON object.
    let page = Page::parse(r#"{"value":[{"n":1,"n":2}]}"#, "t", &layout).unwrap();
    assert_eq!(page.cell(0, 0), Some("2"));
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
        let schema = Arc::new(Schema::new(
            columns.iter().map(Column::field).collect::<Vec<Field>>(),
        ));
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
        let layout = Layout::new(&columns);
        let page = Page::parse(&body, "t", &layout).unwrap();
        let batch = decode_rows("t", &schema, &columns, &page).unwrap();
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
