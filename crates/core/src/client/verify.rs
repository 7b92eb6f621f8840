//! Server authentication of every connectkit connection: the platform
//! verifier (the operating system's store and the TrustStore's CAs), checked
//! against the name HostNameInCertificate gives when it is set, and a
//! refusal that says which issuer was not trusted or which names the
//! certificate holds.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::error::{Error, Result};
use crate::properties::Properties;

/// The name a server's certificate must hold (the HostNameInCertificate
/// property), when it is not the host of the URL: a server reached by an
/// address or an alias whose certificate names its public host name.
#[derive(Clone, PartialEq, Eq)]
pub struct HostNameInCertificate(ServerName<'static>);

impl HostNameInCertificate {
    /// Parses a DNS name or an IP address; anything else is a configuration
    /// error naming HostNameInCertificate.
    pub fn new(name: &str) -> Result<Self> {
        let name = name.trim();
        ServerName::try_from(name.to_owned())
            .map(Self)
            .map_err(|_| {
                Error::invalid_property(
                    "HostNameInCertificate",
                    "a host name (or IP address) the server's certificate holds",
                    Some(name),
                )
            })
    }

    /// Reads HostNameInCertificate (`None` when absent).
    pub fn from_properties(props: &Properties) -> Result<Option<Self>> {
        props
            .get_str("HostNameInCertificate")
            .map(Self::new)
            .transpose()
    }

    /// The name, as rustls checks it.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.0
    }
}

impl fmt::Debug for HostNameInCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostNameInCertificate({})", self.0.to_str())
    }
}

/// Why a server's certificate was refused, in the user's terms: the issuer
/// that is not trusted, or the names the certificate holds. Carried inside
/// rustls's error as [`CertificateError::Other`] and read back by
/// [`certificate_problem`](super::certificate_problem).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateRefused {
    /// The chain ends at an issuer no trusted CA vouches for.
    #[error(
        "its issuer {issuer} is not trusted (UnknownIssuer): if that CA is a private CA or a \
         TLS-inspecting proxy's, name its certificate (PEM) in TrustStore, or install it in \
         the operating system's store"
    )]
    UntrustedIssuer {
        /// The distinguished name of the issuer, as the certificate gives it.
        issuer: String,
    },
    /// The certificate is not valid for the name it was checked against.
    #[error(
        "it is not valid for {expected} (NotValidForName); it holds {}{}",
        if presented.is_empty() { "no host name".to_owned() } else { presented.join(", ") },
        if *by_property { " (the name checked is HostNameInCertificate)" } else {
            ": connect by a name it holds, or set HostNameInCertificate to the name the server's \
             certificate is issued for"
        }
    )]
    WrongName {
        /// The name checked.
        expected: String,
        /// The DNS names and addresses the certificate holds.
        presented: Vec<String>,
        /// Whether `expected` came from HostNameInCertificate.
        by_property: bool,
    },
}

/// The platform verifier, checking `expected` instead of the URL's host when
/// given, and explaining an unknown issuer or a wrong name.
#[derive(Debug)]
pub(super) struct ConnectionVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    expected: Option<HostNameInCertificate>,
}

impl ConnectionVerifier {
    pub(super) fn new(
        inner: Arc<dyn ServerCertVerifier>,
        expected: Option<HostNameInCertificate>,
    ) -> Self {
        Self { inner, expected }
    }
}

/// The issuer at the top of the presented chain (the one the verifier
/// looked for among its trusted CAs).
fn top_issuer(end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> String {
    let top = intermediates.last().unwrap_or(end_entity);
    match x509_parser::parse_x509_certificate(top) {
        Ok((_, cert)) => cert.issuer().to_string(),
        Err(_) => "(unreadable certificate)".to_owned(),
    }
}

impl ServerCertVerifier for ConnectionVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let name = self
            .expected
            .as_ref()
            .map_or(server_name, |e| e.server_name());
        let refused = |why: CertificateRefused| {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(why))))
        };
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                Err(refused(CertificateRefused::UntrustedIssuer {
                    issuer: top_issuer(end_entity, intermediates),
                }))
            }
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Err(refused(CertificateRefused::WrongName {
                expected: name.to_str().into_owned(),
                presented: presented_names(end_entity),
                by_property: self.expected.is_some(),
            })),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[rustls::DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// The DNS names and IP addresses of the certificate's subjectAltName, or
/// its subject's common names when it has none.
fn presented_names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => names.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).unwrap_or_default())
                            .to_string(),
                    ),
                    16 => names.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).unwrap_or_default())
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_owned)),
        );
    }
    names
}
