//! The execution plan of one connector scan, streaming the connector's
//! batches into DataFusion.

use std::fmt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use connectkit_core::client::RequestCounter;
use connectkit_core::{Connector, FilterSupport, ScanPartition, ScanRequest};
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use crate::external;

/// Reads one table of a connector: one DataFusion partition per partition
/// of the connector's scan ([`Connector::partitions`]), batches as the
/// connector's pages arrive.
pub struct ConnectorScanExec {
    pub(crate) source: String,
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) table: String,
    pub(crate) request: ScanRequest,
    /// How the source applies each of `request.filters`.
    pub(crate) support: Vec<FilterSupport>,
    /// The projected schema the scan produces.
    pub(crate) schema: SchemaRef,
    /// The table's full schema, for the source's account of the scan.
    pub(crate) table_schema: SchemaRef,
    pub(crate) properties: Arc<PlanProperties>,
    /// The table's exact row count when the source gave one
    /// ([`Connector::count`]) for a scan that reads every row: reported as
    /// exact statistics, so `count(*)` is answered without a scan.
    pub(crate) num_rows: Option<u64>,
    /// Why the source could not count the table, when it was asked to.
    pub(crate) count_failed: Option<String>,
    /// The connector's partitions of this scan, each a DataFusion partition.
    pub(crate) partitions: Vec<ScanPartition>,
}

impl ConnectorScanExec {
    pub(crate) fn properties_of(schema: &SchemaRef, partitions: usize) -> Arc<PlanProperties> {
        Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(partitions.max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ))
    }

    /// The request sent to the connector.
    pub fn request(&self) -> &ScanRequest {
        &self.request
    }

    /// The partitions of the scan, one per DataFusion partition.
    pub fn partitions(&self) -> &[ScanPartition] {
        &self.partitions
    }
}

impl ConnectorScanExec {
    /// `source.table`, as SQL names it.
    pub fn label(&self) -> String {
        format!("{}.{}", self.source, self.table)
    }

    fn filters(&self, want: FilterSupport) -> String {
        let items: Vec<String> = self
            .request
            .filters
            .iter()
            .zip(&self.support)
            .filter(|(_, s)| **s == want)
            .map(|(f, _)| f.to_string())
            .collect();
        items.join(" AND ")
    }

    /// What the source is asked to do, one line each: the columns, the
    /// filters it applies exactly, those it applies loosely (the engine
    /// checks them again), the limit, and the source's own account.
    pub fn pushdown_lines(&self) -> Vec<String> {
        let mut lines = vec![match &self.request.projection {
            Some(cols) if cols.is_empty() => "columns: none (rows only)".to_owned(),
            Some(cols) => format!("columns: {}", cols.join(", ")),
            None => "columns: all".to_owned(),
        }];
        let exact = self.filters(FilterSupport::Exact);
        if !exact.is_empty() {
            lines.push(format!("pushed filters (exact): {exact}"));
        }
        let inexact = self.filters(FilterSupport::Inexact);
        if !inexact.is_empty() {
            lines.push(format!(
                "pushed filters (inexact, checked again by the engine): {inexact}"
            ));
        }
        lines.push(match self.request.limit {
            Some(n) => format!("limit: {n}"),
            None => "limit: none".to_owned(),
        });
        for line in self
            .connector
            .describe_scan(&self.table, &self.table_schema, &self.request)
        {
            lines.push(format!("source request: {line}"));
        }
        if self.partitions.len() > 1 {
            for p in &self.partitions {
                lines.push(format!(
                    "partition {} of {}: {}",
                    p.index + 1,
                    p.count,
                    p.description
                ));
            }
        }
        if let Some(n) = self.num_rows {
            lines.push(format!("row count: {n} (exact, from the source)"));
        }
        if let Some(why) = &self.count_failed {
            lines.push(format!(
                "row count: the source could not count ({why}); rows are counted by the scan"
            ));
        }
        lines
    }
}

impl fmt::Debug for ConnectorScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorScanExec")
            .field("source", &self.source)
            .field("table", &self.table)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl DisplayAs for ConnectorScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectorScanExec: {}", self.label())?;
        match &self.request.projection {
            Some(cols) => write!(f, ", projection=[{}]", cols.join(", "))?,
            None => f.write_str(", projection=*")?,
        }
        let exact = self.filters(FilterSupport::Exact);
        if !exact.is_empty() {
            write!(f, ", pushed=[{exact}]")?;
        }
        let inexact = self.filters(FilterSupport::Inexact);
        if !inexact.is_empty() {
            write!(f, ", pushed_inexact=[{inexact}]")?;
        }
        if let Some(limit) = self.request.limit {
            write!(f, ", limit={limit}")?;
        }
        if self.partitions.len() > 1 {
            let parts: Vec<&str> = self
                .partitions
                .iter()
                .map(|p| p.description.as_str())
                .collect();
            write!(
                f,
                ", partitions={} [{}]",
                self.partitions.len(),
                parts.join("; ")
            )?;
        }
        Ok(())
    }
}

impl ExecutionPlan for ConnectorScanExec {
    fn name(&self) -> &str {
        "ConnectorScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// Exact `num_rows` when the source counted the table, else unknown.
    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let mut stats = Statistics::new_unknown(&self.schema);
        if let Some(n) = self.num_rows.and_then(|n| usize::try_from(n).ok()) {
            stats.num_rows = Precision::Exact(n);
        }
        Ok(Arc::new(stats))
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(part) = self.partitions.get(partition).cloned() else {
            return Err(DataFusionError::Internal(format!(
                "ConnectorScanExec has {} partitions, asked for partition {partition}",
                self.partitions.len()
            )));
        };
        let counter = context.session_config().get_extension::<RequestCounter>();
        // A failing partition of several says which one (and its range).
        let context = (part.count > 1).then(|| {
            format!(
                "{} partition {} of {} ({})",
                self.label(),
                part.index + 1,
                part.count,
                part.description
            )
        });
        let connector = self.connector.clone();
        let table = self.table.clone();
        let request = self.request.clone();
        let schema = self.schema.clone();
        let exact: Vec<_> = request
            .filters
            .iter()
            .zip(&self.support)
            .filter(|(_, s)| **s == FilterSupport::Exact)
            .map(|(f, _)| f.clone())
            .collect();
        let limit = request.limit;
        let out_schema = schema.clone();
        // The scan starts (and its first page is requested) when DataFusion
        // first polls, then batches flow one page at a time.
        let batches = futures::stream::once(async move {
            let scan = connector
                .scan_partition(&table, request, &part)
                .await
                .map_err(external)?;
            // DataFusion dropped the filters it was told were exact: the
            // source must not hand them back.
            if let Some(f) = scan.unapplied_filters.iter().find(|f| exact.contains(f)) {
                return Err(DataFusionError::Internal(format!(
                    "{table}: the source said it applies `{f}` exactly, then returned it unapplied"
                )));
            }
            Ok(scan.batches.map_err(external))
        })
        .try_flatten()
        .map(move |batch| batch.and_then(|b| conform(&out_schema, b)));
        let batches = batches.map_err(move |e| match &context {
            Some(c) => DataFusionError::Context(c.clone(), Box::new(e)),
            None => e,
        });
        let batches = limited(batches, limit);
        // Whoever runs the plan may count the requests its scans send (a
        // query of `connectkit serve`): the counter rides in the session
        // configuration, and is in scope wherever DataFusion polls the scan.
        if let Some(counter) = counter {
            let counted = counter.scope_stream(batches);
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, counted)));
        }
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

/// Gives `batch` the plan's schema (same columns; field metadata and names
/// may differ in case), so that every operator above sees one schema.
fn conform(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch> {
    if Arc::ptr_eq(schema, &batch.schema()) || schema.as_ref() == batch.schema().as_ref() {
        return Ok(batch);
    }
    let rows = batch.num_rows();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), batch.columns().to_vec(), &options).map_err(
        |e| {
            DataFusionError::ArrowError(
                Box::new(e),
                Some(String::from(
                    " (a connector batch does not fit the table's schema)",
                )),
            )
        },
    )
}

/// Ends after `limit` rows without polling the source again, so no page
/// past the limit is requested.
fn limited(
    batches: impl futures::Stream<Item = Result<RecordBatch>> + Send + 'static,
    limit: Option<usize>,
) -> futures::stream::BoxStream<'static, Result<RecordBatch>> {
    let Some(limit) = limit else {
        return batches.boxed();
    };
    futures::stream::unfold(
        (batches.boxed(), 0usize),
        move |(mut batches, seen)| async move {
            if seen >= limit {
                return None;
            }
            match batches.next().await? {
                Ok(b) => {
                    let take = b.num_rows().min(limit - seen);
                    Some((Ok(b.slice(0, take)), (batches, seen + take)))
                }
                // An error ends the stream.
                Err(e) => Some((Err(e), (batches, usize::MAX))),
            }
        },
    )
    .boxed()
}
