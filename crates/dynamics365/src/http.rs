//! Sending Web API requests: OData headers, the grant's authorize-and-retry,
//! throttling (429/503 with `Retry-After`) and error bodies.

use std::sync::Arc;
use std::time::Duration;

use connectkit_core::{AuthFlow, MAX_PAGE_BYTES, read_body_limited, retry_after, send_authorized};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue};
use url::Url;

use crate::error::{Dynamics365Error, display_url, excerpt};
use crate::odata::parse_error_body;

/// `Accept` of data requests.
pub(crate) const JSON: &str = "application/json";
/// `Accept` of the `$metadata` request: the connector reads CSDL XML, and a
/// server that also speaks JSON CSDL (OData 4.01) must not pick that.
pub(crate) const XML: &str = "application/xml";

/// How throttled requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttling {
    /// Retries after the first attempt.
    pub(crate) max_retries: u32,
    /// The longest single wait, whatever `Retry-After` says.
    pub(crate) max_wait: Duration,
}

impl Default for Throttling {
    fn default() -> Self {
        Self {
            max_retries: 5,
            // Dataverse's service protection limits ask for up to 5 minutes.
            max_wait: Duration::from_secs(300),
        }
    }
}

impl Throttling {
    /// The wait before retry number `retry` (1-based): `Retry-After` when
    /// the server gives one, else 1 s doubled per retry; capped.
    fn delay(&self, retry: u32, headers: &reqwest::header::HeaderMap) -> Duration {
        retry_after(headers)
            .unwrap_or_else(|| Duration::from_secs(1u64 << retry.saturating_sub(1).min(16)))
            .min(self.max_wait)
    }
}

/// The Web API: where it is, how requests are authorized and retried.
#[derive(Clone, Debug)]
pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) auth: Arc<dyn AuthFlow>,
    /// ServiceURL, always ending in `/`.
    pub(crate) base: Url,
    pub(crate) throttling: Throttling,
}

impl Api {
    /// GETs `url` and returns the body of a 2xx answer. 401 goes through the
    /// grant once (refresh, retry); 429 and 503 are waited out up to the
    /// bound; other statuses become errors, OData error bodies typed.
    pub(crate) async fn get(
        &self,
        url: &Url,
        accept: &'static str,
        prefer: Option<&str>,
    ) -> connectkit_core::Result<String> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let mut request = reqwest::Request::new(reqwest::Method::GET, url.clone());
            let headers = request.headers_mut();
            headers.insert(ACCEPT, HeaderValue::from_static(accept));
            headers.insert("OData-Version", HeaderValue::from_static("4.0"));
            headers.insert("OData-MaxVersion", HeaderValue::from_static("4.0"));
            if let Some(p) = prefer.and_then(|p| HeaderValue::from_str(p).ok()) {
                headers.insert("Prefer", p);
            }
            tracing::debug!(url = %display_url(url), attempts, "GET");
            let response = send_authorized(&self.client, &*self.auth, request).await?;
            let status = response.status();
            if status.is_success() {
                let body = read_body_limited(response, MAX_PAGE_BYTES)
                    .await
                    .map_err(|e| Dynamics365Error::Body {
                        url: display_url(url),
                        message: e.to_string(),
                    })?;
                return Ok(String::from_utf8_lossy(&body).into_owned());
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Dynamics365Error::Unauthorized {
                    url: display_url(url),
                }
                .into());
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                if attempts > self.throttling.max_retries {
                    return Err(Dynamics365Error::Throttled {
                        status: status.as_u16(),
                        url: display_url(url),
                        attempts,
                    }
                    .into());
                }
                let wait = self.throttling.delay(attempts, response.headers());
                tracing::warn!(status = status.as_u16(), ?wait, url = %display_url(url), "throttled; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            let body = read_body_limited(response, MAX_PAGE_BYTES)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            return Err(match parse_error_body(&body) {
                Some((code, message)) => Dynamics365Error::OData {
                    status: status.as_u16(),
                    code,
                    message,
                },
                None => Dynamics365Error::Http {
                    status: status.as_u16(),
                    url: display_url(url),
                    excerpt: excerpt(&body),
                },
            }
            .into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, RETRY_AFTER};

    #[test]
    fn throttling_delays() {
        let t = Throttling::default();
        let mut h = HeaderMap::new();
        assert_eq!(t.delay(1, &h), Duration::from_secs(1));
        assert_eq!(t.delay(3, &h), Duration::from_secs(4));
        assert_eq!(t.delay(40, &h), Duration::from_secs(300));
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(t.delay(1, &h), Duration::from_secs(7));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(t.delay(1, &h), Duration::from_secs(300));
        let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(20));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let d = t.delay(1, &h);
        assert!(
            d <= Duration::from_secs(20) && d >= Duration::from_secs(18),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(t.delay(1, &h), Duration::ZERO);
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(t.delay(2, &h), Duration::from_secs(2));
    }
}
