//! The paging tests' server and source: `/items?page=k` pages of ids
//! answered after per-page delays, with what the server received and when.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use connectkit_core::client::{
    ApiClient, Body, CredentialScope, Decoded, Fetched, HttpRules, PageRun, PageSource,
    PagingLimits, paginate,
};
use connectkit_core::{Result, SecretString, StaticHeaderAuth};
use futures::StreamExt;
use reqwest::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path};

/// One request as the server saw it: the page asked for, when it arrived and
/// when its answer was due (arrival + delay), in real time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    pub(super) page: u64,
    pub(super) arrived: Instant,
    pub(super) answered: Instant,
    pub(super) throttled: bool,
}

/// `/items?page=k`: rows `k*size ..` of `total` as a JSON array of ids,
/// after `delay(k)`; a `x-next` header names the next page (page 99 for the
/// pages in `wrong_hint`); the first request for `throttle` gets a 429.
pub(super) struct Pages {
    pub(super) total: u64,
    pub(super) size: u64,
    pub(super) delay: fn(u64) -> Duration,
    pub(super) throttle: Option<u64>,
    pub(super) wrong_hint: Vec<u64>,
    pub(super) log: Arc<Mutex<Vec<Seen>>>,
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

pub(super) async fn serve(pages: Pages) -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(path("/items"))
        .respond_with(pages)
        .mount(&server)
        .await;
    server
}

pub(super) fn pages(
    total: u64,
    size: u64,
    delay: fn(u64) -> Duration,
) -> (Pages, Arc<Mutex<Vec<Seen>>>) {
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

pub(super) fn client(base: &Url) -> ApiClient {
    let mut scope = CredentialScope::new();
    scope.allow(base, "Sample", true).unwrap();
    let auth = StaticHeaderAuth::bearer(SecretString::from("t0k3n".to_owned())).unwrap();
    // No timers of its own, so that paused time advances only by the
    // layer's waits.
    let http = connectkit_core::client::client_builder()
        .expect("TLS setup")
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    ApiClient::new(http, Arc::new(auth), scope)
}

/// A source of `/items?page=k` pages of `size` ids; a short page is the last.
pub(super) struct Items {
    pub(super) base: Url,
    pub(super) size: usize,
    pub(super) ahead: bool,
    pub(super) rows_hint: bool,
    pub(super) follow_hints: bool,
    /// Simulated decoding cost (CPU time the runtime does not see).
    pub(super) decode_cost: Duration,
    /// When each page's decoding finished.
    pub(super) decoded: Arc<Mutex<Vec<(u64, Instant)>>>,
    /// Pages from this one on have no request (it cannot be built).
    pub(super) unbuildable_from: u64,
    pub(super) schema: SchemaRef,
    pub(super) rules: HttpRules,
}

impl Items {
    pub(super) fn new(base: &Url, size: usize) -> Self {
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

    pub(super) fn page_url(&self, number: u64) -> Url {
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

pub(super) async fn scan(
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

pub(super) fn received(log: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    log.lock().unwrap().clone()
}

/// The requests (not throttled) whose answer was still due when `at` arrived.
pub(super) fn in_flight(log: &[Seen], at: &Seen) -> usize {
    log.iter()
        .filter(|s| !s.throttled && s.arrived <= at.arrived && at.arrived < s.answered)
        .count()
}
