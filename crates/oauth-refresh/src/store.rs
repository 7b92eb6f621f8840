//! Where refresh tokens live between refreshes and across restarts.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::config::TokenForm;
use crate::fingerprint::SeedFingerprint;

/// The error of a [`TokenStore`]; its message must not contain a secret.
pub type StoreError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The tokens a store keeps.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The refresh token to use next.
    pub refresh_token: SecretString,
    /// The latest access token, if the store keeps it.
    pub access_token: Option<SecretString>,
    /// When the access token expires, if known.
    pub expires_at: Option<SystemTime>,
    /// The access token's whole lifetime (`expires_in`), for the refresh skew.
    pub lifetime: Option<Duration>,
    /// The scope the access token was granted, if the endpoint said.
    pub scope: Option<String>,
    /// Which RefreshToken property started this chain (never the token).
    pub seed: Option<SeedFingerprint>,
    /// The request form the token endpoint accepted, when the default-form
    /// fallback had to find one.
    pub token_form: Option<TokenForm>,
    /// Whether the endpoint has been seen rotating refresh tokens (after
    /// which an answer that may have been processed is never retried).
    pub rotates: bool,
}

impl StoredTokens {
    /// Tokens with only a refresh token.
    pub fn new(refresh_token: SecretString) -> Self {
        Self {
            refresh_token,
            access_token: None,
            expires_at: None,
            lifetime: None,
            scope: None,
            seed: None,
            token_form: None,
            rotates: false,
        }
    }

    /// Adds the access token and its expiry.
    pub fn with_access_token(
        mut self,
        token: SecretString,
        expires_at: Option<SystemTime>,
    ) -> Self {
        self.access_token = Some(token);
        self.expires_at = expires_at;
        self
    }
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("refresh_token", &"***")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("expires_at", &self.expires_at)
            .field("lifetime", &self.lifetime)
            .field("scope", &self.scope)
            .field("seed", &self.seed)
            .field("token_form", &self.token_form)
            .field("rotates", &self.rotates)
            .finish()
    }
}

/// Held by the flow from the store's re-read through the token request to
/// the save; dropping it releases the lock.
pub struct StoreLock {
    _guard: Option<Box<dyn Send + Sync>>,
}

impl StoreLock {
    /// No lock: the store is not shared with other processes.
    pub fn none() -> Self {
        Self { _guard: None }
    }

    /// A lock released when `guard` is dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreLock")
            .field("held", &self._guard.is_some())
            .finish()
    }
}

/// Persists the refresh token (and optionally the access token), so that a
/// rotated refresh token survives the process.
///
/// Before every refresh the flow takes [`TokenStore::lock`] and, under it,
/// calls [`TokenStore::load`] again: another process sharing the store may
/// have rotated the token meanwhile, and its tokens are then used without a
/// request. A rotated refresh token is handed to [`TokenStore::save`] before
/// anything else in the response is checked; a failed save is retried, and
/// if it keeps failing the flow goes on with the token in memory (and says
/// so in an error-level log) rather than lose it.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored tokens, if any. Called before the first use and again,
    /// under [`TokenStore::lock`], before every refresh.
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError>;
    /// Replaces the stored tokens.
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError>;
    /// Excludes other processes from refreshing with this store until the
    /// returned lock is dropped, and checks that a save can succeed. It is
    /// called before the token request is sent, so an error here consumes
    /// no refresh token. The default takes no lock.
    async fn lock(&self) -> Result<StoreLock, StoreError> {
        Ok(StoreLock::none())
    }
    /// Where the tokens live, for messages (e.g. `TokenFile /path`).
    fn location(&self) -> Option<String> {
        None
    }
}

/// Keeps tokens in memory: lost with the process.
#[derive(Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<StoredTokens>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tokens last saved.
    pub fn get(&self) -> Option<StoredTokens> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("tokens", &self.get())
            .finish()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        Ok(self.get())
    }
    async fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.clone());
        Ok(())
    }
}
