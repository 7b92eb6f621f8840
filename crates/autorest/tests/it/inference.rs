//! What Sample infers from a response, seen through the connector: table
//! names from record URLs, and arrays without elements.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, ScanRequest};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::rows;

#[tokio::test]
async fn a_record_url_names_its_table_and_an_empty_array_makes_no_child_table() {
    let server = MockServer::start().await;
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
