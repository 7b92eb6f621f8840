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
pub fn api_client_builder(timeout: Option<Duration>) -> reqwest::ClientBuilder {
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
    let mut builder = reqwest::Client::builder().redirect(policy);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    builder
}
