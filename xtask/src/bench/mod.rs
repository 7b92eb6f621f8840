//! `cargo xtask bench`: connectkit against its baselines, measured side by
//! side in one run (alternating runs, medians), printed as a table and
//! written to `target/bench/latest.json`.
//!
//! `--quick` runs a scaled-down version that checks only that every
//! benchmark completes and that single flight sent exactly one token request.

mod auth;
mod cpu;
mod data;
mod dataverse;
mod dataverse_partitions;
mod decode;
mod dynamics;
mod flight;
mod latency;
mod metadata;
mod odata_mock;
mod partitions;
mod report;
mod rotation;
mod rows;
mod scan;
mod server;
mod single_flight;
mod sql;
mod sql_copy;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub use report::{Measure, Row};

/// Set in the environment of a child process that measures one scan's peak
/// memory (see [`scan`]); the child prints one JSON line and exits.
const CHILD_ENV: &str = "CONNECTKIT_BENCH_CHILD";

/// How big each benchmark is.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Requests per variant of the auth-overhead benchmark (all blocks).
    pub auth_requests: usize,
    /// Requests in flight at once.
    pub auth_concurrency: usize,
    /// Blocks of the auth-overhead benchmark, one ratio each: its effect (a
    /// few hundred nanoseconds in ~20 µs) is smaller than a run's noise, so
    /// the variants take turns batch by batch and many blocks are compared.
    pub auth_rounds: usize,
    /// Alternating baseline/candidate rounds of the ratio benchmarks.
    pub rounds: usize,
    /// Concurrent callers on an expired token.
    pub sf_callers: usize,
    /// Latency of the single-flight token server.
    pub sf_latency: Duration,
    /// Single-flight repetitions (each on a fresh flow).
    pub sf_runs: usize,
    /// Sequential refreshes with rotation.
    pub rotations: usize,
    /// Rows of the scanned table.
    pub scan_rows: usize,
    /// Rows per page of the scanned table.
    pub scan_page: usize,
    /// Rows scanned by the two peak-memory children (small, large); `None`
    /// skips them (the test binary cannot re-exec xtask).
    pub scan_rss: Option<(usize, usize)>,
    /// Rows of the Dynamics 365 entity set.
    pub dyn_rows: usize,
    /// Rows per `@odata.nextLink` page.
    pub dyn_page: usize,
    /// Pages of `scan_page` rows in each latency-bound scan.
    pub latency_pages: usize,
    /// Pages of the Dataverse entity set of the partitioned export
    /// (benchmark 12), each answered 100 ms late.
    pub partition_pages: usize,
}

impl Sizes {
    /// The sizes the issue specifies.
    pub fn full() -> Self {
        Sizes {
            auth_requests: 20_000,
            auth_concurrency: 64,
            auth_rounds: 21,
            rounds: 5,
            sf_callers: 1_000,
            sf_latency: Duration::from_millis(50),
            sf_runs: 5,
            rotations: 1_000,
            scan_rows: 1_000_000,
            scan_page: 1_000,
            scan_rss: Some((100_000, 1_000_000)),
            dyn_rows: 1_000_000,
            dyn_page: 5_000,
            latency_pages: 40,
            partition_pages: 200,
        }
    }

    /// A scaled-down run (a few seconds) that CI can afford.
    pub fn quick() -> Self {
        Sizes {
            auth_requests: 2_000,
            auth_concurrency: 64,
            auth_rounds: 1,
            rounds: 1,
            sf_callers: 1_000,
            sf_latency: Duration::from_millis(50),
            sf_runs: 1,
            rotations: 20,
            scan_rows: 20_000,
            scan_page: 1_000,
            scan_rss: Some((5_000, 20_000)),
            dyn_rows: 20_000,
            dyn_page: 5_000,
            latency_pages: 4,
            partition_pages: 8,
        }
    }
}

/// What a run produced: the table's rows, and what failed outright.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every figure.
    pub rows: Vec<Row>,
    /// Benchmarks that did not complete, and hard checks that failed.
    pub failures: Vec<String>,
}

/// Runs the benchmarks (`cargo xtask bench [--quick]`).
pub fn run(quick: bool) -> ExitCode {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok(sql_copy::CHILD) => return sql_copy::child_main(),
        Ok(metadata::CHILD) => return metadata::child_main(),
        Ok(flight::CHILD) => return flight::child_main(),
        Ok(_) => return scan::child_main(),
        Err(_) => {}
    }
    if cfg!(debug_assertions) && !quick {
        return reexec_release();
    }
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let exe = std::env::current_exe().ok();
    let outcome = runtime.block_on(run_all(&sizes, exe, !quick));
    let elapsed = started.elapsed();
    let command = if quick {
        "cargo xtask bench --quick"
    } else {
        "cargo xtask bench"
    };
    println!("{}", report::table(&outcome.rows));
    if quick {
        println!(
            "quick run: scaled down{}; it checks only that every benchmark completes and \
             that single flight sent one token request, not the figures",
            if cfg!(debug_assertions) {
                ", debug build"
            } else {
                ""
            }
        );
    }
    let machine = report::machine();
    println!(
        "{command}: {} in {:.1} s on {machine}",
        if quick { "quick run" } else { "full run" },
        elapsed.as_secs_f64()
    );
    let file = if quick { "quick.json" } else { "latest.json" };
    match report::write_json(&bench_dir().join(file), command, quick, &machine, &outcome) {
        Ok(path) => println!("written to {}", path.display()),
        Err(e) => eprintln!("bench: writing the JSON report failed: {e}"),
    }
    if outcome.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &outcome.failures {
            eprintln!("bench: FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}

/// Every benchmark in turn; a benchmark that fails is reported and the
/// others still run. `exe` re-executes xtask for the peak-memory children.
pub async fn run_all(sizes: &Sizes, exe: Option<PathBuf>, progress: bool) -> Outcome {
    // `CONNECTKIT_BENCH_ONLY=4,5` runs only those benchmarks (for profiling).
    let only = std::env::var("CONNECTKIT_BENCH_ONLY").unwrap_or_default();
    let wanted = |n: &str| only.is_empty() || only.split(',').any(|x| x.trim() == n);
    let mut out = Outcome::default();
    let note = |name: &str| {
        if progress {
            eprintln!("bench: {name} ...");
        }
    };
    if wanted("1") {
        note("1 auth overhead");
        collect(&mut out, "auth overhead", auth::run(sizes).await);
    }
    if wanted("2") {
        note("2 single flight");
        collect(&mut out, "single flight", single_flight::run(sizes).await);
    }
    if wanted("3") {
        note("3 rotation");
        collect(&mut out, "rotation", rotation::run(sizes).await);
    }
    if wanted("4") {
        note("4 scan throughput");
        collect(&mut out, "scan", scan::run(sizes, exe.as_deref()).await);
    }
    if wanted("5") {
        note("5 dynamics365 paging");
        collect(&mut out, "dynamics365", dynamics::run(sizes).await);
    }
    if wanted("6") {
        note("6 sql");
        collect(&mut out, "sql", sql::run(sizes).await);
        collect(
            &mut out,
            "sql copy",
            sql_copy::run(sizes, exe.as_deref()).await,
        );
    }
    if wanted("7") {
        note("7 latency-bound scan");
        collect(&mut out, "latency-bound scan", latency::run(sizes).await);
    }
    if wanted("8") {
        note("8 decode");
        collect(&mut out, "decode", decode::run(sizes).await);
    }
    if wanted("9") {
        note("9 dynamics365 $metadata");
        collect(
            &mut out,
            "d365 metadata",
            metadata::run(sizes, exe.as_deref()).await,
        );
    }
    if wanted("10") {
        note("10 flight sql");
        collect(
            &mut out,
            "flight sql",
            flight::run(sizes, exe.as_deref()).await,
        );
    }
    if wanted("11") {
        note("11 partitions");
        collect(&mut out, "partitions", partitions::run(sizes).await);
    }
    if wanted("12") {
        note("12 dataverse partitions");
        collect(
            &mut out,
            "dataverse partitions",
            dataverse_partitions::run(sizes).await,
        );
    }
    out
}

fn collect(out: &mut Outcome, name: &str, result: Result<Vec<Row>, String>) {
    match result {
        Ok(rows) => {
            for r in &rows {
                if r.check && r.met == Some(false) {
                    out.failures.push(format!(
                        "{name}: {} is {}, expected {}",
                        r.figure,
                        r.value,
                        r.target.as_deref().unwrap_or("?")
                    ));
                }
            }
            out.rows.extend(rows);
        }
        Err(e) => out.failures.push(format!("{name} did not complete: {e}")),
    }
}

/// Runs `a` and `b` `rounds` times each, alternating (ABBA order so neither
/// always goes first), and returns each one's figures.
pub async fn alternate<FA, FB, A, B>(
    rounds: usize,
    mut a: A,
    mut b: B,
) -> Result<(Vec<f64>, Vec<f64>), String>
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = Result<f64, String>>,
    FB: Future<Output = Result<f64, String>>,
{
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            xs.push(a().await?);
            ys.push(b().await?);
        } else {
            ys.push(b().await?);
            xs.push(a().await?);
        }
    }
    Ok((xs, ys))
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// The `p`th percentile (nearest rank) of `values` (0 when empty).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// `target/bench` of the workspace (or of `CARGO_TARGET_DIR`).
fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| connectkit_e2e::workspace_root().join("target"));
    target.join("bench")
}

/// Benchmarks measure optimized code: a debug build runs the release one.
fn reexec_release() -> ExitCode {
    eprintln!("bench: debug build; running `cargo run --release -p xtask -- bench`");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["run", "--release", "-p", "xtask", "--", "bench"])
        .current_dir(connectkit_e2e::workspace_root())
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("bench: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a measuring child process (`exe bench` with `cmd`'s environment) and
/// returns the JSON report on the last `{` line of its standard output; a
/// child that reported nothing is an error naming `what` with its stderr.
async fn child_report(
    cmd: std::process::Command,
    exe: &std::path::Path,
    what: &str,
) -> Result<serde_json::Value, String> {
    let mut cmd = cmd;
    let exe_shown = exe.display().to_string();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("starting {exe_shown}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    serde_json::from_str(line).map_err(|_| {
        format!(
            "the {what} child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}
