//! The grants sent to the token endpoint. All of them share one request
//! builder (every method and `ClientCredentialsMode`), one response parser,
//! the retries, the cache and the single flight; they differ only in their
//! parameters and in what the answer leaves behind.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use connectkit_core::{Properties, TokenInfo};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::cache::CachedToken;
use crate::error::Error;
use crate::fingerprint::SeedFingerprint;
use crate::refresh::{Inner, State};
use crate::response::{refresh_token_field, token_from_fields};
use crate::store::StoredTokens;

/// The `grant_type` of RFC 8628's device access token request.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Which grant a flow renews its access token with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GrantType {
    /// RFC 6749 section 6: a refresh token (from RefreshToken or TokenFile).
    #[default]
    RefreshToken,
    /// RFC 6749 section 4.4: the client's own credentials, for unattended jobs.
    ClientCredentials,
}

impl GrantType {
    /// The grant DataDirect's `AuthenticationMethod=OAuth2` means: the
    /// refresh token grant when a RefreshToken (or a TokenFile holding one,
    /// as `connectkit authorize` writes) is configured, else client credentials.
    pub fn for_oauth2(props: &Properties) -> Self {
        if props.contains("RefreshToken") || props.contains("TokenFile") {
            Self::RefreshToken
        } else {
            Self::ClientCredentials
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        })
    }
}

/// One token request's grant parameters. Every secret in it is masked in
/// whatever the endpoint answers.
pub(crate) enum Grant {
    RefreshToken(SecretString),
    ClientCredentials,
    /// RFC 6749 section 4.1.3 with RFC 7636's `code_verifier`.
    AuthorizationCode {
        code: SecretString,
        redirect_uri: String,
        verifier: SecretString,
    },
    /// RFC 8628 section 3.4.
    DeviceCode(SecretString),
    /// RFC 8628 section 3.1: not a grant, but sent with the same client
    /// authentication (and Scope) to the device authorization endpoint.
    DeviceAuthorization,
}

impl Grant {
    /// The grant's form parameters (the client credentials go elsewhere).
    pub(crate) fn params(&self) -> Vec<(&'static str, &str)> {
        match self {
            Grant::RefreshToken(t) => vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", t.expose_secret()),
            ],
            Grant::ClientCredentials => vec![("grant_type", "client_credentials")],
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => vec![
                ("grant_type", "authorization_code"),
                ("code", code.expose_secret()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.expose_secret()),
            ],
            Grant::DeviceCode(c) => vec![
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", c.expose_secret()),
            ],
            Grant::DeviceAuthorization => Vec::new(),
        }
    }

    /// The secrets this grant carries, for the redactor.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Grant::RefreshToken(t) | Grant::DeviceCode(t) => vec![t.expose_secret()],
            Grant::ClientCredentials | Grant::DeviceAuthorization => Vec::new(),
            Grant::AuthorizationCode { code, verifier, .. } => {
                vec![code.expose_secret(), verifier.expose_secret()]
            }
        }
    }

    /// Whether the request may go out with Scope (a code exchange is bound
    /// to the scope of its authorization request instead).
    pub(crate) fn sends_scope(&self) -> bool {
        matches!(
            self,
            Grant::RefreshToken(_) | Grant::ClientCredentials | Grant::DeviceAuthorization
        )
    }
}

impl Inner {
    /// The grant that renews this flow's access token.
    pub(crate) fn renewal_grant(&self, st: &State) -> Result<Grant, Error> {
        match self.grant_type {
            GrantType::ClientCredentials => Ok(Grant::ClientCredentials),
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

    /// A client credentials answer: cached, never stored (the grant is its
    /// own renewal, and a refresh token it may carry is not used).
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

    /// Sends a grant that starts a chain (an authorization code or a device
    /// code) and saves the refresh token it yields as the store's new seed.
    pub(crate) async fn obtain(&self, grant: Grant) -> Result<TokenInfo, Error> {
        let mut st = self.state.lock().await;
        let deadline = self.refresh_timeout.map(|d| Instant::now() + d);
        let _lock = self.store.lock().await.map_err(|e| self.store_error(e))?;
        let (status, fields) = self.exchange(&mut st, &grant, deadline).await?;
        let Some(refresh) = refresh_token_field(&fields) else {
            let redactor = self.redactor(Some(&st));
            token_from_fields(status, &fields, &redactor)?;
            return Err(Error::InvalidToken(
                "no refresh_token in the response: the client or Scope does not allow offline access (e.g. add `offline_access` to Scope)".into(),
            ));
        };
        st.refresh_token = refresh.clone();
        st.seed = Some(SeedFingerprint::new(&refresh));
        let redactor = self.redactor(Some(&st));
        let r = token_from_fields(status, &fields, &redactor)?;
        let mut stored = StoredTokens::new(refresh);
        stored.seed = st.seed.clone();
        stored.access_token = Some(r.access_token.clone());
        stored.expires_at = r.expires_in.map(|d| SystemTime::now() + d);
        stored.lifetime = r.expires_in;
        stored.scope = r.scope.clone();
        stored.token_form = (self.fallback && st.form_learned).then_some(st.form);
        self.store
            .save(&stored)
            .await
            .map_err(|e| self.store_error(e))?;
        st.pending = Some(stored);
        Ok(TokenInfo::new(r.token_type, r.expires_in, r.scope, false))
    }
}
