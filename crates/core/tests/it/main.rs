//! Integration tests of connectkit-core (one binary, one module per concept).
#![allow(missing_docs)]

mod auth;
mod client;
mod paging;
mod parse;
mod props;
mod proxy;
mod redaction;
mod registry;
mod service;
mod tls;

use std::path::PathBuf;

/// Reads a file under the workspace `fixtures/` folder.
pub fn fixture(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    std::fs::read_to_string(root.join(path)).unwrap()
}
