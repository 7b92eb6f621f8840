//! connectkit-flight-sql end to end: arrow-flight's `FlightSqlServiceClient`
//! against the server on 127.0.0.1, whose source is a REST API (wiremock)
//! reached with the client credentials grant.

mod custom;
mod endpoints;
mod expiry;
mod keys;
mod listen;
mod metadata;
mod queries;
mod sessions;
mod tokens;

use std::net::SocketAddr;

use arrow_array::RecordBatch;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::{FlightInfo, Ticket};
use connectkit_flight_sql::{Listen, ServeConfig, Server, hash_password};
use futures::TryStreamExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// alice's password.
pub const PASSWORD: &str = "alice-pw";

/// The items the upstream API serves.
pub fn items() -> Vec<Value> {
    (1..=5)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "qty": i * 10}))
        .collect()
}

/// `/items`, `limit`/`offset` paged.
struct Items;

impl Respond for Items {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let limit: usize = q.get("limit").map_or(100, |v| v.parse().unwrap());
        let offset: usize = q.get("offset").map_or(0, |v| v.parse().unwrap());
        let rows: Vec<Value> = items().into_iter().skip(offset).take(limit).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": rows }))
    }
}

/// A running server, its upstream API and what it was built from.
pub struct Served {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The upstream REST API and token endpoint.
    pub upstream: MockServer,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<connectkit_core::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Requests the upstream API received on `p`.
    pub async fn requests_to(&self, p: &str) -> Vec<Request> {
        self.upstream
            .received_requests()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == p)
            .collect()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// Starts the API (token endpoint + paged `/items`) and a server over it,
/// with `limits` as the `[limits]` table's lines.
pub async fn serve(limits: &str) -> Served {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "upstream-access", "token_type": "Bearer", "expires_in": 3600})))
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer upstream-access",
        ))
        .respond_with(Items)
        .mount(&upstream)
        .await;
    // A page that takes longer than any test waits (cancelled by the tests).
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"id": 1}]}))
                .set_delay(std::time::Duration::from_secs(600)),
        )
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/broken"))
        .respond_with(ResponseTemplate::new(500).set_body_string("database on fire"))
        .mount(&upstream)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let model = format!(
        r##"{{
  "#maximumPageSize": 2,
  "#pageSizeParameter": "limit",
  "#rowOffsetParameter": "offset",
  "items": {{
    "#path": ["{0}/items /data"],
    "id": "Integer,#key",
    "name": "VarChar(32)",
    "qty": "Integer"
  }},
  "slow": {{
    "#path": ["{0}/slow /data"],
    "id": "Integer,#key"
  }},
  "broken": {{
    "#path": ["{0}/broken /data"],
    "id": "Integer,#key"
  }}
}}"##,
        upstream.uri()
    );
    start(
        upstream,
        dir,
        &model,
        "MaxConcurrentRequests=1",
        &format!("[limits]\n{limits}"),
    )
    .await
}

/// A server over the API `upstream`, whose one source `shop` reads `model`
/// (a model file's text, written to `dir`) with `properties` added to its
/// connection URL, and `config` added to `sources.toml` after the users
/// (alice, bob).
pub async fn start(
    upstream: MockServer,
    dir: tempfile::TempDir,
    model: &str,
    properties: &str,
    config: &str,
) -> Served {
    std::fs::write(dir.path().join("shop.rest"), model).unwrap();
    let url = format!(
        "autorest:Config={};AuthenticationMethod=OAuth2-ClientCredentials;ClientID=svc;ClientSecret=svc-s3cret;TokenURI=POST {}/token;{properties}",
        dir.path().join("shop.rest").display(),
        upstream.uri()
    );
    std::fs::write(dir.path().join("shop.url"), url).unwrap();
    let hash = hash_password(&PASSWORD.to_owned().into()).unwrap();
    let bob = hash_password(&"bob-pw".to_owned().into()).unwrap();
    let text = format!(
        "[sources]\nshop = \"@shop.url\"\n\n[users.alice]\npassword = \"{hash}\"\n\n[users.bob]\npassword = \"{bob}\"\n\n{config}\n"
    );
    let config = ServeConfig::parse(&text, &dir.path().join("sources.toml")).unwrap();
    let mut registry = connectkit_core::Registry::new();
    connectkit_autorest::register(&mut registry);
    let server = Server::new(&config, &registry).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, &Listen::plain(), async {
                let _ = stopped.await;
            })
            .await
    });
    Served {
        addr,
        upstream,
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

/// A client, not logged in.
pub async fn anonymous(addr: SocketAddr) -> FlightSqlServiceClient<Channel> {
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    FlightSqlServiceClient::new(channel)
}

/// A client logged in as alice.
pub async fn alice(addr: SocketAddr) -> FlightSqlServiceClient<Channel> {
    login(addr, "alice", PASSWORD).await
}

/// A client logged in as `user`.
pub async fn login(
    addr: SocketAddr,
    user: &str,
    password: &str,
) -> FlightSqlServiceClient<Channel> {
    let mut c = anonymous(addr).await;
    c.handshake(user, password).await.unwrap();
    c
}

/// Every batch of every endpoint of `info`.
pub async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Result<Vec<RecordBatch>, arrow_flight::error::FlightError> {
    let mut out = Vec::new();
    for endpoint in info.endpoint {
        let ticket: Ticket = endpoint.ticket.expect("a ticket");
        let stream = client.do_get(ticket).await?;
        out.extend(stream.try_collect::<Vec<_>>().await?);
    }
    Ok(out)
}

/// Runs `sql` and returns its rows as JSON objects.
pub async fn query(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<Vec<Value>, String> {
    let info = client
        .execute(sql.to_owned(), None)
        .await
        .map_err(|e| e.to_string())?;
    let batches = fetch(client, info).await.map_err(|e| e.to_string())?;
    Ok(to_json(&batches))
}

/// Whether a client error's text carries status `code`.
pub fn has_code(error: &str, code: tonic::Code) -> bool {
    error.contains(code.description())
}

/// Batches as JSON objects.
pub fn to_json(batches: &[RecordBatch]) -> Vec<Value> {
    let mut writer = arrow_json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&refs).unwrap();
    writer.finish().unwrap();
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&bytes).unwrap()
}
