//! 5. Dynamics 365 paging: the benchmark table as an OData entity set
//!    (`accounts`) in `@odata.nextLink` pages, scanned by the Dynamics 365
//!    connector (baseline: reqwest + `serde_json::Value` over the same pages).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use connectkit_core::Connector;
use connectkit_dynamics365::Dynamics365DataSource;
use futures::FutureExt;

use super::data::rows_json;
use super::dataverse::{ROOT, common, csdl};
use super::rows::{check_rows, scan_rate};
use super::server::{Handler, Server, json, query_param, respond};
use super::{Measure, Row, Sizes, alternate, median};

const NAME: &str = "5 dynamics365";

/// The entity set's pages, each with a next link but the last.
fn pages(base: &str, rows: u64, page: u64) -> Vec<Bytes> {
    let n = rows.div_ceil(page);
    (0..n)
        .map(|p| {
            let (start, end) = (p * page, ((p + 1) * page).min(rows));
            let next = if p + 1 < n {
                format!(r#","@odata.nextLink":"{base}{ROOT}accounts?$skiptoken={end}""#)
            } else {
                String::new()
            };
            Bytes::from(format!(
                r#"{{"@odata.context":"{base}{ROOT}$metadata#accounts","value":[{}]{next}}}"#,
                rows_json(start, end, true)
            ))
        })
        .collect()
}

/// Serves the token endpoint, the service document, `$metadata` and the pages.
pub(super) fn start_server(rows: usize, page: usize) -> Result<Server, String> {
    let all_pages = Arc::new(std::sync::OnceLock::<Vec<Bytes>>::new());
    let slot = Arc::clone(&all_pages);
    let metadata = csdl(&[
        ("id", "Edm.Int64"),
        ("name", "Edm.String"),
        ("email", "Edm.String"),
        ("amount", "Edm.Double"),
        ("quantity", "Edm.Int32"),
        ("active", "Edm.Boolean"),
        ("created", "Edm.DateTimeOffset"),
        ("birthday", "Edm.Date"),
        ("category", "Edm.String"),
        ("score", "Edm.Double"),
    ]);
    let handler: Handler = Arc::new(move |req| {
        let path = req.uri().path();
        let response = if let Some(r) = common(path, &metadata) {
            r
        } else if path == format!("{ROOT}accounts") {
            let skip: usize = query_param(req.uri().query(), "$skiptoken")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let body = slot
                .get()
                .and_then(|p| p.get(skip / page).cloned())
                .unwrap_or_else(|| Bytes::from_static(br#"{"value":[]}"#));
            json(body)
        } else {
            respond(http::StatusCode::NOT_FOUND, "text/plain", Bytes::new())
        };
        async move { response }.boxed()
    });
    let server = Server::start(handler).map_err(|e| e.to_string())?;
    let _ = all_pages.set(pages(&server.url(), rows as u64, page as u64));
    Ok(server)
}

/// The baseline: every page into a `serde_json::Value`, following next links.
async fn baseline(client: &reqwest::Client, base: &str, rows: usize) -> Result<f64, String> {
    let started = Instant::now();
    let mut url = format!("{base}{ROOT}accounts");
    let mut total = 0;
    loop {
        let r = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        total += v["value"].as_array().map_or(0, Vec::len);
        match v["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    check_rows(total, rows)?;
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The connector: a fresh connection ($metadata, token) and a full scan.
async fn connector(base: &str, rows: usize, page: usize) -> Result<f64, String> {
    let c = Dynamics365DataSource::new()
        .service_url(format!("{base}{ROOT}"))
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("bench-refresh")
        .token_uri(format!("{base}/token"))
        .page_size(u32::try_from(page).unwrap_or(5_000))
        .build()
        .map_err(|e| e.to_string())?;
    c.schema("accounts").await.map_err(|e| e.to_string())?;
    scan_rate(&c, "accounts", rows).await
}

/// Runs benchmark 5.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let (rows, page) = (sizes.dyn_rows, sizes.dyn_page);
    let server = start_server(rows, page)?;
    let base = server.url();
    let client = connectkit_core::client::http_client().expect("HTTP client");
    let (raw, d365) = alternate(
        sizes.rounds,
        || baseline(&client, &base, rows),
        || connector(&base, rows, page),
    )
    .await?;
    Ok(vec![
        Row::info(
            NAME,
            format!("rows/s, {rows} rows x 11 columns into Arrow\n@odata.nextLink pages of {page}"),
            Measure::new(median(&d365), "rows/s"),
        )
        .baseline(
            "reqwest + serde_json::Value",
            Measure::new(median(&raw), "rows/s"),
        )
        .spread(&d365, &raw),
    ])
}
