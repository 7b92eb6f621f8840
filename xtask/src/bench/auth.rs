//! 1. Auth overhead: plain reqwest with a fixed `Authorization` header
//!    against reqwest with the [`RefreshTokenFlow`] holding a cached token,
//!    as `reqwest_middleware` layer and through `authorize_request`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

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

/// A middleware that only passes the request on.
struct PassThrough;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for PassThrough {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
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

    // (a) plain reqwest, fixed header.
    let plain = reqwest::Client::new();
    let fixed = HeaderValue::from_static("Bearer bench-fixed-access");
    let baseline = {
        let (client, url) = (plain.clone(), Arc::clone(&url));
        move || {
            let (client, url, fixed) = (client.clone(), Arc::clone(&url), fixed.clone());
            async move {
                let r = client
                    .get(&*url)
                    .header(AUTHORIZATION, fixed)
                    .send()
                    .await
                    .map_err(err)?;
                r.bytes().await.map_err(err)?;
                Ok(())
            }
        }
    };
    // (b) the flow as middleware.
    let with_flow = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(flow.clone())
        .build();
    let middleware = {
        let (client, url) = (with_flow, Arc::clone(&url));
        move || {
            let (client, url) = (client.clone(), Arc::clone(&url));
            async move {
                let r = client.get(&*url).send().await.map_err(err)?;
                r.bytes().await.map_err(err)?;
                Ok(())
            }
        }
    };
    // (c) an empty middleware stack (one pass-through layer): what
    // reqwest-middleware itself costs, beside (b).
    let empty_stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(PassThrough)
        .build();
    let pass_through = {
        let (client, url) = (empty_stack, Arc::clone(&url));
        move || {
            let (client, url) = (client.clone(), Arc::clone(&url));
            async move {
                let r = client
                    .get(&*url)
                    .header(
                        AUTHORIZATION,
                        HeaderValue::from_static("Bearer bench-fixed-access"),
                    )
                    .send()
                    .await
                    .map_err(err)?;
                r.bytes().await.map_err(err)?;
                Ok(())
            }
        }
    };
    // (b') the flow's authorize path, then a plain client.
    let direct = reqwest::Client::new();
    let authorize = {
        let (client, url, flow) = (direct, Arc::clone(&url), flow.clone());
        move || {
            let (client, url, flow) = (client.clone(), Arc::clone(&url), flow.clone());
            async move {
                let mut req = client.get(&*url).build().map_err(err)?;
                flow.authorize_request(&mut req).await.map_err(err)?;
                let r = client.execute(req).await.map_err(err)?;
                r.bytes().await.map_err(err)?;
                Ok(())
            }
        }
    };

    // Warm up: the token is fetched once and cached; connections are open.
    let (n, c) = (sizes.auth_requests, sizes.auth_concurrency);
    let warm = (n / 10).max(c);
    drive(warm, c, baseline.clone()).await?;
    drive(warm, c, middleware.clone()).await?;
    drive(warm, c, authorize.clone()).await?;
    drive(warm, c, pass_through.clone()).await?;

    let mut figures: [Vec<f64>; 4] = Default::default();
    for round in 0..sizes.rounds {
        for k in 0..4 {
            // Rotate which one goes first.
            match (round + k) % 4 {
                0 => figures[0].push(drive(n, c, baseline.clone()).await?),
                1 => figures[1].push(drive(n, c, middleware.clone()).await?),
                2 => figures[2].push(drive(n, c, authorize.clone()).await?),
                _ => figures[3].push(drive(n, c, pass_through.clone()).await?),
            }
        }
    }
    let sent = token_requests.load(Ordering::Relaxed);
    if sent != 1 {
        return Err(format!(
            "the flow sent {sent} token requests; the cached token should have served all"
        ));
    }
    let base = Measure::new(median(&figures[0]), "req/s");
    let row = |label: &str, figs: &[f64]| {
        let r = Row::info(
            NAME,
            format!("req/s, {label}\n{n} requests, {c} in flight"),
            Measure::new(median(figs), "req/s"),
        )
        .baseline("plain reqwest, fixed header", base);
        let met = r.ratio.is_some_and(|x| x >= 0.95);
        r.target("ratio >= 0.95", met)
    };
    // Where the middleware's time goes: the same flow against an empty
    // middleware stack, and that stack against plain reqwest.
    let stack = Measure::new(median(&figures[3]), "req/s");
    let info = |label: &str, figs: &[f64], base: Measure, base_label: &str| {
        Row::info(NAME, label.to_owned(), Measure::new(median(figs), "req/s"))
            .baseline(base_label.to_owned(), base)
    };
    Ok(vec![
        row("RefreshTokenFlow as middleware", &figures[1]),
        row("RefreshTokenFlow::authorize_request", &figures[2]),
        info(
            "req/s, reqwest-middleware, one pass-through layer\n(its own cost, without the flow)",
            &figures[3],
            base,
            "plain reqwest, fixed header",
        ),
        info(
            "req/s, RefreshTokenFlow as middleware\n(the flow's cost within the stack)",
            &figures[1],
            stack,
            "pass-through middleware",
        ),
    ])
}
