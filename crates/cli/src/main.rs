//! The `connectkit` command: list, describe and query the tables of a
//! connection URL, run its token grant (refresh token or client
//! credentials), obtain the first refresh token, or run the local demo.

mod authorize;
mod changes;
mod copy;
mod csv;
#[cfg(feature = "demo")]
mod demo;
mod error;
mod input;
mod output;
mod serve;
mod sql;
mod text;
mod token;
mod warnings;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use connectkit::registry;
use connectkit_core::client::PagingLimits;
use connectkit_core::{ConnectionUrl, Connector, Error, ScanRequest};
use futures::{StreamExt, TryStreamExt};

/// List, describe and query REST APIs and Dynamics 365 as tables.
#[derive(Parser, Debug)]
#[command(name = "connectkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the tables of a data source, with their columns.
    Tables {
        /// Connection URL, `@PATH` to read it from a file, or `-` for standard input.
        url: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Show the columns of one table.
    Schema {
        /// Connection URL, `@PATH` to read it from a file, or `-` for standard input.
        url: String,
        /// The table (case-insensitive).
        table: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Read the rows of one table.
    Query {
        /// Connection URL, `@PATH` to read it from a file, or `-` for standard input.
        url: String,
        /// The table (case-insensitive).
        table: String,
        /// Only these columns, comma-separated, in this order.
        #[arg(long, value_delimiter = ',')]
        columns: Option<Vec<String>>,
        /// Stop after this many rows (no page past the one that fills it is fetched).
        #[arg(long)]
        limit: Option<usize>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RowFormat::Table)]
        format: RowFormat,
    },
    /// Run the connection's token grant once (the refresh token grant, or the
    /// client credentials grant for unattended jobs), or reuse the fresh access
    /// token another process saved in TokenFile, and say which it did and what
    /// it obtained (never printing a token).
    Token {
        /// Connection URL, `@PATH` to read it from a file, or `-` for standard input.
        url: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Run the grant even when TokenFile holds a fresh access token.
        #[arg(long)]
        force: bool,
    },
    /// Run SQL over one or more connections (tables are `NAME.table`);
    /// `COPY (SELECT ...) TO 'out.parquet'` (or .csv, .json) writes a file.
    Sql {
        /// `NAME=URL`: registers a connection's tables as `NAME.table`; the
        /// URL may be `@PATH` or `-` as for other commands. Repeatable.
        #[arg(long = "source", value_name = "NAME=URL")]
        sources: Vec<String>,
        /// The SQL statement.
        query: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RowFormat::Table)]
        format: RowFormat,
        /// Print the plan and what each source scan is asked to do, instead
        /// of running the query.
        #[arg(long)]
        explain: bool,
    },
    /// Dataverse change tracking: the rows changed and the ids deleted since
    /// a token; the next token goes to standard error or `--state FILE`.
    Changes(changes::Args),
    /// Start a local OAuth server and REST API and query them end to end.
    #[cfg(feature = "demo")]
    Demo,
    /// Obtain the first refresh token (browser login with PKCE, or --device) into TokenFile.
    Authorize(authorize::Args),
    /// Serve the sources of a configuration file over Arrow Flight SQL
    /// (ADBC, JDBC, BI tools), with logins and limits.
    Serve(serve::Args),
}

/// Formats for listings.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// A table for people.
    Table,
    /// JSON.
    Json,
}

/// Formats for rows.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowFormat {
    /// A table for people.
    Table,
    /// CSV with one header line (RFC 4180 quoting; a null is an empty
    /// field, an empty string is `""`, as PostgreSQL's CSV `COPY` writes).
    Csv,
    /// One JSON object per row, keys in column order.
    Jsonl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", connectkit_core::Report(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

fn init_logging() {
    warnings::init();
}

/// 2 bad usage/URL/property, 3 authentication, 4 API or network, 1 other.
fn exit_code(e: &Error) -> u8 {
    authorize::exit_code(e).unwrap_or_else(|| e.kind().exit_code())
}

async fn connect(url: &str) -> Result<Box<dyn Connector>, Error> {
    let text = input::read_url(url)?;
    registry().connect(&text)
}

async fn run(command: Command) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Tables { url, format } => {
            let text = input::read_url(&url)?;
            let at_once =
                PagingLimits::from_properties(text.parse::<ConnectionUrl>()?.properties())?
                    .max_concurrent_requests;
            let c = registry().connect(&text)?;
            // A schema can take a request of its own (Dataverse's attribute
            // definitions, an autorest sample): as many at a time as the
            // connection allows requests in flight, listed in order.
            let tables: Vec<_> = futures::stream::iter(c.tables().await?)
                .map(|t| {
                    let c = &c;
                    async move { c.schema(&t.name).await.map(|s| (t.name, s)) }
                })
                .buffered(at_once)
                .try_collect()
                .await?;
            output::tables(&mut out, &tables, format)
        }
        Command::Schema { url, table, format } => {
            let c = connect(&url).await?;
            let schema = c.schema(&table).await?;
            output::schema(&mut out, &table, &schema, format)
        }
        Command::Query {
            url,
            table,
            columns,
            limit,
            format,
        } => {
            let c = connect(&url).await?;
            let mut request = ScanRequest::new();
            if let Some(cols) = columns {
                request = request.with_projection(cols.into_iter().map(|c| c.trim().to_owned()));
            }
            if let Some(n) = limit {
                request = request.with_limit(n);
            }
            let scan = c.scan(&table, request).await?;
            output::rows(&mut out, scan, limit, format).await
        }
        Command::Token { url, format, force } => token::run(&mut out, &url, format, force).await,
        Command::Sql {
            sources,
            query,
            format,
            explain,
        } => sql::run(&mut out, &sources, &query, format, explain).await,
        Command::Changes(args) => changes::run(&mut out, args).await,
        #[cfg(feature = "demo")]
        Command::Demo => demo::run(&mut out).await,
        Command::Authorize(args) => authorize::run(&mut out, args).await,
        Command::Serve(args) => serve::run(&mut out, args).await,
    }
}
