//! TLS for every connectkit request: rustls on the `ring` provider, trusting
//! the operating system's certificate store (as `rustls-platform-verifier`
//! reads it, `SSL_CERT_FILE` and `SSL_CERT_DIR` included) plus any
//! certificate authorities a configuration adds.
//!
//! The provider is passed to each client rather than installed for the
//! process, so a program that uses another provider is not affected.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

use super::verify::{CertificateRefused, ConnectionVerifier, HostNameInCertificate};
use crate::error::{Error, ErrorKind};

/// Why no TLS configuration could be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up TLS: {message}")]
pub struct TlsSetupError {
    message: String,
    #[source]
    source: rustls::Error,
}

impl From<TlsSetupError> for Error {
    fn from(e: TlsSetupError) -> Self {
        Error::coded(ErrorKind::Config, "config.tls", e)
    }
}

/// A rustls client configuration that trusts the operating system's store
/// and `extra_roots`, checks the server's certificate against `expected`
/// (HostNameInCertificate) instead of the URL's host when given, and speaks
/// HTTP/1.1.
pub fn tls_config(
    extra_roots: Vec<CertificateDer<'static>>,
    expected: Option<HostNameInCertificate>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    // rustls 0.23.48 deprecates ring's provider for lacking post-quantum key
    // exchange; aws-lc-rs has it but is a long C build on small machines.
    // ring stays until the exchange is offered without a C toolchain.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = if extra_roots.is_empty() {
        // The operating system's store is read once per process, not per
        // client: every connection builds a client for its API and one for
        // its token endpoint.
        static PLATFORM: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, rustls::Error>> =
            OnceLock::new();
        PLATFORM
            .get_or_init(|| rustls_platform_verifier::Verifier::new(provider.clone()).map(Arc::new))
            .clone()
    } else {
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
            .map(Arc::new)
    }
    .map_err(|source| TlsSetupError {
        message: "no trusted certificate authority could be loaded (the operating \
                  system's store is empty or unreadable; SSL_CERT_FILE names a PEM \
                  bundle to use instead)"
            .to_owned(),
        source,
    })?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsSetupError {
            message: "the TLS provider supports no protocol version".to_owned(),
            source,
        })?
        .dangerous()
        // Not dangerous: the platform verifier checks chains and host names
        // as browsers do (ConnectionVerifier only chooses the name and
        // explains a refusal); `dangerous` is only rustls's gate for custom
        // verifiers.
        .with_custom_certificate_verifier(Arc::new(ConnectionVerifier::new(verifier, expected)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A `reqwest::ClientBuilder` with connectkit's TLS settings and nothing
/// else: the starting point of every client connectkit builds, and a
/// convenient one for programs that build their own.
///
/// ```
/// let client = connectkit_core::client::client_builder()?.build()?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client_builder() -> Result<reqwest::ClientBuilder, TlsSetupError> {
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls_config(Vec::new(), None)?))
}

/// A plain `reqwest::Client` with connectkit's TLS settings (redirects as
/// reqwest follows them): for programs and tests that send requests of
/// their own beside a connector's. Connector traffic goes through
/// [`api_client_builder`](super::api_client_builder) instead, which keeps
/// credentials on the configured origins.
pub fn http_client() -> Result<reqwest::Client, Error> {
    client_builder()?
        .build()
        .map_err(|e| Error::coded(ErrorKind::Config, "config.http_client", e))
}

/// When `err` failed because the server's certificate was refused, what to
/// tell the user: the issuer that is not trusted or the names the
/// certificate holds (else the reason rustls gave), and the property that
/// fixes it.
pub fn certificate_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut link = Some(err);
    while let Some(e) = link {
        if let Some(rustls::Error::InvalidCertificate(why)) = e.downcast_ref::<rustls::Error>() {
            if let rustls::CertificateError::Other(other) = why
                && let Some(refused) = other.0.downcast_ref::<CertificateRefused>()
            {
                return Some(format!("the server's certificate was refused: {refused}"));
            }
            return Some(format!(
                "the server's certificate was refused ({why:?}): if a private CA or a \
                 TLS-inspecting proxy signs it, name that CA's certificate (PEM) in TrustStore"
            ));
        }
        // rustls errors travel inside io::Error.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = certificate_problem(inner)
        {
            return Some(found);
        }
        link = e.source();
    }
    None
}
