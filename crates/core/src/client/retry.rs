//! One retry policy for every connector: which answers are retried, how long
//! to wait, and when to give up.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;

use super::http::retry_after;
use crate::error::Result;
use crate::properties::{CLIENT_PROPERTIES, Properties};

/// How requests are retried after 429, 503, 502/504 (idempotent requests
/// only) and connection resets (idempotent requests only).
///
/// The wait before retry `n` is the server's `Retry-After` (seconds or an
/// HTTP date) when it sends one, else `initial_backoff * 2^(n-1)` capped at
/// `max_backoff`, with jitter (a random factor between 0.5 and 1, unless
/// `jitter` is off) so that many clients do not retry in step. No single wait
/// exceeds `max_wait`, and no retry starts once `timeout` has passed since
/// the first attempt.
///
/// [`Default`] is the policy of API requests;
/// [`token_endpoint`](Self::token_endpoint) is the policy of OAuth token
/// requests (connectkit-oauth-refresh re-exports this type as its own
/// `RetryConfig`, and decides there which answers of the token endpoint are
/// safe to retry).
///
/// ```
/// use std::time::Duration;
/// use connectkit_core::client::RetryConfig;
///
/// let retry = RetryConfig::default()
///     .with_max_retries(2)
///     .with_initial_backoff(Duration::from_millis(10))
///     .with_jitter(false);
/// let none = connectkit_core::reqwest::header::HeaderMap::new();
/// assert_eq!(retry.delay(1, &none), Duration::from_millis(10));
/// assert_eq!(retry.delay(2, &none), Duration::from_millis(20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt (property `MaxRetries`, default 5).
    pub max_retries: u32,
    /// The first backoff without `Retry-After` (500 ms).
    pub initial_backoff: Duration,
    /// The longest backoff without `Retry-After` (30 s).
    pub max_backoff: Duration,
    /// The longest single wait, `Retry-After` included (property
    /// `MaxRetryWait`, seconds, default 300: Dataverse asks for up to 5 minutes).
    pub max_wait: Duration,
    /// The most time spent on one request across its retries (property
    /// `RetryTimeout`, seconds, default 600).
    pub timeout: Duration,
    /// Whether a backoff without `Retry-After` is multiplied by a random
    /// factor between 0.5 and 1 (default on; off gives exact, repeatable
    /// waits).
    pub jitter: bool,
}

impl Default for RetryConfig {
    /// The policy of API requests: a first backoff of 500 ms, backoffs of
    /// at most 30 s, with jitter, and `MaxRetries`, `MaxRetryWait` and
    /// `RetryTimeout` at the defaults of [`CLIENT_PROPERTIES`].
    fn default() -> Self {
        Self::from_properties(&Properties::new())
            .expect("the defaults of CLIENT_PROPERTIES are whole numbers")
    }
}

impl RetryConfig {
    /// The policy of OAuth token requests (connectkit-oauth-refresh's
    /// default): 3 retries, a first backoff of 100 ms, no backoff and no
    /// `Retry-After` longer than 30 s, with jitter, and no time bound of its
    /// own (the grant's `TokenRefreshTimeout` bounds a refresh).
    pub fn token_endpoint() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            max_wait: Duration::from_secs(30),
            timeout: Duration::MAX,
            jitter: true,
        }
    }

    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the first backoff without `Retry-After`.
    pub fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the longest backoff without `Retry-After`.
    pub fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets the longest single wait, `Retry-After` included.
    pub fn with_max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }

    /// Sets the most time spent on one request across its retries.
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Turns the jitter of backoffs without `Retry-After` on or off.
    pub fn with_jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Reads `MaxRetries`, `MaxRetryWait` and `RetryTimeout` (whole
    /// numbers; absent ones take the defaults of [`CLIENT_PROPERTIES`]).
    pub fn from_properties(props: &Properties) -> Result<Self> {
        let typed = props.typed(CLIENT_PROPERTIES);
        // A number of retries beyond u32 saturates: it is a bound.
        let max_retries = typed.whole::<u64>("MaxRetries")?;
        Ok(Self {
            max_retries: u32::try_from(max_retries).unwrap_or(u32::MAX),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_wait: typed.seconds("MaxRetryWait")?,
            timeout: typed.seconds("RetryTimeout")?,
            jitter: true,
        })
    }

    /// The wait before retry number `retry` (1-based: the first retry is
    /// number 1 and waits at most `initial_backoff`).
    pub fn delay(&self, retry: u32, headers: &HeaderMap) -> Duration {
        let wait = retry_after(headers).unwrap_or_else(|| {
            let exp = self
                .initial_backoff
                .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
                .min(self.max_backoff);
            if self.jitter {
                exp.mul_f64(0.5 + fastrand::f64() * 0.5)
            } else {
                exp
            }
        });
        wait.min(self.max_wait)
    }

    /// Whether another retry may start `wait` from now, after `attempts`
    /// attempts begun at `started`: within `max_retries` and `timeout`.
    pub fn allows(&self, attempts: u32, started: tokio::time::Instant, wait: Duration) -> bool {
        attempts <= self.max_retries && started.elapsed().saturating_add(wait) <= self.timeout
    }
}

/// Whether `method` may be repeated without changing the result (RFC 9110
/// section 9.2.2), so that an answer that may follow processing (502, 504,
/// a reset connection) can be retried.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Whether a transport error of an idempotent request is worth a retry: the
/// connection was reset or closed while the request or answer was in
/// flight. Connection refused, DNS and TLS failures and timeouts are not:
/// retrying would only delay a clear error.
pub fn is_retryable_transport(err: &reqwest::Error) -> bool {
    if err.is_timeout() || err.is_connect() || err.is_builder() || err.is_redirect() {
        return false;
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        let text = s.to_string();
        if text.contains("connection closed before message completed")
            || text.contains("connection reset")
        {
            return true;
        }
        source = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn backoff_is_capped_and_jittered() {
        let c = RetryConfig::default();
        let h = HeaderMap::new();
        for retry in 1..40 {
            let d = c.delay(retry, &h);
            let full = Duration::from_millis(500)
                .saturating_mul(1 << (retry - 1).min(20))
                .min(Duration::from_secs(30));
            assert!(
                d <= full && d >= full / 2,
                "retry {retry}: {d:?} vs {full:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_up_to_the_cap() {
        let c = RetryConfig::default();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(c.delay(1, &h), Duration::from_secs(7));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(c.delay(1, &h), Duration::from_secs(300));
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(20));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
        let d = c.delay(1, &h);
        assert!(
            d <= Duration::from_secs(20) && d >= Duration::from_secs(18),
            "{d:?}"
        );
    }

    #[test]
    fn token_endpoint_delays_without_jitter() {
        let c = RetryConfig::token_endpoint().with_jitter(false);
        assert_eq!(c.max_retries, 3);
        let none = HeaderMap::new();
        assert_eq!(c.delay(1, &none), Duration::from_millis(100));
        assert_eq!(c.delay(3, &none), Duration::from_millis(400));
        assert_eq!(c.delay(31, &none), Duration::from_secs(30));
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(c.delay(1, &h), Duration::from_secs(7));
        h.insert(RETRY_AFTER, HeaderValue::from_static("100000"));
        assert_eq!(c.delay(1, &h), Duration::from_secs(30));
        let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(20));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let d = c.delay(1, &h);
        assert!(
            d <= Duration::from_secs(20) && d >= Duration::from_secs(18),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(c.delay(2, &h), Duration::from_millis(200));
        // With jitter, the first retry waits between half and all of it.
        let d = RetryConfig::token_endpoint().delay(1, &none);
        assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn allows_within_count_and_time() {
        let c = RetryConfig::default()
            .with_max_retries(2)
            .with_timeout(Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        assert!(c.allows(2, started, Duration::from_secs(10)));
        assert!(!c.allows(3, started, Duration::ZERO));
        assert!(!c.allows(1, started, Duration::from_secs(11)));
        let unbounded = RetryConfig::token_endpoint();
        assert!(unbounded.allows(3, started, Duration::from_secs(30)));
    }

    #[test]
    fn properties() {
        let props: Properties = "x:MaxRetries=2;MaxRetryWait=9;RetryTimeout=30"
            .parse::<crate::ConnectionUrl>()
            .unwrap()
            .into_parts()
            .1;
        let c = RetryConfig::from_properties(&props).unwrap();
        assert_eq!(
            (c.max_retries, c.max_wait, c.timeout),
            (2, Duration::from_secs(9), Duration::from_secs(30))
        );
        let props: Properties = "x:MaxRetries=many"
            .parse::<crate::ConnectionUrl>()
            .unwrap()
            .into_parts()
            .1;
        let err = RetryConfig::from_properties(&props).unwrap_err();
        assert_eq!(
            err.to_string(),
            "property MaxRetries: expected a whole number, found \"many\""
        );
        assert!(is_idempotent(&Method::GET) && !is_idempotent(&Method::POST));
    }

    #[test]
    fn defaults_are_the_catalogue_defaults() {
        let c = RetryConfig::default();
        assert_eq!(
            (c.max_retries, c.max_wait, c.timeout),
            (5, Duration::from_secs(300), Duration::from_secs(600))
        );
        assert_eq!(
            (c.initial_backoff, c.max_backoff, c.jitter),
            (Duration::from_millis(500), Duration::from_secs(30), true)
        );
        let zero: Properties = "x:MaxRetries=0;MaxRetryWait=0;RetryTimeout=0"
            .parse::<crate::ConnectionUrl>()
            .unwrap()
            .into_parts()
            .1;
        let c = RetryConfig::from_properties(&zero).unwrap();
        assert_eq!(
            (c.max_retries, c.max_wait, c.timeout),
            (0, Duration::ZERO, Duration::ZERO)
        );
    }
}
