//! Direct appends must read every page exactly as the `Value` path does:
//! same batches, same errors (naming table, column, row and value).

use proptest::prelude::*;

use crate::decode::stream::{PageReader, StreamError};
use crate::model::{Entry, parse};
use crate::table::TableDef;

const KINDS: &str = r##"{"k": {
    "#path": "https://api.example.com/k /data",
    "big": "BigInt", "int": "Integer", "tiny": "TinyInt", "dbl": "Double",
    "flag": "Boolean", "name": "VarChar(4)", "ts": "Timestamp", "day": "Date",
    "at": "Time", "dec": "Decimal(5,2)", "must": "Integer,#notNull"
}}"##;

fn table() -> TableDef {
    let m = parse(KINDS, false, "m.rest", None).unwrap();
    m.entries
        .into_iter()
        .find_map(|e| match e {
            Entry::Declared(mut t) => Some(t.remove(0)),
            Entry::Sampled { .. } => None,
        })
        .unwrap()
}

/// A page read as a scan reads it (direct appends, read again without
/// them when a row repeats a key), or only through `Value`s, as a
/// comparable string.
fn read(t: &TableDef, page: &[u8], direct: bool) -> Result<String, String> {
    let reader = PageReader::for_table(t).unwrap();
    let got = if direct {
        reader.decode(t, page, 0, 7, None)
    } else {
        reader.read(t, (page, 0, 7, None), false).0
    };
    match got {
        Ok(s) => Ok(format!("{} {:?} {:?}", s.rows, s.batch, s.body)),
        Err(StreamError::Decode(e)) => Err(e.to_string()),
        Err(StreamError::Json(e)) => Err(format!("json: {e}")),
        Err(StreamError::NoRows(p)) => Err(p),
    }
}

/// A scalar as JSON text: numbers of every shape (extremes, exponents,
/// negative zero, beyond i64 and u64), strings with escapes, bools, nulls.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        (-300i64..300).prop_map(|i| i.to_string()),
        (0i64..3).prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
        prop::sample::select(vec![
            "-0",
            "-0.0",
            "1e308",
            "-1e308",
            "5e-324",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "0.1",
            "1.0",
            "3.14",
            "123.45",
            "1e2",
            "18446744073709551616",
            "-9223372036854775809",
            "9007199254740993",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(vec![
            r#""2021-03-04""#,
            r#""2021-03-04T05:06:07Z""#,
            r#""2021-03-04 05:06:07""#,
            r#""05:06:07.5""#,
            r#""12""#,
            r#"" 12 ""#,
            r#""true""#,
            r#""1.5""#,
            r#""ab\"c""#,
            r#""\u00e9\u00e9\u00e9\u00e9""#,
            r#""\u00e9\u00e9\u00e9\u00e9\u00e9""#,
            r#""a\\b\nc""#,
            r#""""#,
            r#""\ud83d\ude00""#,
            r#""abcde""#,
            "[1]",
            r#"{"a":1}"#,
        ])
        .prop_map(str::to_owned),
        "[a-z0-9 .:-]{0,6}".prop_map(|s| format!("\"{s}\"")),
        long_float(),
    ]
}

/// Decimal text with more digits than an f64 holds, and exponents near
/// and past its range: where a parser that rounds twice would differ.
fn long_float() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,24})\\.[0-9]{1,30}([eE][+-]?[0-9]{1,3})?",
        "-?[1-9][0-9]{15,22}[eE][+-]?[0-9]{1,3}",
        prop::sample::select(vec![
            "9007199254740993.0",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1.7976931348623158e308",
            "1e400",
            "-1e-400",
            "0.30000000000000004440892098500626161694526672363281250001",
        ])
        .prop_map(str::to_owned),
    ]
}

const KEYS: [&str; 12] = [
    "big", "int", "tiny", "dbl", "flag", "name", "ts", "day", "at", "dec", "must", "other",
];

/// A row: some of the keys (repeats allowed), each with a scalar.
fn row() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(KEYS.to_vec()), scalar()), 0..8).prop_map(
        |fields| {
            let body: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random scalar pages give the same batch or the same error both ways.
    #[test]
    fn direct_appends_read_as_values_do(rows in prop::collection::vec(row(), 0..5)) {
        let t = table();
        let page = format!("{{\"data\":[{}],\"next\":1}}", rows.join(","));
        let direct = read(&t, page.as_bytes(), true);
        prop_assert_eq!(&direct, &read(&t, page.as_bytes(), false), "{}", page);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4_096))]

    /// A fraction or an exponent is read to the f64 serde_json (with
    /// `float_roundtrip`) reads, or refused where it refuses it.
    #[test]
    fn floats_read_as_serde_json_reads_them(text in long_float()) {
        let serde = serde_json::from_str::<f64>(&text).ok();
        let ours = text.parse::<f64>().ok().filter(|f| f.is_finite());
        prop_assert_eq!(ours.map(f64::to_bits), serde.map(f64::to_bits), "{}", text);
    }
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let t = table();
    let page = br#"{"data":[{"must":1,"int":5,"int":"x"},{"must":2,"int":"x","int":6}]}"#;
    let got = read(&t, page, true);
    assert_eq!(got, read(&t, page, false));
    let err = got.unwrap_err();
    assert!(err.contains("int") && err.contains("\"x\""), "{err}");
    let once = PageReader::for_table(&t)
        .unwrap()
        .read(&t, (page, 0, 7, None), true);
    assert!(once.1, "the repeated key asks for a second reading");
}

#[test]
fn bad_values_still_name_their_row_and_column() {
    let t = table();
    let page = br#"{"data":[{"must":1,"int":3000000000},{"must":2}]}"#;
    let err = read(&t, page, true).unwrap_err();
    assert_eq!(Err(err.clone()), read(&t, page, false));
    assert!(err.contains("3000000000") && err.contains("int"), "{err}");
}

#[test]
fn a_body_that_is_not_utf8_is_refused_as_before() {
    let t = table();
    let page = b"{\"data\":[{\"must\":1,\"name\":\"a\xffb\"}]}";
    let expected = serde_json::from_slice::<serde_json::Value>(page).unwrap_err();
    match PageReader::for_table(&t)
        .unwrap()
        .decode(&t, page, 0, 7, None)
    {
        Err(StreamError::Json(e)) => assert_eq!(e.to_string(), expected.to_string()),
        other => panic!("{other:?}"),
    }
    // Valid UTF-8 beyond ASCII reads as text.
    let page = "{\"data\":[{\"must\":1,\"name\":\"h\u{e9}\u{1f600}\"}]}";
    let got = read(&t, page.as_bytes(), true).unwrap();
    assert!(got.contains("h\u{e9}\u{1f600}"), "{got}");
}
