//! The paging engine's concurrency against a server on 127.0.0.1 that
//! answers pages after per-page delays: page order, the limit, throttling
//! (AIMD) and strictly sequential reading at `MaxConcurrentRequests=1`,
//! asserted on what and when the server received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::client::{
    ApiClient, Body, CredentialScope, Decoded, Fetched, HttpRules, PageRun, PageSource,
    PagingLimits, paginate,
};
use connectkit_core::{Properties, Result, SecretString, StaticHeaderAuth};
use futures::StreamExt;
use reqwest::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path};

/// One request as the server saw it: the page asked for, when it arrived and
/// when its answer was due (arrival + delay), in real time.
#[derive(Debug, Clone, Copy)]
struct Seen {
    page: u64,
    arrived: Instant,
    answered: Instant,
    throttled: bool,
}

/// `/items?page=k`: rows `k*size ..` of `total` as a JSON array of ids,
/// after `delay(k)`; a `x-next` header names the next page (page 99 for the
/// pages in `wrong_hint`); the first request for `throttle` gets a 429.
struct Pages {
    total: u64,
    size: u64,
    delay: fn(u64) -> Duration,
    throttle: Option<u64>,
    wrong_hint: Vec<u64>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let page: u64 = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(u64::MAX);
        let arrived = Instant::now();
        let mut log = self.log.lock().unwrap();
        let throttled = self.throttle == Some(page) && !log.iter().any(|s| s.page == page);
        let delay = if throttled {
            Duration::ZERO
        } else {
            (self.delay)(page)
        };
        log.push(Seen {
            page,
            arrived,
            answered: arrived + delay,
            throttled,
        });
        if throttled {
            return ResponseTemplate::new(429).insert_header("retry-after", "30");
        }
        let from = page.saturating_mul(self.size).min(self.total);
        let to = (from + self.size).min(self.total);
        let ids: Vec<u64> = (from..to).collect();
        let next = if self.wrong_hint.contains(&page) {
            99
        } else {
            page + 1
        };
        ResponseTemplate::new(200)
            .set_body_json(ids)
            .insert_header("x-next", format!("/items?page={next}").as_str())
            .set_delay(delay)
    }
}

async fn serve(pages: Pages) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/items"))
        .respond_with(pages)
        .mount(&server)
        .await;
    server
}

fn pages(total: u64, size: u64, delay: fn(u64) -> Duration) -> (Pages, Arc<Mutex<Vec<Seen>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let p = Pages {
        total,
        size,
        delay,
        throttle: None,
        wrong_hint: Vec::new(),
        log: log.clone(),
    };
    (p, log)
}

fn client(base: &Url) -> ApiClient {
    let mut scope = CredentialScope::new();
    scope.allow(base, "Sample", true).unwrap();
    let auth = StaticHeaderAuth::bearer(SecretString::from("t0k3n".to_owned())).unwrap();
    // No timers of its own, so that paused time advances only by the
    // layer's waits.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    ApiClient::new(http, Arc::new(auth), scope)
}

/// A source of `/items?page=k` pages of `size` ids; a short page is the last.
struct Items {
    base: Url,
    size: usize,
    ahead: bool,
    rows_hint: bool,
    follow_hints: bool,
    /// Simulated decoding cost (CPU time the runtime does not see).
    decode_cost: Duration,
    /// When each page's decoding finished.
    decoded: Arc<Mutex<Vec<(u64, Instant)>>>,
    /// Pages from this one on have no request (it cannot be built).
    unbuildable_from: u64,
    schema: SchemaRef,
    rules: HttpRules,
}

impl Items {
    fn new(base: &Url, size: usize) -> Self {
        Items {
            base: base.clone(),
            size,
            ahead: true,
            rows_hint: false,
            follow_hints: false,
            decode_cost: Duration::ZERO,
            decoded: Arc::default(),
            unbuildable_from: u64::MAX,
            schema: Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
            rules: HttpRules::standard(),
        }
    }

    fn page_url(&self, number: u64) -> Url {
        self.base.join(&format!("/items?page={number}")).unwrap()
    }
}

impl PageSource for Items {
    fn table(&self) -> &str {
        "items"
    }

    fn request(&mut self, _: &ApiClient, url: &Url, _: Option<usize>) -> Result<reqwest::Request> {
        Ok(reqwest::Request::new(reqwest::Method::GET, url.clone()))
    }

    fn rules(&self) -> &HttpRules {
        &self.rules
    }

    fn decode(&mut self, number: u64, page: Fetched) -> Result<Decoded> {
        let Fetched::Body(body) = page else {
            panic!("no body")
        };
        let ids: Vec<i64> = serde_json::from_slice(&body.bytes).unwrap();
        if !self.decode_cost.is_zero() {
            // Stands for CPU-bound decoding: it blocks the thread.
            std::thread::sleep(self.decode_cost);
        }
        self.decoded.lock().unwrap().push((number, Instant::now()));
        let next = (ids.len() == self.size).then(|| self.page_url(number + 1));
        let batch =
            RecordBatch::try_new(self.schema.clone(), vec![Arc::new(Int64Array::from(ids))])
                .unwrap();
        Ok(Decoded::new(batch, next))
    }

    fn pages_known_ahead(&self) -> bool {
        self.ahead
    }

    fn request_page(&mut self, _: &ApiClient, number: u64) -> Result<Option<reqwest::Request>> {
        if number >= self.unbuildable_from {
            return Err(connectkit_core::Error::invalid_property(
                "page",
                format!("a page before {}", self.unbuildable_from),
                None,
            ));
        }
        let url = self.page_url(number);
        Ok(Some(reqwest::Request::new(reqwest::Method::GET, url)))
    }

    fn rows_per_page(&self) -> Option<usize> {
        self.rows_hint.then_some(self.size)
    }

    fn next_hint(&self, page: &Body) -> Option<Url> {
        let link = page.headers.get("x-next")?.to_str().ok()?;
        self.follow_hints
            .then(|| page.url.join(link).ok())
            .flatten()
    }
}

async fn scan(
    base: &Url,
    source: Items,
    limit: Option<usize>,
    concurrency: usize,
) -> Result<Vec<i64>> {
    let limits = PagingLimits::default().with_max_concurrent_requests(concurrency);
    let first = source.page_url(0);
    let run = PageRun::new(limit).with_limits(limits);
    let mut stream = paginate(client(base), source, first, run);
    let mut ids = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        ids.extend(col.iter().flatten());
    }
    Ok(ids)
}

fn received(log: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    log.lock().unwrap().clone()
}

/// The requests (not throttled) whose answer was still due when `at` arrived.
fn in_flight(log: &[Seen], at: &Seen) -> usize {
    log.iter()
        .filter(|s| !s.throttled && s.arrived <= at.arrived && at.arrived < s.answered)
        .count()
}

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
