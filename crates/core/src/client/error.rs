//! The errors of the HTTP layer: one mapping from status to kind for every
//! connector, messages that name method, host and path (never the query).

use crate::error::{Error, ErrorKind};

/// What went wrong between a connector and its API.
///
/// Every message names the request's method and URL without query string or
/// user info (`GET https://host/path`) and never carries a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The API answered with a status the rules treat as a failure.
    #[error("{method} {url}: HTTP {status}{}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") }, proxy_hint(*status))]
    Status {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// The status code.
        status: u16,
        /// The server's error message, or an escaped and redacted excerpt of the body.
        detail: String,
    },
    /// The API kept answering 401 (or a status mapped to REAUTHENTICATE)
    /// after the token was refreshed once.
    #[error("{method} {url}: the API answered HTTP {status} again after reauthenticating")]
    Unauthorized {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The request could not be sent or its answer not received.
    #[error("{method} {url}: {}", transport_class(source))]
    Transport {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// The transport error, without its URL (whose query may carry a
        /// credential); its causes say what failed.
        #[source]
        source: reqwest::Error,
    },
    /// An [`HttpService`](super::HttpService) of the caller's own failed
    /// the request with an error that is not reqwest's.
    #[error("{method} {url}: the HTTP service failed")]
    Service {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// The service's error, the request's credentials masked in its
        /// message.
        #[source]
        source: super::ServiceFailure,
    },
    /// Retries were exhausted (attempts or total time).
    #[error("{method} {url}: still HTTP {status} after {attempts} attempts ({why})")]
    RetriesExhausted {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Which bound was reached.
        why: String,
    },
    /// The body is larger than the layer accepts.
    #[error("{method} {url}: response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A next link, redirect or request names an origin the configuration does not.
    #[error(
        "{what} to {origin} is outside the origins the configuration names ({allowed}); nothing was sent there"
    )]
    ForeignOrigin {
        /// What named the origin: `next page link`, `redirect` or `request`.
        what: &'static str,
        /// The refused origin (scheme, host, port).
        origin: String,
        /// The origins the configuration names.
        allowed: String,
    },
    /// Credentials would go over plain http to a host that is not loopback.
    #[error(
        "property {property}: {url} is plain http to a host that is not loopback; credentials are sent over https only"
    )]
    InsecureHttp {
        /// The property (or model-file key) that named the URL.
        property: String,
        /// The URL, without query string.
        url: String,
    },
    /// A URL whose scheme is neither http nor https.
    #[error("property {property}: {url} is not an http or https URL")]
    UnsupportedScheme {
        /// The property (or model-file key) that named the URL.
        property: String,
        /// The URL, without query string.
        url: String,
    },
    /// A redirect without a usable `Location`, or too many redirects.
    #[error("{method} {url}: {message}")]
    Redirect {
        /// The request method.
        method: String,
        /// The URL, without query string.
        url: String,
        /// What is wrong.
        message: String,
    },
}

impl ApiError {
    /// The kind: 401 is an authentication failure, 403 forbidden, 404 and
    /// 410 not found, 429 or 503 to the end of the retries throttled; bad
    /// URLs in the configuration are configuration errors; an answer that
    /// cannot be used is a protocol error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Status {
                status: 401 | 407, ..
            }
            | ApiError::Unauthorized { .. } => ErrorKind::Auth,
            ApiError::Status { status: 403, .. } => ErrorKind::Forbidden,
            ApiError::Status {
                status: 404 | 410, ..
            } => ErrorKind::NotFound,
            ApiError::Status { status: 429, .. }
            | ApiError::RetriesExhausted {
                status: 429 | 503, ..
            } => ErrorKind::Throttled,
            ApiError::Transport { .. } | ApiError::Service { .. } => ErrorKind::Transport,
            ApiError::BodyTooLarge { .. }
            | ApiError::ForeignOrigin { .. }
            | ApiError::Redirect { .. } => ErrorKind::Protocol,
            ApiError::InsecureHttp { .. } | ApiError::UnsupportedScheme { .. } => ErrorKind::Config,
            ApiError::Status { .. } | ApiError::RetriesExhausted { .. } => ErrorKind::Api,
        }
    }

    /// The HTTP status of the failing answer, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. }
            | ApiError::Unauthorized { status, .. }
            | ApiError::RetriesExhausted { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Status {
                status: 401 | 403, ..
            } => "api.auth_status",
            ApiError::Status { .. } => "api.status",
            ApiError::Unauthorized { .. } => "api.unauthorized",
            ApiError::Transport { .. } => "api.transport",
            ApiError::Service { .. } => "api.service",
            ApiError::RetriesExhausted { .. } => "api.retries_exhausted",
            ApiError::BodyTooLarge { .. } => "api.body_too_large",
            ApiError::ForeignOrigin { .. } => "api.foreign_origin",
            ApiError::InsecureHttp { .. } => "config.insecure_http",
            ApiError::UnsupportedScheme { .. } => "config.unsupported_scheme",
            ApiError::Redirect { .. } => "api.redirect",
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        let err = Error::coded(e.kind(), e.code(), e);
        match status {
            Some(s) => err.with_status(s),
            None => err,
        }
    }
}

/// What kind of transport failure `err` is, in words.
fn transport_class(err: &reqwest::Error) -> std::borrow::Cow<'static, str> {
    if let Some(problem) = super::certificate_problem(err) {
        return problem.into();
    }
    let class = if err.is_timeout() && err.is_connect() {
        "connecting timed out (ConnectTimeout)"
    } else if err.is_timeout() {
        "timed out (WSTimeout)"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "reading the response failed"
    } else {
        "sending the request failed"
    };
    class.into()
}

/// What a 407 asks of the user (the proxy, not the server, refused), to
/// append to a message about an answer with `status`; empty otherwise.
pub fn proxy_hint(status: u16) -> &'static str {
    if status == 407 {
        " (the proxy requires authentication: set ProxyUser and ProxyPassword, or the user and password in HTTPS_PROXY/HTTP_PROXY)"
    } else {
        ""
    }
}
