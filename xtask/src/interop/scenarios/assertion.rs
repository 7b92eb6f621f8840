//! Signed client assertions (RFC 7523 section 2.2) against oidc-provider:
//! `private_key_jwt` with connectkit's test certificate (its JWKS registered
//! with the provider) for the client credentials and refresh token grants,
//! `client_secret_jwt`, and a key the provider does not know.

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

/// The scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
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
