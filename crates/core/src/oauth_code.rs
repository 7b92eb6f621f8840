//! The `error` codes of OAuth 2.0 token and authorization responses, shared
//! by every crate so that an expired refresh token can be told apart from
//! other failures wherever it surfaces.

use std::fmt;

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

    /// What the code means, in words, for messages.
    pub fn meaning(&self) -> Option<&'static str> {
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
