//! The OAuth 2.0 refresh token grant (RFC 6749 section 6) as a connectkit
//! [`AuthFlow`], with the behaviour of the
//! DataDirect connectors' `OAuth2-RefreshToken` authentication; the client
//! credentials grant (section 4.4, [`GrantType::ClientCredentials`]) through
//! the same token request machinery; and, in [`authorize`], the grants that
//! obtain the first refresh token (authorization code with PKCE and a
//! loopback redirect, and the device grant) into a [`FileStore`].
//!
//! - **Token caching**: one access token per flow; reads of a fresh token take
//!   only a shared lock. It is refreshed when less than the expiry skew
//!   (default 60 s, at most half the token's lifetime) is left; if that early
//!   refresh fails while the token is still valid, the token keeps serving and
//!   the refresh is retried later.
//! - **Single flight**: however many callers need a token at once, one token
//!   request is sent and all share its outcome, success or error.
//! - **Across processes**: a [`FileStore`] (`TokenFile`) is locked from its
//!   re-read through the token request to the save, so processes sharing it
//!   send one grant per expiry and never present a consumed refresh token.
//! - **On 401**: a connector's [`ApiClient`](connectkit_core::client::ApiClient)
//!   (the flow as its [`AuthFlow`]) or the `reqwest_middleware` layer
//!   (feature `middleware`) refreshes once and retries once.
//! - **Rotation**: a new `refresh_token` is adopted and handed to the
//!   [`TokenStore`] before anything else in the response is checked; a failed
//!   save is retried, and the token is never dropped.
//! - **Every `ClientCredentialsMode`**, `GET` or `POST` `TokenURI`, Scope, an
//!   extra `AuthHeader`/`SecurityToken` header on every API request, and a
//!   fallback to POST forms when both the method and the mode were left at
//!   their defaults and the endpoint refuses the vendor's form.
//! - **Typed errors**: RFC 6749 section 5.2 codes as [`OAuthErrorCode`];
//!   429 and 5xx retried with capped backoff honouring `Retry-After` (only
//!   certainly unprocessed answers once the endpoint rotates tokens), within
//!   a total deadline per request and per refresh.
//! - **No secret** ever reaches `Debug`, `Display`, an error or a log, in any
//!   encoding.
//!
//! ```
//! use connectkit_oauth_refresh::{RefreshTokenFlow, ClientCredentialsMode};
//! use wiremock::{Mock, MockServer, ResponseTemplate, matchers::{method, path, query_param}};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A token endpoint and an API on 127.0.0.1.
//! let server = MockServer::builder().start().await;
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
//! // As reqwest middleware on a client that keeps credentials on the API's
//! // origin: every request gets `Authorization: Bearer at-1`.
//! let client = connectkit_oauth_refresh::api_client(flow.clone(), None)?;
//! Mock::given(method("GET")).and(path("/items"))
//!     .and(wiremock::matchers::header("authorization", "Bearer at-1"))
//!     .respond_with(ResponseTemplate::new(200)).mount(&server).await;
//! let response = client.get(format!("{}/items", server.uri())).send().await?;
//! assert_eq!(response.status(), 200);
//! assert!(!format!("{flow:?}").contains("my-secret"));
//! # Ok(()) }
//! ```
//!
//! **Signed credentials** (RFC 7523): a certificate credential replaces the
//! client secret ([`RefreshTokenFlowBuilder::private_key_jwt`], a fresh
//! assertion on every request that authenticates the client, in Microsoft
//! Entra's form), and the JWT bearer grant takes a key or a Google-style
//! service-account key file ([`ServiceAccountKey`]). Keys are read from
//! PKCS#12 or PEM (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1) by [`SigningKey`].
//!
//! ```no_run
//! use connectkit_oauth_refresh::{RefreshTokenFlow, ServiceAccountKey, SigningAlgorithm, SigningKey};
//!
//! # fn main() -> Result<(), connectkit_oauth_refresh::Error> {
//! let key = SigningKey::from_file("client.pfx", Some(&"pfx-password".into()), None)?
//!     .with_algorithm(SigningAlgorithm::PS256)?;
//! let entra = RefreshTokenFlow::client_credentials()
//!     .client_id("00000000-0000-0000-0000-000000000000")
//!     .token_uri("POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token")?
//!     .scope("https://org.crm.dynamics.com/.default")
//!     .private_key_jwt(key)
//!     .build()?;
//!
//! // A service account: who, which key and which token endpoint come from the file.
//! let google = RefreshTokenFlow::builder()
//!     .service_account(ServiceAccountKey::from_file("service-account.json")?, None)?
//!     .scope("https://www.googleapis.com/auth/analytics.readonly")
//!     .build()?;
//! # Ok(()) }
//! ```

// On docs.rs, items behind a feature say which one.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod assertion;
pub mod authorize;
mod builder;
mod cache;
mod catalogue;
mod config;
mod credentials;
mod error;
mod exchange;
mod file_store;
mod fingerprint;
mod flow;
mod grant;
#[cfg(feature = "middleware")]
mod middleware;
mod properties;

mod refresh;
mod request;
mod response;
mod service_account;
mod signing_key;
mod store;

pub use authorize::{AUTHORIZE_PROPERTIES, Authorizer, DeviceAuthorization, PendingAuthorization};
pub use builder::RefreshTokenFlowBuilder;
pub use catalogue::connector_catalogue;
pub use config::{ClientCredentialsMode, GRANT_PROPERTIES, TokenForm, TokenMethod, TokenUri};
/// How the token request is retried: core's one retry policy
/// ([`RetryConfig::token_endpoint`] unless
/// [`RefreshTokenFlowBuilder::retry`] sets another). Which answers are safe
/// to retry is the token endpoint's own rule: 429 and 5xx, and once the
/// endpoint rotates refresh tokens only 429 and 503 with `Retry-After`.
pub use connectkit_core::client::RetryConfig;
pub use connectkit_core::{
    AuthFlow, ErrorKind, OAuthErrorCode, Report, RequestForm, TokenInfo, TokenOutcome,
};
pub use credentials::CREDENTIAL_PROPERTIES;
// Clients with connectkit's TLS settings (rustls on `ring`, the operating
// system's trust store): reqwest is built here without a process-wide
// crypto provider, so `reqwest::Client::new()` would panic; start from these.
pub use connectkit_core::client::{client_builder, http_client};
pub use error::{AuthorizeFailure, Error, OAuthError};
pub use file_store::FileStore;
pub use fingerprint::SeedFingerprint;
pub use flow::{MAX_BODY_BYTES, PROACTIVE_RETRY_INTERVAL, RefreshTokenFlow};
pub use grant::GrantType;
#[cfg(feature = "middleware")]
pub use middleware::api_client;
pub use refresh::TokenCallback;
/// The reqwest this crate is built with (0.13): its `Client`, `Request`
/// and `Url` are the ones the flow takes.
pub use reqwest;
/// The reqwest-middleware this crate's layer is built for (0.5).
#[cfg(feature = "middleware")]
pub use reqwest_middleware;
pub use response::{MAX_EXPIRES_IN, parse_token_response};
pub use service_account::ServiceAccountKey;
pub use signing_key::{SigningAlgorithm, SigningKey};
pub use store::{MemoryStore, StoreError, StoreLock, StoredTokens, TokenStore};
