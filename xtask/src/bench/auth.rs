//! 1. Auth overhead: the [`RefreshTokenFlow`] holding a cached token against
//!    a fixed `Authorization` header, like for like: as a `reqwest_middleware`
//!    layer against a layer that inserts a fixed header (so that
//!    reqwest-middleware's own cost is on both sides), and through
//!    `authorize_request` against plain reqwest with a fixed header; in
//!    client CPU time per request: each run drives its requests on a
//!    current-thread runtime in a thread of its own (client, connections and
//!    all) and reads that thread's CPU time, so that neither the server's
//!    work nor the machine's other load counts, as it did in requests/s.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::cpu::cpu_per_request;

use connectkit_oauth_refresh::RefreshTokenFlow;
use futures::FutureExt;
use reqwest::header::{AUTHORIZATION, HeaderValue};

use super::server::{Handler, Server, json};
use super::{Measure, Row, Sizes, median};

const NAME: &str = "1 auth overhead";

/// Issues `n` requests with `concurrency` in flight; returns requests/s.
pub async fn drive<F, Fut>(n: usize, concurrency: usize, op: F) -> Result<f64, String>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let remaining = Arc::new(AtomicUsize::new(n));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let op = op.clone();
        let remaining = Arc::clone(&remaining);
        set.spawn(async move {
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                .is_ok()
            {
                op().await?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// A middleware that inserts a fixed `Authorization` header: the flow's
/// layer does the same with its cached token, so this stack is the
/// like-for-like baseline of the flow as middleware.
struct FixedHeader(HeaderValue);

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for FixedHeader {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        req.headers_mut().insert(AUTHORIZATION, self.0.clone());
        next.run(req, extensions).await
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs benchmark 1.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&token_requests);
    let handler: Handler = Arc::new(move |req| {
        let body = if req.uri().path() == "/token" {
            counter.fetch_add(1, Ordering::Relaxed);
            r#"{"access_token":"bench-access","token_type":"Bearer","expires_in":3600}"#
        } else {
            r#"{"ok":true}"#
        };
        async move { json(body) }.boxed()
    });
    let server = Server::start(handler).map_err(err)?;
    let url: Arc<str> = format!("{}/api/items", server.url()).into();

    let flow = RefreshTokenFlow::builder()
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("bench-refresh")
        .token_uri(&format!("POST {}/token", server.url()))
        .map_err(err)?
        .build()
        .map_err(err)?;
    // The token is fetched once and cached before anything is measured.
    let mut probe = reqwest::Request::new(reqwest::Method::GET, url.parse().map_err(err)?);
    flow.authorize_request(&mut probe).await.map_err(err)?;

    let (n, c) = (sizes.auth_requests, sizes.auth_concurrency);
    let warm = (n / 10).max(c);
    let mut figures: [Vec<f64>; 4] = Default::default();
    for round in 0..sizes.rounds {
        for k in 0..4 {
            // Rotate which one goes first.
            let i = (round + k) % 4;
            let (url, flow) = (Arc::clone(&url), flow.clone());
            let cpu = match i {
                0 => cpu_per_request(warm, n, c, move || fixed_header(url)).await?,
                1 => cpu_per_request(warm, n, c, move || middleware(url, flow)).await?,
                2 => cpu_per_request(warm, n, c, move || authorize(url, flow)).await?,
                _ => cpu_per_request(warm, n, c, move || fixed_header_layer(url)).await?,
            };
            figures[i].push(cpu);
        }
    }
    let sent = token_requests.load(Ordering::Relaxed);
    if sent != 1 {
        return Err(format!(
            "the flow sent {sent} token requests; the cached token should have served all"
        ));
    }
    let us = |v: &[f64]| Measure::new(median(v), "µs");
    let row = |label: &str, i: usize, base: usize, base_label: &str| {
        Row::info(NAME, label.to_owned(), us(&figures[i]))
            .baseline(base_label.to_owned(), us(&figures[base]))
            .spread(&figures[i], &figures[base])
    };
    let target = |r: Row| {
        let met = r.ratio.is_some_and(|x| x <= 1.05);
        r.target("ratio <= 1.05", met)
    };
    let fixed = "plain reqwest, fixed header";
    let fixed_layer = "reqwest-middleware, a layer inserting a fixed header";
    Ok(vec![
        target(row(
            &format!(
                "client CPU per request, RefreshTokenFlow as middleware\n{n} requests, {c} in flight"
            ),
            1,
            3,
            fixed_layer,
        )),
        target(row(
            "client CPU per request, RefreshTokenFlow::authorize_request",
            2,
            0,
            fixed,
        )),
        row(
            "client CPU per request, reqwest-middleware, a layer inserting\na fixed header (the stack's own cost, without the flow)",
            3,
            0,
            fixed,
        ),
        row(
            "client CPU per request, RefreshTokenFlow as middleware\n(the stack's and the flow's cost together)",
            1,
            0,
            fixed,
        ),
    ])
}

type Op = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// (a) plain reqwest, fixed header.
fn fixed_header(url: Arc<str>) -> impl Fn() -> Op + Clone + Send + 'static {
    let client = reqwest::Client::new();
    let fixed = HeaderValue::from_static("Bearer bench-fixed-access");
    move || {
        let (client, url, fixed) = (client.clone(), Arc::clone(&url), fixed.clone());
        Box::pin(async move {
            let r = client
                .get(&*url)
                .header(AUTHORIZATION, fixed)
                .send()
                .await
                .map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    }
}

/// (b) the flow as middleware.
fn middleware(url: Arc<str>, flow: RefreshTokenFlow) -> impl Fn() -> Op + Clone + Send + 'static {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(flow)
        .build();
    move || {
        let (client, url) = (client.clone(), Arc::clone(&url));
        Box::pin(async move {
            let r = client.get(&*url).send().await.map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    }
}

/// (b') the flow's authorize path, then a plain client.
fn authorize(url: Arc<str>, flow: RefreshTokenFlow) -> impl Fn() -> Op + Clone + Send + 'static {
    let client = reqwest::Client::new();
    move || {
        let (client, url, flow) = (client.clone(), Arc::clone(&url), flow.clone());
        Box::pin(async move {
            let mut req = client.get(&*url).build().map_err(err)?;
            flow.authorize_request(&mut req).await.map_err(err)?;
            let r = client.execute(req).await.map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    }
}

/// (c) a middleware stack whose one layer inserts a fixed header: what
/// reqwest-middleware itself costs, the baseline of (b).
fn fixed_header_layer(url: Arc<str>) -> impl Fn() -> Op + Clone + Send + 'static {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(FixedHeader(HeaderValue::from_static(
            "Bearer bench-fixed-access",
        )))
        .build();
    move || {
        let (client, url) = (client.clone(), Arc::clone(&url));
        Box::pin(async move {
            let r = client.get(&*url).send().await.map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    }
}
