//! An [Arrow Flight SQL] server over connectkit connections: every source
//! of a `sources.toml` is a schema that ADBC (Python, Go, R), the Flight
//! SQL JDBC driver and BI tools can query, with the sources' refresh
//! tokens kept on the server. `connectkit serve` runs it.
//!
//! - **Sources** are built once ([`connectkit_datafusion::Sources`]): one
//!   connector, one token cache and one grant at a time per source, shared
//!   by every client session.
//! - **Logins**: the handshake takes Basic credentials, checked against the
//!   users' Argon2 hashes, and answers a random bearer session token that
//!   lasts `limits.session_timeout`; every other call must carry it
//!   (`Unauthenticated` otherwise). A program may instead present a bearer
//!   token the configuration names by its SHA-256 digest ([`hash_token`]),
//!   with no handshake.
//! - **Queries**: `CommandStatementQuery` and prepared statements (with `?`
//!   or `$1` parameters) are planned by DataFusion down to the physical plan;
//!   each of its output partitions is one Flight endpoint (a ticket naming
//!   the query and the partition), which clients may read in parallel;
//!   plans that sort or repartition are one endpoint. DoGet streams the
//!   record batches as the sources' pages arrive, within the limits
//!   (queries per user and in total, a timeout, rows and bytes per result,
//!   shared by the endpoints of a query). Dropping the stream (client gone,
//!   `CancelFlightInfo`) stops the upstream scan.
//! - **Read-only**: only queries are planned; DML, DDL, `COPY` and
//!   updates are refused with `PermissionDenied`.
//! - **Metadata**: GetCatalogs (one catalog, `connectkit`), GetDbSchemas
//!   (the sources), GetTables (with schemas), GetTableTypes, GetSqlInfo,
//!   GetPrimaryKeys (the fields a connector marks with
//!   [`connectkit_core::KEY_METADATA_KEY`], in schema order).
//! - **Errors** are statuses whose message names the tables the query reads
//!   and the cause; connectkit errors hold no secret.
//! - **Logs**: one `tracing` event per query at info (target
//!   `connectkit_flight_sql::query`: user, sources, tables, duration, rows,
//!   bytes, requests sent upstream as
//!   [`RequestCounter`](connectkit_core::client::RequestCounter) counts
//!   them, partitions, outcome).
//!
//! ```no_run
//! # async fn run() -> connectkit_core::Result<()> {
//! use connectkit_flight_sql::{Listen, ServeConfig, Server};
//! let config = ServeConfig::load("sources.toml".as_ref())?;
//! let registry = connectkit_core::Registry::new(); // with the connectors registered
//! let server = Server::new(&config, &registry).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await.unwrap();
//! server.serve(listener, &Listen::plain(), std::future::pending()).await
//! # }
//! ```
//!
//! [Arrow Flight SQL]: https://arrow.apache.org/docs/format/FlightSql.html

mod auth;
mod config;
mod keys;
mod plan;
mod query;
mod server;
mod service;
mod status;

pub use config::{ConfigError, Limits, MIN_TOKEN_CHARS, ServeConfig, hash_password, hash_token};
pub use server::{Listen, Server};
pub use service::FlightSqlServer;

use connectkit_core::Error;

/// A source that could not be built or listed: names it, keeps the cause.
#[derive(Debug, thiserror::Error)]
#[error("source {name}")]
pub struct SourceError {
    name: String,
    #[source]
    source: Error,
}

pub(crate) fn source_error(name: &str, e: Error) -> Error {
    let (kind, code) = (e.kind(), e.code());
    Error::coded(
        kind,
        code,
        SourceError {
            name: name.to_owned(),
            source: e,
        },
    )
}
