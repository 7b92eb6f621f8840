use std::sync::Arc;

use connectkit_core::{AuthFlow, ConnectionUrl};
use connectkit_oauth_refresh::{
    MemoryStore, RefreshTokenFlow, RefreshTokenFlowBuilder, StoredTokens,
};
use secrecy::SecretString;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRETS: [&str; 4] = [
    "cl1ent-s3cret",
    "r3fresh-t0ken",
    "acc3ss-t0ken",
    "s3curity-t0ken",
];

fn assert_clean(text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
}

fn flow(server: &MockServer) -> RefreshTokenFlow {
    RefreshTokenFlow::builder()
        .client_id("visible-client")
        .client_secret(SECRETS[0])
        .refresh_token(SECRETS[1])
        .access_token(SECRETS[2])
        .auth_header("X-Key", SECRETS[3])
        .unwrap()
        .token_uri(&format!("{}/token", server.uri()))
        .unwrap()
        .build()
        .unwrap()
}

#[tokio::test]
async fn flow_builder_and_stores_never_print_secrets() {
    let server = MockServer::builder().start().await;
    let f = flow(&server);
    let text = format!("{f:?}");
    assert_clean(&text);
    assert!(text.contains("visible-client"));
    let b = RefreshTokenFlow::builder()
        .client_secret(SECRETS[0])
        .refresh_token(SECRETS[1]);
    assert_clean(&format!("{b:?}"));
    let stored = StoredTokens::new(SecretString::from(SECRETS[1]))
        .with_access_token(SecretString::from(SECRETS[2]), None);
    assert_clean(&format!("{stored:?}"));
    let store = MemoryStore::new();
    connectkit_oauth_refresh::TokenStore::save(&store, &stored)
        .await
        .unwrap();
    assert_clean(&format!("{store:?}"));
}

#[tokio::test]
async fn errors_echoing_secrets_are_masked() {
    let bodies = [
        (
            400,
            format!(
                r#"{{"error":"invalid_grant","error_description":"{} for client {} is revoked","error_uri":"https://x/{}"}}"#,
                SECRETS[1], SECRETS[0], SECRETS[1]
            ),
        ),
        (
            500,
            format!(
                "<html>stack trace: refresh_token={}&client_secret={}</html>",
                SECRETS[1], SECRETS[0]
            ),
        ),
        (
            200,
            format!(r#"{{"access_token":"x","token_type":"{}"}}"#, SECRETS[1]),
        ),
        (200, format!(r#"{{"error":"{}"}}"#, SECRETS[0])),
    ];
    for (status, body) in bodies {
        let server = MockServer::builder().start().await;
        Mock::given(path("/token"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&server)
            .await;
        let f = RefreshTokenFlowBuilder::new()
            .client_id("c")
            .client_secret(SECRETS[0])
            .refresh_token(SECRETS[1])
            .token_uri(&format!("{}/token", server.uri()))
            .unwrap()
            .retry(connectkit_oauth_refresh::RetryConfig::token_endpoint().with_max_retries(0))
            .build()
            .unwrap();
        let err = f.access_token().await.unwrap_err();
        assert_clean(&format!("{err} {err:?}"));
        let core: connectkit_core::Error = err.into();
        assert_clean(&format!("{core} {core:?}"));
    }
}

#[tokio::test]
async fn authorize_sets_sensitive_headers() {
    let server = MockServer::builder().start().await;
    let f = Arc::new(flow(&server));
    let mut req = connectkit_core::client::http_client()
        .expect("HTTP client")
        .get(format!("{}/api", server.uri()))
        .build()
        .unwrap();
    f.authorize(&mut req).await.unwrap();
    assert!(req.headers()["authorization"].is_sensitive());
    assert!(req.headers()["x-key"].is_sensitive());
    assert_clean(&format!("{req:?}"));
}

#[test]
fn properties_from_urls_stay_masked() {
    let url: ConnectionUrl = format!(
        "autorest:ClientID=c;ClientSecret={};RefreshToken={};TokenURI=https://h/t;AuthHeader=X-K;SecurityToken={}",
        SECRETS[0], SECRETS[1], SECRETS[3]
    )
    .parse()
    .unwrap();
    let b = RefreshTokenFlowBuilder::from_properties(url.properties()).unwrap();
    assert_clean(&format!("{b:?} {url} {url:?}"));
}
