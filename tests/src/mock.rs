//! The wiremock servers that play a scenario: a token endpoint answering an
//! ordered list of responses, and API routes; both record what they receive.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::scenario::{MockResponse, Route, TokenEndpoint, scalar, substitute, substitute_value};

/// What a server received, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Form body parameters, in order (empty unless form-encoded).
    pub form: Vec<(String, String)>,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body, when it is JSON.
    pub json: Option<serde_json::Value>,
}

impl Received {
    fn from_request(req: &Request) -> Self {
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let is_form = headers.iter().any(|(k, v)| {
            k == "content-type" && v.starts_with("application/x-www-form-urlencoded")
        });
        let form = if is_form {
            url::form_urlencoded::parse(&req.body)
                .into_owned()
                .collect()
        } else {
            Vec::new()
        };
        Self {
            method: req.method.as_str().to_owned(),
            path: req.url.path().to_owned(),
            query: req.url.query_pairs().into_owned().collect(),
            form,
            json: serde_json::from_slice(&req.body).ok(),
            headers,
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

fn lock(log: &Log) -> std::sync::MutexGuard<'_, Vec<Received>> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// Answers with each response in turn, then repeats the last; records requests.
struct Sequence {
    responses: Vec<MockResponse>,
    next: AtomicUsize,
    reject: Vec<String>,
    log: Log,
}

impl Respond for Sequence {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let received = Received::from_request(req);
        let rejected = received
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| self.reject.iter().any(|r| r == t));
        lock(&self.log).push(received);
        if rejected {
            return ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\"")
                .set_body_json(serde_json::json!({"error": "invalid_token"}));
        }
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        template(&self.responses[i.min(self.responses.len() - 1)])
    }
}

fn template(r: &MockResponse) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(r.status);
    // wiremock sets the body's content type last, so a Content-Type header goes through it.
    let content_type = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| scalar(v));
    let body = match (&r.json, &r.body) {
        (Some(json), _) => Some((json.to_string(), "application/json")),
        (None, Some(body)) => Some((body.clone(), "text/plain")),
        (None, None) => None,
    };
    if let Some((body, default_type)) = body {
        let mime = content_type.as_deref().unwrap_or(default_type);
        t = t.set_body_raw(body.into_bytes(), mime);
    }
    for (k, v) in &r.headers {
        if k.eq_ignore_ascii_case("content-type") {
            continue;
        }
        if let Some(v) = scalar(v) {
            t = t.insert_header(k.as_str(), v.as_str());
        }
    }
    if r.delay_ms > 0 {
        t = t.set_delay(Duration::from_millis(r.delay_ms));
    }
    t
}

fn substituted(responses: &[MockResponse], vars: &[(&str, &str)]) -> Vec<MockResponse> {
    responses
        .iter()
        .cloned()
        .map(|mut r| {
            if let Some(j) = &mut r.json {
                substitute_value(j, vars);
            }
            r.body = r.body.map(|b| substitute(&b, vars));
            r.headers
                .values_mut()
                .for_each(|v| substitute_value(v, vars));
            r
        })
        .collect()
}

/// The two servers of one scenario and what they received.
pub struct Servers {
    /// The token endpoint's server.
    pub token: MockServer,
    /// The API's server.
    pub api: MockServer,
    token_log: Log,
    routes: Vec<(String, Log)>,
}

impl Servers {
    /// Starts both servers on 127.0.0.1.
    pub async fn start() -> Self {
        Self {
            token: MockServer::builder().start().await,
            api: MockServer::builder().start().await,
            token_log: Log::default(),
            routes: Vec::new(),
        }
    }

    /// The placeholder values for these servers.
    pub fn vars(&self) -> [(&'static str, String); 2] {
        [
            ("token_server", self.token.uri()),
            ("api_server", self.api.uri()),
        ]
    }

    /// Mounts the token endpoint and the routes; `vars` fill their bodies.
    pub async fn mount(
        &mut self,
        token: Option<&TokenEndpoint>,
        routes: &[Route],
        vars: &[(&str, &str)],
    ) {
        if let Some(t) = token {
            Mock::given(path(t.path.as_str()))
                .respond_with(Sequence {
                    responses: substituted(&t.responses, vars),
                    next: AtomicUsize::new(0),
                    reject: Vec::new(),
                    log: self.token_log.clone(),
                })
                .mount(&self.token)
                .await;
        }
        for r in routes {
            let log = Log::default();
            let mut mock = Mock::given(method(r.method.to_ascii_uppercase().as_str()))
                .and(path(r.path.as_str()));
            for (k, v) in &r.query {
                let v = substitute(&scalar(v).unwrap_or_default(), vars);
                mock = mock.and(query_param(k.as_str(), v.as_str()));
            }
            // Routes with more query parameters are more specific: they go first.
            let priority = 10u8.saturating_sub(r.query.len().min(9) as u8);
            mock.respond_with(Sequence {
                responses: substituted(&r.responses, vars),
                next: AtomicUsize::new(0),
                reject: r.reject_tokens.clone(),
                log: log.clone(),
            })
            .with_priority(priority)
            .mount(&self.api)
            .await;
            self.routes.push((r.display_name(), log));
        }
    }

    /// The token requests received, in order.
    pub fn token_requests(&self) -> Vec<Received> {
        lock(&self.token_log).clone()
    }

    /// The requests each route received, by route name.
    pub fn route_requests(&self) -> Vec<(String, Vec<Received>)> {
        self.routes
            .iter()
            .map(|(n, log)| (n.clone(), lock(log).clone()))
            .collect()
    }

    /// API requests that matched no route.
    pub async fn unmatched_api_requests(&self) -> Vec<Received> {
        let all = self.api.received_requests().await.unwrap_or_default();
        let matched: usize = self.routes.iter().map(|(_, l)| lock(l).len()).sum();
        if all.len() == matched {
            return Vec::new();
        }
        let mut seen: Vec<Received> = self
            .routes
            .iter()
            .flat_map(|(_, l)| lock(l).clone())
            .collect();
        all.iter()
            .map(Received::from_request)
            .filter(|r| match seen.iter().position(|s| s == r) {
                Some(i) => {
                    seen.remove(i);
                    false
                }
                None => true,
            })
            .collect()
    }
}
