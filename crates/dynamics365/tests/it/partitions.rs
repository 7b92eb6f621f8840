//! Partitioned scans: a Dataverse table split into `createdon` ranges, each
//! its own nextLink chain, against a fake Dataverse that evaluates the
//! `$filter`, `$orderby` and `$top` it receives (so what each range returns
//! is what the server selected for the request it got).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use chrono::DateTime;
use connectkit_core::{Connector, ErrorKind, Filter, FilterOp, ScanPartition, ScanRequest};
use connectkit_dynamics365::Dynamics365Connector;
use futures::TryStreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

/// One account: its number, `createdon` in seconds (or null), employees.
#[derive(Clone, Debug)]
struct Row {
    n: u32,
    created: Option<i64>,
    employees: i64,
}

impl Row {
    fn id(&self) -> String {
        format!("a0000000-0000-0000-0000-{:012}", self.n)
    }

    fn json(&self) -> Value {
        let created = self.created.map(|s| {
            DateTime::from_timestamp(s, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        });
        json!({"@odata.etag": format!("W/\"{}\"", self.n), "accountid": self.id(),
               "name": format!("account {}", self.n), "numberofemployees": self.employees,
               "createdon": created})
    }
}

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;

/// `count` accounts created an hour apart, every seventh without `createdon`.
fn rows(count: u32) -> Vec<Row> {
    (1..=count)
        .map(|n| Row {
            n,
            created: (n % 7 != 0).then(|| T0 + i64::from(n) * 3600),
            employees: i64::from(n) * 10,
        })
        .collect()
}

// ---- a tiny `$filter` evaluator: what the fake server selects ----

#[derive(Debug)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(String, String, String),
}

fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' => {
                chars.next();
            }
            '(' | ')' => {
                out.push(c.to_string());
                chars.next();
            }
            '\'' => {
                let mut t = String::from("'");
                chars.next();
                while let Some(c) = chars.next() {
                    t.push(c);
                    if c == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                out.push(t);
            }
            _ => {
                let mut t = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ' ' || c == '(' || c == ')' {
                        break;
                    }
                    t.push(c);
                    chars.next();
                }
                out.push(t);
            }
        }
    }
    out
}

fn parse(tokens: &[String]) -> Expr {
    fn or(t: &[String], i: &mut usize) -> Expr {
        let mut e = and(t, i);
        while t.get(*i).map(String::as_str) == Some("or") {
            *i += 1;
            e = Expr::Or(Box::new(e), Box::new(and(t, i)));
        }
        e
    }
    fn and(t: &[String], i: &mut usize) -> Expr {
        let mut e = atom(t, i);
        while t.get(*i).map(String::as_str) == Some("and") {
            *i += 1;
            e = Expr::And(Box::new(e), Box::new(atom(t, i)));
        }
        e
    }
    fn atom(t: &[String], i: &mut usize) -> Expr {
        if t[*i] == "(" {
            *i += 1;
            let e = or(t, i);
            assert_eq!(t[*i], ")", "unbalanced $filter");
            *i += 1;
            return e;
        }
        let e = Expr::Cmp(t[*i].clone(), t[*i + 1].clone(), t[*i + 2].clone());
        *i += 3;
        e
    }
    let mut i = 0;
    let e = or(tokens, &mut i);
    assert_eq!(i, tokens.len(), "trailing tokens in $filter: {tokens:?}");
    e
}

fn holds(e: &Expr, r: &Row) -> bool {
    match e {
        Expr::And(a, b) => holds(a, r) && holds(b, r),
        Expr::Or(a, b) => holds(a, r) || holds(b, r),
        Expr::Cmp(col, op, lit) => {
            let value: Option<i64> = match col.as_str() {
                "createdon" => r.created,
                "numberofemployees" => Some(r.employees),
                other => panic!("the fake server cannot filter on {other}"),
            };
            if lit == "null" {
                return match op.as_str() {
                    "eq" => value.is_none(),
                    "ne" => value.is_some(),
                    _ => panic!("{op} null"),
                };
            }
            let lit: i64 = match col.as_str() {
                "createdon" => DateTime::parse_from_rfc3339(lit).unwrap().timestamp(),
                _ => lit.parse().unwrap(),
            };
            let Some(v) = value else { return false };
            match op.as_str() {
                "eq" => v == lit,
                "ne" => v != lit,
                "ge" => v >= lit,
                "gt" => v > lit,
                "le" => v <= lit,
                "lt" => v < lit,
                _ => panic!("operator {op}"),
            }
        }
    }
}

/// The accounts entity set: `$filter`, `$orderby createdon asc|desc`,
/// `$top`, `$select`, `Prefer: odata.maxpagesize` and `$skiptoken` next
/// links. Records the ids of every row it sends.
#[derive(Clone)]
struct Fake {
    base: String,
    rows: Arc<Vec<Row>>,
    sent: Arc<Mutex<Vec<String>>>,
    /// A per-page latency (real time; only for tests on the real clock).
    delay: Option<Duration>,
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let filter = q.get("$filter").map(|f| parse(&tokens(f)));
        let mut rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| filter.as_ref().is_none_or(|f| holds(f, r)))
            .collect();
        match q.get("$orderby").map(String::as_str) {
            None => {}
            Some("createdon asc") => rows.sort_by_key(|r| r.created),
            Some("createdon desc") => rows.sort_by_key(|r| std::cmp::Reverse(r.created)),
            Some(o) => panic!("$orderby={o}"),
        }
        if let Some(top) = q.get("$top") {
            rows.truncate(top.parse().unwrap());
        }
        let page = header(req, "prefer")
            .and_then(|p| p.strip_prefix("odata.maxpagesize="))
            .map_or(5000, |n| n.parse().unwrap());
        let skip: usize = q.get("$skiptoken").map_or(0, |s| s.parse().unwrap());
        let more = rows.len() > skip + page;
        let rows: Vec<&Row> = rows.into_iter().skip(skip).take(page).collect();
        self.sent.lock().unwrap().extend(
            rows.iter()
                .filter(|_| !q.contains_key("$orderby"))
                .map(|r| r.id()),
        );
        let select: Option<Vec<&str>> = q.get("$select").map(|s| s.split(',').collect());
        let values: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut v = r.json();
                if let Some(cols) = &select {
                    v.as_object_mut()
                        .unwrap()
                        .retain(|k, _| k.starts_with('@') || cols.contains(&k.as_str()));
                }
                v
            })
            .collect();
        let mut body = json!({ "value": values });
        if more {
            let mut next = url::Url::parse(&format!("{}{}", self.base, req.url.path())).unwrap();
            let pairs = q
                .iter()
                .filter(|(k, _)| *k != "$skiptoken")
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain([("$skiptoken".to_owned(), (skip + page).to_string())]);
            next.query_pairs_mut().clear().extend_pairs(pairs);
            body["@odata.nextLink"] = Value::String(next.to_string());
        }
        let t = json(body.to_string());
        match self.delay {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}

/// The service document and `$metadata` of the fixtures.
async fn mount_metadata(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(BASE_PATH))
        .respond_with(json(served(server, "service.json")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(served(server, "metadata.xml"), "application/xml"),
        )
        .mount(server)
        .await;
}

async fn fake(server: &MockServer, rows: Vec<Row>, delay: Option<Duration>) -> Fake {
    mount_metadata(server).await;
    let fake = Fake {
        base: server.uri(),
        rows: Arc::new(rows),
        sent: Arc::default(),
        delay,
    };
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(fake.clone())
        .with_priority(5)
        .mount(server)
        .await;
    fake
}

fn partitioned(server: &MockServer, n: usize) -> Dynamics365Connector {
    source(server)
        .property("AccessToken", "at-0")
        .scan_partitions(n)
        .property("MaxConcurrentRequests", "8")
        .page_size(4)
        .build()
        .unwrap()
}

/// The decoded query options of a request.
fn options(r: &Request) -> BTreeMap<String, String> {
    r.url.query_pairs().into_owned().collect()
}

async fn scan_ids(
    c: &Dynamics365Connector,
    request: &ScanRequest,
    p: &ScanPartition,
) -> connectkit_core::Result<Vec<String>> {
    let scan = c.scan_partition("accounts", request.clone(), p).await?;
    let batches: Vec<RecordBatch> = scan.batches.try_collect().await?;
    Ok(strings(&batches, "accountid")
        .into_iter()
        .flatten()
        .collect())
}

/// Every partition read at once; the ids each returned.
async fn scan_every(
    c: &Dynamics365Connector,
    request: &ScanRequest,
    parts: &[ScanPartition],
) -> Vec<Vec<String>> {
    futures::future::try_join_all(parts.iter().map(|p| scan_ids(c, request, p)))
        .await
        .unwrap()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn every_row_is_read_exactly_once_across_the_ranges() {
    let server = MockServer::builder().start().await;
    let all = rows(60);
    let fake = fake(&server, all.clone(), Some(Duration::from_millis(20))).await;
    let c = partitioned(&server, 4);
    let request = ScanRequest::new().with_projection(["accountid", "name"]);
    let parts = c.partitions("accounts", &request, 4).await.unwrap();
    // Bounds: 2024-01-01T01:00Z (row 1) and 2024-01-03T12:00Z (row 60),
    // cut into four ranges; the nulls go with the first.
    let described: Vec<&str> = parts.iter().map(|p| p.description.as_str()).collect();
    assert_eq!(
        described,
        [
            "createdon lt 2024-01-01T15:45:00Z or createdon eq null",
            "createdon ge 2024-01-01T15:45:00Z and createdon lt 2024-01-02T06:30:00Z",
            "createdon ge 2024-01-02T06:30:00Z and createdon lt 2024-01-02T21:15:00Z",
            "createdon ge 2024-01-02T21:15:00Z",
        ]
    );
    assert!(parts.iter().all(|p| p.count == 4));
    let mut bounds: Vec<BTreeMap<String, String>> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .map(options)
        .collect();
    // Sent together: in either order.
    bounds.sort_by(|a, b| a.get("$orderby").cmp(&b.get("$orderby")));
    assert_eq!(bounds.len(), 2, "{bounds:?}");
    for (q, order) in bounds.iter().zip(["createdon asc", "createdon desc"]) {
        assert_eq!(q["$orderby"], order);
        assert_eq!(q["$top"], "1");
        assert_eq!(q["$select"], "createdon");
        assert_eq!(q["$filter"], "createdon ne null");
    }

    let got = scan_every(&c, &request, &parts).await;
    let ids: Vec<String> = got.concat();
    let expected: Vec<String> = all.iter().map(Row::id).collect();
    assert_eq!(
        sorted(ids.clone()),
        sorted(expected.clone()),
        "each row once"
    );
    // The server sent each row once, and the ranges hold what they say.
    assert_eq!(sorted(fake.sent.lock().unwrap().clone()), sorted(expected));
    let nulls: Vec<String> = all
        .iter()
        .filter(|r| r.created.is_none())
        .map(Row::id)
        .collect();
    assert!(
        nulls.iter().all(|id| got[0].contains(id)),
        "nulls in range 1"
    );
    assert!(got.iter().all(|g| !g.is_empty()));
    // Each range is its own chain: its first request carries its predicate
    // (and the projection), the next ones come from its next links.
    let scans: Vec<BTreeMap<String, String>> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .map(options)
        .filter(|q| !q.contains_key("$orderby"))
        .collect();
    for p in &parts {
        let firsts = scans
            .iter()
            .filter(|q| q.get("$filter") == Some(&p.description) && !q.contains_key("$skiptoken"))
            .count();
        assert_eq!(firsts, 1, "{}", p.description);
    }
    assert!(scans.iter().all(|q| q["$select"] == "accountid,name"));
    assert_eq!(
        scans.len(),
        got.iter()
            .map(|g| g.len().div_ceil(4).max(1))
            .sum::<usize>(),
        "pages of 4 rows, one chain per range"
    );
}

#[tokio::test]
async fn the_users_filter_is_combined_with_each_range() {
    let server = MockServer::builder().start().await;
    let all = rows(40);
    fake(&server, all.clone(), None).await;
    let c = partitioned(&server, 3);
    c.schema("accounts").await.unwrap();
    let request = ScanRequest::new()
        .with_projection(["accountid"])
        .with_filter(Filter::new("numberofemployees", FilterOp::Ge, 150i64));
    let parts = c.partitions("accounts", &request, 8).await.unwrap();
    assert_eq!(parts.len(), 3, "at most ScanPartitions");
    let got = scan_every(&c, &request, &parts).await.concat();
    let expected: Vec<String> = all
        .iter()
        .filter(|r| r.employees >= 150)
        .map(Row::id)
        .collect();
    assert_eq!(sorted(got), sorted(expected));
    let sent: Vec<BTreeMap<String, String>> = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .map(options)
        .collect();
    let bounds: Vec<_> = sent.iter().filter(|q| q.contains_key("$orderby")).collect();
    assert_eq!(bounds.len(), 2);
    assert!(
        bounds
            .iter()
            .all(|q| q["$filter"] == "(numberofemployees ge 150) and (createdon ne null)")
    );
    for p in &parts {
        let want = format!("(numberofemployees ge 150) and ({})", p.description);
        assert!(
            sent.iter().any(|q| q.get("$filter") == Some(&want)),
            "no request with $filter={want}: {sent:?}"
        );
    }
}

#[tokio::test]
async fn a_limit_reads_one_partition_and_asks_for_no_bounds() {
    let server = MockServer::builder().start().await;
    fake(&server, rows(30), None).await;
    let c = partitioned(&server, 4);
    let request = ScanRequest::new().with_limit(3);
    let parts = c.partitions("accounts", &request, 4).await.unwrap();
    assert_eq!(parts, [ScanPartition::whole()]);
    let ids = scan_ids(&c, &request, &parts[0]).await.unwrap();
    assert_eq!(ids.len(), 3);
    let sent = requests_to(&server, ACCOUNTS).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(options(&sent[0]).get("$top").map(String::as_str), Some("3"));
    // One partition wanted, or ScanPartitions=1: no bounds either.
    let c1 = partitioned(&server, 1);
    let parts = c1
        .partitions("accounts", &ScanRequest::new(), 4)
        .await
        .unwrap();
    assert_eq!(parts, [ScanPartition::whole()]);
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), 1);
}

#[tokio::test]
async fn ranges_without_rows_answer_none_and_lose_nothing() {
    let server = MockServer::builder().start().await;
    // Two clusters far apart: the middle ranges hold no row.
    let mut all = rows(10);
    for r in all.iter_mut().skip(5) {
        r.created = r.created.map(|s| s + 365 * 86_400);
    }
    fake(&server, all.clone(), None).await;
    let c = partitioned(&server, 4);
    let parts = c
        .partitions("accounts", &ScanRequest::new(), 4)
        .await
        .unwrap();
    assert_eq!(parts.len(), 4);
    let got = scan_every(&c, &ScanRequest::new(), &parts).await;
    assert!(got[1].is_empty() && got[2].is_empty(), "{got:?}");
    let expected: Vec<String> = all.iter().map(Row::id).collect();
    assert_eq!(sorted(got.concat()), sorted(expected));
}

#[tokio::test]
async fn an_empty_table_or_one_without_values_is_one_partition() {
    let server = MockServer::builder().start().await;
    fake(&server, Vec::new(), None).await;
    let c = partitioned(&server, 4);
    let parts = c
        .partitions("accounts", &ScanRequest::new(), 4)
        .await
        .unwrap();
    assert_eq!(parts, [ScanPartition::whole()]);
    assert!(
        scan_ids(&c, &ScanRequest::new(), &parts[0])
            .await
            .unwrap()
            .is_empty()
    );
    let sent = requests_to(&server, ACCOUNTS).await;
    assert_eq!(sent.len(), 3, "two bounds requests, one scan");

    // Rows, but none with a createdon: nothing to split on either.
    let server = MockServer::builder().start().await;
    let mut all = rows(5);
    all.iter_mut().for_each(|r| r.created = None);
    fake(&server, all, None).await;
    let c = partitioned(&server, 4);
    let parts = c
        .partitions("accounts", &ScanRequest::new(), 4)
        .await
        .unwrap();
    assert_eq!(parts, [ScanPartition::whole()]);
    assert_eq!(
        scan_ids(&c, &ScanRequest::new(), &parts[0])
            .await
            .unwrap()
            .len(),
        5
    );
}

/// Requests whose `$filter` contains `needle`.
struct FilterHas(&'static str);

impl Match for FilterHas {
    fn matches(&self, r: &Request) -> bool {
        options(r)
            .get("$filter")
            .is_some_and(|f| f.contains(self.0))
    }
}

#[tokio::test]
async fn a_failing_range_fails_its_partition_only() {
    let server = MockServer::builder().start().await;
    let all = rows(24);
    fake(&server, all.clone(), None).await;
    // The server refuses the third range.
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(FilterHas("createdon ge 2024-01-01T12:30:00Z"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!(
            {"error": {"code": "0x80040216", "message": "An unexpected error occurred."}})))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = partitioned(&server, 4);
    let all_rows = ScanRequest::new();
    let parts = c.partitions("accounts", &all_rows, 4).await.unwrap();
    assert_eq!(
        parts[2].description,
        "createdon ge 2024-01-01T12:30:00Z and createdon lt 2024-01-01T18:15:00Z"
    );
    let results: Vec<_> =
        futures::future::join_all(parts.iter().map(|p| scan_ids(&c, &all_rows, p))).await;
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().contains("An unexpected error occurred."),
        "{err}"
    );
    for i in [0, 1, 3] {
        assert!(!results[i].as_ref().unwrap().is_empty());
    }
    // A key that is not one of this table's ranges is refused, not sent.
    let forged = ScanPartition::new(0, 2, "x").with_key(r#"{"column":"name","lt":"'a'"}"#);
    let before = requests_to(&server, ACCOUNTS).await.len();
    let err = scan_ids(&c, &ScanRequest::new(), &forged)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a partition of this table"),
        "{err}"
    );
    assert_eq!(requests_to(&server, ACCOUNTS).await.len(), before);
}

#[tokio::test]
async fn a_server_that_cannot_order_on_the_column_reads_one_partition() {
    let server = MockServer::builder().start().await;
    fake(&server, rows(12), None).await;
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(FilterHas("createdon ne null"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!(
            {"error": {"code": "0x80060888", "message": "$orderby is not supported"}})))
        .with_priority(1)
        .mount(&server)
        .await;
    let c = partitioned(&server, 4);
    let parts = c
        .partitions("accounts", &ScanRequest::new(), 4)
        .await
        .unwrap();
    assert_eq!(parts, [ScanPartition::whole()]);
    assert_eq!(
        scan_ids(&c, &ScanRequest::new(), &parts[0])
            .await
            .unwrap()
            .len(),
        12
    );
}

/// Answers the first request with 429 and `Retry-After: 30`, then defers.
struct ThrottleOnce(Arc<Mutex<bool>>);

impl Respond for ThrottleOnce {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        *self.0.lock().unwrap() = true;
        ResponseTemplate::new(429).insert_header("Retry-After", "30")
    }
}

/// One client, one throttle: a 429 with `Retry-After` answered to one
/// range holds back the requests of the others until it has passed (on
/// tokio's paused clock).
#[tokio::test(start_paused = true)]
async fn a_retry_after_in_one_range_holds_back_the_others() {
    let server = MockServer::builder().start().await;
    fake(&server, rows(16), None).await;
    let c = source(&server)
        .property("AccessToken", "at-0")
        .http_client(
            connectkit_core::client::client_builder()
                .expect("TLS setup")
                .pool_idle_timeout(None)
                .build()
                .unwrap(),
        )
        .scan_partitions(2)
        .page_size(100)
        .build()
        .unwrap();
    let parts = c
        .partitions("accounts", &ScanRequest::new(), 2)
        .await
        .unwrap();
    assert_eq!(parts.len(), 2);
    let answered = Arc::new(Mutex::new(false));
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(FilterHas("eq null"))
        .respond_with(ThrottleOnce(answered.clone()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let start = tokio::time::Instant::now();
    let c = Arc::new(c);
    let first = tokio::spawn({
        let (c, p) = (c.clone(), parts[0].clone());
        async move { scan_ids(&c, &ScanRequest::new(), &p).await }
    });
    // Once range 1 was throttled, range 2 starts; its request waits too.
    while !*answered.lock().unwrap() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second_started = start.elapsed();
    assert!(
        second_started < Duration::from_secs(30),
        "{second_started:?}"
    );
    let second = scan_ids(&c, &ScanRequest::new(), &parts[1]).await.unwrap();
    let second_done = start.elapsed();
    assert!(
        second_done >= Duration::from_secs(30),
        "range 2 finished at {second_done:?}, before range 1's Retry-After passed"
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.len() + second.len(), 16);
    let throttled = requests_to(&server, ACCOUNTS)
        .await
        .iter()
        .filter(|r| {
            options(r)
                .get("$filter")
                .is_some_and(|f| f.contains("eq null"))
        })
        .count();
    assert_eq!(throttled, 2, "range 1: the 429, then its retry");
}
