//! The HTTP client of a connection, read from its properties in one place:
//! every connector builds its API client here, with the same meaning of
//! each setting.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::properties::{Properties, PropertySpec};

/// How long a connection waits to connect before giving up (connect only;
/// WSTimeout bounds the whole request).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings of a connection's API client.
///
/// ```
/// use std::time::Duration;
/// use connectkit_core::PropertySpec;
/// use connectkit_core::client::ClientOptions;
///
/// const CATALOGUE: &[PropertySpec] =
///     &[PropertySpec::new("WSTimeout", "Seconds; 0 for none.").default_value("120")];
/// let props = connectkit_core::Properties::new();
/// let options = ClientOptions::from_properties(&props, CATALOGUE)?;
/// assert_eq!(options.timeout, Some(Duration::from_secs(120))); // the default
/// let props: connectkit_core::Properties =
///     "x:WSTimeout=0".parse::<connectkit_core::ConnectionUrl>()?.into_parts().1;
/// let options = ClientOptions::from_properties(&props, CATALOGUE)?;
/// assert_eq!(options.timeout, None); // 0 means no limit
/// let client = options.with_user_agent("my-connector/1.0").api_client()?;
/// # let _ = client;
/// # Ok::<(), connectkit_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The longest one request may take, connect to last byte
    /// (`WSTimeout`); `None`: no limit.
    pub timeout: Option<Duration>,
    /// The longest connecting may take ([`CONNECT_TIMEOUT`]).
    pub connect_timeout: Option<Duration>,
    /// The `User-Agent` header, when the connector names itself.
    pub user_agent: Option<String>,
    /// The proxy ProxyHost names; `None`: the environment's
    /// (`HTTPS_PROXY`, `NO_PROXY`, ...).
    pub proxy: Option<super::ProxySettings>,
    /// CA certificates trusted beside the operating system's (`TrustStore`).
    pub trust_store: Option<super::TrustStore>,
}

impl ClientOptions {
    /// Options with `timeout` per request and the default connect timeout.
    pub fn new(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            connect_timeout: Some(CONNECT_TIMEOUT),
            user_agent: None,
            proxy: None,
            trust_store: None,
        }
    }

    /// Reads `WSTimeout` (whole seconds, `0` for no limit) and the proxy
    /// ([`ProxySettings::from_properties`](super::ProxySettings::from_properties)); when WSTimeout is
    /// absent, the default of the connector's `catalogue` applies (the
    /// vendor's: 120 s for Autonomous REST, 300 s for Dynamics 365). A
    /// catalogue without a default for `WSTimeout` makes an absent one an
    /// error.
    pub fn from_properties(props: &Properties, catalogue: &[PropertySpec]) -> Result<Self> {
        let mut options = Self::new(props.typed(catalogue).timeout("WSTimeout")?);
        options.proxy = super::ProxySettings::from_properties(props)?;
        options.trust_store = super::TrustStore::from_properties(props)?;
        Ok(options)
    }

    /// A plain builder with connectkit's TLS and this TrustStore's CAs.
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder> {
        let roots = self
            .trust_store
            .as_ref()
            .map(|t| t.certificates().to_vec())
            .unwrap_or_default();
        Ok(reqwest::Client::builder().tls_backend_preconfigured(super::tls_config(roots)?))
    }

    /// The same options with the connector's `User-Agent`.
    pub fn with_user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// The API client: connectkit's TLS, these timeouts, and redirects
    /// followed only within the same origin
    /// ([`api_client_builder`](super::api_client_builder)).
    pub fn api_client(&self) -> Result<reqwest::Client> {
        let mut builder = super::http::for_api(self.client_builder()?, self.timeout);
        if let Some(t) = self.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(agent) = &self.user_agent {
            builder = builder.user_agent(agent);
        }
        if let Some(proxy) = &self.proxy {
            builder = proxy.apply(builder)?;
        }
        builder
            .build()
            .map_err(|e| Error::coded(ErrorKind::Config, "config.http_client", e))
    }
}
