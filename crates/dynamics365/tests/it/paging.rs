//! Paging through `@odata.nextLink`: order, limits, loops.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type};
use connectkit_core::{ErrorKind, ScanRequest};

use futures::StreamExt;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer};

use crate::*;

#[tokio::test]
async fn all_rows_of_three_pages_come_back_in_order() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let batches = scan_all(&c, "accounts", ScanRequest::new()).await.unwrap();
    let sizes: Vec<_> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(sizes, [2, 2, 1], "one batch per page");
    let names: Vec<_> = strings(&batches, "name").into_iter().flatten().collect();
    assert_eq!(
        names,
        [
            "Contoso Ltd",
            "Fabrikam, Inc. (O'Neil)",
            "Adventure Works",
            "Northwind Traders",
            "Wide World Importers"
        ]
    );
    // No annotation became data, and numbers kept every digit.
    for b in &batches {
        assert!(b.schema().fields().iter().all(|f| !f.name().contains('@')));
    }
    let version = batches[0]
        .column_by_name("versionnumber")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(version.value(0), 9_007_199_254_740_993);
    let revenue = batches[1]
        .column_by_name("revenue")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(revenue.value_as_string(1), "98765432109876543.0123456789");
    assert_eq!(
        strings(&batches, "new_headquarters")[0].as_deref(),
        Some(r#"{ "city": "Seattle", "country": "US" }"#)
    );

    let pages: Vec<_> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .map(skiptoken_of)
        .collect();
    assert_eq!(pages, [None, Some(skiptoken(2)), Some(skiptoken(3))]);
}

#[tokio::test]
async fn a_limit_stops_paging_early() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = connector(&server);
    let batches = scan_all(&c, "accounts", ScanRequest::new().with_limit(3))
        .await
        .unwrap();
    let sizes: Vec<_> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(sizes, [2, 1]);
    assert_eq!(
        strings(&batches, "name")[2].as_deref(),
        Some("Adventure Works")
    );
    let reqs = requests_to(&server, ACCOUNTS).await;
    let pages: Vec<_> = reqs.iter().map(skiptoken_of).collect();
    assert_eq!(
        pages,
        [None, Some(skiptoken(2))],
        "the third page is never requested"
    );
    assert_eq!(reqs[0].url.query(), Some("$top=3"));

    // A limit that the first page fills: one request.
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let batches = scan_all(
        &connector(&server),
        "accounts",
        ScanRequest::new().with_limit(2),
    )
    .await
    .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 1);

    // Limit 0: no request at all.
    let batches = scan_all(&c, "accounts", ScanRequest::new().with_limit(0))
        .await
        .unwrap();
    assert!(batches.is_empty());
}

async fn page_linking_to(server: &MockServer, token: &str, next: &str) {
    let body = served(server, "accounts_page3.json").replacen(
        "\"value\"",
        &format!("\"@odata.nextLink\": \"{next}\", \"value\""),
        1,
    );
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(query_param("$skiptoken", token))
        .respond_with(json(body))
        .with_priority(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_next_link_that_repeats_a_page_is_an_error_not_a_loop() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    // Page 2 links to itself.
    let page2 = format!(
        "{}accounts?$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%22%20istracking=%22False%22%20/%3E",
        service_url(&server)
    );
    page_linking_to(&server, &skiptoken(2), &page2.replace('"', "\\\"")).await;
    let c = connector(&server);
    let scan = c.scan("accounts", ScanRequest::new()).await.unwrap();
    let items: Vec<_> = scan.batches.collect().await;
    assert_eq!(items.len(), 3, "two pages of rows, then the error");
    assert_eq!(items[0].as_ref().unwrap().num_rows(), 2);
    assert_eq!(items[1].as_ref().unwrap().num_rows(), 1);
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert!(
        matches!(err.downcast_ref(), Some(connectkit_core::client::PagingError::Loop { table, .. }) if table == "accounts"),
        "{err:?}"
    );
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 2);
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    page_linking_to(
        &server,
        &skiptoken(2),
        "https://evil.example.com/api/data/v9.1/accounts?p=3",
    )
    .await;
    let c = connector(&server);
    let err = scan_all(&c, "accounts", ScanRequest::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(connectkit_core::client::ApiError::ForeignOrigin { what: "next page link", origin, .. }) if origin == "https://evil.example.com"),
        "{err:?}"
    );
}

/// A next link and a redirect to a live server on another origin: an error
/// naming that origin, and the other server receives nothing.
#[tokio::test]
async fn a_foreign_next_link_or_redirect_sends_nothing_there() {
    for form in ["next link", "redirect"] {
        let elsewhere = MockServer::builder().start().await;
        Mock::given(method("GET"))
            .respond_with(json(r#"{"value": []}"#.to_owned()))
            .mount(&elsewhere)
            .await;
        let server = MockServer::builder().start().await;
        mount_all(&server).await;
        let away = format!("{}/api/data/v9.1/accounts?p=3", elsewhere.uri());
        if form == "next link" {
            page_linking_to(&server, &skiptoken(2), &away).await;
        } else {
            Mock::given(method("GET"))
                .and(path(ACCOUNTS))
                .and(query_param("$skiptoken", skiptoken(2).as_str()))
                .respond_with(
                    wiremock::ResponseTemplate::new(302).insert_header("Location", away.as_str()),
                )
                .with_priority(1)
                .mount(&server)
                .await;
        }
        let err = scan_all(&connector(&server), "accounts", ScanRequest::new())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "api.foreign_origin", "{form}: {err}");
        let what = if form == "redirect" {
            "redirect"
        } else {
            "next page link"
        };
        assert!(
            err.to_string()
                .starts_with(&format!("{what} to {} is outside", elsewhere.uri())),
            "{form}: {err}"
        );
        assert!(!err.to_string().contains("at-"), "{err}");
        assert!(
            elsewhere.received_requests().await.unwrap().is_empty(),
            "{form}: the other origin was contacted"
        );
    }
}

#[tokio::test]
async fn a_relative_next_link_resolves_against_the_page() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    page_linking_to(&server, &skiptoken(2), "accounts?$skiptoken=last").await;
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(query_param("$skiptoken", "last"))
        .respond_with(json(served(&server, "accounts_page3.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    let batches = scan_all(&connector(&server), "accounts", ScanRequest::new())
        .await
        .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 4);
    let pages: Vec<_> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .map(skiptoken_of)
        .collect();
    assert_eq!(pages, [None, Some(skiptoken(2)), Some("last".to_owned())]);
}

/// A server that answers empty pages that always carry a new next link.
#[tokio::test]
async fn endless_empty_pages_with_next_links_end_with_an_error() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let base = service_url(&server);
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(move |req: &wiremock::Request| {
            let n: u64 = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "n")
                .map_or(0, |(_, v)| v.parse().unwrap());
            json(format!(
                r#"{{"value": [], "@odata.nextLink": "{base}accounts?n={}"}}"#,
                n + 1
            ))
        })
        .with_priority(1)
        .mount(&server)
        .await;
    let err = scan_all(&connector(&server), "accounts", ScanRequest::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "paging.empty_pages");
    assert_eq!(
        err.to_string(),
        "table accounts: 3 empty pages in a row still carry a next link (MaxEmptyPages=3); stopping"
    );
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 3);
}

/// The prefer headers of each request to `p`, in order.
async fn prefers(server: &MockServer, p: &str) -> Vec<Vec<String>> {
    requests_to(server, p)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get_all("prefer")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// Dataverse documents that `$top` beside `Prefer: odata.maxpagesize` is
/// ignored: a limit that fits a page is `$top` alone; should the server page
/// anyway, the next page asks for no more than the rows still wanted.
#[tokio::test]
async fn a_small_limit_is_top_alone_then_small_pages() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let batches = scan_all(
        &connector(&server),
        "accounts",
        ScanRequest::new().with_limit(3),
    )
    .await
    .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert_eq!(reqs[0].url.query(), Some("$top=3"));
    assert_eq!(
        prefers(&server, ACCOUNTS).await,
        [vec![], vec!["odata.maxpagesize=1".to_owned()]]
    );
}

/// A limit larger than PageSize is paged without `$top`, each page no larger
/// than the rows still wanted.
#[tokio::test]
async fn a_limit_beyond_the_page_size_pages_without_top() {
    let server = MockServer::builder().start().await;
    mount_all(&server).await;
    let c = source(&server).page_size(2).build().unwrap();
    let batches = scan_all(&c, "accounts", ScanRequest::new().with_limit(3))
        .await
        .unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let reqs = requests_to(&server, ACCOUNTS).await;
    assert!(
        reqs.iter().all(|r| !r.url.as_str().contains("top")),
        "{reqs:?}"
    );
    assert_eq!(
        prefers(&server, ACCOUNTS).await,
        [
            vec!["odata.maxpagesize=2".to_owned()],
            vec!["odata.maxpagesize=1".to_owned()]
        ]
    );
}

/// The next link is skimmed from a page before it is decoded: with
/// concurrency, page 2's request reaches the server before page 1's batch is
/// taken; with `MaxConcurrentRequests=1` it does not. Rows complete, in order.
#[tokio::test]
async fn the_next_page_is_requested_while_a_page_is_decoded() {
    for (max, ahead) in [("4", true), ("1", false)] {
        let server = MockServer::builder().start().await;
        mount_all(&server).await;
        let c = source(&server)
            .property("MaxConcurrentRequests", max)
            .build()
            .unwrap();
        let mut scan = c.scan("accounts", ScanRequest::new()).await.unwrap();
        let first = scan.batches.next().await.unwrap().unwrap();
        // The request in flight reaches the server on its own task.
        let mut seen = 0;
        for _ in 0..50 {
            seen = requests_to(&server, ACCOUNTS).await.len();
            if seen >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            seen,
            if ahead { 2 } else { 1 },
            "MaxConcurrentRequests={max}"
        );
        let mut batches = vec![first];
        while let Some(b) = scan.batches.next().await {
            batches.push(b.unwrap());
        }
        let names: Vec<_> = strings(&batches, "name").into_iter().flatten().collect();
        assert_eq!(
            names,
            [
                "Contoso Ltd",
                "Fabrikam, Inc. (O'Neil)",
                "Adventure Works",
                "Northwind Traders",
                "Wide World Importers"
            ],
            "MaxConcurrentRequests={max}"
        );
        let pages: Vec<_> = requests_to(&server, ACCOUNTS)
            .await
            .iter()
            .map(skiptoken_of)
            .collect();
        assert_eq!(pages, [None, Some(skiptoken(2)), Some(skiptoken(3))]);
    }
}
