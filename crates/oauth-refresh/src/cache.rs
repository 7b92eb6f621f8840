//! The token cache: a read of a fresh token takes only a shared lock; a
//! refresh runs once however many callers need it (single flight), in a task
//! of its own so that a cancelled caller cannot abandon a rotated token.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use connectkit_core::TokenInfo;
use futures::future::{BoxFuture, FutureExt, Shared};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::config::TokenForm;
use crate::error::Error;

/// How a cached token was come by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Issued to this flow by a grant; `fallback` is the form the endpoint
    /// accepted after refusing the default one in that grant.
    Granted { fallback: Option<TokenForm> },
    /// Taken from the token store, where another process saved it.
    Stored,
}

/// A cached access token.
pub(crate) struct CachedToken {
    pub value: SecretString,
    /// `Bearer <token>`, marked sensitive.
    pub header: HeaderValue,
    /// `None`: valid until rejected.
    pub expires_at: Option<Instant>,
    /// The token's whole lifetime, when known: the skew never exceeds half
    /// of it, so a short-lived token is not refreshed before every request.
    pub lifetime: Option<Duration>,
    pub info: TokenInfo,
    pub source: Source,
}

impl CachedToken {
    pub(crate) fn new(
        value: SecretString,
        expires_at: Option<Instant>,
        lifetime: Option<Duration>,
        info: TokenInfo,
    ) -> Result<Self, Error> {
        let mut header = HeaderValue::from_str(&format!("Bearer {}", value.expose_secret()))
            .map_err(|_| {
                Error::InvalidToken(
                    "access_token holds characters not allowed in an HTTP header".into(),
                )
            })?;
        header.set_sensitive(true);
        Ok(Self {
            value,
            header,
            expires_at,
            lifetime,
            info,
            source: Source::Granted { fallback: None },
        })
    }

    /// Records the form a fallback found while this token was granted
    /// (before the token is shared).
    pub(crate) fn found_by_fallback(mut token: Arc<Self>, form: Option<TokenForm>) -> Arc<Self> {
        if let Some(t) = Arc::get_mut(&mut token) {
            t.source = Source::Granted { fallback: form };
        }
        token
    }

    pub(crate) fn is_valid_at(&self, now: Instant) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }

    /// Whether more than the effective skew is left: the configured skew,
    /// or half the token's lifetime when that is shorter.
    pub(crate) fn is_fresh_at(&self, now: Instant, skew: Duration) -> bool {
        let skew = match self.lifetime {
            Some(life) => skew.min(life / 2),
            None => skew,
        };
        self.expires_at.is_none_or(|at| now + skew < at)
    }
}

pub(crate) type RefreshOutcome = Result<Arc<CachedToken>, Error>;
type InFlight = Shared<BoxFuture<'static, RefreshOutcome>>;

#[derive(Default)]
pub(crate) struct TokenCache {
    current: RwLock<Option<Arc<CachedToken>>>,
    inflight: Mutex<Option<InFlight>>,
    /// After a failed proactive refresh, the still-valid token serves until then.
    quiet_until: Mutex<Option<Instant>>,
    /// The `Authorization` value the API last rejected: a token store may
    /// still hold it, and it must not be adopted from there again.
    rejected: Mutex<Option<HeaderValue>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TokenCache {
    pub(crate) fn current(&self) -> Option<Arc<CachedToken>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set(&self, token: Arc<CachedToken>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(token);
        *lock(&self.quiet_until) = None;
    }

    /// Drops the cached token if its header is `rejected`; a token that has
    /// already been replaced stays, so concurrent 401s refresh once.
    pub(crate) fn invalidate(&self, rejected: &HeaderValue) -> bool {
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|t| t.header == *rejected) {
            *cur = None;
            *lock(&self.rejected) = Some(rejected.clone());
            return true;
        }
        false
    }

    /// Whether the API rejected this `Authorization` value.
    pub(crate) fn was_rejected(&self, header: &HeaderValue) -> bool {
        lock(&self.rejected).as_ref() == Some(header)
    }

    pub(crate) fn is_quiet(&self, now: Instant) -> bool {
        lock(&self.quiet_until).is_some_and(|until| now < until)
    }

    pub(crate) fn quiet_for(&self, now: Instant, period: Duration) {
        *lock(&self.quiet_until) = Some(now + period);
    }

    /// Joins the refresh in flight, or starts `start()` as the one refresh.
    pub(crate) fn join_or_start<F>(self: &Arc<Self>, start: F) -> InFlight
    where
        F: FnOnce() -> BoxFuture<'static, RefreshOutcome>,
    {
        let mut slot = lock(&self.inflight);
        if let Some(running) = slot.as_ref() {
            return running.clone();
        }
        let cache = Arc::clone(self);
        let refresh = start();
        let handle = tokio::spawn(async move {
            let outcome = refresh.await;
            if let Ok(token) = &outcome {
                cache.set(Arc::clone(token));
            }
            // Later callers start afresh: an error is shared by this refresh's
            // waiters only, never cached.
            *lock(&cache.inflight) = None;
            outcome
        });
        let cache = Arc::clone(self);
        let shared = async move {
            handle.await.unwrap_or_else(|e| {
                *lock(&cache.inflight) = None;
                Err(Error::Interrupted(e.to_string()))
            })
        }
        .boxed()
        .shared();
        *slot = Some(shared.clone());
        shared
    }
}
