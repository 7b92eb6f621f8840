//! 7. Latency-bound scan: the benchmark table behind a server that answers
//!    every page 20 ms or 100 ms late, as real APIs do, scanned by the
//!    autorest connector (offset paging) with `MaxConcurrentRequests=1` and
//!    `=4`, interleaved. One page after another cannot beat the sequential
//!    bound, page size / latency; four in flight should come close to four
//!    times it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use connectkit_autorest::AutoRestDataSource;
use futures::FutureExt;

use super::data::{COLUMNS, rest_pages};
use super::rows::scan_rate;
use super::server::{Handler, Server, json, query_param};
use super::{Measure, Row, Sizes, alternate, median};

const NAME: &str = "7 latency-bound scan";

/// Serves `/lat/<ms>?limit=<page>&offset=<n>`: the pages of `rows` rows,
/// each answered `<ms>` milliseconds late.
fn start_server(rows: usize, page: usize) -> Result<Server, String> {
    let pages = Arc::new(rest_pages(rows as u64, page as u64));
    let empty = Bytes::from_static(br#"{"data":[]}"#);
    let handler: Handler = Arc::new(move |req| {
        let ms: u64 = req
            .uri()
            .path()
            .strip_prefix("/lat/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let offset: usize = query_param(req.uri().query(), "offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = if offset.is_multiple_of(page) {
            pages.get(offset / page).cloned().unwrap_or(empty.clone())
        } else {
            empty.clone()
        };
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json(body)
        }
        .boxed()
    });
    Server::start(handler).map_err(|e| e.to_string())
}

/// A model file for the table at `/lat/<ms>`, in `dir`.
fn write_model(dir: &Path, base: &str, ms: u64, page: usize) -> Result<String, String> {
    let mut table = serde_json::Map::new();
    table.insert("#path".into(), format!("{base}/lat/{ms} /data").into());
    table.insert("#maximumPageSize".into(), page.into());
    table.insert("#pageSizeParameter".into(), "limit".into());
    table.insert("#rowOffsetParameter".into(), "offset".into());
    for (name, ty) in COLUMNS {
        table.insert(name.into(), ty.into());
    }
    let model = serde_json::json!({ "rows": table });
    let path = dir.join(format!("latency-{ms}.rest"));
    std::fs::write(&path, model.to_string()).map_err(|e| e.to_string())?;
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| "temporary path is not UTF-8".into())
}

/// One scan with `concurrency` requests in flight; rows/s.
async fn scan(model: &str, rows: usize, concurrency: usize) -> Result<f64, String> {
    let c = AutoRestDataSource::new()
        .config(model)
        .max_concurrent_requests(concurrency)
        .build()
        .map_err(|e| e.to_string())?;
    scan_rate(&c, "rows", rows).await
}

/// Runs benchmark 7.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let page = sizes.scan_page;
    let rows = sizes.latency_pages * page;
    let server = start_server(rows, page)?;
    let base = server.url();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for ms in [20u64, 100] {
        let model = write_model(dir.path(), &base, ms, page)?;
        let (one, four) = alternate(
            sizes.rounds,
            || scan(&model, rows, 1),
            || scan(&model, rows, 4),
        )
        .await?;
        let bound = Measure::new(page as f64 * 1000.0 / ms as f64, "rows/s");
        let bound_label = format!("sequential bound: {page} rows / {ms} ms");
        let at = |n: usize| {
            format!(
                "rows/s, MaxConcurrentRequests={n}, {ms} ms per page\n{rows} rows in pages of {page}"
            )
        };
        let one_m = Measure::new(median(&one), "rows/s");
        out.push(Row::info(NAME, at(1), one_m).baseline(&bound_label, bound));
        out.push(
            Row::info(NAME, at(4), Measure::new(median(&four), "rows/s"))
                .baseline(&bound_label, bound),
        );
        let speedup = Row::info(
            NAME,
            format!("speed-up of 4 in flight over 1, {ms} ms per page"),
            Measure::new(median(&four), "rows/s"),
        )
        .baseline("MaxConcurrentRequests=1, interleaved", one_m)
        .spread(&four, &one);
        out.push(if ms == 100 {
            let met = speedup.ratio.is_some_and(|r| r >= 3.0);
            speedup.target("ratio >= 3.0", met)
        } else {
            speedup
        });
    }
    Ok(out)
}
