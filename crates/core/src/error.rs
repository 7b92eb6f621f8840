//! The one error type of `connectkit-core`, shared by every connector.

use std::fmt;

/// A boxed error from a connector or auth flow crate.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as its error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, broadly: the CLI maps it to an exit code and the conformance
/// runner to an expected error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad connection URL, property, model file or request: fix the input.
    Config,
    /// The token endpoint refused, or the API kept answering 401.
    Auth,
    /// The API or the network failed otherwise.
    Api,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
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
    /// An error from a connector or flow crate, classified by kind.
    #[error("{source}")]
    Connector {
        /// Broad classification of the error.
        kind: ErrorKind,
        /// A stable, machine-readable code such as `api.status` (see [`Error::code`]).
        code: &'static str,
        /// The connector's own typed error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Broad classification, for exit codes and conformance expectations.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Connector { kind, .. } => *kind,
            Error::TableNotFound { .. } | Error::ColumnNotFound { .. } => ErrorKind::Config,
            _ => ErrorKind::Config,
        }
    }

    /// Wraps a connector or flow error with its kind (code `connector`).
    pub fn connector(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Self::coded(kind, "connector", source)
    }

    /// Wraps a connector or flow error with its kind and a stable code.
    pub fn coded(kind: ErrorKind, code: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Connector {
            kind,
            code,
            source: source.into(),
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
            Error::Connector { code, .. } => code,
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
            Error::Connector { source, .. } => source.downcast_ref::<E>(),
            _ => None,
        }
    }
}
