//! A forward proxy named by the connection (the DataDirect properties
//! ProxyHost, ProxyPort, ProxyUser and ProxyPassword).
//!
//! An explicit ProxyHost carries every request of the connection, loopback
//! targets included. Without one, reqwest's reading of the environment
//! applies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (and
//! their lowercase forms; credentials in the proxy URL are percent-decoded).
//! Proxy credentials travel only to the proxy, in `Proxy-Authorization`.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::properties::Properties;

/// The proxy a connection's requests go through.
#[derive(Clone)]
#[non_exhaustive]
pub struct ProxySettings {
    /// The proxy's URL (`http://host:port`, or as ProxyHost gave it).
    pub url: String,
    /// ProxyUser, for Basic proxy authentication.
    pub user: Option<String>,
    /// ProxyPassword: a secret, never printed.
    pub password: Option<SecretString>,
}

impl ProxySettings {
    /// Reads ProxyHost (a host name or an `http://` URL), ProxyPort (needed
    /// unless ProxyHost is a URL with a port), ProxyUser and ProxyPassword;
    /// `None` when ProxyHost is absent (the environment decides then).
    pub fn from_properties(props: &Properties) -> Result<Option<Self>> {
        let Some(host) = props.get_str("ProxyHost").map(str::trim) else {
            for orphan in ["ProxyPort", "ProxyUser", "ProxyPassword"] {
                if props.contains(orphan) {
                    return Err(Error::invalid_property(
                        orphan,
                        "ProxyHost too: it names the proxy this applies to",
                        None,
                    ));
                }
            }
            return Ok(None);
        };
        let port = props.get_str("ProxyPort").map(str::trim);
        let url = match (host.contains("://"), port) {
            (true, None) => host.to_owned(),
            (false, Some(p)) | (true, Some(p)) => {
                let p: u16 = p.parse().map_err(|_| {
                    Error::invalid_property("ProxyPort", "a port number (1-65535)", Some(p))
                })?;
                let base = host.trim_end_matches('/');
                if host.contains("://") {
                    format!("{base}:{p}")
                } else {
                    format!("http://{base}:{p}")
                }
            }
            (false, None) => {
                return Err(Error::MissingProperty {
                    name: "ProxyPort".into(),
                });
            }
        };
        let parsed = reqwest::Url::parse(&url).map_err(|e| {
            Error::invalid_property(
                "ProxyHost",
                format!("a host name or an http URL ({e})"),
                Some(host),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(Error::invalid_property(
                "ProxyHost",
                "a host name or an http URL",
                Some(host),
            ));
        }
        let user = props.get_str("ProxyUser").map(str::to_owned);
        let password = props.secret("ProxyPassword");
        if password.is_some() && user.is_none() {
            return Err(Error::MissingProperty {
                name: "ProxyUser".into(),
            });
        }
        Ok(Some(Self {
            url,
            user,
            password,
        }))
    }

    /// The proxy's host, for messages.
    pub fn host(&self) -> String {
        reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// `builder` sending every request through this proxy.
    pub fn apply(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        let mut proxy = reqwest::Proxy::all(&self.url).map_err(|e| {
            Error::invalid_property("ProxyHost", format!("a usable proxy URL ({e})"), None)
        })?;
        if let Some(user) = &self.user {
            let password = self
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            proxy = proxy.basic_auth(user, &password);
        }
        Ok(builder.proxy(proxy))
    }
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("url", &self.host())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}
