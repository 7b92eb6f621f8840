//! SQL through DataFusion over the connectors, against wiremock on
//! 127.0.0.1: a Dataverse Web API serving the accounts of
//! `fixtures/dynamics365/` (filtered, projected and paged as the test says
//! the server would) and an Autonomous REST API of orders.
#![allow(missing_docs)]

mod autorest;
mod contract;
mod count;
mod dynamics;
mod dynamics_partitions;
mod join;
mod partitions;

use std::sync::{Arc, Mutex};

use connectkit_core::Connector;
use connectkit_datafusion::datafusion::prelude::SessionContext;
use serde_json::{Map, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const BASE: &str = "/api/data/v9.2/";
pub const ACCOUNTS: &str = "/api/data/v9.2/accounts";

pub fn fixture(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The five accounts of the fixture pages, annotations dropped.
pub fn accounts() -> Vec<Value> {
    (1..=3)
        .flat_map(|n| {
            let page: Value =
                serde_json::from_str(&fixture(&format!("dynamics365/accounts_page{n}.json")))
                    .unwrap();
            page["value"].as_array().unwrap().clone()
        })
        .map(|row| {
            let kept: Map<String, Value> = row
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !k.contains('@'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kept)
        })
        .collect()
}

/// What the server's `$filter` selects, as the test states it.
pub type Selects = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// A Dataverse entity set over [`accounts`]: keeps the rows `selects`
/// accepts (the test asserts separately that `$filter` says the same),
/// honours `$select`, `$top` and `Prefer: odata.maxpagesize`, and pages
/// with `$skiptoken` next links.
#[derive(Clone)]
pub struct Dataverse {
    pub base: String,
    pub selects: Arc<Mutex<Selects>>,
}

impl Dataverse {
    pub fn set(&self, selects: impl Fn(&Value) -> bool + Send + Sync + 'static) {
        *self.selects.lock().unwrap() = Arc::new(selects);
    }
}

impl Respond for Dataverse {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let page = header(req, "prefer")
            .and_then(|p| p.strip_prefix("odata.maxpagesize="))
            .map_or(5000, |n| n.parse().unwrap());
        let skip: usize = q.get("$skiptoken").map_or(0, |s| s.parse().unwrap());
        let selects = self.selects.lock().unwrap().clone();
        let mut rows: Vec<Value> = accounts().into_iter().filter(|r| selects(r)).collect();
        if let Some(top) = q.get("$top") {
            rows.truncate(top.parse().unwrap());
        }
        let more = rows.len() > skip + page;
        let rows: Vec<Value> = rows
            .into_iter()
            .skip(skip)
            .take(page)
            .map(|r| match q.get("$select") {
                Some(sel) => {
                    let cols: Vec<&str> = sel.split(',').collect();
                    let kept: Map<String, Value> = r
                        .as_object()
                        .unwrap()
                        .iter()
                        .filter(|(k, _)| cols.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    Value::Object(kept)
                }
                None => r,
            })
            .collect();
        let mut body = serde_json::json!({ "value": rows });
        if more {
            let mut next = url::Url::parse(&format!("{}{}", self.base, req.url.path())).unwrap();
            let pairs: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| *k != "$skiptoken")
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain([("$skiptoken".to_owned(), (skip + page).to_string())])
                .collect();
            next.query_pairs_mut().clear().extend_pairs(pairs);
            body["@odata.nextLink"] = Value::String(next.to_string());
        }
        ResponseTemplate::new(200)
            .set_body_raw(body.to_string(), "application/json; odata.metadata=minimal")
    }
}

pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A token endpoint, the service document, `$metadata` and the accounts.
pub async fn dataverse(server: &MockServer) -> Dataverse {
    let served =
        |rel: &str| fixture(rel).replace("{{SERVICE_URL}}", &format!("{}{BASE}", server.uri()));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(BASE))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(served("dynamics365/service.json"), "application/json"),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}$metadata")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(served("dynamics365/metadata.xml"), "application/xml"),
        )
        .mount(server)
        .await;
    let dv = Dataverse {
        base: server.uri(),
        selects: Arc::new(Mutex::new(Arc::new(|_: &Value| true))),
    };
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .respond_with(dv.clone())
        .mount(server)
        .await;
    dv
}

/// The Dynamics 365 connector for `server`, asking for pages of `page_size`;
/// one partition, so that the requests each test asserts are the scan's
/// alone (partitioned scans: `dynamics_partitions`).
pub fn d365(server: &MockServer, page_size: u32) -> Arc<dyn Connector> {
    let c = connectkit_dynamics365::Dynamics365DataSource::new()
        .scan_partitions(1)
        .service_url(format!("{}{BASE}", server.uri()))
        .client_id("29453d6f-6789-25gh-gd8g-44tk3c527831")
        .client_secret("sql-s3cret")
        .token_uri(format!("{}/token", server.uri()))
        .refresh_token("sql-r3fresh")
        .page_size(page_size)
        .build()
        .unwrap();
    Arc::new(c)
}

/// A session with `connector` registered as `name`.
pub async fn session(name: &str, connector: Arc<dyn Connector>) -> SessionContext {
    let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
    connectkit_datafusion::register(&ctx, name, connector)
        .await
        .unwrap();
    ctx
}

/// The rows of `sql` as JSON objects (nulls explicit).
pub async fn query(ctx: &SessionContext, sql: &str) -> Vec<Value> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut w = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::JsonArray>(Vec::new());
    for b in &batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&bytes).unwrap()
}

/// One column of `rows`.
pub fn column(rows: &[Value], name: &str) -> Vec<Value> {
    rows.iter().map(|r| r[name].clone()).collect()
}

/// The decoded query pairs of every request to `p`, in order.
pub async fn queries_to(server: &MockServer, p: &str) -> Vec<Vec<(String, String)>> {
    requests_to(server, p)
        .await
        .iter()
        .map(|r| r.url.query_pairs().into_owned().collect())
        .collect()
}

pub async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

/// `pairs` as owned strings, for comparisons.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
