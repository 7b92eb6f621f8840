//! `cargo xtask`: workspace automation.
//!
//! - `conformance [--connector NAME] [--scenario GLOB]`: plays the scenarios
//!   of `fixtures/conformance/` against the built-in connectors.
//! - `interop [--scenario GLOB] [--list] [--keep]`: the connectors against
//!   real third-party servers (see `tests/interop/README.md`).
//! - `new-connector NAME`: scaffolds `crates/NAME` (a paged JSON API with
//!   bearer authentication on the shared layer), its conformance suite and
//!   its line in the built-in list.
//! - `scaffold-check`: scaffolds a connector in a temporary copy of the
//!   checkout, builds it and runs it through `connectkit` and the
//!   conformance scenarios (CI runs it).
//! - `demo`: the same as `connectkit demo`.
//! - `msrv`: checks each published crate's `rust-version` against its
//!   dependencies'.

mod bench;
mod conformance;
mod interop;
mod msrv;
mod scaffold;
mod scaffold_check;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Workspace automation for connectkit.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the conformance scenarios against every registered connector.
    Conformance(conformance::Args),
    /// Run the interop scenarios against real third-party servers
    /// (django-oauth-toolkit, oidc-provider, json-server, SAP CAP).
    Interop(interop::Args),
    /// Scaffold a connector crate, `crates/NAME`, with its conformance suite
    /// and its line in the built-in list.
    NewConnector(scaffold::Args),
    /// Scaffold a connector in a temporary copy of the checkout, build it,
    /// and run it through `connectkit` and the conformance scenarios.
    ScaffoldCheck(scaffold_check::Args),
    /// Run `connectkit demo`: local OAuth and REST servers, queried end to end.
    Demo,
    /// Run the benchmarks (`--quick`: scaled down, checks completion only).
    Bench {
        /// A scaled-down run (about 10 s) for CI.
        #[arg(long)]
        quick: bool,
    },
    /// Check each published crate's rust-version against the highest one
    /// among its normal and build dependencies.
    Msrv,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Conformance(args) => conformance::run(args),
        Command::Interop(args) => interop::run(args),
        Command::NewConnector(args) => scaffold::run(args),
        Command::ScaffoldCheck(args) => scaffold_check::run(args),
        Command::Demo => demo(),
        Command::Bench { quick } => bench::run(quick),
        Command::Msrv => msrv::run(),
    }
}

fn demo() -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    match std::process::Command::new(cargo)
        .args(["run", "--quiet", "-p", "connectkit", "--", "demo"])
        .status()
    {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask demo: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
