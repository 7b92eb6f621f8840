//! The paging engine's concurrency against a server on 127.0.0.1 that
//! answers pages after per-page delays: page order, the limit, throttling
//! (AIMD) and strictly sequential reading at `MaxConcurrentRequests=1`,
//! asserted on what and when the server received.

mod fixture;

use std::time::Duration;

use connectkit_core::Properties;
use connectkit_core::client::{PageRun, PagingLimits, paginate};
use futures::StreamExt;
use reqwest::Url;

use fixture::{Items, client, in_flight, pages, received, scan, serve};

fn slow_first(page: u64) -> Duration {
    // Page 0 answers last of the first four, page 3 first.
    Duration::from_millis(100 * (4 - page % 4))
}

#[tokio::test]
async fn batches_come_in_page_order_when_answers_do_not() {
    let (p, log) = pages(55, 10, slow_first);
    let server = serve(p).await;
    let base = Url::parse(&server.uri()).unwrap();
    let ids = scan(&base, Items::new(&base, 10), None, 4).await.unwrap();
    assert_eq!(ids, (0..55).collect::<Vec<_>>());
    let log = received(&log);
    let first = log.iter().find(|s| s.page == 0).unwrap();
    let early: Vec<u64> = log
        .iter()
        .filter(|s| s.arrived < first.answered)
        .map(|s| s.page)
        .collect();
    assert_eq!(early.len(), 4, "four pages in flight at once: {log:?}");
    let mut pages: Vec<u64> = log.iter().map(|s| s.page).collect();
    pages.sort();
    pages.dedup();
    assert_eq!(pages.len(), log.len(), "no page requested twice: {log:?}");
    // Page 5 is short: at most 3 pages past it were requested, then dropped.
    assert!(pages.iter().all(|p| *p <= 8), "{pages:?}");
}

#[tokio::test]
async fn a_limit_leaves_at_most_concurrency_minus_one_pages_beyond_it() {
    let (p, log) = pages(1000, 100, |_| Duration::from_millis(30));
    let server = serve(p).await;
    let base = Url::parse(&server.uri()).unwrap();
    let ids = scan(&base, Items::new(&base, 100), Some(250), 4)
        .await
        .unwrap();
    assert_eq!(ids, (0..250).collect::<Vec<_>>());
    let got = received(&log);
    for page in 0..3 {
        assert!(got.iter().any(|s| s.page == page), "{got:?}");
    }
    assert!(got.len() <= 3 + 3, "{got:?}");

    // A source that knows its page size has nothing requested past the limit.
    let (p, log) = pages(1000, 100, |_| Duration::from_millis(30));
    let server = serve(p).await;
    let base = Url::parse(&server.uri()).unwrap();
    let mut source = Items::new(&base, 100);
    source.rows_hint = true;
    let ids = scan(&base, source, Some(250), 4).await.unwrap();
    assert_eq!(ids.len(), 250);
    let mut got: Vec<u64> = received(&log).iter().map(|s| s.page).collect();
    got.sort();
    assert_eq!(got, [0, 1, 2]);
}

#[tokio::test]
async fn a_page_ahead_that_cannot_be_requested_fails_the_scan_only_if_it_is_needed() {
    let (p, log) = pages(25, 10, |_| Duration::from_millis(10));
    let server = serve(p).await;
    let base = Url::parse(&server.uri()).unwrap();
    let mut source = Items::new(&base, 10);
    source.unbuildable_from = 3;
    let ids = scan(&base, source, None, 4).await.unwrap();
    assert_eq!(ids, (0..25).collect::<Vec<_>>());
    assert_eq!(received(&log).len(), 3);

    let mut source = Items::new(&base, 10);
    source.unbuildable_from = 2;
    let limits = PagingLimits::default().with_max_concurrent_requests(4);
    let first = source.page_url(0);
    let mut stream = paginate(
        client(&base),
        source,
        first,
        PageRun::new(None).with_limits(limits),
    );
    let mut got = Vec::new();
    while let Some(item) = stream.next().await {
        got.push(item.map(|b| b.num_rows()).map_err(|e| e.to_string()));
    }
    assert_eq!(
        got,
        [
            Ok(10),
            Ok(10),
            Err("property page: expected a page before 2".to_owned())
        ]
    );
}

#[tokio::test]
async fn one_request_at_a_time_is_strictly_sequential() {
    for ahead in [true, false] {
        let (p, log) = pages(45, 10, |_| Duration::from_millis(60));
        let server = serve(p).await;
        let base = Url::parse(&server.uri()).unwrap();
        let mut source = Items::new(&base, 10);
        source.ahead = ahead;
        source.follow_hints = true;
        let ids = scan(&base, source, None, 1).await.unwrap();
        assert_eq!(ids, (0..45).collect::<Vec<_>>());
        let log = received(&log);
        let pages: Vec<u64> = log.iter().map(|s| s.page).collect();
        assert_eq!(pages, [0, 1, 2, 3, 4]);
        for w in log.windows(2) {
            assert!(
                w[1].arrived >= w[0].answered,
                "page {} arrived before page {} was answered",
                w[1].page,
                w[0].page
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_hint_overlaps_and_a_wrong_one_is_dropped() {
    let (mut p, log) = pages(45, 10, |_| Duration::from_millis(20));
    p.wrong_hint = vec![2];
    let server = serve(p).await;
    let base = Url::parse(&server.uri()).unwrap();
    let mut source = Items::new(&base, 10);
    source.ahead = false;
    source.follow_hints = true;
    source.decode_cost = Duration::from_millis(100);
    let decoded = source.decoded.clone();
    let ids = scan(&base, source, None, 2).await.unwrap();
    assert_eq!(ids, (0..45).collect::<Vec<_>>());
    let log = received(&log);
    let decoded = decoded.lock().unwrap().clone();
    let arrived = |page: u64| {
        let hits: Vec<_> = log.iter().filter(|s| s.page == page).collect();
        assert_eq!(hits.len(), 1, "page {page} requested once: {log:?}");
        hits[0].arrived
    };
    let decoded_at = |page: u64| decoded.iter().find(|(p, _)| *p == page).unwrap().1;
    // Pages 0, 1 and 3 name the right next page: it is requested while they
    // are decoded. Page 2 names page 99: page 3 waits for page 2's decoding.
    for page in [0, 1, 3] {
        assert!(
            arrived(page + 1) < decoded_at(page),
            "page {} was requested after page {page} was decoded",
            page + 1
        );
    }
    assert!(arrived(3) > decoded_at(2));
    assert!(log.iter().all(|s| s.page <= 5 || s.page == 99), "{log:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_halves_the_concurrency_and_waits_out_retry_after() {
    let (mut p, log) = pages(155, 10, |_| Duration::from_millis(150));
    p.throttle = Some(2);
    let server = serve(p).await;
    let base = Url::parse(&server.uri()).unwrap();
    let started = tokio::time::Instant::now();
    let ids = scan(&base, Items::new(&base, 10), None, 4).await.unwrap();
    assert_eq!(ids, (0..155).collect::<Vec<_>>());
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "Retry-After: 30 was waited out"
    );
    let log = received(&log);
    assert_eq!(log.iter().filter(|s| s.page == 2).count(), 2);
    let at = |page: u64| log.iter().rfind(|s| s.page == page).unwrap();
    let before = in_flight(&log, at(3));
    assert!(before >= 3, "pages 0, 1, 3 in flight together: {log:?}");
    // Halved to 2 once the 429 was seen; 8 calm pages later it grows again.
    for page in 4..=9 {
        let n = in_flight(&log, at(page));
        assert!(n <= 2, "page {page} arrived with {n} in flight: {log:?}");
    }
    let most = (10..=15).map(|p| in_flight(&log, at(p))).max().unwrap();
    assert!(most >= 3, "the concurrency grew again: {log:?}");
}

#[test]
fn max_concurrent_requests_is_a_positive_whole_number() {
    let props = |v: &str| -> Properties {
        format!("x:MaxConcurrentRequests={v}")
            .parse::<connectkit_core::ConnectionUrl>()
            .unwrap()
            .into_parts()
            .1
    };
    assert_eq!(PagingLimits::default().max_concurrent_requests, 4);
    let l = PagingLimits::from_properties(&props("1")).unwrap();
    assert_eq!(l.max_concurrent_requests, 1);
    let e = PagingLimits::from_properties(&props("0")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "property MaxConcurrentRequests: expected a positive whole number, found \"0\""
    );
}
