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

/// Writes a connector's own defaults that its token requests depend on
/// (endpoint form, client authentication, scope) into validated properties.
pub type GrantDefaults = Arc<dyn Fn(&mut Properties) -> Result<()> + Send + Sync>;

struct Entry {
    catalogue: Vec<PropertySpec>,
    factory: Factory,
    grant_defaults: Option<GrantDefaults>,
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
                grant_defaults: None,
            },
        );
    }

    /// Registers the defaults `subprotocol`'s connector applies to its token
    /// requests, so that tools which run a grant before any connection
    /// exists (`connectkit authorize`) send what the connector would. Does
    /// nothing for a subprotocol not registered.
    pub fn register_grant_defaults<F>(&mut self, subprotocol: &str, defaults: F)
    where
        F: Fn(&mut Properties) -> Result<()> + Send + Sync + 'static,
    {
        if let Some(e) = self.entries.get_mut(&subprotocol.to_ascii_lowercase()) {
            e.grant_defaults = Some(Arc::new(defaults));
        }
    }

    /// The URL's properties, validated against its connector's catalogue,
    /// with the connector's grant defaults applied: what a token request
    /// for this connection is built from.
    pub fn grant_properties(&self, url: ConnectionUrl) -> Result<Properties> {
        let (subprotocol, mut properties) = url.into_parts();
        let entry = self.entry(&subprotocol)?;
        properties.validate(&entry.catalogue)?;
        if let Some(defaults) = &entry.grant_defaults {
            defaults(&mut properties)?;
        }
        Ok(properties)
    }

    fn entry(&self, subprotocol: &str) -> Result<&Entry> {
        self.entries
            .get(&subprotocol.to_ascii_lowercase())
            .ok_or_else(|| Error::UnknownSubprotocol {
                name: subprotocol.to_owned(),
                known: self.subprotocols(),
            })
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
        let entry = self.entry(&subprotocol)?;
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
