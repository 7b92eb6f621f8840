//! `connectkit demo`: a local OAuth token server and REST API on 127.0.0.1,
//! queried end to end through the refresh token grant, with one access-token
//! expiry and refresh-token rotations persisted to a token file.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use connectkit_core::{ConnectionUrl, Connector, Error, ErrorKind, ScanRequest};
use connectkit_datafusion::datafusion::prelude::SessionContext;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::RowFormat;

/// What the demo's token server knows.
#[derive(Default)]
struct AuthState {
    refresh_token: String,
    live: HashSet<String>,
    issued: usize,
    log: Vec<String>,
}

#[derive(Clone)]
struct TokenServer(Arc<Mutex<AuthState>>);

impl Respond for TokenServer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        let sent = form
            .iter()
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.clone());
        if sent.as_deref() != Some(s.refresh_token.as_str()) {
            s.log
                .push("token server: refused a stale refresh token (invalid_grant)".into());
            return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}));
        }
        s.issued += 1;
        let n = s.issued;
        let access = format!("demo-access-{n}");
        s.live.insert(access.clone());
        s.refresh_token = format!("demo-refresh-{n}");
        s.log.push(format!(
            "token server: grant #{n} issued a new access token and rotated the refresh token"
        ));
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": s.refresh_token, "scope": "demo.read",
        }))
    }
}

#[derive(Clone)]
struct Api {
    auth: Arc<Mutex<AuthState>>,
    body: serde_json::Value,
}

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let bearer = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let mut s = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        if !s.live.contains(&bearer) {
            s.log.push(format!(
                "API: {} answered 401 (access token expired)",
                req.url.path()
            ));
            return ResponseTemplate::new(401).set_body_json(json!({"error": "token expired"}));
        }
        ResponseTemplate::new(200).set_body_json(self.body.clone())
    }
}

fn countries() -> serde_json::Value {
    json!([
        {"code": "NO", "name": "Norway", "population": 5_550_000, "capital": {"name": "Oslo", "lat": 59.91}, "languages": ["nb", "nn"]},
        {"code": "PT", "name": "Portugal", "population": 10_467_000, "capital": {"name": "Lisbon", "lat": 38.72}, "languages": ["pt"]},
        {"code": "JP", "name": "Japan", "population": 124_500_000, "capital": {"name": "Tokyo", "lat": 35.68}, "languages": ["ja"]},
        {"code": "KE", "name": "Kenya", "population": 55_100_000, "capital": {"name": "Nairobi", "lat": -1.29}, "languages": ["sw", "en"]}
    ])
}

fn orders() -> serde_json::Value {
    json!({"data": [
        {"id": 1001, "country": "NO", "total": 250.5, "paid": true, "placed": "2026-11-02T09:15:00Z"},
        {"id": 1002, "country": "JP", "total": 99.0, "paid": false, "placed": "2026-11-03T14:02:00Z"},
        {"id": 1003, "country": "PT", "total": 1200.0, "paid": true, "placed": "2026-11-05T08:45:30Z"}
    ], "meta": {"count": 3}})
}

fn demo_error(e: impl std::fmt::Display) -> Error {
    Error::connector(ErrorKind::Other, format!("demo: {e}"))
}

/// Runs the demo, writing its narration to `out`.
pub async fn run(out: &mut impl Write) -> Result<(), Error> {
    let w = |out: &mut dyn Write, s: &str| writeln!(out, "{s}").map_err(demo_error);
    let auth = Arc::new(Mutex::new(AuthState {
        refresh_token: "demo-refresh-0".into(),
        ..Default::default()
    }));
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(TokenServer(auth.clone()))
        .mount(&server)
        .await;
    for (route, body) in [("/v1/countries", countries()), ("/v1/orders", orders())] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(Api {
                auth: auth.clone(),
                body,
            })
            .mount(&server)
            .await;
    }

    let dir = tempfile::tempdir().map_err(demo_error)?;
    let model = dir.path().join("demo.rest");
    let model_json = json!({
        "countries": format!("{}/v1/countries", server.uri()),
        "orders": format!("{}/v1/orders", server.uri()),
    });
    std::fs::write(
        &model,
        serde_json::to_vec_pretty(&model_json).map_err(demo_error)?,
    )
    .map_err(demo_error)?;
    let token_file = dir.path().join("tokens.json");

    let url_text = format!(
        "jdbc:datadirect:autorest:AuthenticationMethod=OAuth2-RefreshToken;ClientID=demo-client;\
         ClientSecret=demo-secret;RefreshToken=demo-refresh-0;TokenURI=POST {}/oauth/token;\
         Config='{}';TokenFile='{}';",
        server.uri(),
        model.display(),
        token_file.display()
    );
    let url: ConnectionUrl = url_text.parse()?;
    w(
        out,
        &format!(
            "connectkit demo: an OAuth token server and a REST API are listening on {}",
            server.uri()
        ),
    )?;
    w(out, "\nConnection URL (secrets masked):")?;
    w(out, &format!("  {url}"))?;

    let connector: Arc<dyn Connector> = Arc::from(connectkit::registry().connect_url(url)?);
    let mut tables = Vec::new();
    for t in connector.tables().await? {
        let schema = connector.schema(&t.name).await?;
        tables.push((t.name, schema));
    }
    w(out, "\n$ connectkit tables <URL>")?;
    crate::output::tables(out, &tables, crate::ListFormat::Table)?;

    for (name, _) in &tables {
        w(out, &format!("\n$ connectkit query <URL> {name} --limit 3"))?;
        let scan = connector
            .scan(name, ScanRequest::new().with_limit(3))
            .await?;
        crate::output::rows(out, scan, Some(3), RowFormat::Table).await?;
    }

    // The same connection as SQL tables: a join, a filter and an order
    // computed by DataFusion over the two REST endpoints.
    let query = "SELECT o.id, c.name AS country, o.total FROM shop.orders o \
                 JOIN shop.countries c ON o.country = c.code WHERE o.paid ORDER BY o.total DESC";
    w(
        out,
        &format!("\n$ connectkit sql --source shop=<URL> \"{query}\""),
    )?;
    let ctx = SessionContext::new_with_config(connectkit_datafusion::session_config());
    connectkit_datafusion::register(&ctx, "shop", connector.clone())
        .await
        .map_err(crate::error::df_error)?;
    crate::sql::print_query(out, &ctx, query, RowFormat::Table).await?;

    // The token server forgets every access token, as when they expire.
    w(out, "\nThe API now expires every access token it issued...")?;
    auth.lock().unwrap_or_else(|p| p.into_inner()).live.clear();
    w(
        out,
        "$ connectkit query <URL> countries --columns code,name --limit 2",
    )?;
    let scan = connector
        .scan(
            "countries",
            ScanRequest::new()
                .with_projection(["code", "name"])
                .with_limit(2),
        )
        .await?;
    crate::output::rows(out, scan, Some(2), RowFormat::Table).await?;

    let state = auth.lock().unwrap_or_else(|p| p.into_inner());
    w(out, "\nWhat happened on the wire:")?;
    for line in &state.log {
        w(out, &format!("  {line}"))?;
    }
    let stored = std::fs::read_to_string(&token_file).unwrap_or_default();
    let persisted = stored.contains(&format!("\"{}\"", state.refresh_token));
    w(
        out,
        &format!(
            "\nToken file {} holds the latest rotated refresh token: {persisted} (its value stays unprinted).",
            token_file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("tokens.json")
        ),
    )?;
    if !persisted {
        return Err(demo_error("the rotated refresh token was not persisted"));
    }
    w(
        out,
        "\nDone. Try `connectkit --help`, or point a URL at your own API.",
    )
}
