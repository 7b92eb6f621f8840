//! Typed errors of the refresh token grant, RFC 6749 section 5.2 included.

use std::fmt;

use connectkit_core::ErrorKind;

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
    #[error("token endpoint answered HTTP {status}{}: {excerpt}", if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() })]
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
            Error::Transport { .. } => ErrorKind::Api,
            Error::Config { .. } | Error::TokenFile { .. } => ErrorKind::Config,
            Error::Store(_) | Error::Interrupted(_) => ErrorKind::Other,
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

impl From<Error> for connectkit_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Config { property, message } => connectkit_core::Error::InvalidProperty {
                name: property,
                expected: message,
                found: None,
            },
            other => connectkit_core::Error::connector(other.kind(), other),
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

/// The `error` codes of RFC 6749 section 5.2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`: the refresh token expired or was revoked.
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied` (RFC 6749 section 4.1.2.1, RFC 8628): the user refused.
    AccessDenied,
    /// `authorization_pending` (RFC 8628): the user has not finished yet.
    AuthorizationPending,
    /// `slow_down` (RFC 8628): poll 5 seconds less often.
    SlowDown,
    /// `expired_token` (RFC 8628): the device code expired.
    ExpiredToken,
    /// Any other code.
    Other(String),
}

impl OAuthErrorCode {
    /// Parses a code as sent by the endpoint.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::Other(s) => s,
        }
    }

    fn meaning(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidRequest => "the token request is malformed",
            Self::InvalidClient => {
                "client authentication failed (check ClientID, ClientSecret and ClientCredentialsMode)"
            }
            Self::InvalidGrant => "refresh token expired or revoked",
            Self::UnauthorizedClient => "the client may not use the refresh token grant",
            Self::UnsupportedGrantType => "the endpoint does not support the refresh token grant",
            Self::InvalidScope => "the requested Scope is invalid or exceeds the granted scope",
            Self::AccessDenied => "the user denied the authorization request",
            Self::AuthorizationPending => "the user has not completed the authorization yet",
            Self::SlowDown => "polling too fast",
            Self::ExpiredToken => {
                "the device code expired before the user completed the authorization"
            }
            Self::Other(_) => return None,
        })
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
