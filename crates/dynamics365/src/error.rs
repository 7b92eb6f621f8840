//! The typed errors of the Dynamics 365 connector.

use connectkit_core::ErrorKind;

/// An error of the Dynamics 365 connector.
///
/// Converted into [`connectkit_core::Error::Connector`] with the
/// [`ErrorKind`] that [`Dynamics365Error::kind`] gives; callers get it back
/// with [`connectkit_core::Error::downcast_ref`]. No variant carries a secret:
/// response excerpts come from API bodies, never from properties or tokens.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Dynamics365Error {
    /// A property's value is not usable.
    #[error("property {property}: {message}")]
    Config {
        /// The property at fault.
        property: &'static str,
        /// What was expected, and what was found for non-secret properties.
        message: String,
    },
    /// AuthenticationMethod names a method this connector does not support.
    #[error("property AuthenticationMethod: unsupported value {found:?}; supported: OAuth2")]
    UnsupportedAuthenticationMethod {
        /// The value given.
        found: String,
    },
    /// The API kept answering 401 after the grant refreshed the token.
    #[error("the Dynamics 365 API answered HTTP 401 to {url} after a token refresh")]
    Unauthorized {
        /// The request URL, without its query string.
        url: String,
    },
    /// The API answered with an OData error body.
    #[error("Dynamics 365 API error {code} (HTTP {status}): {message}")]
    OData {
        /// The HTTP status.
        status: u16,
        /// The OData error code, e.g. `0x80060888`.
        code: String,
        /// The OData error message.
        message: String,
    },
    /// A response body could not be read in full (too large, or the connection failed).
    #[error("GET {url}: {message}")]
    Body {
        /// The URL, without its query.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The API answered with an error status and no OData error body.
    #[error("the Dynamics 365 API answered HTTP {status} to {url}: {excerpt}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The request URL, without its query string.
        url: String,
        /// The start of the body.
        excerpt: String,
    },
    /// 429 or 503 kept coming back after the bounded number of retries.
    #[error(
        "the Dynamics 365 API is throttling (HTTP {status}) {url}: gave up after {attempts} attempts"
    )]
    Throttled {
        /// The HTTP status of the last answer.
        status: u16,
        /// The request URL, without its query string.
        url: String,
        /// How many requests were sent.
        attempts: u32,
    },
    /// A next link repeats a page already read: the scan would loop.
    #[error(
        "table {table}: @odata.nextLink repeats a page already read ({url}); stopping instead of looping"
    )]
    RepeatedNextLink {
        /// The entity set.
        table: String,
        /// The repeated link, without its query string.
        url: String,
    },
    /// A next link points at another origin than ServiceURL; the bearer token is not sent there.
    #[error("table {table}: @odata.nextLink points at {origin}, not at the ServiceURL's origin")]
    ForeignNextLink {
        /// The entity set.
        table: String,
        /// The origin the link points at.
        origin: String,
    },
    /// The `$metadata` document is not CSDL this connector understands.
    #[error("$metadata: {0}")]
    Metadata(String),
    /// A response body is not the JSON expected.
    #[error("{what}: {message}")]
    InvalidResponse {
        /// What was being read (service document, a table's page).
        what: String,
        /// What was wrong.
        message: String,
    },
    /// A value in a row does not fit its column's type.
    #[error("table {table}, column {column}: {message}")]
    Decode {
        /// The entity set.
        table: String,
        /// The column.
        column: String,
        /// What was wrong with the value.
        message: String,
    },
}

impl Dynamics365Error {
    /// The broad classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Config { .. } | Self::UnsupportedAuthenticationMethod { .. } => ErrorKind::Config,
            Self::Unauthorized { .. } => ErrorKind::Auth,
            _ => ErrorKind::Api,
        }
    }

    pub(crate) fn config(property: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            property,
            message: message.into(),
        }
    }
}

impl From<Dynamics365Error> for connectkit_core::Error {
    fn from(e: Dynamics365Error) -> Self {
        connectkit_core::Error::connector(e.kind(), e)
    }
}

pub(crate) use connectkit_core::display_url;

/// The first characters of a body, on one line, for error messages.
pub(crate) fn excerpt(body: &str) -> String {
    connectkit_core::excerpt(body, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            Dynamics365Error::config("ServiceURL", "x").kind(),
            ErrorKind::Config
        );
        let e = Dynamics365Error::Unauthorized { url: "u".into() };
        assert_eq!(connectkit_core::Error::from(e).kind(), ErrorKind::Auth);
        let e = Dynamics365Error::OData {
            status: 400,
            code: "0x1".into(),
            message: "bad".into(),
        };
        assert_eq!(e.kind(), ErrorKind::Api);
        assert_eq!(e.to_string(), "Dynamics 365 API error 0x1 (HTTP 400): bad");
    }

    #[test]
    fn urls_and_excerpts_are_short_and_query_free() {
        let u = url::Url::parse("https://u:p@h/api/accounts?$filter=name%20eq%20'x'#f").unwrap();
        assert_eq!(display_url(&u), "https://h/api/accounts");
        assert_eq!(excerpt("  \n"), "(empty body)");
        assert_eq!(excerpt("a\nb"), "a b");
        assert_eq!(excerpt(&"x".repeat(300)).len(), 203);
    }
}
