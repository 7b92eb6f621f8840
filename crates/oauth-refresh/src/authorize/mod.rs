//! Obtaining the first refresh token: the authorization code grant with PKCE
//! and a loopback redirect (RFC 6749 section 4.1, RFC 7636, RFC 8252), or
//! the device authorization grant (RFC 8628). Both end by saving the tokens
//! in the TokenFile, from which the refresh token grant continues.
//!
//! The code exchange and the device polling go through the flow's own token
//! request machinery: every `ClientCredentialsMode`, the default-form
//! fallback, typed errors, retries. Left at its defaults, the client
//! authenticates as RFC 6749 says (POST, `client_secret_basic`), not in the
//! vendor's form for the refresh grant.
//!
//! What a connection needs from the answer is a refresh token it can use:
//! the request asks for offline access as OpenID Connect requires
//! (`prompt=consent` beside `offline_access`), and an answer without a
//! refresh token, or with a granted scope that dropped `offline_access`,
//! is an error at once, with nothing saved.

mod device;
mod loopback;
mod obtain;
mod pkce;

use std::fmt;
use std::time::Duration;

use connectkit_core::{Error as CoreError, Properties, PropertySpec, TokenInfo};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use device::DeviceAuthorization;
pub use pkce::{Pkce, challenge_of};

use crate::builder::RefreshTokenFlowBuilder;
use crate::error::{AuthorizeFailure, Error};
use crate::flow::RefreshTokenFlow;
use crate::grant::Grant;
use loopback::Loopback;

/// The properties `connectkit authorize` reads beside the grant's.
pub const AUTHORIZE_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new(
        "AuthURI",
        "The authorization endpoint, where the user approves access (derived from a Microsoft identity platform TokenURI when absent).",
    ),
    PropertySpec::new(
        "RedirectURI",
        "The redirect endpoint: a loopback http URL (default http://127.0.0.1:<free port>/callback); a localhost host is sent as given, the listener binds 127.0.0.1.",
    ),
    PropertySpec::new(
        "DeviceAuthURI",
        "connectkit extension: the device authorization endpoint of RFC 8628 (derived from a Microsoft identity platform TokenURI when absent).",
    ),
    PropertySpec::new(
        "AuthorizationParameters",
        "connectkit extension: extra parameters of the authorization request, form-encoded (Google: access_type=offline&prompt=consent); not those connectkit sets itself.",
    ),
];

/// The authorization request parameters connectkit sets itself, which
/// AuthorizationParameters may not give.
const OWN_PARAMETERS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// The OpenID Connect scope that asks for a refresh token.
const OFFLINE_ACCESS: &str = "offline_access";

/// How long the user has to answer the browser prompt by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Obtains the first access and refresh token and saves them in TokenFile.
pub struct Authorizer {
    flow: RefreshTokenFlow,
    auth_uri: Option<Url>,
    device_uri: Option<Url>,
    redirect_uri: Option<Url>,
    scope: Option<String>,
    /// AuthorizationParameters, in order.
    extra: Vec<(String, String)>,
    timeout: Duration,
}

/// An authorization request under way: the URL the user opens, and the
/// listener waiting for its redirect.
pub struct PendingAuthorization {
    /// The authorization URL (no secret in it: the PKCE challenge and the
    /// state are single-use and bound to this process).
    pub url: Url,
    loopback: Loopback,
    state: SecretString,
    pkce: Pkce,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("redirect_uri", &self.loopback.redirect_uri.as_str())
            .finish_non_exhaustive()
    }
}

/// A Microsoft identity platform endpoint next to its token endpoint:
/// `…/oauth2/v2.0/token` → `…/oauth2/v2.0/<name>`.
pub fn microsoft_endpoint(token_uri: &Url, name: &str) -> Option<Url> {
    let path = token_uri.path();
    let base = path
        .strip_suffix("/oauth2/v2.0/token")
        .or_else(|| path.strip_suffix("/oauth2/token"))?;
    let version = if path.contains("/v2.0/") { "/v2.0" } else { "" };
    let mut url = token_uri.clone();
    url.set_path(&format!("{base}/oauth2{version}/{name}"));
    url.set_query(None);
    Some(url)
}

/// Whether `url` is the Microsoft identity platform's (global and national
/// clouds). It issues refresh tokens for `offline_access` without
/// `prompt=consent` (which would ask users who may not consent themselves),
/// and leaves `offline_access` out of the scope it reports.
pub fn is_microsoft_identity_platform(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some(
            "login.microsoftonline.com"
                | "login.microsoftonline.us"
                | "login.partner.microsoftonline.cn"
                | "login.chinacloudapi.cn"
        )
    )
}

/// AuthorizationParameters: form-encoded pairs, none of connectkit's own.
fn extra_parameters(props: &Properties) -> Result<Vec<(String, String)>, CoreError> {
    const NAME: &str = "AuthorizationParameters";
    let Some(text) = props.get_str(NAME) else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(text.trim().as_bytes())
        .into_owned()
        .collect();
    if pairs.is_empty() || pairs.iter().any(|(k, _)| k.is_empty()) {
        return Err(CoreError::invalid_property(
            NAME,
            "form-encoded name=value pairs joined by & (e.g. access_type=offline&prompt=consent)",
            Some(text),
        ));
    }
    if let Some((own, _)) = pairs
        .iter()
        .find(|(k, _)| OWN_PARAMETERS.contains(&k.as_str()))
    {
        let instead = match own.as_str() {
            "client_id" => " (set ClientID)",
            "redirect_uri" => " (set RedirectURI)",
            "scope" => " (set Scope)",
            _ => "",
        };
        return Err(CoreError::invalid_property(
            NAME,
            format!(
                "parameters other than those connectkit sets ({}); {own} is set by connectkit{instead}",
                OWN_PARAMETERS.join(", ")
            ),
            Some(text),
        ));
    }
    Ok(pairs)
}

fn url_prop(props: &Properties, name: &str) -> Result<Option<Url>, CoreError> {
    props
        .get_str(name)
        .map(|v| {
            Url::parse(v.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    CoreError::invalid_property(name, "an absolute http(s) URL", Some(v))
                })
        })
        .transpose()
}

impl Authorizer {
    /// Reads the grant's properties (TokenFile required: it receives the
    /// tokens), AuthURI, DeviceAuthURI, RedirectURI and Scope.
    pub fn from_properties(props: &Properties) -> Result<Self, CoreError> {
        if !props.contains("TokenFile") {
            return Err(CoreError::invalid_property(
                "TokenFile",
                "a file to save the tokens in: `connectkit authorize` writes the refresh token there (mode 0600) and the connection reads it from there",
                None,
            ));
        }
        let builder = RefreshTokenFlowBuilder::from_properties(props)?;
        Self::new(builder, props)
    }

    /// Uses `builder` for the token requests; its token store (a
    /// [`FileStore`](crate::FileStore), or any store with a location) receives the tokens.
    ///
    /// Unless ClientCredentialsMode (or a `GET `/`POST ` prefix) says
    /// otherwise, the code exchange is a POST with `client_secret_basic`
    /// (then body credentials, if the endpoint refuses Basic): the vendor's
    /// default form belongs to the refresh grant.
    pub fn new(
        mut builder: RefreshTokenFlowBuilder,
        props: &Properties,
    ) -> Result<Self, CoreError> {
        let scope = props.get_str("Scope").map(str::to_owned);
        let extra = extra_parameters(props)?;
        builder.rfc_form_first = true;
        let flow = builder.build()?;
        if flow.inner.store.location().is_none() {
            return Err(Error::config(
                "TokenFile",
                "a token store that outlives the process (a FileStore): the tokens obtained are saved there",
            )
            .into());
        }
        let token_url = flow.token_uri().url.clone();
        Ok(Self {
            auth_uri: url_prop(props, "AuthURI")?
                .or_else(|| microsoft_endpoint(&token_url, "authorize")),
            device_uri: url_prop(props, "DeviceAuthURI")?
                .or_else(|| microsoft_endpoint(&token_url, "devicecode")),
            redirect_uri: url_prop(props, "RedirectURI")?,
            scope,
            extra,
            flow,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// How long to wait for the user (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where the tokens are saved.
    pub fn token_store_location(&self) -> Option<String> {
        self.flow.inner.store.location()
    }

    /// Binds the loopback listener and builds the authorization URL.
    pub async fn start(&self) -> Result<PendingAuthorization, Error> {
        let auth_uri = self.auth_uri.as_ref().ok_or_else(|| {
            Error::config(
                "AuthURI",
                "the authorization endpoint (or use --device with DeviceAuthURI)",
            )
        })?;
        let loopback = Loopback::bind(self.redirect_uri.as_ref()).await?;
        let state = pkce::random_token()?;
        let pkce = Pkce::new()?;
        let mut url = auth_uri.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            if let Some(id) = &self.flow.inner.client_id {
                q.append_pair("client_id", id);
            }
            q.append_pair("redirect_uri", loopback.redirect_uri.as_str());
            if let Some(scope) = &self.scope {
                q.append_pair("scope", scope);
            }
            q.append_pair("state", state.expose_secret());
            q.append_pair("code_challenge", &pkce.challenge);
            q.append_pair("code_challenge_method", "S256");
            // OpenID Connect Core section 11: without prompt=consent the
            // provider ignores offline_access and issues no refresh token.
            if self.asks_offline_access()
                && !is_microsoft_identity_platform(auth_uri)
                && !self.extra.iter().any(|(k, _)| k == "prompt")
            {
                q.append_pair("prompt", "consent");
            }
            for (k, v) in &self.extra {
                q.append_pair(k, v);
            }
        }
        Ok(PendingAuthorization {
            url,
            loopback,
            state,
            pkce,
        })
    }

    /// Waits for the redirect (at most the timeout), exchanges the code with
    /// its verifier, and saves the tokens.
    pub async fn finish(&self, pending: PendingAuthorization) -> Result<TokenInfo, Error> {
        let redirect_uri = pending.loopback.redirect_uri.to_string();
        let code = tokio::time::timeout(self.timeout, pending.loopback.wait(&pending.state))
            .await
            .map_err(|_| Error::Authorize {
                failure: AuthorizeFailure::TimedOut,
                code: None,
                message: format!(
                    "no redirect arrived within {} s; run the command again and approve the request in the browser",
                    self.timeout.as_secs()
                ),
            })??;
        // The listener is closed here: `wait` consumed it.
        self.flow
            .inner
            .obtain(
                Grant::AuthorizationCode {
                    code,
                    redirect_uri,
                    verifier: pending.pkce.verifier,
                },
                &self.offline(),
            )
            .await
    }

    /// Whether Scope asks for `offline_access`.
    fn asks_offline_access(&self) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split_whitespace().any(|w| w == OFFLINE_ACCESS))
    }

    /// What the token response must show for the connection to renew its token.
    fn offline(&self) -> obtain::Offline {
        obtain::Offline {
            requested: self.asks_offline_access(),
            // The Microsoft identity platform does not report offline_access.
            check_scope: !is_microsoft_identity_platform(&self.flow.token_uri().url),
        }
    }

    /// Asks the device authorization endpoint for a user code.
    pub async fn device_start(&self) -> Result<DeviceAuthorization, Error> {
        let endpoint = self.device_uri.as_ref().ok_or_else(|| {
            Error::config(
                "DeviceAuthURI",
                "the device authorization endpoint (RFC 8628)",
            )
        })?;
        self.flow
            .inner
            .device_authorization(endpoint, self.scope.as_deref())
            .await
    }

    /// Polls until the user answers (at most the code's lifetime) and saves the tokens.
    pub async fn device_finish(&self, device: &DeviceAuthorization) -> Result<TokenInfo, Error> {
        self.flow.inner.poll_device(device, &self.offline()).await
    }
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("flow", &self.flow)
            .field("auth_uri", &self.auth_uri.as_ref().map(Url::as_str))
            .field("device_uri", &self.device_uri.as_ref().map(Url::as_str))
            .field("redirect_uri", &self.redirect_uri.as_ref().map(Url::as_str))
            .field("scope", &self.scope)
            .field("authorization_parameters", &self.extra)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_endpoints_are_derived_from_the_token_endpoint() {
        let t = Url::parse("https://login.microsoftonline.com/contoso/oauth2/v2.0/token").unwrap();
        assert_eq!(
            microsoft_endpoint(&t, "authorize").unwrap().as_str(),
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize"
        );
        assert_eq!(
            microsoft_endpoint(&t, "devicecode").unwrap().as_str(),
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/devicecode"
        );
        let other = Url::parse("https://idp.example/token").unwrap();
        assert!(microsoft_endpoint(&other, "authorize").is_none());
    }
}
