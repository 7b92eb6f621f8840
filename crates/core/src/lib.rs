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

mod auth;
pub mod client;
#[cfg(feature = "connector")]
mod connector;
mod error;
#[cfg(feature = "connector")]
mod filter;
mod http;
mod key_seed;
mod properties;
#[cfg(feature = "connector")]
mod registry;
mod url;
pub mod value;

pub use auth::{AuthFlow, NoAuth, StaticHeaderAuth, TokenInfo, network_error, send_authorized};
pub use client::{ApiClient, ApiError, CredentialScope, MAX_PAGE_BYTES, is_loopback};
#[cfg(feature = "connector")]
pub use connector::{
    BatchStream, Connector, FilterSupport, KEY_METADATA_KEY, Scan, ScanRequest, TYPE_METADATA_KEY,
    TableInfo,
};
pub use error::{BoxError, Error, ErrorKind, Result};
#[cfg(feature = "connector")]
pub use filter::{Filter, FilterOp, Literal};
pub use http::{
    BodyError, MAX_REDIRECTS, api_client_builder, display_url, excerpt, read_body_limited,
    retry_after,
};
pub use key_seed::{KeyOrder, KeySeed};
pub use properties::{
    CLIENT_PROPERTIES, COMMON_PROPERTIES, Properties, PropertySpec, PropertyValue,
    SECRET_PROPERTIES, is_secret_name,
};
#[cfg(feature = "connector")]
pub use registry::{Factory, Registry};
pub use url::ConnectionUrl;

#[cfg(feature = "connector")]
pub use arrow_array;
#[cfg(feature = "connector")]
pub use arrow_schema;
pub use async_trait::async_trait;
pub use secrecy::{self, ExposeSecret, SecretString};
