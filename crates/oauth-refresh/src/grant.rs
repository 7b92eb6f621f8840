//! The grants sent to the token endpoint. All of them share one request
//! builder (every method and `ClientCredentialsMode`), one response parser,
//! the retries, the cache and the single flight; they differ only in their
//! parameters and in what the answer leaves behind.

use std::fmt;

use connectkit_core::Properties;
use secrecy::{ExposeSecret, SecretString};

/// The `grant_type` of RFC 8628's device access token request.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Which grant a flow renews its access token with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GrantType {
    /// RFC 6749 section 6: a refresh token (from RefreshToken or TokenFile).
    #[default]
    RefreshToken,
    /// RFC 6749 section 4.4: the client's own credentials, for unattended jobs.
    ClientCredentials,
    /// RFC 7523 section 2.1: a JWT signed with a private key (a service
    /// account's, or JWTCertStore's) is the grant
    /// (`AuthenticationMethod=OAuth2-JWTBearer`).
    JwtBearer,
}

impl GrantType {
    /// The grant DataDirect's `AuthenticationMethod=OAuth2` means: the
    /// refresh token grant when a RefreshToken (or a TokenFile holding one,
    /// as `connectkit authorize` writes) is configured; the JWT bearer grant
    /// when ClaimsIssuer is set, or JWTCertStore without ClientID (a
    /// service-account key file); else client credentials (with a
    /// certificate credential when JWTCertStore is set).
    pub fn for_oauth2(props: &Properties) -> Self {
        if props.contains("RefreshToken") || props.contains("TokenFile") {
            Self::RefreshToken
        } else if props.contains("ClaimsIssuer")
            || (props.contains("JWTCertStore") && !props.contains("ClientID"))
        {
            Self::JwtBearer
        } else {
            Self::ClientCredentials
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::JwtBearer => crate::assertion::JWT_BEARER_GRANT,
        })
    }
}

/// One token request's grant parameters. Every secret in it is masked in
/// whatever the endpoint answers.
pub(crate) enum Grant {
    RefreshToken(SecretString),
    ClientCredentials,
    /// RFC 7523 section 2.1: a freshly signed assertion.
    JwtBearer(SecretString),
    /// RFC 6749 section 4.1.3 with RFC 7636's `code_verifier`.
    AuthorizationCode {
        code: SecretString,
        redirect_uri: String,
        verifier: SecretString,
    },
    /// RFC 8628 section 3.4.
    DeviceCode(SecretString),
    /// RFC 8628 section 3.1: not a grant, but sent with the same client
    /// authentication (and Scope) to the device authorization endpoint.
    DeviceAuthorization,
}

impl Grant {
    /// The grant's form parameters (the client credentials go elsewhere).
    pub(crate) fn params(&self) -> Vec<(&'static str, &str)> {
        match self {
            Grant::RefreshToken(t) => vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", t.expose_secret()),
            ],
            Grant::ClientCredentials => vec![("grant_type", "client_credentials")],
            Grant::JwtBearer(a) => vec![
                ("grant_type", crate::assertion::JWT_BEARER_GRANT),
                ("assertion", a.expose_secret()),
            ],
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                verifier,
            } => vec![
                ("grant_type", "authorization_code"),
                ("code", code.expose_secret()),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier.expose_secret()),
            ],
            Grant::DeviceCode(c) => vec![
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", c.expose_secret()),
            ],
            Grant::DeviceAuthorization => Vec::new(),
        }
    }

    /// The secrets this grant carries, for the redactor.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Grant::RefreshToken(t) | Grant::DeviceCode(t) => vec![t.expose_secret()],
            Grant::JwtBearer(a) => crate::assertion::secret_parts(a.expose_secret()),
            Grant::ClientCredentials | Grant::DeviceAuthorization => Vec::new(),
            Grant::AuthorizationCode { code, verifier, .. } => {
                vec![code.expose_secret(), verifier.expose_secret()]
            }
        }
    }

    /// Whether the request may go out with Scope (a code exchange is bound
    /// to the scope of its authorization request instead).
    pub(crate) fn sends_scope(&self) -> bool {
        matches!(
            self,
            Grant::RefreshToken(_)
                | Grant::ClientCredentials
                | Grant::JwtBearer(_)
                | Grant::DeviceAuthorization
        )
    }
}
