//! The HTTP client of a connection, read from its properties in one place:
//! every connector builds its API client here, with the same meaning of
//! each setting.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::properties::Properties;

/// How long a connection waits to connect before giving up (connect only;
/// WSTimeout bounds the whole request).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings of a connection's API client.
///
/// ```
/// use std::time::Duration;
/// use connectkit_core::client::ClientOptions;
///
/// let props: connectkit_core::Properties =
///     "x:WSTimeout=0".parse::<connectkit_core::ConnectionUrl>()?.into_parts().1;
/// let options = ClientOptions::from_properties(&props, Duration::from_secs(120))?;
/// assert_eq!(options.timeout, None); // 0 means no limit
/// let client = options.with_user_agent("my-connector/1.0").api_client()?;
/// # let _ = client;
/// # Ok::<(), connectkit_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The longest one request may take, connect to last byte
    /// (`WSTimeout`); `None`: no limit.
    pub timeout: Option<Duration>,
    /// The longest connecting may take ([`CONNECT_TIMEOUT`]).
    pub connect_timeout: Option<Duration>,
    /// The `User-Agent` header, when the connector names itself.
    pub user_agent: Option<String>,
}

impl ClientOptions {
    /// Options with `timeout` per request and the default connect timeout.
    pub fn new(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            connect_timeout: Some(CONNECT_TIMEOUT),
            user_agent: None,
        }
    }

    /// Reads `WSTimeout` (whole seconds, `0` for no limit), falling back
    /// to the connector's `default_timeout` (the vendor's: 120 s for
    /// Autonomous REST, 300 s for Dynamics 365).
    pub fn from_properties(props: &Properties, default_timeout: Duration) -> Result<Self> {
        let timeout = match props.get_str("WSTimeout") {
            None => Some(default_timeout),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(n) => Some(Duration::from_secs(n)),
                Err(_) => {
                    return Err(Error::invalid_property(
                        "WSTimeout",
                        "a whole number of seconds (0 for no limit)",
                        Some(v),
                    ));
                }
            },
        };
        Ok(Self::new(timeout))
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
        let mut builder = super::api_client_builder(self.timeout)?;
        if let Some(t) = self.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(agent) = &self.user_agent {
            builder = builder.user_agent(agent);
        }
        builder
            .build()
            .map_err(|e| Error::coded(ErrorKind::Config, "config.http_client", e))
    }
}
