//! HTTP: one client per connector, the `#http` rules, Retry-After and
//! reauthentication.

use std::sync::Arc;
use std::time::Duration;

use connectkit_core::{
    AuthFlow, Error, MAX_PAGE_BYTES, network_error, read_body_limited, retry_after, send_authorized,
};
use reqwest::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::error::{AutoRestError, display_url, excerpt};

/// What to do with a response status (`#http` `#action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Read the rows.
    Ok,
    /// The table has no (more) rows.
    ZeroRows,
    /// Refresh the token once and retry.
    Reauthenticate,
    /// Wait out `Retry-After` and retry, a bounded number of times.
    RetryAfter,
    /// Fail the scan.
    Fail,
}

impl Action {
    /// Parses an `#action` value (case-insensitive).
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "OK" => Action::Ok,
            "ZERO_ROWS" => Action::ZeroRows,
            "REAUTHENTICATE" => Action::Reauthenticate,
            "RETRY_AFTER" => Action::RetryAfter,
            "FAIL" => Action::Fail,
            _ => return None,
        })
    }
}

/// The `#http` rules of a table; codes not listed take the vendor defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HttpRules {
    pub rules: Vec<(u16, Action)>,
}

impl HttpRules {
    /// The action for `status`.
    pub fn action(&self, status: u16) -> Action {
        if let Some((_, a)) = self.rules.iter().find(|(c, _)| *c == status) {
            return *a;
        }
        match status {
            200 | 206 => Action::Ok,
            400 | 404 => Action::ZeroRows,
            401 => Action::Reauthenticate,
            429 | 503 => Action::RetryAfter,
            s if (200..300).contains(&s) => Action::Ok,
            _ => Action::Fail,
        }
    }

    /// These rules, then `defaults` (the model file's top level).
    pub fn or(mut self, defaults: &HttpRules) -> HttpRules {
        self.rules.extend(defaults.rules.iter().copied());
        self
    }
}

/// A fetched page.
#[derive(Debug)]
pub(crate) enum Page {
    /// A body to read as JSON: kept as bytes, so that a scan can decode its
    /// rows in one pass (see `stream.rs`) instead of through a `Value` tree.
    Json { bytes: Vec<u8>, headers: HeaderMap },
    /// The rules say: no rows.
    ZeroRows,
}

/// The connector's HTTP side: one client (connection reuse) and the auth flow.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub auth: Arc<dyn AuthFlow>,
    /// Retries after 429/503 before giving up.
    pub max_retries: u32,
    /// The longest single wait for `Retry-After`.
    pub max_wait: Duration,
}

/// Builds the connector's client; `timeout` 0 means none. Redirects are
/// followed only within the same origin, so credentials stay with the API.
pub(crate) fn client(timeout_secs: u64) -> Result<reqwest::Client, Error> {
    let timeout = (timeout_secs > 0).then(|| Duration::from_secs(timeout_secs));
    connectkit_core::api_client_builder(timeout)
        .user_agent(concat!("connectkit-autorest/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(network_error)
}

impl Http {
    fn request(&self, url: &Url, headers: &[(String, String)]) -> Result<reqwest::Request, Error> {
        let mut req = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .build()
            .map_err(network_error)?;
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes());
            let value = HeaderValue::from_str(v);
            if let (Ok(n), Ok(v)) = (name, value) {
                req.headers_mut().insert(n, v);
            }
        }
        Ok(req)
    }

    /// GETs `url` and applies the rules: the JSON body, zero rows, or an error.
    pub async fn get(
        &self,
        url: &Url,
        headers: &[(String, String)],
        rules: &HttpRules,
    ) -> Result<Page, Error> {
        let mut retries = 0u32;
        let mut reauthenticated = false;
        loop {
            let req = self.request(url, headers)?;
            let response = send_authorized(&self.client, &*self.auth, req).await?;
            let status = response.status().as_u16();
            match rules.action(status) {
                Action::Ok => return read_json(url, response).await,
                Action::ZeroRows => return Ok(Page::ZeroRows),
                Action::Reauthenticate if status != 401 && !reauthenticated => {
                    // `send_authorized` handles 401 itself; other codes mapped
                    // to REAUTHENTICATE are handled here, once.
                    let mut rejected = self.request(url, headers)?;
                    self.auth.authorize(&mut rejected).await?;
                    self.auth.on_unauthorized(&rejected).await;
                    reauthenticated = true;
                }
                Action::Reauthenticate => {
                    return Err(AutoRestError::Unauthorized {
                        url: display_url(url),
                        status,
                    }
                    .into());
                }
                Action::RetryAfter if retries < self.max_retries => {
                    let wait = retry_after(response.headers()).unwrap_or(Duration::from_secs(1));
                    let wait = wait.min(self.max_wait);
                    tracing::debug!(status, ?wait, url = %display_url(url), "retrying after");
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                Action::RetryAfter => {
                    return Err(AutoRestError::TooManyRetries {
                        url: display_url(url),
                        status,
                        retries,
                    }
                    .into());
                }
                Action::Fail => {
                    let body = response.bytes().await.unwrap_or_default();
                    return Err(AutoRestError::Status {
                        method: "GET".into(),
                        url: display_url(url),
                        status,
                        excerpt: excerpt(&body),
                    }
                    .into());
                }
            }
        }
    }
}

async fn read_json(url: &Url, response: reqwest::Response) -> Result<Page, Error> {
    let headers = response.headers().clone();
    let bytes = read_body_limited(response, MAX_PAGE_BYTES)
        .await
        .map_err(|e| AutoRestError::Page {
            url: display_url(url),
            message: e.to_string(),
        })?;
    Ok(Page::Json { bytes, headers })
}

/// The body of a page as a `Value`.
pub(crate) fn parse_json(url: &Url, bytes: &[u8], headers: &HeaderMap) -> Result<Value, Error> {
    serde_json::from_slice::<Value>(bytes).map_err(|e| not_json(url, bytes, headers, &e))
}

/// The error for a body that is not JSON: the parser's message, the content
/// type and the start of the body.
pub(crate) fn not_json(
    url: &Url,
    bytes: &[u8],
    headers: &HeaderMap,
    e: &serde_json::Error,
) -> Error {
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type");
    AutoRestError::NotJson {
        url: display_url(url),
        message: format!("{content_type}: {e}"),
        excerpt: excerpt(bytes),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_defaults_and_overrides() {
        let r = HttpRules::default();
        assert_eq!(r.action(200), Action::Ok);
        assert_eq!(r.action(404), Action::ZeroRows);
        assert_eq!(r.action(400), Action::ZeroRows);
        assert_eq!(r.action(401), Action::Reauthenticate);
        assert_eq!(r.action(429), Action::RetryAfter);
        assert_eq!(r.action(503), Action::RetryAfter);
        assert_eq!(r.action(500), Action::Fail);
        let r = HttpRules {
            rules: vec![(404, Action::Fail)],
        };
        assert_eq!(r.action(404), Action::Fail);
        assert_eq!(Action::parse("zero_rows"), Some(Action::ZeroRows));
        assert_eq!(Action::parse("IGNORE"), None);
    }
}
