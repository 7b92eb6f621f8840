//! `cargo xtask interop`: the connectors against real third-party servers.
//!
//! Installs pinned servers into a cache outside the clone ([`install`]),
//! builds `connectkit`, starts each server the selected scenarios need on
//! 127.0.0.1 with seed data ([`servers`], [`seed`]), runs the scenarios
//! ([`scenarios`]) through the binary and the library API, prints one line
//! per scenario and `N passed, M failed`, and stops every server it started
//! (the guards' `Drop`, also on failure; the Ctrl-C handler on interrupt).
//! See `tests/interop/README.md`.

mod browser;
mod cli;
mod compare;
mod install;
mod process;
mod query;
mod scenarios;
mod seed;
mod servers;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use scenarios::{Ctx, Scenario};
use servers::Kind;

/// Options of `cargo xtask interop`.
#[derive(Parser, Debug)]
pub struct Args {
    /// Only scenarios whose name matches this glob (repeatable), e.g.
    /// `'json-server/*'` or `'*/grant/post/basic/lib'`.
    #[arg(long)]
    scenario: Vec<String>,
    /// List the scenario names and exit (installs and starts nothing).
    #[arg(long)]
    list: bool,
    /// Keep the run directory (server logs, token and model files) for inspection.
    #[arg(long)]
    keep: bool,
}

/// A scenario that takes longer than this fails with its name.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `cargo xtask interop`.
pub fn run(args: Args) -> ExitCode {
    let selected = match select(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xtask interop: {e}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for s in &selected {
            println!("{}", s.name);
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xtask interop: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_selected(selected, args.keep)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask interop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn select(globs: &[String]) -> Result<Vec<Scenario>, String> {
    let patterns = globs
        .iter()
        .map(|g| glob::Pattern::new(g).map_err(|e| format!("--scenario {g:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let chosen: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| patterns.is_empty() || patterns.iter().any(|p| p.matches(&s.name)))
        .collect();
    if chosen.is_empty() {
        return Err(format!("no scenario matches {globs:?} (see --list)"));
    }
    Ok(chosen)
}

/// Returns the number of failed scenarios.
async fn run_selected(selected: Vec<Scenario>, keep: bool) -> Result<usize, String> {
    let started = Instant::now();
    process::install_interrupt_handler();
    let kinds: BTreeSet<Kind> = selected.iter().flat_map(Scenario::servers).collect();
    let (python, node) = (
        kinds.iter().any(|k| k.python()),
        kinds.iter().any(|k| !k.python()),
    );
    let installed = tokio::task::spawn_blocking(move || install::ensure(python, node))
        .await
        .map_err(|e| e.to_string())??;
    let run_dir = tempfile::Builder::new()
        .prefix("connectkit-interop-")
        .tempdir()
        .map_err(|e| format!("cannot create a run directory: {e}"))?;
    process::set_run_dir(run_dir.path());
    let dest = run_dir.path().to_owned();
    let bin = tokio::task::spawn_blocking(move || cli::build(&dest))
        .await
        .map_err(|e| e.to_string())??;
    let starts = kinds.iter().map(|k| {
        let installed = &installed;
        let dir = run_dir.path();
        async move { (*k, servers::start(*k, installed, dir).await) }
    });
    let mut running = BTreeMap::new();
    let mut failures = Vec::new();
    for (kind, result) in futures::future::join_all(starts).await {
        match result {
            Ok(s) => {
                running.insert(kind, s);
            }
            Err(e) => failures.push(format!("starting {}: {e}", kind.name())),
        }
    }
    if !failures.is_empty() {
        // `running` drops here: the servers that did start are stopped.
        return Err(failures.join("\n"));
    }
    println!(
        "servers up after {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        running
            .iter()
            .map(|(k, s)| format!("{} {}", k.name(), s.base))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ctx = Ctx {
        bin,
        run_dir: run_dir.path().to_owned(),
        python: installed.python.clone(),
        tls_python: installed.tls_python.clone(),
        servers: running,
        json: seed::json_server(),
        cap: seed::cap(),
    };
    let (mut passed, mut failed) = (0, 0);
    for s in &selected {
        let t = Instant::now();
        let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, (s.check)(&ctx)).await {
            Ok(r) => r,
            Err(_) => Err(format!("did not finish within {SCENARIO_TIMEOUT:?}")),
        };
        let secs = t.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("ok   {} ({secs:.1} s)", s.name);
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {} ({secs:.1} s): {e}", s.name);
            }
        }
    }
    drop(ctx);
    if keep {
        println!("run directory kept: {:?}", run_dir.keep());
    }
    println!("interop took {:.1} s", started.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    Ok(failed)
}
