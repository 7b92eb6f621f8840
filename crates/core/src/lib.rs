//! The foundation of connectkit: the [`Connector`] and [`AuthFlow`] traits,
//! DataDirect-style connection URLs ([`ConnectionUrl`], [`Properties`]) with
//! secrets kept as [`SecretString`] from parse time, one error type, and the
//! [`Registry`] that maps a URL's subprotocol to a connector.
//!
//! ```
//! use connectkit_core::{ConnectionUrl, PropertySpec};
//!
//! let url: ConnectionUrl = "jdbc:datadirect:dynamics365:
//!     ServiceURL=https://org.api.crm.dynamics.com/api/data/v9.2/;
//!     ClientSecret=12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd;".parse()?;
//!
//! // Every `=` after the first belongs to the value; secrets never print.
//! assert_eq!(url.properties().get("clientsecret").unwrap().expose(),
//!            "12a3=bCD/EfGh4Ijk+Lm5P67qR8s=//TuV+WXy1Zabcd");
//! assert!(!format!("{url} {url:?}").contains("12a3"));
//!
//! // A connector's catalogue catches typos.
//! let catalogue = [PropertySpec::new("ServiceURL", "Web API root").required(),
//!                  PropertySpec::new("ClientSecret", "client secret").secret()];
//! let mut props: connectkit_core::Properties = "x:ServiceURL=a;ClientSecrte=b"
//!     .parse::<ConnectionUrl>()?.into_parts().1;
//! let err = props.validate(&catalogue).unwrap_err();
//! assert_eq!(err.to_string(), "unknown property ClientSecrte (did you mean ClientSecret?)");
//! # Ok::<(), connectkit_core::Error>(())
//! ```

// On docs.rs, items behind a feature say which one.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
pub mod client;
#[cfg(feature = "connector")]
mod connector;
pub mod decode;
mod error;
#[cfg(feature = "connector")]
mod filter;
mod oauth_code;
mod properties;
#[cfg(feature = "connector")]
mod registry;
mod url;
pub mod value;

pub use auth::{
    AccessTokenAuth, AccessTokenRejected, AuthFlow, NoAuth, RequestForm, StaticHeaderAuth,
    TokenInfo, TokenOutcome,
};
#[cfg(feature = "connector")]
pub use connector::{
    BatchStream, Connector, FilterSupport, KEY_METADATA_KEY, Scan, ScanPartition, ScanRequest,
    TYPE_METADATA_KEY, TableInfo,
};
pub use error::{BoxError, ConnectorError, Error, ErrorKind, Report, Result};
#[cfg(feature = "connector")]
pub use filter::{Filter, FilterOp, Literal};
pub use oauth_code::OAuthErrorCode;
pub use properties::{
    CLIENT_PROPERTIES, COMMON_PROPERTIES, Properties, PropertySpec, PropertyValue,
    SECRET_PROPERTIES, TypedProperties, WholeNumber, is_secret_name,
};
#[cfg(feature = "connector")]
pub use registry::{Factory, GrantDefaults, Registry};
pub use url::ConnectionUrl;

/// The `tracing` target of warnings meant for the person running a command
/// (a field left out of a scan, a model-file key ignored, a fallback taken),
/// as opposed to diagnostics: `tracing::warn!(target: USER_WARNING, ...)`.
/// The `connectkit` command prints each on standard error as
/// `warning: <message>` whatever `RUST_LOG` says.
pub const USER_WARNING: &str = "connectkit::warning";

#[cfg(feature = "connector")]
pub use arrow_array;
#[cfg(feature = "connector")]
pub use arrow_schema;
pub use async_trait::async_trait;
/// The reqwest this crate is built with (0.13): [`AuthFlow`] works on its `Request`.
pub use reqwest;
pub use secrecy::{self, ExposeSecret, SecretString};
