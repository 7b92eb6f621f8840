//! Named connections built once and shared by any number of sessions.

use std::fmt;
use std::sync::Arc;

use connectkit_core::{Connector, Error, Registry};
use datafusion::catalog::SchemaProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use crate::ConnectorSchema;

/// Connections by name, each built once from its connection URL with its
/// tables listed once. Registering them in a session shares the connector
/// (and so its [`AuthFlow`](connectkit_core::AuthFlow): one token cache and
/// one grant at a time per source) with every other session they are
/// registered in: what `connectkit sql` registers for one query,
/// `connectkit serve` registers for every client's.
#[derive(Clone, Default)]
pub struct Sources {
    schemas: Vec<(String, Arc<ConnectorSchema>)>,
}

impl Sources {
    /// Builds each `(name, connection URL)` with `registry` and lists its
    /// tables. Names are SQL identifiers (`[A-Za-z_][A-Za-z0-9_]*`, kept
    /// in lower case), each given once; the first connector that cannot be
    /// built or listed ends it with its own error.
    pub async fn connect<I, N, U>(registry: &Registry, sources: I) -> connectkit_core::Result<Self>
    where
        I: IntoIterator<Item = (N, U)>,
        N: AsRef<str>,
        U: AsRef<str>,
    {
        let mut out = Self::default();
        for (name, url) in sources {
            let name = source_name(name.as_ref())?;
            if out.get(&name).is_some() {
                return Err(Error::invalid_property(
                    "source",
                    "each source name once",
                    Some(&name),
                ));
            }
            let connector: Arc<dyn Connector> = registry.connect(url.as_ref())?.into();
            out.add(&name, connector).await?;
        }
        Ok(out)
    }

    /// Adds a connector built by the caller as the source `name`, listing
    /// its tables now.
    pub async fn add(
        &mut self,
        name: &str,
        connector: Arc<dyn Connector>,
    ) -> connectkit_core::Result<()> {
        let name = source_name(name)?;
        let schema = ConnectorSchema::new(&name, connector).await?;
        self.schemas.push((name, Arc::new(schema)));
        Ok(())
    }

    /// The source names, in the order given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemas.iter().map(|(n, _)| n.as_str())
    }

    /// The tables of source `name` (exact, lower-case name).
    pub fn get(&self, name: &str) -> Option<&Arc<ConnectorSchema>> {
        self.schemas.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Registers every source as a schema of `ctx`'s default catalog, so
    /// SQL names its tables `NAME.table`.
    pub fn register(&self, ctx: &SessionContext) -> Result<()> {
        let catalog_name = ctx.state().config_options().catalog.default_catalog.clone();
        let catalog = ctx.catalog(&catalog_name).ok_or_else(|| {
            DataFusionError::Configuration(format!("no default catalog {catalog_name}"))
        })?;
        for (name, schema) in &self.schemas {
            let schema: Arc<dyn SchemaProvider> = schema.clone();
            catalog.register_schema(name, schema)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Whether `name` can name a source in SQL without quotes:
/// `[A-Za-z_][A-Za-z0-9_]*` (kept in lower case by [`Sources`]).
pub fn is_source_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A source name as SQL names it: an identifier, in lower case.
fn source_name(name: &str) -> connectkit_core::Result<String> {
    if !is_source_name(name) {
        return Err(Error::invalid_property(
            "source",
            "a source name that is a SQL identifier ([A-Za-z_][A-Za-z0-9_]*)",
            Some(name),
        ));
    }
    Ok(name.to_ascii_lowercase())
}
