//! JWT assertions (RFC 7521, RFC 7523): the client assertion that
//! authenticates the client at the token endpoint (section 2.2,
//! `private_key_jwt` and `client_secret_jwt`) and the assertion of the JWT
//! bearer grant (section 2.1). Every assertion is signed fresh, with its
//! own `jti`, a five-minute life, and `iat`/`nbf` of the moment it is made.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use ring::rand::SecureRandom;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::error::Error;
use crate::signing_key::SigningKey;

/// RFC 7523 section 2.2's `client_assertion_type`.
pub(crate) const CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// RFC 7523 section 2.1's `grant_type`.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion is valid: short, as Microsoft Entra asks (5 to
/// 10 minutes at most) and RFC 7523 section 3 advises.
pub(crate) const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// How the client proves who it is with a signed JWT instead of sending
/// its secret (`ClientAuthentication`).
#[derive(Clone, Debug)]
pub(crate) enum ClientAssertion {
    /// `private_key_jwt`: signed with the client's private key (a certificate credential).
    PrivateKey(SigningKey),
    /// `client_secret_jwt`: HS256 with ClientSecret as the key.
    ClientSecret,
}

/// The JWT bearer grant's assertion settings.
#[derive(Clone, Debug)]
pub(crate) struct JwtBearer {
    pub key: SigningKey,
    /// `iss`: ClaimsIssuer, or a service account's `client_email`.
    pub issuer: String,
    /// `sub`: ClaimsSubject (omitted when not given, as Google's service
    /// accounts without domain-wide delegation expect).
    pub subject: Option<String>,
    /// `aud`: ClaimsAudience, else the token endpoint.
    pub audience: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    aud: &'a str,
    jti: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

impl<'a> Claims<'a> {
    fn new(iss: &'a str, sub: Option<&'a str>, aud: &'a str, scope: Option<&'a str>) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Self {
            iss,
            sub,
            aud,
            jti: fresh_jti(),
            iat: now,
            nbf: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
            scope,
        }
    }
}

/// 128 random bits, base64url: unique per assertion, as RFC 7519 section 4.1.7 asks.
fn fresh_jti() -> String {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The parts of a signed JWT to mask wherever a server may echo them: the
/// whole token and its signature (header and claims are not secret, but
/// the signature is what makes the token a credential).
pub(crate) fn secret_parts(jwt: &str) -> Vec<&str> {
    let mut parts = vec![jwt];
    if let Some((_, signature)) = jwt.rsplit_once('.') {
        parts.push(signature);
    }
    parts
}

fn signing_failed(e: jsonwebtoken::errors::Error) -> Error {
    Error::config(
        crate::signing_key::KEY_STORE_PROPERTY,
        format!("the assertion could not be signed ({e})"),
    )
}

impl ClientAssertion {
    /// A client assertion for one token request: `iss` = `sub` = the client
    /// ID, `aud` = the token endpoint.
    pub(crate) fn sign(
        &self,
        client_id: &str,
        audience: &str,
        client_secret: Option<&SecretString>,
    ) -> Result<SecretString, Error> {
        let claims = Claims::new(client_id, Some(client_id), audience, None);
        let jwt = match self {
            ClientAssertion::PrivateKey(key) => {
                jsonwebtoken::encode(&key.header(), &claims, &key.encoding_key()?)
            }
            ClientAssertion::ClientSecret => {
                let secret = client_secret.ok_or_else(|| Error::MissingProperty {
                    property: "ClientSecret".into(),
                })?;
                jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(secret.expose_secret().as_bytes()),
                )
            }
        };
        jwt.map(SecretString::from).map_err(signing_failed)
    }
}

impl JwtBearer {
    /// The grant's assertion: `iss`, `sub`, `aud` (ClaimsAudience or the
    /// token endpoint) and `scope` (Google reads the scope from here).
    pub(crate) fn sign(
        &self,
        token_endpoint: &str,
        scope: Option<&str>,
    ) -> Result<SecretString, Error> {
        let aud = self.audience.as_deref().unwrap_or(token_endpoint);
        let claims = Claims::new(&self.issuer, self.subject.as_deref(), aud, scope);
        jsonwebtoken::encode(&self.key.header(), &claims, &self.key.encoding_key()?)
            .map(SecretString::from)
            .map_err(signing_failed)
    }
}
