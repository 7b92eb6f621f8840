//! 11. Partitioned scans of an offset-paged source (the autorest model of
//!     benchmark 4: `#maximumPageSize`, `limit`/`offset`), `ScanPartitions=2`
//!     against `ScanPartitions=1`, interleaved, on this process's runtime
//!     (one worker per core):
//!     - decode: every partition of the scan read by a task of its own, as
//!       an engine reads them (`Connector::plan_partitions`, `scan_partition`);
//!       rows/s;
//!     - `SELECT count(*) ... WHERE category = 'alpha'` through DataFusion
//!       (the filter is the engine's: the source cannot apply it), with the
//!       default `target_partitions`; rows scanned per second.

use std::sync::Arc;
use std::time::Instant;

use connectkit_autorest::AutoRestDataSource;
use connectkit_core::arrow_array::Int64Array;
use connectkit_core::{Connector, ScanRequest};
use connectkit_datafusion::datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use super::scan::{start_server, write_model};
use super::{Measure, Row, Sizes, alternate, median};

const NAME: &str = "11 partitions";
const TABLE: &str = "rows";
const COUNT: &str = "SELECT count(*) FROM src.rows WHERE category = 'alpha'";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The autorest connector over `model` splitting scans into at most
/// `partitions`, its table's definition loaded (a split needs it).
async fn connector(model: &str, partitions: usize) -> Result<Arc<dyn Connector>, String> {
    let c = AutoRestDataSource::new()
        .config(model)
        .scan_partitions(partitions)
        .build()
        .map_err(err)?;
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

/// Runs benchmark 11.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let (rows, page) = (sizes.scan_rows, sizes.scan_page);
    let server = start_server(rows, page)?;
    let dir = tempfile::tempdir().map_err(err)?;
    let model = write_model(dir.path(), &server.url(), rows, page)?;
    let one = connector(&model, 1).await?;
    let two = connector(&model, 2).await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let (single, split) = alternate(
        sizes.rounds,
        || decode(&one, 1, rows),
        || decode(&two, 2, rows),
    )
    .await?;
    let speedup = Row::info(
        NAME,
        format!(
            "rows/s, decode of {rows} rows x 10 columns, ScanPartitions=2\na task per partition on {cores} cores, pages of {page} from loopback"
        ),
        Measure::new(median(&split), "rows/s"),
    )
    .baseline("ScanPartitions=1", Measure::new(median(&single), "rows/s"))
    .spread(&split, &single);
    let met = speedup.ratio.is_some_and(|r| r >= 1.6);

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
            "rows scanned/s, SELECT count(*) ... WHERE category = 'alpha'\nthrough DataFusion, {rows} rows, ScanPartitions=2"
        ),
        Measure::new(median(&with), "rows/s"),
    )
    .baseline("ScanPartitions=1", Measure::new(median(&without), "rows/s"))
    .spread(&with, &without);
    let no_regression = sql.ratio.is_some_and(|r| r >= 1.0);
    Ok(vec![
        speedup.target("ratio >= 1.6", met),
        sql.target("no regression: ratio >= 1.0", no_regression),
    ])
}
