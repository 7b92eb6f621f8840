//! The refresh token grant as a reqwest-middleware layer ([`api_client`]):
//! every request gets the bearer token; when the API answers 401 the layer
//! refreshes the token once and retries the request once. A grant that
//! fails comes back as a `reqwest_middleware::Error`, and
//! [`Error::from_middleware`] recovers the flow's typed error from it.
//!
//! A wiremock server on 127.0.0.1 stands in for the token endpoint and the API.
//!
//! ```text
//! cargo run -p connectkit-oauth-refresh --example middleware
//! ```

use std::time::Duration;

use connectkit_oauth_refresh::{
    Error, ErrorKind, OAuthErrorCode, RefreshTokenFlow, Report, api_client,
};
use serde_json::json;
use wiremock::matchers::{bearer_token, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token(access_token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": 3600}))
}

fn flow(token_url: &str) -> Result<RefreshTokenFlow, Error> {
    RefreshTokenFlow::builder()
        .client_id("my-app")
        .client_secret("my-secret")
        .refresh_token("my-refresh-token")
        .token_uri(&format!("POST {token_url}"))?
        .build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::builder().start().await;
    // The first token request gets at-1, the next ones at-2.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("at-1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("at-2"))
        .mount(&server)
        .await;
    // The API has already revoked at-1 and accepts at-2.
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(bearer_token("at-1"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(bearer_token("at-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}, {"id": 2}])))
        .mount(&server)
        .await;

    // A client whose every request goes through the flow (30 s per request).
    let client = api_client(
        flow(&format!("{}/token", server.uri()))?,
        Some(Duration::from_secs(30)),
    )?;
    let response = client.get(format!("{}/items", server.uri())).send().await?;
    println!(
        "GET /items: {} {}",
        response.status(),
        response.text().await?
    );

    let received = server.received_requests().await.unwrap_or_default();
    let count = |p: &str| received.iter().filter(|r| r.url.path() == p).count();
    assert_eq!(count("/token"), 2, "a token, then a refresh after the 401");
    assert_eq!(count("/items"), 2, "the request, then its retry");
    println!(
        "401 -> refreshed -> retried: {} token requests, {} API requests",
        count("/token"),
        count("/items")
    );

    // A grant the token endpoint refuses: the send fails before the API is
    // called, and the flow's own error is inside the middleware error.
    Mock::given(method("POST"))
        .and(path("/revoked/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    let client = api_client(flow(&format!("{}/revoked/token", server.uri()))?, None)?;
    let e = client
        .get(format!("{}/items", server.uri()))
        .send()
        .await
        .unwrap_err();
    let grant = Error::from_middleware(&e).expect("a grant error");
    assert_eq!(grant.kind(), ErrorKind::Auth);
    assert_eq!(grant.oauth_code(), Some(&OAuthErrorCode::InvalidGrant));
    println!("failed grant, kind {}: {}", grant.kind(), Report(grant));
    Ok(())
}
