//! Typed errors of the refresh token grant, RFC 6749 section 5.2 included.

use std::fmt;

use connectkit_core::{ErrorKind, OAuthErrorCode};

/// An error of the refresh token grant.
///
/// It is `Clone` because every caller waiting on one refresh receives the
/// same outcome. No variant carries a secret: response excerpts and
/// descriptions have the flow's secrets masked before they are stored.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint refused the grant with an RFC 6749 error body.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The token endpoint answered with a status and body that are not a token response.
    #[error("token endpoint answered HTTP {status}{}: {excerpt}{}", if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() }, connectkit_core::client::proxy_hint(*status))]
    UnexpectedResponse {
        /// HTTP status of the last answer.
        status: u16,
        /// How many requests were sent.
        attempts: u32,
        /// The start of the body, secrets masked.
        excerpt: String,
    },
    /// A 2xx response that is not a usable token.
    #[error("token response: {0}")]
    InvalidToken(String),
    /// The response body exceeds the limit.
    #[error("token response body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The token endpoint could not be reached or did not answer in time.
    #[error("token endpoint {host}: {message}")]
    Transport {
        /// Host of the token endpoint.
        host: String,
        /// What failed (connect, timeout, body), without the URL's query.
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
        /// The transport error (without its URL), when there was one.
        #[source]
        source: Option<std::sync::Arc<reqwest::Error>>,
    },
    /// An [`HttpService`](connectkit_core::client::HttpService) of the
    /// caller's own failed the request with an error that is not reqwest's.
    #[error("token endpoint {host}: the HTTP service failed")]
    Service {
        /// Host of the token endpoint.
        host: String,
        /// The service's error, the flow's secrets masked in its message.
        #[source]
        source: connectkit_core::client::ServiceFailure,
    },
    /// A [`TokenStore`](crate::TokenStore) other than a TokenFile failed to
    /// load or lock; nothing was sent.
    #[error("token store: {0}")]
    Store(String),
    /// The TokenFile cannot be read, created or written. Reported before any
    /// grant is sent, so no refresh token is consumed.
    #[error("TokenFile {path}: {problem}")]
    TokenFile {
        /// The file, `~` expanded.
        path: String,
        /// What is wrong, never the file's contents.
        problem: String,
    },
    /// Both the method and ClientCredentialsMode were left at their defaults
    /// and the token endpoint refused every request form that was tried.
    #[error("the token endpoint refused every request form tried ({}); the last answer was: {last}. Set the form explicitly, e.g. `TokenURI=POST <url>` with `ClientCredentialsMode=Basic` (or `Post`)", tried.join("; "))]
    NoFormAccepted {
        /// Each form tried, with the answer it got.
        tried: Vec<String>,
        /// The last answer.
        last: Box<Error>,
    },
    /// A property the configuration needs is not given.
    #[error("missing required property {property}")]
    MissingProperty {
        /// The property.
        property: String,
    },
    /// The configuration is not usable.
    #[error("property {property}: {message}")]
    Config {
        /// The property (or properties) at fault.
        property: String,
        /// What was expected.
        message: String,
    },
    /// `connectkit authorize` obtained no grant: the user or the server
    /// refused, the redirect was not the expected one, or time ran out.
    #[error("authorization: {message}")]
    Authorize {
        /// What went wrong, for callers that act on it (`connectkit
        /// authorize` turns it into its exit code).
        failure: AuthorizeFailure,
        /// The OAuth error code, when the server sent one (`access_denied`, `expired_token`).
        code: Option<OAuthErrorCode>,
        /// What happened, without codes, verifiers or tokens.
        message: String,
    },
    /// The refresh task ended without an outcome (it panicked or was cancelled).
    #[error("the token refresh was interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// The [`ErrorKind`] the connectors and CLI use for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::OAuth(_)
            | Error::UnexpectedResponse { .. }
            | Error::InvalidToken(_)
            | Error::BodyTooLarge { .. }
            | Error::NoFormAccepted { .. }
            | Error::Authorize { .. } => ErrorKind::Auth,
            Error::Transport { .. } | Error::Service { .. } => ErrorKind::Transport,
            Error::Config { .. } | Error::MissingProperty { .. } => ErrorKind::Config,
            Error::TokenFile { .. } | Error::Store(_) => ErrorKind::Io,
            Error::Interrupted(_) => ErrorKind::Other,
        }
    }

    /// The OAuth `error` code the endpoint sent, where it sent one:
    /// [`OAuthErrorCode::InvalidGrant`] means the refresh token expired or
    /// was revoked.
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Error::OAuth(e) => Some(&e.code),
            Error::Authorize { code, .. } => code.as_ref(),
            Error::NoFormAccepted { last, .. } => last.oauth_code(),
            _ => None,
        }
    }

    /// The HTTP status of the token endpoint's answer, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::OAuth(e) => Some(e.status),
            Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::NoFormAccepted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// This crate's error inside an error of a `reqwest-middleware` client
    /// that has the flow as a layer: the middleware reports a failed grant
    /// as `reqwest_middleware::Error::Middleware`, holding this crate's error.
    ///
    /// ```
    /// # fn check(e: reqwest_middleware::Error) {
    /// use connectkit_oauth_refresh::{Error, OAuthErrorCode};
    /// if let Some(grant) = Error::from_middleware(&e) {
    ///     if grant.oauth_code() == Some(&OAuthErrorCode::InvalidGrant) {
    ///         eprintln!("the refresh token expired or was revoked");
    ///     }
    /// }
    /// # }
    /// ```
    #[cfg(feature = "middleware")]
    pub fn from_middleware(e: &reqwest_middleware::Error) -> Option<&Error> {
        match e {
            reqwest_middleware::Error::Middleware(inner) => inner.downcast_ref::<Error>(),
            reqwest_middleware::Error::Reqwest(_) => None,
        }
    }

    /// A stable, machine-readable code (`oauth.unexpected_response`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::OAuth(_) => "oauth.error",
            Error::UnexpectedResponse { .. } => "oauth.unexpected_response",
            Error::InvalidToken(_) => "oauth.invalid_token",
            Error::BodyTooLarge { .. } => "oauth.body_too_large",
            Error::Transport { .. } => "oauth.transport",
            Error::Service { .. } => "oauth.service",
            Error::Store(_) => "oauth.store",
            Error::TokenFile { .. } => "oauth.token_file",
            Error::NoFormAccepted { .. } => "oauth.no_form_accepted",
            Error::Config { .. } => "config.invalid_property",
            Error::MissingProperty { .. } => "config.missing_property",
            Error::Authorize { .. } => "oauth.authorize",
            Error::Interrupted(_) => "oauth.interrupted",
        }
    }

    /// Why `connectkit authorize` obtained no usable grant, when that is
    /// what this error is.
    pub fn authorize_failure(&self) -> Option<AuthorizeFailure> {
        match self {
            Error::Authorize { failure, .. } => Some(*failure),
            _ => None,
        }
    }

    /// The OAuth error, if the endpoint sent one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Error::OAuth(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn config(property: &str, message: impl Into<String>) -> Self {
        Error::Config {
            property: property.to_owned(),
            message: message.into(),
        }
    }
}

/// Why an authorization ([`Authorizer`](crate::Authorizer)) obtained no
/// usable grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeFailure {
    /// No redirect arrived in time, or the device code expired unanswered.
    TimedOut,
    /// The redirect carried another `state`: nothing was exchanged.
    StateMismatch,
    /// The user (or the server on the user's behalf) refused: `access_denied`.
    Denied,
    /// The token response carried no refresh token, or a granted scope
    /// without the offline access that was asked for: the connection could
    /// not renew its access token. Nothing was saved.
    NoRefreshToken,
    /// Anything else: another error from the authorization server, a
    /// malformed redirect or answer, a listener that failed.
    Other,
}

impl From<connectkit_core::Error> for Error {
    /// Property errors found while reading connection properties.
    fn from(e: connectkit_core::Error) -> Self {
        match e {
            connectkit_core::Error::MissingProperty { name } => {
                Error::MissingProperty { property: name }
            }
            connectkit_core::Error::InvalidProperty {
                name,
                expected,
                found,
            } => Error::Config {
                property: name,
                message: match found {
                    Some(f) => format!("{expected}, found {f:?}"),
                    None => expected,
                },
            },
            other => Error::Config {
                property: "connection URL".to_owned(),
                message: other.to_string(),
            },
        }
    }
}

impl From<Error> for connectkit_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::MissingProperty { property } => {
                connectkit_core::Error::MissingProperty { name: property }
            }
            Error::Config { property, message } => connectkit_core::Error::InvalidProperty {
                name: property,
                expected: message,
                found: None,
            },
            other => {
                let (status, code) = (other.status(), other.oauth_code().cloned());
                let mut e = connectkit_core::Error::coded(other.kind(), other.code(), other);
                if let Some(s) = status {
                    e = e.with_status(s);
                }
                if let Some(c) = code {
                    e = e.with_oauth_code(c);
                }
                e
            }
        }
    }
}

/// An RFC 6749 section 5.2 error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// `error_description`, secrets masked.
    pub description: Option<String>,
    /// `error_uri`.
    pub uri: Option<String>,
    /// The HTTP status it came with.
    pub status: u16,
    /// Where the refresh token that was sent came from, when not from the
    /// RefreshToken property (e.g. `TokenFile /path`), so that an
    /// `invalid_grant` points at the stale file.
    pub refresh_token_source: Option<String>,
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token endpoint refused the grant (HTTP {}): {}",
            self.status, self.code
        )?;
        if let Some(meaning) = self.code.meaning() {
            write!(f, ", {meaning}")?;
        }
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        if let Some(u) = &self.uri {
            write!(f, " (see {u})")?;
        }
        if let Some(src) = &self.refresh_token_source {
            write!(
                f,
                "; the refresh token sent was the one saved in {src}, not the RefreshToken property (a new RefreshToken replaces it)"
            )?;
        }
        Ok(())
    }
}
