//! One connector table as a DataFusion [`TableProvider`].

use std::fmt;
use std::sync::Arc;

use arrow_schema::SchemaRef;
use async_trait::async_trait;
use connectkit_core::{Connector, Filter, FilterSupport, ScanPartition, ScanRequest};
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::exec::ConnectorScanExec;
use crate::expr::to_filter;

/// A connector's table: projection pushed as the scan's column list,
/// filters as the source answers `filter_support`, and the limit only when
/// the source applies every filter exactly.
pub struct ConnectorTable {
    source: String,
    connector: Arc<dyn Connector>,
    table: String,
    schema: SchemaRef,
}

impl ConnectorTable {
    /// `table` of `connector` (`source` names the connection in plans),
    /// with the schema the connector gave.
    pub fn new(
        source: impl Into<String>,
        connector: Arc<dyn Connector>,
        table: impl Into<String>,
        schema: SchemaRef,
    ) -> Self {
        Self {
            source: source.into(),
            connector,
            table: table.into(),
            schema,
        }
    }

    /// The translated filters with how the source applies each; filters with
    /// no translation are `Unsupported` without asking the source.
    fn support(&self, filters: &[&Expr]) -> Vec<(Option<Filter>, FilterSupport)> {
        let translated: Vec<Option<Filter>> = filters.iter().map(|e| to_filter(e)).collect();
        let asked: Vec<Filter> = translated.iter().flatten().cloned().collect();
        let mut answers = self
            .connector
            .filter_support(&self.table, &asked)
            .into_iter();
        translated
            .into_iter()
            .map(|f| {
                let s = match f {
                    Some(_) => answers.next().unwrap_or(FilterSupport::Unsupported),
                    None => FilterSupport::Unsupported,
                };
                (f, s)
            })
            .collect()
    }
}

impl fmt::Debug for ConnectorTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorTable")
            .field("source", &self.source)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TableProvider for ConnectorTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(self
            .support(filters)
            .into_iter()
            .map(|(_, s)| match s {
                FilterSupport::Exact => TableProviderFilterPushDown::Exact,
                FilterSupport::Inexact => TableProviderFilterPushDown::Inexact,
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let mut request = ScanRequest::new();
        if projection.is_some() {
            request = request.with_projection(schema.fields().iter().map(|f| f.name().clone()));
        }
        let refs: Vec<&Expr> = filters.iter().collect();
        let mut support = Vec::new();
        for (f, s) in self.support(&refs) {
            if let (Some(f), FilterSupport::Exact | FilterSupport::Inexact) = (f, s) {
                request = request.with_filter(f);
                support.push(s);
            }
        }
        // "The first N rows, then filter" is not "the first N matching rows".
        if let Some(limit) = limit.filter(|_| support.iter().all(|s| *s == FilterSupport::Exact)) {
            request = request.with_limit(limit);
        }
        // No column, no filter, no limit: the plan only counts rows. A
        // source that can count the table (Dataverse's `/$count`) makes
        // that an exact statistic, and DataFusion answers `count(*)` from
        // it without a scan. The count is asked here because `scan` is the
        // last async hook before DataFusion reads statistics (its
        // statistics calls are synchronous; see the crate docs). A failed
        // count only means a scan; why it failed is logged (warn) and
        // shown by EXPLAIN.
        let counts_rows =
            projection.is_some_and(|p| p.is_empty()) && filters.is_empty() && limit.is_none();
        let (num_rows, count_failed) = if counts_rows {
            match self.connector.count(&self.table).await {
                Ok(n) => (n, None),
                Err(e) => {
                    let why = connectkit_core::Report(&e).to_string();
                    tracing::warn!(
                        source = %self.source,
                        table = %self.table,
                        "counting the rows failed, so they are counted by a scan: {why}"
                    );
                    (None, Some(why))
                }
            }
        } else {
            (None, None)
        };
        // A limit is for the whole scan: one partition reads it in order
        // and stops once it has enough; a count the source gave answers the
        // query without a scan, so nothing is asked to split it. Otherwise
        // the connector splits the scan into at most `target_partitions`
        // partitions where it can (asking the source where it must).
        let partitions = if limit.is_some() || num_rows.is_some() {
            vec![ScanPartition::whole()]
        } else {
            let wanted = state.config().target_partitions().max(1);
            let mut parts = self
                .connector
                .partitions(&self.table, &request, wanted)
                .await
                .map_err(crate::external)?;
            if parts.is_empty() {
                parts.push(ScanPartition::whole());
            }
            parts
        };
        Ok(Arc::new(ConnectorScanExec {
            properties: ConnectorScanExec::properties_of(&schema, partitions.len()),
            partitions,
            source: self.source.clone(),
            connector: self.connector.clone(),
            table: self.table.clone(),
            request,
            support,
            schema,
            table_schema: self.schema.clone(),
            num_rows,
            count_failed,
        }))
    }
}
