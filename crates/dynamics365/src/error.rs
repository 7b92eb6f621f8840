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
    /// A table without change tracking was asked for its changes.
    #[error(
        "table {table}: change tracking is not enabled ({detail}); turn on Track changes for the table"
    )]
    ChangeTrackingNotEnabled {
        /// The entity set.
        table: String,
        /// What the server answered.
        detail: String,
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
            Self::Metadata(_) | Self::InvalidResponse { .. } | Self::Decode { .. } => {
                ErrorKind::Protocol
            }
            Self::ChangeTrackingNotEnabled { .. } => ErrorKind::Api,
        }
    }

    pub(crate) fn config(property: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            property,
            message: message.into(),
        }
    }

    /// A stable, machine-readable code (`dynamics365.metadata`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            // One code for a bad property whichever crate finds it.
            Self::Config { .. } | Self::UnsupportedAuthenticationMethod { .. } => {
                "config.invalid_property"
            }
            Self::Metadata(_) => "dynamics365.metadata",
            Self::InvalidResponse { .. } => "dynamics365.invalid_response",
            Self::Decode { .. } => "dynamics365.decode",
            Self::ChangeTrackingNotEnabled { .. } => "dynamics365.change_tracking_disabled",
        }
    }
}

impl From<Dynamics365Error> for connectkit_core::Error {
    fn from(e: Dynamics365Error) -> Self {
        connectkit_core::Error::coded(e.kind(), e.code(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes() {
        let e = Dynamics365Error::config("ServiceURL", "x");
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = connectkit_core::Error::from(e);
        assert_eq!(e.code(), "config.invalid_property");
        assert_eq!(
            Dynamics365Error::Metadata("m".into()).kind(),
            ErrorKind::Protocol
        );
    }
}
