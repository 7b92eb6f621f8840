//! Column formats (fixtures/autorest/models/formats.rest): SimpleDateFormat
//! patterns and epoch seconds/milliseconds read into Arrow, filter values
//! sent in the column's format, and a value that does not fit named.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Time64MicrosecondType, TimestampMicrosecondType};
use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, Filter, FilterOp, Literal, ScanRequest};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{model_file, requests_to};

const DAY_US: i64 = 86_400_000_000;

#[tokio::test]
async fn patterns_and_epochs_read_and_filters_are_sent_in_format() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"events": [
            {"id": 1, "day": "02/01/1970", "at": "1970-01-02 01:00:00.250 +0100",
             "seen": 86400, "sent": 86400000, "opens": "01:30 PM"}]})))
        .mount(&server)
        .await;
    let model = model_file("formats.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let req = ScanRequest::new()
        .with_filter(Filter::new("since", FilterOp::Ge, Literal::Date(19_723)))
        .with_filter(Filter::new(
            "before",
            FilterOp::Lt,
            Literal::Timestamp(DAY_US),
        ));
    let scan = c.scan("events", req).await.unwrap();
    assert!(scan.unapplied_filters.is_empty());
    let batches: Vec<_> = scan.batches.try_collect().await.unwrap();
    let b = &batches[0];
    assert_eq!(b.column(1).as_primitive::<Date32Type>().value(0), 1);
    let ts = |i: usize| {
        b.column(i)
            .as_primitive::<TimestampMicrosecondType>()
            .value(0)
    };
    assert_eq!(ts(2), DAY_US + 250_000);
    assert_eq!(ts(3), DAY_US);
    assert_eq!(ts(4), DAY_US);
    let opens = b.column(5).as_primitive::<Time64MicrosecondType>().value(0);
    assert_eq!(opens, 48_600_000_000);
    let sent = requests_to(&server, "/events").await;
    let q: Vec<(String, String)> = sent[0].url.query_pairs().into_owned().collect();
    assert_eq!(
        q,
        [
            ("from".to_owned(), "20240101".to_owned()),
            ("until".to_owned(), "86400000".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_value_that_does_not_match_the_pattern_is_named() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"events": [
            {"id": 1, "day": "1970-01-02"}]})))
        .mount(&server)
        .await;
    let model = model_file("formats.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let e = crate::common::rows(&c, "events", ScanRequest::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("events") && e.contains("day") && e.contains("1970-01-02"),
        "{e}"
    );
}
