//! Refresh token rotation through `TokenFile`, against a server that detects
//! reuse (oidc-provider: a consumed refresh token presented again revokes the
//! grant) and one that rotates without detection (django-oauth-toolkit).

use std::path::Path;

use serde_json::Value;

use connectkit_core::ErrorKind;

use super::grant::{grant_url, quote, still_valid, token_endpoint, token_entries};
use super::{Ctx, Scenario, ensure};
use crate::interop::cli;
use crate::interop::query::registry;
use crate::interop::servers::Kind;

const BASIC_CLIENT: (&str, &str) = ("basic-client", "p+a/s=s&w%o:r d");

fn url(ctx: &Ctx, server: Kind, rt: &str, token_file: &Path) -> String {
    let extra = format!(
        ";ClientCredentialsMode=Basic;TokenFile={}",
        quote(&token_file.display().to_string())
    );
    let token_uri = format!("POST {}", token_endpoint(ctx, server));
    grant_url(ctx, server, BASIC_CLIENT, rt, &token_uri, &extra)
}

async fn revoked_grants(ctx: &Ctx, mark: usize) -> Result<Vec<Value>, String> {
    let (_, entries) = ctx.server(Kind::Oidc).log_since(mark).await?;
    Ok(entries
        .into_iter()
        .filter(|e| e["kind"] == "grant_revoked")
        .collect())
}

/// `connectkit token` `runs` times in a row with one TokenFile: every run
/// succeeds and presents the token the previous one saved.
async fn sequential(
    ctx: &Ctx,
    server: Kind,
    name: &str,
    file: &str,
    runs: usize,
) -> Result<(), String> {
    let srv = ctx.server(server);
    let rt = srv.mint(BASIC_CLIENT.0, None).await?;
    let token_file = ctx.scratch(name)?.join(file);
    let url = url(ctx, server, &rt, &token_file);
    let mark = srv.log_mark().await?;
    for i in 1..=runs {
        let out = cli::run(&ctx.bin, &["token", "-", "--format", "json"], &url).await?;
        ensure(out.code == 0, || {
            format!(
                "run {i} of {runs} exited {}: {}",
                out.code,
                out.stderr.trim()
            )
        })?;
    }
    // One grant per expiry across processes: the runs after the first find
    // a fresh access token in the TokenFile and send no grant.
    let log = token_entries(srv, mark).await?;
    let ok = log.iter().filter(|e| e["status"] == 200).count();
    ensure(ok == 1, || {
        format!(
            "expected 1 grant for {runs} runs within the token's lifetime, the server logged {log:?}"
        )
    })?;
    ensure(token_file.exists(), || {
        format!("{token_file:?} was not written")
    })?;
    if server == Kind::Oidc {
        let revoked = revoked_grants(ctx, mark).await?;
        ensure(revoked.is_empty(), || {
            format!("the provider revoked the chain: {revoked:?}")
        })?;
    }
    Ok(())
}

/// Several processes share one TokenFile at the same moment: none may present
/// a refresh token another has consumed (that revokes the whole chain).
async fn concurrent(ctx: &Ctx) -> Result<(), String> {
    let srv = ctx.server(Kind::Oidc);
    let rt = srv.mint(BASIC_CLIENT.0, None).await?;
    let token_file = ctx.scratch("oidc-concurrent")?.join("tokens.json");
    let url = url(ctx, Kind::Oidc, &rt, &token_file);
    let mark = srv.log_mark().await?;
    let children = (0..4)
        .map(|_| cli::spawn(&ctx.bin, &["token", "-", "--format", "json"], &url))
        .collect::<Result<Vec<_>, _>>()?;
    let outs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(cli::finish)
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| e.to_string())??;
    let after = cli::run(&ctx.bin, &["token", "-", "--format", "json"], &url).await?;
    let failed: Vec<String> = outs
        .iter()
        .chain(std::iter::once(&after))
        .enumerate()
        .filter(|(_, o)| o.code != 0)
        .map(|(i, o)| format!("process {} exited {}: {}", i + 1, o.code, o.stderr.trim()))
        .collect();
    let revoked = revoked_grants(ctx, mark).await?;
    ensure(failed.is_empty() && revoked.is_empty(), || {
        format!(
            "4 concurrent runs and 1 after: {}; grants revoked by reuse detection: {}",
            if failed.is_empty() {
                "all succeeded".into()
            } else {
                failed.join("; ")
            },
            revoked.len()
        )
    })
}

/// The server really detects reuse: the chain is revoked when a consumed
/// token comes back, and the connector reports `invalid_grant` as an
/// authentication failure.
async fn reuse_detected(ctx: &Ctx) -> Result<(), String> {
    let srv = ctx.server(Kind::Oidc);
    let rt = srv.mint(BASIC_CLIENT.0, None).await?;
    let token_uri = format!("POST {}", token_endpoint(ctx, Kind::Oidc));
    let url = grant_url(
        ctx,
        Kind::Oidc,
        BASIC_CLIENT,
        &rt,
        &token_uri,
        ";ClientCredentialsMode=Basic",
    );
    let mark = srv.log_mark().await?;
    let first = registry()
        .connect(&url)
        .map_err(|e| e.to_string())?
        .auth_flow();
    let info = first
        .refresh_now()
        .await
        .map_err(|e| format!("first grant: {e}"))?;
    ensure(info.is_some_and(|i| i.refresh_token_rotated), || {
        "the provider did not rotate".into()
    })?;
    let second = registry()
        .connect(&url)
        .map_err(|e| e.to_string())?
        .auth_flow();
    match second.refresh_now().await {
        Ok(_) => return Err("a consumed refresh token was accepted again".into()),
        Err(e) => {
            ensure(e.kind() == ErrorKind::Auth, || {
                format!("not an auth error: {e}")
            })?;
            ensure(e.to_string().contains("invalid_grant"), || {
                format!("no invalid_grant: {e}")
            })?;
        }
    }
    let revoked = revoked_grants(ctx, mark).await?;
    ensure(revoked.len() == 1, || {
        format!("expected the grant revoked once: {revoked:?}")
    })
}

/// The user re-authorizes (a new grant, a new refresh token in the URL)
/// after the chain in the TokenFile was revoked: the URL's new token must win
/// over the file's revoked one (issue 13).
async fn new_token_beats_stale_file(ctx: &Ctx) -> Result<(), String> {
    let srv = ctx.server(Kind::Oidc);
    let token_file = ctx.scratch("oidc-stale-file")?.join("tokens.json");
    let first = srv.mint(BASIC_CLIENT.0, None).await?;
    let args = ["token", "-", "--format", "json"];
    cli::run(&ctx.bin, &args, &url(ctx, Kind::Oidc, &first, &token_file))
        .await?
        .success("the first run")?;
    // Presenting the consumed token again makes the provider revoke the
    // first grant, so the token now in the file is dead.
    ensure(
        !still_valid(ctx, Kind::Oidc, BASIC_CLIENT, &first).await?,
        || "the provider accepted a consumed refresh token".into(),
    )?;
    let second = srv.mint(BASIC_CLIENT.0, None).await?;
    let out = cli::run(&ctx.bin, &args, &url(ctx, Kind::Oidc, &second, &token_file)).await?;
    ensure(out.code == 0, || {
        format!(
            "with a new RefreshToken in the URL, exit {}: {}",
            out.code,
            out.stderr.trim()
        )
    })
}

/// A TokenFile that is not JSON: exit 2 naming the file, before any token
/// request, and the refresh token is not consumed (issue 13).
async fn unreadable_file(ctx: &Ctx) -> Result<(), String> {
    let srv = ctx.server(Kind::Oidc);
    let rt = srv.mint(BASIC_CLIENT.0, None).await?;
    let token_file = ctx.scratch("oidc-unreadable")?.join("tokens.json");
    std::fs::write(&token_file, "this is not JSON").map_err(|e| e.to_string())?;
    let mark = srv.log_mark().await?;
    let out = cli::run(
        &ctx.bin,
        &["token", "-", "--format", "json"],
        &url(ctx, Kind::Oidc, &rt, &token_file),
    )
    .await?;
    let sent = token_entries(srv, mark).await?;
    let name = token_file.display().to_string();
    super::all_of([
        ensure(out.code == 2 && out.stderr.contains(&name), || {
            format!(
                "expected exit 2 naming {name}, got exit {}: {}",
                out.code,
                out.stderr.trim()
            )
        }),
        ensure(sent.is_empty(), || {
            format!(
                "{} token request(s) sent despite the unreadable file",
                sent.len()
            )
        }),
        ensure(
            still_valid(ctx, Kind::Oidc, BASIC_CLIENT, &rt).await?,
            || "the refresh token was consumed".into(),
        ),
    ])
}

/// Every rotation scenario.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "oidc-provider/rotation/new-refresh-token-beats-stale-file/cli",
            Kind::Oidc,
            |ctx| Box::pin(new_token_beats_stale_file(ctx)),
        ),
        Scenario::new(
            "oidc-provider/rotation/unreadable-token-file/cli",
            Kind::Oidc,
            |ctx| Box::pin(unreadable_file(ctx)),
        ),
        Scenario::new(
            "oidc-provider/rotation/token-file-sequential/cli",
            Kind::Oidc,
            |ctx| Box::pin(sequential(ctx, Kind::Oidc, "oidc-seq", "tokens.json", 3)),
        ),
        Scenario::new(
            "oidc-provider/rotation/token-file-concurrent/cli",
            Kind::Oidc,
            |ctx| Box::pin(concurrent(ctx)),
        ),
        Scenario::new(
            "oidc-provider/rotation/token-file-missing-directory/cli",
            Kind::Oidc,
            |ctx| {
                Box::pin(sequential(
                    ctx,
                    Kind::Oidc,
                    "oidc-missing",
                    "not/yet/there/tokens.json",
                    2,
                ))
            },
        ),
        Scenario::new(
            "oidc-provider/rotation/reuse-detection/lib",
            Kind::Oidc,
            |ctx| Box::pin(reuse_detected(ctx)),
        ),
        Scenario::new(
            "django-oauth-toolkit/rotation/token-file-sequential/cli",
            Kind::Dot,
            |ctx| Box::pin(sequential(ctx, Kind::Dot, "dot-seq", "tokens.json", 2)),
        ),
    ]
}
