//! [`RefreshTokenFlowBuilder::from_properties`]: the DataDirect connection
//! properties of the grants, read and checked.

use std::sync::Arc;
use std::time::Duration;

use connectkit_core::{Error as CoreError, Properties};

use crate::error::Error;
use secrecy::SecretString;

use crate::builder::RefreshTokenFlowBuilder;
use crate::config::ClientCredentialsMode;
use crate::grant::GrantType;

fn secret_prop(props: &Properties, name: &str) -> Option<SecretString> {
    props.secret(name)
}

/// Seconds from a property; `0` means no limit.
fn seconds_prop(props: &Properties, name: &str) -> Result<Option<Option<Duration>>, CoreError> {
    let Some(text) = props.get_str(name) else {
        return Ok(None);
    };
    match text.trim().parse::<u64>() {
        Ok(0) => Ok(Some(None)),
        Ok(n) => Ok(Some(Some(Duration::from_secs(n)))),
        Err(_) => Err(CoreError::invalid_property(
            name,
            "a whole number of seconds (0 for no limit)",
            Some(text),
        )),
    }
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
    /// Reads ClientID, ClientSecret and TokenURI (all required), RefreshToken
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
        for name in ["ClientID", "ClientSecret", "TokenURI"] {
            required(props, name)?;
        }
        if grant == GrantType::RefreshToken && !props.contains("TokenFile") {
            required(props, "RefreshToken")?;
        }
        let mut b = Self::new()
            .client_id(
                props
                    .get("ClientID")
                    .map(|v| v.expose().to_owned())
                    .unwrap_or_default(),
            )
            .token_uri(
                props
                    .get("TokenURI")
                    .map(|v| v.expose())
                    .unwrap_or_default(),
            )?;
        b.grant_type = grant;
        b.vendor_defaults = true;
        b.client_secret = secret_prop(props, "ClientSecret");
        if grant == GrantType::RefreshToken {
            b.refresh_token = secret_prop(props, "RefreshToken");
            b.access_token = secret_prop(props, "AccessToken");
        }
        if let Some(scope) = props.get_str("Scope") {
            b = b.scope(scope);
        }
        if let Some(mode) = props.get_str("ClientCredentialsMode") {
            b = b.client_credentials_mode(mode.parse::<ClientCredentialsMode>()?);
        }
        if let Some(t) = seconds_prop(props, "TokenRequestTimeout")? {
            b = b.token_request_timeout(t);
        }
        if let Some(t) = seconds_prop(props, "TokenRefreshTimeout")? {
            b = b.refresh_timeout(t);
        }
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
