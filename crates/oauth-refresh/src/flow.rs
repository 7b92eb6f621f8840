//! [`RefreshTokenFlow`]: the grant as an [`AuthFlow`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connectkit_core::{AuthFlow, Error as CoreError, TokenInfo, TokenOutcome};
use futures::FutureExt;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::SecretString;
use tokio::time::Instant;

use crate::cache::{CachedToken, Source};
use crate::config::TokenUri;
use crate::error::Error;
use crate::refresh::Inner;

/// Token responses larger than this are refused.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// After a proactive refresh fails while the cached token is still valid,
/// the token keeps serving and the refresh is tried again after this long.
pub const PROACTIVE_RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// The OAuth 2.0 refresh token grant (RFC 6749 section 6), or the client
/// credentials grant (section 4.4, see [`GrantType`](crate::GrantType)), as an
/// [`AuthFlow`].
///
/// Cheap to clone: clones share one token cache, so one refresh serves them all.
#[derive(Clone)]
pub struct RefreshTokenFlow {
    pub(crate) inner: Arc<Inner>,
}

impl RefreshTokenFlow {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A valid access token: the cached one while fresh, else a new one.
    pub async fn access_token(&self) -> Result<SecretString, Error> {
        Ok(self.token().await?.value.clone())
    }

    /// A builder for the client credentials grant (RFC 6749 section 4.4):
    /// the same token endpoint machinery, renewing with the client's own
    /// credentials instead of a refresh token.
    pub fn client_credentials() -> crate::RefreshTokenFlowBuilder {
        crate::RefreshTokenFlowBuilder::new().grant_type(crate::GrantType::ClientCredentials)
    }

    /// The grant this flow renews its access token with.
    pub fn grant_type(&self) -> crate::GrantType {
        self.inner.grant_type
    }

    /// The token endpoint, with its method.
    pub fn token_uri(&self) -> &TokenUri {
        &self.inner.uri
    }

    /// Adds `Authorization: Bearer <token>` (and AuthHeader, if configured) to `request`.
    pub async fn authorize_request(&self, request: &mut reqwest::Request) -> Result<(), Error> {
        let token = self.token().await?;
        self.apply(&token, request);
        Ok(())
    }

    /// Adds `token`'s prebuilt `Authorization` value (and AuthHeader) to `request`.
    pub(crate) fn apply(&self, token: &CachedToken, request: &mut reqwest::Request) {
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.header.clone());
        if let Some(h) = &self.inner.extra_header {
            h.apply(request);
        }
    }

    /// The cached token while it is fresh, without awaiting anything: the
    /// path of nearly every request, kept out of the async machinery (and
    /// its large future) that loading or refreshing needs.
    pub(crate) fn fresh_token(&self) -> Option<Arc<CachedToken>> {
        self.inner
            .cache
            .current()
            .filter(|t| t.is_fresh_at(Instant::now(), self.inner.skew))
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
    ///
    /// With a token store shared by several processes, a fresh access token
    /// that another process saved (and that the API has not rejected here)
    /// counts as the refresh: no grant is sent for it.
    pub async fn refresh(&self) -> Result<TokenInfo, Error> {
        self.ensure_loaded().await?;
        Ok(self.refresh_shared().await?.info.clone())
    }

    async fn ensure_loaded(&self) -> Result<(), Error> {
        let inner = &self.inner;
        inner
            .loaded
            .get_or_try_init(|| async {
                let stored = inner.store.load().await.map_err(|e| inner.store_error(e))?;
                // The AccessToken property belongs to the RefreshToken
                // property's chain: unused when the store continues it.
                let property_chain = stored.as_ref().is_none_or(|s| !inner.same_chain(s));
                let mut state = inner.state.lock().await;
                let from_store = inner.apply_stored(&mut state, stored, true);
                if let Some(token) = from_store {
                    inner.cache.set(token);
                } else if property_chain && let Some(at) = &inner.initial_access_token {
                    let info = TokenInfo::new("Bearer", None, None, false);
                    let token = CachedToken::new(at.clone(), None, None, info)?;
                    inner.cache.set(Arc::new(token));
                }
                Ok::<(), Error>(())
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn token(&self) -> Result<Arc<CachedToken>, Error> {
        let cache = &self.inner.cache;
        // Fast path: a fresh token takes a shared read lock only.
        if let Some(token) = self.fresh_token() {
            return Ok(token);
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
        self.refresh_joined(false).await
    }

    /// Joins the refresh in flight, or starts one (`force`: one that runs
    /// the grant even when the store holds a fresh token).
    async fn refresh_joined(&self, force: bool) -> Result<Arc<CachedToken>, Error> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .cache
            .join_or_start(move || async move { inner.refresh_once(force).await }.boxed())
            .await
    }

    /// Obtains a token now and says how ([`TokenOutcome`]): the grant runs,
    /// unless (without `force`) the token store holds a fresh access token
    /// another process saved, which is taken and nothing is sent. A call
    /// made while a refresh is in flight shares that refresh's outcome.
    pub async fn obtain_token(&self, force: bool) -> Result<TokenOutcome, Error> {
        self.ensure_loaded().await?;
        let token = self.refresh_joined(force).await?;
        let info = token.info.clone();
        Ok(match token.source {
            Source::Stored => TokenOutcome::Reused { info },
            Source::Granted { fallback } => TokenOutcome::Granted {
                info,
                fallback: fallback.map(|f| f.request_form()),
            },
        })
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

    async fn obtain_token(&self, force: bool) -> Result<Option<TokenOutcome>, CoreError> {
        Ok(Some(RefreshTokenFlow::obtain_token(self, force).await?))
    }

    fn grant_name(&self) -> Option<&'static str> {
        Some(match self.inner.grant_type {
            crate::GrantType::RefreshToken => "refresh_token",
            crate::GrantType::ClientCredentials => "client_credentials",
            crate::GrantType::JwtBearer => crate::assertion::JWT_BEARER_GRANT,
        })
    }
}

impl fmt::Debug for RefreshTokenFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("RefreshTokenFlow")
            .field("token_uri", &i.uri.to_string())
            .field("default_form_fallback", &i.fallback)
            .field("client_id", &i.client_id)
            .field("client_secret", &i.client_secret.as_ref().map(|_| "***"))
            .field("grant_type", &i.grant_type)
            .field("refresh_token", &"***")
            .field("scope", &i.scope)
            .field("auth_header", &i.extra_header)
            .field("expiry_skew", &i.skew)
            .field("store", &i.store)
            .finish_non_exhaustive()
    }
}
