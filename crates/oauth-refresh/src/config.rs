//! What the grant is configured with: `TokenURI`, `ClientCredentialsMode`,
//! and the catalogue of the grant's properties.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use connectkit_core::PropertySpec;
use url::Url;

use crate::error::Error;

/// The properties of the refresh token grant, for connector catalogues.
pub const GRANT_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new("ClientID", "The client ID of the application."),
    PropertySpec::new("ClientSecret", "The client secret of the application.").secret(),
    PropertySpec::new(
        "RefreshToken",
        "The refresh token exchanged for access tokens.",
    )
    .secret(),
    PropertySpec::new(
        "TokenURI",
        "The token endpoint, optionally prefixed with `GET ` or `POST `.",
    ),
    PropertySpec::new("Scope", "Space-separated OAuth scopes to request."),
    PropertySpec::new(
        "ClientCredentialsMode",
        "How client credentials are sent: All, Basic, Url or Post.",
    ),
    PropertySpec::new(
        "AuthHeader",
        "Name of an extra HTTP header sent with every API request.",
    ),
    PropertySpec::new("SecurityToken", "Value of the AuthHeader header.").secret(),
    PropertySpec::new(
        "AccessToken",
        "An initial access token, used until rejected or expired.",
    )
    .secret(),
    PropertySpec::new(
        "TokenFile",
        "connectkit extension: a file where rotated refresh tokens are persisted (mode 0600).",
    ),
];

/// The HTTP method of the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenMethod {
    /// Parameters in the query string (the Autonomous REST default).
    Get,
    /// Parameters in an `application/x-www-form-urlencoded` body.
    Post,
}

/// A parsed `TokenURI`: `[GET |POST ]<url>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUri {
    /// The method; `GET` when no prefix is given.
    pub method: TokenMethod,
    /// The endpoint.
    pub url: Url,
}

impl FromStr for TokenUri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let (method, rest) = match s.split_once(char::is_whitespace) {
            Some((m, rest)) if m.eq_ignore_ascii_case("GET") => (TokenMethod::Get, rest.trim()),
            Some((m, rest)) if m.eq_ignore_ascii_case("POST") => (TokenMethod::Post, rest.trim()),
            Some((m, _)) => {
                return Err(Error::config(
                    "TokenURI",
                    format!("expected `[GET |POST ]<url>`, found {m:?} before the URL"),
                ));
            }
            None => (TokenMethod::Get, s),
        };
        let url = Url::parse(rest).map_err(|e| {
            Error::config(
                "TokenURI",
                format!("expected an absolute http(s) URL ({e}): {rest:?}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::config(
                "TokenURI",
                format!(
                    "expected an http or https URL, found scheme {:?}",
                    url.scheme()
                ),
            ));
        }
        Ok(Self { method, url })
    }
}

impl TokenUri {
    /// Whether the host is a loopback address, where plain http is acceptable.
    pub fn is_loopback(&self) -> bool {
        match self.url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        }
    }
}

impl fmt::Display for TokenUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = match self.method {
            TokenMethod::Get => "GET",
            TokenMethod::Post => "POST",
        };
        write!(f, "{m} {}", self.url)
    }
}

/// How client credentials travel in the token request (`ClientCredentialsMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientCredentialsMode {
    /// HTTP Basic header and `client_id`/`client_secret` URL parameters (the default).
    #[default]
    All,
    /// HTTP Basic header only.
    Basic,
    /// `client_id`/`client_secret` query parameters only, whatever the method.
    Url,
    /// `client_id`/`client_secret` in the form body of a POST only.
    Post,
}

impl FromStr for ClientCredentialsMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => Ok(Self::All),
            "basic" => Ok(Self::Basic),
            "url" => Ok(Self::Url),
            "post" => Ok(Self::Post),
            _ => Err(Error::config(
                "ClientCredentialsMode",
                format!("expected one of All, Basic, Url, Post, found {s:?}"),
            )),
        }
    }
}

impl ClientCredentialsMode {
    pub(crate) fn sends_basic(self) -> bool {
        matches!(self, Self::All | Self::Basic)
    }
}
