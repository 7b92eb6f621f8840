//! Twenty client sessions on one source whose access token expires while
//! they work: the server's one token cache makes exactly one grant per
//! expiry, and every session's result is whole.
//!
//! The token endpoint numbers its tokens (`at-1`, `at-2`, ...) and the API
//! accepts only the newest, so a session still holding an old token, or a
//! second grant racing the first, would show as a 401 or an extra grant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::listen::{config, start};
use crate::*;

const SESSIONS: usize = 20;
const ROWS: usize = 9;
const PAGE: usize = 2;
/// The tokens' lifetime.
const EXPIRES_IN: u64 = 120;

/// The rows `/items` serves.
fn rows() -> Vec<Value> {
    (1..=ROWS)
        .map(|i| json!({"id": i, "name": format!("item {i}"), "qty": i * 10}))
        .collect()
}

/// Which token the API takes, and when an old one stops working.
#[derive(Default)]
struct Tokens {
    /// Tokens granted so far (the newest is `at-{issued}`).
    issued: AtomicUsize,
    /// Pages served to `at-1` after which the API calls it expired (0: never).
    revoke_after: AtomicUsize,
    /// Pages served to `at-1`.
    first_pages: AtomicUsize,
}

/// The token endpoint: `at-N`, expiring in [`EXPIRES_IN`] seconds.
struct Grant(Arc<Tokens>);

impl Respond for Grant {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("at-{n}"), "token_type": "Bearer", "expires_in": EXPIRES_IN}))
    }
}

/// `/items`, `limit`/`offset` paged, for the newest token only.
struct Items(Arc<Tokens>);

impl Respond for Items {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let newest = format!("Bearer at-{}", self.0.issued.load(Ordering::SeqCst));
        let sent = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let revoke = self.0.revoke_after.load(Ordering::SeqCst);
        if sent == Some("Bearer at-1")
            && revoke > 0
            && self.0.first_pages.fetch_add(1, Ordering::SeqCst) >= revoke
        {
            return ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\"");
        }
        if sent != Some(newest.as_str()) {
            return ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\"");
        }
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let limit: usize = q.get("limit").map_or(100, |v| v.parse().unwrap());
        let offset: usize = q.get("offset").map_or(0, |v| v.parse().unwrap());
        let page: Vec<Value> = rows().into_iter().skip(offset).take(limit).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": page }))
    }
}

/// The API, its token endpoint and what they count.
async fn api() -> (MockServer, Arc<Tokens>) {
    let tokens = Arc::new(Tokens::default());
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Grant(tokens.clone()))
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(Items(tokens.clone()))
        .mount(&upstream)
        .await;
    (upstream, tokens)
}

/// The bearer token of each `/items` request and its status, in order.
async fn pages(upstream: &MockServer) -> Vec<String> {
    upstream
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/items")
        .map(|r| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned()
        })
        .collect()
}

async fn token_requests(upstream: &MockServer) -> usize {
    upstream
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .count()
}

/// Every session runs the whole-table query at once; each result must be
/// every row, in order.
async fn everyone_queries(
    sessions: Vec<FlightSqlServiceClient<Channel>>,
) -> Vec<FlightSqlServiceClient<Channel>> {
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let got = query(&mut c, "SELECT id, name, qty FROM shop.items ORDER BY id").await;
                (c, got)
            })
        })
        .collect();
    let mut back = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (c, got) = t.await.unwrap();
        assert_eq!(got.unwrap(), rows(), "session {i}'s rows");
        back.push(c);
    }
    back
}

/// Moves the clock of the runtime (the token cache's and the sessions')
/// forward; real I/O goes on afterwards.
async fn advance(d: Duration) {
    tokio::time::pause();
    tokio::time::advance(d).await;
    tokio::time::resume();
}

async fn twenty_sessions(upstream: &MockServer) -> (listen::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &upstream.uri(),
        PAGE,
        "queries = 40\nqueries_per_user = 40",
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = start(&config, listener, connectkit_flight_sql::Listen::plain()).await;
    (running, dir)
}

#[tokio::test]
async fn twenty_sessions_cause_one_grant_per_expiry() {
    let (upstream, tokens) = api().await;
    let (running, _dir) = twenty_sessions(&upstream).await;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(alice(running.addr).await);
    }
    let pages_per_query = ROWS.div_ceil(PAGE);
    let mut seen = 0;
    for round in 1..=3 {
        sessions = everyone_queries(sessions).await;
        assert_eq!(
            token_requests(&upstream).await,
            round,
            "round {round}: one grant per expiry for {SESSIONS} sessions"
        );
        let sent = pages(&upstream).await;
        let this_round = &sent[seen..];
        assert!(
            this_round.len() >= SESSIONS * pages_per_query,
            "round {round}: {} pages for {SESSIONS} whole scans",
            this_round.len()
        );
        // Every page of the round carried the round's token: nobody kept
        // an expired one, none was refused.
        let expected = format!("Bearer at-{round}");
        assert!(
            this_round.iter().all(|t| *t == expected),
            "round {round}: {this_round:?}"
        );
        seen = sent.len();
        // The token expires (the sessions, lasting an hour, do not).
        advance(Duration::from_secs(EXPIRES_IN + 1)).await;
    }
    assert_eq!(tokens.issued.load(Ordering::SeqCst), 3);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_token_the_api_expires_mid_scan_is_renewed_once_for_every_session() {
    let (upstream, tokens) = api().await;
    // After 40 of the 100 pages the twenty scans read, the API calls the
    // first token expired: scans are part-way through.
    tokens.revoke_after.store(40, Ordering::SeqCst);
    let (running, _dir) = twenty_sessions(&upstream).await;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(alice(running.addr).await);
    }
    everyone_queries(sessions).await;
    assert_eq!(
        token_requests(&upstream).await,
        2,
        "one grant at the start, one when the API expired the token"
    );
    let sent = pages(&upstream).await;
    let first = sent.iter().filter(|t| *t == "Bearer at-1").count();
    let second = sent.iter().filter(|t| *t == "Bearer at-2").count();
    assert_eq!(first + second, sent.len(), "{sent:?}");
    // 40 pages read with at-1, the refused ones read again with at-2: each
    // page of each scan read once.
    assert!(first > 40, "at-1 refused only after 40 pages: {first}");
    assert_eq!(second, SESSIONS * ROWS.div_ceil(PAGE) - 40, "{sent:?}");
    running.stop().await.unwrap();
}
