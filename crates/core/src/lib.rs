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
mod connector;
mod error;
mod http;
mod properties;
mod registry;
mod url;

pub use auth::{AuthFlow, NoAuth, StaticHeaderAuth, TokenInfo, network_error, send_authorized};
pub use connector::{
    BatchStream, Connector, Filter, FilterOp, Literal, Scan, ScanRequest, TableInfo,
};
pub use error::{BoxError, Error, ErrorKind, Result};
pub use http::{
    BodyError, MAX_PAGE_BYTES, MAX_REDIRECTS, api_client_builder, display_url, excerpt,
    read_body_limited, retry_after,
};
pub use properties::{
    COMMON_PROPERTIES, Properties, PropertySpec, PropertyValue, SECRET_PROPERTIES, is_secret_name,
};
pub use registry::{Factory, Registry};
pub use url::ConnectionUrl;

pub use arrow_array;
pub use arrow_schema;
pub use async_trait::async_trait;
pub use secrecy::{self, ExposeSecret, SecretString};
