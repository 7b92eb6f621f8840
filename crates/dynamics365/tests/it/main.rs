//! Integration tests of the Dynamics 365 connector, against wiremock on
//! 127.0.0.1: a token endpoint and a Dataverse Web API serving the fixtures
//! in `fixtures/dynamics365/`.
#![allow(missing_docs)]

mod auth;
mod cache;
mod changes;
mod client_credentials;
mod errors;
mod labels;
mod paging;
mod partitions;
mod pushdown;
mod schema;
mod seed;
mod service;
mod throttling;
mod untrusted;
mod values;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use connectkit_core::{Connector, Scan, ScanRequest};
use connectkit_dynamics365::{Dynamics365Connector, Dynamics365DataSource};
use futures::TryStreamExt;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The Web API root's path on the mock server.
pub const BASE_PATH: &str = "/api/data/v9.1/";
pub const ACCOUNTS: &str = "/api/data/v9.1/accounts";
pub const METADATA: &str = "/api/data/v9.1/$metadata";

/// The seed's credentials.
pub const CLIENT_ID: &str = "29453d6f-6789-25gh-gd8g-44tk3c527831";
pub const CLIENT_SECRET: &str = "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd";
pub const REFRESH_TOKEN: &str = "12a3=bCD/EfGh4Ijk+Lgd8g-44tk3c527831";

pub fn repo_file(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn service_url(server: &MockServer) -> String {
    format!("{}{BASE_PATH}", server.uri())
}

/// A fixture with `{{SERVICE_URL}}` pointed at `server`.
pub fn served(server: &MockServer, name: &str) -> String {
    repo_file(&format!("fixtures/dynamics365/{name}"))
        .replace("{{SERVICE_URL}}", &service_url(server))
}

/// The decoded `$skiptoken` of page `n` of the accounts fixtures.
pub fn skiptoken(n: u32) -> String {
    format!("<cookie pagenumber=\"{n}\" pagingcookie=\"\" istracking=\"False\" />")
}

pub fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json; odata.metadata=minimal")
}

/// Answers token requests with `at-1`, `at-2`, ... and counts them.
#[derive(Clone, Default)]
pub struct Issuer(pub Arc<AtomicUsize>);

impl Respond for Issuer {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("at-{n}"), "token_type": "Bearer", "expires_in": 3600}))
    }
}

impl Issuer {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub async fn mount_token(server: &MockServer, at: &str) -> Issuer {
    let issuer = Issuer::default();
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(issuer.clone())
        .mount(server)
        .await;
    issuer
}

/// The service document, `$metadata` and the three pages of accounts.
pub async fn mount_api(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(BASE_PATH))
        .respond_with(json(served(server, "service.json")))
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(METADATA))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(served(server, "metadata.xml"), "application/xml"),
        )
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(ACCOUNTS))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json(served(server, "accounts_page1.json")))
        .with_priority(5)
        .mount(server)
        .await;
    for n in [2, 3] {
        Mock::given(method("GET"))
            .and(path(ACCOUNTS))
            .and(query_param("$skiptoken", skiptoken(n).as_str()))
            .respond_with(json(served(server, &format!("accounts_page{n}.json"))))
            .with_priority(5)
            .mount(server)
            .await;
    }
}

/// Token endpoint at `/token` and the API.
pub async fn mount_all(server: &MockServer) -> Issuer {
    let issuer = mount_token(server, "/token").await;
    mount_api(server).await;
    issuer
}

/// The seed's data source, pointed at `server`.
pub fn source(server: &MockServer) -> Dynamics365DataSource {
    Dynamics365DataSource::new()
        .description("My Dynamics 365 Data Source")
        .service_url(service_url(server))
        .authentication_method("OAuth2")
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(format!("{}/token", server.uri()))
        .refresh_token(REFRESH_TOKEN)
}

pub fn connector(server: &MockServer) -> Dynamics365Connector {
    source(server).build().unwrap()
}

pub async fn collect(scan: Scan) -> connectkit_core::Result<Vec<RecordBatch>> {
    scan.batches.try_collect().await
}

pub async fn scan_all(
    c: &dyn Connector,
    table: &str,
    request: ScanRequest,
) -> connectkit_core::Result<Vec<RecordBatch>> {
    collect(c.scan(table, request).await?).await
}

/// The values of a string column across batches.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(column).unwrap().as_string::<i32>().clone();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

use arrow_array::Array;

/// Every request the server received.
pub async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// The requests to `p`.
pub async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    received(server)
        .await
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers.get(name).map(|v| v.to_str().unwrap())
}

/// The decoded `$skiptoken` of a request, if any.
pub fn skiptoken_of(req: &Request) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == "$skiptoken")
        .map(|(_, v)| v.into_owned())
}
