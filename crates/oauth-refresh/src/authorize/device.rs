//! The device authorization grant (RFC 8628): ask for a user code, show it,
//! then poll the token endpoint at the server's interval until the user has
//! answered, the server says `access_denied`, or the code expires.

use std::fmt;
use std::time::Duration;

use connectkit_core::TokenInfo;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use crate::config::{TokenForm, TokenMethod};
use crate::error::{AuthorizeFailure, Error};
use crate::flow::MAX_BODY_BYTES;
use crate::grant::Grant;
use crate::refresh::Inner;
use crate::request::TokenRequestParts;
use crate::response::{error_response, success_fields};
use connectkit_core::OAuthErrorCode;

/// RFC 8628 section 3.5: the interval when the server names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 section 3.5: what `slow_down` adds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// What the user must do, and what the poll needs.
pub struct DeviceAuthorization {
    /// Where the user goes.
    pub verification_uri: String,
    /// The same with the user code filled in, when the server offers it.
    pub verification_uri_complete: Option<String>,
    /// The code the user types there.
    pub user_code: String,
    /// How long the codes stay valid.
    pub expires_in: Duration,
    /// The polling interval the server asked for.
    pub interval: Duration,
    device_code: SecretString,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("verification_uri", &self.verification_uri)
            .field("user_code", &self.user_code)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

fn field(map: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn seconds(map: &serde_json::Map<String, Value>, name: &str) -> Option<Duration> {
    match map.get(name) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .map(Duration::from_secs)
}

fn malformed(what: &str) -> Error {
    Error::Authorize {
        failure: AuthorizeFailure::Other,
        code: None,
        message: format!("the device authorization answer has no {what}"),
    }
}

impl Inner {
    /// RFC 8628 section 3.1: the client authenticates as in a token request
    /// (a fresh client assertion when it has one; its secret, by HTTP Basic
    /// under the defaults; a public client names itself with `client_id`),
    /// always POSTed.
    pub(crate) async fn device_authorization(
        &self,
        endpoint: &Url,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorization, Error> {
        let mode = {
            let st = self.state.lock().await;
            if self.fallback {
                TokenForm::FALLBACKS[0].mode
            } else {
                st.form.mode
            }
        };
        let grant = Grant::DeviceAuthorization;
        let parts = TokenRequestParts {
            url: endpoint,
            form: TokenForm {
                method: TokenMethod::Post,
                mode,
            },
            client_id: self.client_id.as_deref(),
            client_secret: self.client_secret.as_ref(),
            grant: &grant,
            scope,
        };
        // The assertion's `aud` is the token endpoint here too: RFC 7523
        // section 3 and OpenID Connect Core section 9 name it as the
        // audience of client assertions, and RFC 8628 section 3.1 asks for
        // the client authentication of the token endpoint.
        let assertion = self.client_assertion_now()?;
        let redactor = self.redactor_with(
            None,
            assertion
                .as_ref()
                .map(|a| crate::assertion::secret_parts(a.expose_secret()))
                .unwrap_or_default(),
        );
        let host = endpoint.host_str().unwrap_or_default().to_owned();
        let transport = |e: reqwest::Error| Error::Transport {
            host: host.clone(),
            message: if e.is_timeout() {
                "timed out".into()
            } else {
                "the device authorization request failed".into()
            },
            timeout: e.is_timeout(),
            source: Some(std::sync::Arc::new(e.without_url())),
        };
        let response = match self
            .service
            .call(parts.build_with(&self.client, assertion.as_ref()))
            .await
        {
            Ok(r) => r,
            Err(e) => match e.downcast::<reqwest::Error>() {
                Ok(e) => return Err(transport(*e)),
                Err(other) => return Err(self.service_error(other, &redactor)),
            },
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = connectkit_core::client::read_body_limited(response, MAX_BODY_BYTES)
            .await
            .map_err(|_| Error::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            })?;
        if !(200..300).contains(&status) {
            return Err(error_response(
                status,
                1,
                content_type.as_deref(),
                &body,
                &redactor,
            ));
        }
        let map = success_fields(status, content_type.as_deref(), &body)?;
        Ok(DeviceAuthorization {
            device_code: SecretString::from(
                field(&map, "device_code").ok_or_else(|| malformed("device_code"))?,
            ),
            user_code: field(&map, "user_code").ok_or_else(|| malformed("user_code"))?,
            // Some servers (Google, older Microsoft) spell it verification_url.
            verification_uri: field(&map, "verification_uri")
                .or_else(|| field(&map, "verification_url"))
                .ok_or_else(|| malformed("verification_uri"))?,
            verification_uri_complete: field(&map, "verification_uri_complete"),
            expires_in: seconds(&map, "expires_in").ok_or_else(|| malformed("expires_in"))?,
            interval: seconds(&map, "interval")
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_INTERVAL),
        })
    }

    /// Polls until the user answers or the device code expires.
    pub(crate) async fn poll_device(
        &self,
        d: &DeviceAuthorization,
        offline: &super::obtain::Offline,
    ) -> Result<TokenInfo, Error> {
        let expires = Instant::now() + d.expires_in;
        let mut interval = d.interval;
        loop {
            tokio::time::sleep(interval).await;
            if Instant::now() >= expires {
                return Err(Error::Authorize {
                    failure: AuthorizeFailure::TimedOut,
                    code: Some(OAuthErrorCode::ExpiredToken),
                    message: format!(
                        "the user code expired after {} s without an answer",
                        d.expires_in.as_secs()
                    ),
                });
            }
            match self
                .obtain(Grant::DeviceCode(d.device_code.clone()), offline)
                .await
            {
                Ok(info) => return Ok(info),
                Err(Error::OAuth(o)) => {
                    match o.code {
                        OAuthErrorCode::AuthorizationPending => {}
                        OAuthErrorCode::SlowDown => {
                            interval += SLOW_DOWN_STEP;
                            tracing::debug!(
                                interval_s = interval.as_secs(),
                                "slow_down: polling less often"
                            );
                        }
                        OAuthErrorCode::AccessDenied | OAuthErrorCode::ExpiredToken => {
                            return Err(Error::Authorize {
                            failure: if o.code == OAuthErrorCode::AccessDenied {
                                AuthorizeFailure::Denied
                            } else {
                                AuthorizeFailure::TimedOut
                            },
                            message: match o.code {
                                OAuthErrorCode::AccessDenied => {
                                    "the user denied the request (access_denied)".to_owned()
                                }
                                _ => "the user code expired before the user answered (expired_token)"
                                    .to_owned(),
                            },
                            code: Some(o.code),
                        });
                        }
                        _ => return Err(Error::OAuth(o)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}
