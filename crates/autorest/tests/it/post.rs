//! POST requests (`#post`): the body each page sends, paging templates in
//! the body, and the rows read back (fixtures/autorest/models/post.rest).

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::ScanRequest;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{ids, model_file, requests_to, rows};

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn items(from: usize, to: usize) -> Vec<Value> {
    (from..to.min(5))
        .map(|i| json!({"id": i, "name": format!("n{i}")}))
        .collect()
}

async fn api() -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(|r: &Request| {
            let b = body(r);
            let (from, size) = (b["from"].as_u64().unwrap(), b["size"].as_u64().unwrap());
            let hits = items(from as usize, (from + size) as usize);
            ResponseTemplate::new(200).set_body_json(json!({"hits": hits}))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/report"))
        .respond_with(|r: &Request| {
            let b = body(r);
            let (page, size) = (b["page"].as_u64().unwrap(), b["pageSize"].as_u64().unwrap());
            let from = ((page - 1) * size) as usize;
            ResponseTemplate::new(200)
                .set_body_json(json!({"rows": items(from, from + size as usize)}))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(|r: &Request| {
            let from = match body(r)["variables"]["after"].as_str() {
                None => 0,
                Some(c) => c.trim_start_matches('c').parse().unwrap(),
            };
            let cursor = (from + 2 < 5).then(|| format!("c{}", from + 2));
            ResponseTemplate::new(200).set_body_json(json!({"data": {"items": {
                "nodes": items(from, from + 2), "pageInfo": {"endCursor": cursor}}}}))
        })
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_search_body_pages_by_offset_and_size() {
    let server = api().await;
    let model = model_file("post.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "search", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [0, 1, 2, 3, 4]);
    assert_eq!(got[1]["name"], "n1");
    let sent = requests_to(&server, "/search").await;
    let bodies: Vec<Value> = sent.iter().map(body).collect();
    assert_eq!(
        bodies,
        [0, 2, 4].map(|from| json!({"query": {"match": "widgets"}, "from": from, "size": 2}))
    );
    for r in &sent {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.query(), None);
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["x-tenant"], "acme");
        assert_eq!(r.headers["accept"], "application/json");
    }
}

#[tokio::test]
async fn a_report_body_pages_by_page_number() {
    let server = api().await;
    let model = model_file("post.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "report", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [0, 1, 2, 3, 4]);
    let pages: Vec<Value> = requests_to(&server, "/report")
        .await
        .iter()
        .map(|r| body(r)["page"].clone())
        .collect();
    assert_eq!(pages, [json!(1), json!(2), json!(3)]);
}

#[tokio::test]
async fn a_graphql_cursor_goes_back_in_the_body() {
    let server = api().await;
    let model = model_file("post.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "graphql", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [0, 1, 2, 3, 4]);
    let sent = requests_to(&server, "/graphql").await;
    let after: Vec<Value> = sent
        .iter()
        .map(|r| body(r)["variables"]["after"].clone())
        .collect();
    assert_eq!(after, [Value::Null, json!("c2"), json!("c4")]);
    assert!(
        body(&sent[0])["query"]
            .as_str()
            .unwrap()
            .starts_with("query($after")
    );
}

#[tokio::test]
async fn a_limit_stops_body_paging_early() {
    let server = api().await;
    let model = model_file("post.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "search", ScanRequest::new().with_limit(3))
        .await
        .unwrap();
    assert_eq!(ids(&got), [0, 1, 2]);
    assert_eq!(requests_to(&server, "/search").await.len(), 2);
}

#[tokio::test]
async fn an_empty_body_is_sent_only_when_asked_for() {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/export"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "name": "a"}])))
        .mount(&server)
        .await;
    let text = r##"{"export": {"#path": "https://api.example.com/export",
        "#post": {"#omitWhenEmpty": false}, "#headers": {"content-type": "application/json"},
        "id": "Integer,#key", "name": "VarChar(16)"}}"##;
    let model = crate::common::model_text(text, "rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "export", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), [1]);
    let sent = requests_to(&server, "/export").await;
    assert_eq!(sent[0].method.as_str(), "POST");
    assert!(sent[0].body.is_empty());
    assert_eq!(sent[0].headers["content-type"], "application/json");
}
