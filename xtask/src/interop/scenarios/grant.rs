//! Every `ClientCredentialsMode` with every `TokenURI` method prefix against
//! both OAuth servers, through the binary and the library.
//!
//! What each server accepts is a fact recorded in [`expected`]; the one row
//! that is the connector's choice, not the server's, is the vendor default
//! (no prefix, no mode): issue 13 requires it to work against both servers.

use serde_json::Value;

use connectkit_core::ErrorKind;

use super::{Ctx, Scenario, ensure};
use crate::interop::cli;
use crate::interop::query::{Via, registry};
use crate::interop::servers::{Kind, Server};

/// The `TokenURI` prefix.
#[derive(Clone, Copy, Debug)]
enum Method {
    None,
    Get,
    Post,
}

/// `ClientCredentialsMode`, `None` when the property is absent.
#[derive(Clone, Copy, Debug)]
enum Mode {
    None,
    All,
    Basic,
    Url,
    Post,
}

/// How the successful token request must have reached the server.
#[derive(Clone, Copy, Debug)]
struct Received {
    basic: bool,
    body_credentials: bool,
    query_credentials: bool,
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    Ok(Received),
    /// Refused by the server; the message names this (status or RFC 6749
    /// error code).
    Refused(&'static str),
    /// Refused by the connector before any request (exit 2); the message
    /// names this.
    Config(&'static str),
}

const BASIC: Expect = Expect::Ok(Received {
    basic: true,
    body_credentials: false,
    query_credentials: false,
});
const BODY: Expect = Expect::Ok(Received {
    basic: false,
    body_credentials: true,
    query_credentials: false,
});
/// Mode All on a POST: the Basic header, and the credentials in the query.
const BASIC_AND_QUERY: Expect = Expect::Ok(Received {
    basic: true,
    body_credentials: false,
    query_credentials: true,
});

/// The recorded facts, per server.
fn expected(server: Kind, method: Method, mode: Mode) -> Expect {
    match (server, method, mode) {
        // The vendor default must work: issue 13's fallback tries POST with
        // Basic first, and both servers accept that.
        (_, Method::None, Mode::None) => BASIC,
        // Form-body credentials need a body: the connector says so before
        // sending anything.
        (_, Method::None | Method::Get, Mode::Post) => {
            Expect::Config("ClientCredentialsMode=Post needs a POST token request")
        }
        // DOT's token view answers GET with 405 Method Not Allowed.
        (Kind::Dot, Method::None | Method::Get, _) => Expect::Refused("405"),
        // A defaulted mode under an explicit POST prefix: oauthlib refuses
        // All's query copy, and the default-form fallback goes on to Basic.
        (Kind::Dot, Method::Post, Mode::None) => BASIC,
        // oauthlib refuses any query string on a POST token request
        // ("URL query parameters are not allowed"): modes All and Url, set
        // explicitly, are not overridden.
        (Kind::Dot, Method::Post, Mode::All | Mode::Url) => Expect::Refused("invalid_request"),
        (Kind::Dot, Method::Post, Mode::Basic) => BASIC,
        (Kind::Dot, Method::Post, Mode::Post) => BODY,
        // oidc-provider has no GET route for its token endpoint.
        (Kind::Oidc, Method::None | Method::Get, _) => Expect::Refused("404"),
        // oidc-provider reads only the body of a POST, so the query copy that
        // All adds is ignored and the Basic header authenticates.
        (Kind::Oidc, Method::Post, Mode::None | Mode::All) => BASIC_AND_QUERY,
        (Kind::Oidc, Method::Post, Mode::Basic) => BASIC,
        // Credentials only in the query: "no client authentication mechanism
        // provided".
        (Kind::Oidc, Method::Post, Mode::Url) => Expect::Refused("invalid_request"),
        (Kind::Oidc, Method::Post, Mode::Post) => BODY,
        (_, _, _) => Expect::Refused("no such server"),
    }
}

/// The client a user would configure for the mode: oidc-provider registers
/// one authentication method per client.
fn client(server: Kind, mode: Mode) -> (&'static str, &'static str) {
    match (server, mode) {
        (Kind::Oidc, Mode::Post) => ("post-client", "post-secret"),
        _ => ("basic-client", "p+a/s=s&w%o:r d"),
    }
}

/// A connection-URL value in single quotes.
pub fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// The token endpoint of an OAuth server.
pub fn token_endpoint(ctx: &Ctx, server: Kind) -> String {
    match server {
        Kind::Dot => format!("{}/o/token/", ctx.server(server).base),
        Kind::Oidc => format!("{}/token", ctx.server(server).base),
        Kind::Cap => format!("{}/oauth/token", ctx.server(server).base),
        Kind::Authlib => format!("{}/token", ctx.server(server).base),
        Kind::JsonServer => String::new(),
    }
}

/// An autorest URL whose grant goes to `server`; `extra` is appended as is.
pub fn grant_url(
    ctx: &Ctx,
    server: Kind,
    client: (&str, &str),
    refresh_token: &str,
    token_uri: &str,
    extra: &str,
) -> String {
    format!(
        "autorest:Sample={}/_interop/ready;AuthenticationMethod=OAuth2-RefreshToken;\
         ClientID={};ClientSecret={};RefreshToken={};TokenURI={}{extra}",
        ctx.server(server).base,
        client.0,
        quote(client.1),
        quote(refresh_token),
        quote(token_uri)
    )
}

/// Token-endpoint log entries since `mark`.
pub async fn token_entries(server: &Server, mark: usize) -> Result<Vec<Value>, String> {
    let (_, entries) = server.log_since(mark).await?;
    Ok(entries
        .into_iter()
        .filter(|e| e["kind"] == "token")
        .collect())
}

/// Whether `refresh_token` still works, presented the way `client` authenticates.
pub async fn still_valid(
    ctx: &Ctx,
    server: Kind,
    client: (&str, &str),
    refresh_token: &str,
) -> Result<bool, String> {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    let mut req = connectkit_core::client::http_client()
        .expect("HTTP client")
        .post(token_endpoint(ctx, server));
    if client.0 == "post-client" {
        form.extend([("client_id", client.0), ("client_secret", client.1)]);
    } else {
        let enc =
            |s: &str| serde_urlencoded::to_string([("", s)]).unwrap_or_default()[1..].to_owned();
        req = req.basic_auth(enc(client.0), Some(enc(client.1)));
    }
    let body = serde_urlencoded::to_string(&form).map_err(|e| e.to_string())?;
    let r = req
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("checking the refresh token: {e}"))?;
    Ok(r.status().is_success())
}

async fn check(
    ctx: &Ctx,
    server: Kind,
    method: Method,
    mode: Mode,
    via: Via,
) -> Result<(), String> {
    let srv = ctx.server(server);
    let client = client(server, mode);
    let rt = srv.mint(client.0, None).await?;
    let endpoint = token_endpoint(ctx, server);
    let token_uri = match method {
        Method::None => endpoint,
        Method::Get => format!("GET {endpoint}"),
        Method::Post => format!("POST {endpoint}"),
    };
    let extra = match mode {
        Mode::None => String::new(),
        m => format!(";ClientCredentialsMode={m:?}"),
    };
    let url = grant_url(ctx, server, client, &rt, &token_uri, &extra);
    let mark = srv.log_mark().await?;
    let outcome: Result<(), (i32, String)> = match via {
        Via::Cli => {
            let out = cli::run(&ctx.bin, &["token", "-", "--format", "json"], &url).await?;
            match out.code {
                0 => {
                    let v: Value = serde_json::from_str(&out.stdout)
                        .map_err(|e| format!("token --format json: {e}: {}", out.stdout))?;
                    ensure(v["token_type"] == "Bearer", || format!("token_type: {v}"))?;
                    Ok(())
                }
                code => Err((code, out.stderr.trim().to_owned())),
            }
        }
        Via::Lib => match registry().connect(&url) {
            Err(e) => Err((exit_code(e.kind()), e.to_string())),
            Ok(c) => match c.auth_flow().refresh_now().await {
                Ok(Some(info)) => {
                    ensure(info.token_type == "Bearer", || format!("{info:?}"))?;
                    Ok(())
                }
                Ok(None) => return Err("refresh_now ran no grant".into()),
                Err(e) => Err((exit_code(e.kind()), e.to_string())),
            },
        },
    };
    let log = token_entries(srv, mark).await?;
    let granted: Vec<&Value> = log.iter().filter(|e| e["status"] == 200).collect();
    match (expected(server, method, mode), outcome) {
        (Expect::Ok(rx), Ok(())) => {
            ensure(granted.len() == 1, || {
                format!("expected 1 grant, the server logged {log:?}")
            })?;
            let g = granted[0];
            let basic = g["basic"] == true || g["basic_client"].is_string();
            let keys = |k: &str| g[k].as_array().cloned().unwrap_or_default();
            let in_body = keys("body_keys").iter().any(|k| k == "client_secret");
            ensure(g["method"] == "POST", || {
                format!("granted over {}", g["method"])
            })?;
            ensure(basic == rx.basic, || {
                format!("Basic header: {basic}, expected {}", rx.basic)
            })?;
            ensure(in_body == rx.body_credentials, || {
                format!(
                    "client_secret in the body: {in_body}, expected {}",
                    rx.body_credentials
                )
            })?;
            let in_query = keys("query_keys").iter().any(|k| k == "client_secret");
            ensure(in_query == rx.query_credentials, || {
                format!(
                    "client_secret in the query: {in_query}, expected {}: {g}",
                    rx.query_credentials
                )
            })
        }
        (Expect::Ok(_), Err((_, msg))) => Err(format!("expected a token, got: {msg}")),
        (Expect::Refused(what), Ok(())) => {
            Err(format!("expected a refusal naming {what}, got a token"))
        }
        (Expect::Config(what), Err((code, msg))) => {
            ensure(code == 2, || {
                format!("expected a configuration error (exit 2), got exit {code}: {msg}")
            })?;
            ensure(msg.contains(what), || {
                format!("the message does not say {what:?}: {msg}")
            })?;
            ensure(log.is_empty(), || {
                format!("the server received a token request: {log:?}")
            })
        }
        (Expect::Config(what), Ok(())) => Err(format!(
            "expected a configuration error naming {what}, got a token"
        )),
        (Expect::Refused(what), Err((code, msg))) => {
            ensure(code == 3, || {
                format!("expected an authentication failure (exit 3), got exit {code}: {msg}")
            })?;
            ensure(msg.contains(what), || {
                format!("the message does not name {what}: {msg}")
            })?;
            ensure(!msg.contains(&rt) && !msg.contains("w%o:r"), || {
                format!("a secret in: {msg}")
            })?;
            ensure(granted.is_empty(), || {
                format!("refused, yet the server granted: {log:?}")
            })?;
            ensure(still_valid(ctx, server, client, &rt).await?, || {
                "a refused request consumed the refresh token".into()
            })
        }
    }
}

/// The CLI's exit code for an error kind (2 config, 3 auth, 4 API, 1 other).
fn exit_code(kind: ErrorKind) -> i32 {
    i32::from(kind.exit_code())
}

/// The matrix: 2 servers x 3 methods x 5 modes x 2 doors.
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for server in [Kind::Dot, Kind::Oidc] {
        for method in [Method::None, Method::Get, Method::Post] {
            for mode in [Mode::None, Mode::All, Mode::Basic, Mode::Url, Mode::Post] {
                for via in [Via::Cli, Via::Lib] {
                    let name = format!(
                        "{}/grant/{}/{}/{}",
                        server.name(),
                        format!("{method:?}")
                            .to_lowercase()
                            .replace("none", "no-prefix"),
                        format!("{mode:?}")
                            .to_lowercase()
                            .replace("none", "default-mode"),
                        via.name()
                    );
                    v.push(Scenario::new(name, server, move |ctx| {
                        Box::pin(check(ctx, server, method, mode, via))
                    }));
                }
            }
        }
    }
    v
}
