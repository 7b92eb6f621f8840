//! The one error type of `connectkit-core`, shared by every connector.

use std::fmt;

use crate::oauth_code::OAuthErrorCode;

/// A boxed error from a connector or auth flow crate.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a small set of categories every connectkit crate maps
/// its failures to (after `std::io::ErrorKind` and `object_store::Error`):
/// match on it instead of downcasting or reading messages.
///
/// ```
/// use connectkit_core::{Error, ErrorKind, OAuthErrorCode};
///
/// fn advice(e: &Error) -> &'static str {
///     match e.kind() {
///         ErrorKind::Auth if e.oauth_code() == Some(&OAuthErrorCode::InvalidGrant) => {
///             "the refresh token expired or was revoked: authorize again"
///         }
///         ErrorKind::Auth => "the credentials were refused",
///         ErrorKind::NotFound => "no such resource",
///         ErrorKind::Transport => "the network failed: try again later",
///         _ => "something else failed",
///     }
/// }
/// let e = Error::MissingProperty { name: "TokenURI".into() };
/// assert_eq!(e.kind(), ErrorKind::Config);
/// assert_eq!(advice(&e), "something else failed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad connection URL, property, model file or request: fix the input.
    /// The message names the property, key or file.
    Config,
    /// Authentication was refused: the token endpoint refused the grant (see
    /// [`Error::oauth_code`]; `invalid_grant` is an expired or revoked
    /// refresh token), or the API kept answering 401 after a refresh.
    Auth,
    /// The API answered 403: the identity is known but may not do this.
    Forbidden,
    /// The API answered 404 or 410.
    NotFound,
    /// The API kept answering 429 or 503 until the retry bounds were reached.
    Throttled,
    /// The request could not be sent or its answer not received: connect,
    /// TLS, proxy, timeout, reset connection.
    Transport,
    /// The answer cannot be read: not JSON or XML, too large, an unexpected
    /// shape, a paging link that loops or leaves the configured origins.
    Protocol,
    /// A local file (TokenFile, model file, metadata cache) cannot be read or written.
    Io,
    /// The API answered with another error status (see [`Error::status`]).
    Api,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The `connectkit` command's exit code for this kind: 2 configuration
    /// (and local files), 3 authentication (and 403), 4 the API or the
    /// network, 1 anything else.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Config | ErrorKind::Io => 2,
            ErrorKind::Auth | ErrorKind::Forbidden => 3,
            ErrorKind::NotFound
            | ErrorKind::Throttled
            | ErrorKind::Transport
            | ErrorKind::Protocol
            | ErrorKind::Api => 4,
            ErrorKind::Other => 1,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transport => "transport",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Io => "io",
            ErrorKind::Api => "api",
            ErrorKind::Other => "other",
        })
    }
}

/// Errors of connection URLs, properties, registries and connectors.
///
/// No variant ever carries the value of a secret property: values shown in
/// messages come only from non-secret properties.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection URL is not well formed.
    #[error("connection URL, position {position}: {message}")]
    Syntax {
        /// Byte offset in the URL where the problem was found.
        position: usize,
        /// What was expected there.
        message: String,
    },
    /// A property appears twice (names compare case-insensitively).
    #[error("property {name} is given more than once")]
    DuplicateProperty {
        /// The property as spelled the second time.
        name: String,
    },
    /// The connector does not know this property.
    #[error("unknown property {name}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownProperty {
        /// The property as spelled in the URL.
        name: String,
        /// The closest known property name, when one is close.
        suggestion: Option<String>,
    },
    /// A required property is absent.
    #[error("missing required property {name}")]
    MissingProperty {
        /// Canonical name of the property.
        name: String,
    },
    /// A property has an empty value and does not allow one.
    #[error("property {name} has an empty value")]
    EmptyValue {
        /// Canonical name of the property.
        name: String,
    },
    /// A property's value is not acceptable.
    #[error("property {name}: expected {expected}{}", found.as_ref().map(|f| format!(", found {f:?}")).unwrap_or_default())]
    InvalidProperty {
        /// Canonical name of the property (or properties, joined with " and ").
        name: String,
        /// What would have been accepted.
        expected: String,
        /// The rejected value, only for non-secret properties.
        found: Option<String>,
    },
    /// No connector is registered for the URL's subprotocol.
    #[error("unknown subprotocol {name:?}; known: {}", known.join(", "))]
    UnknownSubprotocol {
        /// The subprotocol in the URL.
        name: String,
        /// The registered subprotocols.
        known: Vec<String>,
    },
    /// The table does not exist.
    #[error("unknown table {name:?}{}", if known.is_empty() { String::new() } else { format!("; known: {}", known.join(", ")) })]
    TableNotFound {
        /// The requested table.
        name: String,
        /// The tables the connector offers.
        known: Vec<String>,
    },
    /// A projected or filtered column does not exist.
    #[error("table {table}: unknown column {column:?}")]
    ColumnNotFound {
        /// The table.
        table: String,
        /// The requested column.
        column: String,
    },
    /// An error of the HTTP layer, a connector or an auth flow, classified:
    /// `Display` and `source()` are the inner error's own.
    #[error(transparent)]
    Connector(Box<ConnectorError>),
}

/// A connector's or auth flow's own typed error with its [`ErrorKind`], a
/// stable code, and the HTTP status and OAuth error code where there is one.
///
/// Transparent: it displays as the inner error and its `source()` is the
/// inner error's, so a report prints each cause once.
pub struct ConnectorError {
    kind: ErrorKind,
    code: &'static str,
    status: Option<u16>,
    oauth_code: Option<OAuthErrorCode>,
    inner: BoxError,
}

impl ConnectorError {
    /// The connector's own error (an [`ApiError`](crate::client::ApiError),
    /// a connector's error enum, ...), for callers who want its fields.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }

    /// The connector's own error, unwrapped.
    pub fn into_inner(self) -> BoxError {
        self.inner
    }
}

impl fmt::Debug for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorError")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("status", &self.status)
            .field("oauth_code", &self.oauth_code)
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for ConnectorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl Error {
    /// Broad classification, for exit codes and conformance expectations.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Connector(c) => c.kind,
            _ => ErrorKind::Config,
        }
    }

    /// Wraps a connector or flow error with its kind (code `connector`).
    pub fn connector(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Self::coded(kind, "connector", source)
    }

    /// Wraps a connector or flow error with its kind and a stable code.
    pub fn coded(kind: ErrorKind, code: &'static str, source: impl Into<BoxError>) -> Self {
        let inner: BoxError = source.into();
        // A wrapped connectkit error keeps what it knew: its status and
        // OAuth code.
        let (mut status, mut oauth_code) = (None, None);
        let mut link: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
        while let Some(e) = link {
            if let Some(Error::Connector(c)) = e.downcast_ref::<Error>() {
                status = status.or(c.status);
                oauth_code = oauth_code.or_else(|| c.oauth_code.clone());
            }
            link = e.source();
        }
        Error::Connector(Box::new(ConnectorError {
            kind,
            code,
            status,
            oauth_code,
            inner,
        }))
    }

    /// The same error, recording the HTTP status it came with.
    pub fn with_status(mut self, status: u16) -> Self {
        if let Error::Connector(c) = &mut self {
            c.status = Some(status);
        }
        self
    }

    /// The same error, recording the OAuth `error` code the server sent.
    pub fn with_oauth_code(mut self, code: OAuthErrorCode) -> Self {
        if let Error::Connector(c) = &mut self {
            c.oauth_code = Some(code);
        }
        self
    }

    /// The HTTP status the failing answer had, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Connector(c) => c.status,
            _ => None,
        }
    }

    /// The OAuth `error` code (RFC 6749 section 5.2, RFC 8628) the token or
    /// authorization endpoint sent: [`OAuthErrorCode::InvalidGrant`] means
    /// the refresh token expired or was revoked.
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Error::Connector(c) => c.oauth_code.as_ref(),
            _ => None,
        }
    }

    /// A stable, machine-readable code for the error, for programs and the
    /// conformance runner: `config.syntax`, `config.unknown_property`, ...,
    /// and for connector errors the code the connector gave (`api.status`,
    /// `api.foreign_origin`, `paging.loop`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Syntax { .. } => "config.syntax",
            Error::DuplicateProperty { .. } => "config.duplicate_property",
            Error::UnknownProperty { .. } => "config.unknown_property",
            Error::MissingProperty { .. } => "config.missing_property",
            Error::EmptyValue { .. } => "config.empty_value",
            Error::InvalidProperty { .. } => "config.invalid_property",
            Error::UnknownSubprotocol { .. } => "config.unknown_subprotocol",
            Error::TableNotFound { .. } => "config.table_not_found",
            Error::ColumnNotFound { .. } => "config.column_not_found",
            Error::Connector(c) => c.code,
        }
    }

    /// Shorthand for [`Error::InvalidProperty`].
    pub fn invalid_property(
        name: impl Into<String>,
        expected: impl Into<String>,
        found: Option<&str>,
    ) -> Self {
        Error::InvalidProperty {
            name: name.into(),
            expected: expected.into(),
            found: found.map(str::to_owned),
        }
    }

    /// The typed error inside [`Error::Connector`], if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Connector(c) => c.inner.downcast_ref::<E>(),
            _ => None,
        }
    }
}

/// Displays an error and its causes, each once, joined by `: `: what the
/// `connectkit` command prints, for programs that use no report crate.
///
/// connectkit errors show only their own level in `Display` and keep their
/// cause as `source()`; some foreign errors repeat their cause in their own
/// message, so a cause whose text is already shown is skipped.
///
/// ```
/// use connectkit_core::Report;
/// let io = std::io::Error::other("disk full");
/// let e = std::io::Error::new(std::io::ErrorKind::Other, Wrapped(io));
/// # #[derive(Debug)] struct Wrapped(std::io::Error);
/// # impl std::fmt::Display for Wrapped { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("saving the token") } }
/// # impl std::error::Error for Wrapped { fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) } }
/// assert_eq!(Report(&e).to_string(), "saving the token: disk full");
/// ```
#[derive(Clone, Copy)]
pub struct Report<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        let mut link = self.0.source();
        while let Some(e) = link {
            let text = e.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                shown.push_str(": ");
                shown.push_str(&text);
            }
            link = e.source();
        }
        f.write_str(&shown)
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
