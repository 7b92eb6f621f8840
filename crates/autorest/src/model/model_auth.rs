//! What a Config model file says about authorization, for tools that obtain
//! tokens before any connection is made (`connectkit authorize`): they read
//! the endpoints and the scope here instead of parsing the file themselves.

use connectkit_core::Properties;

use crate::error::AutoRestError;

/// The token endpoint, authorization endpoints and scope that a Config model
/// file declares (`#tokenuri`, `#authuri`, `#deviceauthuri`, `#scope`).
///
/// ```
/// use connectkit_autorest::ModelAuth;
///
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("api.rest");
/// std::fs::write(&file, r##"{"#tokenuri": "POST https://idp.example/token",
///     "#authuri": "https://idp.example/authorize", "#scope": "read",
///     "people": {"#path": "https://api.example/people", "id": "BigInt"}}"##)?;
/// let url: connectkit_core::ConnectionUrl =
///     format!("autorest:Config={};Scope=write", file.display()).parse()?;
/// let (_, mut props) = url.into_parts();
/// ModelAuth::from_properties(&props)?.fill(&mut props);
/// assert_eq!(props.get_str("TokenURI"), Some("POST https://idp.example/token"));
/// assert_eq!(props.get_str("AuthURI"), Some("https://idp.example/authorize"));
/// assert_eq!(props.get_str("Scope"), Some("write")); // the URL's own wins
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelAuth {
    /// `#tokenuri`: the token endpoint, with an optional `GET`/`POST`
    /// prefix as in TokenURI.
    pub token_uri: Option<String>,
    /// `#authuri` (connectkit extension): the authorization endpoint.
    pub auth_uri: Option<String>,
    /// `#deviceauthuri` (connectkit extension): the device authorization
    /// endpoint (RFC 8628).
    pub device_auth_uri: Option<String>,
    /// `#scope`: the scopes to request, space-separated.
    pub scope: Option<String>,
}

impl ModelAuth {
    /// Reads the model file that the Config property names (with ServerName,
    /// as the connector reads it); without Config, nothing is declared. A
    /// file the connector would refuse is refused here with the same error.
    pub fn from_properties(props: &Properties) -> Result<Self, AutoRestError> {
        let Some(path) = props.get_str("Config") else {
            return Ok(Self::default());
        };
        let model = crate::model::load(path, props.get_str("ServerName"))?;
        Ok(Self {
            token_uri: model.token_uri,
            auth_uri: model.auth_uri,
            device_auth_uri: model.device_auth_uri,
            scope: model.scope,
        })
    }

    /// Sets TokenURI, AuthURI, DeviceAuthURI and Scope from the file where
    /// `props` does not set them: the connection URL's own values win, as
    /// they do when the connector builds its grant.
    pub fn fill(&self, props: &mut Properties) {
        for (name, value) in [
            ("TokenURI", &self.token_uri),
            ("AuthURI", &self.auth_uri),
            ("DeviceAuthURI", &self.device_auth_uri),
            ("Scope", &self.scope),
        ] {
            if let Some(v) = value
                && !props.contains(name)
            {
                props.set(name, v.as_str());
            }
        }
    }
}
