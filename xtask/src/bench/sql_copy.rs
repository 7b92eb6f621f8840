//! 6. SQL, continued: the peak memory of `COPY (SELECT * FROM t) TO
//!    'x.parquet'` (DataFusion's stream into a Snappy Parquet writer, as
//!    `connectkit sql` does it), measured in child processes at two sizes.

use std::path::Path;
use std::process::ExitCode;

use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::sql::{connect, session, start_server};
use super::{CHILD_ENV, Measure, Row, Sizes};

const NAME: &str = "6 sql";
/// The value of [`CHILD_ENV`] that makes a child run a COPY.
pub const CHILD: &str = "sql-copy";
const URL_ENV: &str = "CONNECTKIT_BENCH_URL";
const ROWS_ENV: &str = "CONNECTKIT_BENCH_ROWS";
const PAGE_ENV: &str = "CONNECTKIT_BENCH_PAGE";
/// Rows per row group, as `connectkit sql` writes them.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Runs the COPY rows of benchmark 6 (skipped without an executable to
/// re-run or without sizes for it).
pub async fn run(sizes: &Sizes, exe: Option<&Path>) -> Result<Vec<Row>, String> {
    let (Some((small, large)), Some(exe)) = (sizes.scan_rss, exe) else {
        return Ok(Vec::new());
    };
    let page = sizes.dyn_page;
    let mut peaks = Vec::new();
    for rows in [small, large] {
        let (server, _traffic) = start_server(rows, page)?;
        let mut runs = Vec::new();
        // The median of three: allocator arenas move by a few hundred KiB.
        for _ in 0..3 {
            runs.push(child(exe, &server.url(), rows, page).await?);
        }
        runs.sort_unstable();
        peaks.push(runs[1]);
    }
    let mib = |kib: u64| Measure::new(kib as f64 / 1024.0, "MiB");
    let flat = peaks[1] as f64 <= peaks[0] as f64 * 1.10;
    Ok(vec![
        Row::info(
            NAME,
            format!("peak RSS (VmHWM), COPY (SELECT *) of {large} rows\nto Parquet (Snappy), row groups of {ROW_GROUP_ROWS}"),
            mib(peaks[1]),
        )
        .baseline(format!("{small} rows"), mib(peaks[0]))
        .target("flat: ratio <= 1.10", flat),
    ])
}

async fn child(exe: &Path, base: &str, rows: usize, page: usize) -> Result<u64, String> {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("bench")
        .env(CHILD_ENV, CHILD)
        .env(URL_ENV, base)
        .env(ROWS_ENV, rows.to_string())
        .env(PAGE_ENV, page.to_string());
    let v = super::child_report(cmd, exe, &format!("{rows}-row COPY")).await?;
    if v["rows"].as_u64() != Some(rows as u64) {
        return Err(format!(
            "the COPY child wrote {} rows, expected {rows}",
            v["rows"]
        ));
    }
    v["peak_kib"]
        .as_u64()
        .ok_or_else(|| "child report lacks peak_kib".to_owned())
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn copy(base: &str, page: usize, file: std::fs::File) -> Result<u64, String> {
    let connector = connect(base, page)?;
    let ctx = session(connector).await?;
    let df = ctx
        .sql("SELECT * FROM crm.accounts")
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = df.execute_stream().await.map_err(|e| e.to_string())?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer =
        ArrowWriter::try_new(std::io::BufWriter::new(file), stream.schema(), Some(props))
            .map_err(|e| e.to_string())?;
    let mut rows = 0u64;
    while let Some(b) = stream.try_next().await.map_err(|e| e.to_string())? {
        rows += b.num_rows() as u64;
        writer.write(&b).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The child: COPYs the table at `$CONNECTKIT_BENCH_URL` to a Parquet file
/// and prints its rows and peak memory as one JSON line.
pub fn child_main() -> ExitCode {
    let result = (|| -> Result<String, String> {
        let env = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
        let base = env(URL_ENV)?;
        let page: usize = env(PAGE_ENV)?.parse().map_err(|_| "bad page size")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let file = tempfile::tempfile().map_err(|e| e.to_string())?;
        let rows = runtime.block_on(copy(&base, page, file))?;
        let peak_kib = vm_hwm_kib().ok_or("no VmHWM in /proc/self/status")?;
        Ok(serde_json::json!({"rows": rows, "peak_kib": peak_kib}).to_string())
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
