//! What the grant is configured with: `TokenURI`, `ClientCredentialsMode`,
//! and the catalogue of the grant's properties.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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
        "connectkit extension: a file where rotated refresh tokens are persisted (mode 0600, `~` expanded, shared safely by concurrent processes).",
    ),
    PropertySpec::new(
        "TokenRequestTimeout",
        "connectkit extension: seconds one token request may take in total, however slowly the server answers (0 = no limit).",
    )
    .default_value("30"),
    PropertySpec::new(
        "TokenRefreshTimeout",
        "connectkit extension: seconds a refresh may take across all its retries and request forms (0 = no limit).",
    )
    .default_value("90"),
];

/// The default of one of the grant's timeout properties, from
/// [`GRANT_PROPERTIES`] (the one place it is written).
pub(crate) fn default_timeout(name: &str) -> Option<Duration> {
    connectkit_core::Properties::new()
        .typed(GRANT_PROPERTIES)
        .timeout(name)
        .expect("the grant's timeouts have whole-second defaults in GRANT_PROPERTIES")
}

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
///
/// `Display` and `Debug` print the URL without user info, query or fragment,
/// where credentials sometimes hide.
#[derive(Clone, PartialEq, Eq)]
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
                // Only a word that looks like a method is quoted: anything
                // else may be a credential pasted by mistake.
                let found = if m.len() <= 8 && m.bytes().all(|b| b.is_ascii_alphabetic()) {
                    format!("found {m:?}")
                } else {
                    "found other text".to_owned()
                };
                return Err(Error::config(
                    "TokenURI",
                    format!("`[GET |POST ]<url>` ({found} before the first space)"),
                ));
            }
            None => (TokenMethod::Get, s),
        };
        let url = Url::parse(rest)
            .map_err(|e| Error::config("TokenURI", format!("an absolute http(s) URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::config(
                "TokenURI",
                format!("an http or https URL, found scheme {:?}", url.scheme()),
            ));
        }
        Ok(Self { method, url })
    }
}

impl TokenUri {
    /// Whether the host is a loopback address, where plain http is acceptable.
    pub fn is_loopback(&self) -> bool {
        connectkit_core::client::is_loopback(&self.url)
    }
}

impl TokenUri {
    /// The URL without user info, query and fragment: what messages show.
    pub fn display_url(&self) -> String {
        let mut shown = self.url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.set_query(None);
        shown.set_fragment(None);
        shown.to_string()
    }
}

impl fmt::Display for TokenMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenMethod::Get => "GET",
            TokenMethod::Post => "POST",
        })
    }
}

impl fmt::Display for TokenUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.display_url())
    }
}

impl fmt::Debug for TokenUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenUri")
            .field("method", &self.method)
            .field("url", &self.display_url())
            .finish()
    }
}

/// How client credentials travel in the token request (`ClientCredentialsMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCredentialsMode {
    /// HTTP Basic header and `client_id`/`client_secret` URL parameters (the
    /// DataDirect default for connection properties).
    All,
    /// HTTP Basic header only (`client_secret_basic`, RFC 6749 section
    /// 2.3.1: the default of [`RefreshTokenFlowBuilder`](crate::RefreshTokenFlowBuilder)).
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
                format!(
                    "expected one of All, Basic, Url, Post, found {:?}",
                    connectkit_core::client::escape_controls(s)
                ),
            )),
        }
    }
}

impl ClientCredentialsMode {
    pub(crate) fn sends_basic(self) -> bool {
        matches!(self, Self::All | Self::Basic)
    }
}

impl fmt::Display for ClientCredentialsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::All => "All",
            Self::Basic => "Basic",
            Self::Url => "Url",
            Self::Post => "Post",
        })
    }
}

/// One way of sending the token request: its method and where the client
/// credentials go. The default-form fallback tries several and records the
/// one the token endpoint accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenForm {
    /// GET (parameters in the query) or POST (form body).
    pub method: TokenMethod,
    /// Where the client credentials go.
    pub mode: ClientCredentialsMode,
}

impl TokenForm {
    /// The forms tried, in order, when both the method and
    /// ClientCredentialsMode were left at their defaults: the vendor default
    /// (GET, All), then POST with HTTP Basic, then POST with body credentials.
    pub(crate) const FALLBACKS: [TokenForm; 2] = [
        TokenForm {
            method: TokenMethod::Post,
            mode: ClientCredentialsMode::Basic,
        },
        TokenForm {
            method: TokenMethod::Post,
            mode: ClientCredentialsMode::Post,
        },
    ];
}

impl TokenForm {
    /// This form in the connection properties' terms.
    pub fn request_form(self) -> connectkit_core::RequestForm {
        connectkit_core::RequestForm::new(
            match self.method {
                TokenMethod::Get => "GET",
                TokenMethod::Post => "POST",
            },
            match self.mode {
                ClientCredentialsMode::All => "All",
                ClientCredentialsMode::Basic => "Basic",
                ClientCredentialsMode::Url => "Url",
                ClientCredentialsMode::Post => "Post",
            },
        )
    }
}

impl fmt::Display for TokenForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} with ClientCredentialsMode={}",
            self.method, self.mode
        )
    }
}

impl FromStr for TokenForm {
    type Err = Error;

    /// Parses `"POST Basic"`, the form's TokenFile spelling.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::config("TokenFile", "an unknown request_form");
        let (m, mode) = s.split_once(' ').ok_or_else(bad)?;
        let method = match m {
            "GET" => TokenMethod::Get,
            "POST" => TokenMethod::Post,
            _ => return Err(bad()),
        };
        Ok(Self {
            method,
            mode: mode.parse().map_err(|_| bad())?,
        })
    }
}
