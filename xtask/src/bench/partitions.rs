//! 11. Partitioned scans of an offset-paged source (the autorest model of
//!     benchmark 4: `#maximumPageSize`, `limit`/`offset`), `ScanPartitions=2`
//!     against `ScanPartitions=1`, interleaved, on this process's runtime
//!     (one worker per core):
//!     - decode: every partition of the scan read by a task of its own, as
//!       an engine reads them (`Connector::partitions`, `scan_partition`);
//!       rows/s. With the pages already in memory (an `HttpService` answering
//!       from the rendered pages: the target, since it is decoding that
//!       should spread over the cores), and again from the loopback server,
//!       which shares the two cores with the client;
//!     - `SELECT count(*) ... WHERE category = 'alpha'` through DataFusion
//!       (the filter is the engine's: the source cannot apply it), with the
//!       default `target_partitions`; rows scanned per second.

use std::sync::Arc;
use std::time::Instant;

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::arrow_array::Int64Array;
use connectkit_core::client::{HttpService, ServiceFuture};
use connectkit_core::{Connector, ScanRequest};
use connectkit_datafusion::datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use super::scan::{Pages, serve, write_model};
use super::{Measure, Row, Sizes, alternate, median};

const NAME: &str = "11 partitions";
const TABLE: &str = "rows";
const COUNT: &str = "SELECT count(*) FROM src.rows WHERE category = 'alpha'";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Answers every request from [`Pages`] in memory, as the loopback server
/// does over TCP.
#[derive(Debug)]
struct InMemory(Pages);

impl HttpService for InMemory {
    fn call(&self, request: reqwest::Request) -> ServiceFuture {
        let body = self.0.answer(request.url().path(), request.url().query());
        let response = http::Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        Box::pin(async move { Ok(response?.into()) })
    }
}

/// The autorest connector over `model` splitting scans into at most
/// `partitions`, sending through `service` when given, its table's
/// definition loaded (a split needs it).
async fn connector(
    model: &str,
    partitions: usize,
    service: Option<Arc<dyn HttpService>>,
) -> Result<Arc<dyn Connector>, String> {
    let mut source = AutoRestDataSource::new()
        .config(model)
        .scan_partitions(partitions);
    if let Some(service) = service {
        source = source.http_service(service);
    }
    let c = source.build().map_err(err)?;
    c.schema(TABLE).await.map_err(err)?;
    Ok(Arc::new(c))
}

/// Reads every partition of a whole-table scan, each on a task of its own;
/// rows/s. The connector must split into exactly `want` partitions.
async fn decode(c: &Arc<dyn Connector>, want: usize, rows: usize) -> Result<f64, String> {
    let started = Instant::now();
    let parts = c
        .partitions(TABLE, &ScanRequest::new(), want)
        .await
        .map_err(err)?;
    if parts.len() != want {
        return Err(format!(
            "the scan split into {} partitions, expected {want}",
            parts.len()
        ));
    }
    let tasks = parts.into_iter().map(|p| {
        let c = Arc::clone(c);
        tokio::spawn(async move {
            let mut scan = c
                .scan_partition(TABLE, ScanRequest::new(), &p)
                .await
                .map_err(err)?;
            let mut total = 0;
            while let Some(b) = scan.batches.try_next().await.map_err(err)? {
                total += b.num_rows();
            }
            Ok::<_, String>(total)
        })
    });
    let mut total = 0;
    for t in futures::future::try_join_all(tasks).await.map_err(err)? {
        total += t?;
    }
    if total != rows {
        return Err(format!("read {total} rows, expected {rows}"));
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// A session with `c` registered as `src` (the default settings: one
/// target partition per core).
async fn session(c: Arc<dyn Connector>) -> Result<SessionContext, String> {
    let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
    connectkit_datafusion::register(&ctx, "src", c)
        .await
        .map_err(err)?;
    Ok(ctx)
}

/// The count of [`COUNT`].
async fn count(ctx: &SessionContext) -> Result<i64, String> {
    let batches = ctx
        .sql(COUNT)
        .await
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>())
        .map(|a| a.value(0))
        .ok_or_else(|| "count(*) returned no value".to_owned())
}

/// Runs [`COUNT`] on `ctx`, which must agree with `expected`; table rows
/// scanned per second.
async fn timed_count(ctx: &SessionContext, expected: i64, rows: usize) -> Result<f64, String> {
    let started = Instant::now();
    let n = count(ctx).await?;
    if n != expected {
        return Err(format!(
            "count(*) was {n} with partitions, {expected} without"
        ));
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// Decode rows/s of 2 partitions against 1, interleaved, as a row of the
/// table: `from` says where the pages come from.
async fn speedup(
    sizes: &Sizes,
    one: &Arc<dyn Connector>,
    two: &Arc<dyn Connector>,
    from: &str,
) -> Result<Row, String> {
    let (rows, page) = (sizes.scan_rows, sizes.scan_page);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (single, split) = alternate(
        sizes.rounds,
        || decode(one, 1, rows),
        || decode(two, 2, rows),
    )
    .await?;
    Ok(Row::info(
        NAME,
        format!(
            "rows/s, decode of {rows} rows x 10 columns, ScanPartitions=2\na task per partition on {cores} cores, pages of {page} {from}"
        ),
        Measure::new(median(&split), "rows/s"),
    )
    .baseline("ScanPartitions=1", Measure::new(median(&single), "rows/s"))
    .spread(&split, &single))
}

/// Runs benchmark 11.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let (rows, page) = (sizes.scan_rows, sizes.scan_page);
    let pages = Pages::new(rows, page);
    let (memory_dir, dir) = (
        tempfile::tempdir().map_err(err)?,
        tempfile::tempdir().map_err(err)?,
    );

    // Port 9 (discard) on loopback: a request that missed the service would fail.
    let memory_model = write_model(memory_dir.path(), "http://127.0.0.1:9", rows, page)?;
    let service: Arc<dyn HttpService> = Arc::new(InMemory(pages.clone()));
    let one = connector(&memory_model, 1, Some(Arc::clone(&service))).await?;
    let two = connector(&memory_model, 2, Some(service)).await?;
    let memory = speedup(sizes, &one, &two, "already in memory").await?;
    let met = memory.ratio.is_some_and(|r| r >= 1.6);

    let server = serve(pages)?;
    let model = write_model(dir.path(), &server.url(), rows, page)?;
    let one = connector(&model, 1, None).await?;
    let two = connector(&model, 2, None).await?;
    let loopback = speedup(
        sizes,
        &one,
        &two,
        "from loopback\n(the server shares the cores)",
    )
    .await?;

    let (ctx_one, ctx_two) = (session(one).await?, session(two).await?);
    let expected = count(&ctx_one).await?;
    let (without, with) = alternate(
        sizes.rounds,
        || timed_count(&ctx_one, expected, rows),
        || timed_count(&ctx_two, expected, rows),
    )
    .await?;
    let sql = Row::info(
        NAME,
        format!(
            "rows scanned/s, SELECT count(*) ... WHERE category = 'alpha'\nthrough DataFusion, {rows} rows from loopback, ScanPartitions=2"
        ),
        Measure::new(median(&with), "rows/s"),
    )
    .baseline("ScanPartitions=1", Measure::new(median(&without), "rows/s"))
    .spread(&with, &without);
    let no_regression = sql.ratio.is_some_and(|r| r >= 1.0);
    Ok(vec![
        memory.target("ratio >= 1.6", met),
        loopback,
        sql.target("no regression: ratio >= 1.0", no_regression),
    ])
}
