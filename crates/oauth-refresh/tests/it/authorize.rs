//! `connectkit authorize`'s library half: the authorization request with
//! PKCE, the loopback redirect, the code exchange, the TokenFile.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use connectkit_core::{ConnectionUrl, Properties};
use connectkit_oauth_refresh::authorize::challenge_of;
use connectkit_oauth_refresh::{
    AuthorizeFailure, Authorizer, ClientCredentialsMode, Error, FileStore, OAuthErrorCode,
    RefreshTokenFlow, TokenStore,
};
use secrecy::ExposeSecret;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{CLIENT_ID, CLIENT_SECRET, token_requests};

const SCOPE: &str = "openid offline_access api.read";

pub fn props(text: &str) -> Properties {
    let url: ConnectionUrl = format!("x:{text}").parse().unwrap();
    url.into_parts().1
}

pub fn authorizer(
    server: &MockServer,
    file: &Path,
    mode: Option<ClientCredentialsMode>,
) -> Authorizer {
    let mut b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("POST {}/token", server.uri()))
        .unwrap()
        .token_store(Arc::new(FileStore::new(file)));
    if let Some(m) = mode {
        b = b.client_credentials_mode(m);
    }
    let p = props(&format!(
        "AuthURI={0}/authorize?tenant=t1;DeviceAuthURI={0}/device;Scope={SCOPE}",
        server.uri()
    ));
    Authorizer::new(b, &p).unwrap()
}

pub async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-authorized", "token_type": "Bearer",
            "expires_in": 3600, "refresh_token": "rt-authorized-1"})))
        .mount(server)
        .await;
}

pub(crate) fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// Plays the browser: follows the redirect the server would send.
pub(crate) async fn redirect(to: &str) -> reqwest::Response {
    connectkit_core::client::http_client()
        .expect("HTTP client")
        .get(to)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_authorization_request_carries_pkce_state_redirect_and_scope() {
    for mode in [
        None,
        Some(ClientCredentialsMode::Basic),
        Some(ClientCredentialsMode::Post),
        Some(ClientCredentialsMode::Url),
        Some(ClientCredentialsMode::All),
    ] {
        let server = MockServer::builder().start().await;
        mount_token(&server).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/tokens.json");
        let a = authorizer(&server, &file, mode);
        let pending = a.start().await.unwrap();
        let url = pending.url.clone();
        assert_eq!(url.path(), "/authorize");
        let q = query(&url);
        assert_eq!(q["tenant"], "t1", "AuthURI's own query is kept");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["scope"], SCOPE);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"].len(), 43);
        let redirect_uri = url::Url::parse(&q["redirect_uri"]).unwrap();
        assert_eq!(redirect_uri.host_str(), Some("127.0.0.1"));
        assert_eq!(redirect_uri.path(), "/callback");
        assert!(!url.as_str().contains(CLIENT_SECRET));

        let finish = tokio::spawn(async move { a.finish(pending).await });
        // A browser's favicon request does not count.
        let fav = redirect(&format!(
            "http://127.0.0.1:{}/favicon.ico",
            redirect_uri.port().unwrap()
        ))
        .await;
        assert_eq!(fav.status(), 404);
        let page = redirect(&format!(
            "{redirect_uri}?code=c0de-xyz&state={}",
            q["state"]
        ))
        .await;
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("You can close this window")
        );
        let info = finish.await.unwrap().unwrap();
        assert_eq!(info.expires_in, Some(std::time::Duration::from_secs(3600)));

        // The listener is closed.
        assert!(
            connectkit_core::client::http_client()
                .expect("HTTP client")
                .get(redirect_uri.as_str())
                .send()
                .await
                .is_err(),
            "the loopback listener must be closed after one callback"
        );

        // The code exchange.
        let reqs = token_requests(&server).await;
        assert_eq!(reqs.len(), 1, "{mode:?}");
        let r = &reqs[0];
        let params: HashMap<_, _> = r.query.iter().chain(&r.form).cloned().collect();
        assert_eq!(params["grant_type"], "authorization_code");
        assert_eq!(params["code"], "c0de-xyz");
        assert_eq!(params["redirect_uri"], redirect_uri.as_str());
        assert_eq!(challenge_of(&params["code_verifier"]), q["code_challenge"]);
        assert!(!params.contains_key("scope"), "the code carries the scope");
        let basic = r.authorization.is_some();
        let in_body = r.form.iter().any(|(k, _)| k == "client_secret");
        let in_query = r.query.iter().any(|(k, _)| k == "client_secret");
        let expected = match mode.unwrap_or(ClientCredentialsMode::Basic) {
            ClientCredentialsMode::All => (true, false, true),
            ClientCredentialsMode::Basic => (true, false, false),
            ClientCredentialsMode::Post => (false, true, false),
            _ => (false, false, true),
        };
        assert_eq!((basic, in_body, in_query), expected, "{mode:?}");

        // The TokenFile: created with its folder, mode 0600, the refresh token in it.
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let stored = FileStore::new(&file).load().await.unwrap().unwrap();
        assert_eq!(stored.refresh_token.expose_secret(), "rt-authorized-1");
        assert_eq!(
            stored.access_token.unwrap().expose_secret(),
            "at-authorized"
        );
    }
}

#[tokio::test]
async fn the_token_file_then_drives_the_refresh_grant_without_a_refresh_token_property() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let a = authorizer(&server, &file, Some(ClientCredentialsMode::Basic));
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    let finish = tokio::spawn(async move { a.finish(pending).await });
    redirect(&format!(
        "{}?code=c1&state={}",
        q["redirect_uri"], q["state"]
    ))
    .await;
    finish.await.unwrap().unwrap();

    let p = props(&format!(
        "ClientID={CLIENT_ID};ClientSecret={CLIENT_SECRET};TokenURI=POST {}/token;ClientCredentialsMode=Basic;TokenFile={}",
        server.uri(),
        file.display()
    ));
    let flow = connectkit_oauth_refresh::RefreshTokenFlowBuilder::from_properties(&p)
        .unwrap()
        .build()
        .unwrap();
    // The saved access token serves first; once the API rejects it, a
    // refresh sends the saved refresh token.
    assert_eq!(
        flow.access_token().await.unwrap().expose_secret(),
        "at-authorized"
    );
    assert_eq!(token_requests(&server).await.len(), 1);
    crate::reject_current(&flow).await;
    flow.access_token().await.unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1]
            .form
            .contains(&("refresh_token".into(), "rt-authorized-1".into()))
    );
}

#[tokio::test]
async fn an_idle_connection_does_not_hold_up_the_callback() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let a = authorizer(&server, &file, None);
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    let redirect_uri = url::Url::parse(&q["redirect_uri"]).unwrap();
    let finish = tokio::spawn(async move { a.finish(pending).await });
    // A browser's speculative connection: opened first, never sends.
    let addr = (
        redirect_uri.host_str().unwrap().to_owned(),
        redirect_uri.port().unwrap(),
    );
    let idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let page = redirect(&format!("{redirect_uri}?code=c1&state={}", q["state"])).await;
    assert_eq!(page.status(), 200);
    finish.await.unwrap().unwrap();
    // Read one after the other, the idle connection would have been
    // answered with a 400 page after the read timeout, before the callback
    // was even read; here it was never answered (at most closed with the
    // listener).
    let mut byte = [0u8; 1];
    match idle.try_read(&mut byte) {
        Ok(0) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        Ok(n) => panic!("the idle connection was answered first ({n} bytes)"),
    }
    assert_eq!(token_requests(&server).await.len(), 1);
    assert!(file.exists());
}

#[tokio::test]
async fn a_redirect_with_another_state_is_refused_and_nothing_is_exchanged() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let a = authorizer(&server, &file, None);
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    let finish = tokio::spawn(async move { a.finish(pending).await });
    let page = redirect(&format!("{}?code=stolen&state=forged", q["redirect_uri"])).await;
    assert_eq!(page.status(), 400);
    let e = finish.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Authorize { code: None, .. }), "{e:?}");
    assert_eq!(e.authorize_failure(), Some(AuthorizeFailure::StateMismatch));
    assert!(e.to_string().contains("state"), "{e}");
    assert!(token_requests(&server).await.is_empty());
    assert!(!file.exists());
}

#[tokio::test]
async fn access_denied_is_a_typed_error() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let a = authorizer(&server, &dir.path().join("t.json"), None);
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    let finish = tokio::spawn(async move { a.finish(pending).await });
    redirect(&format!(
        "{}?error=access_denied&error_description=The+user+said+no&state={}",
        q["redirect_uri"], q["state"]
    ))
    .await;
    let e = finish.await.unwrap().unwrap_err();
    match &e {
        Error::Authorize { code, message, .. } => {
            assert_eq!(code.as_ref(), Some(&OAuthErrorCode::AccessDenied));
            assert!(message.contains("The user said no"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.authorize_failure(), Some(AuthorizeFailure::Denied));
    assert!(token_requests(&server).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn no_redirect_within_the_timeout_is_an_error() {
    let server = MockServer::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = authorizer(&server, &dir.path().join("t.json"), None)
        .timeout(std::time::Duration::from_secs(120));
    let pending = a.start().await.unwrap();
    let e = a.finish(pending).await.unwrap_err();
    assert!(
        e.to_string().contains("no redirect arrived within 120 s"),
        "{e}"
    );
    assert_eq!(e.authorize_failure(), Some(AuthorizeFailure::TimedOut));
}

#[tokio::test]
async fn a_response_without_refresh_token_says_what_to_change() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-only", "token_type": "Bearer", "expires_in": 60})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let a = authorizer(&server, &file, None);
    let e = approve(a).await.unwrap_err();
    assert_eq!(
        e.authorize_failure(),
        Some(AuthorizeFailure::NoRefreshToken)
    );
    assert!(
        e.to_string()
            .contains("no refresh token although Scope asks for offline_access"),
        "{e}"
    );
    assert!(
        e.to_string().contains("access_type=offline&prompt=consent"),
        "{e}"
    );
    assert!(!e.to_string().contains("at-only"));
    assert!(!file.exists(), "nothing is saved");
    // Without offline_access in Scope, the message says to ask for it.
    let b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("POST {}/token", server.uri()))
        .unwrap()
        .token_store(Arc::new(FileStore::new(&file)));
    let p = props(&format!(
        "AuthURI={}/authorize;Scope=api.read",
        server.uri()
    ));
    let e = approve(Authorizer::new(b, &p).unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("add offline_access to Scope"), "{e}");
    assert!(!file.exists());
}

/// Plays the user who approves: the browser follows the redirect with a code.
pub(crate) async fn approve(a: Authorizer) -> Result<connectkit_core::TokenInfo, Error> {
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    let finish = tokio::spawn(async move { a.finish(pending).await });
    redirect(&format!(
        "{}?code=c&state={}",
        q["redirect_uri"], q["state"]
    ))
    .await;
    finish.await.unwrap()
}

/// Issue 28: an OpenID provider drops offline_access without
/// prompt=consent; a refresh token beside a granted scope without it would
/// be refused with the connection's Scope an hour later. The answer is
/// refused at once and nothing is saved.
#[tokio::test]
async fn a_granted_scope_without_offline_access_fails_at_once_and_saves_nothing() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-x", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "rt-without-offline", "scope": "openid api.read"})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let e = approve(authorizer(&server, &file, None)).await.unwrap_err();
    assert_eq!(
        e.authorize_failure(),
        Some(AuthorizeFailure::NoRefreshToken)
    );
    let text = e.to_string();
    assert!(
        text.contains("granted scope \"openid api.read\" without the offline_access"),
        "{text}"
    );
    assert!(!text.contains("rt-without-offline") && !text.contains("at-x"));
    assert!(!file.exists(), "nothing is saved");
    // A granted scope with offline_access, or none reported (RFC 6749
    // section 5.1: the scope requested), is accepted.
    for scope in [Some("openid offline_access api.read"), None] {
        let server = MockServer::builder().start().await;
        let mut body = serde_json::json!({
            "access_token": "at-y", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "rt-y"});
        if let Some(s) = scope {
            body["scope"] = s.into();
        }
        Mock::given(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        approve(authorizer(&server, &file, None)).await.unwrap();
        assert!(file.exists());
        std::fs::remove_file(&file).unwrap();
    }
}

/// OpenID Connect Core section 11: offline_access needs prompt=consent;
/// AuthorizationParameters adds the provider's own (Google's
/// access_type=offline) and its prompt wins; the Microsoft identity
/// platform gets no prompt (it issues refresh tokens without one).
#[tokio::test]
async fn offline_access_asks_for_consent_and_authorization_parameters_are_added() {
    let server = MockServer::builder().start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let start = |auth_uri: String, extra: &str| {
        let b = RefreshTokenFlow::builder()
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .token_uri(&format!("POST {}/token", server.uri()))
            .unwrap()
            .token_store(Arc::new(FileStore::new(&file)));
        let p = props(&format!("AuthURI={auth_uri}{extra}"));
        async move {
            let a = Authorizer::new(b, &p).unwrap();
            let url = a.start().await.unwrap().url.clone();
            query(&url)
        }
    };
    let auth = format!("{}/authorize", server.uri());
    let q = start(auth.clone(), &format!(";Scope={SCOPE}")).await;
    assert_eq!(q["prompt"], "consent");
    let q = start(auth.clone(), ";Scope=api.read").await;
    assert!(!q.contains_key("prompt"), "{q:?}");
    let pairs_of =
        |u: &url::Url| -> Vec<(String, String)> { u.query_pairs().into_owned().collect() };
    let b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("POST {}/token", server.uri()))
        .unwrap()
        .token_store(Arc::new(FileStore::new(&file)));
    let p = props(&format!(
        "AuthURI={auth};Scope={SCOPE};AuthorizationParameters=access_type=offline&prompt=select_account%20consent"
    ));
    let a = Authorizer::new(b, &p).unwrap();
    let all = pairs_of(&a.start().await.unwrap().url);
    let prompts: Vec<_> = all.iter().filter(|(k, _)| k == "prompt").collect();
    assert_eq!(
        prompts,
        [&("prompt".to_owned(), "select_account consent".to_owned())]
    );
    assert!(all.contains(&("access_type".into(), "offline".into())));
    let q = start(
        "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize".into(),
        &format!(";Scope={SCOPE}"),
    )
    .await;
    assert!(!q.contains_key("prompt"), "{q:?}");
    assert_eq!(q["scope"], SCOPE);
}

#[test]
fn authorization_parameters_connectkit_sets_or_cannot_read_are_refused() {
    for (value, expected) in [
        ("scope=all", "scope is set by connectkit (set Scope)"),
        ("state=x", "state is set by connectkit"),
        ("=x", "form-encoded name=value pairs"),
    ] {
        let b = RefreshTokenFlow::builder()
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .token_uri("POST https://idp.example/token")
            .unwrap()
            .token_store(Arc::new(FileStore::new("/tmp/unused-connectkit-params")));
        let p = props(&format!(
            "AuthURI=https://idp.example/authorize;AuthorizationParameters={value}"
        ));
        let e = Authorizer::new(b, &p).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("property AuthorizationParameters: "),
            "{text}"
        );
        assert!(text.contains(expected), "{text}");
    }
}

/// Issue 28: the README's URL (`TokenURI=POST …`, no ClientCredentialsMode)
/// read from properties: the code exchange authenticates the client with
/// client_secret_basic, not the vendor's All (which puts the secret in the
/// query, refused by oauthlib); ClientCredentialsMode still decides when set.
#[tokio::test]
async fn from_properties_the_code_exchange_uses_basic_unless_the_mode_is_set() {
    for (prefix, mode, expected) in [
        ("POST ", "", ("POST", true, false, false)),
        ("", "", ("POST", true, false, false)),
        (
            "POST ",
            ";ClientCredentialsMode=Post",
            ("POST", false, true, false),
        ),
        (
            "POST ",
            ";ClientCredentialsMode=All",
            ("POST", true, false, true),
        ),
    ] {
        let server = MockServer::builder().start().await;
        mount_token(&server).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        let p = props(&format!(
            "ClientID={CLIENT_ID};ClientSecret={CLIENT_SECRET};TokenURI={prefix}{0}/token;AuthURI={0}/authorize;             Scope={SCOPE};TokenFile={1}{mode}",
            server.uri(),
            file.display()
        ));
        approve(Authorizer::from_properties(&p).unwrap())
            .await
            .unwrap();
        let reqs = token_requests(&server).await;
        assert_eq!(reqs.len(), 1, "{prefix:?}{mode}");
        let r = &reqs[0];
        let shape = (
            r.method.as_str(),
            r.authorization.is_some(),
            r.form.iter().any(|(k, _)| k == "client_secret"),
            r.query.iter().any(|(k, _)| k == "client_secret"),
        );
        assert_eq!(shape, expected, "{prefix:?}{mode}");
    }
}

/// RFC 8252 section 7.3: `localhost` is allowed, and servers that compare
/// redirect URIs exactly refuse a rewritten one. The URI keeps the user's
/// host (with the bound port) in the authorization request and the code
/// exchange; the listener binds 127.0.0.1, where `localhost` resolves.
#[tokio::test]
async fn a_localhost_redirect_uri_keeps_its_host_and_the_listener_binds_127_0_0_1() {
    let server = MockServer::builder().start().await;
    mount_token(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("POST {}/token", server.uri()))
        .unwrap()
        .token_store(Arc::new(FileStore::new(dir.path().join("t.json"))));
    let p = props(&format!(
        "AuthURI={}/authorize;RedirectURI=http://localhost/oauth/cb",
        server.uri()
    ));
    let a = Authorizer::new(b, &p).unwrap();
    let pending = a.start().await.unwrap();
    let q = query(&pending.url);
    let sent = url::Url::parse(&q["redirect_uri"]).unwrap();
    assert_eq!(sent.host_str(), Some("localhost"));
    assert_eq!(sent.path(), "/oauth/cb");
    let port = sent.port().expect("the bound port is in the URI");
    // The listener is on IPv4 loopback, whatever `localhost` resolves to first.
    let finish = tokio::spawn(async move { a.finish(pending).await });
    let page = redirect(&format!(
        "http://127.0.0.1:{port}/oauth/cb?code=lh-code&state={}",
        q["state"]
    ))
    .await;
    assert_eq!(page.status(), 200);
    finish.await.unwrap().unwrap();
    let reqs = token_requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let params: HashMap<_, _> = reqs[0].query.iter().chain(&reqs[0].form).cloned().collect();
    assert_eq!(
        params["redirect_uri"], q["redirect_uri"],
        "the same URI, exactly"
    );
    assert_eq!(
        params["redirect_uri"],
        format!("http://localhost:{port}/oauth/cb")
    );
}

#[test]
fn a_non_loopback_redirect_uri_is_a_config_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = MockServer::builder().start().await;
        let b = RefreshTokenFlow::builder()
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .token_uri(&format!("POST {}/token", server.uri()))
            .unwrap()
            .token_store(Arc::new(FileStore::new("/tmp/unused-connectkit")));
        let p = props(&format!(
            "AuthURI={}/a;RedirectURI=https://app.example.com/cb",
            server.uri()
        ));
        let e = Authorizer::new(b, &p).unwrap().start().await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("property RedirectURI: a loopback URL"),
            "{e}"
        );
    });
}

#[test]
fn tokens_need_a_store_that_outlives_the_process() {
    let b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri("POST https://idp.example/token")
        .unwrap()
        .refresh_token("unused");
    let e = Authorizer::new(b, &props("AuthURI=https://idp.example/authorize")).unwrap_err();
    assert!(e.to_string().contains("TokenFile"), "{e}");
    let e = Authorizer::from_properties(&props(
        "ClientID=a;ClientSecret=b;TokenURI=https://idp.example/token;AuthURI=https://idp.example/a",
    ))
    .unwrap_err();
    assert!(e.to_string().contains("property TokenFile"), "{e}");
}
