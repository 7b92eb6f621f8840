//! Company-network TLS against django-oauth-toolkit's https listeners, whose
//! certificates a private CA generated for the run signed (trustme): the
//! token grant and a paged scan trusted through TrustStore or
//! `SSL_CERT_FILE`, refused without them (the issuer named), a host name
//! mismatch and HostNameInCertificate, a Java keystore as TrustStore, the
//! CONNECT tunnel of a forward proxy (proxy.py), and a TLS-inspecting proxy
//! (mitmproxy, pinned in `tests/interop/python/tls-requirements.txt`) with
//! and without its CA in TrustStore.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::dot_api::{BASIC_CLIENT, ROWS, TABLE, expected, kinds};
use super::grant::quote;
use super::proxy::{
    PAGE_SIZE, PROXY_PASSWORD, PROXY_USER, Proxy, all_pages, explicit_proxy, query,
};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli::Output;
use crate::interop::compare::{diff, from_jsonl};
use crate::interop::process::{ServerProcess, free_port, tail};
use crate::interop::servers::{Kind, TlsEndpoints};

/// The private CA's organization (tests/interop/python/tls_certs.py): the
/// issuer a refusal must name.
const PRIVATE_CA: &str = "connectkit interop private CA";
/// The only name the `other` listener's certificate holds.
const OTHER_NAME: &str = "api.corp.example";

fn endpoints(ctx: &Ctx) -> &TlsEndpoints {
    ctx.server(Kind::Dot)
        .tls
        .as_ref()
        .expect("django-oauth-toolkit starts with its https listeners")
}

/// A paged scan of the toolkit's API at `base` (an https listener), its
/// grant at the token endpoint of the same listener, plus `extra`.
async fn scan_url(ctx: &Ctx, base: &str, extra: &str) -> Result<String, String> {
    let rt = ctx
        .server(Kind::Dot)
        .mint(BASIC_CLIENT.0, Some("read"))
        .await?;
    Ok(format!(
        "autorest:Sample={};Table={TABLE};AuthenticationMethod=OAuth2-RefreshToken;\
         ClientID={};ClientSecret={};RefreshToken={};TokenURI={};\
         ClientCredentialsMode=Basic{extra}",
        quote(&format!("{base}/api/items/plain/?page_size={PAGE_SIZE}")),
        BASIC_CLIENT.0,
        quote(BASIC_CLIENT.1),
        quote(&rt),
        quote(&format!("POST {base}/o/token/")),
    ))
}

fn trust_store(path: &Path) -> String {
    format!(";TrustStore={}", quote(&path.display().to_string()))
}

/// What the toolkit received since `mark`: every token request and API
/// page (any status), each with the scheme it arrived over.
async fn received(ctx: &Ctx, mark: usize) -> Result<Vec<Value>, String> {
    let (_, log) = ctx.server(Kind::Dot).log_since(mark).await?;
    Ok(log
        .into_iter()
        .filter(|e| e["kind"] == "token" || e["kind"] == "api")
        .collect())
}

/// A successful scan over https: every row, one grant, every page once,
/// all of it received over TLS.
fn scanned_over_tls(out: Output, log: &[Value]) -> Result<(), String> {
    let out = out.success("query")?;
    let grants = log
        .iter()
        .filter(|e| e["kind"] == "token" && e["status"] == 200)
        .count();
    let pages: Vec<i64> = log
        .iter()
        .filter(|e| e["kind"] == "api" && e["status"] == 200)
        .filter_map(|e| e["page"].as_i64())
        .collect();
    let plain = log.iter().filter(|e| e["scheme"] != "https").count();
    all_of([
        from_jsonl(&out.stdout, &kinds()).and_then(|rows| diff(TABLE, "id", &expected(), &rows)),
        ensure(grants == 1, || {
            format!("expected 1 token grant, the toolkit saw {grants}")
        }),
        ensure(pages == all_pages(), || {
            format!(
                "expected pages {:?} ({ROWS} rows), each once; the API served {pages:?}",
                all_pages()
            )
        }),
        ensure(plain == 0, || {
            format!("{plain} requests reached the toolkit without TLS")
        }),
    ])
}

/// A refused certificate: exit 4, a message with every `needles`, no
/// secret printed, and nothing received by the toolkit.
fn refused(out: &Output, log: &[Value], needles: &[&str]) -> Result<(), String> {
    let printed = format!("{}{}", out.stdout, out.stderr);
    let missing: Vec<&&str> = needles
        .iter()
        .filter(|n| !out.stderr.contains(**n))
        .collect();
    all_of([
        ensure(out.code == 4, || {
            format!(
                "expected exit 4 (transport), got {}: {}",
                out.code,
                out.stderr.trim()
            )
        }),
        ensure(missing.is_empty(), || {
            format!(
                "the message does not name {missing:?}: {}",
                out.stderr.trim()
            )
        }),
        ensure(
            !printed.contains(BASIC_CLIENT.1) && !printed.contains(PROXY_PASSWORD),
            || "a secret was printed".to_owned(),
        ),
        ensure(log.is_empty(), || {
            format!(
                "{} requests reached the toolkit past a refused certificate",
                log.len()
            )
        }),
    ])
}

/// With the private CA in TrustStore (`trusted`), the grant and the scan
/// work over https; without it, the handshake is refused naming the host,
/// the untrusted issuer and TrustStore (exit 4), before any request.
async fn private_ca(ctx: &Ctx, trusted: bool) -> Result<(), String> {
    let tls = endpoints(ctx);
    let extra = if trusted {
        trust_store(&tls.ca)
    } else {
        String::new()
    };
    let url = scan_url(ctx, &tls.loopback, &extra).await?;
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let log = received(ctx, mark).await?;
    if trusted {
        scanned_over_tls(out, &log)
    } else {
        refused(
            &out,
            &log,
            &["127.0.0.1", PRIVATE_CA, "UnknownIssuer", "TrustStore"],
        )
    }
}

/// No TrustStore; `SSL_CERT_FILE` names the private CA: the operating
/// system's store is read as OpenSSL-based tools read it.
async fn ssl_cert_file(ctx: &Ctx) -> Result<(), String> {
    let tls = endpoints(ctx);
    let url = scan_url(ctx, &tls.loopback, "").await?;
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let out = query(
        ctx,
        &url,
        &[("SSL_CERT_FILE", tls.ca.display().to_string())],
    )
    .await?;
    scanned_over_tls(out, &received(ctx, mark).await?)
}

/// The `other` listener's certificate names only api.corp.example: reached
/// as 127.0.0.1 it is refused, naming what was checked, what it holds and
/// HostNameInCertificate; with HostNameInCertificate=api.corp.example the
/// grant and the scan work (requests still go to 127.0.0.1).
async fn host_name(ctx: &Ctx, in_certificate: bool) -> Result<(), String> {
    let tls = endpoints(ctx);
    let mut extra = trust_store(&tls.ca);
    if in_certificate {
        extra.push_str(&format!(";HostNameInCertificate={OTHER_NAME}"));
    }
    let url = scan_url(ctx, &tls.other, &extra).await?;
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let log = received(ctx, mark).await?;
    if in_certificate {
        scanned_over_tls(out, &log)
    } else {
        refused(
            &out,
            &log,
            &[
                "not valid for 127.0.0.1",
                OTHER_NAME,
                "NotValidForName",
                "HostNameInCertificate",
            ],
        )
    }
}

/// A Java keystore given as TrustStore: exit 2 naming the file and how to
/// export PEM, before any request.
async fn java_keystore(ctx: &Ctx) -> Result<(), String> {
    let tls = endpoints(ctx);
    let dir = ctx.scratch("tls/java-keystore")?;
    let jks = dir.join("truststore.jks");
    // A JKS file starts with the magic FEEDFEED and a version.
    std::fs::write(&jks, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 0])
        .map_err(|e| format!("cannot write {jks:?}: {e}"))?;
    let url = scan_url(ctx, &tls.loopback, &trust_store(&jks)).await?;
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let log = received(ctx, mark).await?;
    let path = jks.display().to_string();
    all_of([
        ensure(out.code == 2, || {
            format!(
                "expected exit 2 (configuration), got {}: {}",
                out.code,
                out.stderr.trim()
            )
        }),
        ensure(
            out.stderr.contains(&path)
                && out.stderr.contains("Java keystore")
                && out.stderr.contains("keytool"),
            || {
                format!(
                    "the message does not name the file and the export: {}",
                    out.stderr.trim()
                )
            },
        ),
        ensure(log.is_empty(), || {
            format!("{} requests were sent", log.len())
        }),
    ])
}

/// An https origin through the forward proxy named by ProxyHost: the
/// requests travel in CONNECT tunnels (the proxy's log has a CONNECT to the
/// toolkit's https port and no request line of its own for the origin),
/// and the private CA is trusted end to end.
async fn connect_tunnel(ctx: &Ctx) -> Result<(), String> {
    let tls = endpoints(ctx);
    let proxy = Proxy::start(ctx, "tls/connect-tunnel").await?;
    let extra = format!(
        "{}{}",
        trust_store(&tls.ca),
        explicit_proxy(&proxy, PROXY_PASSWORD)
    );
    let url = scan_url(ctx, &tls.loopback, &extra).await?;
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let log = received(ctx, mark).await?;
    let target = tls.loopback.trim_start_matches("https://").to_owned();
    let connects = proxy
        .wait_for(1, |l| l.contains(&format!("CONNECT {target}")))
        .await;
    let visible = proxy
        .access()
        .iter()
        .filter(|l| l.contains("/api/items/") || l.contains("/o/token/"))
        .count();
    all_of([
        scanned_over_tls(out, &log),
        ensure(!connects.is_empty(), || {
            format!(
                "the proxy logged no CONNECT {target}; its log:\n{}",
                tail(&proxy.log)
            )
        }),
        ensure(visible == 0, || {
            format!(
                "the proxy saw {visible} request paths: the requests did not go through a tunnel"
            )
        }),
    ])
}

/// A running mitmdump: a TLS-inspecting forward proxy with Basic proxy
/// authentication, its own CA generated in `confdir`, the toolkit's
/// certificate checked against the private CA upstream.
struct Mitm {
    port: u16,
    ca: PathBuf,
    log: PathBuf,
    _process: ServerProcess,
}

impl Mitm {
    async fn start(ctx: &Ctx, scenario: &str, upstream_ca: &Path) -> Result<Self, String> {
        let dir = ctx.scratch(scenario)?;
        let port = free_port()?;
        let log = dir.join("mitmdump.log");
        let confdir = dir.join("confdir");
        let bin = ctx
            .tls_python
            .parent()
            .map(|d| d.join("mitmdump"))
            .ok_or("no TLS venv")?;
        let mut cmd = Command::new(bin);
        cmd.args(["--listen-host", "127.0.0.1", "--listen-port"])
            .arg(port.to_string())
            .args(["--set", &format!("confdir={}", confdir.display())])
            .args([
                "--set",
                &format!("ssl_verify_upstream_trusted_ca={}", upstream_ca.display()),
            ])
            .args(["--proxyauth", &format!("{PROXY_USER}:{PROXY_PASSWORD}")])
            .args(["--set", "flow_detail=1"])
            .env("PYTHONUNBUFFERED", "1");
        let process = ServerProcess::spawn("mitmdump", cmd, &log)?;
        let ca = confdir.join("mitmproxy-ca-cert.pem");
        let start = Instant::now();
        while !ca.exists()
            || tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        {
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "mitmdump did not listen on 127.0.0.1:{port} within 30 s; its log {log:?} ends:\n{}",
                    tail(&log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            port,
            ca,
            log,
            _process: process,
        })
    }

    fn properties(&self) -> String {
        format!(
            ";ProxyHost=127.0.0.1;ProxyPort={};ProxyUser={PROXY_USER};ProxyPassword={}",
            self.port,
            quote(PROXY_PASSWORD)
        )
    }

    /// Waits (up to 3 s) until mitmdump's flow log has `n` lines with
    /// `needle`, and returns how many it has.
    async fn flows(&self, needle: &str, n: usize) -> usize {
        let start = Instant::now();
        loop {
            let count = std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(needle))
                .count();
            if count >= n || start.elapsed() > Duration::from_secs(3) {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Through a TLS-inspecting proxy (mitmdump): with its CA in TrustStore the
/// grant and the scan work and mitmdump's flow log shows the token request
/// and every page, decrypted; without it, the handshake with the proxy is
/// refused naming the proxy's CA as the untrusted issuer and TrustStore
/// (exit 4), and nothing reaches the toolkit.
async fn inspected(ctx: &Ctx, trusted: bool) -> Result<(), String> {
    let tls = endpoints(ctx);
    let name = if trusted {
        "tls/mitmproxy/trusted"
    } else {
        "tls/mitmproxy/untrusted"
    };
    let mitm = Mitm::start(ctx, name, &tls.ca).await?;
    let mut extra = mitm.properties();
    if trusted {
        extra.push_str(&trust_store(&mitm.ca));
    }
    let url = scan_url(ctx, &tls.loopback, &extra).await?;
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let out = query(ctx, &url, &[]).await?;
    let log = received(ctx, mark).await?;
    if !trusted {
        return refused(
            &out,
            &log,
            &["127.0.0.1", "mitmproxy", "UnknownIssuer", "TrustStore"],
        );
    }
    let token = format!("POST {}/o/token/", tls.loopback);
    let page = format!("GET {}/api/items/plain/", tls.loopback);
    let tokens = mitm.flows(&token, 1).await;
    let pages = mitm.flows(&page, all_pages().len()).await;
    all_of([
        scanned_over_tls(out, &log),
        ensure(tokens == 1 && pages == all_pages().len(), || {
            format!(
                "mitmdump shows {tokens} token requests and {pages} pages, expected 1 and {}; its log:\n{}",
                all_pages().len(),
                tail(&mitm.log)
            )
        }),
    ])
}

/// The `tls/*` scenarios (all against django-oauth-toolkit's https listeners).
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "tls/private-ca/trust-store/grant-and-paged-scan/cli",
            Kind::Dot,
            |ctx| Box::pin(private_ca(ctx, true)),
        ),
        Scenario::new("tls/private-ca/untrusted/cli", Kind::Dot, |ctx| {
            Box::pin(private_ca(ctx, false))
        }),
        Scenario::new("tls/private-ca/ssl-cert-file/cli", Kind::Dot, |ctx| {
            Box::pin(ssl_cert_file(ctx))
        }),
        Scenario::new("tls/private-ca/wrong-host-name/cli", Kind::Dot, |ctx| {
            Box::pin(host_name(ctx, false))
        }),
        Scenario::new(
            "tls/private-ca/host-name-in-certificate/cli",
            Kind::Dot,
            |ctx| Box::pin(host_name(ctx, true)),
        ),
        Scenario::new("tls/trust-store/java-keystore/cli", Kind::Dot, |ctx| {
            Box::pin(java_keystore(ctx))
        }),
        Scenario::new("tls/proxy-host/connect-tunnel/cli", Kind::Dot, |ctx| {
            Box::pin(connect_tunnel(ctx))
        }),
        Scenario::new("tls/mitmproxy/trust-store/cli", Kind::Dot, |ctx| {
            Box::pin(inspected(ctx, true))
        }),
        Scenario::new("tls/mitmproxy/untrusted/cli", Kind::Dot, |ctx| {
            Box::pin(inspected(ctx, false))
        }),
    ]
}
