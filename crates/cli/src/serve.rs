//! `connectkit serve`: the sources of a `sources.toml` as an Arrow Flight
//! SQL server (connectkit-flight-sql), or `--hash-password` and
//! `--hash-token` to make a user's password or bearer token entry.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use connectkit::registry;
use connectkit_core::{Error, ErrorKind};
use connectkit_flight_sql::{Listen, ServeConfig, Server, hash_password, hash_token};

/// Arguments of `connectkit serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The configuration: `[sources]` (`name = "connection URL"` or
    /// `name = "@file"`), `[users.NAME]` with Argon2 `password` hashes, `[limits]`.
    #[arg(long, value_name = "FILE", required_unless_present_any = ["hash_password", "hash_token"])]
    config: Option<PathBuf>,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// PEM certificate chain: TLS with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Listen without TLS on an address other than loopback (passwords and
    /// rows then cross the network in plain text).
    #[arg(long)]
    insecure_listen: bool,
    /// Read a password from standard input and print its Argon2 hash for
    /// a `[users.NAME] password = "..."` entry, then exit.
    #[arg(long, conflicts_with_all = ["config", "tls_cert", "tls_key"])]
    hash_password: bool,
    /// Read a bearer token (at least 32 random characters, e.g. from
    /// `openssl rand -base64 32`) from standard input and print its SHA-256
    /// digest for a `[users.NAME] tokens = ["..."]` entry, then exit.
    #[arg(long, conflicts_with_all = ["config", "tls_cert", "tls_key", "hash_password"])]
    hash_token: bool,
}

/// Runs the server until the process is stopped, or prints a hash.
pub async fn run(out: &mut impl Write, args: Args) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::connector(ErrorKind::Io, e);
    if args.hash_password || args.hash_token {
        let (flag, what) = if args.hash_token {
            ("--hash-token", "a bearer token")
        } else {
            ("--hash-password", "a password")
        };
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(io)?;
        let secret = line.trim_end_matches(['\n', '\r']);
        if secret.is_empty() {
            return Err(Error::invalid_property(
                flag,
                format!("{what} on standard input, found nothing"),
                None,
            ));
        }
        let secret = secret.to_owned().into();
        let hash = if args.hash_token {
            hash_token(&secret)?
        } else {
            hash_password(&secret)?
        };
        return writeln!(out, "{hash}").map_err(io);
    }
    let path = args.config.expect("clap requires --config");
    let listen = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Listen::tls(cert, key),
        _ => Listen::plain(),
    }
    .with_insecure(args.insecure_listen);
    // Refuse a plain-text public address before any source is contacted.
    listen.check(args.listen)?;
    let config = ServeConfig::load(&path)?;
    let server = Server::new(&config, &registry()).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::connector(ErrorKind::Io, BindError(args.listen, e)))?;
    let addr = listener.local_addr().map_err(io)?;
    let sources: Vec<&str> = config.source_names().collect();
    let scheme = if listen.tls.is_some() {
        "grpc+tls"
    } else {
        "grpc"
    };
    eprintln!(
        "connectkit serve: Arrow Flight SQL on {scheme}://{addr} (sources: {})",
        sources.join(", ")
    );
    server
        .serve(listener, &listen, std::future::pending())
        .await
}

/// The listen address cannot be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {0}")]
struct BindError(SocketAddr, #[source] std::io::Error);
