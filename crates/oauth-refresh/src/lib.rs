//! The OAuth 2.0 refresh token grant (RFC 6749 section 6) as a connectkit
//! [`AuthFlow`](connectkit_core::AuthFlow), with the behaviour of the
//! DataDirect connectors' `OAuth2-RefreshToken` authentication.
//!
//! - **Token caching**: one access token per flow; reads of a fresh token take
//!   only a shared lock. It is refreshed when less than the expiry skew
//!   (default 60 s) is left; if that early refresh fails while the token is
//!   still valid, the token keeps serving and the refresh is retried later.
//! - **Single flight**: however many callers need a token at once, one token
//!   request is sent and all share its outcome, success or error.
//! - **On 401**: [`send_authorized`](connectkit_core::send_authorized) or the
//!   [`reqwest_middleware`] layer refreshes once and retries once.
//! - **Rotation**: a new `refresh_token` is saved through the [`TokenStore`]
//!   before the new access token is used; if saving fails nothing is lost.
//! - **Every `ClientCredentialsMode`**, `GET` or `POST` `TokenURI`, Scope, and
//!   an extra `AuthHeader`/`SecurityToken` header on every API request.
//! - **Typed errors**: RFC 6749 section 5.2 codes as [`OAuthErrorCode`];
//!   429 and 5xx retried with capped backoff honouring `Retry-After`.
//! - **No secret** ever reaches `Debug`, `Display`, an error or a log.
//!
//! ```
//! use connectkit_oauth_refresh::{RefreshTokenFlow, ClientCredentialsMode};
//! use wiremock::{Mock, MockServer, ResponseTemplate, matchers::{method, path, query_param}};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A token endpoint and an API on 127.0.0.1.
//! let server = MockServer::start().await;
//! Mock::given(method("POST")).and(path("/token"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
//!         "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600})))
//!     .mount(&server).await;
//!
//! let flow = RefreshTokenFlow::builder()
//!     .client_id("my-app")
//!     .client_secret("my-secret")
//!     .refresh_token("1/my-refresh-token")
//!     .token_uri(&format!("POST {}/token", server.uri()))?
//!     .client_credentials_mode(ClientCredentialsMode::Basic)
//!     .build()?;
//!
//! // As reqwest middleware: every request gets `Authorization: Bearer at-1`.
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(flow.clone())
//!     .build();
//! Mock::given(method("GET")).and(path("/items"))
//!     .and(wiremock::matchers::header("authorization", "Bearer at-1"))
//!     .respond_with(ResponseTemplate::new(200)).mount(&server).await;
//! let response = client.get(format!("{}/items", server.uri())).send().await?;
//! assert_eq!(response.status(), 200);
//! assert!(!format!("{flow:?}").contains("my-secret"));
//! # Ok(()) }
//! ```

mod builder;
mod cache;
mod config;
mod error;
mod exchange;
mod file_store;
mod fingerprint;
mod flow;
mod middleware;
mod redact;
mod refresh;
mod request;
mod response;
mod retry;
mod store;

pub use builder::{RefreshTokenFlowBuilder, TokenCallback};
pub use config::{ClientCredentialsMode, GRANT_PROPERTIES, TokenForm, TokenMethod, TokenUri};
pub use error::{Error, OAuthError, OAuthErrorCode};
pub use file_store::FileStore;
pub use fingerprint::SeedFingerprint;
pub use flow::{MAX_BODY_BYTES, PROACTIVE_RETRY_INTERVAL, RefreshTokenFlow};
pub use middleware::api_client;
pub use response::{MAX_EXPIRES_IN, parse_token_response};
pub use retry::RetryConfig;
pub use store::{MemoryStore, StoreError, StoreLock, StoredTokens, TokenStore};
