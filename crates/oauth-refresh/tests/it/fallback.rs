//! Issue 13 item 11: the vendor's default request form (GET, credentials in
//! the Basic header and the query) fails against real servers; when the user
//! left both the method and ClientCredentialsMode at their defaults, the
//! flow falls back to POST forms, remembers the one that works, and never
//! overrides an explicit choice.

use std::sync::Arc;

use connectkit_oauth_refresh::{
    ClientCredentialsMode, Error, FileStore, RefreshTokenFlow, TokenMethod, TokenStore,
};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{REFRESH_TOKEN, builder, capture_logs, received, sent_refresh_token, token_json};

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(token_json("at-1", 3600))
}

fn has_body_credentials(req: &Request) -> bool {
    received(req).form.iter().any(|(k, _)| k == "client_secret")
}

/// Answers as django-oauth-toolkit (oauthlib) does: the token view allows
/// POST only (405, empty body), refuses any query parameter on a POST
/// (`invalid_request`), and takes Basic or body credentials.
struct Oauthlib;

impl Respond for Oauthlib {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.method.as_str() != "POST" {
            return ResponseTemplate::new(405).insert_header("Allow", "POST, OPTIONS");
        }
        if req.url.query().is_some() {
            return ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_request", "error_description": "URL query parameters are not allowed"}));
        }
        ok()
    }
}

/// Answers as panva's oidc-provider does for a client registered with
/// `client_secret_post`: an unknown route or method is a 404
/// `invalid_request`, and any other client authentication is `invalid_client`.
struct OidcProvider;

impl Respond for OidcProvider {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.method.as_str() != "POST" {
            return ResponseTemplate::new(404).set_body_json(serde_json::json!({
                "error": "invalid_request",
                "error_description": "unrecognized route or not allowed method (GET on /token)"}));
        }
        if req.headers.contains_key("authorization") || !has_body_credentials(req) {
            return ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "error": "invalid_client", "error_description": "client authentication failed"}));
        }
        ok()
    }
}

async fn serve(r: impl Respond + 'static) -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(r)
        .mount(&server)
        .await;
    server
}

async fn forms_sent(server: &MockServer) -> Vec<(String, bool, bool, bool)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(sent_refresh_token(r).as_deref(), Some(REFRESH_TOKEN));
            (
                r.method.to_string(),
                r.headers.contains_key("authorization"),
                r.url.query().is_some_and(|q| q.contains("client_secret")),
                has_body_credentials(r),
            )
        })
        .collect()
}

#[tokio::test]
async fn defaults_fall_back_to_post_with_basic_against_oauthlib() {
    let server = serve(Oauthlib).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let (guard, logs) = capture_logs();
    let flow = builder(&server, "")
        .token_store(Arc::new(FileStore::new(&file)))
        .build()
        .unwrap();
    flow.refresh().await.unwrap();
    flow.refresh().await.unwrap();
    drop(guard);
    assert_eq!(
        forms_sent(&server).await,
        [
            ("GET".into(), true, true, false),
            ("POST".into(), true, false, false),
            ("POST".into(), true, false, false), // remembered for the process
        ]
    );
    let logs = logs.text();
    assert!(
        logs.contains("INFO") && logs.contains("POST with ClientCredentialsMode=Basic"),
        "{logs}"
    );
    // Recorded in the TokenFile: a new process starts with the working form.
    let stored = FileStore::new(&file).load().await.unwrap().unwrap();
    let form = stored.token_form.unwrap();
    assert_eq!(
        (form.method, form.mode),
        (TokenMethod::Post, ClientCredentialsMode::Basic)
    );
    let restarted = builder(&server, "")
        .token_store(Arc::new(FileStore::new(&file)))
        .build()
        .unwrap();
    crate::reject_current(&restarted).await;
    restarted.refresh().await.unwrap();
    assert_eq!(
        forms_sent(&server).await[3],
        ("POST".into(), true, false, false)
    );
}

/// Issue 28: the README's `TokenURI=POST …` without ClientCredentialsMode
/// puts the secret in the query (All), which oauthlib refuses; under an
/// explicit `POST ` the defaulted mode falls back (Basic, then Post), the
/// method stays POST, and the form is recorded as the default-form fallback's.
#[tokio::test]
async fn a_post_prefix_with_a_defaulted_mode_falls_back_from_all() {
    let server = serve(Oauthlib).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.json");
    let flow = builder(&server, "POST ")
        .token_store(Arc::new(FileStore::new(&file)))
        .build()
        .unwrap();
    let outcome = flow.obtain_token(false).await.unwrap();
    match outcome {
        connectkit_oauth_refresh::TokenOutcome::Granted {
            fallback: Some(form),
            ..
        } => assert_eq!(
            (form.method, form.client_credentials_mode),
            ("POST", "Basic")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        forms_sent(&server).await,
        [
            ("POST".into(), true, true, false),
            ("POST".into(), true, false, false),
        ]
    );
    let form = FileStore::new(&file)
        .load()
        .await
        .unwrap()
        .unwrap()
        .token_form
        .unwrap();
    assert_eq!(
        (form.method, form.mode),
        (TokenMethod::Post, ClientCredentialsMode::Basic)
    );
    // The next grant of the process starts with the recorded form and
    // reports no fallback.
    let again = flow.obtain_token(true).await.unwrap();
    assert!(
        matches!(
            again,
            connectkit_oauth_refresh::TokenOutcome::Granted { fallback: None, .. }
        ),
        "{again:?}"
    );
    assert_eq!(forms_sent(&server).await.len(), 3);
    // Against a server that wants body credentials: All, Basic, then Post.
    let server = serve(OidcProvider).await;
    builder(&server, "POST ")
        .build()
        .unwrap()
        .refresh()
        .await
        .unwrap();
    assert_eq!(
        forms_sent(&server).await,
        [
            ("POST".into(), true, true, false),
            ("POST".into(), true, false, false),
            ("POST".into(), false, false, true),
        ]
    );
}

#[tokio::test]
async fn defaults_fall_back_to_body_credentials_against_oidc_provider() {
    let server = serve(OidcProvider).await;
    let flow = builder(&server, "").build().unwrap();
    flow.refresh().await.unwrap();
    assert_eq!(
        forms_sent(&server).await,
        [
            ("GET".into(), true, true, false),
            ("POST".into(), true, false, false),
            ("POST".into(), false, false, true),
        ]
    );
}

#[tokio::test]
async fn an_explicit_method_or_mode_is_never_overridden() {
    let server = serve(Oauthlib).await;
    let err = builder(&server, "GET ")
        .build()
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 405, .. }),
        "{err:?}"
    );
    let err = builder(&server, "POST ")
        .client_credentials_mode(ClientCredentialsMode::All)
        .build()
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert_eq!(err.oauth().unwrap().code.as_str(), "invalid_request");
    let err = builder(&server, "")
        .client_credentials_mode(ClientCredentialsMode::All)
        .build()
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 405, .. }),
        "{err:?}"
    );
    assert_eq!(forms_sent(&server).await.len(), 3, "one request each");
    // Dynamics 365's forced POST with body credentials is explicit too.
    let server = serve(OidcProvider).await;
    let flow = builder(&server, "")
        .force_post(true)
        .client_credentials_mode(ClientCredentialsMode::Basic)
        .build()
        .unwrap();
    flow.refresh().await.unwrap_err();
    assert_eq!(forms_sent(&server).await.len(), 1);
}

#[tokio::test]
async fn when_every_form_fails_the_message_says_what_was_tried_and_what_to_set() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": "invalid_client", "error_description": "unknown client"}),
        ))
        .mount(&server)
        .await;
    let flow: RefreshTokenFlow = builder(&server, "").build().unwrap();
    let err = flow.refresh().await.unwrap_err();
    assert!(matches!(err, Error::NoFormAccepted { .. }), "{err:?}");
    assert_eq!(err.kind(), connectkit_core::ErrorKind::Auth);
    let msg = err.to_string();
    for part in [
        "GET with ClientCredentialsMode=All: HTTP 401 invalid_client",
        "POST with ClientCredentialsMode=Basic: HTTP 401 invalid_client",
        "POST with ClientCredentialsMode=Post: HTTP 401 invalid_client",
        "TokenURI=POST",
        "ClientCredentialsMode=Basic",
        "unknown client",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    assert_eq!(forms_sent(&server).await.len(), 3);
}

#[tokio::test]
async fn a_rejected_grant_is_not_a_rejected_form() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"})),
        )
        .mount(&server)
        .await;
    let err = builder(&server, "")
        .build()
        .unwrap()
        .refresh()
        .await
        .unwrap_err();
    assert_eq!(err.oauth().unwrap().code.as_str(), "invalid_grant");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
