//! [`ExampleConnector`]: the tables of [`TABLES`](crate::tables::TABLES),
//! read page by page through the shared HTTP layer.

use std::sync::Arc;

use connectkit_core::arrow_schema::{Schema, SchemaRef};
use connectkit_core::client::{ApiClient, HttpRules, PageRun, PagingLimits, display_url, paginate};
use connectkit_core::decode::JsonRows;
use connectkit_core::reqwest::Url;
use connectkit_core::{
    AuthFlow, Connector, Error, Result, Scan, ScanRequest, TableInfo, async_trait,
};

use crate::pages::{NEXT_FIELD, Pages, page_url};
use crate::tables::{TABLES, Table};

/// The `example` connector. Build it from a connection URL through the
/// registry ([`register`](crate::register)) or with
/// [`from_properties`](crate::ExampleConnector::from_properties).
#[derive(Debug)]
pub struct ExampleConnector {
    client: ApiClient,
    /// ServiceURL, ending in `/`.
    base: Url,
    page_size: u32,
    limits: PagingLimits,
}

impl ExampleConnector {
    /// A connector sending through `client` (its auth flow, credential
    /// scope and retries) to the API at `base`.
    pub fn new(client: ApiClient, base: Url, page_size: u32, limits: PagingLimits) -> Self {
        Self {
            client,
            base,
            page_size,
            limits,
        }
    }

    /// Rows asked for per page (`PageSize`).
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// The URL of `table`'s pages.
    fn url(&self, table: &Table) -> Result<Url> {
        self.base.join(table.path).map_err(|e| {
            Error::invalid_property(
                "ServiceURL",
                format!("a base for {}: {e}", table.path),
                None,
            )
        })
    }
}

#[async_trait]
impl Connector for ExampleConnector {
    async fn tables(&self) -> Result<Vec<TableInfo>> {
        Ok(TABLES.iter().map(Table::info).collect())
    }

    async fn schema(&self, table: &str) -> Result<SchemaRef> {
        Ok(Table::named(table)?.schema())
    }

    async fn scan(&self, table: &str, request: ScanRequest) -> Result<Scan> {
        let table = Table::named(table)?;
        let indices = table.indices(request.projection.as_deref())?;
        let rows = JsonRows::new(table.name, table.schema(), table.rows).project(&indices)?;
        let schema = rows.schema().clone();
        let url = self.url(table)?;
        // No filter is pushed to this API, so a limit is the caller's to
        // apply after filtering (the scan contract).
        let limit = request.limit.filter(|_| request.filters.is_empty());
        let pages = Pages {
            url: url.clone(),
            page_size: self.page_size,
            rows,
            array_pages: table.rows.is_empty(),
            table: table.name.to_owned(),
            rules: HttpRules::standard(),
        };
        let run = PageRun::new(limit).with_limits(self.limits.clone());
        let first = page_url(&url, 1, self.page_size);
        let batches = paginate(self.client.clone(), pages, first, run);
        Ok(Scan::new(schema, batches)
            .with_unapplied_filters(request.filters)
            .with_limit_applied(request.limit.is_none() || limit.is_some()))
    }

    fn describe_scan(&self, table: &str, _: &Schema, request: &ScanRequest) -> Vec<String> {
        let Ok(url) = Table::named(table).and_then(|t| self.url(t)) else {
            return Vec::new();
        };
        let mut lines = vec![
            format!(
                "GET {} page=1, per_page={}",
                display_url(&url),
                self.page_size
            ),
            format!("then each page's {NEXT_FIELD} until a page has none"),
        ];
        match request.limit.filter(|_| request.filters.is_empty()) {
            Some(limit) => lines.push(format!("stops after {limit} rows")),
            None if !request.filters.is_empty() => {
                lines.push("filters applied after reading".into())
            }
            None => {}
        }
        lines
    }

    fn auth_flow(&self) -> Arc<dyn AuthFlow> {
        self.client.auth().clone()
    }
}
