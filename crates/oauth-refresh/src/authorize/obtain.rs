//! The grant that starts a chain (an authorization code or a device code),
//! and the checks of its answer before anything is saved: a connection
//! needs a refresh token it can use with its Scope.

use std::time::SystemTime;

use connectkit_core::TokenInfo;
use connectkit_core::client::escape_controls;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::OFFLINE_ACCESS;
use crate::error::{AuthorizeFailure, Error};
use crate::fingerprint::SeedFingerprint;
use crate::grant::Grant;
use crate::refresh::Inner;
use crate::response::{refresh_token_field, token_from_fields};
use crate::store::StoredTokens;

/// What the authorization asked for, to judge its answer by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offline {
    /// Scope holds `offline_access`.
    pub requested: bool,
    /// The provider reports `offline_access` in the granted scope when it
    /// grants it (the Microsoft identity platform never does).
    pub check_scope: bool,
}

fn no_refresh_token(message: String) -> Error {
    Error::Authorize {
        failure: AuthorizeFailure::NoRefreshToken,
        code: None,
        message,
    }
}

impl Offline {
    /// The error for an answer without a refresh token.
    fn missing(&self) -> Error {
        no_refresh_token(if self.requested {
            "the token response carries no refresh token although Scope asks for offline_access, so the connection could not renew its access token; nothing was saved. The client may not be allowed the refresh_token grant, or the provider wants parameters of its own (AuthorizationParameters, e.g. Google's access_type=offline&prompt=consent)".to_owned()
        } else {
            "the token response carries no refresh token, so the connection could not renew its access token; nothing was saved. Ask for offline access: add offline_access to Scope (OpenID Connect providers; connectkit then sends prompt=consent), or give the provider's own parameters in AuthorizationParameters (Google: access_type=offline&prompt=consent)".to_owned()
        })
    }

    /// An answer whose granted scope dropped the `offline_access` asked for.
    fn check_granted(&self, fields: &Map<String, Value>) -> Result<(), Error> {
        if !(self.requested && self.check_scope) {
            return Ok(());
        }
        // RFC 6749 section 5.1: an absent scope is the scope requested.
        let Some(Value::String(granted)) = fields.get("scope") else {
            return Ok(());
        };
        if granted.split_whitespace().any(|w| w == OFFLINE_ACCESS) {
            return Ok(());
        }
        Err(no_refresh_token(format!(
            "the provider granted scope {:?} without the offline_access that Scope asks for: the refresh grant with this Scope would be refused (invalid_scope) once the access token expires; nothing was saved. The user must consent to offline access (connectkit sends prompt=consent unless AuthorizationParameters sets prompt), and the client must be allowed the refresh_token grant",
            escape_controls(granted)
        )))
    }
}

impl Inner {
    /// Sends a grant that starts a chain (an authorization code or a device
    /// code) and, when its answer carries a usable refresh token, saves it
    /// as the store's new seed.
    pub(crate) async fn obtain(&self, grant: Grant, offline: &Offline) -> Result<TokenInfo, Error> {
        let mut st = self.state.lock().await;
        let deadline = self.refresh_timeout.map(|d| Instant::now() + d);
        let _lock = self.store.lock().await.map_err(|e| self.store_error(e))?;
        let (status, fields) = self.exchange(&mut st, &grant, deadline).await?;
        let Some(refresh) = refresh_token_field(&fields) else {
            let redactor = self.redactor(Some(&st));
            token_from_fields(status, &fields, &redactor)?;
            return Err(offline.missing());
        };
        st.refresh_token = refresh.clone();
        st.seed = Some(SeedFingerprint::new(&refresh));
        let redactor = self.redactor(Some(&st));
        let r = token_from_fields(status, &fields, &redactor)?;
        offline.check_granted(&fields)?;
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
