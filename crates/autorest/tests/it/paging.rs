//! Every paging style of paging.rest: each row exactly once, in order, for
//! 0, 1 and 3 pages; loops end with an error; a limit stops paging.

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::ScanRequest;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Paged, ids, model_file, requests_to, rows};

const STYLES: &[&str] = &[
    "offset",
    "pages",
    "next_url",
    "next_token",
    "link_header",
    "has_more",
    "total_rows",
    "template",
];

#[tokio::test]
async fn every_style_returns_every_row_once_in_order() {
    for &style in STYLES {
        // 0 rows: one empty page; 1 row: one page; 5 rows: pages of 2, 2, 1.
        for (n, pages) in [(0usize, 1usize), (1, 1), (5, 3)] {
            let server = MockServer::builder().start().await;
            let api_path = format!("/{style}/items");
            Mock::given(method("GET"))
                .and(path(api_path.as_str()))
                .respond_with(Paged { style, rows: n })
                .mount(&server)
                .await;
            let model = model_file("paging.rest", &server);
            // One page after another, so that the pages sent are exact.
            let c = AutoRestDataSource::new()
                .config(model.path().to_str().unwrap())
                .max_concurrent_requests(1)
                .build()
                .unwrap();
            let got = rows(&c, style, ScanRequest::new()).await.unwrap();
            assert_eq!(
                ids(&got),
                (0..n as i64).collect::<Vec<_>>(),
                "{style} with {n} rows"
            );
            let sent = requests_to(&server, &api_path).await;
            assert_eq!(
                sent.len(),
                pages,
                "{style} with {n} rows: {:?}",
                sent.iter().map(|r| r.url.to_string()).collect::<Vec<_>>()
            );
        }
    }
}

#[tokio::test]
async fn the_requests_carry_each_style_parameters() {
    let server = MockServer::builder().start().await;
    for &style in STYLES {
        let p = format!("/{style}/items");
        Mock::given(path(p.as_str()))
            .respond_with(Paged { style, rows: 5 })
            .mount(&server)
            .await;
    }
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    let mut seen = String::new();
    for &style in STYLES {
        rows(&c, style, ScanRequest::new()).await.unwrap();
        for r in requests_to(&server, &format!("/{style}/items")).await {
            seen += &format!("{style}: {}\n", r.url.query().unwrap_or(""));
        }
    }
    insta::assert_snapshot!(seen);
}

#[tokio::test]
async fn a_limit_of_5_with_pages_of_100_fetches_one_page() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/big_pages/items"))
        .respond_with(Paged {
            style: "big_pages",
            rows: 300,
        })
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "big_pages", ScanRequest::new().with_limit(5))
        .await
        .unwrap();
    assert_eq!(ids(&got), [0, 1, 2, 3, 4]);
    let sent = requests_to(&server, "/big_pages/items").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.query(), Some("limit=100&offset=0"));
    // Without the limit, every page (the last one short).
    assert_eq!(
        rows(&c, "big_pages", ScanRequest::new())
            .await
            .unwrap()
            .len(),
        300
    );
}

#[tokio::test]
async fn a_repeating_next_link_ends_with_an_error() {
    let server = MockServer::builder().start().await;
    // The token never advances.
    Mock::given(path("/next_token/items"))
        .respond_with(|req: &wiremock::Request| {
            let id = if req.url.query().is_some() { 2 } else { 1 };
            ResponseTemplate::new(200).set_body_json(
                json!({"items": [{"id": id, "name": "a"}], "meta": {"cursor": "same"}}),
            )
        })
        .mount(&server)
        .await;
    // The next link points back at itself.
    Mock::given(path("/next_url/items"))
        .respond_with(move |req: &wiremock::Request| {
            let page: u64 = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "p")
                .map_or(1, |(_, v)| v.parse().unwrap());
            ResponseTemplate::new(200).set_body_json(json!({
                "results": [{"id": page, "name": "x"}],
                "paging": {"next": "/next_url/items?p=2"}
            }))
        })
        .mount(&server)
        .await;
    // Offsets the server ignores: the same page again.
    Mock::given(path("/offset/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])),
        )
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let uri = server.uri();
    for (table, expected) in [
        (
            "next_token",
            format!(
                "table next_token: paging loops: the page {uri}/next_token/items was already read"
            ),
        ),
        (
            "next_url",
            format!("table next_url: paging loops: the page {uri}/next_url/items was already read"),
        ),
        (
            "offset",
            format!(
                "table offset: paging loops: the page {uri}/offset/items repeats the page before"
            ),
        ),
    ] {
        let e = rows(&c, table, ScanRequest::new()).await.unwrap_err();
        assert!(e.to_string().starts_with(&expected), "{e}");
        assert_eq!(e.code(), "paging.loop");
        assert!(matches!(
            e.downcast_ref::<connectkit_core::client::PagingError>(),
            Some(connectkit_core::client::PagingError::Loop { .. })
        ));
    }
    assert!(requests_to(&server, "/next_url/items").await.len() == 2);
    assert!(requests_to(&server, "/next_token/items").await.len() == 2);
}
