//! Dynamics 365 with a certificate credential against real servers: the
//! dynamics365 connector scans SAP CAP with an access token that
//! oidc-provider issued for a client assertion in the form Microsoft Entra
//! documents for certificate credentials (learn.microsoft.com, "Microsoft
//! identity platform application authentication certificate credentials":
//! `alg` PS256, `typ` JWT, `x5t#S256` of the registered certificate, `aud`
//! the token endpoint, `iss` = `sub` = the client ID, a `jti`, `nbf`, `exp`
//! at most 10 minutes on), no secret on the wire. CAP accepts the
//! token only after oidc-provider vouches for it by introspection (RFC 7662).

use serde_json::{Value, json};

use super::grant::{quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::compare::diff;
use crate::interop::install::repo_root;
use crate::interop::query::{Read, Via, read};
use crate::interop::servers::Kind;

const SERVICE: &str = "/odata/v4/catalog/";
const CLIENT: &str = "pkjwt-client";

/// Makes CAP accept the tokens oidc-provider's introspection endpoint calls
/// active, asked as the client `cap-api`.
async fn trust_provider(ctx: &Ctx) -> Result<(), String> {
    let body = json!({
        "url": format!("{}/token/introspection", ctx.server(Kind::Oidc).base),
        "client_id": "cap-api",
        "client_secret": "cap-api-secret",
    });
    let r = connectkit_core::client::http_client()
        .map_err(|e| e.to_string())?
        .post(format!(
            "{}/_interop/introspection",
            ctx.server(Kind::Cap).base
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("configuring CAP's introspection: {e}"))?;
    ensure(r.status().is_success(), || {
        format!("configuring CAP's introspection: HTTP {}", r.status())
    })
}

async fn scan(ctx: &Ctx, via: Via) -> Result<(), String> {
    trust_provider(ctx).await?;
    let (cap, oidc) = (ctx.server(Kind::Cap), ctx.server(Kind::Oidc));
    let pfx = repo_root().join("crates/oauth-refresh/tests/it/keys/rsa.pfx");
    // The README's quick start 4 as written: no ClientSecret, no prefix on TokenURI.
    let url = format!(
        "dynamics365:ServiceURL={}{SERVICE};ClientID={CLIENT};JWTCertStore={};\
         JWTCertPassword=test-pfx-password;TokenURI={}",
        cap.base,
        quote(&pfx.display().to_string()),
        quote(&token_endpoint(ctx, Kind::Oidc))
    );
    let (cap_mark, oidc_mark) = (cap.log_mark().await?, oidc.log_mark().await?);
    let rows = read(
        via,
        &ctx.bin,
        &url,
        "Books",
        Read::default(),
        &super::cap::kinds("Books"),
    )
    .await;
    let grants = token_entries(oidc, oidc_mark).await?;
    let (_, oidc_log) = oidc.log_since(oidc_mark).await?;
    let introspections: Vec<&Value> = oidc_log
        .iter()
        .filter(|e| e["kind"] == "introspection")
        .collect();
    let (_, cap_log) = cap.log_since(cap_mark).await?;
    let pages: Vec<&Value> = cap_log
        .iter()
        .filter(|e| {
            e["url"]
                .as_str()
                .is_some_and(|u| u.contains(&format!("{SERVICE}Books")))
        })
        .collect();
    let endpoint = token_endpoint(ctx, Kind::Oidc);
    let expected_pages = ctx.cap.books.len().div_ceil(400);
    all_of([
        rows.and_then(|r| diff("Books", "ID", &ctx.cap.books, &r)),
        ensure(
            grants.len() == 1
                && grants.iter().all(|e| {
                    let a = &e["assertion"];
                    let keys = e["body_keys"].to_string();
                    e["status"] == 200
                        && e["method"] == "POST"
                        && e["grant_type"] == "client_credentials"
                        && keys.contains("\"client_assertion\"")
                        && keys.contains("\"client_assertion_type\"")
                        && !keys.contains("secret")
                        && e["basic"] == false
                        && e["query_keys"] == json!([])
                        && a["alg"] == "PS256"
                        && a["typ"] == "JWT"
                        && a["has_nbf"] == true
                        && a["x5t_s256_registered"] == true
                        && a["iss"] == CLIENT
                        && a["sub"] == CLIENT
                        && a["aud"] == endpoint.as_str()
                        && a["has_jti"] == true
                        && a["lifetime"].as_i64().is_some_and(|l| l > 0 && l <= 600)
                }),
            || {
                format!(
                    "expected one client credentials grant with an Entra-form assertion \
                     (PS256, the registered x5t#S256, aud {endpoint}) and no secret: {grants:?}"
                )
            },
        ),
        ensure(
            !introspections.is_empty()
                && introspections.iter().all(|e| {
                    e["caller"] == "cap-api" && e["active"] == true && e["token_client"] == CLIENT
                }),
            || format!("expected CAP's introspections of the client's token: {introspections:?}"),
        ),
        ensure(
            pages.len() == expected_pages
                && pages.iter().all(|e| {
                    e["status"] == 200
                        && e["auth"] == "introspection"
                        && e["token_client"] == CLIENT
                }),
            || {
                format!(
                    "expected {expected_pages} Books pages served to the provider's token \
                     (validated by introspection), CAP logged {pages:?}"
                )
            },
        ),
    ])
}

/// The scenarios.
pub fn scenarios() -> Vec<Scenario> {
    [Via::Cli, Via::Lib]
        .into_iter()
        .map(|via| {
            Scenario::new(
                format!(
                    "sap-cap/certificate-credential/oidc-provider/{}",
                    via.name()
                ),
                Kind::Cap,
                move |c| Box::pin(scan(c, via)),
            )
            .and(Kind::Oidc)
        })
        .collect()
}
