//! End-to-end support for connectkit, and the conformance runner behind
//! `cargo xtask conformance`.
//!
//! Scenario files (YAML, in `fixtures/conformance/<suite>/`) describe a
//! connection URL, a token endpoint and API routes to mock, the operations to
//! run and what must come out. The runner starts wiremock servers on
//! 127.0.0.1 for each scenario, connects through a [`Registry`] (the
//! connector is picked by the URL's subprotocol), runs the operations and
//! reports the first difference, secrets masked. Adding a connector means
//! adding one line to the built-in list ([`builtin_registry`] reads it),
//! scenario files, and `<connector>/shared_table.yaml`: the table the shared
//! scenarios use for it ([`shared`]).

pub mod check;
mod expect;
pub mod load;
pub mod mock;
pub mod run;
pub mod scenario;
pub mod shared;

use std::path::PathBuf;

use connectkit_core::Registry;

pub use run::{Options, Outcome, Report, load, run_all, run_scenario, summary};
pub use scenario::{Scenario, ScenarioError};

/// Every built-in connector, as the conformance runner sees them: the
/// `connectkit` command's one list.
pub fn builtin_registry() -> Registry {
    connectkit::registry()
}

/// The workspace root, found at run time: the nearest ancestor of the
/// current directory whose `Cargo.toml` declares a `[workspace]` and that
/// holds `fixtures/`, so that a prebuilt xtask run in another checkout works
/// on that checkout; else the checkout this crate was built in.
pub fn workspace_root() -> PathBuf {
    let here = std::env::current_dir().ok();
    here.iter()
        .flat_map(|cwd| cwd.ancestors())
        .find(|dir| {
            dir.join("fixtures").is_dir()
                && std::fs::read_to_string(dir.join("Cargo.toml"))
                    .is_ok_and(|text| text.contains("[workspace]"))
        })
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default()
        })
}

/// `fixtures/conformance/` of the workspace.
pub fn conformance_dir() -> PathBuf {
    workspace_root().join("fixtures").join("conformance")
}
