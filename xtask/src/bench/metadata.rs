//! 7. Dynamics 365 `$metadata` at real size: a generated CSDL of a
//!    customized organization (about 30 MB at full size: hundreds of entity
//!    types with a hundred-odd annotated properties each), and the time and
//!    peak memory of `tables` (every table's schema, as `connectkit tables`
//!    prints them) and of a first query (`LIMIT 10` on one table) in fresh
//!    child processes, without the metadata cache (`MetadataCache=false`,
//!    the document downloaded) and with a warm one (`304 Not Modified`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use connectkit_core::{Connector, ScanRequest};
use connectkit_dynamics365::Dynamics365DataSource;
use futures::{FutureExt, TryStreamExt};

use super::server::{Handler, Server, json, respond};
use super::{CHILD_ENV, Measure, Row, Sizes};

const NAME: &str = "9 d365 metadata";
/// The value of [`CHILD_ENV`] that makes a child run one measurement.
pub const CHILD: &str = "d365-metadata";
const ROOT: &str = "/api/data/v9.2/";
const ETAG: &str = "W/\"bench-1\"";
const URL_ENV: &str = "CONNECTKIT_BENCH_URL";
const MODE_ENV: &str = "CONNECTKIT_BENCH_MODE";
const CACHE_ENV: &str = "CONNECTKIT_BENCH_CACHE";
/// Properties per entity type (Dataverse's account has about 150).
const PROPERTIES: usize = 120;
/// Entity types at full size (`Sizes::dyn_rows` = 1,000,000): about 30 MB.
const FULL_TYPES: usize = 980;

/// A CSDL shaped like a customized Dataverse organization's: `types` entity
/// types (the first is `account`) with keys, annotated properties of the
/// usual types, navigation properties, and an entity set each.
pub fn csdl(types: usize) -> String {
    let mut x = String::with_capacity(types * PROPERTIES * 330);
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="crmbaseentity" Abstract="true"/>"#);
    let kinds = [
        ("Edm.String", ""),
        ("Edm.Int32", ""),
        ("Edm.Decimal", r#" Scale="Variable""#),
        ("Edm.DateTimeOffset", r#" Precision="0""#),
        ("Edm.Boolean", ""),
        ("Edm.Guid", ""),
    ];
    for t in 0..types {
        let name = entity(t);
        let _ = write!(
            x,
            r#"<EntityType Name="{name}" BaseType="mscrm.crmbaseentity"><Key><PropertyRef Name="{name}id"/></Key><Property Name="{name}id" Type="Edm.Guid"/>"#
        );
        for p in 0..PROPERTIES {
            let (ty, facets) = kinds[p % kinds.len()];
            let _ = write!(
                x,
                r#"<Property Name="new_attribute{p}" Type="{ty}"{facets}><Annotation Term="Org.OData.Core.V1.Description" String="Custom attribute {p} of {name}, added by a solution"/><Annotation Term="Org.OData.Core.V1.Computed" Bool="false"/></Property>"#
            );
        }
        for n in 0..8 {
            let _ = write!(
                x,
                r#"<NavigationProperty Name="{name}_rel{n}" Type="Collection(mscrm.{})" Partner="rel{n}_{name}"/>"#,
                entity((t + n + 1) % types)
            );
        }
        x.push_str("</EntityType>");
    }
    x.push_str(r#"<EntityContainer Name="System">"#);
    for t in 0..types {
        let name = entity(t);
        let _ = write!(
            x,
            r#"<EntitySet Name="{name}s" EntityType="Microsoft.Dynamics.CRM.{name}"/>"#
        );
    }
    x.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    x
}

fn entity(t: usize) -> String {
    if t == 0 {
        "account".into()
    } else {
        format!("new_entity{t}")
    }
}

/// Serves the token, the service document, `$metadata` (with an ETag; 304
/// to it) and ten accounts; counts the `$metadata` bytes sent.
fn start_server(types: usize, sent: Arc<AtomicU64>) -> Result<Server, String> {
    let xml = Bytes::from(csdl(types));
    let sets: Vec<String> = (0..types)
        .map(|t| {
            format!(
                r#"{{"name":"{0}s","kind":"EntitySet","url":"{0}s"}}"#,
                entity(t)
            )
        })
        .collect();
    let service = Bytes::from(format!(r#"{{"value":[{}]}}"#, sets.join(",")));
    let rows: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"accountid":"00000000-0000-0000-0000-{i:012}","new_attribute0":"row {i}"}}"#
            )
        })
        .collect();
    let page = Bytes::from(format!(r#"{{"value":[{}]}}"#, rows.join(",")));
    let handler: Handler = Arc::new(move |req| {
        let path = req.uri().path();
        let response = if path == "/token" {
            json(r#"{"access_token":"d365-access","token_type":"Bearer","expires_in":3600}"#)
        } else if path == ROOT {
            json(service.clone())
        } else if path == format!("{ROOT}$metadata") {
            let fresh = req
                .headers()
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                == Some(ETAG);
            let mut r = if fresh {
                respond(
                    http::StatusCode::NOT_MODIFIED,
                    "application/xml",
                    Bytes::new(),
                )
            } else {
                sent.fetch_add(xml.len() as u64, Ordering::Relaxed);
                respond(http::StatusCode::OK, "application/xml", xml.clone())
            };
            r.headers_mut()
                .insert(http::header::ETAG, http::HeaderValue::from_static(ETAG));
            r
        } else if path == format!("{ROOT}accounts") {
            json(page.clone())
        } else {
            respond(http::StatusCode::NOT_FOUND, "text/plain", Bytes::new())
        };
        async move { response }.boxed()
    });
    Server::start(handler).map_err(|e| e.to_string())
}

/// One measurement: `tables` (every schema) or `query` (LIMIT 10) on a
/// fresh connector, with the cache in `cache` (`None`: off). Returns the
/// milliseconds taken.
async fn measure(base: &str, mode: &str, cache: Option<&str>) -> Result<f64, String> {
    let mut source = Dynamics365DataSource::new()
        .service_url(format!("{base}{ROOT}"))
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("bench-refresh")
        .token_uri(format!("{base}/token"));
    source = match cache {
        Some(dir) => source.property("MetadataCacheDir", dir),
        None => source.property("MetadataCache", "false"),
    };
    let started = Instant::now();
    let c = source.build().map_err(|e| e.to_string())?;
    if mode == "tables" {
        for t in c.tables().await.map_err(|e| e.to_string())? {
            c.schema(&t.name).await.map_err(|e| e.to_string())?;
        }
    } else {
        let scan = c
            .scan("accounts", ScanRequest::new().with_limit(10))
            .await
            .map_err(|e| e.to_string())?;
        let batches: Vec<_> = scan
            .batches
            .try_collect()
            .await
            .map_err(|e| e.to_string())?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows != 10 {
            return Err(format!("the query read {rows} rows, expected 10"));
        }
    }
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

/// (milliseconds, peak KiB): in a child process when `exe` is given (peak
/// memory is per process), else in this one (no peak memory).
async fn run_one(
    exe: Option<&Path>,
    base: &str,
    mode: &str,
    cache: Option<&str>,
) -> Result<(f64, u64), String> {
    let Some(exe) = exe else {
        return Ok((measure(base, mode, cache).await?, 0));
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("bench")
        .env(CHILD_ENV, CHILD)
        .env(URL_ENV, base)
        .env(MODE_ENV, mode)
        .env(CACHE_ENV, cache.unwrap_or(""));
    let v = super::child_report(cmd, exe, &format!("$metadata {mode}")).await?;
    match (v["ms"].as_f64(), v["peak_kib"].as_u64()) {
        (Some(ms), Some(kib)) => Ok((ms, kib)),
        _ => Err(format!("the $metadata child reported {v}")),
    }
}

/// The median (by time) of three runs.
async fn median_of_3(
    exe: Option<&Path>,
    base: &str,
    mode: &str,
    cache: Option<&str>,
) -> Result<(f64, u64), String> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(run_one(exe, base, mode, cache).await?);
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(runs[1])
}

/// Runs benchmark 9.
pub async fn run(sizes: &Sizes, exe: Option<&Path>) -> Result<Vec<Row>, String> {
    let types = (FULL_TYPES * sizes.dyn_rows / 1_000_000).max(4);
    let sent = Arc::new(AtomicU64::new(0));
    let server = start_server(types, sent.clone())?;
    let base = server.url();
    let size_mb = csdl(types).len() as f64 / 1e6;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cache = dir
        .path()
        .to_str()
        .ok_or("a cache path that is not UTF-8")?;
    // Fill the cache once; every cached run below revalidates it (304).
    run_one(exe, &base, "query", Some(cache)).await?;
    let mib = |kib: u64| Measure::new(kib as f64 / 1024.0, "MiB");
    let mut rows = Vec::new();
    for (mode, what) in [
        ("tables", format!("tables + every schema ({types} tables)")),
        ("query", "first query, LIMIT 10 on one table".to_owned()),
    ] {
        sent.store(0, Ordering::Relaxed);
        let (cold_ms, cold_kib) = median_of_3(exe, &base, mode, None).await?;
        let cold_mb = sent.swap(0, Ordering::Relaxed) / 3;
        let (warm_ms, warm_kib) = median_of_3(exe, &base, mode, Some(cache)).await?;
        let warm_mb = sent.swap(0, Ordering::Relaxed) / 3;
        rows.push(
            Row::info(
                NAME,
                format!("{what}, {size_mb:.1} MB $metadata:\nms, cache warm (304) vs MetadataCache=false"),
                Measure::new(warm_ms, "ms"),
            )
            .baseline("no cache", Measure::new(cold_ms, "ms")),
        );
        rows.push(
            Row::info(
                NAME,
                format!("{what}: $metadata downloaded per run"),
                mib(warm_mb / 1024),
            )
            .baseline("no cache", mib(cold_mb / 1024)),
        );
        if exe.is_some() {
            rows.push(
                Row::info(NAME, format!("{what}: peak RSS (VmHWM)"), mib(warm_kib))
                    .baseline("no cache", mib(cold_kib)),
            );
        }
    }
    Ok(rows)
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: one measurement, printed as one JSON line.
pub fn child_main() -> ExitCode {
    let result = (|| -> Result<String, String> {
        let env = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
        let (base, mode, cache) = (env(URL_ENV)?, env(MODE_ENV)?, env(CACHE_ENV)?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let cache = Some(cache.as_str()).filter(|c| !c.is_empty());
        let ms = runtime.block_on(measure(&base, &mode, cache))?;
        let peak_kib = vm_hwm_kib().ok_or("no VmHWM in /proc/self/status")?;
        Ok(serde_json::json!({"ms": ms, "peak_kib": peak_kib}).to_string())
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
