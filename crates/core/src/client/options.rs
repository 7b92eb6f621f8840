//! The HTTP client of a connection, read from its properties in one place:
//! every connector builds its API client here, with the same meaning of
//! each setting.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::properties::{CLIENT_PROPERTIES, Properties, PropertySpec};

/// `ConnectTimeout` (whole seconds, `0` for no limit; default
/// [`CONNECT_TIMEOUT`]): the same property and meaning for API and token
/// requests.
pub fn connect_timeout(props: &Properties) -> Result<Option<Duration>> {
    props.typed(CLIENT_PROPERTIES).timeout("ConnectTimeout")
}

/// The rustls configuration of a connection: the operating system's store
/// plus `trust_store`'s CAs, certificates checked against
/// `host_name_in_certificate` when given.
pub fn tls_settings(
    trust_store: Option<&super::TrustStore>,
    host_name_in_certificate: Option<super::HostNameInCertificate>,
) -> std::result::Result<rustls::ClientConfig, super::TlsSetupError> {
    let roots = trust_store
        .map(|t| t.certificates().to_vec())
        .unwrap_or_default();
    super::tls_config(roots, host_name_in_certificate)
}

/// How long a connection waits to connect before giving up when
/// `ConnectTimeout` is not set (connecting only: the TCP connection, through
/// the proxy when there is one, and the TLS handshake; WSTimeout bounds the
/// whole request). The default of `ConnectTimeout` in
/// [`CLIENT_PROPERTIES`](crate::CLIENT_PROPERTIES).
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
    /// The longest connecting may take (`ConnectTimeout`, default
    /// [`CONNECT_TIMEOUT`]); `None`: no limit.
    pub connect_timeout: Option<Duration>,
    /// The `User-Agent` header, when the connector names itself.
    pub user_agent: Option<String>,
    /// The proxy ProxyHost names; `None`: the environment's
    /// (`HTTPS_PROXY`, `NO_PROXY`, ...).
    pub proxy: Option<super::ProxySettings>,
    /// CA certificates trusted beside the operating system's (`TrustStore`).
    pub trust_store: Option<super::TrustStore>,
    /// The name server certificates are checked against instead of the
    /// URL's host (`HostNameInCertificate`).
    pub host_name_in_certificate: Option<super::HostNameInCertificate>,
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
            host_name_in_certificate: None,
        }
    }

    /// Reads `WSTimeout` and `ConnectTimeout` (whole seconds, `0` for no
    /// limit), the proxy
    /// ([`ProxySettings::from_properties`](super::ProxySettings::from_properties)),
    /// `TrustStore` and `HostNameInCertificate`. When WSTimeout is absent,
    /// the default of the connector's `catalogue` applies (the vendor's:
    /// 120 s for Autonomous REST, 300 s for Dynamics 365); a catalogue
    /// without a default for `WSTimeout` makes an absent one an error.
    pub fn from_properties(props: &Properties, catalogue: &[PropertySpec]) -> Result<Self> {
        let mut options = Self::new(props.typed(catalogue).timeout("WSTimeout")?);
        options.connect_timeout = connect_timeout(props)?;
        options.proxy = super::ProxySettings::from_properties(props)?;
        options.trust_store = super::TrustStore::from_properties(props)?;
        options.host_name_in_certificate = super::HostNameInCertificate::from_properties(props)?;
        Ok(options)
    }

    /// A plain builder with connectkit's TLS, this TrustStore's CAs and
    /// HostNameInCertificate.
    pub fn client_builder(&self) -> Result<reqwest::ClientBuilder> {
        Ok(
            reqwest::Client::builder().tls_backend_preconfigured(tls_settings(
                self.trust_store.as_ref(),
                self.host_name_in_certificate.clone(),
            )?),
        )
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
