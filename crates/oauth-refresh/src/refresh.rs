//! One refresh: under the store's lock, re-read what another process may
//! have saved, send the grant only when nothing usable is there, adopt and
//! persist a rotated refresh token before checking anything else.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use connectkit_core::{StaticHeaderAuth, TokenInfo};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::assertion::{ClientAssertion, JwtBearer};
use crate::cache::{CachedToken, Source, TokenCache};
use crate::config::{TokenForm, TokenUri};
use crate::error::Error;
use crate::file_store::FileStoreError;
use crate::fingerprint::SeedFingerprint;
use crate::grant::{Grant, GrantType};
use crate::response::{refresh_token_field, token_from_fields};
use crate::store::{StoreError, StoredTokens, TokenStore};
use connectkit_core::OAuthErrorCode;
use connectkit_core::client::{Redactor, RetryConfig};

/// Called with every new token set, after a rotated refresh token was saved.
pub type TokenCallback = Arc<dyn Fn(&TokenInfo) + Send + Sync>;

pub(crate) struct Inner {
    /// Builds the requests (and sends them unless `service` is another).
    pub(crate) client: reqwest::Client,
    /// Sends the requests: `client` unless the builder was given a service.
    pub(crate) service: Arc<dyn connectkit_core::client::HttpService>,
    pub(crate) uri: TokenUri,
    /// Whether the user left both the method and ClientCredentialsMode at
    /// their defaults, which allows the default-form fallback.
    pub(crate) fallback: bool,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    /// The client authenticates with a signed JWT (RFC 7523 section 2.2).
    pub(crate) client_assertion: Option<ClientAssertion>,
    /// The JWT bearer grant's assertion settings (RFC 7523 section 2.1).
    pub(crate) jwt_bearer: Option<JwtBearer>,
    /// SecurityToken, kept only to mask it in messages.
    pub(crate) security_token: Option<SecretString>,
    pub(crate) scope: Option<String>,
    pub(crate) extra_header: Option<StaticHeaderAuth>,
    pub(crate) skew: Duration,
    pub(crate) retry: RetryConfig,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) refresh_timeout: Option<Duration>,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) on_change: Option<TokenCallback>,
    pub(crate) initial_access_token: Option<SecretString>,
    /// ProxyPassword, kept only to mask it in messages (a proxy's error page
    /// may echo the login it was sent).
    pub(crate) proxy_password: Option<SecretString>,
    /// The RefreshToken property, which decides whether the store's chain applies.
    /// Empty when not configured (client credentials, or a TokenFile alone).
    pub(crate) configured_refresh_token: SecretString,
    /// The grant that renews the access token.
    pub(crate) grant_type: GrantType,
    /// Held across a refresh, so refreshes never overlap within the process.
    pub(crate) state: tokio::sync::Mutex<State>,
    pub(crate) loaded: tokio::sync::OnceCell<()>,
    pub(crate) cache: Arc<TokenCache>,
}

/// Delays before the attempts to save tokens: a transient failure (a full
/// disk being cleaned, a racing backup tool) gets a second and third chance.
const SAVE_DELAYS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(500),
];

/// What the flow knows between refreshes.
pub(crate) struct State {
    /// The refresh token to send next.
    pub refresh_token: SecretString,
    /// The seed recorded with every save (the RefreshToken property's).
    pub seed: Option<SeedFingerprint>,
    /// The access token this process last obtained by a grant: a store
    /// holding it has nothing newer.
    pub last_access: Option<SecretString>,
    /// The endpoint has rotated refresh tokens.
    pub rotates: bool,
    /// The request form in use.
    pub form: TokenForm,
    /// The form was found by the fallback (and is recorded in the store).
    pub form_learned: bool,
    /// The latest tokens, as they should be in the store.
    pub pending: Option<StoredTokens>,
    /// The last save failed: the store is older than memory.
    pub unsaved: bool,
}

impl State {
    pub(crate) fn new(refresh_token: SecretString, form: TokenForm) -> Self {
        Self {
            refresh_token,
            seed: None,
            last_access: None,
            rotates: false,
            form,
            form_learned: false,
            pending: None,
            unsaved: false,
        }
    }
}

impl Inner {
    pub(crate) fn store_error(&self, e: StoreError) -> Error {
        match e.downcast::<FileStoreError>() {
            Ok(f) => Error::TokenFile {
                path: f.path.display().to_string(),
                problem: connectkit_core::client::escape_controls(&f.problem),
            },
            Err(other) => Error::Store(self.redactor(None).mask(&other.to_string())),
        }
    }

    /// Masks every secret this flow knows: the client secret, the security
    /// token, and every refresh and access token it holds or was given.
    pub(crate) fn redactor(&self, state: Option<&State>) -> Redactor {
        self.redactor_with(state, Vec::new())
    }

    /// [`redactor`](Self::redactor), also masking a grant's own secrets
    /// (an authorization code and its verifier, a device code).
    pub(crate) fn redactor_with<'a>(
        &'a self,
        state: Option<&'a State>,
        mut all: Vec<&'a str>,
    ) -> Redactor {
        all.push(self.configured_refresh_token.expose_secret());
        for s in [
            &self.client_secret,
            &self.security_token,
            &self.initial_access_token,
            &self.proxy_password,
        ]
        .into_iter()
        .flatten()
        {
            all.push(s.expose_secret());
        }
        if let Some(st) = state {
            all.push(st.refresh_token.expose_secret());
            if let Some(a) = &st.last_access {
                all.push(a.expose_secret());
            }
        }
        let current = self.cache.current();
        Redactor::new(
            all.into_iter()
                .chain(current.as_ref().map(|t| t.value.expose_secret())),
        )
    }

    /// Whether the store's tokens descend from the RefreshToken property (a
    /// store without a seed, written before seeds existed, is taken as such).
    pub(crate) fn same_chain(&self, s: &StoredTokens) -> bool {
        // Without a RefreshToken property the store (written by `connectkit
        // authorize`) is the only source, whatever chain it holds.
        self.configured_refresh_token.expose_secret().is_empty()
            || s.seed
                .as_ref()
                .is_none_or(|fp| fp.matches(&self.configured_refresh_token))
    }

    /// Takes in what the store holds. Returns a usable access token that
    /// this process did not issue (another process refreshed), if any.
    pub(crate) fn apply_stored(
        &self,
        st: &mut State,
        stored: Option<StoredTokens>,
        initial: bool,
    ) -> Option<Arc<CachedToken>> {
        if st.unsaved {
            return None; // memory is newer than the store
        }
        let Some(s) = stored else {
            st.seed
                .get_or_insert_with(|| SeedFingerprint::new(&self.configured_refresh_token));
            return None;
        };
        if !self.same_chain(&s) {
            if initial {
                tracing::info!(
                    store = self.store.location().unwrap_or_default(),
                    "the RefreshToken property is not the token the store was seeded with: using the property's token, which reseeds the store"
                );
                st.seed = Some(SeedFingerprint::new(&self.configured_refresh_token));
            }
            return None;
        }
        st.seed = Some(
            s.seed
                .clone()
                .unwrap_or_else(|| SeedFingerprint::new(&self.configured_refresh_token)),
        );
        if s.refresh_token.expose_secret() != st.refresh_token.expose_secret() {
            if !initial {
                tracing::info!(
                    store = self.store.location().unwrap_or_default(),
                    "another process rotated the refresh token; using the one it saved"
                );
            }
            st.refresh_token = s.refresh_token.clone();
        }
        st.rotates |= s.rotates;
        if self.fallback
            && !st.form_learned
            && let Some(f) = s.token_form
        {
            st.form = f;
            st.form_learned = true;
        }
        st.pending = Some(s.clone());
        let at = s.access_token?;
        if st
            .last_access
            .as_ref()
            .is_some_and(|l| l.expose_secret() == at.expose_secret())
        {
            return None; // ours: stale or rejected
        }
        let remaining = match s.expires_at {
            Some(exp) => Some(exp.duration_since(SystemTime::now()).ok()?),
            None => None,
        };
        let info = TokenInfo::new("Bearer", remaining, s.scope.clone(), false);
        let mut token = CachedToken::new(
            at.clone(),
            remaining.map(|r| Instant::now() + r),
            s.lifetime.or(remaining),
            info,
        )
        .ok()?;
        token.source = Source::Stored;
        // At start-up the stored token is the shared cache's content, used
        // while fresh like any cached token; later only a fresh token that
        // the API has not rejected replaces a refresh.
        if !initial
            && (!token.is_fresh_at(Instant::now(), self.skew)
                || self.cache.was_rejected(&token.header))
        {
            return None;
        }
        if !initial {
            st.last_access = Some(at);
        }
        Some(Arc::new(token))
    }

    /// One refresh; with `force`, a fresh token in the store is not taken
    /// instead of the grant (its refresh token still is).
    pub(crate) async fn refresh_once(&self, force: bool) -> Result<Arc<CachedToken>, Error> {
        use tracing::Instrument;
        let host = self.uri.url.host_str().unwrap_or_default().to_owned();
        let span = tracing::info_span!("oauth_refresh", token_host = %host);
        let started = std::time::Instant::now();
        let outcome = self.refresh_locked(force).instrument(span).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(t) => {
                tracing::info!(elapsed_ms, rotated = t.info.refresh_token_rotated, expires_in = ?t.info.expires_in, "token refreshed")
            }
            Err(e) => tracing::warn!(elapsed_ms, error = %e, "token refresh failed"),
        }
        outcome
    }

    async fn refresh_locked(&self, force: bool) -> Result<Arc<CachedToken>, Error> {
        let mut st = self.state.lock().await;
        // Before anything is sent: the folder exists, the file is writable,
        // and no other process is refreshing with the same store.
        let deadline = self.refresh_timeout.map(|d| Instant::now() + d);
        let locking = self.store.lock();
        let locked = match deadline {
            Some(at) => tokio::time::timeout_at(at, locking).await.map_err(|_| {
                Error::Store(format!(
                    "{} stayed locked by another process's refresh for longer than TokenRefreshTimeout",
                    self.store.location().unwrap_or_else(|| "the token store".into())
                ))
            })?,
            None => locking.await,
        };
        let _lock = locked.map_err(|e| self.store_error(e))?;
        if st.unsaved {
            self.save(&mut st).await;
        } else {
            let stored = self.store.load().await.map_err(|e| self.store_error(e))?;
            if let Some(token) = self.apply_stored(&mut st, stored, false).filter(|_| !force) {
                tracing::info!(
                    store = self.store.location().unwrap_or_default(),
                    "another process already refreshed; using its access token, no request sent"
                );
                return Ok(token);
            }
        }
        let grant = self.renewal_grant(&st)?;
        let form = st.form;
        let (status, fields) = self.exchange(&mut st, &grant, deadline).await?;
        let fallback = (st.form != form).then_some(st.form);
        let token = if self.grant_type != GrantType::RefreshToken {
            self.accept_client_credentials(status, &fields, &st)?
        } else {
            self.accept(status, &fields, &mut st).await?
        };
        Ok(CachedToken::found_by_fallback(token, fallback))
    }

    /// Adopts a rotated refresh token first, then checks the rest, then saves.
    async fn accept(
        &self,
        status: u16,
        fields: &Map<String, Value>,
        st: &mut State,
    ) -> Result<Arc<CachedToken>, Error> {
        let rotated = match refresh_token_field(fields) {
            Some(new) if new.expose_secret() != st.refresh_token.expose_secret() => {
                st.refresh_token = new;
                st.rotates = true;
                true
            }
            _ => false,
        };
        let redactor = self.redactor(Some(st));
        let checked = token_from_fields(status, fields, &redactor).and_then(|r| {
            let info = TokenInfo::new(r.token_type.clone(), r.expires_in, r.scope.clone(), rotated);
            let token = CachedToken::new(
                r.access_token.clone(),
                r.expires_in.map(|d| Instant::now() + d),
                r.expires_in,
                info,
            )?;
            Ok((r, token))
        });
        let mut stored = StoredTokens::new(st.refresh_token.clone());
        stored.seed = st.seed.clone();
        stored.rotates = st.rotates;
        stored.token_form = (self.fallback && st.form_learned).then_some(st.form);
        if let Ok((r, _)) = &checked {
            stored.access_token = Some(r.access_token.clone());
            stored.expires_at = r.expires_in.map(|d| SystemTime::now() + d);
            stored.lifetime = r.expires_in;
            stored.scope = r.scope.clone();
        }
        st.pending = Some(stored);
        if rotated || checked.is_ok() {
            self.save(st).await;
        }
        let (r, token) = checked?;
        st.last_access = Some(r.access_token);
        if let Some(cb) = &self.on_change {
            cb(&token.info);
        }
        Ok(Arc::new(token))
    }

    /// Saves `st.pending`, retrying; on failure the tokens stay in memory.
    pub(crate) async fn save(&self, st: &mut State) {
        let Some(stored) = st.pending.clone() else {
            return;
        };
        // Marked before trying, so that even a store that panics leaves the
        // flow preferring its memory over the store's older token.
        let was_unsaved = std::mem::replace(&mut st.unsaved, true);
        let mut failure = None;
        for delay in SAVE_DELAYS {
            tokio::time::sleep(delay).await;
            match self.store.save(&stored).await {
                Ok(()) => {
                    if was_unsaved {
                        tracing::info!("the refresh token held only in memory is saved now");
                    }
                    st.unsaved = false;
                    return;
                }
                Err(e) => failure = Some(e),
            }
        }
        let why = failure
            .map(|e| self.store_error(e).to_string())
            .unwrap_or_default();
        tracing::error!(
            error = %why,
            "the new refresh token is held only in memory: saving it failed {} times; it is lost when this process ends unless a later save succeeds (fix the store, then the next refresh saves it)",
            SAVE_DELAYS.len()
        );
    }

    /// Says where a refused refresh token came from, when not from the property.
    pub(crate) fn with_token_source(&self, e: Error, st: &State) -> Error {
        match e {
            Error::OAuth(mut o)
                if o.code == OAuthErrorCode::InvalidGrant
                    && st.refresh_token.expose_secret()
                        != self.configured_refresh_token.expose_secret() =>
            {
                o.refresh_token_source = self.store.location();
                Error::OAuth(o)
            }
            other => other,
        }
    }
}

/// The grants this flow sends and what their answers leave behind.
impl Inner {
    /// The grant that renews this flow's access token.
    pub(crate) fn renewal_grant(&self, st: &State) -> Result<Grant, Error> {
        match self.grant_type {
            GrantType::ClientCredentials => Ok(Grant::ClientCredentials),
            GrantType::JwtBearer => {
                let jwt = self
                    .jwt_bearer
                    .as_ref()
                    .ok_or_else(|| Error::MissingProperty {
                        property: "JWTCertStore".into(),
                    })?;
                Ok(Grant::JwtBearer(
                    jwt.sign(&self.uri.display_url(), self.scope.as_deref())?,
                ))
            }
            GrantType::RefreshToken if st.refresh_token.expose_secret().is_empty() => {
                Err(Error::config(
                    "RefreshToken",
                    match self.store.location() {
                        Some(at) => format!(
                            "a refresh token: {at} holds none; run `connectkit authorize <url>` to obtain one, or set RefreshToken"
                        ),
                        None => {
                            "a refresh token (or a TokenFile written by `connectkit authorize`)"
                                .to_owned()
                        }
                    },
                ))
            }
            GrantType::RefreshToken => Ok(Grant::RefreshToken(st.refresh_token.clone())),
        }
    }

    /// A client credentials or JWT bearer answer: cached, never stored (the
    /// grant is its own renewal, and a refresh token it may carry is not used).
    pub(crate) fn accept_client_credentials(
        &self,
        status: u16,
        fields: &Map<String, Value>,
        st: &State,
    ) -> Result<Arc<CachedToken>, Error> {
        // A refresh token the answer may carry is unused, but still a secret.
        let unused = refresh_token_field(fields);
        let redactor =
            self.redactor_with(Some(st), unused.iter().map(|t| t.expose_secret()).collect());
        let r = token_from_fields(status, fields, &redactor)?;
        let info = TokenInfo::new(r.token_type.clone(), r.expires_in, r.scope.clone(), false);
        let token = CachedToken::new(
            r.access_token,
            r.expires_in.map(|d| Instant::now() + d),
            r.expires_in,
            info,
        )?;
        if let Some(cb) = &self.on_change {
            cb(&token.info);
        }
        Ok(Arc::new(token))
    }
}
