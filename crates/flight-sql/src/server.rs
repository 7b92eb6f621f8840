//! Listening: the address check (no plain text off loopback unless asked),
//! TLS with rustls, and the tonic server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use arrow_flight::flight_service_server::FlightServiceServer;
use connectkit_core::{Error, ErrorKind, Registry};
use connectkit_datafusion::Sources;
use connectkit_datafusion::datafusion::prelude::{SessionConfig, SessionContext};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};

use crate::auth::Auth;
use crate::config::ServeConfig;
use crate::query::Queries;
use crate::service::FlightSqlServer;

/// How the server listens.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Listen {
    /// PEM certificate chain and private key files: TLS when both are given.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Allow plain text on an address other than loopback.
    pub insecure: bool,
}

impl Listen {
    /// Plain text (loopback only unless [`Listen::insecure`]).
    pub fn plain() -> Self {
        Self::default()
    }

    /// TLS with the certificate chain and key in these PEM files.
    pub fn tls(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            tls: Some((cert.into(), key.into())),
            insecure: false,
        }
    }

    /// Allows plain text on any address (`--insecure-listen`).
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Refuses plain text off loopback unless allowed, and TLS files that
    /// cannot be read or hold no PEM certificate or key: what
    /// [`Server::serve`] would refuse, found before any source is built.
    pub fn check(&self, addr: SocketAddr) -> connectkit_core::Result<()> {
        if self.tls.is_none() && !self.insecure && !addr.ip().is_loopback() {
            return Err(Error::invalid_property(
                "--listen",
                "a loopback address without TLS: give --tls-cert and --tls-key to listen on another address (or --insecure-listen to send passwords and data in plain text)",
                Some(&addr.to_string()),
            ));
        }
        self.tls_config().map(drop)
    }

    fn tls_config(&self) -> connectkit_core::Result<Option<ServerTlsConfig>> {
        let Some((cert, key)) = &self.tls else {
            return Ok(None);
        };
        let read = |path: &Path, what: &str| {
            std::fs::read(path).map_err(|e| {
                Error::connector(
                    ErrorKind::Io,
                    TlsFileError {
                        what: what.to_owned(),
                        path: path.to_owned(),
                        source: e,
                    },
                )
            })
        };
        let cert_pem = read(cert, "--tls-cert (PEM certificate chain)")?;
        let key_pem = read(key, "--tls-key (PEM private key)")?;
        // rustls would only say "peer sent no certificates" for a file
        // without a certificate: name the file and what it lacks.
        let no = |what: &str, path: &Path, expected: &str| {
            Error::connector(
                ErrorKind::Config,
                TlsPemError {
                    what: what.to_owned(),
                    path: path.to_owned(),
                    expected: expected.to_owned(),
                },
            )
        };
        if !CertificateDer::pem_slice_iter(&cert_pem).any(|c| c.is_ok()) {
            return Err(no(
                "--tls-cert",
                cert,
                "PEM certificate (BEGIN CERTIFICATE)",
            ));
        }
        if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
            return Err(no(
                "--tls-key",
                key,
                "PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            ));
        }
        Ok(Some(
            ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem)),
        ))
    }
}

/// A TLS file that holds nothing usable.
#[derive(Debug, thiserror::Error)]
#[error("{what} {} holds no {expected}", path.display())]
struct TlsPemError {
    what: String,
    path: PathBuf,
    expected: String,
}

/// A certificate chain and key that rustls refuses together.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve TLS with --tls-cert {} and --tls-key {}", cert.display(), key.display())]
struct TlsIdentityError {
    cert: PathBuf,
    key: PathBuf,
    #[source]
    source: tonic::transport::Error,
}

/// A TLS file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {what} {}", path.display())]
struct TlsFileError {
    what: String,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// A transport failure of the tonic server (bad TLS identity, socket).
#[derive(Debug, thiserror::Error)]
#[error("the Flight SQL server failed")]
struct ServeError(#[source] tonic::transport::Error);

/// A Flight SQL server ready to accept connections: sources built, users
/// loaded.
#[derive(Debug)]
pub struct Server {
    service: FlightSqlServer,
}

impl Server {
    /// Builds every source of `config` with `registry` (each once: one
    /// connector, one token cache, for every client session).
    pub async fn new(config: &ServeConfig, registry: &Registry) -> connectkit_core::Result<Self> {
        let mut sources = Sources::default();
        for (name, url) in config.source_urls() {
            let built = async {
                let connector = registry.connect(url)?;
                sources.add(name, connector.into()).await
            };
            built.await.map_err(|e| crate::source_error(name, e))?;
        }
        Ok(Self::with_sources(config, sources))
    }

    /// A server over sources built by the caller.
    pub fn with_sources(config: &ServeConfig, sources: Sources) -> Self {
        let session = connectkit_datafusion::for_connectors(
            SessionConfig::new().with_default_catalog_and_schema("connectkit", "public"),
        );
        let ctx = SessionContext::new_with_config(session);
        sources
            .register(&ctx)
            .expect("the default catalog exists in a new session");
        let auth = Auth::new(
            config.users.clone(),
            config.tokens.clone(),
            config.limits.session_timeout,
        );
        let queries = Queries::new(config.limits.clone());
        Self {
            service: FlightSqlServer::new(ctx, sources, auth, queries),
        }
    }

    /// The Flight SQL service, to mount in a tonic server of one's own.
    pub fn service(&self) -> FlightSqlServer {
        self.service.clone()
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        listen: &Listen,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> connectkit_core::Result<()> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::connector(ErrorKind::Io, e))?;
        listen.check(addr)?;
        let mut builder = tonic::transport::Server::builder();
        if let (Some(tls), Some((cert, key))) = (listen.tls_config()?, &listen.tls) {
            builder = builder.tls_config(tls).map_err(|source| {
                let (cert, key) = (cert.clone(), key.clone());
                Error::connector(ErrorKind::Config, TlsIdentityError { cert, key, source })
            })?;
        }
        // Without TCP_NODELAY a small reply (a login, the first batch of a
        // LIMIT) waits for the client's delayed acknowledgement.
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        builder
            .add_service(FlightServiceServer::new(self.service))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| Error::connector(ErrorKind::Transport, ServeError(e)))
    }
}
