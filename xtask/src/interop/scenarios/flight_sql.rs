//! `connectkit serve` under a real Flight SQL client: ADBC's driver
//! (`adbc-driver-flightsql` + pyarrow, and polars.read_database over it;
//! tests/interop/python/flight_sql_client.py) queries django-oauth-toolkit's
//! protected API through the server, from several sessions; the rows are
//! compared with `connectkit sql`'s, and the toolkit's log shows one grant
//! for all of them. Once in plain text on loopback, once over TLS with a
//! certificate the run's private CA (trustme) signed, which the driver
//! trusts through its `tls_root_certs` option (and a client that does not
//! trust it is refused).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::dot_api::{BASIC_CLIENT, ROWS, TABLE};
use super::grant::{grant_url, quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli;
use crate::interop::install::interop_dir;
use crate::interop::process::{ServerProcess, free_port};
use crate::interop::servers::Kind;

const PASSWORD: &str = "interop-pw";
const SESSIONS: usize = 5;
const SQL: &str = "SELECT id, name, price, active FROM dot.items ORDER BY id";

/// The toolkit's paged API with the refresh token grant, as dot_api's scans.
async fn source_url(ctx: &Ctx) -> Result<String, String> {
    let srv = ctx.server(Kind::Dot);
    let rt = srv.mint(BASIC_CLIENT.0, Some("read")).await?;
    let sample = format!("{}/api/items/plain/?page_size=50", srv.base);
    let token_uri = format!("POST {}", token_endpoint(ctx, Kind::Dot));
    let extra = format!(";Table={TABLE};ClientCredentialsMode=Basic");
    Ok(
        grant_url(ctx, Kind::Dot, BASIC_CLIENT, &rt, &token_uri, &extra).replacen(
            &format!("Sample={}/_interop/ready", srv.base),
            &format!("Sample={}", quote(&sample)),
            1,
        ),
    )
}

/// Waits until `port` accepts connections or the server exits.
async fn wait_listening(port: u16, log: &std::path::Path) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "connectkit serve did not listen on {port} within 60 s; its log ends:\n{}",
        crate::interop::process::tail(log)
    ))
}

/// The private CA's certificate, and the certificate (for 127.0.0.1) and
/// key it signed, that django-oauth-toolkit's https listener serves.
fn private_ca(ctx: &Ctx) -> Result<(PathBuf, PathBuf, PathBuf), String> {
    let tls = ctx
        .server(Kind::Dot)
        .tls
        .as_ref()
        .ok_or("django-oauth-toolkit started without its TLS certificates")?;
    let dir = tls.ca.parent().ok_or("the CA file has no directory")?;
    Ok((
        tls.ca.clone(),
        dir.join("loopback.pem"),
        dir.join("loopback.key"),
    ))
}

async fn adbc(ctx: &Ctx, tls: bool) -> Result<(), String> {
    let dir = ctx.scratch(if tls {
        "flight-sql/adbc-tls"
    } else {
        "flight-sql/adbc"
    })?;
    let srv = ctx.server(Kind::Dot);
    let ca = if tls { Some(private_ca(ctx)?) } else { None };
    let url = source_url(ctx).await?;
    let mark = srv.log_mark().await?;
    let tls_files = ca
        .as_ref()
        .map(|(_, cert, key)| (cert.as_path(), key.as_path()));
    let (server, port, log) = start_serve(ctx, &dir, &[("dot", &url)], tls_files).await?;
    let python = ctx.python.clone();
    let script = interop_dir().join("python/flight_sql_client.py");
    let uri = if tls {
        format!("grpc+tls://127.0.0.1:{port}")
    } else {
        format!("grpc://127.0.0.1:{port}")
    };
    let ca_file = ca.as_ref().map(|(ca, _, _)| ca.clone());
    let out = tokio::task::spawn_blocking(move || {
        let mut c = Command::new(python);
        c.arg(script);
        if let Some(ca) = ca_file {
            c.arg("--ca").arg(ca);
        }
        c.args([&uri, "analyst", PASSWORD, &SESSIONS.to_string(), SQL])
            .output()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot run the ADBC client: {e}"))?;
    let grants = token_entries(srv, mark)
        .await?
        .iter()
        .filter(|e| e["status"] == 200)
        .count();
    let serve_log = std::fs::read_to_string(&log).unwrap_or_default();
    drop(server);
    if !out.status.success() {
        return Err(format!(
            "the ADBC client failed ({}): {}\nserver log:\n{serve_log}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let got: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the ADBC client printed no JSON ({e})"))?;
    // What `connectkit sql` gives for the same query over the same source,
    // with a refresh token of its own: the server's grant rotated the first.
    let expected = sql_rows(ctx, "dot", &source_url(ctx).await?, SQL).await?;
    let sessions = got["sessions"].as_array().cloned().unwrap_or_default();
    let queries = serve_log.matches("outcome=\"ok\"").count();
    all_of([
        ensure(expected.len() == ROWS as usize, || {
            format!(
                "connectkit sql gave {} rows, {ROWS} expected",
                expected.len()
            )
        }),
        ensure(sessions.len() == SESSIONS, || {
            format!("{} sessions answered, {SESSIONS} expected", sessions.len())
        }),
        ensure(
            sessions.iter().all(|s| s.as_array() == Some(&expected)),
            || "a session's rows differ from connectkit sql's".to_owned(),
        ),
        ensure(got["polars"].as_array() == Some(&expected), || {
            format!(
                "polars.read_database's rows differ from connectkit sql's: {}",
                got["polars"]
            )
        }),
        ensure(
            !tls || serve_log.contains(&format!("grpc+tls://127.0.0.1:{port}")),
            || format!("the server did not announce TLS:\n{serve_log}"),
        ),
        // Go's TLS: "x509: certificate signed by unknown authority".
        ensure(
            !tls || got["untrusted"]
                .as_str()
                .is_some_and(|e| e.contains("certificate") && !e.contains(PASSWORD)),
            || format!("a client without the CA gave {}", got["untrusted"]),
        ),
        ensure(got["prepared"] == json!([["item-0007"]]), || {
            format!("the prepared query with id = 7 gave {}", got["prepared"])
        }),
        ensure(
            got["objects"]
                == json!([[
                    "connectkit",
                    "dot",
                    "items",
                    ["id", "name", "price", "active"]
                ]]),
            || format!("adbc_get_objects listed {}", got["objects"]),
        ),
        ensure(
            got["wrong_password"]
                .as_str()
                .is_some_and(|e| e.contains("UNAUTHENTICATED") && !e.contains(PASSWORD)),
            || format!("a wrong password gave {}", got["wrong_password"]),
        ),
        ensure(
            got["delete"]
                .as_str()
                .is_some_and(|e| e.contains("read-only")),
            || format!("DELETE gave {}", got["delete"]),
        ),
        // Sampling at start-up and every session's scan share one grant.
        ensure(grants == 1, || {
            format!("{grants} token grants for {SESSIONS} sessions (one expected)")
        }),
        ensure(queries > SESSIONS, || {
            format!("the server logged {queries} finished queries:\n{serve_log}")
        }),
    ])
}

/// `connectkit serve` over `sources` (name, connection URL) for the user
/// `analyst`, on a free loopback port (TLS with `tls`'s certificate chain
/// and key); returns the process, its port and its log.
async fn start_serve(
    ctx: &Ctx,
    dir: &Path,
    sources: &[(&str, &str)],
    tls: Option<(&Path, &Path)>,
) -> Result<(ServerProcess, u16, PathBuf), String> {
    let mut config = String::from("[sources]\n");
    for (name, url) in sources {
        std::fs::write(dir.join(format!("{name}.url")), url).map_err(|e| e.to_string())?;
        config.push_str(&format!("{name} = \"@{name}.url\"\n"));
    }
    let hash = cli::run(
        &ctx.bin,
        &["serve", "--hash-password"],
        &format!("{PASSWORD}\n"),
    )
    .await?
    .success("serve --hash-password")?
    .stdout;
    config.push_str(&format!(
        "\n[users.analyst]\npassword = \"{}\"\n",
        hash.trim()
    ));
    std::fs::write(dir.join("sources.toml"), config).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let log = dir.join("serve.log");
    let mut cmd = Command::new(&ctx.bin);
    cmd.args(["serve", "--config"])
        .arg(dir.join("sources.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "connectkit_flight_sql=info");
    if let Some((cert, key)) = tls {
        cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
    }
    let server = ServerProcess::spawn("connectkit serve", cmd, &log)?;
    wait_listening(port, &log).await?;
    Ok((server, port, log))
}

/// The rows `connectkit sql` gives for `sql` over one source `name`.
async fn sql_rows(ctx: &Ctx, name: &str, url: &str, sql: &str) -> Result<Vec<Value>, String> {
    let source = format!("{name}=-");
    let out = cli::run(
        &ctx.bin,
        &["sql", "--source", &source, sql, "--format", "jsonl"],
        url,
    )
    .await?
    .success("connectkit sql")?;
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("connectkit sql jsonl: {e}")))
        .collect()
}

const CAP_SQL: &str = r#"SELECT "ID", seq, title FROM cap."Books" ORDER BY seq"#;
const JSON_SERVER_SQL: &str = "SELECT id, name FROM js.items ORDER BY id";

/// One `connectkit serve` over SAP CAP (OData, a grant at CAP's token
/// endpoint) and json-server (an inferred REST table): ADBC reads both, as
/// `connectkit sql` does, and adbc_get_objects lists both sources' tables.
async fn two_servers(ctx: &Ctx) -> Result<(), String> {
    let dir = ctx.scratch("flight-sql/adbc-cap-json-server")?;
    let cap_url = super::cap::url(ctx).await?;
    let js_url = format!(
        "autorest:Sample={};Table=items",
        quote(&format!("{}/items", ctx.server(Kind::JsonServer).base))
    );
    let (server, port, log) =
        start_serve(ctx, &dir, &[("cap", &cap_url), ("js", &js_url)], None).await?;
    let python = ctx.python.clone();
    let script = interop_dir().join("python/flight_sql_client.py");
    let uri = format!("grpc://127.0.0.1:{port}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([
                "--queries",
                &uri,
                "analyst",
                PASSWORD,
                CAP_SQL,
                JSON_SERVER_SQL,
            ])
            .output()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot run the ADBC client: {e}"))?;
    let serve_log = std::fs::read_to_string(&log).unwrap_or_default();
    drop(server);
    if !out.status.success() {
        return Err(format!(
            "the ADBC client failed ({}): {}\nserver log:\n{serve_log}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let got: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the ADBC client printed no JSON ({e})"))?;
    // CAP's grant rotated the first refresh token: a fresh one.
    let cap = sql_rows(ctx, "cap", &super::cap::url(ctx).await?, CAP_SQL).await?;
    let js = sql_rows(ctx, "js", &js_url, JSON_SERVER_SQL).await?;
    let tables: Vec<(String, String)> = got["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o[1].as_str().unwrap_or_default().to_owned(),
                o[2].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    all_of([
        ensure(!cap.is_empty() && !js.is_empty(), || {
            format!(
                "connectkit sql gave {} CAP and {} json-server rows",
                cap.len(),
                js.len()
            )
        }),
        ensure(got["results"][0].as_array() == Some(&cap), || {
            format!(
                "ADBC's CAP rows differ from connectkit sql's ({} rows)",
                cap.len()
            )
        }),
        ensure(got["results"][1].as_array() == Some(&js), || {
            format!(
                "ADBC's json-server rows differ from connectkit sql's: {}",
                got["results"][1]
            )
        }),
        ensure(got["polars"].as_array() == Some(&cap), || {
            "polars.read_database's CAP rows differ from connectkit sql's".to_owned()
        }),
        ensure(
            tables.contains(&("cap".into(), "Books".into()))
                && tables.contains(&("js".into(), "items".into())),
            || format!("adbc_get_objects listed {tables:?}"),
        ),
    ])
}

/// The scenarios of `connectkit serve`.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "django-oauth-toolkit/flight-sql/adbc-sessions/cli",
            Kind::Dot,
            |ctx| Box::pin(adbc(ctx, false)),
        ),
        Scenario::new(
            "django-oauth-toolkit/flight-sql/adbc-tls-private-ca/cli",
            Kind::Dot,
            |ctx| Box::pin(adbc(ctx, true)),
        ),
        Scenario::new(
            "sap-cap/flight-sql/adbc-with-json-server/cli",
            Kind::Cap,
            |ctx| Box::pin(two_servers(ctx)),
        )
        .and(Kind::JsonServer),
    ]
}
