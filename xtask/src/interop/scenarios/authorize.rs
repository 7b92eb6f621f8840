//! `connectkit authorize` against the servers' own login and consent pages,
//! filled in over HTTP as a user would, then the TokenFile it wrote used by
//! `connectkit query` or `token`; the device grant through oidc-provider's
//! device pages; and the client credentials grant against both servers.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::grant::{quote, token_endpoint, token_entries};
use super::{Ctx, Scenario, all_of, ensure};
use crate::interop::browser::{Browser, Page, excerpt};
use crate::interop::cli;
use crate::interop::servers::Kind;

const DOT_USER: (&str, &str) = ("alice", "wonderland-interop");

/// The start of `connectkit authorize`, its prompt line, and the rest.
struct Running {
    child: std::process::Child,
    prompt: String,
    stderr_rest: std::thread::JoinHandle<String>,
}

/// Starts `connectkit authorize - ARGS` and waits for the line of standard
/// error that `pick` accepts (the URL, or the device instructions).
async fn start(
    ctx: &Ctx,
    args: &[&str],
    url: &str,
    pick: fn(&str) -> bool,
) -> Result<Running, String> {
    let mut all = vec!["authorize", "-", "--no-browser", "--timeout", "60"];
    all.extend(args);
    let mut child = cli::spawn(&ctx.bin, &all, url)?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (prompt, stderr_rest) = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stderr);
        let mut seen = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return Err(format!("connectkit authorize printed no prompt: {seen}"));
            }
            seen.push_str(&line);
            if pick(line.trim()) {
                let prompt = line.trim().to_owned();
                let rest = std::thread::spawn(move || {
                    let mut s = String::new();
                    let _ = reader.read_to_string(&mut s);
                    s
                });
                return Ok((prompt, rest));
            }
        }
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(Running {
        child,
        prompt,
        stderr_rest,
    })
}

/// Waits for the command; checks its exit, its output and the TokenFile.
async fn done(run: Running, file: &Path, secrets: &[&str]) -> Result<(), String> {
    let Running {
        child, stderr_rest, ..
    } = run;
    let out = tokio::task::spawn_blocking(move || cli::finish(child))
        .await
        .map_err(|e| e.to_string())??;
    let stderr = stderr_rest.join().unwrap_or_default();
    ensure(out.code == 0, || {
        format!("connectkit authorize exited {}: {stderr}", out.code)
    })?;
    ensure(
        out.stdout
            .starts_with("Authorized: tokens saved in TokenFile"),
        || format!("unexpected output: {}", out.stdout),
    )?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file:?}: {e}"))?;
    for s in secrets.iter().copied().chain(token_values(&text)) {
        ensure(!out.stdout.contains(s) && !stderr.contains(s), || {
            "a secret or token reached connectkit's output".into()
        })?;
    }
    let mode = std::fs::metadata(file)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    ensure(mode & 0o777 == 0o600, || {
        format!("{file:?} has mode {:o}", mode & 0o777)
    })
}

/// The token values in a TokenFile, to check they never reach output.
fn token_values(text: &str) -> Vec<&str> {
    ["refresh_token", "access_token"]
        .iter()
        .filter_map(|k| {
            let at = text.find(&format!("\"{k}\""))?;
            let rest = &text[at + k.len() + 2..];
            let start = rest.find('"')? + 1;
            let end = start + rest[start..].find('"')?;
            Some(&rest[start..end])
        })
        .collect()
}

fn expect_page(page: &Page, what: &str, needle: &str) -> Result<(), String> {
    ensure(page.status == 200 && page.body.contains(needle), || {
        format!(
            "{what}: expected a page with {needle:?}, got HTTP {} at {}: {}",
            page.status,
            page.url,
            excerpt(&page.body)
        )
    })
}

/// A person at django-oauth-toolkit's pages: the admin login (not logged in
/// yet), the consent form, and the loopback redirect that ends `authorize`.
async fn dot_login_consent(prompt: &str) -> Result<(), String> {
    let mut browser = Browser::new()?;
    let login = browser.get(prompt).await?;
    expect_page(&login, "admin login", "csrfmiddlewaretoken")?;
    let consent = browser
        .submit(
            &login,
            Some("login-form"),
            &[("username", DOT_USER.0), ("password", DOT_USER.1)],
        )
        .await?;
    expect_page(&consent, "consent", "authorizationForm")?;
    let landed = browser
        .submit(
            &consent,
            Some("authorizationForm"),
            &[("allow", "Authorize")],
        )
        .await?;
    expect_page(
        &landed,
        "the loopback redirect",
        "You can close this window",
    )
}

async fn dot_code(ctx: &Ctx) -> Result<(), String> {
    let base = &ctx.server(Kind::Dot).base;
    let file = ctx.scratch("dot-authorize")?.join("tokens.json");
    let url = format!(
        "autorest:Sample={base}/api/items/plain/;Table=items;AuthenticationMethod=OAuth2;ClientID=auth-client;\
         ClientSecret=auth-secret;TokenURI={};ClientCredentialsMode=Basic;AuthURI={base}/o/authorize/;\
         Scope='read write';TokenFile={}",
        quote(&format!("POST {}", token_endpoint(ctx, Kind::Dot))),
        quote(&file.display().to_string())
    );
    let run = start(ctx, &[], &url, |l| l.starts_with("http")).await?;
    dot_login_consent(&run.prompt).await?;
    done(run, &file, &["auth-secret", DOT_USER.1]).await?;
    // The TokenFile serves a protected scan; the toolkit validates the token.
    let q = cli::run(
        &ctx.bin,
        &["query", "-", "items", "--format", "jsonl"],
        &url,
    )
    .await?
    .success("query with the TokenFile authorize wrote")?;
    let rows = q.stdout.lines().count();
    ensure(rows == 250, || format!("expected 250 rows, got {rows}"))
}

async fn oidc_url(ctx: &Ctx, name: &str) -> Result<(String, std::path::PathBuf), String> {
    let base = &ctx.server(Kind::Oidc).base;
    let file = ctx.scratch(name)?.join("tokens.json");
    let url = format!(
        "autorest:Sample={base}/_interop/ready;AuthenticationMethod=OAuth2;ClientID=native-client;\
         ClientSecret=native-secret;TokenURI={};ClientCredentialsMode=Basic;AuthURI={base}/auth;\
         DeviceAuthURI={base}/device/auth;Scope='openid offline_access';TokenFile={}",
        quote(&format!("POST {}", token_endpoint(ctx, Kind::Oidc))),
        quote(&file.display().to_string())
    );
    Ok((url, file))
}

/// The provider's dev interactions: any login, then consent.
async fn oidc_login_consent(browser: &mut Browser, page: Page) -> Result<Page, String> {
    expect_page(&page, "login", "name=\"login\"")?;
    let consent = browser
        .submit(
            &page,
            None,
            &[("login", "interop-user"), ("password", "any")],
        )
        .await?;
    expect_page(&consent, "consent", "value=\"consent\"")?;
    browser.submit(&consent, None, &[]).await
}

/// After the token, `connectkit token` runs from the TokenFile alone.
/// Plays the user in a browser at oidc-provider: the authorization URL
/// `prompt`, login and consent, then the page of the loopback redirect.
async fn oidc_sign_in(prompt: &str) -> Result<(), String> {
    let mut browser = Browser::new()?;
    let login = browser.get(prompt).await?;
    let landed = oidc_login_consent(&mut browser, login).await?;
    expect_page(
        &landed,
        "the loopback redirect",
        "You can close this window",
    )
}

async fn token_from_file(ctx: &Ctx, url: &str, mark: usize) -> Result<(), String> {
    let srv = ctx.server(Kind::Oidc);
    let grants = token_entries(srv, mark).await?;
    ensure(
        grants
            .iter()
            .any(|e| e["status"] == 200 && e["basic"] == true),
        || format!("no successful Basic-authenticated token request in {grants:?}"),
    )?;
    cli::run(&ctx.bin, &["token", "-", "--format", "json"], url)
        .await?
        .success("connectkit token with the TokenFile")
        .map(|_| ())
}

async fn oidc_code(ctx: &Ctx) -> Result<(), String> {
    let (url, file) = oidc_url(ctx, "oidc-authorize").await?;
    let mark = ctx.server(Kind::Oidc).log_mark().await?;
    let run = start(ctx, &[], &url, |l| l.starts_with("http")).await?;
    oidc_sign_in(&run.prompt).await?;
    done(run, &file, &["native-secret"]).await?;
    let grants = token_entries(ctx.server(Kind::Oidc), mark).await?;
    ensure(
        grants.iter().any(|e| {
            e["body_keys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "code_verifier"))
        }),
        || format!("no code exchange with a code_verifier in {grants:?}"),
    )?;
    token_from_file(ctx, &url, mark).await
}

async fn oidc_device(ctx: &Ctx) -> Result<(), String> {
    let (url, file) = oidc_url(ctx, "oidc-device").await?;
    let mark = ctx.server(Kind::Oidc).log_mark().await?;
    let run = start(ctx, &["--device"], &url, |l| l.contains("enter the code")).await?;
    // "To authorize connectkit, open <uri> and enter the code <code>"
    let words: Vec<&str> = run.prompt.split_whitespace().collect();
    let (uri, code) = match words.iter().position(|w| *w == "open") {
        Some(i) if words.len() > i + 1 => (words[i + 1], *words.last().unwrap_or(&"")),
        _ => return Err(format!("unexpected device prompt: {}", run.prompt)),
    };
    let mut browser = Browser::new()?;
    let input = browser.get(uri).await?;
    expect_page(&input, "user code input", "name=\"user_code\"")?;
    let confirm = browser
        .submit(&input, Some("op.deviceInputForm"), &[("user_code", code)])
        .await?;
    expect_page(&confirm, "user code confirmation", "op.deviceConfirmForm")?;
    let login = browser
        .submit(&confirm, Some("op.deviceConfirmForm"), &[])
        .await?;
    let landed = oidc_login_consent(&mut browser, login).await?;
    ensure(landed.status == 200, || {
        format!(
            "device flow ended on HTTP {}: {}",
            landed.status,
            excerpt(&landed.body)
        )
    })?;
    done(run, &file, &["native-secret"]).await?;
    token_from_file(ctx, &url, mark).await
}

/// The README's quick-start URL form: `TokenURI=POST …`, no
/// ClientCredentialsMode, `AuthenticationMethod=OAuth2`.
fn readme_url(
    ctx: &Ctx,
    server: Kind,
    sample: &str,
    client: (&str, &str),
    scope: &str,
    file: &Path,
) -> String {
    let base = &ctx.server(server).base;
    let auth = match server {
        Kind::Dot => format!("{base}/o/authorize/"),
        _ => format!("{base}/auth"),
    };
    // Unquoted, as the README writes it (a value may hold spaces).
    format!(
        "autorest:Sample={sample};AuthenticationMethod=OAuth2;\nClientID={};ClientSecret={};TokenURI=POST {};\n\
         AuthURI={auth};Scope={scope};\nTokenFile={}",
        client.0,
        client.1,
        token_endpoint(ctx, server),
        file.display()
    )
}

/// After `authorize` with the README's URL: `token --force` runs the refresh
/// grant, whose vendor default form (ClientCredentialsMode All under the
/// `POST ` prefix) the server refuses; the fallback form works and one
/// warning names it; the next `token` reuses the access token in TokenFile.
async fn refresh_with_readme_url(ctx: &Ctx, server: Kind, url: &str) -> Result<(), String> {
    let mark = ctx.server(server).log_mark().await?;
    let forced = cli::run(
        &ctx.bin,
        &["token", "-", "--force", "--format", "json"],
        url,
    )
    .await?
    .success("connectkit token --force with the README's URL")?;
    let described: serde_json::Value =
        serde_json::from_str(&forced.stdout).map_err(|e| format!("{e}: {}", forced.stdout))?;
    let grants = token_entries(ctx.server(server), mark).await?;
    let warning: Vec<&str> = forced
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    let fell_back = grants.len() == 2;
    let mut checks = vec![
        ensure(described["obtained"] == "granted", || {
            format!("expected a grant: {described}")
        }),
        // oauthlib refuses the All form (client_secret in the query);
        // oidc-provider reads only the body of a POST and the Basic header.
        ensure(
            (fell_back || server == Kind::Oidc)
                && grants.last().is_some_and(|g| g["status"] == 200)
                && (!fell_back || grants[0]["status"] != 200),
            || format!("token requests: {grants:?}"),
        ),
        ensure(
            if fell_back {
                warning.len() == 1
                    && warning[0].contains(
                        "prefix TokenURI with `POST ` and set ClientCredentialsMode=Basic",
                    )
            } else {
                warning.is_empty()
            },
            || format!("warnings (fallback: {fell_back}): {}", forced.stderr),
        ),
    ];
    if server == Kind::Oidc {
        // oidc-provider rotates refresh tokens on every use.
        checks.push(ensure(described["refresh_token_rotated"] == true, || {
            format!("expected a rotated refresh token: {described}")
        }));
    }
    let mark = ctx.server(server).log_mark().await?;
    let reused = cli::run(&ctx.bin, &["token", "-", "--format", "json"], url)
        .await?
        .success("connectkit token after the forced grant")?;
    let again: serde_json::Value =
        serde_json::from_str(&reused.stdout).map_err(|e| format!("{e}: {}", reused.stdout))?;
    checks.push(ensure(again["obtained"] == "reused", || {
        format!("expected the TokenFile's access token reused: {again}")
    }));
    let sent = token_entries(ctx.server(server), mark).await?;
    checks.push(ensure(sent.is_empty(), || {
        format!("a reused token sends nothing: {sent:?}")
    }));
    all_of(checks)
}

/// The README's quick start against django-oauth-toolkit, as written: the
/// code exchange authenticates with client_secret_basic (the vendor's All
/// would put the secret in the query, which oauthlib refuses), the query
/// reads with the TokenFile, and the refresh grant falls back from All.
async fn dot_readme(ctx: &Ctx) -> Result<(), String> {
    let base = &ctx.server(Kind::Dot).base;
    let file = ctx.scratch("dot-readme")?.join("api-tokens.json");
    let url = readme_url(
        ctx,
        Kind::Dot,
        &format!("{base}/api/items/plain/;Table=items"),
        ("auth-client", "auth-secret"),
        "read write",
        &file,
    );
    let mark = ctx.server(Kind::Dot).log_mark().await?;
    let run = start(ctx, &[], &url, |l| l.starts_with("http")).await?;
    dot_login_consent(&run.prompt).await?;
    done(run, &file, &["auth-secret", DOT_USER.1]).await?;
    let exchange = token_entries(ctx.server(Kind::Dot), mark).await?;
    ensure(
        exchange.len() == 1
            && exchange[0]["status"] == 200
            && exchange[0]["basic_client"] == "auth-client"
            && exchange[0]["query_keys"]
                .as_array()
                .is_some_and(|k| k.is_empty()),
        || format!("expected one Basic-authenticated code exchange: {exchange:?}"),
    )?;
    let q = cli::run(
        &ctx.bin,
        &["query", "-", "items", "--format", "jsonl"],
        &url,
    )
    .await?
    .success("query with the README's URL")?;
    let rows = q.stdout.lines().count();
    ensure(rows == 250, || format!("expected 250 rows, got {rows}"))?;
    refresh_with_readme_url(ctx, Kind::Dot, &url).await
}

/// The README's quick start against oidc-provider with its own rules for
/// offline access (the provider's default: `offline_access` is dropped
/// without `prompt=consent`, and no refresh token is issued without it):
/// the authorization request carries prompt=consent, the refresh token
/// obtained refreshes (rotating), and the TokenFile's token is reused.
async fn oidc_readme(ctx: &Ctx) -> Result<(), String> {
    let base = &ctx.server(Kind::Oidc).base;
    let file = ctx.scratch("oidc-readme")?.join("api-tokens.json");
    let url = readme_url(
        ctx,
        Kind::Oidc,
        &format!("{base}/_interop/ready"),
        ("native-client", "native-secret"),
        "openid offline_access",
        &file,
    );
    let run = start(ctx, &[], &url, |l| l.starts_with("http")).await?;
    let asked: std::collections::HashMap<String, String> = url::Url::parse(&run.prompt)
        .map_err(|e| e.to_string())?
        .query_pairs()
        .into_owned()
        .collect();
    ensure(
        asked.get("prompt").map(String::as_str) == Some("consent"),
        || format!("expected prompt=consent in {}", run.prompt),
    )?;
    oidc_sign_in(&run.prompt).await?;
    done(run, &file, &["native-secret"]).await?;
    let saved = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    ensure(saved.contains("offline_access"), || {
        "the granted scope saved in TokenFile lacks offline_access".into()
    })?;
    refresh_with_readme_url(ctx, Kind::Oidc, &url).await
}

async fn client_credentials(ctx: &Ctx, server: Kind) -> Result<(), String> {
    let base = &ctx.server(server).base;
    let (sample, scope) = match server {
        Kind::Dot => (
            format!("{base}/api/items/plain/;Table=items"),
            ";Scope=read",
        ),
        _ => (format!("{base}/_interop/ready"), ""),
    };
    let url = format!(
        "autorest:Sample={sample};AuthenticationMethod=OAuth2-ClientCredentials;ClientID=cc-client;\
         ClientSecret=cc-secret;TokenURI={};ClientCredentialsMode=Basic{scope}",
        quote(&format!("POST {}", token_endpoint(ctx, server)))
    );
    let mark = ctx.server(server).log_mark().await?;
    let token = cli::run(&ctx.bin, &["token", "-", "--format", "json"], &url)
        .await?
        .success("connectkit token with client credentials")?;
    let described: serde_json::Value =
        serde_json::from_str(&token.stdout).map_err(|e| format!("{e}: {}", token.stdout))?;
    let mut checks = vec![ensure(described["token_type"] == "Bearer", || {
        format!("unexpected token description: {described}")
    })];
    if server == Kind::Dot {
        // The toolkit validates the client credentials token on its API.
        let q = cli::run(
            &ctx.bin,
            &["query", "-", "items", "--format", "jsonl"],
            &url,
        )
        .await?
        .success("query with client credentials")?;
        let rows = q.stdout.lines().count();
        checks.push(ensure(rows == 250, || {
            format!("expected 250 rows, got {rows}")
        }));
    }
    let log = token_entries(ctx.server(server), mark).await?;
    checks.push(ensure(
        !log.is_empty() && log.iter().all(|e| e["status"] == 200),
        || format!("token requests: {log:?}"),
    ));
    all_of(checks)
}

/// The scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "django-oauth-toolkit/authorize/pkce-login-consent/cli",
            Kind::Dot,
            |ctx| Box::pin(dot_code(ctx)),
        ),
        Scenario::new(
            "oidc-provider/authorize/pkce-login-consent/cli",
            Kind::Oidc,
            |ctx| Box::pin(oidc_code(ctx)),
        ),
        Scenario::new("oidc-provider/authorize/device/cli", Kind::Oidc, |ctx| {
            Box::pin(oidc_device(ctx))
        }),
        Scenario::new(
            "django-oauth-toolkit/authorize/readme-quick-start/cli",
            Kind::Dot,
            |ctx| Box::pin(dot_readme(ctx)),
        ),
        Scenario::new(
            "oidc-provider/authorize/offline-access-refreshes/cli",
            Kind::Oidc,
            |ctx| Box::pin(oidc_readme(ctx)),
        ),
        Scenario::new(
            "django-oauth-toolkit/client-credentials/query/cli",
            Kind::Dot,
            |ctx| Box::pin(client_credentials(ctx, Kind::Dot)),
        ),
        Scenario::new(
            "oidc-provider/client-credentials/token/cli",
            Kind::Oidc,
            |ctx| Box::pin(client_credentials(ctx, Kind::Oidc)),
        ),
    ]
}
