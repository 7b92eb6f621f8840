//! A real forward proxy with Basic proxy authentication (proxy.py, pinned in
//! `install.rs`) between the `connectkit` binary and django-oauth-toolkit:
//! the token grant and every API page through ProxyHost/ProxyPort/ProxyUser/
//! ProxyPassword, a wrong ProxyPassword (the proxy's 407), and the
//! environment's `HTTP_PROXY` with and without `NO_PROXY`.
//!
//! Each scenario starts its own proxy on a free loopback port (stopped when
//! the scenario ends) and reads the proxy's own access log: one line per
//! request it forwarded, `GET 127.0.0.1:PORT/path - STATUS`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::dot_api::{BASIC_CLIENT, ROWS, TABLE, expected, kinds};
use super::grant::{grant_url, quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli::{self, Output};
use crate::interop::compare::{diff, from_jsonl};
use crate::interop::process::{ServerProcess, free_port, tail};
use crate::interop::servers::Kind;

pub(super) const PROXY_USER: &str = "connectkit";
pub(super) const PROXY_PASSWORD: &str = "pr0xy-s3cret";
const WRONG_PASSWORD: &str = "not-the-pr0xy-password";
pub(super) const PAGE_SIZE: usize = 50;

/// The proxy variables reqwest reads; removed from every run so that the
/// caller's environment cannot change a scenario.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A running proxy.py.
pub(super) struct Proxy {
    port: u16,
    pub(super) log: PathBuf,
    _process: ServerProcess,
}

impl Proxy {
    pub(super) async fn start(ctx: &Ctx, scenario: &str) -> Result<Self, String> {
        let dir = ctx.scratch(scenario)?;
        let port = free_port()?;
        let log = dir.join("proxy.log");
        let mut cmd = Command::new(&ctx.python);
        cmd.args(["-m", "proxy", "--hostname", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--basic-auth", &format!("{PROXY_USER}:{PROXY_PASSWORD}")])
            .args(["--num-workers", "1", "--num-acceptors", "1"])
            .env("PYTHONUNBUFFERED", "1");
        let process = ServerProcess::spawn("proxy.py", cmd, &log)?;
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if start.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "proxy.py did not listen on 127.0.0.1:{port} within 20 s; its log {log:?} ends:\n{}",
                    tail(&log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            port,
            log,
            _process: process,
        })
    }

    /// The access log lines (one per forwarded or refused request).
    pub(super) fn access(&self) -> Vec<String> {
        access_lines(&self.log)
    }

    /// Waits (up to 3 s: proxy.py writes a line when the connection ends)
    /// until at least `n` access lines match `pred`, and returns them.
    pub(super) async fn wait_for(&self, n: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines: Vec<String> = self.access().into_iter().filter(|l| pred(l)).collect();
            if lines.len() >= n || start.elapsed() > Duration::from_secs(3) {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, credentials: bool) -> String {
        if credentials {
            format!(
                "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
                self.port
            )
        } else {
            format!("http://127.0.0.1:{}", self.port)
        }
    }
}

fn access_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("access_log"))
        .map(str::to_owned)
        .collect()
}

/// The connection URL of a paged scan of the toolkit's API (`plain`), its
/// grant at the toolkit's token endpoint, plus `extra`.
async fn scan_url(ctx: &Ctx, extra: &str) -> Result<String, String> {
    let srv = ctx.server(Kind::Dot);
    let rt = srv.mint(BASIC_CLIENT.0, Some("read")).await?;
    let sample = format!("{}/api/items/plain/?page_size={PAGE_SIZE}", srv.base);
    let token_uri = format!("POST {}", token_endpoint(ctx, Kind::Dot));
    let extra = format!(";Table={TABLE};ClientCredentialsMode=Basic{extra}");
    Ok(
        grant_url(ctx, Kind::Dot, BASIC_CLIENT, &rt, &token_uri, &extra).replacen(
            &format!("Sample={}/_interop/ready", srv.base),
            &format!("Sample={}", quote(&sample)),
            1,
        ),
    )
}

pub(super) fn explicit_proxy(proxy: &Proxy, password: &str) -> String {
    format!(
        ";ProxyHost=127.0.0.1;ProxyPort={};ProxyUser={PROXY_USER};ProxyPassword={}",
        proxy.port,
        quote(password)
    )
}

/// `connectkit query - items --format jsonl` with the URL on standard input,
/// no proxy or `SSL_CERT_*` variable but `env`.
pub(super) async fn query(ctx: &Ctx, url: &str, env: &[(&str, String)]) -> Result<Output, String> {
    let mut cmd = Command::new(&ctx.bin);
    cmd.args(["query", "-", TABLE, "--format", "jsonl"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in PROXY_VARS.iter().chain(&["SSL_CERT_FILE", "SSL_CERT_DIR"]) {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", ctx.bin))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin
            .write_all(url.as_bytes())
            .map_err(|e| format!("writing the URL to connectkit: {e}"))?;
    }
    tokio::task::spawn_blocking(move || cli::finish(child))
        .await
        .map_err(|e| format!("connectkit runner: {e}"))?
}

/// What the toolkit received since `mark`: successful grants and API pages.
async fn received(ctx: &Ctx, mark: usize) -> Result<(usize, Vec<i64>), String> {
    let srv = ctx.server(Kind::Dot);
    let grants = token_entries(srv, mark)
        .await?
        .iter()
        .filter(|e| e["status"] == 200)
        .count();
    let (_, log) = srv.log_since(mark).await?;
    let pages = log
        .iter()
        .filter(|e| e["kind"] == "api" && e["status"] == 200)
        .filter_map(|e: &Value| e["page"].as_i64())
        .collect();
    Ok((grants, pages))
}

pub(super) fn all_pages() -> Vec<i64> {
    (1..=(ROWS as usize).div_ceil(PAGE_SIZE) as i64).collect()
}

/// A successful scan: every row, one grant, every page once.
fn scanned(out: Output, grants: usize, pages: &[i64]) -> Result<(), String> {
    let out = out.success("query")?;
    all_of([
        from_jsonl(&out.stdout, &kinds()).and_then(|rows| diff(TABLE, "id", &expected(), &rows)),
        ensure(grants == 1, || {
            format!("expected 1 token grant, the toolkit saw {grants}")
        }),
        ensure(pages == all_pages(), || {
            format!(
                "expected pages {:?}, each once; the API served {pages:?}",
                all_pages()
            )
        }),
    ])
}

/// The token request and every page through the proxy named by ProxyHost,
/// authenticated with ProxyUser/ProxyPassword: the proxy's log has each one.
async fn through_proxy_host(ctx: &Ctx) -> Result<(), String> {
    let proxy = Proxy::start(ctx, "proxy/proxy-host").await?;
    let srv = ctx.server(Kind::Dot);
    let url = scan_url(ctx, &explicit_proxy(&proxy, PROXY_PASSWORD)).await?;
    let mark = srv.log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let (grants, pages) = received(ctx, mark).await?;
    let target = srv.base.trim_start_matches("http://").to_owned();
    let token_line = format!("POST {target}/o/token/ - 200");
    let page_line = format!("GET {target}/api/items/plain/");
    let want = 1 + pages.len();
    let lines = proxy
        .wait_for(want, |l| l.contains(&token_line) || l.contains(&page_line))
        .await;
    let tokens = lines.iter().filter(|l| l.contains(&token_line)).count();
    let api = lines.iter().filter(|l| l.contains(&page_line)).count();
    let refused = proxy
        .access()
        .iter()
        .filter(|l| !l.contains(&target))
        .count();
    all_of([
        scanned(out, grants, &pages),
        ensure(tokens == grants, || {
            format!(
                "the toolkit granted {grants} tokens, the proxy forwarded {tokens} token requests; its log:\n{}",
                tail(&proxy.log)
            )
        }),
        ensure(api == pages.len(), || {
            format!(
                "the API served {} pages, the proxy forwarded {api}; its log:\n{}",
                pages.len(),
                tail(&proxy.log)
            )
        }),
        ensure(refused == 0, || {
            format!(
                "{refused} proxy log lines for no target (refused requests); its log:\n{}",
                tail(&proxy.log)
            )
        }),
    ])
}

/// A wrong ProxyPassword: the proxy answers 407 to the first request, and
/// connectkit exits 3 (authentication), prints neither password, and nothing
/// reaches the toolkit. `grant`: the first request is the token request
/// (the OAuth grant), else an API page (a connection without
/// authentication). Only the API page's message names ProxyUser and
/// ProxyPassword: a 407 from the token request is reported as
/// `token endpoint answered HTTP 407: Proxy Authentication Required`, without
/// that hint (recorded in tests/interop/README.md).
async fn wrong_password(ctx: &Ctx, grant: bool) -> Result<(), String> {
    let name = if grant {
        "proxy/wrong-password/token"
    } else {
        "proxy/wrong-password/api"
    };
    let proxy = Proxy::start(ctx, name).await?;
    let srv = ctx.server(Kind::Dot);
    let url = if grant {
        scan_url(ctx, &explicit_proxy(&proxy, WRONG_PASSWORD)).await?
    } else {
        format!(
            "autorest:Sample={};Table={TABLE}{}",
            quote(&format!(
                "{}/api/items/plain/?page_size={PAGE_SIZE}",
                srv.base
            )),
            explicit_proxy(&proxy, WRONG_PASSWORD)
        )
    };
    let mark = srv.log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let (_, log) = srv.log_since(mark).await?;
    let reached = log
        .iter()
        .filter(|e| e["kind"] == "token" || e["kind"] == "api")
        .count();
    let refusals = proxy.wait_for(1, |_| true).await.len();
    let printed = format!("{}{}", out.stdout, out.stderr);
    all_of([
        ensure(out.code == 3, || {
            format!(
                "expected exit 3 (authentication), got {}: {}",
                out.code,
                out.stderr.trim()
            )
        }),
        ensure(
            out.stderr.contains("407") || out.stderr.contains("ProxyUser"),
            || {
                format!(
                    "the message names neither the 407 nor ProxyUser: {}",
                    out.stderr.trim()
                )
            },
        ),
        ensure(
            grant || (out.stderr.contains("ProxyUser") && out.stderr.contains("ProxyPassword")),
            || {
                format!(
                    "the message does not name ProxyUser and ProxyPassword: {}",
                    out.stderr.trim()
                )
            },
        ),
        ensure(
            !printed.contains(WRONG_PASSWORD) && !printed.contains(PROXY_PASSWORD),
            || "a proxy password was printed".to_owned(),
        ),
        ensure(reached == 0, || {
            format!("{reached} requests reached the toolkit past a proxy that refused them")
        }),
        ensure(refusals >= 1, || {
            format!(
                "the proxy logged no request; its log:\n{}",
                tail(&proxy.log)
            )
        }),
    ])
}

/// No ProxyHost; `HTTP_PROXY` names the proxy with its credentials in the
/// URL. With `no_proxy` (`NO_PROXY=127.0.0.1`) the requests go straight to
/// the toolkit and the proxy sees nothing; without it every request goes
/// through the proxy.
async fn from_environment(ctx: &Ctx, no_proxy: bool) -> Result<(), String> {
    let name = if no_proxy {
        "proxy/env/no-proxy"
    } else {
        "proxy/env/http-proxy"
    };
    let proxy = Proxy::start(ctx, name).await?;
    let srv = ctx.server(Kind::Dot);
    let url = scan_url(ctx, "").await?;
    let mut env = vec![("HTTP_PROXY", proxy.url(true))];
    if no_proxy {
        env.push(("NO_PROXY", "127.0.0.1".to_owned()));
    }
    let mark = srv.log_mark().await?;
    let out = query(ctx, &url, &env).await?;
    let (grants, pages) = received(ctx, mark).await?;
    let target = srv.base.trim_start_matches("http://").to_owned();
    let want = if no_proxy { 0 } else { 1 + pages.len() };
    let through = if no_proxy {
        // Give a late line the time to appear before concluding there is none.
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.access().len()
    } else {
        proxy
            .wait_for(want, |l| l.contains(&target) && l.contains(" - 200 "))
            .await
            .len()
    };
    all_of([
        scanned(out, grants, &pages),
        ensure(through == want, || {
            format!(
                "expected {want} requests through the proxy, its log has {through}:\n{}",
                tail(&proxy.log)
            )
        }),
    ])
}

/// The `proxy/*` scenarios (all against django-oauth-toolkit).
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "proxy/proxy-host/grant-and-paged-scan/cli",
            Kind::Dot,
            |ctx| Box::pin(through_proxy_host(ctx)),
        ),
        Scenario::new(
            "proxy/proxy-host/wrong-password/api/cli",
            Kind::Dot,
            |ctx| Box::pin(wrong_password(ctx, false)),
        ),
        Scenario::new(
            "proxy/proxy-host/wrong-password/token/cli",
            Kind::Dot,
            |ctx| Box::pin(wrong_password(ctx, true)),
        ),
        Scenario::new("proxy/env/no-proxy-bypasses/cli", Kind::Dot, |ctx| {
            Box::pin(from_environment(ctx, true))
        }),
        Scenario::new("proxy/env/http-proxy/cli", Kind::Dot, |ctx| {
            Box::pin(from_environment(ctx, false))
        }),
    ]
}
