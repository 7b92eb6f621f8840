//! 10. Flight SQL: `connectkit serve`'s server (`connectkit_flight_sql::Server`
//!     over `connectkit::registry()`, what the command runs) reading the
//!     benchmark table from the paged loopback API of benchmark 4:
//!     - rows/s of `SELECT *` through Flight SQL (arrow-flight's
//!       `FlightSqlServiceClient` over loopback, every endpoint fetched at
//!       once) against the same query through `connectkit_datafusion` in
//!       process on the same source, interleaved, and the process's CPU
//!       time per row in the same runs (every side of it runs here);
//!     - time to the first batch of `SELECT * ... LIMIT 10` both ways;
//!     - the server's peak memory while it returns 100k and 1M rows: the
//!       server runs in a child process (xtask re-executed) and the parent,
//!       its only client, reads the child's `/proc/PID/status`.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use arrow_flight::FlightInfo;
use arrow_flight::sql::client::FlightSqlServiceClient;
use connectkit_datafusion::datafusion::prelude::SessionContext;
use connectkit_flight_sql::{Listen, ServeConfig, Server, hash_password};
use futures::TryStreamExt;
use tonic::transport::{Channel, Endpoint};

use super::cpu::process_cpu_s;
use super::scan::{start_server, write_model};
use super::{CHILD_ENV, Measure, Row, Sizes, alternate, median};

const NAME: &str = "10 flight sql";
/// The value of [`CHILD_ENV`] that makes a child serve Flight SQL.
pub const CHILD: &str = "flight-serve";
const CONFIG_ENV: &str = "CONNECTKIT_BENCH_CONFIG";
const USER: &str = "bench";
const PASSWORD: &str = "bench-password";
/// Time-to-first-batch samples per side.
const FIRST_BATCH_RUNS: usize = 21;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The connection URL of the table of `rows` rows, its model file in `dir`.
fn source_url(dir: &Path, base: &str, rows: usize, page: usize) -> Result<String, String> {
    let model = write_model(dir, base, rows, page)?;
    Ok(format!("autorest:Config={model}"))
}

/// A `sources.toml` in `dir` with the source `src` at `url`, the bench
/// user, and no query timeout (a slow machine must not cut a run short).
fn write_config(dir: &Path, url: &str, hash: &str) -> Result<std::path::PathBuf, String> {
    let text = format!(
        "[sources]\nsrc = {url:?}\n\n[users.{USER}]\npassword = {hash:?}\n\n[limits]\nquery_timeout = 0\n"
    );
    let path = dir.join("sources.toml");
    std::fs::write(&path, text).map_err(err)?;
    Ok(path)
}

/// A logged-in session: its connection and bearer token. Each query runs
/// on clients of its own over that connection (one per endpoint), as the
/// bearer token is shared among `DoGet` clients.
struct Session {
    channel: Channel,
    token: String,
}

impl Session {
    /// Connects to `addr` and logs in.
    async fn login(addr: &str) -> Result<Self, String> {
        let channel = Endpoint::new(format!("http://{addr}"))
            .map_err(err)?
            .connect()
            .await
            .map_err(err)?;
        let mut client = FlightSqlServiceClient::new(channel.clone());
        client.handshake(USER, PASSWORD).await.map_err(err)?;
        let token = client
            .token()
            .cloned()
            .ok_or("the login returned no token")?;
        Ok(Self { channel, token })
    }

    fn client(&self) -> FlightSqlServiceClient<Channel> {
        let mut c = FlightSqlServiceClient::new(self.channel.clone());
        c.set_token(self.token.clone());
        c
    }
}

/// What reading a result took: its rows, and when its first batch came.
struct Fetched {
    rows: usize,
    first_batch: Option<Instant>,
}

/// Runs `sql` and reads every endpoint of its FlightInfo at once (as ADBC
/// does), each on a client of its own over the session's connection.
async fn flight_query(session: &Session, sql: &str) -> Result<Fetched, String> {
    let info: FlightInfo = session
        .client()
        .execute(sql.to_owned(), None)
        .await
        .map_err(err)?;
    let reads = info.endpoint.into_iter().map(|endpoint| {
        let mut c = session.client();
        async move {
            let ticket = endpoint.ticket.ok_or("an endpoint without a ticket")?;
            let mut stream = c.do_get(ticket).await.map_err(err)?;
            let mut fetched = Fetched {
                rows: 0,
                first_batch: None,
            };
            while let Some(b) = stream.try_next().await.map_err(err)? {
                fetched.first_batch.get_or_insert_with(Instant::now);
                fetched.rows += b.num_rows();
            }
            Ok::<_, String>(fetched)
        }
    });
    let parts = futures::future::try_join_all(reads).await?;
    Ok(Fetched {
        rows: parts.iter().map(|p| p.rows).sum(),
        first_batch: parts.iter().filter_map(|p| p.first_batch).min(),
    })
}

/// Runs `sql` in process and reads its stream.
async fn local_query(ctx: &SessionContext, sql: &str) -> Result<Fetched, String> {
    let df = ctx.sql(sql).await.map_err(err)?;
    let mut stream = df.execute_stream().await.map_err(err)?;
    let mut fetched = Fetched {
        rows: 0,
        first_batch: None,
    };
    while let Some(b) = stream.try_next().await.map_err(err)? {
        fetched.first_batch.get_or_insert_with(Instant::now);
        fetched.rows += b.num_rows();
    }
    Ok(fetched)
}

fn check(got: usize, want: usize, what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} returned {got} rows, expected {want}"))
    }
}

/// A Flight SQL server over `config` on 127.0.0.1, in this process; it
/// stops when the returned sender is dropped.
async fn serve_here(
    config: &ServeConfig,
) -> Result<(String, tokio::sync::oneshot::Sender<()>), String> {
    let server = Server::new(config, &connectkit::registry())
        .await
        .map_err(err)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = server.serve(listener, &Listen::plain(), shutdown).await {
            eprintln!("bench: the Flight SQL server failed: {e}");
        }
    });
    Ok((addr, stop))
}

/// Runs benchmark 10.
pub async fn run(sizes: &Sizes, exe: Option<&Path>) -> Result<Vec<Row>, String> {
    let (rows, page) = (sizes.scan_rows, sizes.scan_page);
    let largest = sizes.scan_rss.map_or(rows, |(_, l)| l.max(rows));
    let upstream = start_server(largest, page)?;
    let base = upstream.url();
    let dir = tempfile::tempdir().map_err(err)?;
    let url = source_url(dir.path(), &base, rows, page)?;
    let hash = hash_password(&PASSWORD.to_owned().into()).map_err(err)?;
    let config_path = write_config(dir.path(), &url, &hash)?;
    let config = ServeConfig::load(&config_path).map_err(err)?;

    // In process: the same connection URL, built by the same registry.
    let connector = connectkit::registry().connect(&url).map_err(err)?;
    let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
    connectkit_datafusion::register(&ctx, "src", connector.into())
        .await
        .map_err(err)?;

    let (addr, _stop) = serve_here(&config).await?;
    let session = Session::login(&addr).await?;
    let all = "SELECT * FROM src.rows";
    // CPU time per row of each run: the whole process's, as the upstream
    // API, the Flight server and its client all run in it.
    let (local_cpu, flight_cpu) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
    let ns_per_row = |cpu: f64, rows: usize| (process_cpu_s() - cpu) * 1e9 / rows as f64;
    let (local, flight) = alternate(
        sizes.rounds,
        || async {
            let (started, cpu) = (Instant::now(), process_cpu_s());
            let f = local_query(&ctx, all).await?;
            check(f.rows, rows, "in process")?;
            local_cpu.borrow_mut().push(ns_per_row(cpu, f.rows));
            Ok(f.rows as f64 / started.elapsed().as_secs_f64())
        },
        || async {
            let (started, cpu) = (Instant::now(), process_cpu_s());
            let f = flight_query(&session, all).await?;
            check(f.rows, rows, "Flight SQL")?;
            flight_cpu.borrow_mut().push(ns_per_row(cpu, f.rows));
            Ok(f.rows as f64 / started.elapsed().as_secs_f64())
        },
    )
    .await?;
    let (local_cpu, flight_cpu) = (local_cpu.into_inner(), flight_cpu.into_inner());
    let throughput = Row::info(
        NAME,
        format!(
            "rows/s, SELECT * of {rows} rows x 10 columns\nthrough Flight SQL (Rust client, loopback)\nautorest pages of {page}"
        ),
        Measure::new(median(&flight), "rows/s"),
    )
    .baseline(
        "connectkit_datafusion in process, same source",
        Measure::new(median(&local), "rows/s"),
    )
    .spread(&flight, &local);
    let met = throughput.ratio.is_some_and(|r| r >= 0.8);
    let cpu = Row::info(
        NAME,
        "CPU time per row, the same runs\n(this process: API server, Flight server and client)",
        Measure::new(median(&flight_cpu), "ns/row"),
    )
    .baseline(
        "connectkit_datafusion in process",
        Measure::new(median(&local_cpu), "ns/row"),
    )
    .spread(&flight_cpu, &local_cpu);
    let mut out = vec![throughput.target("ratio >= 0.8", met), cpu];

    // Time to the first batch of LIMIT 10, both ways, taking turns.
    let limited = "SELECT * FROM src.rows LIMIT 10";
    let (mut local_ms, mut flight_ms) = (Vec::new(), Vec::new());
    let runs = if sizes.rounds > 1 {
        FIRST_BATCH_RUNS
    } else {
        3
    };
    for i in 0..runs {
        for side in [i % 2, 1 - i % 2] {
            let started = Instant::now();
            let f = if side == 0 {
                local_query(&ctx, limited).await?
            } else {
                flight_query(&session, limited).await?
            };
            check(f.rows, 10, "LIMIT 10")?;
            let first = f.first_batch.ok_or("LIMIT 10 returned no batch")?;
            let ms = first.duration_since(started).as_secs_f64() * 1000.0;
            if side == 0 {
                local_ms.push(ms);
            } else {
                flight_ms.push(ms);
            }
        }
    }
    out.push(
        Row::info(
            NAME,
            format!(
                "time to first batch, SELECT * ... LIMIT 10\nthrough Flight SQL (execute + DoGet), {runs} runs"
            ),
            Measure::new(median(&flight_ms), "ms"),
        )
        .baseline(
            "connectkit_datafusion in process",
            Measure::new(median(&local_ms), "ms"),
        )
        .spread(&flight_ms, &local_ms),
    );

    if let (Some((small, large)), Some(exe)) = (sizes.scan_rss, exe) {
        out.extend(memory_rows(exe, &base, page, small, large, &hash).await?);
    }
    Ok(out)
}

/// The server's peak memory while it returns `small` and `large` rows,
/// the median of three child servers each.
async fn memory_rows(
    exe: &Path,
    base: &str,
    page: usize,
    small: usize,
    large: usize,
    hash: &str,
) -> Result<Vec<Row>, String> {
    let mut medians = Vec::new();
    for rows in [small, large] {
        let dir = tempfile::tempdir().map_err(err)?;
        let url = source_url(dir.path(), base, rows, page)?;
        let config = write_config(dir.path(), &url, hash)?;
        let mut runs = Vec::with_capacity(3);
        for _ in 0..3 {
            runs.push(server_child(exe, &config, rows).await?);
        }
        let mid = |f: fn(&ServerMemory) -> u64| {
            let mut v: Vec<u64> = runs.iter().map(f).collect();
            v.sort_unstable();
            v[1]
        };
        medians.push(ServerMemory {
            base_kib: mid(|m| m.base_kib),
            peak_kib: mid(|m| m.peak_kib),
        });
    }
    let (s, l) = (&medians[0], &medians[1]);
    let mib = |kib: u64| Measure::new(kib as f64 / 1024.0, "MiB");
    let flat = l.peak_kib as f64 <= s.peak_kib as f64 * 1.10;
    Ok(vec![
        Row::info(
            NAME,
            format!(
                "server peak RSS (VmHWM), returning {large} rows\n(peak reset after login and a LIMIT 10 query)"
            ),
            mib(l.peak_kib),
        )
        .baseline(format!("returning {small} rows"), mib(s.peak_kib))
        .target("flat: ratio <= 1.10", flat),
        Row::info(
            NAME,
            format!(
                "server peak RSS over base, returning {large} rows\n(base before the query: {:.1} MiB)",
                l.base_kib as f64 / 1024.0
            ),
            mib(l.peak_kib.saturating_sub(l.base_kib)),
        )
        .baseline(
            format!("returning {small} rows"),
            mib(s.peak_kib.saturating_sub(s.base_kib)),
        ),
    ])
}

/// What one child server used.
struct ServerMemory {
    /// Resident memory just before the measured query.
    base_kib: u64,
    /// Peak resident memory from then to the end of the query.
    peak_kib: u64,
}

/// A `/proc/PID/status` field, in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(err)?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// The server child dies with this value: stops it however the
/// measurement ends (its standard input closed, then killed if needed).
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server child over `config`, logs in, runs a LIMIT 10 query,
/// resets the child's peak RSS (`/proc/PID/clear_refs`, 5), reads its
/// resident memory, runs `SELECT *` of `rows` rows, and reads the peak.
async fn server_child(exe: &Path, config: &Path, rows: usize) -> Result<ServerMemory, String> {
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("bench")
        .env(CHILD_ENV, CHILD)
        .env(CONFIG_ENV, config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = ChildGuard(
        cmd.spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?,
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().ok_or("no child stdout")?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(err)?
    .map_err(err)?;
    let v: serde_json::Value = serde_json::from_str(line.trim())
        .map_err(|_| format!("the Flight SQL child did not start: {:?}", line.trim()))?;
    let addr = v["addr"].as_str().ok_or("the child named no address")?;
    let session = Session::login(addr).await?;
    let warm = flight_query(&session, "SELECT * FROM src.rows LIMIT 10").await?;
    check(warm.rows, 10, "LIMIT 10")?;
    // The login's Argon2 check takes 19 MiB for a moment: the peak is
    // reset after it, so that it measures the query alone.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .map_err(|e| format!("resetting the child's peak RSS: {e}"))?;
    let base_kib = status_kib(pid, "VmRSS:")?;
    let f = flight_query(&session, "SELECT * FROM src.rows").await?;
    check(f.rows, rows, "Flight SQL")?;
    let peak_kib = status_kib(pid, "VmHWM:")?;
    drop(child);
    Ok(ServerMemory { base_kib, peak_kib })
}

/// The child: serves the sources of `$CONNECTKIT_BENCH_CONFIG` on
/// 127.0.0.1 (a free port, printed as one JSON line) on a multi-thread
/// runtime, as `connectkit serve` does, until its standard input closes.
pub fn child_main() -> ExitCode {
    let result = (|| -> Result<(), String> {
        let path = std::env::var(CONFIG_ENV).map_err(|_| format!("{CONFIG_ENV} is not set"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(err)?;
        runtime.block_on(async {
            let config = ServeConfig::load(path.as_ref()).map_err(err)?;
            let server = Server::new(&config, &connectkit::registry())
                .await
                .map_err(err)?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(err)?;
            let addr = listener.local_addr().map_err(err)?;
            println!("{}", serde_json::json!({ "addr": addr.to_string() }));
            let stdin_closed = async {
                let _ = tokio::task::spawn_blocking(|| {
                    let _ = std::io::stdin().read_to_end(&mut Vec::new());
                })
                .await;
            };
            server
                .serve(listener, &Listen::plain(), stdin_closed)
                .await
                .map_err(err)
        })
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench child: {e}");
            ExitCode::FAILURE
        }
    }
}
