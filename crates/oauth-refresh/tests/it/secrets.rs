//! Issue 13 item 6: the secret catalogue. Every error and every log line
//! that each hostile or broken token response produces is formatted, and no
//! form of any secret may appear in it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use connectkit_oauth_refresh::{ClientCredentialsMode, RefreshTokenFlow, RetryConfig};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::capture_logs;

const CLIENT_ID: &str = "catalogue-client";
const CLIENT_SECRET: &str = "12a3=bCD/EfGh4+Ijk Lm";
const REFRESH: &str = "1/rEfR3sh_T2V-Zabc45dE6FGh";
const ACCESS: &str = "ya29.Acc3ss/T0ken+Value";
const NEW_ACCESS: &str = "ya29.N3wAcc3ss-T0ken";
const NEW_REFRESH: &str = "1/N3wRefr3sh-T0ken";
const SECURITY: &str = "s3curity T0ken/Value";
const PROXY_USER: &str = "proxy-user";
const PROXY_PW: &str = "pr0xy/P@ss w:rd+";

fn pct(s: &str, lower: bool) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else if lower {
                format!("%{b:02x}")
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every spelling of every secret that must never be printed.
fn forbidden() -> Vec<String> {
    let mut out = Vec::new();
    for s in [
        CLIENT_SECRET,
        REFRESH,
        ACCESS,
        NEW_ACCESS,
        NEW_REFRESH,
        SECURITY,
    ] {
        out.extend([
            s.to_owned(),
            form(s),
            pct(s, false),
            pct(s, true),
            STANDARD.encode(s),
            URL_SAFE_NO_PAD.encode(s),
        ]);
    }
    out.push(STANDARD.encode(format!("{CLIENT_ID}:{}", form(CLIENT_SECRET))));
    out.push(STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    out
}

/// Every spelling of ProxyPassword, and the credential of the
/// `Proxy-Authorization` header it travels in: forbidden wherever a proxy
/// with that login is configured.
fn proxy_forbidden() -> Vec<String> {
    vec![
        PROXY_PW.to_owned(),
        form(PROXY_PW),
        pct(PROXY_PW, false),
        pct(PROXY_PW, true),
        STANDARD.encode(PROXY_PW),
        URL_SAFE_NO_PAD.encode(PROXY_PW),
        STANDARD.encode(format!("{PROXY_USER}:{PROXY_PW}")),
    ]
}

/// The forward proxy (the mock server itself: it answers the absolute-form
/// requests a proxy receives) with ProxyUser and ProxyPassword.
fn proxy(server: &MockServer) -> connectkit_core::client::ProxySettings {
    let url: connectkit_core::ConnectionUrl = format!(
        "x:ProxyHost=127.0.0.1;ProxyPort={};ProxyUser={PROXY_USER};ProxyPassword='{PROXY_PW}'",
        server.address().port()
    )
    .parse()
    .unwrap();
    connectkit_core::client::ProxySettings::from_properties(&url.into_parts().1)
        .unwrap()
        .expect("ProxyHost is set")
}

/// The token responses of a hostile or broken endpoint.
fn catalogue() -> Vec<(&'static str, ResponseTemplate)> {
    let tokens = format!(
        r#""access_token":"{NEW_ACCESS}","refresh_token":"{NEW_REFRESH}","token_type":"Bearer""#
    );
    let basic = STANDARD.encode(format!("{CLIENT_ID}:{}", form(CLIENT_SECRET)));
    let raw = |status: u16, body: String, ct: &str| {
        ResponseTemplate::new(status).set_body_raw(body.into_bytes(), ct)
    };
    vec![
        (
            "2xx with a BOM and a trailing comma",
            raw(200, format!("\u{feff}{{{tokens},}}"), "application/json"),
        ),
        (
            "2xx with a trailing comma",
            raw(200, format!("{{{tokens},}}"), "application/json"),
        ),
        (
            "2xx nested 10,000 deep",
            raw(
                200,
                format!(
                    "{{{tokens},\"x\":{}{}}}",
                    "[".repeat(10_000),
                    "]".repeat(10_000)
                ),
                "application/json",
            ),
        ),
        (
            "2xx HTML holding the tokens",
            raw(
                200,
                format!("<html>{NEW_ACCESS} {NEW_REFRESH}</html>"),
                "text/html",
            ),
        ),
        (
            "2xx with a token in token_type",
            raw(
                200,
                format!(r#"{{"access_token":"{NEW_ACCESS}","token_type":"{REFRESH}"}}"#),
                "application/json",
            ),
        ),
        (
            "2xx error field echoing the secret",
            raw(
                200,
                format!(r#"{{"error":"{CLIENT_SECRET}"}}"#),
                "application/json",
            ),
        ),
        (
            "400 page echoing the request, percent-encoded",
            raw(
                400,
                format!(
                    "bad request: refresh_token={}&client_secret={}&x={}&at={}&st={}",
                    form(REFRESH),
                    pct(CLIENT_SECRET, true),
                    pct(REFRESH, false),
                    form(ACCESS),
                    form(SECURITY)
                ),
                "text/plain",
            ),
        ),
        (
            "500 page echoing the Basic header",
            raw(
                500,
                format!(
                    "<pre>Authorization: Basic {basic}\nsecret {}</pre>",
                    STANDARD.encode(CLIENT_SECRET)
                ),
                "text/html",
            ),
        ),
        (
            "401 invalid_client echoing the secret in its description",
            raw(
                401,
                format!(
                    r#"{{"error":"invalid_client","error_description":"secret {} / {} rejected","error_uri":"https://e/{}"}}"#,
                    CLIENT_SECRET.replace('/', "\\/"),
                    form(CLIENT_SECRET),
                    pct(REFRESH, false)
                ),
                "application/json",
            ),
        ),
        (
            "400 invalid_grant echoing the token",
            raw(
                400,
                format!(r#"{{"error":"invalid_grant","error_description":"{REFRESH} revoked"}}"#),
                "application/json",
            ),
        ),
        (
            "407 from a proxy echoing the login it was sent",
            raw(
                407,
                format!(
                    "Proxy-Authorization: Basic {}\npassword {PROXY_PW} / {}",
                    STANDARD.encode(format!("{PROXY_USER}:{PROXY_PW}")),
                    form(PROXY_PW)
                ),
                "text/plain",
            ),
        ),
        (
            "502 from a proxy with control characters",
            raw(502, format!("\u{1b}[2J\u{7}gateway {ACCESS}"), "text/plain"),
        ),
    ]
}

fn flow(
    server: &MockServer,
    prefix: &str,
    mode: Option<ClientCredentialsMode>,
) -> RefreshTokenFlow {
    let mut b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .refresh_token(REFRESH)
        .access_token(ACCESS)
        .auth_header("X-Api-Key", SECURITY)
        .unwrap()
        .token_uri(&format!("{prefix}{}/token", server.uri()))
        .unwrap()
        .proxy(proxy(server))
        .retry(
            RetryConfig::token_endpoint()
                .with_max_retries(1)
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        );
    if let Some(m) = mode {
        b = b.client_credentials_mode(m);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn no_form_of_any_secret_reaches_an_error_or_a_log_line() {
    let mut forbidden = forbidden();
    forbidden.extend(proxy_forbidden());
    for (name, response) in catalogue() {
        // The default form (with its fallback) and an explicit POST with Basic.
        for (prefix, mode) in [("", None), ("POST ", Some(ClientCredentialsMode::Basic))] {
            let server = MockServer::builder().start().await;
            Mock::given(path("/token"))
                .respond_with(response.clone())
                .mount(&server)
                .await;
            let (guard, logs) = capture_logs();
            let f = flow(&server, prefix, mode);
            let err = f.refresh().await.expect_err(name);
            let core: connectkit_core::Error = err.clone().into();
            drop(guard);
            let text = format!("{err}\n{err:?}\n{core}\n{core:?}\n{f:?}\n{}", logs.text());
            for s in &forbidden {
                assert!(
                    !text.contains(s.as_str()),
                    "{name}: {s:?} leaked in:\n{text}"
                );
            }
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{name}: raw control character in:\n{text}"
            );
            let received = server.received_requests().await.unwrap();
            assert!(!received.is_empty());
            // Every token request went through the proxy, with its login.
            assert!(
                received
                    .iter()
                    .all(|r| r.headers.contains_key("proxy-authorization")),
                "{name}: a token request without Proxy-Authorization"
            );
        }
    }
}

#[tokio::test]
async fn a_2xx_body_that_does_not_parse_names_the_position_not_the_content() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"access_token":"{NEW_ACCESS}",}}"#).into_bytes(),
            "application/json",
        ))
        .mount(&server)
        .await;
    let err = flow(&server, "POST ", Some(ClientCredentialsMode::Basic))
        .refresh()
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("not valid JSON") && msg.contains("line 1 column"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_byte_order_mark_is_stripped() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!("\u{feff}{{\"access_token\":\"{NEW_ACCESS}\"}}").into_bytes(),
            "application/json",
        ))
        .mount(&server)
        .await;
    let f = flow(&server, "POST ", Some(ClientCredentialsMode::Basic));
    f.refresh().await.unwrap();
}

#[tokio::test]
async fn the_token_uri_prints_without_user_info_or_query() {
    let uri = "POST https://user:S3CRET-pw@login.example.com/token?api_key=S3CRET-q#S3CRET-f";
    let b = RefreshTokenFlow::builder()
        .client_id("c")
        .refresh_token("r")
        .token_uri(uri)
        .unwrap();
    let f = b.build().unwrap();
    let parsed: connectkit_oauth_refresh::TokenUri = uri.parse().unwrap();
    let text = format!("{f:?} {parsed} {parsed:?} {}", f.token_uri());
    assert!(!text.contains("S3CRET"), "{text}");
    assert!(text.contains("https://login.example.com/token"), "{text}");
    for bad in [
        "S3CRET-pw https://h/t",
        "https://h:S3CRET/t x",
        "ftp://S3CRET@h/t",
    ] {
        let err = RefreshTokenFlow::builder().token_uri(bad).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("S3CRET"), "{bad}: {err}");
    }
}

const CODE: &str = "c0de/Auth+Value-9f8e7d";

/// The catalogue again, through the client credentials grant and through
/// the authorization code exchange (whose code and PKCE verifier join the
/// forbidden spellings).
#[tokio::test]
async fn the_other_grants_leak_nothing_either() {
    use connectkit_oauth_refresh::{Authorizer, FileStore};
    // REFRESH and ACCESS are the refresh flow's configured tokens: these
    // flows never know them, so the catalogue's echo of them is just text.
    let unknown: Vec<String> = [REFRESH, ACCESS]
        .iter()
        .flat_map(|t| {
            [
                t.to_string(),
                form(t),
                pct(t, false),
                pct(t, true),
                STANDARD.encode(t),
                URL_SAFE_NO_PAD.encode(t),
            ]
        })
        .collect();
    let mut forbidden: Vec<String> = forbidden()
        .into_iter()
        .filter(|s| !unknown.contains(s))
        .collect();
    forbidden.extend([CODE.to_owned(), form(CODE), pct(CODE, false)]);
    for (name, response) in catalogue() {
        let server = MockServer::builder().start().await;
        Mock::given(path("/token"))
            .respond_with(response.clone())
            .mount(&server)
            .await;
        let (guard, logs) = capture_logs();
        let cc = RefreshTokenFlow::client_credentials()
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .auth_header("X-Api-Key", SECURITY)
            .unwrap()
            .token_uri(&format!("POST {}/token", server.uri()))
            .unwrap()
            .retry(RetryConfig::token_endpoint().with_max_retries(0))
            .build()
            .unwrap();
        let cc_err = cc.refresh().await.expect_err(name);

        let dir = tempfile::tempdir().unwrap();
        let b = RefreshTokenFlow::builder()
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .token_uri(&format!("POST {}/token", server.uri()))
            .unwrap()
            .retry(RetryConfig::token_endpoint().with_max_retries(0))
            .token_store(std::sync::Arc::new(FileStore::new(
                dir.path().join("t.json"),
            )));
        let props = crate::authorize::props(&format!("AuthURI={}/authorize", server.uri()));
        let a = Authorizer::new(b, &props).unwrap();
        let pending = a.start().await.unwrap();
        let q: std::collections::HashMap<String, String> =
            pending.url.query_pairs().into_owned().collect();
        let debug_pending = format!("{pending:?} {a:?}");
        let finish = tokio::spawn(async move { a.finish(pending).await });
        connectkit_core::client::http_client()
            .expect("HTTP client")
            .get(format!(
                "{}?code={}&state={}",
                q["redirect_uri"],
                form(CODE),
                q["state"]
            ))
            .send()
            .await
            .unwrap();
        let code_err = finish.await.unwrap().expect_err(name);
        drop(guard);

        let verifier = crate::token_requests(&server)
            .await
            .iter()
            .flat_map(|r| r.form.clone())
            .find(|(k, _)| k == "code_verifier")
            .map(|(_, v)| v)
            .expect("the exchange sent a verifier");
        let mut forbidden = forbidden.clone();
        forbidden.extend([verifier.clone(), STANDARD.encode(&verifier)]);
        let text = format!(
            "{cc_err}\n{cc_err:?}\n{cc:?}\n{code_err}\n{code_err:?}\n{debug_pending}\n{}",
            logs.text()
        );
        for s in &forbidden {
            assert!(
                !text.contains(s.as_str()),
                "{name}: {s:?} leaked in:\n{text}"
            );
        }
    }
}

/// A token endpoint that refuses every request and echoes every parameter
/// it received, in each spelling of the catalogue, in a JSON error (401)
/// or a plain-text body (400).
fn echoing(json: bool) -> impl Fn(&wiremock::Request) -> ResponseTemplate + Send + Sync {
    move |req: &wiremock::Request| {
        let echo: Vec<String> = url::form_urlencoded::parse(&req.body)
            .flat_map(|(k, v)| {
                let sig = v.rsplit('.').next().unwrap_or_default().to_owned();
                [
                    format!("{k}={v}"),
                    form(&v),
                    pct(&v, true),
                    STANDARD.encode(v.as_bytes()),
                    sig,
                ]
            })
            .collect();
        let echo = echo.join(" ");
        if json {
            ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": "invalid_client", "error_description": echo}))
        } else {
            ResponseTemplate::new(400).set_body_raw(echo.into_bytes(), "text/plain")
        }
    }
}

/// Signed credentials (issue 28): a certificate credential from an
/// encrypted PEM key (with JWTCertPassword), a `client_secret_jwt` client
/// and the JWT bearer grant from a service-account key file, against an
/// endpoint that echoes their assertions. No spelling of an assertion or
/// its signature, of the key's password, of the key or of the client
/// secret reaches an error, a Debug or a log line.
#[tokio::test]
async fn signed_credentials_leak_nothing() {
    use connectkit_oauth_refresh::{GrantType, RefreshTokenFlowBuilder};
    const KEY_PASSWORD: &str = "ec-pass";
    let dir = tempfile::tempdir().unwrap();
    let key_lines: Vec<String> = ["ec.sec1.pem", "ec.pkcs8.pem", "rsa.pkcs8.pem"]
        .iter()
        .flat_map(|f| {
            crate::assertions::key_text(f)
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    for json in [true, false] {
        let server = MockServer::builder().start().await;
        Mock::given(path("/token"))
            .respond_with(echoing(json))
            .mount(&server)
            .await;
        let token_url = format!("{}/token", server.uri());
        let account = dir.path().join("service-account.json");
        std::fs::write(
            &account,
            serde_json::to_vec(&serde_json::json!({
                "type": "service_account",
                "private_key_id": "k1",
                "private_key": crate::assertions::key_text("rsa.pkcs8.pem"),
                "client_email": "reader@example.iam.gserviceaccount.com",
                "token_uri": token_url,
            }))
            .unwrap(),
        )
        .unwrap();
        let cases = [
            (
                format!(
                    "ClientID={CLIENT_ID};TokenURI=POST {token_url};JWTCertStore={};JWTCertPassword={KEY_PASSWORD}",
                    crate::assertions::key_path("ec.encrypted.pem").display()
                ),
                GrantType::ClientCredentials,
            ),
            (
                format!(
                    "ClientID={CLIENT_ID};ClientSecret='{CLIENT_SECRET}';TokenURI=POST {token_url};ClientAuthentication=ClientSecretJWT"
                ),
                GrantType::ClientCredentials,
            ),
            (
                format!("JWTCertStore={};Scope=s", account.display()),
                GrantType::JwtBearer,
            ),
        ];
        for (text, grant) in cases {
            let props = crate::authorize::props(&text);
            let (guard, logs) = capture_logs();
            let builder = RefreshTokenFlowBuilder::from_properties_for(&props, grant)
                .unwrap()
                .retry(RetryConfig::token_endpoint().with_max_retries(0));
            let builder_debug = format!("{builder:?}");
            let flow = builder.build().unwrap();
            let err = flow.refresh().await.expect_err(&text);
            let core: connectkit_core::Error = err.clone().into();
            drop(guard);
            let shown = format!(
                "{err}\n{err:?}\n{core}\n{core:?}\n{flow:?}\n{builder_debug}\n{props:?}\n{}",
                logs.text()
            );
            let mut forbidden = forbidden();
            forbidden.extend(key_lines.iter().cloned());
            forbidden.extend([KEY_PASSWORD.to_owned()]);
            let received = crate::token_requests(&server).await;
            let assertion = received
                .last()
                .unwrap()
                .form
                .iter()
                .find(|(k, _)| k == "client_assertion" || k == "assertion")
                .map(|(_, v)| v.clone())
                .expect("an assertion was sent");
            let signature = assertion.rsplit('.').next().unwrap().to_owned();
            forbidden.extend([
                assertion.clone(),
                form(&assertion),
                pct(&assertion, true),
                STANDARD.encode(&assertion),
                signature,
            ]);
            for s in &forbidden {
                assert!(
                    !shown.contains(s.as_str()),
                    "{text}: {s:?} leaked in:\n{shown}"
                );
            }
            assert!(
                shown.contains(if json { "invalid_client" } else { "400" }),
                "{shown}"
            );
        }
    }
}
