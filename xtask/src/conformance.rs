//! `cargo xtask conformance`: one line per scenario, a summary, exit code 1 on any failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use connectkit_e2e::{Options, builtin_registry, conformance_dir, run_all, summary};

/// Options of `cargo xtask conformance`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only the scenarios of this connector (the URL subprotocol, e.g. autorest).
    #[arg(long)]
    connector: Option<String>,
    /// Only the scenarios whose `suite/name` or `name` matches this glob (e.g. `grant/*`).
    #[arg(long)]
    scenario: Option<String>,
    /// How many scenarios run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// The scenario directory (default: fixtures/conformance of the workspace).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Runs the selected scenarios.
pub fn run(args: Args) -> ExitCode {
    let registry = builtin_registry();
    if let Some(c) = &args.connector {
        let known = registry.subprotocols();
        if !known.iter().any(|k| k.eq_ignore_ascii_case(c)) {
            eprintln!(
                "xtask conformance: unknown connector {c:?}; registered: {}",
                known.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let options = Options {
        connector: args.connector,
        scenario: args.scenario,
        concurrency: args.jobs.max(1),
    };
    let dir = args.dir.unwrap_or_else(conformance_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xtask conformance: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run_all(&registry, &dir, &options, |r| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", r.line());
        let _ = out.flush();
    }));
    match result {
        Ok(reports) if reports.is_empty() => {
            println!("{}", summary(&reports));
            eprintln!("xtask conformance: no scenario matched");
            ExitCode::FAILURE
        }
        Ok(reports) => {
            println!("{}", summary(&reports));
            if reports.iter().all(|r| r.passed()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("xtask conformance: {e}");
            ExitCode::FAILURE
        }
    }
}
