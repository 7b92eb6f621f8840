//! How API requests get their credentials: the [`AuthFlow`] trait and the
//! two flows that need no token endpoint. Sending, and the refresh and retry
//! on 401, is [`ApiClient`](crate::client::ApiClient)'s.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorKind, Result};

/// Adds credentials to outgoing API requests.
///
/// Implementations cache what they fetch: `authorize` is called for every
/// request and must be cheap when a valid credential is at hand.
#[async_trait]
pub trait AuthFlow: Send + Sync + fmt::Debug {
    /// Adds credentials to `request`, fetching a token first if none is cached
    /// or the cached one is about to expire.
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<()>;

    /// Tells the flow that the API answered 401 to `request`, which it
    /// authorized, so that the next `authorize` fetches a new token. Flows
    /// must ignore the call when the rejected credential is no longer the
    /// cached one, so that concurrent 401s cause a single refresh.
    async fn on_unauthorized(&self, request: &reqwest::Request) {
        let _ = request;
    }

    /// Fetches a new token now, whatever the cache holds, and describes it.
    /// Flows without a token endpoint return `Ok(None)`.
    async fn refresh_now(&self) -> Result<Option<TokenInfo>> {
        Ok(None)
    }

    /// Obtains a token now and says how: by running the grant, or (unless
    /// `force`) by taking a fresh access token that a shared token store
    /// (TokenFile) holds from another process, which sends nothing. With
    /// `force` the grant always runs. Flows without a token endpoint return
    /// `Ok(None)`; the default runs [`refresh_now`](Self::refresh_now) and
    /// reports it as granted.
    async fn obtain_token(&self, force: bool) -> Result<Option<TokenOutcome>> {
        let _ = force;
        Ok(self.refresh_now().await?.map(|info| TokenOutcome::Granted {
            info,
            fallback: None,
        }))
    }

    /// The OAuth 2.0 grant this flow obtains its tokens with, by its RFC 6749
    /// `grant_type` (`refresh_token`, `client_credentials`), for tools that
    /// describe a connection; `None` for flows without a token endpoint.
    fn grant_name(&self) -> Option<&'static str> {
        None
    }

    /// Whether this flow adds credentials to requests: then they may go only
    /// over https (or to a loopback host). Only [`NoAuth`] answers false.
    fn sends_credentials(&self) -> bool {
        true
    }

    /// The query parameter this flow puts its credential in (an API key),
    /// if any: the shared layer drops a value a server echoed into a next
    /// link before the flow adds its own, keeps the parameter out of the
    /// URLs it hands back, and masks its value in errors.
    fn credential_query_param(&self) -> Option<&str> {
        None
    }
}

/// What a token endpoint granted, without the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The token type, `Bearer`.
    pub token_type: String,
    /// Lifetime from when it was issued; `None` means until rejected.
    pub expires_in: Option<Duration>,
    /// The scope the endpoint reported, if any.
    pub scope: Option<String>,
    /// Whether the endpoint issued a new refresh token.
    pub refresh_token_rotated: bool,
}

impl TokenInfo {
    /// Describes a granted token.
    pub fn new(
        token_type: impl Into<String>,
        expires_in: Option<Duration>,
        scope: Option<String>,
        refresh_token_rotated: bool,
    ) -> Self {
        Self {
            token_type: token_type.into(),
            expires_in,
            scope,
            refresh_token_rotated,
        }
    }
}

/// What [`AuthFlow::obtain_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenOutcome {
    /// The grant ran and the token endpoint issued the token `info`
    /// describes (`info.refresh_token_rotated`: whether it issued a new
    /// refresh token too).
    Granted {
        /// The token obtained.
        info: TokenInfo,
        /// Set when, in this call, the endpoint refused the default request
        /// form (the vendor's GET with ClientCredentialsMode All, or All
        /// under a `POST ` prefix) and accepted this one: configuring it
        /// saves the refused request next time.
        fallback: Option<RequestForm>,
    },
    /// No request was sent: the token store held a fresh access token that
    /// another process obtained; `info.expires_in` is what is left of it.
    Reused {
        /// The token taken from the store.
        info: TokenInfo,
    },
}

impl TokenOutcome {
    /// The token, however it was obtained.
    pub fn info(&self) -> &TokenInfo {
        match self {
            TokenOutcome::Granted { info, .. } | TokenOutcome::Reused { info } => info,
        }
    }
}

/// A token request form, in the connection properties' terms: the
/// TokenURI prefix and the ClientCredentialsMode that select it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestForm {
    /// `GET` or `POST`: TokenURI's prefix.
    pub method: &'static str,
    /// `All`, `Basic`, `Url` or `Post`: ClientCredentialsMode.
    pub client_credentials_mode: &'static str,
}

impl RequestForm {
    /// A form by its TokenURI prefix and ClientCredentialsMode.
    pub fn new(method: &'static str, client_credentials_mode: &'static str) -> Self {
        Self {
            method,
            client_credentials_mode,
        }
    }
}

/// Sends requests as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl AuthFlow for NoAuth {
    async fn authorize(&self, _request: &mut reqwest::Request) -> Result<()> {
        Ok(())
    }

    fn sends_credentials(&self) -> bool {
        false
    }
}

/// Adds one fixed header to every request: `AuthHeader` + `SecurityToken`
/// (tenant IDs, API keys), or `Authorization: Bearer <SecurityToken>`.
#[derive(Clone)]
pub struct StaticHeaderAuth {
    name: HeaderName,
    /// Built once, marked sensitive (its `Debug` shows no secret): applying
    /// it to every request then only clones it, with no re-parsing.
    value: HeaderValue,
}

impl StaticHeaderAuth {
    /// A flow that sends `name: value` with every request. The header name
    /// must be a valid HTTP header name (the error names `AuthHeader`), and
    /// the value a valid header value (the error names `SecurityToken`
    /// without showing it).
    pub fn new(name: &str, value: SecretString) -> Result<Self> {
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            Error::invalid_property("AuthHeader", "an HTTP header name", Some(name))
        })?;
        let mut value = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
            Error::invalid_property("SecurityToken", "a value valid in an HTTP header", None)
        })?;
        value.set_sensitive(true);
        Ok(Self { name, value })
    }

    /// A flow that sends `Authorization: Bearer <token>`.
    pub fn bearer(token: SecretString) -> Result<Self> {
        let value = SecretString::from(format!("Bearer {}", token.expose_secret()));
        Self::new("Authorization", value)
    }

    /// The header this flow sets.
    pub fn header_name(&self) -> &HeaderName {
        &self.name
    }

    /// Adds the header to `request`, replacing any value of that name.
    pub fn apply(&self, request: &mut reqwest::Request) {
        request
            .headers_mut()
            .insert(self.name.clone(), self.value.clone());
    }
}

impl fmt::Debug for StaticHeaderAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticHeaderAuth")
            .field("name", &self.name)
            .field("value", &"***")
            .finish()
    }
}

#[async_trait]
impl AuthFlow for StaticHeaderAuth {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<()> {
        self.apply(request);
        Ok(())
    }
}

/// A bearer access token given alone (`AccessToken` without a refresh
/// token, TokenFile or client credentials): sent with every request until
/// the API rejects it. It cannot be renewed, so after a 401 every request
/// fails with [`AccessTokenRejected`], an authentication error that says so.
pub struct AccessTokenAuth {
    header: StaticHeaderAuth,
    rejected: std::sync::atomic::AtomicBool,
}

/// The API rejected an access token that nothing can renew.
#[derive(Debug, thiserror::Error)]
#[error(
    "the API rejected the access token (AccessToken): it expired or was revoked, and it cannot be \
     renewed; give a new AccessToken, or a RefreshToken or TokenFile (`connectkit authorize` \
     writes one) so that connectkit renews tokens itself"
)]
pub struct AccessTokenRejected;

impl AccessTokenAuth {
    /// Sends `Authorization: Bearer <token>` until the API answers 401.
    pub fn new(token: SecretString) -> Result<Self> {
        let header = StaticHeaderAuth::bearer(token).map_err(|_| {
            Error::invalid_property("AccessToken", "a value valid in an HTTP header", None)
        })?;
        Ok(Self {
            header,
            rejected: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

impl fmt::Debug for AccessTokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenAuth")
            .field("token", &"***")
            .field(
                "rejected",
                &self.rejected.load(std::sync::atomic::Ordering::Relaxed),
            )
            .finish()
    }
}

#[async_trait]
impl AuthFlow for AccessTokenAuth {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<()> {
        if self.rejected.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::coded(
                ErrorKind::Auth,
                "auth.access_token_rejected",
                AccessTokenRejected,
            )
            .with_status(401));
        }
        self.header.apply(request);
        Ok(())
    }

    async fn on_unauthorized(&self, _request: &reqwest::Request) {
        self.rejected
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Classifies a transport error (connect, timeout, body) as an API error,
/// without the URL's query string, which may carry credentials.
pub fn network_error(err: reqwest::Error) -> Error {
    Error::connector(ErrorKind::Api, err.without_url())
}
