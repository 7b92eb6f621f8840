//! [`RefreshTokenFlowBuilder::from_properties`]: the DataDirect connection
//! properties of the grants, read and checked.

use std::sync::Arc;

use connectkit_core::{Error as CoreError, Properties};

use crate::error::Error;
use secrecy::SecretString;

use crate::builder::RefreshTokenFlowBuilder;
use crate::config::{ClientCredentialsMode, GRANT_PROPERTIES};
use crate::grant::GrantType;

fn secret_prop(props: &Properties, name: &str) -> Option<SecretString> {
    props.secret(name)
}

fn required(props: &Properties, name: &str) -> Result<(), CoreError> {
    if props.contains(name) {
        Ok(())
    } else {
        Err(CoreError::MissingProperty {
            name: name.to_owned(),
        })
    }
}

impl RefreshTokenFlowBuilder {
    /// Reads ClientID and TokenURI (required), ClientSecret (required for client
    /// credentials; without it a public client sends its client_id), RefreshToken
    /// (required unless TokenFile is given: `connectkit authorize` writes the
    /// first one there), and Scope, ClientCredentialsMode, AuthHeader with
    /// SecurityToken, AccessToken, TokenFile (a [`FileStore`](crate::FileStore)
    /// path), TokenRequestTimeout and TokenRefreshTimeout (seconds), all optional.
    pub fn from_properties(props: &Properties) -> Result<Self, Error> {
        Self::from_properties_for(props, GrantType::RefreshToken)
    }

    /// [`from_properties`](Self::from_properties) for either grant. The
    /// client credentials grant needs no RefreshToken and ignores TokenFile
    /// and AccessToken: it renews itself and has no chain to persist.
    pub fn from_properties_for(props: &Properties, grant: GrantType) -> Result<Self, Error> {
        // ClientSecret only for client credentials: a public client (a
        // native app, RFC 8252) has none and uses the refresh grant.
        // The JWT bearer grant needs no client, and a service-account key
        // file names its token endpoint.
        if grant != GrantType::JwtBearer {
            for name in ["ClientID", "TokenURI"] {
                required(props, name)?;
            }
        }
        // A certificate credential (JWTCertStore) replaces the secret.
        if grant == GrantType::ClientCredentials && !props.contains("JWTCertStore") {
            required(props, "ClientSecret")?;
        }
        if grant == GrantType::RefreshToken && !props.contains("TokenFile") {
            required(props, "RefreshToken")?;
        }
        let mut b = Self::new();
        if let Some(id) = props.get("ClientID") {
            b = b.client_id(id.expose());
        }
        if let Some(uri) = props.get("TokenURI") {
            b = b.token_uri(uri.expose())?;
        }
        b.grant_type = grant;
        b.vendor_defaults = true;
        b.client_secret = secret_prop(props, "ClientSecret");
        b = b.credentials_from_properties(props, grant)?;
        if grant == GrantType::RefreshToken {
            b.refresh_token = secret_prop(props, "RefreshToken");
            b.access_token = secret_prop(props, "AccessToken");
        }
        if let Some(proxy) = connectkit_core::client::ProxySettings::from_properties(props)? {
            b = b.proxy(proxy);
        }
        if let Some(store) = connectkit_core::client::TrustStore::from_properties(props)? {
            b = b.trust_store(store);
        }
        if let Some(name) = connectkit_core::client::HostNameInCertificate::from_properties(props)?
        {
            b = b.host_name_in_certificate(name);
        }
        b = b.connect_timeout(connectkit_core::client::connect_timeout(props)?);
        if let Some(scope) = props.get_str("Scope") {
            b = b.scope(scope);
        }
        if let Some(mode) = props.get_str("ClientCredentialsMode") {
            b = b.client_credentials_mode(mode.parse::<ClientCredentialsMode>()?);
        }
        let typed = props.typed(GRANT_PROPERTIES);
        b = b
            .token_request_timeout(typed.timeout("TokenRequestTimeout")?)
            .refresh_timeout(typed.timeout("TokenRefreshTimeout")?);
        if let Some(path) = props
            .get_str("TokenFile")
            .filter(|_| grant == GrantType::RefreshToken)
        {
            b = b.token_store(Arc::new(crate::file_store::FileStore::new(path)));
        }
        match (
            props.get_str("AuthHeader"),
            secret_prop(props, "SecurityToken"),
        ) {
            (Some(name), Some(value)) => b = b.auth_header(name, value)?,
            (None, None) => {}
            (Some(_), None) => {
                return Err(Error::MissingProperty {
                    property: "SecurityToken".into(),
                });
            }
            (None, Some(_)) => {
                return Err(Error::MissingProperty {
                    property: "AuthHeader".into(),
                });
            }
        }
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn props(extra: &str) -> Properties {
        let text =
            format!("x:ClientID=c;ClientSecret=s;RefreshToken=r;TokenURI=https://h/t{extra}");
        text.parse::<connectkit_core::ConnectionUrl>()
            .unwrap()
            .into_parts()
            .1
    }

    #[test]
    fn timeouts_default_to_the_catalogue() {
        let b = RefreshTokenFlowBuilder::new();
        assert_eq!(b.request_timeout, Some(Duration::from_secs(30)));
        assert_eq!(b.refresh_timeout, Some(Duration::from_secs(90)));
        let b = RefreshTokenFlowBuilder::from_properties(&props("")).unwrap();
        assert_eq!(b.request_timeout, Some(Duration::from_secs(30)));
        assert_eq!(b.refresh_timeout, Some(Duration::from_secs(90)));
        let b = RefreshTokenFlowBuilder::from_properties(&props(
            ";TokenRequestTimeout=0;tokenrefreshtimeout= 5 ",
        ))
        .unwrap();
        assert_eq!(b.request_timeout, None);
        assert_eq!(b.refresh_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn a_bad_timeout_names_the_property_and_the_value() {
        let err = RefreshTokenFlowBuilder::from_properties(&props(";TokenRefreshTimeout=soon"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "property TokenRefreshTimeout: a whole number of seconds (0 for no limit), found \"soon\""
        );
        assert_eq!(
            connectkit_core::Error::from(err).code(),
            "config.invalid_property"
        );
    }
}
