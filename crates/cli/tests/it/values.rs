//! Values exactly as the server sent them, out of `query`: CSV with one
//! header and nulls apart from empty strings, doubles that round-trip in
//! CSV and JSON Lines, schemas with source and Arrow types, and no raw
//! control characters on the terminal. Both connectors.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRETS, connectkit};

const BASE: &str = "/api/data/v9.2/";

/// `notes`, `empties` and `readings`: entity sets of one entity type with a
/// key, a string, a double and a decimal.
const METADATA_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="note">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.Int32" />
        <Property Name="s" Type="Edm.String" />
        <Property Name="d" Type="Edm.Double" />
        <Property Name="amount" Type="Edm.Decimal" Precision="12" Scale="2" />
        <Property Name="revenue" Type="Edm.Decimal" Scale="Variable" />
      </EntityType>
      <EntityContainer Name="System">
        <EntitySet Name="notes" EntityType="Microsoft.Dynamics.CRM.note" />
        <EntitySet Name="empties" EntityType="Microsoft.Dynamics.CRM.note" />
        <EntitySet Name="readings" EntityType="Microsoft.Dynamics.CRM.note" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

fn odata(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json; odata.metadata=minimal")
}

/// A Dataverse API whose `readings` set holds `doubles` in column `d`.
async fn dataverse(doubles: &[String]) -> (MockServer, String) {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600})))
        .mount(&server)
        .await;
    Mock::given(path(format!("{BASE}$metadata")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(METADATA_XML, "application/xml"))
        .mount(&server)
        .await;
    let notes = r#"{"@odata.context":"x","value":[
        {"id":1,"s":"","d":null,"amount":1.5,"revenue":null},
        {"id":2,"s":null,"d":0.1,"amount":null,"revenue":12345678901234567.0123456789},
        {"id":3,"s":"a, \"b\"\nc","d":-0.0,"amount":-0.25,"revenue":0}]}"#;
    let readings: Vec<String> = doubles
        .iter()
        .enumerate()
        .map(|(i, d)| format!(r#"{{"id":{i},"d":{d}}}"#))
        .collect();
    for (set, body) in [
        ("notes", notes.to_owned()),
        ("empties", r#"{"value":[]}"#.to_owned()),
        (
            "readings",
            format!(r#"{{"value":[{}]}}"#, readings.join(",")),
        ),
    ] {
        Mock::given(path(format!("{BASE}{set}")))
            .respond_with(odata(body))
            .mount(&server)
            .await;
    }
    let url = format!(
        "dynamics365:ServiceURL={0}{BASE};ClientID=cli;ClientSecret={1};TokenURI={0}/token;RefreshToken={2}",
        server.uri(),
        SECRETS[0],
        SECRETS[1]
    );
    (server, url)
}

/// A REST API: `/notes` (nulls and empty strings), `/empty` (a model-file
/// table with no rows) and `/readings` (`doubles` in column `d`).
async fn rest(doubles: &[String]) -> (MockServer, tempfile::NamedTempFile) {
    let server = MockServer::builder().start().await;
    let notes = r#"[
        {"id":1,"s":"","d":null,"flag":true},
        {"id":2,"s":null,"d":0.1,"flag":null},
        {"id":3,"s":"a, \"b\"\nc","d":-0.0,"flag":false}]"#;
    let readings: Vec<String> = doubles
        .iter()
        .enumerate()
        .map(|(i, d)| format!(r#"{{"id":{i},"d":{d}}}"#))
        .collect();
    for (p, body) in [
        ("/notes", notes.to_owned()),
        ("/empty", "[]".to_owned()),
        ("/readings", format!("[{}]", readings.join(","))),
    ] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
    }
    let model = json!({
        "notes": format!("{}/notes", server.uri()),
        "readings": format!("{}/readings", server.uri()),
        "empty": {
            "#path": [format!("{}/empty", server.uri())],
            "id": "Integer,#key", "s": "VarChar(20)", "price": "Decimal(10,2)"
        },
    });
    let mut file = tempfile::Builder::new().suffix(".rest").tempfile().unwrap();
    std::io::Write::write_all(&mut file, model.to_string().as_bytes()).unwrap();
    (server, file)
}

fn config_url(file: &tempfile::NamedTempFile) -> String {
    format!("autorest:Config={}", file.path().display())
}

async fn query(url: &str, table: &str, format: &str) -> String {
    let r = connectkit(&["query", "-", table, "--format", format], Some(url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[tokio::test]
async fn csv_of_nulls_empty_strings_and_empty_results() {
    let (_server, file) = rest(&[]).await;
    let url = config_url(&file);
    insta::assert_snapshot!("autorest_csv_nulls", query(&url, "notes", "csv").await);
    insta::assert_snapshot!("autorest_csv_empty", query(&url, "empty", "csv").await);
    let (_server, url) = dataverse(&[]).await;
    insta::assert_snapshot!("dynamics_csv_nulls", query(&url, "notes", "csv").await);
    insta::assert_snapshot!("dynamics_csv_empty", query(&url, "empties", "csv").await);
}

#[tokio::test]
async fn schema_json_carries_source_and_arrow_types_keys_and_decimal_facets() {
    let (_server, url) = dataverse(&[]).await;
    let r = connectkit(&["schema", "-", "notes", "--format", "json"], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("dynamics_schema_json", r.stdout);
    let (_server, file) = rest(&[]).await;
    let r = connectkit(
        &["schema", &config_url(&file), "empty", "--format", "json"],
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("autorest_schema_json", r.stdout);
}

/// Random finite doubles in the texts `serde_json` and Python's `json`
/// write, and the values that trip printers up.
fn doubles() -> (Vec<f64>, Vec<String>) {
    let mut values = vec![1e-7, 5e-324, f64::MAX, 0.1, -0.0, 1e16, 0.09894886268874903];
    let texts = [
        "1e-07",
        "5e-324",
        "1.7976931348623157e+308",
        "0.1",
        "-0.0",
        "1e+16",
        "0.09894886268874903",
    ];
    let mut texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
    let finite = any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |x| x.is_finite());
    let mut runner = TestRunner::default();
    for _ in 0..300 {
        let x = finite.new_tree(&mut runner).unwrap().current();
        values.push(x);
        texts.push(serde_json::to_string(&x).unwrap());
    }
    (values, texts)
}

fn assert_bits(got: Vec<&str>, want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (text, x) in got.iter().zip(want) {
        let back: f64 = text
            .parse()
            .unwrap_or_else(|e| panic!("{what}: {text}: {e}"));
        assert_eq!(back.to_bits(), x.to_bits(), "{what}: {text} is not {x:?}");
    }
}

/// The `d` texts of CSV rows `id,d` and JSON lines `{"id":..,"d":..}`.
fn csv_texts(out: &str) -> Vec<&str> {
    out.lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect()
}

fn jsonl_texts(out: &str) -> Vec<&str> {
    out.lines()
        .map(|l| l.split(r#""d":"#).nth(1).unwrap().trim_end_matches('}'))
        .collect()
}

#[tokio::test]
async fn doubles_round_trip_through_csv_and_jsonl() {
    let (values, texts) = doubles();
    let (_server, file) = rest(&texts).await;
    let url = config_url(&file);
    let csv = query(&url, "readings", "csv").await;
    assert_bits(csv_texts(&csv), &values, "autorest csv");
    let jsonl = query(&url, "readings", "jsonl").await;
    assert_bits(jsonl_texts(&jsonl), &values, "autorest jsonl");
    let (_server, url) = dataverse(&texts).await;
    let projected = ["query", "-", "readings", "--columns", "id,d", "--format"];
    for (format, texts) in [
        ("csv", csv_texts as fn(&str) -> Vec<&str>),
        ("jsonl", jsonl_texts),
    ] {
        let mut args = projected.to_vec();
        args.push(format);
        let r = connectkit(&args, Some(&url)).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_bits(texts(&r.stdout), &values, &format!("dynamics365 {format}"));
    }
}

#[tokio::test]
async fn the_table_format_never_writes_control_characters() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/v1/evil"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "name": "\u{1b}]0;owned\u{7}\u{1b}[2Jcleared", "note": "del\u{7f} c1\u{9b}31m"},
        ])))
        .mount(&server)
        .await;
    let url = format!("autorest:Sample={}/v1/evil", server.uri());
    let r = connectkit(&["query", &url, "evil"], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        r.stdout
    );
    assert!(
        r.stdout.contains(r"\u{1b}]0;owned\u{7}\u{1b}[2Jcleared"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(r"del\u{7f} c1\u{9b}31m"), "{}", r.stdout);
}
