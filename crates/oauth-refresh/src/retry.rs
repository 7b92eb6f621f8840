//! Bounded retries of the token request: capped exponential backoff that
//! honours `Retry-After` (seconds or an HTTP date).

use std::time::Duration;

use connectkit_core::client::retry_after;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How the token request is retried on 429 and 5xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// The first backoff (default 100 ms), doubled after each retry.
    pub initial_backoff: Duration,
    /// The longest backoff, and the longest `Retry-After` honoured (default 30 s).
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first backoff.
    pub fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the longest backoff and the longest `Retry-After` honoured.
    pub fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Whether an answer with `status` is worth another attempt.
    pub fn is_retryable(status: StatusCode) -> bool {
        status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
    }

    /// How long to wait before retry number `retry` (0-based): the server's
    /// `Retry-After` when it gives one, else the exponential backoff; capped.
    pub fn delay(&self, retry: u32, headers: &HeaderMap) -> Duration {
        let backoff = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(16)));
        retry_after(headers)
            .unwrap_or(backoff)
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};
    use std::time::SystemTime;

    #[test]
    fn delays() {
        let c = RetryConfig::default();
        let none = HeaderMap::new();
        assert_eq!(c.delay(0, &none), Duration::from_millis(100));
        assert_eq!(c.delay(2, &none), Duration::from_millis(400));
        assert_eq!(c.delay(30, &none), Duration::from_secs(30));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(c.delay(0, &h), Duration::from_secs(7));
        h.insert(RETRY_AFTER, HeaderValue::from_static("100000"));
        assert_eq!(c.delay(0, &h), Duration::from_secs(30));
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let d = c.delay(0, &h);
        assert!(
            d <= Duration::from_secs(20) && d >= Duration::from_secs(18),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(c.delay(1, &h), Duration::from_millis(200));
    }
}
