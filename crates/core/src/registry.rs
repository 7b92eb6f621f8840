//! Subprotocol → connector factory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::connector::Connector;
use crate::error::{Error, Result};
use crate::properties::{Properties, PropertySpec};
use crate::url::ConnectionUrl;

/// Builds a connector from validated properties.
pub type Factory = Arc<dyn Fn(&Properties) -> Result<Box<dyn Connector>> + Send + Sync>;

struct Entry {
    catalogue: Vec<PropertySpec>,
    factory: Factory,
}

/// Which connector serves which subprotocol.
///
/// ```
/// use connectkit_core::{Registry, Error};
///
/// let registry = Registry::new();
/// let err = registry.connect("jdbc:datadirect:nosuch:A=1").unwrap_err();
/// assert!(matches!(err, Error::UnknownSubprotocol { .. }));
/// ```
#[derive(Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` for `subprotocol` (case-insensitive), with the
    /// catalogue of properties it accepts. A later registration replaces an
    /// earlier one.
    pub fn register<F>(&mut self, subprotocol: &str, catalogue: Vec<PropertySpec>, factory: F)
    where
        F: Fn(&Properties) -> Result<Box<dyn Connector>> + Send + Sync + 'static,
    {
        self.entries.insert(
            subprotocol.to_ascii_lowercase(),
            Entry {
                catalogue,
                factory: Arc::new(factory),
            },
        );
    }

    /// The registered subprotocols, sorted.
    pub fn subprotocols(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// The catalogue of `subprotocol`, if registered.
    pub fn catalogue(&self, subprotocol: &str) -> Option<&[PropertySpec]> {
        self.entries
            .get(&subprotocol.to_ascii_lowercase())
            .map(|e| e.catalogue.as_slice())
    }

    /// Parses `url`, validates it against its connector's catalogue and builds the connector.
    pub fn connect(&self, url: &str) -> Result<Box<dyn Connector>> {
        self.connect_url(url.parse()?)
    }

    /// Validates an already-parsed URL and builds its connector.
    pub fn connect_url(&self, url: ConnectionUrl) -> Result<Box<dyn Connector>> {
        let (subprotocol, mut properties) = url.into_parts();
        let entry = self
            .entries
            .get(&subprotocol)
            .ok_or_else(|| Error::UnknownSubprotocol {
                name: subprotocol.clone(),
                known: self.subprotocols(),
            })?;
        properties.validate(&entry.catalogue)?;
        (entry.factory)(&properties)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("subprotocols", &self.subprotocols())
            .finish()
    }
}
