//! 4. Scan throughput: a local paged JSON API (offset/limit), read (a) with
//!    reqwest + `serde_json::from_slice` into `Value`, counting rows, and (b)
//!    by the autorest connector into Arrow batches from a model file with
//!    paging keys; then the peak memory of (b) in child processes.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use connectkit_autorest::AutoRestDataSource;
use connectkit_core::client::PagingLimits;
use futures::FutureExt;

use super::data::{COLUMNS, rest_pages};
use super::rows::{check_rows, count_rows, scan_rate};
use super::server::{Handler, Server, json, query_param};
use super::{CHILD_ENV, Measure, Row, Sizes, alternate, median};

const NAME: &str = "4 scan";
const URL_ENV: &str = "CONNECTKIT_BENCH_URL";
const ROWS_ENV: &str = "CONNECTKIT_BENCH_ROWS";
const PAGE_ENV: &str = "CONNECTKIT_BENCH_PAGE";
/// How the child scans: `multi` on a 2-worker runtime, `sequential` on a
/// current-thread one with `MaxConcurrentRequests=1`, else (`current`) on a
/// current-thread one with the default concurrency.
const RUNTIME_ENV: &str = "CONNECTKIT_BENCH_RUNTIME";

/// The pages of `/t/<rows>?limit=<page>&offset=<n>`, rendered once.
#[derive(Debug, Clone)]
pub(super) struct Pages {
    pages: Arc<Vec<Bytes>>,
    page: usize,
}

impl Pages {
    /// `rows` rows in pages of `page`.
    pub(super) fn new(rows: usize, page: usize) -> Pages {
        Pages {
            pages: Arc::new(rest_pages(rows as u64, page as u64)),
            page,
        }
    }

    /// The body answering `path?query`: the page at `offset` when the path
    /// names a table at least that long, else no rows.
    pub(super) fn answer(&self, path: &str, query: Option<&str>) -> Bytes {
        let table_rows: usize = path
            .strip_prefix("/t/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let offset: usize = query_param(query, "offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if offset < table_rows
            && offset.is_multiple_of(self.page)
            && let Some(page) = self.pages.get(offset / self.page)
        {
            return page.clone();
        }
        Bytes::from_static(br#"{"data":[]}"#)
    }
}

/// Serves `rows` rows in pages of `page` from 127.0.0.1.
pub(super) fn start_server(rows: usize, page: usize) -> Result<Server, String> {
    serve(Pages::new(rows, page))
}

/// Serves `pages` from 127.0.0.1.
pub(super) fn serve(pages: Pages) -> Result<Server, String> {
    let handler: Handler = Arc::new(move |req| {
        let body = pages.answer(req.uri().path(), req.uri().query());
        async move { json(body) }.boxed()
    });
    Server::start(handler).map_err(|e| e.to_string())
}

/// A model file for the table of `rows` rows at `base`, in `dir`.
pub(super) fn write_model(
    dir: &Path,
    base: &str,
    rows: usize,
    page: usize,
) -> Result<String, String> {
    let mut table = serde_json::Map::new();
    table.insert("#path".into(), format!("{base}/t/{rows} /data").into());
    table.insert("#maximumPageSize".into(), page.into());
    table.insert("#pageSizeParameter".into(), "limit".into());
    table.insert("#rowOffsetParameter".into(), "offset".into());
    table.insert("#totalRowsElement".into(), "total".into());
    for (name, ty) in COLUMNS {
        table.insert(name.into(), ty.into());
    }
    let model = serde_json::json!({ "rows": table });
    let path = dir.join("bench.rest");
    std::fs::write(&path, model.to_string()).map_err(|e| e.to_string())?;
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| "temporary path is not UTF-8".into())
}

/// (a): every page through reqwest into a `serde_json::Value`; rows/s.
async fn baseline(
    client: &reqwest::Client,
    base: &str,
    rows: usize,
    page: usize,
) -> Result<f64, String> {
    let started = Instant::now();
    let (mut offset, mut total) = (0, 0);
    loop {
        let url = format!("{base}/t/{rows}?limit={page}&offset={offset}");
        let r = client.get(url).send().await.map_err(|e| e.to_string())?;
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let n = v["data"].as_array().map_or(0, Vec::len);
        total += n;
        offset += n;
        if n < page {
            break;
        }
    }
    check_rows(total, rows)?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// (b): the autorest connector's scan into Arrow batches; rows/s.
async fn connector(model: &str, rows: usize) -> Result<f64, String> {
    let c = AutoRestDataSource::new()
        .config(model)
        .build()
        .map_err(|e| e.to_string())?;
    scan_rate(&c, "rows", rows).await
}

/// Runs benchmark 4.
pub async fn run(sizes: &Sizes, exe: Option<&Path>) -> Result<Vec<Row>, String> {
    let (rows, page) = (sizes.scan_rows, sizes.scan_page);
    let largest = sizes.scan_rss.map_or(rows, |(_, l)| l.max(rows));
    let server = start_server(largest, page)?;
    let base = server.url();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let model = write_model(dir.path(), &base, rows, page)?;
    let client = connectkit_core::client::http_client().expect("HTTP client");
    let (raw_runs, arrow) = alternate(
        sizes.rounds,
        || baseline(&client, &base, rows, page),
        || connector(&model, rows),
    )
    .await?;
    let raw = Measure::new(median(&raw_runs), "rows/s");
    let scan = Row::info(
        NAME,
        format!(
            "rows/s, {rows} rows x 10 columns into Arrow\nautorest model file, pages of {page},\nMaxConcurrentRequests=4 (default)"
        ),
        Measure::new(median(&arrow), "rows/s"),
    )
    .baseline("reqwest + serde_json::Value", raw)
    .spread(&arrow, &raw_runs);
    let met = scan.ratio.is_some_and(|r| r >= 1.0);
    let mut out = vec![scan.target("ratio >= 1.0", met)];
    if let (Some((small, large)), Some(exe)) = (sizes.scan_rss, exe) {
        out.extend(memory_rows(exe, &base, page, small, large).await?);
    }
    Ok(out)
}

/// Peak memory of the connector's scan, one child process per size.
async fn memory_rows(
    exe: &Path,
    base: &str,
    page: usize,
    small: usize,
    large: usize,
) -> Result<Vec<Row>, String> {
    // The targets are measured at the default concurrency (up to four
    // pages in flight, each held until decoded) and one page at a time.
    // They are measured on a current-thread runtime: on a
    // multi-thread one, each worker's malloc arena keeps the pages it freed,
    // which adds about one page per worker whatever the connector does; that
    // figure is reported beside them.
    let one = child_median(exe, base, page, page, "current").await?;
    let s = child_median(exe, base, small, page, "current").await?;
    let l = child_median(exe, base, large, page, "current").await?;
    let one_mt = child_median(exe, base, page, page, "multi").await?;
    let l_mt = child_median(exe, base, large, page, "multi").await?;
    let one_seq = child_median(exe, base, page, page, "sequential").await?;
    let l_seq = child_median(exe, base, large, page, "sequential").await?;
    let mib = |kib: u64| Measure::new(kib as f64 / 1024.0, "MiB");
    let page_cost = one.peak_kib.saturating_sub(one.base_kib).max(1);
    let growth = l.peak_kib.saturating_sub(l.base_kib);
    let flat = l.peak_kib as f64 <= s.peak_kib as f64 * 1.10;
    // The documented bound: the pages in flight, each held until decoded,
    // and the one being decoded; one page at a time, that page and its batch.
    let window = PagingLimits::default().max_concurrent_requests;
    let bound = window as f64 + 1.0;
    let bounded = growth as f64 <= bound * page_cost as f64;
    let seq_cost = one_seq.peak_kib.saturating_sub(one_seq.base_kib).max(1);
    let seq_growth = l_seq.peak_kib.saturating_sub(l_seq.base_kib);
    let seq_bounded = seq_growth as f64 <= 2.0 * seq_cost as f64;
    Ok(vec![
        Row::info(
            NAME,
            format!("peak RSS (VmHWM), scan of {small} rows"),
            mib(s.peak_kib),
        )
        .baseline(format!("scan of one page ({page} rows)"), mib(one.peak_kib)),
        Row::info(
            NAME,
            format!("peak RSS (VmHWM), scan of {large} rows"),
            mib(l.peak_kib),
        )
        .baseline(format!("{small} rows"), mib(s.peak_kib))
        .target("flat: ratio <= 1.10", flat),
        Row::info(
            NAME,
            format!(
                "peak RSS over base, scan of {large} rows\n(base before the scan: {:.1} MiB)",
                l.base_kib as f64 / 1024.0
            ),
            mib(growth),
        )
        .baseline("one page's peak over base", mib(page_cost))
        .target(
            format!("ratio <= {bound}: {window} pages in flight + 1"),
            bounded,
        ),
        Row::info(
            NAME,
            format!("peak RSS over base, scan of {large} rows\non a 2-worker tokio runtime"),
            mib(l_mt.peak_kib.saturating_sub(l_mt.base_kib)),
        )
        .baseline(
            "one page's, same runtime",
            mib(one_mt.peak_kib.saturating_sub(one_mt.base_kib).max(1)),
        ),
        Row::info(
            NAME,
            format!("peak RSS over base, scan of {large} rows\nMaxConcurrentRequests=1"),
            mib(seq_growth),
        )
        .baseline("one page's, MaxConcurrentRequests=1", mib(seq_cost))
        .target("ratio <= 2.0", seq_bounded),
    ])
}

/// What a child reports.
struct ChildReport {
    base_kib: u64,
    peak_kib: u64,
}

/// Memory moves by a few hundred KiB from run to run (allocator arenas,
/// thread timing): the median of three children.
async fn child_median(
    exe: &Path,
    base: &str,
    rows: usize,
    page: usize,
    runtime: &str,
) -> Result<ChildReport, String> {
    let mut runs = Vec::with_capacity(3);
    for _ in 0..3 {
        runs.push(child(exe, base, rows, page, runtime).await?);
    }
    let mid = |f: fn(&ChildReport) -> u64| {
        let mut v: Vec<u64> = runs.iter().map(f).collect();
        v.sort_unstable();
        v[1]
    };
    Ok(ChildReport {
        base_kib: mid(|r| r.base_kib),
        peak_kib: mid(|r| r.peak_kib),
    })
}

async fn child(
    exe: &Path,
    base: &str,
    rows: usize,
    page: usize,
    runtime: &str,
) -> Result<ChildReport, String> {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("bench")
        .env(RUNTIME_ENV, runtime)
        .env(CHILD_ENV, "scan")
        .env(URL_ENV, base)
        .env(ROWS_ENV, rows.to_string())
        .env(PAGE_ENV, page.to_string());
    let v = super::child_report(cmd, exe, &format!("{rows}-row memory")).await?;
    let field = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| format!("child report lacks {k}"))
    };
    check_rows(usize::try_from(field("rows")?).unwrap_or(0), rows)?;
    Ok(ChildReport {
        base_kib: field("base_kib")?,
        peak_kib: field("peak_kib")?,
    })
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: scans the table at `$CONNECTKIT_BENCH_URL` and prints its rows
/// and its peak memory before and after as one JSON line.
pub fn child_main() -> ExitCode {
    let result = (|| -> Result<String, String> {
        let env = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
        let base = env(URL_ENV)?;
        let rows: usize = env(ROWS_ENV)?.parse().map_err(|_| "bad row count")?;
        let page: usize = env(PAGE_ENV)?.parse().map_err(|_| "bad page size")?;
        let mode = std::env::var(RUNTIME_ENV).unwrap_or_default();
        let runtime = if mode == "multi" {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let model = write_model(dir.path(), &base, rows, page)?;
        let mut ds = AutoRestDataSource::new().config(&model);
        if mode == "sequential" {
            ds = ds.max_concurrent_requests(1);
        }
        let c = ds.build().map_err(|e| e.to_string())?;
        let base_kib = vm_hwm_kib().ok_or("no VmHWM in /proc/self/status")?;
        let total = runtime.block_on(count_rows(&c, "rows"))?;
        let peak_kib = vm_hwm_kib().ok_or("no VmHWM in /proc/self/status")?;
        Ok(
            serde_json::json!({"rows": total, "base_kib": base_kib, "peak_kib": peak_kib})
                .to_string(),
        )
    })();
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench child: {e}");
            ExitCode::FAILURE
        }
    }
}
