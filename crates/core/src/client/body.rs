//! What the HTTP layer hands back, and how it reads bodies: pages within
//! [`MAX_PAGE_BYTES`], error bodies within [`MAX_ERROR_BYTES`] and only for
//! a message, with secrets masked.

use reqwest::Url;
use reqwest::header::HeaderMap;

use super::error::ApiError;
use super::http::{display_url, excerpt};
use super::redact::redact;
use crate::error::Result;

/// The largest page body the layer reads (64 MiB).
pub const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;
/// The largest error body the layer reads for a message (64 KiB).
pub const MAX_ERROR_BYTES: usize = 64 * 1024;
/// The length of a body excerpt in a message, in characters.
pub const EXCERPT_CHARS: usize = 200;

/// Extracts a server's own error message from an error body (e.g. an OData
/// `{"error": {"code", "message"}}`), or `None` to fall back to an excerpt.
pub type ErrorDetail = fn(&[u8]) -> Option<String>;

/// A successful answer, read in full.
#[derive(Debug)]
#[non_exhaustive]
pub struct Body {
    /// The URL that answered (after same-origin redirects).
    pub url: Url,
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most [`MAX_PAGE_BYTES`].
    pub bytes: Vec<u8>,
}

impl Body {
    /// A body fetched by other means (tests, a prefetched page).
    pub fn new(url: Url, status: u16, headers: HeaderMap, bytes: Vec<u8>) -> Self {
        Self {
            url,
            status,
            headers,
            bytes,
        }
    }
}

/// What [`ApiClient::fetch`](super::ApiClient::fetch) got.
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one per request, moved once: boxing buys nothing
pub enum Fetched {
    /// A body to read.
    Body(Body),
    /// The rules say this status means no rows.
    ZeroRows {
        /// The status code.
        status: u16,
    },
}

/// Reads a successful answer's body within `limit`, as an [`ApiError`]
/// naming the request when it is too large or the connection fails.
pub(super) async fn read(
    method: &reqwest::Method,
    url: &Url,
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>> {
    super::http::read_body_limited(response, limit)
        .await
        .map_err(|e| {
            match e {
                super::http::BodyError::TooLarge { limit } => ApiError::BodyTooLarge {
                    method: method.to_string(),
                    url: display_url(url),
                    limit,
                },
                super::http::BodyError::Transport(source) => ApiError::Transport {
                    method: method.to_string(),
                    url: display_url(url),
                    source,
                },
            }
            .into()
        })
}

/// The server's message (as `extract` reads it), else a redacted, escaped
/// excerpt of at most [`MAX_ERROR_BYTES`] of the body; never more is read.
pub(super) async fn error_detail(
    response: reqwest::Response,
    extract: Option<ErrorDetail>,
    secrets: &[String],
) -> String {
    let mut response = response;
    let mut body = Vec::new();
    let mut truncated = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BYTES - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    detail_of(&body, truncated, extract, secrets)
}

/// The excerpt of an error body: `extract`'s reading of it, else its text;
/// secrets masked.
pub(super) fn detail_of(
    body: &[u8],
    truncated: bool,
    extract: Option<ErrorDetail>,
    secrets: &[String],
) -> String {
    let body = &body[..body.len().min(MAX_ERROR_BYTES)];
    let detail = extract.and_then(|f| (!truncated).then(|| f(body)).flatten());
    let text = match detail {
        Some(d) => d,
        None => String::from_utf8_lossy(body).into_owned(),
    };
    excerpt(&redact(&text, secrets), EXCERPT_CHARS)
}
