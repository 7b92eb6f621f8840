//! The token request on the wire: request forms (and the default-form
//! fallback), deadlines, and retries that can never burn a refresh token.

use std::time::Duration;

use connectkit_core::client::{BodyError, Redactor, ServiceError, ServiceFailure};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::config::TokenForm;
use crate::error::Error;
use crate::flow::MAX_BODY_BYTES;
use crate::grant::Grant;
use crate::refresh::Inner;
use crate::refresh::State;
use crate::request::TokenRequestParts;
use crate::response::{error_response, success_fields};
use connectkit_core::OAuthErrorCode;

/// What one attempt brought back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Whether the endpoint refused the *form* of the request (method or client
/// authentication), before looking at the refresh token. A plain 404 counts:
/// routers that serve the token endpoint for POST alone answer a GET with
/// "Not Found" (oidc-provider on koa does), and a 404 never consumed a grant.
fn rejects_form(e: &Error) -> bool {
    match e {
        Error::UnexpectedResponse {
            status: 404 | 405, ..
        } => true,
        Error::OAuth(o) => {
            o.status == 405
                || (matches!(
                    o.code,
                    OAuthErrorCode::InvalidRequest | OAuthErrorCode::InvalidClient
                ) && (400..500).contains(&o.status))
        }
        _ => false,
    }
}

fn short(e: &Error) -> String {
    match e {
        Error::OAuth(o) => format!("HTTP {} {}", o.status, o.code),
        Error::UnexpectedResponse { status, .. } => format!("HTTP {status}"),
        other => other.to_string(),
    }
}

impl Inner {
    /// Sends the grant in the current form; when the user left the form at
    /// its defaults and the endpoint refuses it, tries POST with Basic, then
    /// POST with body credentials, and keeps the one that works.
    pub(crate) async fn exchange(
        &self,
        st: &mut State,
        grant: &Grant,
        deadline: Option<Instant>,
    ) -> Result<(u16, Map<String, Value>), Error> {
        let mut forms = vec![st.form];
        if self.fallback {
            forms.extend(TokenForm::FALLBACKS.iter().filter(|f| **f != st.form));
        }
        let mut tried = Vec::new();
        for (i, form) in forms.iter().enumerate() {
            match self.request_token(*form, st, grant, deadline).await {
                Ok(ok) => {
                    if i > 0 {
                        tracing::info!(
                            form = %form,
                            "the token endpoint accepted {form}; using it from now on (and recording it in the token store)"
                        );
                        st.form = *form;
                        st.form_learned = true;
                    }
                    return Ok(ok);
                }
                Err(e) if self.fallback && rejects_form(&e) => {
                    tracing::info!(form = %form, answer = %short(&e), "the token endpoint refused this request form");
                    tried.push(format!("{form}: {}", short(&e)));
                    if i + 1 == forms.len() {
                        return Err(Error::NoFormAccepted {
                            tried,
                            last: Box::new(e),
                        });
                    }
                }
                Err(e) => return Err(self.with_token_source(e, st)),
            }
        }
        unreachable!("the loop returns on its last form")
    }

    async fn request_token(
        &self,
        form: TokenForm,
        st: &State,
        grant: &Grant,
        deadline: Option<Instant>,
    ) -> Result<(u16, Map<String, Value>), Error> {
        let parts = TokenRequestParts {
            url: &self.uri.url,
            form,
            client_id: self.client_id.as_deref(),
            client_secret: self.client_secret.as_ref(),
            grant,
            scope: self.scope.as_deref(),
        };
        let assertion = self.client_assertion_now()?;
        let first = parts.build_with(&self.client, assertion.as_ref());
        let basic = first
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Every spelling of the grant's secrets and of each assertion sent
        // (the token and its signature) is masked in what the server answers.
        let mut assertions: Vec<SecretString> = assertion.into_iter().collect();
        let redactor_for = |assertions: &[SecretString]| {
            let mut secrets = grant.secrets();
            for a in assertions {
                secrets.extend(crate::assertion::secret_parts(a.expose_secret()));
            }
            let mut redactor = self.redactor_with(Some(st), secrets);
            if let Some(basic) = &basic {
                redactor = redactor.also(basic);
                if let Some(b64) = basic.strip_prefix("Basic ") {
                    redactor = redactor.also(b64);
                }
            }
            redactor
        };
        let mut redactor = redactor_for(&assertions);
        let mut request = Some(first);
        let mut attempt = 0u32;
        let started = Instant::now();
        loop {
            attempt += 1;
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if remaining == Some(Duration::ZERO) {
                return Err(self.deadline_error(self.refresh_timeout, "TokenRefreshTimeout"));
            }
            let limit = match (self.request_timeout, remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let req = match request.take() {
                Some(r) => r,
                None => {
                    // Every attempt carries a fresh assertion (its own jti).
                    let assertion = self.client_assertion_now()?;
                    let request = parts.build_with(&self.client, assertion.as_ref());
                    if let Some(a) = assertion {
                        assertions.push(a);
                        redactor = redactor_for(&assertions);
                    }
                    request
                }
            };
            let sent = async {
                let response = self.service.call(req).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body =
                    connectkit_core::client::read_body_limited(response, MAX_BODY_BYTES).await;
                Ok::<_, ServiceError>((status, headers, body))
            };
            let outcome = match limit {
                Some(l) => match tokio::time::timeout(l, sent).await {
                    Ok(r) => r,
                    Err(_) => {
                        let which = if Some(l) == self.request_timeout {
                            "TokenRequestTimeout"
                        } else {
                            "TokenRefreshTimeout"
                        };
                        return Err(self.deadline_error(Some(l), which));
                    }
                },
                None => sent.await,
            };
            let answer = match outcome {
                Ok((status, headers, Ok(body))) => Answer {
                    status,
                    headers,
                    body,
                },
                Ok((_, _, Err(BodyError::Transport(e)))) => {
                    return Err(self.transport(e));
                }
                Ok((_, _, Err(_))) => {
                    return Err(Error::BodyTooLarge {
                        limit: MAX_BODY_BYTES,
                    });
                }
                Err(e) => {
                    let e = match e.downcast::<reqwest::Error>() {
                        Ok(e) => *e,
                        Err(other) => return Err(self.service_error(other, &redactor)),
                    };
                    // A refused connection was certainly not processed.
                    if e.is_connect() && attempt <= self.retry.max_retries {
                        let delay = self.retry.delay(attempt, &HeaderMap::new());
                        if self.retry.allows(attempt, started, delay)
                            && remaining.is_none_or(|r| delay < r)
                        {
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                    return Err(self.transport(e));
                }
            };
            let content_type = answer
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if answer.status.is_success() {
                let fields = success_fields(
                    answer.status.as_u16(),
                    content_type.as_deref(),
                    &answer.body,
                )?;
                return Ok((answer.status.as_u16(), fields));
            }
            if self.may_retry(st, &answer) && attempt <= self.retry.max_retries {
                let delay = self.retry.delay(attempt, &answer.headers);
                if self.retry.allows(attempt, started, delay) && remaining.is_none_or(|r| delay < r)
                {
                    tracing::debug!(
                        status = answer.status.as_u16(),
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        "token endpoint busy; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
            } else if st.rotates && answer.status.is_server_error() {
                tracing::warn!(
                    status = answer.status.as_u16(),
                    "not retried: the endpoint rotates refresh tokens and may have processed this request, so sending the same token again could revoke the grant"
                );
            }
            return Err(error_response(
                answer.status.as_u16(),
                attempt,
                content_type.as_deref(),
                &answer.body,
                &redactor,
            ));
        }
    }

    /// Whether an answer may be retried (how often and after how long is the
    /// [`RetryConfig`](connectkit_core::client::RetryConfig)'s): 429 and
    /// 5xx. Once the endpoint has rotated a refresh token, only answers that
    /// certainly were not processed are retried: 429, and 503 with
    /// Retry-After. A 500/502/504 may come after the grant was consumed.
    fn may_retry(&self, st: &State, answer: &Answer) -> bool {
        let s = answer.status;
        if st.rotates {
            s == StatusCode::TOO_MANY_REQUESTS
                || (s == StatusCode::SERVICE_UNAVAILABLE
                    && answer.headers.contains_key(RETRY_AFTER))
        } else {
            s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
        }
    }

    /// A freshly signed client assertion, when the client authenticates with one.
    pub(crate) fn client_assertion_now(&self) -> Result<Option<SecretString>, Error> {
        let Some(assertion) = &self.client_assertion else {
            return Ok(None);
        };
        let id = self
            .client_id
            .as_deref()
            .ok_or_else(|| Error::MissingProperty {
                property: "ClientID".into(),
            })?;
        assertion
            .sign(id, &self.uri.display_url(), self.client_secret.as_ref())
            .map(Some)
    }

    fn host(&self) -> String {
        self.uri.url.host_str().unwrap_or_default().to_owned()
    }

    fn deadline_error(&self, limit: Option<Duration>, property: &str) -> Error {
        let secs = limit.map(|d| d.as_secs_f64()).unwrap_or_default();
        Error::Transport {
            host: self.host(),
            message: format!("no complete answer within {secs:.1} s ({property})"),
            timeout: true,
            source: None,
        }
    }

    /// A failure of a service of the caller's own (not reqwest's), its
    /// message masked by `redactor`.
    pub(crate) fn service_error(&self, e: ServiceError, redactor: &Redactor) -> Error {
        Error::Service {
            host: self.host(),
            source: ServiceFailure::new(e, redactor),
        }
    }

    fn transport(&self, e: reqwest::Error) -> Error {
        let problem = connectkit_core::client::certificate_problem(&e);
        let message = if let Some(p) = &problem {
            p.as_str()
        } else if e.is_timeout() && e.is_connect() {
            "connecting timed out (ConnectTimeout)"
        } else if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else if e.is_body() || e.is_decode() {
            "reading the response failed"
        } else {
            "request failed"
        };
        Error::Transport {
            host: self.host(),
            message: message.to_owned(),
            timeout: e.is_timeout(),
            // reqwest's own message names the URL, whose query may hold
            // credentials: it goes without it; its causes name no URL.
            source: Some(std::sync::Arc::new(e.without_url())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OAuthError;

    fn oauth(status: u16, code: &str) -> Error {
        Error::OAuth(OAuthError {
            code: OAuthErrorCode::parse(code),
            description: None,
            uri: None,
            status,
            refresh_token_source: None,
        })
    }

    #[test]
    fn which_answers_reject_the_form() {
        assert!(rejects_form(&Error::UnexpectedResponse {
            status: 405,
            attempts: 1,
            excerpt: String::new()
        }));
        assert!(rejects_form(&oauth(405, "method_not_allowed")));
        assert!(rejects_form(&oauth(404, "invalid_request")));
        assert!(rejects_form(&oauth(400, "invalid_request")));
        assert!(rejects_form(&oauth(401, "invalid_client")));
        assert!(!rejects_form(&oauth(400, "invalid_grant")));
        assert!(!rejects_form(&oauth(500, "invalid_request")));
        assert!(rejects_form(&Error::UnexpectedResponse {
            status: 404,
            attempts: 1,
            excerpt: String::new()
        }));
        assert!(!rejects_form(&Error::UnexpectedResponse {
            status: 500,
            attempts: 1,
            excerpt: String::new()
        }));
    }
}
