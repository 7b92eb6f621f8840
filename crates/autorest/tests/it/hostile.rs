//! Servers that try to lose rows or keep a scan running forever.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::ScanRequest;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::*;

fn page_param(req: &Request) -> u64 {
    req.url
        .query_pairs()
        .find(|(k, _)| k == "_page")
        .map_or(1, |(_, v)| v.parse().unwrap())
}

/// json-server's form: `rel="first"`, `rel="next"`, `rel="last"`, with next
/// first, in the middle or last, and commas inside the URLs.
#[tokio::test]
async fn a_link_header_with_next_anywhere_returns_every_row() {
    for position in ["first", "middle", "last", "several rels"] {
        let server = MockServer::builder().start().await;
        let base = server.uri();
        Mock::given(path("/items"))
            .respond_with(move |req: &Request| {
                let page = page_param(req);
                let link = |p: u64| format!("<{base}/items?_page={p}&_limit=2&fields=a,b;c>");
                let next = (page < 3).then(|| format!(r#"{}; rel="next""#, link(page + 1)));
                let first = format!(r#"{}; rel="first""#, link(1));
                let last = format!(r#"{}; rel="last""#, link(3));
                let header = match (position, next) {
                    (_, None) => format!("{first}, {last}"),
                    ("first", Some(n)) => format!("{n}, {first}, {last}"),
                    ("middle", Some(n)) => format!("{first}, {n}, {last}"),
                    ("last", Some(n)) => format!("{first}, {last}, {n}"),
                    (_, Some(_)) => format!(r#"{}; rel="next last", {first}"#, link(page + 1)),
                };
                let rows = json!([{"id": page * 2 - 1}, {"id": page * 2}]);
                ResponseTemplate::new(200)
                    .insert_header("Link", header.as_str())
                    .insert_header("X-Total-Count", "6")
                    .set_body_json(rows)
            })
            .mount(&server)
            .await;
        let c = AutoRestDataSource::new()
            .sample(format!("{}/items?_page=1&_limit=2", server.uri()))
            .build()
            .unwrap();
        let got = rows(&c, "items", ScanRequest::new()).await.unwrap();
        assert_eq!(ids(&got), [1, 2, 3, 4, 5, 6], "next {position}");
        assert_eq!(
            requests_to(&server, "/items").await.len(),
            3,
            "one request per page"
        );
    }
}

#[tokio::test]
async fn endless_distinct_next_links_end_at_max_pages() {
    let server = MockServer::builder().start().await;
    let base = server.uri();
    Mock::given(path("/items"))
        .respond_with(move |req: &Request| {
            let page = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "p")
                .map_or(1, |(_, v)| v.parse::<u64>().unwrap());
            ResponseTemplate::new(200).set_body_json(json!({
                "data": [{"id": page}], "next": format!("{base}/items?p={}", page + 1)}))
        })
        .mount(&server)
        .await;
    let mut registry = connectkit_core::Registry::new();
    connectkit_autorest::register(&mut registry);
    let c = registry
        .connect(&format!(
            "autorest:Sample={}/items;MaxPages=25",
            server.uri()
        ))
        .unwrap();
    let e = rows(c.as_ref(), "items", ScanRequest::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "paging.too_many_pages");
    assert_eq!(
        e.to_string(),
        "table items: more than MaxPages=25 pages; stopping (raise MaxPages to read further)"
    );
    assert_eq!(requests_to(&server, "/items").await.len(), 25);
}

#[tokio::test]
async fn the_same_page_under_new_links_is_a_loop() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 1}], "next": "/items?again=1"})))
        .mount(&server)
        .await;
    let c = AutoRestDataSource::new()
        .sample(format!("{}/items", server.uri()))
        .build()
        .unwrap();
    let e = rows(&c, "items", ScanRequest::new()).await.unwrap_err();
    assert_eq!(e.code(), "paging.loop", "{e}");
    assert_eq!(requests_to(&server, "/items").await.len(), 2);
}
