//! Signed client assertions (RFC 7523 section 2.2) against oidc-provider:
//! `private_key_jwt` with connectkit's test certificate (its JWKS registered
//! with the provider) for the client credentials and refresh token grants,
//! `client_secret_jwt`, a key the provider does not know, a fresh `jti` per
//! grant, and a replayed assertion, which the provider refuses.

use futures::FutureExt;

use super::grant::{quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli;
use crate::interop::install::repo_root;
use crate::interop::servers::Kind;

fn key(name: &str) -> String {
    repo_root()
        .join("crates/oauth-refresh/tests/it/keys")
        .join(name)
        .display()
        .to_string()
}

/// `connectkit token` with `url`; checks the provider's log: each token
/// request was answered `status` and carried a client assertion, no secret.
async fn token(ctx: &Ctx, url: &str, expect_ok: bool) -> Result<(), String> {
    let server = ctx.server(Kind::Oidc);
    let mark = server.log_mark().await?;
    let out = cli::run(&ctx.bin, &["token", "-", "--format", "json"], url).await?;
    let log = token_entries(server, mark).await?;
    let signed = !log.is_empty()
        && log.iter().all(|e| {
            let keys = e["body_keys"].to_string();
            keys.contains("client_assertion")
                && !keys.contains("client_secret")
                && e["basic"] == false
        });
    let mut checks = vec![ensure(signed, || format!("token requests: {log:?}"))];
    if expect_ok {
        checks.push(
            out.success("connectkit token with a client assertion")
                .map(drop),
        );
        checks.push(ensure(log.iter().all(|e| e["status"] == 200), || {
            format!("token requests: {log:?}")
        }));
    } else {
        checks.push(ensure(
            out.code == 3 && out.stderr.contains("invalid_client"),
            || {
                format!(
                    "expected exit 3 with invalid_client: {} {}",
                    out.code, out.stderr
                )
            },
        ));
        checks.push(ensure(
            log.iter().all(|e| e["error"] == "invalid_client"),
            || format!("token requests: {log:?}"),
        ));
    }
    all_of(checks)
}

fn url(ctx: &Ctx, credentials: &str) -> String {
    format!(
        "autorest:Sample={}/_interop/ready;AuthenticationMethod=OAuth2;{credentials};TokenURI={}",
        ctx.server(Kind::Oidc).base,
        quote(&format!("POST {}", token_endpoint(ctx, Kind::Oidc)))
    )
}

/// The provider's reason for refusing a replayed client assertion (its
/// `ReplayDetection`, keyed by `iss` and `jti`).
const REPLAYED: &str = "client assertion tokens must only be used once";

fn pfx_credentials() -> String {
    format!(
        "ClientID=pkjwt-client;JWTCertStore={};JWTCertPassword=test-pfx-password;JWTAlgorithm=PS256",
        key("rsa.pfx")
    )
}

/// Two grants in a row by two `connectkit token` runs: both succeed, which
/// they can only do with two different `jti`s, the provider refusing an
/// assertion it has seen (`one_assertion_twice` shows that it does).
async fn two_grants(ctx: &Ctx) -> Result<(), String> {
    let url = url(ctx, &pfx_credentials());
    let server = ctx.server(Kind::Oidc);
    let mark = server.log_mark().await?;
    token(ctx, &url, true).await?;
    token(ctx, &url, true).await?;
    let log = token_entries(server, mark).await?;
    ensure(
        log.len() == 2
            && log
                .iter()
                .all(|e| e["assertion"]["has_jti"] == true && e["error_detail"].is_null()),
        || format!("expected two accepted grants, each with a jti: {log:?}"),
    )
}

/// The assertion connectkit sent (captured by the provider) presented once
/// more: refused as a replay.
async fn one_assertion_twice(ctx: &Ctx) -> Result<(), String> {
    let server = ctx.server(Kind::Oidc);
    token(ctx, &url(ctx, &pfx_credentials()), true).await?;
    let http = connectkit_core::client::http_client().map_err(|e| e.to_string())?;
    let captured = http
        .get(format!(
            "{}/_interop/assertion?client_id=pkjwt-client",
            server.base
        ))
        .send()
        .await
        .map_err(|e| format!("reading the captured assertion: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("reading the captured assertion: {e}"))?;
    let captured: serde_json::Value = serde_json::from_slice(&captured)
        .map_err(|e| format!("reading the captured assertion: {e}"))?;
    let assertion = captured["client_assertion"]
        .as_str()
        .ok_or_else(|| format!("the provider captured no assertion: {captured}"))?;
    let form = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        ("client_id", "pkjwt-client"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ])
    .map_err(|e| e.to_string())?;
    let mark = server.log_mark().await?;
    let answer = http
        .post(token_endpoint(ctx, Kind::Oidc))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| format!("presenting the assertion again: {e}"))?;
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let log = token_entries(server, mark).await?;
    all_of([
        ensure(status == 401 && body["error"] == "invalid_client", || {
            format!("expected 401 invalid_client for the replay, got {status} {body}")
        }),
        ensure(log.len() == 1 && log[0]["error_detail"] == REPLAYED, || {
            format!("expected the provider to refuse a replay ({REPLAYED:?}): {log:?}")
        }),
    ])
}

/// The scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "oidc-provider/client-assertion/private-key-jwt/fresh-jti-per-grant/cli",
            Kind::Oidc,
            |ctx| two_grants(ctx).boxed(),
        ),
        Scenario::new(
            "oidc-provider/client-assertion/private-key-jwt/replayed-assertion-refused/cli",
            Kind::Oidc,
            |ctx| one_assertion_twice(ctx).boxed(),
        ),
        Scenario::new(
            "oidc-provider/client-assertion/private-key-jwt/client-credentials",
            Kind::Oidc,
            |ctx| {
                async move {
                    let creds = format!(
                        "ClientID=pkjwt-client;JWTCertStore={};JWTCertPassword=test-pfx-password;JWTAlgorithm=PS256",
                        key("rsa.pfx")
                    );
                    token(ctx, &url(ctx, &creds), true).await
                }
                .boxed()
            },
        ),
        Scenario::new(
            "oidc-provider/client-assertion/private-key-jwt/refresh-token",
            Kind::Oidc,
            |ctx| {
                async move {
                    let rt = ctx
                        .server(Kind::Oidc)
                        .mint("pkjwt-client", Some("openid offline_access"))
                        .await?;
                    let creds = format!(
                        "ClientID=pkjwt-client;RefreshToken={rt};JWTCertStore={};JWTAlgorithm=PS256",
                        key("rsa.pkcs8.pem")
                    );
                    token(ctx, &url(ctx, &creds), true).await
                }
                .boxed()
            },
        ),
        Scenario::new(
            "oidc-provider/client-assertion/private-key-jwt/wrong-key",
            Kind::Oidc,
            |ctx| {
                async move {
                    let creds = format!(
                        "ClientID=pkjwt-client;JWTCertStore={};JWTAlgorithm=PS256",
                        key("other.pkcs8.pem")
                    );
                    token(ctx, &url(ctx, &creds), false).await
                }
                .boxed()
            },
        ),
        Scenario::new(
            "oidc-provider/client-assertion/client-secret-jwt/client-credentials",
            Kind::Oidc,
            |ctx| {
                async move {
                    let creds = "ClientID=csjwt-client;ClientSecret=csjwt-secret-of-at-least-thirty-two-bytes;ClientAuthentication=ClientSecretJWT";
                    token(ctx, &url(ctx, creds), true).await
                }
                .boxed()
            },
        ),
    ]
}
