//! Values exactly as the server sent them: doubles bit-exact from the JSON
//! text to Arrow, through both page readers (the one-pass reader of
//! top-level rows and the general path of child tables).

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, ScanRequest};
use futures::TryStreamExt;
use proptest::prelude::*;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Python's `repr(float)`, which `json.dumps` writes: the shortest digits
/// that round-trip, in exponent form (`1e-07`, `1.5e+300`) when the decimal
/// exponent is below -4 or at least 16, else positional with at least one
/// decimal (`1000000000000000.0`).
pub fn python_repr(x: f64) -> String {
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let digits = mantissa.replace('.', "");
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            let zeros = "0".repeat(point as usize - digits.len());
            format!("{sign}{digits}{zeros}.0")
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{sign}{int}.{frac}")
        }
    } else {
        let m = match digits.split_at(1) {
            (d, "") => d.to_owned(),
            (d, rest) => format!("{d}.{rest}"),
        };
        let s = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{s}{:02}", exp.abs())
    }
}

/// Doubles that parsers and printers get wrong most often.
pub const EDGES: [f64; 12] = [
    1e-7,
    5e-324,
    f64::MAX,
    f64::MIN_POSITIVE,
    0.1,
    -0.0,
    0.0,
    1e16,
    1e15,
    0.09894886268874903,
    // The largest subnormal (2.2250738585072011e-308 hung parsers once).
    f64::from_bits(0x000F_FFFF_FFFF_FFFF),
    -1.5e300,
];

/// Any finite double: every bit pattern but infinities and NaNs.
pub fn finite() -> impl Strategy<Value = f64> {
    any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |x| x.is_finite())
}

fn column(batches: &[RecordBatch], name: &str) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Float64Type>();
            a.values().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        })
        .collect()
}

/// Serves `values` as rows `{id, a, b, xs: [a, b]}` (a: serde_json's
/// text, b: Python's), scans the top-level table and the child table, and
/// checks every double's bits.
async fn check(values: &[f64]) {
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (a, b) = (serde_json::to_string(x).unwrap(), python_repr(*x));
            assert_eq!(b.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{b}");
            format!(r#"{{"id":{i},"a":{a},"b":{b},"xs":[{a},{b}]}}"#)
        })
        .collect();
    let body = format!("[{}]", rows.join(","));
    let server = MockServer::builder().start().await;
    Mock::given(path("/v1/doubles"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/v1/doubles", server.uri()))
        .build()
        .unwrap();
    let bits: Vec<u64> = values.iter().map(|x| x.to_bits()).collect();
    let scan = c.scan("doubles", ScanRequest::new()).await.unwrap();
    let top: Vec<RecordBatch> = scan.batches.try_collect().await.unwrap();
    assert_eq!(
        column(&top, "a"),
        bits,
        "serde_json's text, one-pass reader"
    );
    assert_eq!(column(&top, "b"), bits, "Python's text, one-pass reader");
    let scan = c.scan("doubles_xs", ScanRequest::new()).await.unwrap();
    let child: Vec<RecordBatch> = scan.batches.try_collect().await.unwrap();
    let pairs: Vec<u64> = bits.iter().flat_map(|b| [*b, *b]).collect();
    assert_eq!(column(&child, "value"), pairs, "general path");
}

#[tokio::test]
async fn edge_doubles_are_bit_exact_in_arrow() {
    check(&EDGES).await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_doubles_are_bit_exact_in_arrow(values in prop::collection::vec(finite(), 1..64)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(&values));
    }
}

#[test]
fn python_repr_matches_pythons_json_dumps() {
    // Printed by CPython 3 `json.dumps`.
    let cases = [
        (1e-7, "1e-07"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (0.0001, "0.0001"),
        (2.5e-5, "2.5e-05"),
        (-1.5e300, "-1.5e+300"),
        (123.456, "123.456"),
    ];
    for (x, text) in cases {
        assert_eq!(python_repr(x), text);
    }
}
