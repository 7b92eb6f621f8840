//! Offset paging with pages requested ahead (`MaxConcurrentRequests`,
//! default 4): every row once and in order although the server answers out
//! of order, no page requested twice, a limit requests no page it cannot
//! need, and a page longer than `#maximumPageSize` is an error.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::ScanRequest;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common::{Paged, ids, model_file, requests_to, rows};

/// The `offset` style of paging.rest, each page answered after a delay
/// that makes later pages overtake earlier ones; arrival and answer times
/// are logged.
struct Shuffled {
    paged: Paged,
    log: Arc<Mutex<Vec<(usize, Instant, Instant)>>>,
}

impl Respond for Shuffled {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let offset: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "offset")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let delay = Duration::from_millis(20 * (4 - (offset / 2 % 4)) as u64);
        let now = Instant::now();
        self.log.lock().unwrap().push((offset, now, now + delay));
        self.paged.respond(req).set_delay(delay)
    }
}

#[tokio::test]
async fn offset_paging_with_four_in_flight_returns_every_row_once_in_order() {
    let server = MockServer::builder().start().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    Mock::given(path("/offset/items"))
        .respond_with(Shuffled {
            paged: Paged {
                style: "offset",
                rows: 41,
            },
            log: log.clone(),
        })
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .max_concurrent_requests(4)
        .build()
        .unwrap();
    let got = rows(&c, "offset", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), (0..41).collect::<Vec<_>>());
    let log = log.lock().unwrap().clone();
    let mut offsets: Vec<usize> = log.iter().map(|(o, _, _)| *o).collect();
    offsets.sort();
    let n = offsets.len();
    offsets.dedup();
    assert_eq!(offsets.len(), n, "no page requested twice: {offsets:?}");
    // Pages 0..=20 (the last one short), then at most 3 requested ahead.
    assert!(offsets.starts_with(&(0..=40).step_by(2).collect::<Vec<_>>()));
    assert!(offsets.len() <= 21 + 3, "{offsets:?}");
    let (_, _, first_answered) = log.iter().find(|(o, _, _)| *o == 0).unwrap();
    let early = log.iter().filter(|(_, a, _)| a < first_answered).count();
    assert_eq!(early, 4, "four pages in flight before the first answer");
}

#[tokio::test]
async fn link_header_pages_are_requested_once_each_while_the_page_before_is_decoded() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/link_header/items"))
        .respond_with(Paged {
            style: "link_header",
            rows: 9,
        })
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "link_header", ScanRequest::new()).await.unwrap();
    assert_eq!(ids(&got), (0..9).collect::<Vec<_>>());
    let sent: Vec<String> = requests_to(&server, "/link_header/items")
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect();
    assert_eq!(sent, ["", "from=2", "from=4", "from=6", "from=8"]);
}

#[tokio::test]
async fn a_limit_requests_no_page_it_cannot_need() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/offset/items"))
        .respond_with(Paged {
            style: "offset",
            rows: 41,
        })
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let got = rows(&c, "offset", ScanRequest::new().with_limit(5))
        .await
        .unwrap();
    assert_eq!(ids(&got), [0, 1, 2, 3, 4]);
    let mut sent: Vec<String> = requests_to(&server, "/offset/items")
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or("").to_owned())
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"]
    );
}

#[tokio::test]
async fn a_page_longer_than_the_page_size_is_an_error_when_paging_ahead() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/offset/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 0, "name": "a"}, {"id": 1, "name": "b"}, {"id": 2, "name": "c"}
        ])))
        .mount(&server)
        .await;
    let model = model_file("paging.rest", &server);
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .build()
        .unwrap();
    let e = rows(&c, "offset", ScanRequest::new()).await.unwrap_err();
    assert!(
        e.to_string().contains(
            "table offset: the page holds 3 rows, more than #maximumPageSize=2, so the offsets \
             of the pages requested ahead are wrong; correct #maximumPageSize or set \
             MaxConcurrentRequests=1"
        ),
        "{e}"
    );
    // One page after another, the same server is read as the vendor reads it.
    let c = AutoRestDataSource::new()
        .config(model.path().to_str().unwrap())
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    let e = rows(&c, "offset", ScanRequest::new()).await;
    assert!(!format!("{e:?}").contains("#maximumPageSize"), "{e:?}");
}
