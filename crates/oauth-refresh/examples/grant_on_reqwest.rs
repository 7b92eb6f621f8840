//! The refresh token grant on your own reqwest client: the flow authorizes a
//! request you built, you send it; then the three failures a program must
//! tell apart, matched on `kind()`, `oauth_code()` and the response status
//! (no downcasting, no reading of messages):
//! (a) the refresh token was revoked, (b) the network is down,
//! (c) the API answers 404.
//!
//! A wiremock server on 127.0.0.1 stands in for the token endpoint and the API.
//!
//! ```text
//! cargo run -p connectkit-oauth-refresh --example grant_on_reqwest
//! ```

use connectkit_oauth_refresh::{Error, ErrorKind, OAuthErrorCode, RefreshTokenFlow, Report};
use serde_json::json;
use wiremock::matchers::{basic_auth, bearer_token, body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A flow with RFC 6749's defaults: a POSTed form, the client authenticated
/// with HTTP Basic (`client_secret_basic`).
fn flow(token_url: &str) -> Result<RefreshTokenFlow, Error> {
    RefreshTokenFlow::builder()
        .client_id("my-app")
        .client_secret("my-secret")
        .refresh_token("my-refresh-token")
        .token_uri(&format!("POST {token_url}"))?
        .build()
}

/// What to tell the user, decided from the error's category and OAuth code.
fn advice(e: &Error) -> &'static str {
    match e.kind() {
        ErrorKind::Auth if e.oauth_code() == Some(&OAuthErrorCode::InvalidGrant) => {
            "refresh token revoked: run authorize again"
        }
        ErrorKind::Auth => "the token endpoint refused the client",
        ErrorKind::Transport => "network down: try again later",
        _ => "unexpected failure",
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(basic_auth("my-app", "my-secret"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoked/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .and(bearer_token("at-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Ada"})))
        .mount(&server)
        .await;

    // Your client. reqwest is built without a default TLS crypto provider
    // (`reqwest::Client::new()` would panic): start from `http_client()`.
    let client = connectkit_oauth_refresh::http_client()?;

    let grant = flow(&format!("{}/token", server.uri()))?;
    let mut request = client.get(format!("{}/me", server.uri())).build()?;
    grant.authorize_request(&mut request).await?;
    let body = client
        .execute(request)
        .await?
        .error_for_status()?
        .text()
        .await?;
    println!("GET /me with the bearer token: {body}");

    // (a) The token endpoint refuses the grant: 400 invalid_grant.
    let revoked = flow(&format!("{}/revoked/token", server.uri()))?;
    let mut request = client.get(format!("{}/me", server.uri())).build()?;
    let e = revoked.authorize_request(&mut request).await.unwrap_err();
    assert_eq!(advice(&e), "refresh token revoked: run authorize again");
    println!("(a) {}  [{}]", advice(&e), Report(&e));

    // (b) Nothing listens on the token endpoint's port (after a few quick
    // retries of the connection the flow gives up).
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let offline = flow(&format!("http://127.0.0.1:{port}/token"))?;
    let mut request = client.get(format!("{}/me", server.uri())).build()?;
    let e = offline.authorize_request(&mut request).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport);
    println!("(b) {}  [{}]", advice(&e), Report(&e));

    // (c) The grant works, the API answers 404: that is your client's
    // response, read as usual.
    let mut request = client.get(format!("{}/missing", server.uri())).build()?;
    grant.authorize_request(&mut request).await?;
    let response = client.execute(request).await?;
    assert_eq!(response.status(), 404);
    println!("(c) GET /missing: {}", response.status());

    // One token request served both API calls of `grant` (the token is cached).
    let received = server.received_requests().await.unwrap_or_default();
    let token_requests = received.iter().filter(|r| r.url.path() == "/token").count();
    assert_eq!(token_requests, 1);
    println!("token requests to /token: {token_requests}");
    Ok(())
}
