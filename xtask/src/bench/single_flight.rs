//! 2. Single flight at scale: many concurrent callers on an expired token
//!    against a slow token server; one token request, everyone waits about
//!    one token-server latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use connectkit_oauth_refresh::RefreshTokenFlow;
use futures::FutureExt;

use super::server::{Handler, Server, json};
use super::{Measure, Row, Sizes, median, percentile};

const NAME: &str = "2 single flight";

/// One run's outcome.
struct Run {
    /// Token requests the server received from the callers (after warm-up).
    token_requests: usize,
    /// Each caller's wait, in milliseconds.
    waits_ms: Vec<f64>,
}

async fn once(callers: usize, latency: Duration) -> Result<Run, String> {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let handler: Handler = Arc::new(move |req| {
        let is_token = req.uri().path() == "/token";
        let n = if is_token {
            counter.fetch_add(1, Ordering::SeqCst)
        } else {
            0
        };
        async move {
            if !is_token {
                return super::server::respond(
                    http::StatusCode::NOT_FOUND,
                    "text/plain",
                    bytes::Bytes::new(),
                );
            }
            tokio::time::sleep(latency).await;
            // The first token expires in a second: the callers find it expired.
            let expires = if n == 0 { 1 } else { 3600 };
            json(format!(
                r#"{{"access_token":"sf-access-{n}","token_type":"Bearer","expires_in":{expires}}}"#
            ))
        }
        .boxed()
    });
    let server = Server::start(handler).map_err(|e| e.to_string())?;
    let flow = RefreshTokenFlow::builder()
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("bench-refresh")
        .token_uri(&format!("POST {}/token", server.url()))
        .map_err(|e| e.to_string())?
        .expiry_skew(Duration::ZERO)
        .build()
        .map_err(|e| e.to_string())?;
    flow.access_token().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let before = count.load(Ordering::SeqCst);

    let barrier = Arc::new(tokio::sync::Barrier::new(callers));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let (flow, barrier) = (flow.clone(), Arc::clone(&barrier));
        set.spawn(async move {
            barrier.wait().await;
            let started = Instant::now();
            let token = flow.access_token().await;
            (started.elapsed(), token.is_ok())
        });
    }
    let mut waits_ms = Vec::with_capacity(callers);
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        let (wait, ok) = r.map_err(|e| e.to_string())?;
        waits_ms.push(wait.as_secs_f64() * 1e3);
        failed += usize::from(!ok);
    }
    if failed > 0 {
        return Err(format!("{failed} of {callers} callers got no token"));
    }
    Ok(Run {
        token_requests: count.load(Ordering::SeqCst) - before,
        waits_ms,
    })
}

/// Runs benchmark 2.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let (callers, latency) = (sizes.sf_callers, sizes.sf_latency);
    let mut counts = Vec::new();
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for _ in 0..sizes.sf_runs.max(1) {
        let run = once(callers, latency).await?;
        counts.push(run.token_requests);
        p50s.push(percentile(&run.waits_ms, 50.0));
        p99s.push(percentile(&run.waits_ms, 99.0));
    }
    let latency_ms = latency.as_secs_f64() * 1e3;
    let runs = counts.len();
    let worst = counts.iter().copied().max().unwrap_or(0);
    let all_one = counts.iter().all(|&c| c == 1);
    let p99 = median(&p99s);
    let base = Measure::new(latency_ms, "ms");
    Ok(vec![
        Row::info(
            NAME,
            format!(
                "token requests, {callers} callers on an expired token\n(most in any of {runs} runs)"
            ),
            Measure::new(worst as f64, "requests"),
        )
        .target("exactly 1", all_one)
        .hard(),
        Row::info(
            NAME,
            "p50 wait of the callers",
            Measure::new(median(&p50s), "ms"),
        )
        .baseline("token server latency", base),
        Row::info(
            NAME,
            "p99 wait of the callers",
            Measure::new(p99, "ms"),
        )
        .baseline("token server latency", base)
        .target(
            format!("<= {:.0} ms (latency + 20 ms)", latency_ms + 20.0),
            p99 <= latency_ms + 20.0,
        ),
    ])
}
