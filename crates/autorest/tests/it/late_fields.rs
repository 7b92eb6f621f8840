//! The sampling rule, for `Sample` and for model-file tables without
//! columns alike: ColumnDiscoverySampleSize rows are sampled (pages read as
//! the table pages, reused by the scan); a field first holding a value
//! beyond the sample stops only a scan that would output it, with the exact
//! ColumnDiscoverySampleSize that covers it; projections and aggregates go
//! on, and UnsampledFieldPolicy=Ignore leaves it out.

use connectkit_autorest::{AutoRestConnector, AutoRestDataSource, UnsampledFieldPolicy};
use connectkit_core::{Connector, ScanRequest};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{ids, model_text, requests_to, rows};

/// 30 customers, 5 a page; `loyalty` first holds a value on customer 23
/// (page 5, row 3 of the page).
const ROWS: u64 = 30;
const PAGE: u64 = 5;
const LATE: u64 = 23;

fn customer(id: u64) -> Value {
    let mut c = json!({"id": id, "name": format!("customer {id}")});
    if id >= LATE {
        c["loyalty"] = json!("gold");
    }
    c
}

/// `GET /customers?page=N` (1-based): `{"data": [...], "next": ...}`; the
/// next link is what a `Sample` follows, the page number what the model
/// file's `#pageNumberParameter` sends.
async fn customers() -> MockServer {
    let server = MockServer::builder().start().await;
    let base = server.uri();
    Mock::given(path("/customers"))
        .respond_with(move |req: &Request| {
            let page: u64 = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map_or(1, |(_, v)| v.parse().unwrap());
            let first = (page - 1) * PAGE + 1;
            let data: Vec<Value> = (first..first + PAGE)
                .filter(|id| *id <= ROWS)
                .map(customer)
                .collect();
            let mut body = json!({"data": data});
            if page * PAGE < ROWS {
                body["next"] = json!(format!("{base}/customers?page={}", page + 1));
            }
            ResponseTemplate::new(200).set_body_json(body)
        })
        .mount(&server)
        .await;
    server
}

/// The two ways to a sampled table: `Sample`, and a model file whose table
/// gives `#path` (an array of one, as the vendor writes it) and paging keys
/// but no columns.
#[derive(Clone, Copy, Debug)]
enum Way {
    Sample,
    Model,
}

const MODEL: &str = r##"{
  "customers": {
    "#path": ["https://api.example.com/customers /data"],
    "#pageNumberParameter": "page",
    "#maximumPageSize": 5
  }
}"##;

/// The connector and the model file it reads (kept alive with it).
fn connector(
    way: Way,
    server: &MockServer,
    set: impl Fn(AutoRestDataSource) -> AutoRestDataSource,
) -> (AutoRestConnector, Option<tempfile::NamedTempFile>) {
    let ds = AutoRestDataSource::new().max_concurrent_requests(1);
    let (ds, file) = match way {
        Way::Sample => (ds.sample(format!("{}/customers", server.uri())), None),
        Way::Model => {
            let f = model_text(MODEL, "rest", server);
            (ds.config(f.path().to_str().unwrap()), Some(f))
        }
    };
    (set(ds).build().unwrap(), file)
}

/// The pages requested, as their `page` parameter (1 when absent).
async fn pages_requested(server: &MockServer) -> Vec<u64> {
    requests_to(server, "/customers")
        .await
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map_or(1, |(_, v)| v.parse().unwrap())
        })
        .collect()
}

const WAYS: [Way; 2] = [Way::Sample, Way::Model];

#[tokio::test]
async fn a_late_field_stops_a_whole_row_scan_naming_the_sample_size_that_covers_it() {
    for way in WAYS {
        let server = customers().await;
        let (c, _f) = connector(way, &server, |d| d.column_discovery_sample_size(10));
        let schema = c.schema("customers").await.unwrap();
        assert!(schema.field_with_name("loyalty").is_err(), "{way:?}");
        let e = rows(&c, "customers", ScanRequest::new()).await.unwrap_err();
        assert_eq!(e.code(), "autorest.new_field", "{way:?}");
        assert_eq!(
            e.to_string(),
            "table customers: field loyalty first holds a value in page 5 (/customers, row 3 \
             of the page) and is not in the sampled schema; the scan stops rather than drop \
             it: set ColumnDiscoverySampleSize=23 (or more) to sample it, \
             UnsampledFieldPolicy=Ignore to leave it out, or select only the columns you need",
            "{way:?}"
        );
        // The sample read pages 1 and 2 (10 rows); the scan decoded them
        // without asking again, and stopped at page 5.
        assert_eq!(pages_requested(&server).await, [1, 2, 3, 4, 5], "{way:?}");
    }
}

#[tokio::test]
async fn the_sample_size_the_error_names_makes_the_field_a_column() {
    for way in WAYS {
        for size in [Some(23), None] {
            let server = customers().await;
            let (c, _f) = connector(way, &server, |d| match size {
                Some(n) => d.column_discovery_sample_size(n),
                // The default sample (20,480 rows) covers all 30.
                None => d,
            });
            let got = rows(&c, "customers", ScanRequest::new()).await.unwrap();
            assert_eq!(got.len(), ROWS as usize, "{way:?} {size:?}");
            assert_eq!(got[21]["loyalty"], Value::Null);
            assert_eq!(got[22]["loyalty"], "gold", "{way:?} {size:?}");
            // Every page once: the sampled pages are the scan's first pages.
            let pages = pages_requested(&server).await;
            let mut once = pages.clone();
            once.dedup();
            assert_eq!(pages, once, "{way:?} {size:?}");
            assert_eq!(&pages[..6], [1, 2, 3, 4, 5, 6], "{way:?} {size:?}");
        }
    }
}

#[tokio::test]
async fn ignore_leaves_the_late_field_out_of_whole_rows() {
    for way in WAYS {
        let server = customers().await;
        let (c, _f) = connector(way, &server, |d| {
            d.column_discovery_sample_size(10)
                .unsampled_field_policy(UnsampledFieldPolicy::Ignore)
        });
        let got = rows(&c, "customers", ScanRequest::new()).await.unwrap();
        assert_eq!(got.len(), ROWS as usize, "{way:?}");
        assert_eq!(ids(&got)[29], 30);
        assert!(got.iter().all(|r| r.get("loyalty").is_none()), "{way:?}");
        assert_eq!(&pages_requested(&server).await[..6], [1, 2, 3, 4, 5, 6]);
    }
}

#[tokio::test]
async fn projections_and_counts_without_the_field_go_on() {
    for way in WAYS {
        for projection in [vec!["id"], vec![]] {
            let server = customers().await;
            let (c, _f) = connector(way, &server, |d| d.column_discovery_sample_size(10));
            let scan = c
                .scan(
                    "customers",
                    ScanRequest::new().with_projection(projection.clone()),
                )
                .await
                .unwrap();
            let batches: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(scan.batches)
                .await
                .unwrap_or_else(|e| panic!("{way:?} {projection:?}: {e}"));
            let n: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(n, ROWS as usize, "{way:?} {projection:?}");
            assert!(batches.iter().all(|b| b.num_columns() == projection.len()));
        }
    }
}

#[tokio::test]
async fn a_projection_of_every_column_is_a_whole_row() {
    let server = customers().await;
    let (c, _f) = connector(Way::Sample, &server, |d| d.column_discovery_sample_size(10));
    let e = rows(
        &c,
        "customers",
        ScanRequest::new().with_projection(["name", "id"]),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "autorest.new_field");
}

#[tokio::test]
async fn a_value_of_another_type_in_a_column_read_still_fails() {
    let server = MockServer::builder().start().await;
    let base = server.uri();
    Mock::given(path("/customers"))
        .respond_with(move |req: &Request| {
            let page = req.url.query().map_or(1, |q| q[5..].parse().unwrap());
            let score = if page == 3 { json!("n/a") } else { json!(page) };
            let mut body = json!({"data": [{"id": page, "score": score}]});
            if page < 3 {
                body["next"] = json!(format!("{base}/customers?page={}", page + 1));
            }
            ResponseTemplate::new(200).set_body_json(body)
        })
        .mount(&server)
        .await;
    let (c, _f) = connector(Way::Sample, &server, |d| d.column_discovery_sample_size(1));
    let e = rows(
        &c,
        "customers",
        ScanRequest::new().with_projection(["score"]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"table customers, column score, row 3 (page /customers): expected BigInt, found a string: "n/a""#
    );
}
