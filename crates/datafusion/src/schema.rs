//! One connection's tables as a DataFusion [`SchemaProvider`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connectkit_core::{Connector, TableInfo};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::Result;

use crate::external;
use crate::table::ConnectorTable;

/// The tables of one connection. Names are listed when the provider is
/// built and matched case-insensitively; a table's schema is fetched from
/// the source when a query first names it.
pub struct ConnectorSchema {
    source: String,
    connector: Arc<dyn Connector>,
    tables: Vec<TableInfo>,
}

impl ConnectorSchema {
    /// Lists `connector`'s tables; `source` names the connection in plans.
    pub async fn new(
        source: impl Into<String>,
        connector: Arc<dyn Connector>,
    ) -> connectkit_core::Result<Self> {
        let tables = connector.tables().await?;
        Ok(Self {
            source: source.into(),
            connector,
            tables,
        })
    }

    fn find(&self, name: &str) -> Option<&TableInfo> {
        self.tables.iter().find(|t| t.name == name).or_else(|| {
            self.tables
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(name))
        })
    }
}

impl fmt::Debug for ConnectorSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorSchema")
            .field("source", &self.source)
            .field("tables", &self.tables.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SchemaProvider for ConnectorSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.iter().map(|t| t.name.clone()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(info) = self.find(name) else {
            return Ok(None);
        };
        let schema = self.connector.schema(&info.name).await.map_err(external)?;
        let table = ConnectorTable::new(&self.source, self.connector.clone(), &info.name, schema);
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}
