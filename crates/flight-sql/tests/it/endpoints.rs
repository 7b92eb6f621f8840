//! A query's partitions as Flight endpoints, read in parallel; the limits
//! and the log line they share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_flight::FlightInfo;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

use crate::custom::{Rows, serve_model};
use crate::*;

/// Rows in the table: 8 pages of 3, the last one short.
const ROWS: usize = 23;

/// Offset pages of 3 that state the total, so the scan splits into page stripes.
const MODEL: &str = r##"{
  "#maximumPageSize": 3,
  "#pageSizeParameter": "limit",
  "#rowOffsetParameter": "offset",
  "#totalRowsElement": "total",
  "items": {
    "#path": ["{base}/items /data"],
    "id": "Integer,#key",
    "name": "VarChar(64)"
  }
}"##;

fn row(i: usize) -> serde_json::Value {
    json!({"id": i, "name": format!("item {i} {}", "x".repeat(40))})
}

async fn serve_paged(config: &str) -> Served {
    serve_model(
        vec![("items", Rows { n: ROWS, row })],
        MODEL,
        "ScanPartitions=2;MaxConcurrentRequests=2",
        config,
    )
    .await
}

/// How many partitions the server's engine runs: DataFusion's
/// `target_partitions` is the number of cores, which bounds the split.
fn expected_partitions() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// A second client of `c`'s session.
async fn same_session(
    addr: std::net::SocketAddr,
    c: &FlightSqlServiceClient<Channel>,
) -> FlightSqlServiceClient<Channel> {
    let mut other = anonymous(addr).await;
    other.set_token(c.token().unwrap().clone());
    other
}

/// Reads every endpoint of `info` at once, each on a client of its own:
/// the `id`s of each endpoint.
async fn read_in_parallel(
    addr: std::net::SocketAddr,
    c: &FlightSqlServiceClient<Channel>,
    info: &FlightInfo,
) -> Vec<Result<Vec<i64>, String>> {
    let mut reads = Vec::new();
    for endpoint in &info.endpoint {
        let mut client = same_session(addr, c).await;
        let ticket = endpoint.ticket.clone().unwrap();
        reads.push(tokio::spawn(async move {
            let batches: Vec<_> = client
                .do_get(ticket)
                .await
                .map_err(|e| e.to_string())?
                .try_collect()
                .await
                .map_err(|e| e.to_string())?;
            let ids = to_json(&batches)
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect();
            Ok(ids)
        }));
    }
    let mut out = Vec::new();
    for r in reads {
        out.push(r.await.unwrap());
    }
    out
}

/// The offsets the API was asked for, sorted; asserts none twice.
async fn offsets_once(served: &Served) -> Vec<usize> {
    let mut offsets: Vec<usize> = served
        .requests_to("/items")
        .await
        .iter()
        .map(|r| {
            let q: HashMap<String, String> = r.url.query_pairs().into_owned().collect();
            q["offset"].parse().unwrap()
        })
        .collect();
    offsets.sort();
    let n = offsets.len();
    offsets.dedup();
    assert_eq!(offsets.len(), n, "a page requested twice: {offsets:?}");
    offsets
}

#[tokio::test]
async fn each_partition_is_an_endpoint_and_together_they_return_every_row_once() {
    let served = serve_paged("").await;
    let mut c = alice(served.addr).await;
    let info = c
        .execute("SELECT id, name FROM shop.items".into(), None)
        .await
        .unwrap();
    let n = expected_partitions();
    assert_eq!(info.endpoint.len(), n);
    assert_eq!(info.ordered, n == 1);
    let parts = read_in_parallel(served.addr, &c, &info).await;
    let parts: Vec<Vec<i64>> = parts.into_iter().map(Result::unwrap).collect();
    if n > 1 {
        assert!(parts.iter().all(|p| !p.is_empty()), "{parts:?}");
    }
    let mut ids: Vec<i64> = parts.concat();
    ids.sort();
    assert_eq!(ids, (0..ROWS as i64).collect::<Vec<_>>());
    // Every page once, over all endpoints (a stripe may also ask for the
    // page past the end, which holds no row).
    let offsets = offsets_once(&served).await;
    let with_rows: Vec<usize> = offsets.iter().copied().filter(|o| *o < ROWS).collect();
    assert_eq!(with_rows, (0..ROWS).step_by(3).collect::<Vec<_>>());

    // Each ticket is read once.
    let again = c
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(has_code(&again, Code::NotFound), "{again}");
    served.stop().await;
}

#[tokio::test]
async fn an_ordered_query_is_one_ordered_endpoint() {
    let served = serve_paged("").await;
    let mut c = alice(served.addr).await;
    let info = c
        .execute("SELECT id FROM shop.items ORDER BY id DESC".into(), None)
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 1);
    assert!(info.ordered);
    let ids = read_in_parallel(served.addr, &c, &info)
        .await
        .remove(0)
        .unwrap();
    assert_eq!(ids, (0..ROWS as i64).rev().collect::<Vec<_>>());
    // An aggregation repartitions by hash: one endpoint too.
    let info = c
        .execute(
            "SELECT name, count(*) FROM shop.items GROUP BY name".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 1);
    assert_eq!(to_json(&fetch(&mut c, info).await.unwrap()).len(), ROWS);
    served.stop().await;
}

#[tokio::test]
async fn the_row_and_byte_limits_hold_for_the_whole_result_and_name_themselves() {
    let served = serve_paged("[limits]\nmax_rows = 20\n").await;
    let c = alice(served.addr).await;
    let info = plan(served.addr, &c, "SELECT id FROM shop.items").await;
    let errors: Vec<String> = read_in_parallel(served.addr, &c, &info)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(!errors.is_empty());
    for e in &errors {
        assert!(
            (has_code(e, Code::ResourceExhausted)
                && e.contains("more than 20 rows (limits.max_rows)"))
                || has_code(e, Code::Aborted),
            "{e}"
        );
    }
    served.stop().await;

    let served = serve_paged("[limits]\nmax_bytes = 1000\n").await;
    let mut c = alice(served.addr).await;
    let e = query(&mut c, "SELECT id, name FROM shop.items ORDER BY id")
        .await
        .unwrap_err();
    assert!(
        has_code(&e, Code::ResourceExhausted)
            && e.contains("more than 1000 bytes (limits.max_bytes)"),
        "{e}"
    );
    // A result within the limit is whole.
    let rows = query(&mut c, "SELECT id FROM shop.items WHERE id < 2 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows, [json!({"id": 0}), json!({"id": 1})]);
    served.stop().await;
}

/// What a writer shared with the test collects, and a bell for each write.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>, Arc<tokio::sync::Notify>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        self.1.notify_one();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_log_line_per_query_counts_its_rows_bytes_and_upstream_requests() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter("connectkit_flight_sql::query=info")
        .with_writer(move || writer.clone())
        .finish();
    // The process's subscriber (no other test sets one): the server logs
    // from whichever thread drops a query's last stream.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let served = serve_paged("").await;
    let c = alice(served.addr).await;
    // 22 rows: a count no other test's query returns.
    let sql = "SELECT id, name FROM shop.items WHERE id <> 5";
    let info = plan(served.addr, &c, sql).await;
    let parts = read_in_parallel(served.addr, &c, &info).await;
    assert!(parts.iter().all(Result::is_ok));
    // The line is written when the last partition's stream is gone.
    let sent = served.requests_to("/items").await.len();
    let line = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        loop {
            let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
            // Other tests' queries log here too.
            let ours = |l: &&str| l.contains(" query ") && l.contains(" rows=22 ");
            if let Some(l) = text.lines().find(ours) {
                return l.to_owned();
            }
            captured.1.notified().await;
        }
    })
    .await
    .expect("no query line was logged");
    for part in [
        "connectkit_flight_sql::query".to_owned(),
        "user=alice".to_owned(),
        "sources=shop".to_owned(),
        "tables=shop.items".to_owned(),
        "rows=22".to_owned(),
        format!("requests={sent}"),
        format!("partitions={}", expected_partitions()),
        "outcome=\"ok\"".to_owned(),
    ] {
        assert!(line.contains(&part), "{part} in {line}");
    }
    assert!(sent >= ROWS.div_ceil(3), "{sent}");
    let bytes: u64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("bytes="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes > 0, "{line}");
    assert!(!line.contains("svc-s3cret") && !line.contains("upstream-access"));
    served.stop().await;
}

/// Plans `sql` on another client of `c`'s session (`c` stays free).
async fn plan(
    addr: std::net::SocketAddr,
    c: &FlightSqlServiceClient<Channel>,
    sql: &str,
) -> FlightInfo {
    same_session(addr, c)
        .await
        .execute(sql.to_owned(), None)
        .await
        .unwrap()
}
