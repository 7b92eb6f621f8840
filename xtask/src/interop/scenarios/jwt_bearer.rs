//! The JWT bearer grant (RFC 7523 section 2.1) against Authlib's
//! `JWTBearerGrant` (`tests/interop/python/jwt_bearer_server.py`): a
//! Google-style service-account key file generated here from the test key,
//! the JWTCertStore + ClaimsIssuer form, and an assertion for another
//! audience, which the server refuses. Rows come from the server's protected
//! resource, which accepts only the tokens it issued.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::grant::{quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::cli;
use crate::interop::compare::{Kind as K, diff};
use crate::interop::install::repo_root;
use crate::interop::query::{Read, Via, read};
use crate::interop::seed;
use crate::interop::servers::Kind;

/// The service account the server knows (`jwt_bearer_server.py`).
const SERVICE_ACCOUNT: &str = "reader@connectkit-interop.iam.gserviceaccount.com";
/// The ID of its key, which the server requires as the assertion's `kid`.
const KEY_ID: &str = "interop-key-1";
/// The ClaimsIssuer form's issuer and the user it acts for.
const ISSUER: &str = "connectkit-jwt-issuer";
const SUBJECT: &str = "analyst@connectkit.example";
const TABLE: &str = "accounts";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn key(name: &str) -> PathBuf {
    repo_root()
        .join("crates/oauth-refresh/tests/it/keys")
        .join(name)
}

fn kinds() -> BTreeMap<&'static str, K> {
    BTreeMap::from([
        ("id", K::Int),
        ("account", K::Text),
        ("balance", K::Double),
        ("active", K::Bool),
    ])
}

/// Writes a Google-style service-account key file (the fields Google's
/// console puts in one) holding the test key; returns its path.
fn key_file(ctx: &Ctx, scenario: &str) -> Result<PathBuf, String> {
    let pem = std::fs::read_to_string(key("rsa.pkcs8.pem"))
        .map_err(|e| format!("cannot read the test key: {e}"))?;
    let file = json!({
        "type": "service_account",
        "project_id": "connectkit-interop",
        "private_key_id": KEY_ID,
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT,
        "client_id": "104857600000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_endpoint(ctx, Kind::Authlib),
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    });
    let path = ctx.scratch(scenario)?.join("service-account.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("cannot write {path:?}: {e}"))?;
    Ok(path)
}

fn sample(ctx: &Ctx) -> String {
    format!(
        "autorest:Sample={}/api/rows;Table={TABLE};Scope=rows.read",
        ctx.server(Kind::Authlib).base
    )
}

/// What one grant must have looked like in the server's log.
struct Grant<'a> {
    iss: &'a str,
    sub: Option<&'a str>,
    kid: Option<&'a str>,
}

/// Reads the table with `credentials`, compares every row with the seed and
/// checks on the server's log: one grant, with an assertion and nothing
/// else secret, whose verified claims are `grant`'s; every API request
/// carried a bearer token the server issued to that issuer.
async fn scan(ctx: &Ctx, via: Via, credentials: &str, grant: Grant<'_>) -> Result<(), String> {
    let srv = ctx.server(Kind::Authlib);
    let url = format!("{};{credentials}", sample(ctx));
    let mark = srv.log_mark().await?;
    let rows = read(via, &ctx.bin, &url, TABLE, Read::default(), &kinds()).await;
    let (_, log) = srv.log_since(mark).await?;
    let tokens = token_entries(srv, mark).await?;
    let api: Vec<&Value> = log.iter().filter(|e| e["kind"] == "api").collect();
    let aud = token_endpoint(ctx, Kind::Authlib);
    all_of([
        rows.and_then(|r| diff(TABLE, "id", &seed::granted().rows, &r)),
        ensure(
            tokens.len() == 1
                && tokens.iter().all(|e| {
                    e["status"] == 200
                        && e["grant_type"] == JWT_BEARER
                        && e["body_keys"].to_string().contains("\"assertion\"")
                        && !e["body_keys"].to_string().contains("secret")
                        && e["basic"] == false
                        && e["claims"]["iss"] == grant.iss
                        && e["claims"]["sub"] == json!(grant.sub)
                        && e["claims"]["aud"] == aud.as_str()
                        && grant.kid.is_none_or(|k| e["header"]["kid"] == k)
                }),
            || {
                format!(
                    "expected one jwt-bearer grant (iss {}, sub {:?}, kid {:?}, aud {aud}), the server logged {tokens:?}",
                    grant.iss, grant.sub, grant.kid
                )
            },
        ),
        ensure(
            !api.is_empty()
                && api.iter().all(|e| {
                    e["status"] == 200
                        && e["issuer"] == grant.iss
                        && e["subject"] == json!(grant.sub)
                }),
            || format!("expected every API request authorized by the grant's token: {api:?}"),
        ),
    ])
}

async fn service_account(ctx: &Ctx, via: Via) -> Result<(), String> {
    let file = key_file(ctx, &format!("jwt-bearer-key-file-{}", via.name()))?;
    let creds = format!(
        "AuthenticationMethod=OAuth2-JWTBearer;JWTCertStore={}",
        quote(&file.display().to_string())
    );
    scan(
        ctx,
        via,
        &creds,
        Grant {
            iss: SERVICE_ACCOUNT,
            sub: None,
            kid: Some(KEY_ID),
        },
    )
    .await
}

async fn claims_issuer(ctx: &Ctx) -> Result<(), String> {
    let creds = format!(
        "AuthenticationMethod=OAuth2-JWTBearer;JWTCertStore={};JWTCertPassword=test-pfx-password;\
         ClaimsIssuer={ISSUER};ClaimsSubject={SUBJECT};TokenURI={}",
        quote(&key("rsa.pfx").display().to_string()),
        quote(&format!("POST {}", token_endpoint(ctx, Kind::Authlib)))
    );
    scan(
        ctx,
        Via::Cli,
        &creds,
        Grant {
            iss: ISSUER,
            sub: Some(SUBJECT),
            kid: None,
        },
    )
    .await
}

/// An assertion for Google's token endpoint presented to this one: the
/// server refuses it (`invalid_grant` naming `aud`), connectkit exits with
/// the authentication code and prints nothing secret.
async fn wrong_audience(ctx: &Ctx) -> Result<(), String> {
    let file = key_file(ctx, "jwt-bearer-wrong-audience")?;
    let url = format!(
        "{};AuthenticationMethod=OAuth2-JWTBearer;JWTCertStore={};\
         ClaimsAudience=https://oauth2.googleapis.com/token",
        sample(ctx),
        quote(&file.display().to_string())
    );
    let srv = ctx.server(Kind::Authlib);
    let mark = srv.log_mark().await?;
    let out = cli::run(&ctx.bin, &["query", "-", TABLE, "--format", "jsonl"], &url).await?;
    let (_, log) = srv.log_since(mark).await?;
    let tokens = token_entries(srv, mark).await?;
    let pem = std::fs::read_to_string(key("rsa.pkcs8.pem")).map_err(|e| e.to_string())?;
    let key_line = pem.lines().nth(1).unwrap_or("-----");
    let printed = format!("{}{}", out.stdout, out.stderr);
    all_of([
        ensure(
            out.code == 3 && out.stderr.contains("invalid_grant"),
            || {
                format!(
                    "expected exit 3 naming invalid_grant, got {}: {}",
                    out.code, out.stderr
                )
            },
        ),
        ensure(
            !printed.contains(key_line)
                && !printed.contains("PRIVATE KEY")
                && !printed.contains("eyJ"),
            || format!("a secret (key or assertion) was printed: {printed}"),
        ),
        ensure(out.stdout.trim().is_empty(), || {
            format!("rows printed despite the refusal: {}", out.stdout)
        }),
        ensure(
            !tokens.is_empty()
                && tokens.iter().all(|e| {
                    e["status"] == 400
                        && e["error"] == "invalid_grant"
                        && e["error_description"]
                            .as_str()
                            .is_some_and(|d| d.contains("aud"))
                }),
            || format!("expected the server to refuse the audience: {tokens:?}"),
        ),
        ensure(log.iter().all(|e| e["kind"] != "api"), || {
            format!("the API was called without a token: {log:?}")
        }),
    ])
}

/// The scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for via in [Via::Cli, Via::Lib] {
        v.push(Scenario::new(
            format!("authlib/jwt-bearer/service-account-key-file/{}", via.name()),
            Kind::Authlib,
            move |c| Box::pin(service_account(c, via)),
        ));
    }
    v.push(Scenario::new(
        "authlib/jwt-bearer/claims-issuer-cert-store/cli",
        Kind::Authlib,
        |c| Box::pin(claims_issuer(c)),
    ));
    v.push(Scenario::new(
        "authlib/jwt-bearer/wrong-audience/cli",
        Kind::Authlib,
        |c| Box::pin(wrong_audience(c)),
    ));
    v
}
