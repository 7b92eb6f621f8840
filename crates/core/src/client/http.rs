//! The HTTP client settings every connector shares.

use std::time::Duration;

/// How many redirects an API request may follow.
pub const MAX_REDIRECTS: usize = 10;

/// A `reqwest::ClientBuilder` for API requests.
///
/// Redirects are followed only within the same origin (scheme, host and
/// port), at most [`MAX_REDIRECTS`] times: credentials such as the bearer
/// token or a custom `AuthHeader` are set on the request itself, and reqwest
/// would carry custom headers to whatever host a redirect names. A redirect
/// elsewhere is not followed, so the caller sees the 3xx response.
///
/// Fails only when no TLS configuration can be built (see
/// [`client_builder`](super::client_builder)).
pub fn api_client_builder(
    timeout: Option<Duration>,
) -> Result<reqwest::ClientBuilder, super::TlsSetupError> {
    Ok(for_api(super::client_builder()?, timeout))
}

/// `builder` with the API clients' redirect policy and request timeout.
pub(super) fn for_api(
    builder: reqwest::ClientBuilder,
    timeout: Option<Duration>,
) -> reqwest::ClientBuilder {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .last()
            .is_some_and(|prev| prev.origin() == attempt.url().origin());
        if attempt.previous().len() > MAX_REDIRECTS || !same_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let mut builder = builder.redirect(policy);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder
}

/// Parses `Retry-After` as delta-seconds or an HTTP date (a past date is zero).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Why [`read_body_limited`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is larger than the limit.
    #[error("response body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("reading the response body failed: {0}")]
    Transport(#[source] reqwest::Error),
}

/// Reads a response body, refusing one larger than `limit` bytes without
/// buffering more than that.
pub async fn read_body_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Transport(e.without_url()))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_seconds_or_date() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
        assert!(retry_after(&h).is_some_and(|d| d > Duration::from_secs(27)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}

/// A URL fit for messages and logs: no query string (it may carry
/// credentials or filter values), no fragment, no user info.
pub fn display_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

/// The start of a response body on one line, for error messages: white
/// space folded, control characters escaped (`\u{1b}`: a server's bytes
/// never drive the terminal), at most `max` characters (then `…`),
/// `(empty body)` when blank. Mask secrets in `text` before calling, not
/// after: a cut could leave part of one.
pub fn excerpt(text: &str, max: usize) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out = String::new();
    for (n, c) in folded.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn excerpts_and_urls() {
        assert_eq!(excerpt("  \n", 10), "(empty body)");
        assert_eq!(excerpt("a\n  b", 10), "a b");
        assert_eq!(excerpt(&"é".repeat(30), 10), format!("{}…", "é".repeat(10)));
        assert_eq!(excerpt("a\u{1b}[31mb\u{7}", 20), "a\\u{1b}[31mb\\u{7}");
        let u = reqwest::Url::parse("https://user:pw@h.example/p/a?client_secret=x#f").unwrap();
        assert_eq!(display_url(&u), "https://h.example/p/a");
    }
}
