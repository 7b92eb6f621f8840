//! The vendor documentation's own examples, copied by hand into
//! fixtures/autorest/models/vendor_examples.rest (the pages print them as
//! fragments: the default `#http` table, a query path with a JSON root, the
//! POST entry of `countries2` with its `START_DATE` sample, the
//! `"birthday":"date,d-M-y-G"` column, a `#queryParameter` with `#default`),
//! load unchanged and run.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::{Connector, Filter, FilterOp, Literal, ScanRequest};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{requests_to, rows};

#[tokio::test]
async fn the_documented_examples_load_unchanged_and_run() {
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/countries/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"countries": [{"code": "FR"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/country"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"name": "France"}])))
        .mount(&server)
        .await;
    Mock::given(path("/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"name": "Ada", "birthday": "10-12-1815-AD"}])))
        .mount(&server)
        .await;
    Mock::given(path("/rest/api/2/search"))
        .and(query_param("jql", "project = DEMO"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": [{"key": "DEMO-1"}]})),
        )
        .mount(&server)
        .await;
    let text = std::fs::read_to_string(
        crate::common::fixtures().join("autorest/models/vendor_examples.rest"),
    )
    .unwrap()
    .replace("http://example.com", &server.uri());
    let model = crate::common::model_text(&text, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let names: Vec<_> = c
        .tables()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["countries", "countries2", "people", "issues"]);
    assert_eq!(
        rows(&c, "countries", ScanRequest::new()).await.unwrap(),
        [json!({"code": "FR"})]
    );

    // POST: the sample value is sent, or the value a filter gives.
    let got = rows(&c, "countries2", ScanRequest::new()).await.unwrap();
    assert_eq!(got, [json!({"name": "France", "START_DATE": "2018-08-31"})]);
    let req = ScanRequest::new().with_filter(Filter::new(
        "start_date",
        FilterOp::Eq,
        Literal::Date(17_532),
    ));
    let got = rows(&c, "countries2", req).await.unwrap();
    assert_eq!(got[0]["START_DATE"], "2018-01-01");
    let bodies: Vec<Value> = requests_to(&server, "/country")
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"START_DATE": "2018-08-31"}),
            json!({"START_DATE": "2018-01-01"})
        ]
    );

    let people = rows(&c, "people", ScanRequest::new()).await.unwrap();
    // Arrow JSON writes dates as YYYY-MM-DD.
    assert_eq!(people, [json!({"name": "Ada", "birthday": "1815-12-10"})]);

    let issues = rows(&c, "issues", ScanRequest::new()).await.unwrap();
    assert_eq!(issues, [json!({"key": "DEMO-1", "jql": "project = DEMO"})]);
}
