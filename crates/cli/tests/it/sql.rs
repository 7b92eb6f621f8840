//! `connectkit sql`: queries, `--explain` and `COPY ... TO` files, against
//! a Dataverse mock serving `fixtures/dynamics365/` and a REST orders API.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, TimeUnit};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{SECRETS, connectkit, stable};

const BASE: &str = "/api/data/v9.2/";

fn fixture(name: &str, server: &MockServer) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/dynamics365")
        .join(name);
    std::fs::read_to_string(p)
        .unwrap()
        .replace("{{SERVICE_URL}}", &format!("{}{BASE}", server.uri()))
}

fn skiptoken(n: u32) -> String {
    format!("<cookie pagenumber=\"{n}\" pagingcookie=\"\" istracking=\"False\" />")
}

/// The token endpoint, the service document, `$metadata` and the three
/// pages of accounts; returns the connection URL (fed on standard input).
async fn dataverse(server: &MockServer) -> String {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": SECRETS[2], "token_type": "Bearer", "expires_in": 3600})))
        .mount(server)
        .await;
    let json = |name: &str| {
        ResponseTemplate::new(200).set_body_raw(fixture(name, server), "application/json")
    };
    Mock::given(path(BASE))
        .respond_with(json("service.json"))
        .mount(server)
        .await;
    Mock::given(path(format!("{BASE}$metadata")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("metadata.xml", server), "application/xml"),
        )
        .mount(server)
        .await;
    let accounts = format!("{BASE}accounts");
    Mock::given(path(accounts.as_str()))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json("accounts_page1.json"))
        .mount(server)
        .await;
    for n in [2, 3] {
        Mock::given(path(accounts.as_str()))
            .and(query_param("$skiptoken", skiptoken(n).as_str()))
            .respond_with(json(&format!("accounts_page{n}.json")))
            .mount(server)
            .await;
    }
    format!(
        "jdbc:datadirect:dynamics365:ServiceURL={0}{BASE};ClientID=29453d6f;ClientSecret={1};TokenURI={0}/token;RefreshToken={2};PageSize=2;",
        server.uri(),
        SECRETS[0],
        SECRETS[1]
    )
}

/// An orders API and its model file.
async fn shop(server: &MockServer) -> tempfile::NamedTempFile {
    Mock::given(method("GET"))
        .and(path("/shop/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": [
            {"order_id": 1, "accountid": "a0000000-0000-0000-0000-000000000001", "amount": 100.5},
            {"order_id": 2, "accountid": "a0000000-0000-0000-0000-000000000003", "amount": 20},
            {"order_id": 3, "accountid": "a0000000-0000-0000-0000-000000000001", "amount": 5.25},
        ]})))
        .mount(server)
        .await;
    let model = format!(
        r##"{{"orders": {{"#path": ["{}/shop/orders /data"], "order_id": "Integer,#key", "accountid": "VarChar(36)", "amount": "Decimal(10,2)"}}}}"##,
        server.uri()
    );
    let file = tempfile::Builder::new().suffix(".rest").tempfile().unwrap();
    std::fs::write(file.path(), model).unwrap();
    file
}

const COLUMNS: &str =
    "accountid, name, numberofemployees, revenue, createdon, new_foundedon, creditonhold";

#[tokio::test]
async fn select_join_and_formats() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server).await;
    let model = shop(&server).await;
    let shop_source = format!("shop=autorest:Config={}", model.path().display());
    let sql = "SELECT a.name, COUNT(*) AS orders, SUM(o.amount) AS total \
               FROM shop.orders o JOIN crm.accounts a ON o.accountid = a.accountid \
               GROUP BY a.name ORDER BY a.name";
    let r = connectkit(
        &[
            "sql",
            "--source",
            "crm=-",
            "--source",
            &shop_source,
            sql,
            "--format",
            "csv",
        ],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "name,orders,total\nAdventure Works,1,20.00\nContoso Ltd,2,105.75\n"
    );
    let r = connectkit(
        &[
            "sql",
            "--source",
            "crm=-",
            "SELECT name FROM crm.accounts WHERE numberofemployees * 2 > 200",
            "--format",
            "jsonl",
        ],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "{\"name\":\"Contoso Ltd\"}\n{\"name\":\"Northwind Traders\"}\n"
    );
}

#[tokio::test]
async fn usage_and_sql_errors_exit_2_without_secrets() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server).await;
    let r = connectkit(&["sql", "--source", "crm", "SELECT 1"], None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("NAME=URL"), "{}", r.stderr);
    let r = connectkit(&["sql", "--source", "1x=-", "SELECT 1"], Some(&url)).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = connectkit(
        &[
            "sql",
            "--source",
            "crm=-",
            "SELECT nosuch FROM crm.accounts",
        ],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nosuch"), "{}", r.stderr);
    let r = connectkit(
        &["sql", "--source", "crm=-", "COPY (SELECT 1) TO 'x.xlsx'"],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(".parquet, .csv or .json"), "{}", r.stderr);
}

#[tokio::test]
async fn explain_shows_the_plan_and_what_each_source_is_asked() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server).await;
    let model = shop(&server).await;
    let shop_source = format!("shop=autorest:Config={}", model.path().display());
    for (name, sql) in [
        (
            "explain_exact_filters_and_limit",
            "SELECT name FROM crm.accounts WHERE numberofemployees >= 10 AND createdon < TIMESTAMP '2025-01-01T00:00:00Z' LIMIT 3",
        ),
        (
            "explain_inexact_and_engine_filters",
            "SELECT name FROM crm.accounts WHERE name LIKE 'C%' AND numberofemployees * 2 > 10 LIMIT 3",
        ),
        (
            "explain_join",
            "SELECT a.name, o.amount FROM shop.orders o JOIN crm.accounts a ON o.accountid = a.accountid WHERE o.amount > 10 AND a.creditonhold = false",
        ),
    ] {
        let r = connectkit(
            &[
                "sql",
                "--source",
                "crm=-",
                "--source",
                &shop_source,
                "--explain",
                sql,
            ],
            Some(&url),
        )
        .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = stable(&r.stdout, &server).replace(&model.path().display().to_string(), "MODEL");
        insta::assert_snapshot!(name, text);
    }
    // EXPLAIN reads metadata, never rows: only the one-row bounds requests
    // of a scan split into createdon ranges (`$orderby` with `$top=1`).
    let rows = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with("/accounts") || r.url.path() == "/shop/orders")
        .filter(|r| !r.url.query_pairs().any(|(k, _)| k == "$orderby"))
        .count();
    assert_eq!(rows, 0);
}

fn read_back_parquet(path: &std::path::Path) -> (Arc<Schema>, Vec<RecordBatch>) {
    let file = std::fs::File::open(path).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let meta = builder.metadata().clone();
    for rg in meta.row_groups() {
        for c in rg.columns() {
            assert_eq!(c.compression(), parquet::basic::Compression::SNAPPY);
        }
    }
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches)
}

fn jsonl(batches: &[RecordBatch]) -> String {
    let mut w = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::LineDelimited>(Vec::new());
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    String::from_utf8(w.into_inner()).unwrap()
}

/// COPY to Parquet and CSV, read back with arrow: the same values and
/// types as the SELECT gives.
#[tokio::test]
async fn copy_to_parquet_and_csv_round_trips() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let select = format!("SELECT {COLUMNS} FROM crm.accounts ORDER BY name");
    let r = connectkit(
        &["sql", "--source", "crm=-", &select, "--format", "jsonl"],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = r.stdout;
    assert_eq!(expected.lines().count(), 5);

    let parquet_path = dir.path().join("accounts.parquet");
    let copy = format!("COPY ({select}) TO '{}'", parquet_path.display());
    let r = connectkit(
        &["sql", "--source", "crm=-", &copy, "--format", "csv"],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "count\n5\n");
    let (schema, batches) = read_back_parquet(&parquet_path);
    let types: Vec<(&str, &DataType)> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), f.data_type()))
        .collect();
    assert_eq!(
        types,
        [
            ("accountid", &DataType::Utf8),
            ("name", &DataType::Utf8),
            ("numberofemployees", &DataType::Int32),
            ("revenue", &DataType::Decimal128(38, 10)),
            (
                "createdon",
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            ),
            ("new_foundedon", &DataType::Date32),
            ("creditonhold", &DataType::Boolean),
        ]
    );
    assert_eq!(jsonl(&batches), expected);

    let csv_path = dir.path().join("accounts.csv");
    let copy = format!("COPY ({select}) TO '{}'", csv_path.display());
    let r = connectkit(&["sql", "--source", "crm=-", &copy], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = arrow_csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .build(std::fs::File::open(&csv_path).unwrap())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(jsonl(&csv), expected);

    let json_path = dir.path().join("accounts.json");
    let copy = format!("COPY crm.accounts TO '{}'", json_path.display());
    let r = connectkit(&["sql", "--source", "crm=-", &copy], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&json_path).unwrap().lines().count(),
        5
    );
}

/// `SELECT count(*)` without filters is Dataverse's `/$count`: the plan
/// holds the number, and no page is read.
#[tokio::test]
async fn count_star_is_dollar_count_in_the_plan_and_the_answer() {
    let server = MockServer::builder().start().await;
    let url = dataverse(&server).await;
    Mock::given(path(format!("{BASE}accounts/$count")))
        .respond_with(ResponseTemplate::new(200).set_body_raw("5", "text/plain"))
        .mount(&server)
        .await;
    let sql = "SELECT COUNT(*) AS n FROM crm.accounts";
    let r = connectkit(&["sql", "--source", "crm=-", "--explain", sql], Some(&url)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("explain_count_star", stable(&r.stdout, &server));
    let r = connectkit(
        &["sql", "--source", "crm=-", "--format", "csv", sql],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "n\n5\n");
    let received = server.received_requests().await.unwrap();
    let paths: Vec<&str> = received.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("/accounts/$count"))
            .count(),
        2
    );
    assert!(!paths.iter().any(|p| p.ends_with("/accounts")), "{paths:?}");
}

/// A connector error inside a query reaches the user once, in the
/// connector's words (no "External error:" from DataFusion), with the
/// connector's exit code (4: the API failed).
#[tokio::test]
async fn a_source_failing_mid_query_is_reported_once_with_its_own_exit_code() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(query_param_is_missing("page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "items": [{"id": 1}, {"id": 2}],
            "next": format!("{}/v1/items?page=2", server.uri())
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/items"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database down"))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("autorest:Sample={}/v1/items", server.uri());
    let r = connectkit(
        &["sql", "--source", "api=-", "SELECT id FROM api.items"],
        Some(&url),
    )
    .await;
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(!r.stderr.contains("External error"), "{}", r.stderr);
    assert_eq!(r.stderr.matches("database down").count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 500"), "{}", r.stderr);
    server.verify().await;
}
