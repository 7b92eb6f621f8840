//! 3. Rotation throughput: sequential refreshes, each rotating the refresh
//!    token, saved through `FileStore` (baseline: `MemoryStore`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use connectkit_core::ExposeSecret;
use connectkit_oauth_refresh::{FileStore, MemoryStore, RefreshTokenFlow, TokenStore};
use futures::FutureExt;

use super::server::{Handler, Server, form_param, json};
use super::{Measure, Row, Sizes, alternate, median};

const NAME: &str = "3 rotation";

/// The token server's view: tokens issued, and requests that did not carry
/// the refresh token issued last.
#[derive(Default)]
struct Issued {
    n: usize,
    stale: usize,
}

/// One run: `rotations` refreshes through `store`; refreshes/s, whether
/// every request carried the last rotated token, and the last token issued.
async fn once(rotations: usize, store: Arc<dyn TokenStore>) -> Result<(f64, bool, String), String> {
    let state = Arc::new(Mutex::new(Issued::default()));
    let shared = Arc::clone(&state);
    let handler: Handler = Arc::new(move |req| {
        let sent = form_param(req.body(), "refresh_token");
        let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
        if sent.as_deref() != Some(format!("rt-{}", s.n).as_str()) {
            s.stale += 1;
        }
        s.n += 1;
        let body = format!(
            r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{n}"}}"#,
            n = s.n
        );
        async move { json(body) }.boxed()
    });
    let server = Server::start(handler).map_err(|e| e.to_string())?;
    let flow = RefreshTokenFlow::builder()
        .client_id("bench-client")
        .client_secret("bench-client-secret")
        .refresh_token("rt-0")
        .token_uri(&format!("POST {}/token", server.url()))
        .map_err(|e| e.to_string())?
        .token_store(store)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for _ in 0..rotations {
        let info = flow.refresh().await.map_err(|e| e.to_string())?;
        if !info.refresh_token_rotated {
            return Err("a refresh did not rotate the refresh token".into());
        }
    }
    let rate = rotations as f64 / started.elapsed().as_secs_f64();
    let s = state.lock().unwrap_or_else(|p| p.into_inner());
    Ok((rate, s.stale == 0, format!("rt-{}", s.n)))
}

/// Runs benchmark 3.
pub async fn run(sizes: &Sizes) -> Result<Vec<Row>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("tokens.json");
    let n = sizes.rotations;
    let final_ok = Arc::new(Mutex::new(true));
    let (file_runs, memory_runs) = alternate(
        sizes.rounds.clamp(1, 3),
        || {
            let (path, final_ok) = (path.clone(), Arc::clone(&final_ok));
            async move {
                let _ = std::fs::remove_file(&path);
                let store = FileStore::new(&path);
                let (rate, fresh, last) = once(n, Arc::new(store.clone())).await?;
                let stored = store.load().await.map_err(|e| e.to_string())?;
                let matches =
                    stored.is_some_and(|t| t.refresh_token.expose_secret() == last.as_str());
                if !(fresh && matches) {
                    *final_ok.lock().unwrap_or_else(|p| p.into_inner()) = false;
                }
                Ok(rate)
            }
        },
        || async move { Ok(once(n, Arc::new(MemoryStore::new())).await?.0) },
    )
    .await?;
    let ok = *final_ok.lock().unwrap_or_else(|p| p.into_inner());
    Ok(vec![
        Row::info(
            NAME,
            format!("refreshes/s, {n} sequential, rotating, via FileStore"),
            Measure::new(median(&file_runs), "refreshes/s"),
        )
        .baseline(
            "MemoryStore",
            Measure::new(median(&memory_runs), "refreshes/s"),
        )
        .spread(&file_runs, &memory_runs),
        Row::info(
            NAME,
            "final stored refresh token == last issued\n(and each refresh sent the previous one)",
            Measure::flag(ok),
        )
        .target("yes", ok)
        .hard(),
    ])
}
