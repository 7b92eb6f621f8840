//! The connection properties of signed credentials: the key store of a
//! certificate credential (client assertions, RFC 7523 section 2.2) and of
//! the JWT bearer grant (section 2.1), read into the builder.

use std::str::FromStr;

use connectkit_core::{Properties, PropertySpec};

use crate::builder::RefreshTokenFlowBuilder;
use crate::error::Error;
use crate::grant::GrantType;
use crate::service_account::ServiceAccountKey;
use crate::signing_key::{SigningAlgorithm, SigningKey};

/// The properties of signed credentials, for connector catalogues
/// (the vendor's JWT bearer names, and connectkit's extensions).
pub const CREDENTIAL_PROPERTIES: &[PropertySpec] = &[
    PropertySpec::new(
        "JWTCertStore",
        "The key that signs JWTs: a PKCS#12 file (.pfx/.p12), a PEM file (a PKCS#8, encrypted PKCS#8, PKCS#1 RSA or SEC1 EC private key, optionally with its certificate), or a service-account JSON key file. It signs the JWT bearer grant's assertion, or (connectkit extension) the client assertion of a certificate credential.",
    ),
    PropertySpec::new(
        "JWTCertPassword",
        "The password of a PKCS#12 JWTCertStore, or of an encrypted PKCS#8 PEM key (`BEGIN ENCRYPTED PRIVATE KEY`).",
    )
    .secret(),
    PropertySpec::new(
        "JWTCertAlias",
        "The friendly name of the PKCS#12 entry to use (default: its first private key).",
    ),
    PropertySpec::new(
        "ClaimsIssuer",
        "The `iss` of the JWT bearer grant's assertion (default: a service-account key file's client_email).",
    ),
    PropertySpec::new(
        "ClaimsSubject",
        "The `sub` of the JWT bearer grant's assertion, the user the access is for (omitted when not set).",
    ),
    PropertySpec::new(
        "ClaimsAudience",
        "connectkit extension: the `aud` of the JWT bearer grant's assertion (default: the token endpoint).",
    ),
    PropertySpec::new(
        "ClientAuthentication",
        "connectkit extension: how the client authenticates at the token endpoint: Secret (ClientSecret, sent as ClientCredentialsMode says), PrivateKeyJWT (a JWT signed with JWTCertStore's key: a certificate credential) or ClientSecretJWT (a JWT signed with ClientSecret, HS256). Default: PrivateKeyJWT when JWTCertStore is set and the grant is not the JWT bearer grant, else Secret.",
    ),
    PropertySpec::new(
        "JWTAlgorithm",
        "connectkit extension: how JWTCertStore's key signs: RS256 or PS256 for RSA keys, ES256 for EC P-256 keys (default RS256 for RSA, ES256 for EC; Dynamics 365: PS256 for RSA, as Microsoft Entra documents).",
    ),
];

/// `ClientAuthentication`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuthentication {
    Secret,
    PrivateKeyJwt,
    ClientSecretJwt,
}

impl FromStr for ClientAuthentication {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "secret" => Ok(Self::Secret),
            "privatekeyjwt" | "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            "clientsecretjwt" | "client_secret_jwt" => Ok(Self::ClientSecretJwt),
            _ => Err(Error::config(
                "ClientAuthentication",
                format!(
                    "one of Secret, PrivateKeyJWT, ClientSecretJWT, found {:?}",
                    connectkit_core::client::escape_controls(s)
                ),
            )),
        }
    }
}

/// What JWTCertStore holds.
enum KeyStore {
    Key(SigningKey),
    ServiceAccount(ServiceAccountKey),
}

fn read_key_store(props: &Properties) -> Result<Option<KeyStore>, Error> {
    let Some(path) = props.get_str("JWTCertStore").map(str::trim) else {
        return Ok(None);
    };
    let password = props.secret("JWTCertPassword");
    let alias = props.get_str("JWTCertAlias");
    // `~` is the home directory, as in TokenFile.
    let path = &crate::file_store::expand_home(path.into())
        .display()
        .to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::config("JWTCertStore", format!("{path} cannot be read ({e})")))?;
    let json = std::str::from_utf8(&bytes).is_ok_and(|t| t.trim_start().starts_with('{'));
    let store = if json {
        KeyStore::ServiceAccount(ServiceAccountKey::from_json(&bytes, path)?)
    } else {
        KeyStore::Key(SigningKey::from_bytes(
            &bytes,
            path,
            password.as_ref(),
            alias,
        )?)
    };
    Ok(Some(store))
}

impl RefreshTokenFlowBuilder {
    /// Reads JWTCertStore (with JWTCertPassword, JWTCertAlias, JWTAlgorithm)
    /// and sets up the grant's assertion (ClaimsIssuer, ClaimsSubject,
    /// ClaimsAudience) or the client assertion (ClientAuthentication).
    pub(crate) fn credentials_from_properties(
        mut self,
        props: &Properties,
        grant: GrantType,
    ) -> Result<Self, Error> {
        let algorithm = props
            .get_str("JWTAlgorithm")
            .map(SigningAlgorithm::from_str)
            .transpose()?;
        let with_algorithm = |key: SigningKey| match algorithm {
            Some(a) => key.with_algorithm(a),
            None => Ok(key),
        };
        let store = read_key_store(props)?;
        // The key of a client assertion: JWTCertStore's, whatever it holds.
        let client_key = match &store {
            Some(KeyStore::Key(k)) => Some(k.clone()),
            Some(KeyStore::ServiceAccount(a)) => Some(a.key.clone()),
            None => None,
        };
        let subject = props.get_str("ClaimsSubject").map(str::to_owned);
        if grant == GrantType::JwtBearer {
            match store {
                None => {
                    return Err(Error::MissingProperty {
                        property: "JWTCertStore".into(),
                    });
                }
                Some(KeyStore::ServiceAccount(mut account)) => {
                    account.key = with_algorithm(account.key)?;
                    if let Some(iss) = props.get_str("ClaimsIssuer") {
                        account.client_email = iss.to_owned();
                    }
                    self = self.service_account(account, subject)?;
                }
                Some(KeyStore::Key(key)) => {
                    let issuer =
                        props
                            .get_str("ClaimsIssuer")
                            .ok_or_else(|| Error::MissingProperty {
                                property: "ClaimsIssuer".into(),
                            })?;
                    self = self.jwt_bearer(with_algorithm(key)?, issuer, subject);
                }
            }
            if let Some(aud) = props.get_str("ClaimsAudience") {
                self = self.claims_audience(aud);
            }
        }
        let auth = match props.get_str("ClientAuthentication") {
            Some(v) => v.parse()?,
            None if grant != GrantType::JwtBearer && client_key.is_some() => {
                ClientAuthentication::PrivateKeyJwt
            }
            None => ClientAuthentication::Secret,
        };
        match auth {
            ClientAuthentication::Secret => {}
            ClientAuthentication::ClientSecretJwt => self = self.client_secret_jwt(),
            ClientAuthentication::PrivateKeyJwt => {
                let key = client_key.ok_or_else(|| Error::MissingProperty {
                    property: "JWTCertStore".into(),
                })?;
                self = self.private_key_jwt(with_algorithm(key)?);
            }
        }
        Ok(self)
    }
}
