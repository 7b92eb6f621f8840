//! Google-style service-account key files: the JSON that holds the
//! account's `client_email`, its `private_key` (PKCS#8 PEM), the key's ID
//! (`private_key_id`) and the `token_uri` of the JWT bearer grant.

use std::fmt;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::Error;
use crate::signing_key::{KEY_STORE_PROPERTY, SigningKey};

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    /// Wrapped in a SecretString as soon as it is read.
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

/// A service account's key: who it is, the key that signs its assertions
/// (with `private_key_id` as `kid`) and where its token endpoint is.
#[derive(Clone)]
pub struct ServiceAccountKey {
    /// `client_email`: the assertion's issuer.
    pub client_email: String,
    /// `token_uri`: the token endpoint and the assertion's audience.
    pub token_uri: Option<String>,
    /// The key, with `private_key_id` as its `kid`.
    pub key: SigningKey,
}

impl ServiceAccountKey {
    /// Reads a service-account key file. Errors name the file and the
    /// field, never the key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let shown = path.as_ref().display().to_string();
        let bytes = std::fs::read(path.as_ref()).map_err(|e| {
            Error::config(KEY_STORE_PROPERTY, format!("{shown} cannot be read ({e})"))
        })?;
        Self::from_json(&bytes, &shown)
    }

    /// Reads the JSON of a key file; `origin` names it in messages.
    pub(crate) fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        let bad = |what: String| Error::config(KEY_STORE_PROPERTY, format!("{origin} {what}"));
        // serde_json's message gives line and column, never the text.
        let file: KeyFile = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("is not a service-account key file ({e})")))?;
        if let Some(kind) = file.kind.as_deref().filter(|k| *k != "service_account") {
            return Err(bad(format!(
                "is a {kind:?} credential, not a service-account key (\"type\": \"service_account\")"
            )));
        }
        let client_email = file
            .client_email
            .ok_or_else(|| bad("has no \"client_email\" field".into()))?;
        let pem = SecretString::from(
            file.private_key
                .ok_or_else(|| bad("has no \"private_key\" field".into()))?,
        );
        let mut key = SigningKey::from_pem_text(
            pem.expose_secret(),
            &format!("{origin} (field \"private_key\")"),
            None,
        )?;
        if let Some(kid) = file.private_key_id {
            key = key.with_key_id(kid);
        }
        Ok(Self {
            client_email,
            token_uri: file.token_uri,
            key,
        })
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("key", &self.key)
            .finish()
    }
}
