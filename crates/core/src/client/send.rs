//! [`ApiClient`]: every API request of every connector goes through
//! [`ApiClient::fetch`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Request, Url};

use super::body::{self, Body, ErrorDetail, Fetched, MAX_PAGE_BYTES};
use super::error::ApiError;
use super::http::{MAX_REDIRECTS, display_url};
use super::redact::{Redactor, added_query_values, header_secrets};
use super::retry::{RetryConfig, is_idempotent, is_retryable_transport};
use super::rules::{Action, HttpRules};
use super::scope::CredentialScope;
use super::service::{HttpService, ServiceFailure};
use super::throttle::Throttle;
use crate::auth::AuthFlow;
use crate::error::Result;

/// The HTTP layer of a connector: one `reqwest::Client` (or another
/// [`HttpService`]), its [`AuthFlow`], the [`CredentialScope`] and the
/// [`RetryConfig`].
///
/// [`fetch`](ApiClient::fetch) refuses a request outside the scope before
/// authorizing it, follows redirects itself (same origin only, at most
/// [`MAX_REDIRECTS`]), refreshes the token once on 401, retries throttled and
/// failed-in-transit requests within the bounds, reads bodies within limits,
/// and maps every failure to an [`ApiError`] that names method, host and path.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    service: Arc<dyn HttpService>,
    auth: Arc<dyn AuthFlow>,
    scope: Arc<CredentialScope>,
    retry: RetryConfig,
    pub(super) error_detail: Option<ErrorDetail>,
    throttle: Arc<Throttle>,
}

/// Drops every `name=...` pair from `url`'s query string.
fn remove_query_param(url: &mut Url, name: &str) {
    if !url.query_pairs().any(|(k, _)| k == name) {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("auth", &self.auth)
            .field("scope", &self.scope)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client sending through `http` (build it with
    /// [`api_client_builder`](crate::client::api_client_builder), which follows no
    /// redirect by itself), authorizing with `auth`, within `scope`.
    pub fn new(http: reqwest::Client, auth: Arc<dyn AuthFlow>, scope: CredentialScope) -> Self {
        Self {
            service: Arc::new(http.clone()),
            http,
            auth,
            scope: Arc::new(scope),
            retry: RetryConfig::default(),
            error_detail: None,
            throttle: Arc::default(),
        }
    }

    /// Sends through `service` instead of the `reqwest::Client` (which
    /// still builds the requests: [`http`](Self::http)). Everything else
    /// stays this client's: scope checks, authorization, redirects, retries,
    /// status rules and body limits. The client's own settings (timeouts,
    /// default headers such as `User-Agent`, proxy, TLS) apply only when the
    /// service sends through it.
    pub fn with_service(mut self, service: Arc<dyn HttpService>) -> Self {
        self.service = service;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how a server's error message is read from an error body.
    pub fn with_error_detail(mut self, detail: ErrorDetail) -> Self {
        self.error_detail = Some(detail);
        self
    }

    /// The origins requests may go to.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// The auth flow.
    pub fn auth(&self) -> &Arc<dyn AuthFlow> {
        &self.auth
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryConfig {
        &self.retry
    }

    /// The throttling answers this client (and every clone of it) has seen.
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// The service requests are sent through.
    pub fn service(&self) -> &Arc<dyn HttpService> {
        &self.service
    }

    /// The underlying reqwest client (to build requests).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends `request` under `rules` and reads the answer.
    pub async fn fetch(&self, request: Request, rules: &HttpRules) -> Result<Fetched> {
        let mut template = request;
        self.scope.check(template.url(), "request")?;
        let method = template.method().clone();
        let started = tokio::time::Instant::now();
        let mut attempts = 0u32;
        let mut redirects = 0usize;
        let mut reauthenticated = false;
        let mut retried_once = false;
        // A request whose body cannot be cloned (a stream) is sent once, as
        // is: it cannot be retried, refreshed and resent, or redirected.
        let once = template.try_clone().is_none();
        let mut original = None;
        if once {
            let placeholder = Request::new(method.clone(), template.url().clone());
            original = Some(std::mem::replace(&mut template, placeholder));
        }
        loop {
            let mut request = match original.take() {
                Some(r) => r,
                None => template.try_clone().filter(|_| !once).ok_or_else(|| {
                    ApiError::Redirect {
                        method: method.to_string(),
                        url: display_url(template.url()),
                        message: "the request body is a stream, so it cannot be sent again (retry, refresh or redirect)".into(),
                    }
                })?,
            };
            attempts += 1;
            // A server that asked this client to wait (429, 503 with
            // Retry-After) gets no new request before the wait is over.
            self.throttle.pause().await;
            // The URL as the connector asked for it, without a credential
            // the flow puts in the query string (pages, links, Debug).
            if let Some(param) = self.auth.credential_query_param() {
                remove_query_param(request.url_mut(), param);
            }
            let url = request.url().clone();
            let query = request.url().query().map(str::to_owned);
            self.auth.authorize(&mut request).await?;
            let mut secrets = header_secrets(request.headers());
            // A credential the flow put in the query string (an API key).
            if request.url().query() != query.as_deref() {
                secrets.extend(added_query_values(query.as_deref(), request.url()));
            }
            let sent = request.try_clone();
            tracing::debug!(%method, url = %display_url(&url), attempts, "sending");
            super::count::count_one();
            let response = match self.service.call(request).await {
                Ok(r) => r,
                Err(e) => {
                    let e = match e.downcast::<reqwest::Error>() {
                        Ok(e) => *e,
                        Err(other) => {
                            let redactor = Redactor::new(secrets.iter().map(String::as_str));
                            return Err(ApiError::Service {
                                method: method.to_string(),
                                url: display_url(&url),
                                source: ServiceFailure::new(other, &redactor),
                            }
                            .into());
                        }
                    };
                    if is_idempotent(&method)
                        && is_retryable_transport(&e)
                        && self.may_retry(attempts, started, Duration::ZERO)
                    {
                        let wait = self.retry.delay(attempts, &HeaderMap::new());
                        tracing::warn!(%method, url = %display_url(&url), ?wait, "connection lost; retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(ApiError::Transport {
                        method: method.to_string(),
                        url: display_url(&url),
                        source: e.without_url(),
                    }
                    .into());
                }
            };
            let status = response.status().as_u16();
            if response.status().is_redirection() && response.headers().contains_key(LOCATION) {
                let next = self.redirect_target(&method, &url, response.headers(), redirects)?;
                redirects += 1;
                *template.url_mut() = next;
                attempts -= 1;
                continue;
            }
            // A rule that matches on body text needs the body first.
            let headers = response.headers().clone();
            let (response, early) = if rules.needs_body(status) {
                let bytes = body::read(&method, &url, response, MAX_PAGE_BYTES).await?;
                (None, Some(bytes))
            } else {
                (Some(response), None)
            };
            let (action, message) = rules.decide(&method, status, early.as_deref());
            let retry = |why: &str| ApiError::RetriesExhausted {
                method: method.to_string(),
                url: display_url(&url),
                status,
                attempts,
                why: why.to_owned(),
            };
            match action {
                Action::Ok => {
                    let bytes = match (early, response) {
                        (Some(b), _) => b,
                        (None, Some(r)) => body::read(&method, &url, r, MAX_PAGE_BYTES).await?,
                        (None, None) => Vec::new(),
                    };
                    return Ok(Fetched::Body(Body {
                        url,
                        status,
                        headers,
                        bytes,
                    }));
                }
                Action::ZeroRows => return Ok(Fetched::ZeroRows { status }),
                Action::Reauthenticate | Action::Reset if !reauthenticated => {
                    if let Some(sent) = &sent {
                        self.auth.on_unauthorized(sent).await;
                    }
                    reauthenticated = true;
                    attempts -= 1;
                }
                Action::Reauthenticate => {
                    return Err(ApiError::Unauthorized {
                        method: method.to_string(),
                        url: display_url(&url),
                        status,
                    }
                    .into());
                }
                Action::RetryAfter | Action::RetryGoogle | Action::RetryAws => {
                    let max = match action {
                        Action::RetryGoogle => self.retry.max_retries.min(5),
                        _ => self.retry.max_retries,
                    };
                    let wait = self.retry.delay(attempts, &headers);
                    if matches!(status, 429 | 503) {
                        self.throttle.record(wait);
                    }
                    if attempts > max || !self.may_retry(attempts, started, wait) {
                        let why = if attempts > max {
                            format!("MaxRetries={max}")
                        } else {
                            format!(
                                "waiting {}s more would pass RetryTimeout={}s",
                                wait.as_secs(),
                                self.retry.timeout.as_secs()
                            )
                        };
                        return Err(retry(&why).into());
                    }
                    tracing::warn!(%method, status, url = %display_url(&url), ?wait, "retrying after");
                    drop(response);
                    tokio::time::sleep(wait).await;
                }
                Action::RetryOnce => {
                    if retried_once {
                        return Err(retry("RETRY_ONCE retries once").into());
                    }
                    retried_once = true;
                    let wait = self.retry.delay(1, &headers);
                    tracing::warn!(%method, status, url = %display_url(&url), ?wait, "retrying once");
                    drop(response);
                    tokio::time::sleep(wait).await;
                }
                Action::RetryFixed => {
                    let wait = Duration::from_secs(1);
                    if !self.may_retry(attempts, started, wait) {
                        return Err(retry(&format!(
                            "MaxRetries={} (RETRY_FIXED)",
                            self.retry.max_retries
                        ))
                        .into());
                    }
                    tracing::warn!(%method, status, url = %display_url(&url), ?wait, "retrying");
                    drop(response);
                    tokio::time::sleep(wait).await;
                }
                Action::Fail | Action::Reset => {
                    let detail = match (early, response) {
                        // A 407 is the proxy's page, not the server's: it
                        // may echo the proxy login it was sent (which this
                        // client cannot mask: reqwest adds it), and the
                        // proxy hint says what to do.
                        _ if status == 407 => String::new(),
                        (Some(b), _) => body::detail_of(&b, false, self.error_detail, &secrets),
                        (None, Some(r)) => body::error_detail(r, self.error_detail, &secrets).await,
                        (None, None) => String::new(),
                    };
                    let detail = match message {
                        Some(m) => format!("{m} (server: {detail})"),
                        None => detail,
                    };
                    return Err(ApiError::Status {
                        method: method.to_string(),
                        url: display_url(&url),
                        status,
                        detail,
                    }
                    .into());
                }
            }
        }
    }

    fn may_retry(&self, attempts: u32, started: tokio::time::Instant, wait: Duration) -> bool {
        self.retry.allows(attempts, started, wait)
    }

    fn redirect_target(
        &self,
        method: &reqwest::Method,
        url: &Url,
        headers: &HeaderMap,
        redirects: usize,
    ) -> Result<Url> {
        let err = |message: String| ApiError::Redirect {
            method: method.to_string(),
            url: display_url(url),
            message,
        };
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| err("a redirect whose Location is not text".into()))?;
        let next = url
            .join(location)
            .map_err(|e| err(format!("a redirect to an invalid URL ({e})")))?;
        self.scope.check(&next, "redirect")?;
        if redirects >= MAX_REDIRECTS {
            return Err(err(format!("more than {MAX_REDIRECTS} redirects")).into());
        }
        Ok(next)
    }
}
