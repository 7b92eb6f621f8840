//! Certificate authorities a connection trusts beside the operating
//! system's (the TrustStore property): a private CA that signs internal
//! APIs, or the CA of a TLS-inspecting proxy not installed system-wide.
//!
//! The DataDirect drivers take a Java keystore here; connectkit takes a PEM
//! file of CA certificates, and says how to export one from a keystore.
//! Server authentication cannot be turned off: bearer and refresh tokens
//! travel over these connections.

use std::fmt;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::{Error, ErrorKind, Result};
use crate::properties::Properties;

/// CA certificates to trust, read from a PEM file.
#[derive(Clone)]
pub struct TrustStore {
    path: String,
    certs: Vec<CertificateDer<'static>>,
}

/// A TrustStore file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("TrustStore {path}: cannot read it")]
pub struct TrustStoreReadError {
    path: String,
    #[source]
    source: std::io::Error,
}

impl TrustStore {
    /// Reads every `CERTIFICATE` block of the PEM file at `path`. A file
    /// that cannot be read is an [`ErrorKind::Io`] error, one that holds no
    /// PEM certificate (a Java keystore, a PKCS#12 bundle, a DER
    /// certificate) a configuration error saying how to convert it; both
    /// name the file.
    pub fn from_pem_file(path: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| {
            Error::coded(
                ErrorKind::Io,
                "io.trust_store",
                TrustStoreReadError {
                    path: path.to_owned(),
                    source,
                },
            )
        })?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
            .filter_map(std::result::Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(Error::invalid_property(
                "TrustStore",
                format!(
                    "a PEM file of CA certificates; {path} {}",
                    what_it_is(&bytes)
                ),
                None,
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            certs,
        })
    }

    /// Reads the TrustStore property (`None` when absent), and refuses
    /// `ValidateServerCertificate=false`.
    pub fn from_properties(props: &Properties) -> Result<Option<Self>> {
        if let Some(v) = props.get_str("ValidateServerCertificate")
            && !v.trim().eq_ignore_ascii_case("true")
        {
            return Err(Error::invalid_property(
                "ValidateServerCertificate",
                "true: connectkit always authenticates the server, since tokens travel over \
                 the connection; to trust a private or TLS-inspecting CA, name its \
                 certificate (PEM) in TrustStore",
                Some(v),
            ));
        }
        props
            .get_str("TrustStore")
            .map(|p| Self::from_pem_file(p.trim()))
            .transpose()
    }

    /// The certificates, in file order.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// The file they were read from.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// What a file that holds no PEM certificate seems to be, and what to do.
fn what_it_is(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) {
        "is a Java keystore (JKS): export its CA certificates as PEM with \
         `keytool -exportcert -rfc -keystore <file> -alias <alias> -file ca.pem`"
    } else if bytes.first() == Some(&0x30) {
        "is binary (DER: a PKCS#12 bundle or a single certificate): convert it with \
         `openssl pkcs12 -in <file> -nokeys -out ca.pem` or \
         `openssl x509 -inform der -in <file> -out ca.pem`"
    } else {
        "holds no -----BEGIN CERTIFICATE----- block"
    }
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("path", &self.path)
            .field("certificates", &self.certs.len())
            .finish()
    }
}
