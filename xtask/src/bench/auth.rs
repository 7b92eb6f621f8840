//! 1. Auth overhead: the [`RefreshTokenFlow`] holding a cached token against
//!    a fixed `Authorization` header, like for like: as a `reqwest_middleware`
//!    layer against a layer that inserts a fixed header (so that
//!    reqwest-middleware's own cost is on both sides), and through
//!    `authorize_request` against plain reqwest with a fixed header; in
//!    client CPU time per request: the four clients live on one
//!    current-thread runtime in a thread of its own (connections and all)
//!    and send batches of requests in rotation, each batch timed on that
//!    thread's CPU clock (`cpu.rs`), so that neither the server's work nor
//!    the machine's other load counts, and drift falls on all four alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cpu::{Make, Plan, Variant, interleaved};

use connectkit_oauth_refresh::RefreshTokenFlow;
use futures::FutureExt;
use reqwest::header::{AUTHORIZATION, HeaderValue};

use super::server::{Handler, Server, json};
use super::{Measure, Row, Sizes, median};

const NAME: &str = "1 auth overhead";

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
    let rounds = sizes.auth_rounds.max(1);
    let plan = Plan {
        concurrency: c,
        blocks: rounds,
        requests: n.div_ceil(rounds),
    };
    // One connection pool for all four: the same connections carry every
    // variant's requests, so that none is favoured by where the server
    // happens to handle its connections.
    let make: Make = Box::new(move || {
        let http = connectkit_core::client::http_client().expect("HTTP client");
        vec![
            fixed_header(&http, Arc::clone(&url)),
            middleware(&http, Arc::clone(&url), flow.clone()),
            authorize(&http, Arc::clone(&url), flow),
            fixed_header_layer(&http, url),
        ]
    });
    let figures = interleaved(plan, make).await?;
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
                "client CPU per request, RefreshTokenFlow as middleware\n{n} requests per side, batches of {c} in rotation, {rounds} blocks"
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

/// (a) plain reqwest, fixed header.
fn fixed_header(http: &reqwest::Client, url: Arc<str>) -> Variant {
    let client = http.clone();
    let fixed = HeaderValue::from_static("Bearer bench-fixed-access");
    Arc::new(move || {
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
    })
}

/// (b) the flow as middleware.
fn middleware(http: &reqwest::Client, url: Arc<str>, flow: RefreshTokenFlow) -> Variant {
    let client = reqwest_middleware::ClientBuilder::new(http.clone())
        .with(flow)
        .build();
    Arc::new(move || {
        let (client, url) = (client.clone(), Arc::clone(&url));
        Box::pin(async move {
            let r = client.get(&*url).send().await.map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    })
}

/// (b') the flow's authorize path, then a plain client.
fn authorize(http: &reqwest::Client, url: Arc<str>, flow: RefreshTokenFlow) -> Variant {
    let client = http.clone();
    Arc::new(move || {
        let (client, url, flow) = (client.clone(), Arc::clone(&url), flow.clone());
        Box::pin(async move {
            let mut req = client.get(&*url).build().map_err(err)?;
            flow.authorize_request(&mut req).await.map_err(err)?;
            let r = client.execute(req).await.map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    })
}

/// (c) a middleware stack whose one layer inserts a fixed header: what
/// reqwest-middleware itself costs, the baseline of (b).
fn fixed_header_layer(http: &reqwest::Client, url: Arc<str>) -> Variant {
    let client = reqwest_middleware::ClientBuilder::new(http.clone())
        .with(FixedHeader(HeaderValue::from_static(
            "Bearer bench-fixed-access",
        )))
        .build();
    Arc::new(move || {
        let (client, url) = (client.clone(), Arc::clone(&url));
        Box::pin(async move {
            let r = client.get(&*url).send().await.map_err(err)?;
            r.bytes().await.map_err(err)?;
            Ok(())
        })
    })
}
