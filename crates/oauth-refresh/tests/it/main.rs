//! Integration tests of the refresh token grant, against wiremock on 127.0.0.1.
#![allow(missing_docs)]

mod assertions;
mod authorize;
mod cache;
mod chain_client_auth;
mod client_credentials;
mod deadline;
mod device;
mod errors;
mod exchange_fallback;
mod fallback;
mod faults;
mod key_forms;
mod modes;
mod proxy;
mod redaction;
mod rotation;
mod secrets;
mod seeds;
mod service;
mod token_file;
mod unauthorized;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connectkit_oauth_refresh::{RefreshTokenFlow, RefreshTokenFlowBuilder};
use serde::Serialize;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The seed's values (Autonomous REST example).
pub const CLIENT_ID: &str = "1234567898-a1bc2de3fgh4ij567klmn8opqr9stu.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "FaZBFRsGXTaR";
pub const REFRESH_TOKEN: &str = "1/abCD0F1GHijkLmNOPqrs_T2VWx3Y-Zabc45dE6FGh";

pub fn token_json(access: &str, expires_in: u64) -> serde_json::Value {
    serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in})
}

/// A builder with the seed's credentials pointed at `server`'s `/token`.
pub fn builder(server: &MockServer, prefix: &str) -> RefreshTokenFlowBuilder {
    RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .refresh_token(REFRESH_TOKEN)
        .token_uri(&format!("{prefix}{}/token", server.uri()))
        .unwrap()
        .datadirect_defaults()
}

/// Answers token requests with `at-1`, `at-2`, ... and counts them.
#[derive(Clone, Default)]
pub struct CountingIssuer {
    pub count: Arc<AtomicUsize>,
    pub expires_in: u64,
    pub rotate: bool,
    pub delay_ms: u64,
}

impl Respond for CountingIssuer {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let mut body = token_json(&format!("at-{n}"), self.expires_in);
        if self.rotate {
            body["refresh_token"] = format!("rt-{n}").into();
        }
        ResponseTemplate::new(200)
            .set_body_json(body)
            .set_delay(std::time::Duration::from_millis(self.delay_ms))
    }
}

impl CountingIssuer {
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub async fn mount(&self, server: &MockServer) {
        self.mount_at(server, "/token").await;
    }

    pub async fn mount_at(&self, server: &MockServer, at: &str) {
        Mock::given(path(at))
            .respond_with(self.clone())
            .mount(server)
            .await;
    }
}

/// What a token endpoint received, in a form fit for snapshots.
#[derive(Serialize, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub accept: Option<String>,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
}

pub fn received(req: &Request) -> Received {
    let header = |n: &str| req.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    Received {
        method: req.method.to_string(),
        path: req.url.path().to_owned(),
        query: req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        authorization: header("authorization"),
        accept: header("accept"),
        content_type: header("content-type"),
        form: url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    }
}

pub async fn token_requests(server: &MockServer) -> Vec<Received> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .map(received)
        .collect()
}

/// An API at `/api` that accepts only `Bearer <token>`.
pub async fn api_accepting(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(wiremock::matchers::header(
            "authorization",
            format!("Bearer {token}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(server)
        .await;
}

/// A token endpoint that rotates refresh tokens with reuse detection, as
/// oidc-provider does (RFC 9700): a consumed refresh token presented again
/// revokes the whole grant, so every later request fails `invalid_grant`.
#[derive(Clone)]
pub struct ReuseDetectingIssuer {
    pub state: Arc<std::sync::Mutex<Chain>>,
    pub expires_in: u64,
}

#[derive(Debug, Default)]
pub struct Chain {
    pub valid: String,
    pub consumed: Vec<String>,
    pub revoked: bool,
    pub grants: usize,
}

impl ReuseDetectingIssuer {
    pub fn new(first: &str, expires_in: u64) -> Self {
        Self {
            state: Arc::new(std::sync::Mutex::new(Chain {
                valid: first.to_owned(),
                ..Chain::default()
            })),
            expires_in,
        }
    }

    pub fn grants(&self) -> usize {
        self.state.lock().unwrap().grants
    }

    pub fn revoked(&self) -> bool {
        self.state.lock().unwrap().revoked
    }

    pub async fn mount(&self, server: &MockServer) {
        Mock::given(path("/token"))
            .respond_with(self.clone())
            .mount(server)
            .await;
    }
}

/// The `refresh_token` parameter of a token request, from its query or form body.
pub fn sent_refresh_token(req: &Request) -> Option<String> {
    let r = received(req);
    r.query
        .iter()
        .chain(&r.form)
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.clone())
}

impl Respond for ReuseDetectingIssuer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let sent = sent_refresh_token(req).unwrap_or_default();
        let mut chain = self.state.lock().unwrap();
        let invalid = || {
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "invalid_grant", "error_description": "grant request is invalid"}))
        };
        if chain.revoked {
            return invalid();
        }
        if sent != chain.valid {
            if chain.consumed.contains(&sent) {
                chain.revoked = true;
            }
            return invalid();
        }
        chain.grants += 1;
        let n = chain.grants;
        let next = format!("rt-{n}");
        let old = std::mem::replace(&mut chain.valid, next.clone());
        chain.consumed.push(old);
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("at-{n}"), "token_type": "Bearer",
            "expires_in": self.expires_in, "refresh_token": next}))
    }
}

/// Everything logged at any level on this thread while the guard lives
/// (a current-thread runtime runs the refresh task on it too).
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, LogBuffer) {
    let buf = LogBuffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have cached "no subscriber is interested"
    // for a callsite meanwhile: ask every callsite again.
    tracing::callsite::rebuild_interest_cache();
    (guard, buf)
}

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What an API's 401 does to a flow: its current access token is rejected,
/// so the next token comes from a grant (or from a newer stored token).
pub async fn reject_current(flow: &RefreshTokenFlow) {
    let mut req = connectkit_core::client::http_client()
        .expect("HTTP client")
        .get("http://127.0.0.1:9/api")
        .build()
        .unwrap();
    flow.authorize_request(&mut req).await.unwrap();
    flow.invalidate(&req);
}
