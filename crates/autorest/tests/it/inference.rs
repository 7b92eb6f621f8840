//! What Sample infers from a response, seen through the connector: table
//! names from record URLs, and arrays without elements.

use connectkit_autorest::{AutoRestDataSource, AutoRestError, JsonKind};
use connectkit_core::{Connector, ScanRequest};
use serde_json::json;
use wiremock::matchers::{path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{requests_to, rows};

#[tokio::test]
async fn a_record_url_names_its_table_and_an_empty_array_makes_no_child_table() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/api/customers/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 1, "name": "Ada", "orders": [], "address": {"city": "London"}}),
        ))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/api/customers/1", server.uri()))
        .build()
        .unwrap();
    let tables: Vec<String> = c
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tables, ["customers_1"]);
    let got = rows(&c, "customers_1", ScanRequest::new()).await.unwrap();
    assert_eq!(
        got,
        [json!({"id": 1, "name": "Ada", "address_city": "London"})]
    );
}

#[tokio::test]
async fn a_type_conflict_in_a_later_page_names_column_page_path_and_both_types() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/v2/items"))
        .and(query_param_is_missing("page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 1, "score": 1.5}, {"id": 2, "score": 2}],
            "next": "/v2/items?page=2&sig=s3cr3t-sig"
        })))
        .mount(&server)
        .await;
    Mock::given(path("/v2/items"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 3, "score": 0.5}, {"id": 4, "score": "n/a"}], "next": null
        })))
        .mount(&server)
        .await;
    // The sample is the first page alone (2 rows): the second page's
    // string is beyond it.
    let c = AutoRestDataSource::new()
        .sample(format!("{}/v2/items", server.uri()))
        .column_discovery_sample_size(2)
        .build()
        .unwrap();
    let e = rows(&c, "items", ScanRequest::new()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"table items, column score, row 4 (page /v2/items): expected Double, found a string: "n/a""#
    );
    assert!(matches!(
        e.downcast_ref::<AutoRestError>(),
        Some(AutoRestError::Cast { found: JsonKind::String, page: Some(p), .. }) if p == "/v2/items"
    ));
    // The second page was read (the first, which inference read, is not
    // fetched again): the error is that page's, not the sample's.
    assert_eq!(requests_to(&server, "/v2/items").await.len(), 2);
}
