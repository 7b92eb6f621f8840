//! Values exactly as the server sent them: `Edm.Double` bit-exact from the
//! JSON text to Arrow, in the forms `serde_json` and Python's `json` write.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use connectkit_core::ScanRequest;
use proptest::prelude::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

/// An entity set `readings` of `reading {id: Int32 (key), a, b: Double}`.
const METADATA_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="reading">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.Int32" />
        <Property Name="a" Type="Edm.Double" />
        <Property Name="b" Type="Edm.Double" />
      </EntityType>
      <EntityContainer Name="System">
        <EntitySet Name="readings" EntityType="Microsoft.Dynamics.CRM.reading" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// Python's `repr(float)`, which `json.dumps` writes: the shortest digits
/// that round-trip, in exponent form (`1e-07`, `1.5e+300`) when the decimal
/// exponent is below -4 or at least 16, else positional with at least one
/// decimal. (The same helper as in the autorest tests: test crates share
/// no code.)
fn python_repr(x: f64) -> String {
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

/// Serves `values` as one page of `readings` (a: serde_json's text, b:
/// Python's) and checks every double's bits.
async fn check(values: &[f64]) {
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (a, b) = (serde_json::to_string(x).unwrap(), python_repr(*x));
            assert_eq!(b.parse::<f64>().unwrap().to_bits(), x.to_bits(), "{b}");
            format!(r#"{{"@odata.etag":"W/\"{i}\"","id":{i},"a":{a},"b":{b}}}"#)
        })
        .collect();
    let server = MockServer::builder().start().await;
    mount_token(&server, "/token").await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(ResponseTemplate::new(200).set_body_raw(METADATA_XML, "application/xml"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE_PATH}readings")))
        .respond_with(json(format!(r#"{{"value":[{}]}}"#, rows.join(","))))
        .mount(&server)
        .await;
    let c = connector(&server);
    let batches = scan_all(&c, "readings", ScanRequest::new()).await.unwrap();
    let bits: Vec<u64> = values.iter().map(|x| x.to_bits()).collect();
    assert_eq!(column(&batches, "a"), bits, "serde_json's text");
    assert_eq!(column(&batches, "b"), bits, "Python's text");
}

#[tokio::test]
async fn edge_doubles_are_bit_exact_in_arrow() {
    check(&[
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
    ])
    .await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_doubles_are_bit_exact_in_arrow(
        values in prop::collection::vec(
            any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |x| x.is_finite()),
            1..64,
        )
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(&values));
    }
}
