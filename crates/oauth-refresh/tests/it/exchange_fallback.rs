//! The default-form fallback (the user left both TokenURI's method prefix
//! and ClientCredentialsMode unset) serves every grant that goes through the
//! token endpoint machinery: the authorization code exchange and the client
//! credentials grant too, not only the refresh. A rejected code is never sent
//! again: a code is single-use.

use std::collections::HashMap;
use std::sync::Arc;

use connectkit_oauth_refresh::{
    Authorizer, ClientCredentialsMode, Error, FileStore, OAuthErrorCode, RefreshTokenFlow,
    TokenMethod, TokenStore,
};
use secrecy::ExposeSecret;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::authorize::props;
use crate::{CLIENT_ID, CLIENT_SECRET, Received, token_requests};

/// Answers as the interop tier's servers do: django-oauth-toolkit (POST
/// only: 405 to a GET; Basic or body credentials) or oidc-provider with a
/// `client_secret_post` client (404 `invalid_request` to a GET,
/// `invalid_client` to Basic). Accepted requests get a full token response.
#[derive(Clone, Copy)]
enum Server {
    Oauthlib,
    OidcProvider,
}

impl Respond for Server {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let post = req.method.as_str() == "POST";
        let basic = req.headers.contains_key("authorization");
        let refused = match self {
            Server::Oauthlib if !post => Some((405, None)),
            Server::OidcProvider if !post => Some((404, Some("invalid_request"))),
            Server::OidcProvider if basic => Some((401, Some("invalid_client"))),
            _ => None,
        };
        match refused {
            Some((status, Some(code))) => {
                ResponseTemplate::new(status).set_body_json(serde_json::json!({"error": code}))
            }
            Some((status, None)) => ResponseTemplate::new(status),
            None => ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": "at-obtained", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": "rt-obtained"})),
        }
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

/// An authorizer whose token requests use the defaults: no method prefix on
/// TokenURI, no ClientCredentialsMode.
fn default_form_authorizer(server: &MockServer, file: &std::path::Path) -> Authorizer {
    let b = RefreshTokenFlow::builder()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("{}/token", server.uri()))
        .unwrap()
        .datadirect_defaults()
        .token_store(Arc::new(FileStore::new(file)));
    Authorizer::new(b, &props(&format!("AuthURI={}/authorize", server.uri()))).unwrap()
}

/// Plays the user: approves, and the browser follows the redirect with `code`.
async fn authorize_with_code(a: Authorizer, code: &str) -> Result<String, Error> {
    let pending = a.start().await.unwrap();
    let q: HashMap<String, String> = pending.url.query_pairs().into_owned().collect();
    let finish = tokio::spawn(async move { a.finish(pending).await });
    let page = connectkit_core::client::http_client()
        .expect("HTTP client")
        .get(format!(
            "{}?code={code}&state={}",
            q["redirect_uri"], q["state"]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    finish.await.unwrap().map(|_| q["redirect_uri"].clone())
}

/// What one token request carried: method, Basic header, credentials in the
/// query, credentials in the body, and all its parameters.
fn shape(r: &Received) -> (String, bool, bool, bool) {
    (
        r.method.clone(),
        r.authorization.is_some(),
        r.query.iter().any(|(k, _)| k == "client_secret"),
        r.form.iter().any(|(k, _)| k == "client_secret"),
    )
}

fn params(r: &Received) -> HashMap<String, String> {
    r.query.iter().chain(&r.form).cloned().collect()
}

#[tokio::test]
async fn the_code_exchange_falls_back_and_resends_the_same_code_only_after_a_refused_form() {
    // `authorize` starts with RFC 6749's form (POST, client_secret_basic),
    // not the vendor's GET with All, and falls back to body credentials.
    for (server_kind, expected, learned) in [
        (
            Server::Oauthlib,
            vec![("POST".to_owned(), true, false, false)],
            None,
        ),
        (
            Server::OidcProvider,
            vec![
                ("POST".to_owned(), true, false, false),
                ("POST".to_owned(), false, false, true),
            ],
            Some(ClientCredentialsMode::Post),
        ),
    ] {
        let server = serve(server_kind).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens.json");
        let a = default_form_authorizer(&server, &file);
        let redirect_uri = authorize_with_code(a, "single-use-code").await.unwrap();
        let reqs = token_requests(&server).await;
        assert_eq!(reqs.iter().map(shape).collect::<Vec<_>>(), expected);
        // Every attempt is the same exchange: the refused ones never reached
        // the grant, so the code was not consumed.
        let verifier = params(&reqs[0])["code_verifier"].clone();
        for r in &reqs {
            let p = params(r);
            assert_eq!(p["grant_type"], "authorization_code");
            assert_eq!(p["code"], "single-use-code");
            assert_eq!(p["redirect_uri"], redirect_uri);
            assert_eq!(p["code_verifier"], verifier);
        }
        // The tokens are saved with the form a fallback found, which the
        // refreshes then start from.
        let stored = FileStore::new(&file).load().await.unwrap().unwrap();
        assert_eq!(stored.refresh_token.expose_secret(), "rt-obtained");
        let form = stored.token_form.map(|f| {
            assert_eq!(f.method, TokenMethod::Post);
            f.mode
        });
        assert_eq!(form, learned);
    }
}

#[tokio::test]
async fn a_rejected_code_is_never_exchanged_twice() {
    for status in [400, 401] {
        let server = MockServer::builder().start().await;
        Mock::given(path("/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                serde_json::json!({"error": "invalid_grant", "error_description": "code used"}),
            ))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens.json");
        let a = default_form_authorizer(&server, &file);
        let err = authorize_with_code(a, "used-code").await.unwrap_err();
        assert_eq!(
            err.oauth().map(|o| o.code.clone()),
            Some(OAuthErrorCode::InvalidGrant),
            "{err:?}"
        );
        let reqs = token_requests(&server).await;
        assert_eq!(reqs.len(), 1, "HTTP {status}: one exchange, no fallback");
        assert_eq!(params(&reqs[0])["code"], "used-code");
        assert!(!file.exists(), "nothing is saved");
    }
}

#[tokio::test]
async fn client_credentials_fall_back_and_keep_the_working_form() {
    for (server_kind, expected) in [
        (
            Server::Oauthlib,
            vec![
                ("GET".to_owned(), true, true, false),
                ("POST".to_owned(), true, false, false),
                ("POST".to_owned(), true, false, false),
            ],
        ),
        (
            Server::OidcProvider,
            vec![
                ("GET".to_owned(), true, true, false),
                ("POST".to_owned(), true, false, false),
                ("POST".to_owned(), false, false, true),
                ("POST".to_owned(), false, false, true),
            ],
        ),
    ] {
        let server = serve(server_kind).await;
        let flow = RefreshTokenFlow::client_credentials()
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .token_uri(&format!("{}/token", server.uri()))
            .unwrap()
            .datadirect_defaults()
            .build()
            .unwrap();
        flow.refresh().await.unwrap();
        // The next grant starts with the form that worked.
        flow.refresh().await.unwrap();
        let reqs = token_requests(&server).await;
        assert_eq!(reqs.iter().map(shape).collect::<Vec<_>>(), expected);
        for r in &reqs {
            let p = params(r);
            assert_eq!(p["grant_type"], "client_credentials");
            assert!(!p.contains_key("refresh_token"));
        }
    }
}

#[tokio::test]
async fn client_credentials_refused_as_a_grant_are_not_retried_in_other_forms() {
    let server = MockServer::builder().start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "unauthorized_client"})),
        )
        .mount(&server)
        .await;
    let flow = RefreshTokenFlow::client_credentials()
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .token_uri(&format!("{}/token", server.uri()))
        .unwrap()
        .build()
        .unwrap();
    let err = flow.refresh().await.unwrap_err();
    assert_eq!(
        err.oauth().map(|o| o.code.clone()),
        Some(OAuthErrorCode::UnauthorizedClient)
    );
    assert_eq!(token_requests(&server).await.len(), 1);
}
