//! The library half of the `connectkit` command: the list of built-in
//! connectors, kept once for the command, the end-to-end tests and the
//! workspace's tools.
//!
//! ```
//! let registry = connectkit::registry();
//! assert!(registry.subprotocols().contains(&"autorest".to_owned()));
//! ```

use connectkit_core::Registry;

/// The registry of the built-in connectors: adding a connector crate to
/// connectkit is one line here (and its dependency in this crate's manifest).
pub fn registry() -> Registry {
    let mut r = Registry::new();
    connectkit_autorest::register(&mut r);
    connectkit_dynamics365::register(&mut r);
    r
}
