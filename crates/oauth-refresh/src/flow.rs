//! [`RefreshTokenFlow`]: the grant as an [`AuthFlow`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use connectkit_core::{AuthFlow, BodyError, Error as CoreError, StaticHeaderAuth, TokenInfo};
use futures::FutureExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::builder::{RefreshTokenFlowBuilder, TokenCallback};
use crate::cache::{CachedToken, TokenCache};
use crate::config::{ClientCredentialsMode, TokenUri};
use crate::error::Error;
use crate::request::TokenRequestParts;
use crate::response::{Redactor, TokenResponse, error_response, success_response};
use crate::retry::RetryConfig;
use crate::store::{StoredTokens, TokenStore};

/// Token responses larger than this are refused.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// After a proactive refresh fails while the cached token is still valid,
/// the token keeps serving and the refresh is tried again after this long.
pub const PROACTIVE_RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// The OAuth 2.0 refresh token grant (RFC 6749 section 6) as an [`AuthFlow`].
///
/// Cheap to clone: clones share one token cache, so one refresh serves them all.
#[derive(Clone)]
pub struct RefreshTokenFlow {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: reqwest::Client,
    pub(crate) uri: TokenUri,
    pub(crate) mode: ClientCredentialsMode,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) scope: Option<String>,
    pub(crate) extra_header: Option<StaticHeaderAuth>,
    pub(crate) skew: Duration,
    pub(crate) retry: RetryConfig,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) on_change: Option<TokenCallback>,
    pub(crate) initial_access_token: Option<SecretString>,
    /// The refresh token to send next; held across a refresh, so refreshes never overlap.
    pub(crate) refresh_token: tokio::sync::Mutex<SecretString>,
    pub(crate) loaded: tokio::sync::OnceCell<()>,
    pub(crate) cache: Arc<TokenCache>,
}

impl RefreshTokenFlow {
    /// A builder with the defaults.
    pub fn builder() -> RefreshTokenFlowBuilder {
        RefreshTokenFlowBuilder::new()
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A valid access token: the cached one while fresh, else a new one.
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        Ok(self.token().await?.value.clone())
    }

    /// The token endpoint, with its method.
    pub fn token_uri(&self) -> &TokenUri {
        &self.inner.uri
    }

    /// Adds `Authorization: Bearer <token>` (and AuthHeader, if configured) to `request`.
    pub async fn authorize_request(&self, request: &mut reqwest::Request) -> Result<(), Error> {
        let token = self.token().await?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.header.clone());
        if let Some(h) = &self.inner.extra_header {
            h.apply(request);
        }
        Ok(())
    }

    /// Forgets the cached token if `request` carried it (see [`AuthFlow::on_unauthorized`]).
    pub fn invalidate(&self, request: &reqwest::Request) {
        if let Some(sent) = request.headers().get(AUTHORIZATION) {
            self.invalidate_token(sent);
        }
    }

    /// Forgets the cached token if it is the one in `sent` (an `Authorization` value).
    pub(crate) fn invalidate_token(&self, sent: &HeaderValue) {
        if self.inner.cache.invalidate(sent) {
            tracing::debug!("access token rejected by the API; the next request refreshes it");
        }
    }

    /// Refreshes now, whatever the cache holds (joining a refresh in flight).
    pub async fn refresh(&self) -> Result<TokenInfo, Error> {
        self.ensure_loaded().await?;
        Ok(self.refresh_shared().await?.info.clone())
    }

    async fn ensure_loaded(&self) -> Result<(), Error> {
        let inner = &self.inner;
        inner
            .loaded
            .get_or_try_init(|| async {
                let stored = inner
                    .store
                    .load()
                    .await
                    .map_err(|e| Error::Store(format!("loading tokens: {e}")))?;
                if let Some(stored) = stored {
                    *inner.refresh_token.lock().await = stored.refresh_token;
                    if let (Some(at), Some(exp)) = (stored.access_token, stored.expires_at) {
                        let left = exp
                            .duration_since(SystemTime::now())
                            .unwrap_or(Duration::ZERO);
                        if !left.is_zero() {
                            let info = TokenInfo::new("Bearer", Some(left), None, false);
                            inner.cache.set(Arc::new(CachedToken::new(
                                at,
                                Some(Instant::now() + left),
                                info,
                            )?));
                        }
                    }
                } else if let Some(at) = &inner.initial_access_token {
                    let info = TokenInfo::new("Bearer", None, None, false);
                    inner
                        .cache
                        .set(Arc::new(CachedToken::new(at.clone(), None, info)?));
                }
                Ok::<(), Error>(())
            })
            .await?;
        Ok(())
    }

    async fn token(&self) -> Result<Arc<CachedToken>, Error> {
        let cache = &self.inner.cache;
        // Fast path: a fresh token takes a shared read lock only.
        if let Some(token) = cache.current() {
            if token.is_fresh_at(Instant::now(), self.inner.skew) {
                return Ok(token);
            }
        }
        self.ensure_loaded().await?;
        let now = Instant::now();
        let Some(token) = cache.current() else {
            return self.refresh_shared().await;
        };
        if token.is_fresh_at(now, self.inner.skew) {
            return Ok(token);
        }
        if token.is_valid_at(now) {
            if cache.is_quiet(now) {
                return Ok(token);
            }
            return match self.refresh_shared().await {
                Ok(new) => Ok(new),
                Err(e) if token.is_valid_at(Instant::now()) => {
                    tracing::warn!(error = %e, "proactive token refresh failed; the current token is still valid and keeps serving");
                    cache.quiet_for(Instant::now(), PROACTIVE_RETRY_INTERVAL);
                    Ok(token)
                }
                Err(e) => Err(e),
            };
        }
        self.refresh_shared().await
    }

    async fn refresh_shared(&self) -> Result<Arc<CachedToken>, Error> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .cache
            .join_or_start(move || async move { inner.refresh_once().await }.boxed())
            .await
    }
}

impl Inner {
    fn redactor<'a>(&'a self, refresh_token: &'a SecretString) -> Redactor<'a> {
        let mut secrets = vec![refresh_token.expose_secret()];
        if let Some(s) = &self.client_secret {
            secrets.push(s.expose_secret());
        }
        Redactor { secrets }
    }

    async fn refresh_once(&self) -> Result<Arc<CachedToken>, Error> {
        use tracing::Instrument;
        let host = self.uri.url.host_str().unwrap_or_default().to_owned();
        let span = tracing::info_span!("oauth_refresh", token_host = %host);
        self.refresh_traced().instrument(span).await
    }

    async fn refresh_traced(&self) -> Result<Arc<CachedToken>, Error> {
        let started = std::time::Instant::now();
        let mut refresh_token = self.refresh_token.lock().await;
        let outcome = self.request_token(&refresh_token).await;
        let outcome = match outcome {
            Ok(response) => self.accept(response, &mut refresh_token).await,
            Err(e) => Err(e),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(t) => {
                tracing::info!(elapsed_ms, rotated = t.info.refresh_token_rotated, expires_in = ?t.info.expires_in, "token refreshed")
            }
            Err(e) => tracing::warn!(elapsed_ms, error = %e, "token refresh failed"),
        }
        outcome
    }

    /// Saves a rotated refresh token before the new access token is used.
    async fn accept(
        &self,
        r: TokenResponse,
        current: &mut SecretString,
    ) -> Result<Arc<CachedToken>, Error> {
        let rotated = r
            .refresh_token
            .as_ref()
            .is_some_and(|new| new.expose_secret() != current.expose_secret());
        let next = if rotated {
            r.refresh_token.clone().unwrap_or_else(|| current.clone())
        } else {
            current.clone()
        };
        let info = TokenInfo::new(r.token_type.clone(), r.expires_in, r.scope.clone(), rotated);
        let token = Arc::new(CachedToken::new(
            r.access_token.clone(),
            r.expires_in.map(|d| Instant::now() + d),
            info,
        )?);
        let stored = StoredTokens::new(next.clone())
            .with_access_token(r.access_token, r.expires_in.map(|d| SystemTime::now() + d));
        if let Err(e) = self.store.save(&stored).await {
            let msg = self.redactor(current).mask(&e.to_string());
            if rotated {
                return Err(Error::Store(msg));
            }
            tracing::warn!(error = %msg, "saving the access token failed; the refresh token did not change");
        }
        *current = next;
        if let Some(cb) = &self.on_change {
            cb(&token.info);
        }
        Ok(token)
    }

    async fn request_token(&self, refresh_token: &SecretString) -> Result<TokenResponse, Error> {
        let parts = TokenRequestParts {
            uri: &self.uri,
            mode: self.mode,
            client_id: self.client_id.as_deref(),
            client_secret: self.client_secret.as_ref(),
            refresh_token,
            scope: self.scope.as_deref(),
        };
        let redactor = self.redactor(refresh_token);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let response = self
                .client
                .execute(parts.build(&self.client))
                .await
                .map_err(|e| self.transport(&e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = self.read_body(response).await?;
            if status.is_success() {
                return success_response(
                    status.as_u16(),
                    content_type.as_deref(),
                    &body,
                    &redactor,
                );
            }
            if RetryConfig::is_retryable(status) && attempt <= self.retry.max_retries {
                let delay = self.retry.delay(attempt - 1, &headers);
                tracing::debug!(
                    status = status.as_u16(),
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    "token endpoint busy; retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            return Err(error_response(
                status.as_u16(),
                attempt,
                content_type.as_deref(),
                &body,
                &redactor,
            ));
        }
    }

    async fn read_body(&self, response: reqwest::Response) -> Result<Vec<u8>, Error> {
        connectkit_core::read_body_limited(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::Transport(e) => self.transport(&e),
                _ => Error::BodyTooLarge {
                    limit: MAX_BODY_BYTES,
                },
            })
    }

    fn transport(&self, e: &reqwest::Error) -> Error {
        let mut message = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else if e.is_body() || e.is_decode() {
            "reading the response failed".to_owned()
        } else {
            "request failed".to_owned()
        };
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Error::Transport {
            host: self.uri.url.host_str().unwrap_or_default().to_owned(),
            message,
            timeout: e.is_timeout(),
        }
    }
}

#[async_trait]
impl AuthFlow for RefreshTokenFlow {
    async fn authorize(&self, request: &mut reqwest::Request) -> Result<(), CoreError> {
        Ok(self.authorize_request(request).await?)
    }

    async fn on_unauthorized(&self, request: &reqwest::Request) {
        self.invalidate(request);
    }

    async fn refresh_now(&self) -> Result<Option<TokenInfo>, CoreError> {
        Ok(Some(self.refresh().await?))
    }
}

impl fmt::Debug for RefreshTokenFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RefreshTokenFlow")
            .field("token_uri", &i.uri.to_string())
            .field("client_credentials_mode", &i.mode)
            .field("client_id", &i.client_id)
            .field("client_secret", &i.client_secret.as_ref().map(|_| "***"))
            .field("refresh_token", &"***")
            .field("scope", &i.scope)
            .field("auth_header", &i.extra_header)
            .field("expiry_skew", &i.skew)
            .field("store", &i.store)
            .finish_non_exhaustive()
    }
}
