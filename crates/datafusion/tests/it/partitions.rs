//! Partitioned scans of an offset-paged REST source that states its total:
//! four partitions each read every fourth page; together they return
//! exactly the rows of the one-partition scan, each page requested once,
//! and a limit reads one partition. Without a stated total, or past it,
//! nothing is split or read twice.

use std::io::Write;
use std::sync::Arc;

use connectkit_core::{Connector, ScanRequest};
use connectkit_datafusion::datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::*;

const ITEMS: &str = "/api/items";

/// `rows` items, `limit`/`offset` paged, with their `total`; the page at
/// `fail_at` answers 500. A `clamping` API answers an offset past the end
/// with its last page again, as some do.
struct Items {
    rows: usize,
    fail_at: Option<usize>,
    clamping: bool,
}

impl Items {
    fn new(rows: usize) -> Items {
        Items {
            rows,
            fail_at: None,
            clamping: false,
        }
    }
}

impl Respond for Items {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let limit: usize = q["limit"].parse().unwrap();
        let mut offset: usize = q["offset"].parse().unwrap();
        if self.clamping && offset >= self.rows && self.rows > 0 {
            offset = (self.rows - 1) / limit * limit;
        }
        if self.fail_at == Some(offset) {
            return ResponseTemplate::new(500).set_body_string("broken page");
        }
        let rows: Vec<Value> = (offset..self.rows.min(offset + limit).max(offset))
            .map(|i| json!({"id": i, "name": format!("item {i}")}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": rows, "total": self.rows }))
    }
}

/// A connector over `items` with pages of 3 rows, split in up to four
/// partitions, and a session running four partitions.
async fn setup(
    server: &MockServer,
    items: Items,
) -> (Arc<dyn Connector>, SessionContext, tempfile::NamedTempFile) {
    setup_with(server, items, r##""#totalRowsElement": "total","##).await
}

/// [`setup`] with `paging` added to the model's top level.
async fn setup_with(
    server: &MockServer,
    items: Items,
    paging: &str,
) -> (Arc<dyn Connector>, SessionContext, tempfile::NamedTempFile) {
    Mock::given(method("GET"))
        .and(path(ITEMS))
        .respond_with(items)
        .mount(server)
        .await;
    let model = format!(
        r##"{{
  "#maximumPageSize": 3,
  "#pageSizeParameter": "limit",
  "#rowOffsetParameter": "offset",
  {paging}
  "items": {{
    "#path": ["{}{ITEMS} /data"],
    "id": "Integer,#key",
    "name": "VarChar(32)"
  }}
}}"##,
        server.uri()
    );
    let mut file = tempfile::Builder::new().suffix(".rest").tempfile().unwrap();
    file.write_all(model.as_bytes()).unwrap();
    let c: Arc<dyn Connector> = Arc::new(
        connectkit_autorest::AutoRestDataSource::new()
            .config(file.path().to_str().unwrap())
            .max_concurrent_requests(4)
            .scan_partitions(4)
            .build()
            .unwrap(),
    );
    let config = connectkit_datafusion::session_config().with_target_partitions(4);
    let ctx = SessionContext::new_with_config(config);
    connectkit_datafusion::register(&ctx, "api", c.clone())
        .await
        .unwrap();
    (c, ctx, file)
}

/// The offsets requested, sorted; asserts none was requested twice.
async fn offsets_once(server: &MockServer) -> Vec<usize> {
    let mut offsets: Vec<usize> = requests_to(server, ITEMS)
        .await
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "offset")
                .unwrap()
                .1
                .parse()
                .unwrap()
        })
        .collect();
    offsets.sort();
    let n = offsets.len();
    offsets.dedup();
    assert_eq!(offsets.len(), n, "a page requested twice: {offsets:?}");
    offsets
}

/// The rows of the one-partition scan, in page order.
async fn one_partition(c: &dyn Connector) -> Vec<Value> {
    let scan = c.scan("items", ScanRequest::new()).await.unwrap();
    let batches: Vec<_> = scan.batches.try_collect().await.unwrap();
    let mut w = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::JsonArray>(Vec::new());
    for b in &batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    serde_json::from_slice(&w.into_inner()).unwrap()
}

fn sorted_by_id(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r["id"].as_i64().unwrap());
    rows
}

async fn physical_plan(ctx: &SessionContext, sql: &str) -> String {
    let rows = query(ctx, &format!("EXPLAIN {sql}")).await;
    rows.iter()
        .find(|r| r["plan_type"] == "physical_plan")
        .and_then(|r| r["plan"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn four_partitions_return_the_rows_of_one_each_page_requested_once() {
    let server = MockServer::builder().start().await;
    let (c, ctx, _model) = setup(&server, Items::new(40)).await;
    let got = query(&ctx, "SELECT id, name FROM api.items").await;
    let offsets = offsets_once(&server).await;
    // Pages 0..=13 hold the rows (the last one short); the partitions past
    // it ask for one page each at most and stop at its empty answer.
    let pages: Vec<usize> = (0..=39).step_by(3).collect();
    assert!(offsets.starts_with(&pages), "{offsets:?}");
    assert!(offsets.len() <= pages.len() + 3, "{offsets:?}");
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(ITEMS))
        .respond_with(Items::new(40))
        .mount(&server)
        .await;
    let whole = one_partition(c.as_ref()).await;
    assert_eq!(whole.len(), 40);
    assert_eq!(sorted_by_id(got), sorted_by_id(whole.clone()));
    let ordered = query(&ctx, "SELECT id, name FROM api.items ORDER BY id").await;
    assert_eq!(ordered, whole, "ORDER BY gives the one-partition order");
}

#[tokio::test]
async fn explain_shows_the_partitions_and_a_limit_reads_one() {
    let server = MockServer::builder().start().await;
    let (_c, ctx, _model) = setup(&server, Items::new(40)).await;
    insta::assert_snapshot!(
        physical_plan(&ctx, "SELECT id, name FROM api.items WHERE id > 5").await
    );
    let plan = physical_plan(&ctx, "SELECT id FROM api.items LIMIT 5").await;
    assert!(!plan.contains("partitions="), "{plan}");
    assert!(
        requests_to(&server, ITEMS).await.is_empty(),
        "EXPLAIN reads nothing"
    );
    let rows = query(&ctx, "SELECT id FROM api.items LIMIT 5").await;
    assert_eq!(
        column(&rows, "id"),
        (0..5).map(|i| json!(i)).collect::<Vec<_>>()
    );
    // Pages of 3: the limit needs the first two pages, read in order.
    assert_eq!(offsets_once(&server).await, [0, 3]);
}

#[tokio::test]
async fn an_empty_source_gives_no_rows() {
    let server = MockServer::builder().start().await;
    let (_c, ctx, _model) = setup(&server, Items::new(0)).await;
    let rows = query(&ctx, "SELECT id FROM api.items").await;
    assert!(rows.is_empty(), "{rows:?}");
    // Each partition asked for its first page once.
    assert_eq!(offsets_once(&server).await, [0, 3, 6, 9]);
}

#[tokio::test]
async fn a_failing_page_fails_the_scan_naming_its_partition() {
    let server = MockServer::builder().start().await;
    let (_c, ctx, _model) = setup(
        &server,
        Items {
            fail_at: Some(15),
            ..Items::new(40)
        },
    )
    .await;
    let err = ctx
        .sql("SELECT id FROM api.items")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    let text = format!("{err}");
    // Offset 15 is page 6, read by the second partition.
    assert!(
        text.contains("api.items partition 2 of 4 (pages 2, 6, 10, ...)"),
        "{text}"
    );
    assert!(text.contains("500"), "{text}");
}

#[tokio::test]
async fn pages_past_the_stated_total_add_no_rows_even_when_the_api_clamps() {
    let server = MockServer::builder().start().await;
    let (_c, ctx, _model) = setup(
        &server,
        Items {
            clamping: true,
            ..Items::new(10)
        },
    )
    .await;
    // Pages of 3: offsets 0, 3, 6 and 9 hold the rows; a partition whose
    // first page lies past them gets the last page again, stated as past
    // the total of 10.
    let rows = query(&ctx, "SELECT id FROM api.items").await;
    let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_source_that_states_no_total_is_read_as_one_partition() {
    let server = MockServer::builder().start().await;
    let (_c, ctx, _model) = setup_with(&server, Items::new(10), "").await;
    let plan = physical_plan(&ctx, "SELECT id FROM api.items").await;
    assert!(!plan.contains("partitions="), "{plan}");
    let rows = query(&ctx, "SELECT id FROM api.items").await;
    assert_eq!(rows.len(), 10);
    // Read in page order (pages requested ahead past the short page at
    // offset 9 are dropped).
    assert!(offsets_once(&server).await.starts_with(&[0, 3, 6, 9]));
}
