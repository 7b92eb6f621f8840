//! A model file as the vendor's Composer writes it: write keys and
//! `#options` load (ignored, with a warning); `#totalPagesElement` ends the
//! scan; `#fieldListParameter` names the fields a projection reads.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::ScanRequest;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{ids, model_file, requests_to, rows};

/// Two full pages of 5 customers; `meta.pages` says there are 2.
async fn customers() -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .respond_with(|req: &Request| {
            let page: u64 = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map_or(1, |(_, v)| v.parse().unwrap());
            let data: Vec<Value> = (1..=5)
                .map(|i| (page - 1) * 5 + i)
                .map(|id| json!({"id": id, "name": format!("c{id}"), "address": {"city": "Oslo"}}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"data": data, "meta": {"pages": 2}}))
        })
        .mount(&server)
        .await;
    server
}

fn query_of(r: &Request) -> Vec<(String, String)> {
    r.url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn a_composer_model_file_loads_and_reads_as_declared() {
    let server = customers().await;
    let file = model_file("composer.rest", &server);
    let c = AutoRestDataSource::new()
        .config(file.path().to_str().unwrap())
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    // Whole rows: no field list; #totalPagesElement ends the scan after
    // page 2 although it was full.
    let got = rows(&c, "customers", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), (1..=10).collect::<Vec<_>>());
    let received = requests_to(&server, "/customers").await;
    let queries: Vec<_> = received.iter().map(query_of).collect();
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        queries,
        [vec![pair("page", "1")], vec![pair("page", "2")]],
        "no page 3, no field list"
    );
    // A projection names its fields (a flattened column by its top-level
    // field), in column order; only GETs were sent, whatever #insert says.
    let got = rows(
        &c,
        "customers",
        ScanRequest::new().with_projection(["address_city", "id"]),
    )
    .await
    .unwrap();
    assert_eq!(got[0], json!({"address_city": "Oslo", "id": 1}));
    let received = requests_to(&server, "/customers").await;
    assert!(received.iter().all(|r| r.method.as_str() == "GET"));
    let last: Vec<_> = received[2..].iter().map(query_of).collect();
    assert_eq!(
        last,
        [
            vec![pair("fields", "address,id"), pair("page", "1")],
            vec![pair("fields", "address,id"), pair("page", "2")]
        ]
    );
}
